// Where the refused-PIN records live (DESIGN.md "[agent] state_dir").
#pragma once

#include <optional>
#include <string>

namespace mpa::signer_helper {

// $STATE_DIRECTORY (systemd's StateDirectory=; its first path), else the
// configured [agent] state_dir, else /var/lib/maskinporten-agent for root
// and $XDG_STATE_HOME/maskinporten-agent (~/.local/state/...) otherwise;
// empty when none of these is known (no HOME).
std::string state_directory(const std::optional<std::string>& configured);

}  // namespace mpa::signer_helper

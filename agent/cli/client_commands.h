// Pieces of the client commands (token, status, invalidate) that tests
// reach directly: socket path resolution and the human status summary.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "protocol/status.h"

namespace mpa::cli {

// The system-wide configuration the client commands read [agent] socket from.
inline constexpr const char* kSystemConfigFile = "/etc/maskinporten-agent/agent.toml";

// Where the socket path may come from, in DESIGN.md's order. Empty values
// count as unset.
struct SocketPathSources {
  std::optional<std::string> flag;               // --socket PATH
  std::optional<std::string> environment;        // $MASKINPORTEN_AGENT_SOCKET
  std::string config_file = kSystemConfigFile;   // its [agent] socket, if readable
  std::optional<std::string> runtime_directory;  // $XDG_RUNTIME_DIR

  // `flag` plus this process's environment and the system configuration.
  static SocketPathSources from_environment(std::optional<std::string> flag);
};

// --socket, then $MASKINPORTEN_AGENT_SOCKET, then [agent] socket of the
// configuration file, then $XDG_RUNTIME_DIR/maskinporten-agent/agent.sock.
Result<std::string> resolve_socket_path(const SocketPathSources& sources);

// [agent] socket from a TOML file; nullopt if the file is missing,
// unreadable, too large, not TOML, or has no such string.
std::optional<std::string> socket_from_config_file(const std::string& path);

// The agent's status answer as lines for a person; `now` is epoch seconds.
// What the answer lacks is shown as unknown ("?"), not refused.
std::string render_status(const protocol::StatusResponse& status, std::int64_t now);

}  // namespace mpa::cli

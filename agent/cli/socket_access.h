// Whether the peers that [[allow]] names can reach the agent's socket at
// all, given socket_mode and the directory's mode and group: a rule the
// file modes make useless is a mistake check-config points out, instead of
// a peer's "permission denied" pointing at the wrong cause.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "agent/config/config.h"

namespace mpa {

// One sentence per [[allow]] rule whose peer could not connect, judged for
// an agent running as `agent_uid`/`agent_gid` that makes the socket at
// config.socket (a directory it makes is 0750 with the socket's group for
// socket_mode "0660"). Under socket activation the .socket unit's modes
// decide instead.
std::vector<std::string> unreachable_allow_rules(const Config& config, uid_t agent_uid, gid_t agent_gid);

}  // namespace mpa

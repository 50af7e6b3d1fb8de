// Whether the process answering on a socket may be the agent the caller
// means to ask (docs/USAGE.md "Asking the agent").
// Another user who can write to the socket's directory could have put a
// socket of theirs there, and would then see every request and answer with
// tokens or `verify_altinn` verdicts of their own; so the client refuses
// such a socket before it sends anything, and refuses a server that runs
// as anyone but root, the caller, or the owner of the socket's directory.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/result.h"

namespace mpa::protocol {

// The uid that owns the socket's directory, once the path there is found
// safe: the socket's own directory writable by its owner only, each
// directory above it writable by its owner only or sticky (as /tmp), and
// every one of them owned by root, `caller`, or the socket directory's
// owner. Refusals are `unavailable`, saying which directory and why.
Result<uid_t> trusted_socket_directory_owner(const std::string& socket_path, uid_t caller);

// Refuses a server that is neither root, `caller`, nor `directory_owner`.
Status check_server_uid(const std::string& socket_path, uid_t server, uid_t caller, uid_t directory_owner);

// Both checks for a connected socket: its directory, then SO_PEERCRED.
Status check_agent_socket(int connected_fd, const std::string& socket_path);

}  // namespace mpa::protocol

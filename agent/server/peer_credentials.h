// Who is at the other end of a connection: the credentials the kernel
// gives for a Unix socket peer (SO_PEERCRED, SO_PEERGROUPS). The server
// reads them on accept; agent/access/ decides from them.
#pragma once

#include <sys/types.h>

#include <vector>

namespace mpa {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // the supplementary groups the peer process holds
};

// `peer` (from SO_PEERCRED) with the groups the process at the other end of
// the connected Unix socket `fd` holds (SO_PEERGROUPS), as the kernel has
// them: no group database lookup, which may be NSS over the network, runs
// on the accept path. None when the kernel cannot say (a refusal of gid
// rules for supplementary groups, never a guess).
PeerCredentials with_peer_groups(int fd, PeerCredentials peer);

}  // namespace mpa

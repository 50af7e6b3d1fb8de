#include "agent/server/peer_credentials.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstddef>

namespace mpa {
namespace {

// SO_PEERGROUPS is read into this many groups first, and at most into the
// kernel's own limit (NGROUPS_MAX, 65536); real processes hold tens.
constexpr std::size_t kFirstGroupsRead = 64;
constexpr std::size_t kMaxPeerGroups = 65536;

std::vector<gid_t> peer_groups(int fd) {
  std::vector<gid_t> groups(kFirstGroupsRead);
  for (;;) {
    auto length = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &length) == 0) {
      groups.resize(length / sizeof(gid_t));
      return groups;
    }
    // ERANGE: `length` now says how much the kernel has.
    const std::size_t needed = length / sizeof(gid_t);
    if (errno != ERANGE || needed <= groups.size() || needed > kMaxPeerGroups) return {};
    groups.resize(needed);
  }
}

}  // namespace

PeerCredentials with_peer_groups(int fd, PeerCredentials peer) {
  peer.groups = peer_groups(fd);
  return peer;
}

}  // namespace mpa

// Who may connect and what they may ask for (DESIGN.md [[allow]]), decided
// from the peer's SO_PEERCRED credentials on every connection.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "agent/config/config.h"
#include "common/clock.h"
#include "common/result.h"

namespace mpa {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

class PeerPolicy {
 public:
  // `agent_uid` is always allowed every client and scope; [[allow]] rules add
  // others. A rule matches by uid, or by gid (the peer's primary group or,
  // for a gid rule, any supplementary group of the peer's user). Rules add
  // up: a scope is allowed when any matching rule naming the client allows
  // it. A user's groups are read from the group database (which may be
  // NSS, a blocking call) at most once a minute per uid; copies of a policy
  // share that memory, timed by `clock`'s steady time.
  PeerPolicy(std::vector<AllowRule> rules, uid_t agent_uid, Clock clock = Clock::system());

  // Whether the peer may connect at all: its own uid, or a matching rule.
  bool may_connect(const PeerCredentials& peer) const;

  // Whether the peer may use `client` for `scopes`. Errors: forbidden, in
  // words that do not reveal other clients.
  Status check(const PeerCredentials& peer, const std::string& client,
               const std::vector<std::string>& scopes) const;

 private:
  struct GroupMemory;

  bool matches(const AllowRule& rule, const PeerCredentials& peer) const;
  bool user_in_group(uid_t uid, gid_t gid) const;

  std::vector<AllowRule> rules_;
  uid_t agent_uid_;
  std::shared_ptr<GroupMemory> groups_;
};

}  // namespace mpa

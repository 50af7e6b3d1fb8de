// Who may connect and what they may ask for (DESIGN.md [[allow]]), decided
// from the peer's SO_PEERCRED credentials on every connection.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "agent/config/config.h"
#include "agent/server/peer_credentials.h"
#include "common/grant_request.h"
#include "common/result.h"

namespace mpa {

// A refusal names at most this many clients: enough for a person to find
// theirs, too few to flood a line on a host with hundreds of tenants.
inline constexpr std::size_t kMaxClientsNamed = 20;

class PeerPolicy {
 public:
  // `agent_uid` is always allowed every client and scope; [[allow]] rules add
  // others. A rule matches by uid, or by gid (the peer's primary group or
  // a supplementary group its process holds, PeerCredentials::groups).
  // Rules add up: a scope is allowed when any matching rule naming the
  // client allows it. Nothing here blocks: group names were resolved when
  // the configuration was loaded, and the peer's groups come with it.
  PeerPolicy(std::vector<AllowRule> rules, uid_t agent_uid);

  // Whether the peer may connect at all: its own uid, or a matching rule.
  bool may_connect(const PeerCredentials& peer) const;

  // Whether the peer may use `client` for `grant`: each scope, and each
  // delegation field (consumer_org, iss_onbehalfof, pid, authorization_details'
  // systemuser_org), allowed by one rule that gives the peer the client; the
  // agent's own uid may ask for anything. A consent entry in
  // authorization_details is the agent's own uid's alone. Errors:
  // forbidden, in words that name the refused field and what the peer's
  // rules for the client accept, but never other clients.
  Status check(const PeerCredentials& peer, const std::string& client,
               const GrantRequest& grant) const;
  // The same for a grant with `scopes` and nothing else.
  Status check(const PeerCredentials& peer, const std::string& client,
               const std::vector<std::string>& scopes) const;

  // Whether some rule gives the peer `client` (always, for the agent's own uid).
  bool may_use(const PeerCredentials& peer, const std::string& client) const;
  // Whether the peer sees every client in `status`: the agent's own uid, and root.
  bool sees_everything(const PeerCredentials& peer) const;
  // Whether `client` shows in the peer's status and refusals: sees_everything
  // or may_use. Another tenant's client never does.
  bool may_see(const PeerCredentials& peer, const std::string& client) const;
  // For a refusal of an unknown client: "this peer may use \"a\", \"b\"" naming
  // the clients of `clients` that the peer may see (at most
  // kMaxClientsNamed, then "and N more"), or "this peer may use no client;
  // see [[allow]]".
  std::string clients_it_may_use(const PeerCredentials& peer,
                                 const std::vector<ClientConfig>& clients) const;

 private:
  bool matches(const AllowRule& rule, const PeerCredentials& peer) const;
  std::vector<const AllowRule*> granting(const PeerCredentials& peer,
                                         const std::string& client) const;

  std::vector<AllowRule> rules_;
  uid_t agent_uid_;
};

}  // namespace mpa

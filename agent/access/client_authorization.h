// Whether a peer may use the client a token or invalidate request names,
// for the grant it asks for: the name resolved by the engine, then the
// peer's rights from PeerPolicy.
#pragma once

#include <string>
#include <vector>

#include "agent/access/peer_policy.h"
#include "agent/config/config.h"
#include "agent/engine/engine.h"
#include "agent/server/peer_credentials.h"
#include "common/grant_request.h"
#include "common/result.h"

namespace mpa {

// `client` becomes the resolved name (an empty name: the only client). An
// unknown (or missing) name is answered with the clients of `clients` the
// peer may use. A peer that does not see everything (PeerPolicy::
// sees_everything) gets the same unknown_client answer for another
// tenant's client as for a name no client has, and never the number of
// clients. Errors: unknown_client, forbidden (a scope or delegation field
// of a client the peer may use; any refusal for the agent's uid and root).
Status authorize(const PeerPolicy& policy, const Engine& engine,
                 const std::vector<ClientConfig>& clients, const PeerCredentials& peer,
                 std::string& client, const GrantRequest& grant);

}  // namespace mpa

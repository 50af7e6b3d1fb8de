#include "agent/access/client_authorization.h"

#include <utility>

namespace mpa {

Status authorize(const PeerPolicy& policy, const Engine& engine,
                 const std::vector<ClientConfig>& clients, const PeerCredentials& peer,
                 std::string& client, const GrantRequest& grant) {
  auto resolved = engine.client(client);
  if (!resolved) {
    Error error = std::move(resolved).error();
    error.message += "; " + policy.clients_it_may_use(peer, clients);
    return error;
  }
  client = (*resolved)->name;
  return policy.check(peer, client, grant);
}

}  // namespace mpa

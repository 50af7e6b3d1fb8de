#include "agent/access/client_authorization.h"

#include <utility>

#include "common/text.h"

namespace mpa {
namespace {

// A tenant's answer for a name it may not use, whether a client of that
// name exists or not: the same code and words, so that another tenant's
// client names cannot be probed, nor their number learnt.
Error not_for_this_peer(const PeerPolicy& policy, const std::vector<ClientConfig>& clients,
                        const PeerCredentials& peer, const std::string& client) {
  const std::string what = client.empty() ? std::string("say which client with \"client\"")
                                          : "no client named " + mpa::quoted(client);
  return make_error(ErrorCode::unknown_client,
                    what + "; " + policy.clients_it_may_use(peer, clients));
}

}  // namespace

Status authorize(const PeerPolicy& policy, const Engine& engine,
                 const std::vector<ClientConfig>& clients, const PeerCredentials& peer,
                 std::string& client, const GrantRequest& grant) {
  const bool detailed = policy.sees_everything(peer);
  auto resolved = engine.client(client);
  if (!resolved) {
    if (!detailed) return not_for_this_peer(policy, clients, peer, client);
    Error error = std::move(resolved).error();
    error.message += "; " + policy.clients_it_may_use(peer, clients);
    return error;
  }
  if (!detailed && !policy.may_use(peer, (*resolved)->name)) {
    return not_for_this_peer(policy, clients, peer, client);
  }
  client = (*resolved)->name;
  return policy.check(peer, client, grant);
}

}  // namespace mpa

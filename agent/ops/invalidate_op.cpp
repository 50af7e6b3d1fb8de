#include "agent/ops/invalidate_op.h"

#include "agent/access/client_authorization.h"

namespace mpa {

void handle_invalidate(const AgentState& state, const PeerCredentials& peer,
                       const std::optional<std::string>& id,
                       protocol::InvalidateRequest& invalidate, const Reply& reply) {
  protocol::TokenRequest& target = invalidate.target;
  if (auto allowed = authorize(*state.policy, *state.engine, state.config.clients, peer,
                               target.client, target.grant);
      !allowed) {
    reply(protocol::encode_error(id, allowed.error()));
    return;
  }
  const bool dropped =
      state.cache->invalidate(TokenTarget{target.client, target.grant, target.exchange});
  reply(protocol::encode_ok(id, dropped ? R"({"invalidated":true})" : R"({"invalidated":false})"));
}

}  // namespace mpa

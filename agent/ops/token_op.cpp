#include "agent/ops/token_op.h"

#include <exception>
#include <utility>

#include "agent/access/client_authorization.h"
#include "agent/altinn/altinn_token.h"
#include "agent/ops/op_support.h"

namespace mpa {
namespace {

TokenTarget token_target(const protocol::TokenRequest& request) {
  return TokenTarget{request.client, request.grant, request.exchange};
}

protocol::TokenResponse token_response(const AccessToken& token, std::int64_t now) {
  protocol::TokenResponse response;
  response.access_token = token.access_token;
  response.token_type = token.token_type;
  response.expires_at = token.expires_at;
  response.expires_in = token.expires_at > now ? token.expires_at - now : 0;
  response.scope = token.scope;
  return response;
}

// A token request that the grant builder would refuse (a scope outside the
// client's list, a bad resource ...) is answered before the cache: it
// takes no entry and starts no exchange.
Status check_token_request(const AgentState& state, const protocol::TokenRequest& request) {
  auto client = state.engine->client(request.client);
  if (!client) return client.error();
  // Before the cache, so no Maskinporten token is made for nothing.
  if (request.exchange) MPA_RETURN_IF_ERROR(altinn::check_exchange_endpoint(**client));
  return check_grant_request(request.grant, **client);
}

}  // namespace

void handle_token(const std::shared_ptr<AgentState>& state, const PeerCredentials& peer,
                  const std::optional<std::string>& id, protocol::TokenRequest& token,
                  const Clock& clock, Reply reply) {
  if (auto allowed = authorize(*state->policy, *state->engine, state->config.clients, peer,
                               token.client, token.grant);
      !allowed) {
    reply(protocol::encode_error(id, allowed.error()));
    return;
  }
  if (auto checked = check_token_request(*state, token); !checked) {
    reply(protocol::encode_error(id, checked.error()));
    return;
  }
  const std::int64_t min_ttl = token.min_ttl.value_or(state->config.refresh_margin_seconds);
  auto answer = [state, id, reply, now = clock.epoch_seconds](Result<AccessToken> result) {
    try {
      if (!result) {
        reply(protocol::encode_error(id, result.error()));
      } else {
        reply(protocol::encode_token_response(id, token_response(*result, now())));
      }
    } catch (const std::exception& e) {
      answer_internal(reply, id, e.what());
    }
  };
  state->cache->get(token_target(token), min_ttl, std::move(answer), exchange_owner(peer));
}

}  // namespace mpa

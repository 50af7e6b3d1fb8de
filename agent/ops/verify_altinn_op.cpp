#include "agent/ops/verify_altinn_op.h"

#include <exception>
#include <utility>

#include "protocol/messages.h"

namespace mpa {

void handle_verify_altinn(const std::shared_ptr<AgentState>& state,
                          const std::optional<std::string>& id, std::string token,
                          const WorkScheduler& scheduler, const Clock& clock, Reply reply) {
  if (!state->altinn_verifier) {
    reply(protocol::encode_error(
        id, make_error(ErrorCode::invalid_request,
                       "verify_altinn needs [altinn] certificates in the configuration")));
    return;
  }
  scheduler([state, id, reply, token = std::move(token), now = clock.epoch_seconds] {
    try {
      auto claims = state->altinn_verifier->verify(token, now());
      if (!claims) {
        reply(protocol::encode_error(id, claims.error()));
      } else {
        reply(protocol::encode_ok(id, "{\"claims\":" + *claims + "}"));
      }
    } catch (const std::exception& e) {
      answer_internal(reply, id, e.what());
    }
  });
}

}  // namespace mpa

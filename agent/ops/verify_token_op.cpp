// The verify_token op and the keys it verifies with.
#include "agent/ops/verify_token_op.h"

#include "agent/maskinporten/maskinporten.h"
#include "agent/verify/verifier.h"
#include "protocol/messages.h"
#include "common/log.h"

namespace mpa {

Result<std::shared_ptr<verify::KeySource>> make_verify_keys(const Config& config) {
  if (!config.verify_issuer) return std::shared_ptr<verify::KeySource>();
  if (config.verify_jwks_file) {
    MPA_ASSIGN_OR_RETURN(auto keys, verify::FileKeys::load(*config.verify_jwks_file));
    return std::shared_ptr<verify::KeySource>(std::move(keys));
  }
  HttpOptions options;
  options.ca_file = config.verify_ca_file;
  return std::shared_ptr<verify::KeySource>(std::make_shared<verify::CachedJwks>(
      verify::issuer_jwks_fetch(*config.verify_issuer, options), *config.verify_issuer,
      Clock::system()));
}

void handle_verify_token(const std::shared_ptr<AgentState>& state,
                         const std::optional<std::string>& id,
                         protocol::VerifyTokenRequest request, const WorkScheduler& scheduler,
                         const Clock& clock, Reply reply) {
  if (!state->verify_keys) {
    reply(protocol::encode_error(
        id, make_error(ErrorCode::invalid_request,
                       "verify_token needs a [verify] table (environment or issuer) in the "
                       "configuration")));
    return;
  }
  scheduler([state, id, reply, request = std::move(request), now = clock.epoch_seconds] {
    verify::Expectations expect;
    expect.issuer = *state->config.verify_issuer;
    expect.scopes = request.scopes;
    expect.leeway_seconds = state->config.verify_leeway_seconds;
    expect.audience = state->config.verify_audience;
    auto claims = verify::verify_token(request.token, *state->verify_keys, expect, now());
    if (!claims) {
      // A refusal is the caller's answer, not the operator's problem; the
      // keys being out of reach is.
      if (claims.error().code != ErrorCode::invalid_token) log::warning(claims.error().message);
      reply(protocol::encode_error(id, claims.error()));
      return;
    }
    reply(protocol::encode_ok(id, "{\"claims\":" + *claims + "}"));
  });
}

}  // namespace mpa

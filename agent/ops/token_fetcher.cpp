#include "agent/ops/token_fetcher.h"

#include <optional>
#include <utility>

#include "agent/altinn/altinn_token.h"
#include "common/log.h"

namespace mpa {
namespace {

// The Altinn token lives no longer than the Maskinporten token it is made
// from, and a request with the default min_ttl (the refresh margin) is
// refreshed ahead once its token has twice the margin left. So a cached
// Maskinporten token is made into an Altinn token only while it has more
// than that, by this much; else the new Altinn token would be due for
// refresh at once, or fall short of the client's min_ttl.
constexpr std::int64_t kMaskinportenReuseSlackSeconds = 15;

void log_maskinporten_answer(const TokenTarget& target, const Result<AccessToken>& token) {
  if (!token) {
    log::warning("client " + target.client + ": no token for \"" +
                 scopes_text(target.grant.scopes) + "\": " + token.error().message);
    return;
  }
  log::debug("client " + target.client + ": token " + log::token_ref(token->access_token) +
             " for \"" + scopes_text(target.grant.scopes) + "\", expires in " +
             std::to_string(token->expires_in) + " s");
}

}  // namespace

std::string scopes_text(const std::vector<std::string>& scopes) {
  std::string text;
  for (const auto& scope : scopes) text += (text.empty() ? "" : " ") + scope;
  return text;
}

TokenFetcher::TokenFetcher(std::shared_ptr<const Engine> engine, int refresh_margin_seconds,
                           std::shared_ptr<ExchangeOutcomes> outcomes)
    : engine_(std::move(engine)),
      outcomes_(std::move(outcomes)),
      link_(std::make_shared<std::weak_ptr<TokenCache>>()),
      reuse_ttl_(2 * std::int64_t{refresh_margin_seconds} + kMaskinportenReuseSlackSeconds) {}

void TokenFetcher::operator()(const TokenTarget& target, const TokenCache::FetchOrder& order,
                              std::function<void(Result<AccessToken>)> done) const {
  done = [outcomes = outcomes_, client = target.client, owner = order.owner,
          done = std::move(done)](Result<AccessToken> token) {
    outcomes->record(client, owner, token);
    done(std::move(token));
  };
  auto client = engine_->client(target.client);
  if (!client) {
    done(client.error());
    return;
  }
  if (!target.exchange) {
    engine_->fetch_token(**client, target.grant, order.sign_by_ms,
                         [target, done = std::move(done)](Result<AccessToken> token) {
                           log_maskinporten_answer(target, token);
                           done(std::move(token));
                         });
    return;
  }
  if (*target.exchange != "altinn") {
    done(make_error(ErrorCode::invalid_request,
                    "exchange must be \"altinn\", not \"" + *target.exchange + "\""));
    return;
  }
  altinn_token(**client, target, order.sign_by_ms, std::move(done));
}

// The Altinn token is made from the cached Maskinporten token for the
// same request without `exchange`, or from a fresh one that is cached in
// turn. peek, put and invalidate never wait for another exchange.
void TokenFetcher::altinn_token(const ClientConfig& client, const TokenTarget& target,
                                std::int64_t sign_by_ms,
                                std::function<void(Result<AccessToken>)> done) const {
  TokenTarget plain = target;
  plain.exchange.reset();
  const std::weak_ptr<TokenCache> link = *link_;
  altinn::MaskinportenSource source;
  source.cached = [link, plain, reuse_ttl = reuse_ttl_]() -> std::optional<AccessToken> {
    const auto cache = link.lock();
    return cache ? cache->peek(plain, reuse_ttl) : std::nullopt;
  };
  // The engine holds the client's configuration as long as it lives.
  source.fresh = [engine = engine_, config = &client, plain, link,
                  sign_by_ms](altinn::AltinnDone got) {
    engine->fetch_token(*config, plain.grant, sign_by_ms,
                        [plain, link, got = std::move(got)](Result<AccessToken> token) {
                          log_maskinporten_answer(plain, token);
                          if (const auto cache = link.lock(); token && cache) {
                            cache->put(plain, *token);
                          }
                          got(std::move(token));
                        });
  };
  source.forget = [link, plain] {
    if (const auto cache = link.lock()) cache->invalidate(plain);
  };
  auto http = engine_->http(client);
  if (!http) {
    done(make_error(ErrorCode::internal, "no HTTP lane for client " + client.name));
    return;
  }
  altinn::altinn_token(client, {target.client, scopes_text(target.grant.scopes)},
                       std::move(source), altinn::AltinnIo::on(std::move(http)),
                       std::move(done));
}

}  // namespace mpa

// What the cache calls for each miss or refresh ahead: a Maskinporten
// exchange on the engine, or an Altinn token made from a Maskinporten
// token (cached or fresh). No thread waits while a token is signed and
// exchanged, at Maskinporten or at Altinn.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/cache/token_cache.h"
#include "agent/engine/engine.h"
#include "agent/ops/exchange_outcomes.h"

namespace mpa {

// The scopes as Maskinporten writes them (space-separated), for log lines.
std::string scopes_text(const std::vector<std::string>& scopes);

class TokenFetcher {
 public:
  // Each exchange's end is recorded in `outcomes`.
  TokenFetcher(std::shared_ptr<const Engine> engine, int refresh_margin_seconds,
               std::shared_ptr<ExchangeOutcomes> outcomes);

  // The cache this fetcher fills; set once, before the cache is shared.
  // Weak: the cache owns the fetcher.
  void attach(const std::shared_ptr<TokenCache>& cache) { *link_ = cache; }

  void operator()(const TokenTarget& target, const TokenCache::FetchOrder& order,
                  std::function<void(Result<AccessToken>)> done) const;

 private:
  void altinn_token(const ClientConfig& client, const TokenTarget& target,
                    std::int64_t sign_by_ms, std::function<void(Result<AccessToken>)> done) const;

  std::shared_ptr<const Engine> engine_;
  std::shared_ptr<ExchangeOutcomes> outcomes_;
  std::shared_ptr<std::weak_ptr<TokenCache>> link_;  // shared by the copies std::function makes
  std::int64_t reuse_ttl_;
};

}  // namespace mpa

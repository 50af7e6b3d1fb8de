#include "agent/ops/agent_state.h"

#include <unistd.h>

#include <utility>
#include <vector>

#include "agent/ops/token_fetcher.h"
#include "agent/ops/verify_token_op.h"
#include "agent/signer_helper/helper_pool.h"

namespace mpa {
namespace {

// Each client's `prefetch` tokens: fetched now, and kept fresh by the
// cache from then on, so the first requests after a start or reload are hits.
void start_prefetch(const AgentState& state) {
  for (const ClientConfig& client : state.config.clients) {
    for (const std::vector<std::string>& scopes : client.prefetch) {
      TokenTarget target;
      target.client = client.name;
      target.grant.scopes = scopes;
      state.cache->keep_fresh(target, kPrefetchOwner);
    }
  }
}

}  // namespace

std::string exchange_owner(const PeerCredentials& peer) {
  return "uid " + std::to_string(peer.uid);
}

Engine::GrantSignerFactory helper_signers() {
  return [](const Config& loaded) { return signer_helper::HelperPool::for_this_process().signers_for(loaded); };
}

Result<std::shared_ptr<AgentState>> build_agent_state(const Config& config,
                                                      TokenCache::Scheduler exchanges,
                                                      const Engine::GrantSignerFactory& signers) {
  auto engine = Engine::create(config, signers);
  if (!engine) return engine.error();
  std::shared_ptr<const altinn::ConsentVerifier> verifier;
  if (!config.altinn_certificates.empty()) {
    auto made = altinn::ConsentVerifier::create(config.altinn_certificates,
                                                config.altinn_leeway_seconds);
    if (!made) return made.error();
    verifier = std::move(*made);
  }
  auto state = std::make_shared<AgentState>();
  state->config = config;
  state->engine = std::shared_ptr<const Engine>(std::move(*engine));
  state->policy = std::make_shared<const PeerPolicy>(config.allow, ::geteuid());
  state->altinn_verifier = std::move(verifier);
  MPA_ASSIGN_OR_RETURN(state->verify_keys, make_verify_keys(config));
  TokenCacheOptions options;
  options.refresh_margin_seconds = config.refresh_margin_seconds;
  state->outcomes = std::make_shared<ExchangeOutcomes>();
  TokenFetcher fetcher(state->engine, config.refresh_margin_seconds, state->outcomes);
  state->cache = std::make_shared<TokenCache>(fetcher, std::move(exchanges), options);
  fetcher.attach(state->cache);
  start_prefetch(*state);
  return state;
}

}  // namespace mpa

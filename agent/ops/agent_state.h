// What one configuration makes for serving requests (engine, cache, access
// rules, verifiers), built whole or not at all and swapped as one on reload.
#pragma once

#include <memory>
#include <string>

#include "agent/access/peer_policy.h"
#include "agent/altinn/altinn.h"
#include "agent/cache/token_cache.h"
#include "agent/config/config.h"
#include "agent/engine/engine.h"
#include "agent/ops/exchange_outcomes.h"
#include "agent/server/peer_credentials.h"
#include "agent/verify/key_source.h"
#include "common/result.h"

namespace mpa {

// Everything one configuration makes; built whole or not at all, and
// swapped as one on reload.
struct AgentState {
  Config config;
  std::shared_ptr<const Engine> engine;
  std::shared_ptr<TokenCache> cache;
  std::shared_ptr<ExchangeOutcomes> outcomes;  // each exchange's end, for status
  std::shared_ptr<const PeerPolicy> policy;
  std::shared_ptr<const altinn::ConsentVerifier> altinn_verifier;  // null: no [altinn]
  std::shared_ptr<verify::KeySource> verify_keys;  // null: no [verify] (verify_token_op.cpp)
};

// The signers of `run`: one signer helper process per token, so that this
// process never loads the PKCS#11 module.
Engine::GrantSignerFactory helper_signers();

// Builds engine (its signers from `signers`), cache, policy and verifier
// from `config`. Errors in words; nothing is kept of a failed build.
// `exchanges` admits the cache's exchanges, told whose they are.
Result<std::shared_ptr<AgentState>> build_agent_state(const Config& config,
                                                      TokenCache::Scheduler exchanges,
                                                      const Engine::GrantSignerFactory& signers);

// The owner of a peer's exchanges, for a fair share of the exchanges in
// flight: its uid.
std::string exchange_owner(const PeerCredentials& peer);
// The owner of the exchanges that keep `prefetch` tokens fresh.
inline constexpr const char* kPrefetchOwner = "prefetch";

}  // namespace mpa

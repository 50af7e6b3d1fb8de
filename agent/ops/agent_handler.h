// The daemon's answer to each protocol v1 request (DESIGN.md "Socket
// protocol, version 1"): resolve the client, check the peer's rights, and
// serve tokens through the cache; signing and HTTP run on the worker pool.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "agent/altinn/altinn.h"
#include "agent/config/config.h"
#include "agent/engine/engine.h"
#include "agent/access/peer_policy.h"
#include "agent/cache/fair_scheduler.h"
#include "agent/server/server.h"
#include "agent/cache/token_cache.h"
#include "agent/verify/key_source.h"
#include "common/clock.h"

namespace mpa {

// Runs a job on the worker pool, never on the socket I/O thread.
using WorkScheduler = std::function<void(std::function<void()> job)>;

// Everything one configuration makes; built whole or not at all, and
// swapped as one on reload.
struct AgentState {
  Config config;
  std::shared_ptr<const Engine> engine;
  std::shared_ptr<TokenCache> cache;
  std::shared_ptr<const PeerPolicy> policy;
  std::shared_ptr<const altinn::ConsentVerifier> altinn_verifier;  // null: no [altinn]
  std::shared_ptr<verify::KeySource> verify_keys;  // null: no [verify] (verify_token_op.cpp)
};

// Opens the token and builds engine, cache, policy and verifier from
// `config`. Errors in words; nothing is kept of a failed build.
// `exchanges` admits the cache's exchanges, told whose they are.
Result<std::shared_ptr<AgentState>> build_agent_state(const Config& config,
                                                      TokenCache::Scheduler exchanges);

// The owner of a peer's exchanges, for a fair share of the exchanges in
// flight: its uid.
std::string exchange_owner(const PeerCredentials& peer);
// The owner of the exchanges that keep `prefetch` tokens fresh.
inline constexpr const char* kPrefetchOwner = "prefetch";

class AgentHandler final : public RequestHandler {
 public:
  // The uptime in status counts from construction, by `clock`. `control`
  // runs status and metrics; `verify` runs verify_token, whose fetch of the
  // issuer's keys (up to its HTTP time-out) must not hold them up.
  AgentHandler(std::shared_ptr<AgentState> state, WorkScheduler control, WorkScheduler verify,
               Clock clock = Clock::system());

  void handle(const PeerCredentials& peer, protocol::Request request, Reply reply) override;

  // Requests read from now on use `state`; those in flight finish with the old one.
  void replace_state(std::shared_ptr<AgentState> state);
  std::shared_ptr<AgentState> state() const;

  // Where `status` reads how busy the exchange workers are; set once,
  // before serving. Without it, status has no "workers".
  void report_workers(std::function<FairScheduler::Stats()> stats);

  bool may_connect(const PeerCredentials& peer) const;
  void sweep_cache() const;
  // Starts the refreshes ahead that are due (TokenCache::refresh_due_entries).
  void refresh_ahead() const;

 private:
  // One per op; each answers through `reply` exactly once.
  void handle_token(const std::shared_ptr<AgentState>& state, const PeerCredentials& peer,
                    const std::optional<std::string>& id, protocol::TokenRequest& token,
                    Reply reply) const;
  void handle_invalidate(const AgentState& state, const PeerCredentials& peer,
                         const std::optional<std::string>& id, protocol::InvalidateRequest& invalidate,
                         const Reply& reply) const;
  void handle_status(const std::shared_ptr<AgentState>& state, const PeerCredentials& peer,
                     const std::optional<std::string>& id, Reply reply) const;
  void handle_verify_altinn(const std::shared_ptr<AgentState>& state,
                            const std::optional<std::string>& id, std::string token,
                            Reply reply) const;

  mutable std::mutex mutex_;  // guards state_ (reload runs on a worker)
  std::shared_ptr<AgentState> state_;
  WorkScheduler scheduler_;         // status, metrics
  WorkScheduler verify_scheduler_;  // verify_token
  std::function<FairScheduler::Stats()> worker_stats_;
  Clock clock_;
  std::int64_t started_at_;
};

}  // namespace mpa

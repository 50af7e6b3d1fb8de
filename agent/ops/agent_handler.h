// The daemon's answer to each protocol v1 request (DESIGN.md "Socket
// protocol, version 1"): the state requests are served from (swapped on
// reload), and the dispatch of each request to its op (agent/ops/*_op.h).
// An op without a handler here does not compile.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "agent/cache/fair_scheduler.h"
#include "agent/ops/agent_state.h"
#include "agent/ops/op_support.h"
#include "agent/server/server.h"
#include "common/clock.h"

namespace mpa {

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
  // One call operator per request alternative (std::visit); each answers
  // through the request's reply exactly once.
  struct Dispatch;

  std::int64_t uptime_seconds() const { return clock_.epoch_seconds() - started_at_; }
  std::optional<FairScheduler::Stats> workers() const;

  mutable std::mutex mutex_;  // guards state_ (reload runs on a worker)
  std::shared_ptr<AgentState> state_;
  WorkScheduler scheduler_;         // status, metrics, verify_altinn
  WorkScheduler verify_scheduler_;  // verify_token
  std::function<FairScheduler::Stats()> worker_stats_;
  Clock clock_;
  std::int64_t started_at_;
};

}  // namespace mpa

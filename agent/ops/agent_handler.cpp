#include "agent/ops/agent_handler.h"

#include <exception>
#include <string>
#include <utility>
#include <variant>

#include "agent/ops/counted_reply.h"
#include "agent/ops/invalidate_op.h"
#include "agent/ops/metrics_op.h"
#include "agent/ops/ping_op.h"
#include "agent/ops/status_op.h"
#include "agent/ops/token_op.h"
#include "agent/ops/verify_altinn_op.h"
#include "agent/ops/verify_token_op.h"

namespace mpa {

struct AgentHandler::Dispatch {
  const AgentHandler& handler;
  const std::shared_ptr<AgentState>& state;
  const PeerCredentials& peer;
  const std::optional<std::string>& id;
  const Reply& reply;

  void operator()(protocol::PingRequest&) const { handle_ping(id, reply); }
  void operator()(protocol::TokenRequest& token) const {
    handle_token(state, peer, id, token, handler.clock_, reply);
  }
  void operator()(protocol::InvalidateRequest& invalidate) const {
    handle_invalidate(*state, peer, id, invalidate, reply);
  }
  void operator()(protocol::StatusRequest&) const {
    handle_status(state, peer, id, handler.uptime_seconds(), handler.workers(), handler.scheduler_,
                  reply);
  }
  void operator()(protocol::VerifyTokenRequest& check) const {
    handle_verify_token(state, id, std::move(check), handler.verify_scheduler_, handler.clock_, reply);
  }
  void operator()(protocol::MetricsRequest&) const {
    handle_metrics(state, peer, id, handler.scheduler_, handler.clock_, reply);
  }
  void operator()(protocol::VerifyAltinnRequest& verify) const {
    handle_verify_altinn(state, id, std::move(verify.token), handler.scheduler_, handler.clock_,
                         reply);
  }
};

AgentHandler::AgentHandler(std::shared_ptr<AgentState> state, WorkScheduler control,
                           WorkScheduler verify, Clock clock)
    : state_(std::move(state)),
      scheduler_(std::move(control)),
      verify_scheduler_(std::move(verify)),
      clock_(std::move(clock)),
      started_at_(clock_.epoch_seconds()) {}

void AgentHandler::replace_state(std::shared_ptr<AgentState> state) {
  std::lock_guard lock(mutex_);
  state_ = std::move(state);
}

std::shared_ptr<AgentState> AgentHandler::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

void AgentHandler::report_workers(std::function<FairScheduler::Stats()> stats) {
  worker_stats_ = std::move(stats);
}

std::optional<FairScheduler::Stats> AgentHandler::workers() const {
  if (!worker_stats_) return std::nullopt;
  return worker_stats_();
}

bool AgentHandler::may_connect(const PeerCredentials& peer) const {
  return state()->policy->may_connect(peer);
}

void AgentHandler::sweep_cache() const { state()->cache->sweep(); }

void AgentHandler::refresh_ahead() const { state()->cache->refresh_due_entries(); }

void AgentHandler::handle(const PeerCredentials& peer, protocol::Request request, Reply reply) {
  const auto state = this->state();
  const auto id = request.id_json;
  reply = counted_reply(protocol::op_name(request.body), std::move(reply));
  try {
    std::visit(Dispatch{*this, state, peer, id, reply}, request.body);
  } catch (const std::exception& e) {
    answer_internal(reply, id, e.what());
  }
}

}  // namespace mpa

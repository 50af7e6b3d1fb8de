#include "agent/ops/status_op.h"

#include <exception>
#include <map>

#include "common/version.h"
#include "protocol/messages.h"

namespace mpa {
namespace {

// A failed exchange's words may name what another tenant asked for (a
// consumer_org, a system user): a peer that neither sees everything nor
// asked for it gets the error code only.
std::string last_error_for(const AgentState& state, const PeerCredentials& peer,
                           const TokenCache::LastError& error) {
  if (state.policy->sees_everything(peer) || error.owner == exchange_owner(peer)) return error.words;
  return error.code + ": (an exchange another peer asked for failed; its words are in the agent's log)";
}

protocol::ClientStatus client_status(const AgentState& state, const ClientConfig& client,
                                     const PeerCredentials& peer,
                                     const std::map<std::string, TokenCache::LastError>& cache_errors) {
  const SignerInfo info = state.engine->signer_info(client);
  protocol::ClientStatus status;
  status.name = client.name;
  status.client_id = client.client_id;
  status.token_present = info.token_present;
  status.logged_in = info.logged_in;
  status.token_label = info.token_label;
  status.certificate_subject = info.certificate_subject;
  status.certificate_not_after = info.certificate_not_after;
  const auto cached = cache_errors.find(client.name);
  status.last_error =
      cached != cache_errors.end() ? last_error_for(state, peer, cached->second) : info.last_error;
  return status;
}

}  // namespace

protocol::StatusResponse agent_status(const AgentState& state, const PeerCredentials& peer,
                                      std::int64_t uptime_seconds,
                                      const std::optional<FairScheduler::Stats>& workers) {
  protocol::StatusResponse status;
  status.version = kVersion;
  status.uptime_seconds = uptime_seconds;
  status.clients.emplace();
  const auto cache_errors = state.cache->last_errors();
  for (const ClientConfig& client : state.config.clients) {
    if (!state.policy->may_see(peer, client.name)) continue;
    status.clients->push_back(client_status(state, client, peer, cache_errors));
  }
  const TokenCache::Stats stats = state.cache->stats();
  const auto count = [](auto n) { return static_cast<std::int64_t>(n); };
  status.cache = protocol::CacheStatus{count(stats.entries), count(stats.in_flight),
                                       count(stats.hits),    count(stats.misses),
                                       count(stats.exchanges), count(stats.held)};
  if (workers) {
    status.workers = protocol::WorkerStatus{count(workers->slots), count(workers->running),
                                            count(workers->queued)};
  }
  status.signing.emplace();
  for (const Engine::SignatureQueueStatus& queue : state.engine->signature_queues()) {
    status.signing->push_back(protocol::SigningStatus{
        queue.token, count(queue.stats.threads), count(queue.stats.signing),
        count(queue.stats.queued), queue.stats.oldest_wait_ms});
  }
  return status;
}

void handle_status(const std::shared_ptr<AgentState>& state, const PeerCredentials& peer,
                   const std::optional<std::string>& id, std::int64_t uptime_seconds,
                   std::optional<FairScheduler::Stats> workers, const WorkScheduler& scheduler,
                   Reply reply) {
  // signer_info may talk to the token: not on the I/O thread.
  scheduler([state, peer, id, reply, uptime_seconds, workers] {
    try {
      reply(protocol::encode_status_response(id, agent_status(*state, peer, uptime_seconds, workers)));
    } catch (const std::exception& e) {
      answer_internal(reply, id, e.what());
    }
  });
}

}  // namespace mpa

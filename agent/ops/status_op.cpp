#include "agent/ops/status_op.h"

#include <exception>
#include <map>
#include <vector>

#include "common/version.h"
#include "pkcs11/pkcs11.h"
#include "protocol/messages.h"

namespace mpa {
namespace {

// A failed exchange's words may name what another tenant asked for (a
// consumer_org, a system user): a peer that neither sees everything nor
// asked for it gets the error code only.
std::string last_error_for(const AgentState& state, const PeerCredentials& peer,
                           const ExchangeOutcomes::LastError& error) {
  if (state.policy->sees_everything(peer) || error.owner == exchange_owner(peer)) return error.words;
  return error.code + ": (an exchange another peer asked for failed; its words are in the agent's log)";
}

protocol::ClientStatus client_status(const AgentState& state, const ClientConfig& client,
                                     const PeerCredentials& peer,
                                     const std::map<std::string, ExchangeOutcomes::LastError>& failed) {
  const SignerInfo info = state.engine->signer_info(client);
  protocol::ClientStatus status;
  status.name = client.name;
  status.client_id = client.client_id;
  status.token_present = info.token_present;
  status.logged_in = info.logged_in;
  status.token_label = info.token_label;
  status.certificate_subject = info.certificate_subject;
  status.certificate_not_after = info.certificate_not_after;
  // The signer's own words say what is wrong now (a signer restarting);
  // else the last failed exchange, dated, and past once one succeeded.
  const auto exchange = failed.find(client.name);
  if (exchange == failed.end() || (!info.last_error.empty() && exchange->second.past)) {
    status.last_error = info.last_error;
    return status;
  }
  status.last_error = last_error_for(state, peer, exchange->second);
  status.last_error_at = exchange->second.at;
  status.last_error_past = exchange->second.past;
  return status;
}

std::int64_t count(std::uint64_t n) { return static_cast<std::int64_t>(n); }

// How a signing queue is named in status: the token's label from the key
// URI (or, without one, what the client's signer read), never the
// internal key the engine groups keys by.
std::string token_name(const AgentState& state, const ClientConfig& client,
                        const pkcs11::Pkcs11Uri& uri) {
  if (uri.token && !uri.token->empty()) return *uri.token;
  std::string label = state.engine->signer_info(client).token_label;
  return label.empty() ? std::string("(token without a label)") : label;
}

// The signing queue of each token a client the peer may see uses; another
// tenant's token's queue is not its business.
std::vector<protocol::SigningStatus> signing_status(const AgentState& state,
                                                    const PeerCredentials& peer) {
  std::vector<protocol::SigningStatus> out;
  for (const Engine::SignatureQueueStatus& queue : state.engine->signature_queues()) {
    for (const ClientConfig& client : state.config.clients) {
      const auto uri = pkcs11::Pkcs11Uri::parse(client.key);
      if (!uri || uri->token_selector() != queue.token) continue;
      if (!state.policy->may_see(peer, client.name)) continue;
      out.push_back(protocol::SigningStatus{
          token_name(state, client, *uri), count(queue.stats.threads),
          count(queue.stats.signing), count(queue.stats.queued), queue.stats.oldest_wait_ms});
      break;
    }
  }
  return out;
}

}  // namespace

protocol::StatusResponse agent_status(const AgentState& state, const PeerCredentials& peer,
                                      std::int64_t uptime_seconds,
                                      const std::optional<FairScheduler::Stats>& workers) {
  protocol::StatusResponse status;
  status.version = kVersion;
  status.uptime_seconds = uptime_seconds;
  status.clients.emplace();
  const auto failed = state.outcomes->last_errors();
  for (const ClientConfig& client : state.config.clients) {
    if (!state.policy->may_see(peer, client.name)) continue;
    status.clients->push_back(client_status(state, client, peer, failed));
  }
  status.signing = signing_status(state, peer);
  // The cache and the exchange workers are shared by every tenant: their
  // figures move with other tenants' requests.
  if (!state.policy->sees_everything(peer)) return status;
  const TokenCache::Stats stats = state.cache->stats();
  status.cache = protocol::CacheStatus{count(stats.entries), count(stats.in_flight),
                                       count(stats.hits),    count(stats.misses),
                                       count(stats.exchanges), count(stats.held)};
  if (workers) {
    status.workers = protocol::WorkerStatus{count(workers->slots), count(workers->running),
                                            count(workers->queued)};
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

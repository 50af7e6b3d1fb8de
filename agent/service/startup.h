// What the daemon builds at start and on reload: the listening socket, the
// state one configuration makes, the fair exchange slots, the worker
// schedulers and the [metrics] HTTP listener.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include <memory>
#include <string>

#include "agent/cache/fair_scheduler.h"
#include "agent/config/config.h"
#include "agent/engine/engine.h"
#include "agent/ops/agent_handler.h"
#include "agent/ops/agent_state.h"
#include "agent/server/listen_socket.h"
#include "agent/server/metrics_listener.h"
#include "common/result.h"

namespace mpa {

// Of max_concurrent_exchanges, the share one peer (uid) can never take:
// this fraction (at least one) stays free for other peers' new tokens
// while Maskinporten is slow.
inline constexpr int kExchangesKeptFromOnePeerDivisor = 8;

// The socket systemd passed, or the one [agent] socket names, bound here.
Result<ListeningSocket> open_socket(const Config& config);

// One line per client: its id, key, certificate and when it expires.
void log_clients(const AgentState& state);

// The configuration at `path`, read and built whole.
Result<std::shared_ptr<AgentState>> load_and_build(const std::string& path,
                                                   TokenCache::Scheduler exchanges,
                                                   const Engine::GrantSignerFactory& signers);

// The slots for exchanges in flight (max_concurrent_exchanges), shared
// fairly among peers.
std::shared_ptr<FairScheduler> exchange_slots(const Config& config);

// Runs each job on `pool`, then hands freed memory back.
WorkScheduler scheduler_on(boost::asio::thread_pool& pool);

// The HTTP listener [metrics] listen asks for, serving what `handler`'s
// state says; null when the configuration has none.
Result<std::unique_ptr<MetricsListener>> start_metrics_listener(
    const Config& config, std::shared_ptr<const AgentHandler> handler);

}  // namespace mpa

#include "agent/service/startup.h"

#include <malloc.h>

#include <boost/asio/post.hpp>
#include <algorithm>
#include <cstdint>
#include <utility>

#include "agent/ops/metrics_op.h"
#include "common/clock.h"
#include "common/log.h"

namespace mpa {
namespace {

constexpr std::int64_t kSecondsPerDay = 86400;

}  // namespace

Result<ListeningSocket> open_socket(const Config& config) {
  auto activated = ListeningSocket::from_systemd();
  if (!activated) return activated.error();
  if (*activated) {
    log::info("using the socket systemd passed" +
              ((*activated)->path().empty() ? std::string() : " (" + (*activated)->path() + ")") +
              "; [agent] socket and socket_mode are the .socket unit's business");
    return std::move(**activated);
  }
  auto bound = ListeningSocket::bind_path(config.socket, config.socket_mode);
  if (!bound) return bound.error().with_context(config.path + ": [agent]");
  return bound;
}

void log_clients(const AgentState& state) {
  const std::int64_t now = epoch_seconds_now();
  for (const ClientConfig& client : state.config.clients) {
    const SignerInfo info = state.engine->signer_info(client);
    const std::int64_t days = (info.certificate_not_after - now) / kSecondsPerDay;
    log::info("client \"" + client.name + "\": client_id " + client.client_id + ", key " +
              client.key + ", certificate \"" + info.certificate_subject + "\", expires in " +
              std::to_string(days) + " days");
  }
}

Result<std::shared_ptr<AgentState>> load_and_build(const std::string& path,
                                                   TokenCache::Scheduler exchanges,
                                                   const Engine::GrantSignerFactory& signers) {
  auto config = load_config(path);
  if (!config) return config.error();
  return build_agent_state(*config, std::move(exchanges), signers);
}

std::shared_ptr<FairScheduler> exchange_slots(const Config& config) {
  const auto slots = static_cast<std::size_t>(config.max_concurrent_exchanges);
  const std::size_t kept = std::max<std::size_t>(1, slots / kExchangesKeptFromOnePeerDivisor);
  return FairScheduler::create(FairScheduler::run_here(), slots, slots > kept ? slots - kept : 1);
}

WorkScheduler scheduler_on(boost::asio::thread_pool& pool) {
  return [executor = pool.get_executor()](std::function<void()> job) {
    boost::asio::post(executor, [job = std::move(job)] {
      job();
      // An exchange parses CA bundles and TLS state and frees it all;
      // hand those pages back so an idle agent stays small.
      ::malloc_trim(0);
    });
  };
}

Result<std::unique_ptr<MetricsListener>> start_metrics_listener(
    const Config& config, std::shared_ptr<const AgentHandler> handler) {
  if (!config.metrics_listen) return std::unique_ptr<MetricsListener>();
  auto listener = MetricsListener::start(*config.metrics_listen, [handler = std::move(handler)] {
    return render_metrics(*handler->state(), epoch_seconds_now());
  });
  if (!listener) return listener.error().with_context(config.path);
  const std::string& address = config.metrics_listen->address;
  const bool v6 = address.find(':') != std::string::npos;
  log::info("metrics on http://" + (v6 ? "[" + address + "]" : address) + ":" +
            std::to_string((*listener)->port()) + "/metrics");
  return listener;
}

}  // namespace mpa

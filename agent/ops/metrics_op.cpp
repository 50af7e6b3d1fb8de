#include "agent/ops/metrics_op.h"

#include <unistd.h>

#include <exception>
#include <utility>
#include <vector>

#include "agent/metrics/agent_metrics.h"
#include "common/json_text.h"
#include "common/log.h"
#include "common/version.h"
#include "protocol/messages.h"

namespace mpa {
namespace {

std::string named(std::string_view name) { return std::string(metrics::kPrefix) + std::string(name); }

void read_cache(metrics::Registry& registry, const AgentState& state) {
  const TokenCache::Stats stats = state.cache->stats();
  registry.gauge(named("cache_entries"), "tokens cached, or being fetched, or failures held")
      .set(static_cast<double>(stats.entries));
  registry.gauge(named("exchanges_in_flight"), "token exchanges started and not yet answered")
      .set(static_cast<double>(stats.in_flight));
}

void read_certificates(metrics::Registry& registry, const AgentState& state, std::int64_t now) {
  std::vector<std::pair<metrics::Labels, double>> expiry;
  for (const ClientConfig& client : state.config.clients) {
    const SignerInfo info = state.engine->signer_info(client);
    if (info.certificate_not_after == 0) continue;  // the signer has not read it (yet)
    expiry.push_back({{{"client", client.name}},
                      static_cast<double>(info.certificate_not_after - now)});
  }
  registry.set_gauges(named("certificate_expiry_seconds"),
                      "seconds until the client's certificate expires (negative: expired)", expiry);
}

// {"metrics":"<text>"}
std::string metrics_fields(const std::string& text) {
  rapidjson::StringBuffer buffer;
  json::Writer writer(buffer);
  writer.StartObject();
  json::write_key(writer, "metrics");
  json::write_string(writer, text);
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

std::string render_metrics(const AgentState& state, std::int64_t now) {
  metrics::Registry& registry = metrics::agent_metrics().registry();
  registry.gauge(named("build_info"), "the agent's version", {{"version", kVersion}}).set(1);
  read_cache(registry, state);
  read_certificates(registry, state, now);
  return registry.render();
}

Status may_read_metrics(const PeerCredentials& peer) {
  if (peer.uid == ::geteuid() || peer.uid == 0) return {};
  return make_error(ErrorCode::forbidden,
                    "metrics are for the agent's own user and root (uid " +
                        std::to_string(peer.uid) + " is neither); a scraper can use [metrics] listen");
}

void handle_metrics(const std::shared_ptr<AgentState>& state, const PeerCredentials& peer,
                    const std::optional<std::string>& id, const WorkScheduler& scheduler,
                    const Clock& clock, Reply reply) {
  if (auto allowed = may_read_metrics(peer); !allowed) {
    reply(protocol::encode_error(id, allowed.error()));
    return;
  }
  scheduler([state, id, reply, now = clock.epoch_seconds] {
    try {
      reply(protocol::encode_ok(id, metrics_fields(render_metrics(*state, now()))));
    } catch (const std::exception& e) {
      log::error(std::string("bug: could not render the metrics: ") + e.what());
      reply(protocol::encode_error(id, make_error(ErrorCode::internal, "the agent failed to answer")));
    }
  });
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

std::optional<ErrorCode> answer_failure(std::string_view response_line) {
  if (response_line.rfind(R"({"ok":true)", 0) == 0) return std::nullopt;
  constexpr std::string_view kErrorKey = R"("error":")";
  const auto at = response_line.find(kErrorKey);
  if (at == std::string_view::npos) return ErrorCode::internal;
  const auto start = at + kErrorKey.size();
  const auto end = response_line.find('"', start);
  if (end == std::string_view::npos) return ErrorCode::internal;
  return protocol::error_code_from_string(response_line.substr(start, end - start))
      .value_or(ErrorCode::internal);
}

Reply counted_reply(std::string_view op, Reply reply) {
  return [op, reply = std::move(reply)](std::string line) {
    metrics::agent_metrics().count_request(op, answer_failure(line));
    reply(std::move(line));
  };
}

}  // namespace mpa

#include "agent/ops/metrics_op.h"

#include <exception>
#include <utility>
#include <vector>

#include "agent/access/metrics_access.h"
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

}  // namespace mpa

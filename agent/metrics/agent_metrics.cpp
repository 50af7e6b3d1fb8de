#include "agent/metrics/agent_metrics.h"

namespace mpa::metrics {
namespace {

std::string named(std::string_view name) { return std::string(kPrefix) + std::string(name); }

std::size_t result_index(std::optional<ErrorCode> failure) {
  return failure ? static_cast<std::size_t>(*failure) + 1 : 0;
}

std::string result_label(std::size_t index) {
  return index == 0 ? "ok" : std::string(to_string(static_cast<ErrorCode>(index - 1)));
}

}  // namespace

AgentMetrics::AgentMetrics()
    : cache_hits(registry_.counter(named("cache_hits"), "token requests answered from the cache")),
      cache_misses(registry_.counter(named("cache_misses"),
                                     "token requests the cache could not answer with a token")),
      cache_held(registry_.counter(named("cache_held"),
                                   "misses answered with a recent failure, without an exchange")),
      signer_restarts(registry_.counter(named("signer_restarts"),
                                        "signer helper processes started again after one ended")),
      exchange_seconds(registry_.histogram(named("exchange_duration_seconds"),
                                           "Maskinporten token exchanges, grant to answer, retries included",
                                           kLatencyBucketsSeconds)),
      signature_seconds(registry_.histogram(named("signature_duration_seconds"),
                                            "building and signing one grant on the token",
                                            kLatencyBucketsSeconds)),
      altinn_exchange_seconds(registry_.histogram(
          named("altinn_exchange_duration_seconds"),
          "Altinn token exchanges, Maskinporten token to Altinn token, retries included",
          kLatencyBucketsSeconds)) {
  for (std::size_t op = 0; op < kRequestOps.size(); ++op) {
    for (std::size_t result = 0; result < kResultCount; ++result) {
      requests_[op][result] = &registry_.counter(
          named("requests"), "socket requests by op and result (ok or the error code)",
          {{"op", std::string(kRequestOps[op])}, {"result", result_label(result)}});
    }
  }
  for (std::size_t result = 0; result < kResultCount; ++result) {
    exchanges_[result] = &registry_.counter(
        named("exchanges"), "Maskinporten token exchanges by outcome (ok or the error code)",
        {{"outcome", result_label(result)}});
    altinn_exchanges_[result] = &registry_.counter(
        named("altinn_exchanges"),
        "Altinn token exchanges (a Maskinporten token for an Altinn token) by outcome",
        {{"outcome", result_label(result)}});
  }
  for (std::size_t why = 0; why < kConnectionRefusals.size(); ++why) {
    refused_connections_[why] = &registry_.counter(
        named("connections_refused"),
        "socket connections refused: by [[allow]], max_connections, max_connections_per_uid, "
        "or closed at once for want of file descriptors",
        {{"reason", std::string(kConnectionRefusals[why])}});
  }
}

void AgentMetrics::count_request(std::string_view op, std::optional<ErrorCode> failure) noexcept {
  std::size_t row = kRequestOps.size() - 1;  // "invalid"
  for (std::size_t i = 0; i < kRequestOps.size(); ++i) {
    if (kRequestOps[i] == op) row = i;
  }
  requests_[row][result_index(failure)]->increment();
}

void AgentMetrics::count_exchange(std::optional<ErrorCode> failure) noexcept {
  exchanges_[result_index(failure)]->increment();
}

void AgentMetrics::count_altinn_exchange(std::optional<ErrorCode> failure) noexcept {
  altinn_exchanges_[result_index(failure)]->increment();
}

void AgentMetrics::note_success(const std::string& client, std::int64_t now) {
  registry_
      .gauge(named("last_successful_exchange_timestamp_seconds"),
             "when an exchange last gave this client a token (unix time)", {{"client", client}})
      .set(static_cast<double>(now));
}

AgentMetrics& agent_metrics() {
  static AgentMetrics metrics;
  return metrics;
}

ScopedTimer::~ScopedTimer() {
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started_;
  histogram_.observe(took.count());
}

}  // namespace mpa::metrics

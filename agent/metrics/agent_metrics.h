// The agent's own metrics (docs/OPERATIONS.md "Metrics"), one set per process. Other
// components update them with one call where the event happens; the
// daemon reads them out (agent/ops/metrics_op.h).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "agent/metrics/registry.h"
#include "common/clock.h"
#include "common/result.h"

namespace mpa::metrics {

// Every metric's name starts with this.
inline constexpr std::string_view kPrefix = "maskinporten_agent_";

// The ops a request counter is kept for; a request that could not be
// decoded counts as "invalid".
inline constexpr std::array<std::string_view, 8> kRequestOps = {
    "token", "status", "invalidate", "verify_altinn", "verify_token", "ping", "metrics", "invalid"};
// "ok" or the protocol's error code.
inline constexpr std::size_t kResultCount = static_cast<std::size_t>(ErrorCode::invalid_config) + 2;

// Why the socket server refused a connection.
enum class ConnectionRefusal { allow, max_connections, max_connections_per_uid, out_of_descriptors };
inline constexpr std::array<std::string_view, 4> kConnectionRefusals = {
    "allow", "max_connections", "max_connections_per_uid", "out_of_descriptors"};

// Where a token cache counts what it answers. `status` reads its figures
// back from the very counters the metrics op renders, so the two agree,
// across reloads too: the process's counters outlive every cache.
struct CacheCounters {
  Counter* hits = nullptr;
  Counter* misses = nullptr;  // held ones included
  Counter* held = nullptr;    // misses answered with a recent failure, without an exchange

  // A miss answered with a recent failure, without an exchange.
  void count_held_miss() const noexcept {
    misses->increment();
    held->increment();
  }
};

class AgentMetrics final {
  Registry registry_;  // first: the references below point into it

 public:
  AgentMetrics();
  AgentMetrics(const AgentMetrics&) = delete;  // its counters are referenced
  AgentMetrics& operator=(const AgentMetrics&) = delete;

  Registry& registry() { return registry_; }

  // No lock: fixed tables of counters made at construction.
  void count_request(std::string_view op, std::optional<ErrorCode> failure) noexcept;
  void count_exchange(std::optional<ErrorCode> failure) noexcept;
  // The Altinn leg: one exchange of a Maskinporten token for an Altinn token.
  void count_altinn_exchange(std::optional<ErrorCode> failure) noexcept;
  void count_refused_connection(ConnectionRefusal why) noexcept {
    refused_connections_[static_cast<std::size_t>(why)]->increment();
  }

  CacheCounters cache_counters() noexcept { return {&cache_hits, &cache_misses, &cache_held}; }

  // An exchange for `client` gave a token at unix time `now`.
  void note_success(const std::string& client, std::int64_t now);

  Counter& cache_hits;
  Counter& cache_misses;
  Counter& cache_held;
  Counter& signer_restarts;
  Histogram& exchange_seconds;
  Histogram& signature_seconds;
  Histogram& altinn_exchange_seconds;

 private:
  std::array<std::array<Counter*, kResultCount>, kRequestOps.size()> requests_{};
  std::array<Counter*, kResultCount> exchanges_{};
  std::array<Counter*, kResultCount> altinn_exchanges_{};
  std::array<Counter*, kConnectionRefusals.size()> refused_connections_{};
};

// The process's metrics.
AgentMetrics& agent_metrics();

// Seconds since construction, added to `histogram` on destruction: for a
// block that signs.
class ScopedTimer final {
 public:
  explicit ScopedTimer(Histogram& histogram)
      : histogram_(histogram), started_(std::chrono::steady_clock::now()) {}
  ~ScopedTimer();
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  Histogram& histogram_;
  std::chrono::steady_clock::time_point started_;
};

// `done` wrapped so that the exchange it ends is counted by outcome, timed
// from now, and noted as `client`'s last success when it gives a token.
template <typename T>
std::function<void(Result<T>)> counted_exchange(std::string client,
                                                std::function<void(Result<T>)> done) {
  return [client = std::move(client), done = std::move(done),
          started = std::chrono::steady_clock::now()](Result<T> result) {
    AgentMetrics& metrics = agent_metrics();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    metrics.exchange_seconds.observe(took.count());
    if (result) {
      metrics.count_exchange(std::nullopt);
      metrics.note_success(client, epoch_seconds_now());
    } else {
      metrics.count_exchange(result.error().code);
    }
    done(std::move(result));
  };
}

// `done` wrapped so that the Altinn exchange it ends (one Maskinporten
// token for an Altinn token, retries included) is counted by outcome and
// timed from now. A client's last successful exchange stays Maskinporten's.
template <typename T>
std::function<void(Result<T>)> counted_altinn_exchange(std::function<void(Result<T>)> done) {
  return [done = std::move(done), started = std::chrono::steady_clock::now()](Result<T> result) {
    AgentMetrics& metrics = agent_metrics();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    metrics.altinn_exchange_seconds.observe(took.count());
    metrics.count_altinn_exchange(result ? std::nullopt
                                         : std::optional<ErrorCode>(result.error().code));
    done(std::move(result));
  };
}

}  // namespace mpa::metrics

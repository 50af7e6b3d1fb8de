// Counters, gauges and histograms, and their OpenMetrics text
// (https://github.com/OpenObservability/OpenMetrics, "text format").
//
// A metric is made once (under the registry's lock) and kept by reference;
// updating it is one relaxed atomic operation, so a hot path (a cache hit)
// takes no lock. Rendering takes the lock only to walk the families.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mpa::metrics {

// Label names and values in the order they are written.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter final {
 public:
  void increment(std::uint64_t by = 1) noexcept { value_.fetch_add(by, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge final {
 public:
  void set(double value) noexcept { value_.store(value, std::memory_order_relaxed); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Buckets with fixed upper bounds (ascending); +Inf is implied.
class Histogram final {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value) noexcept;

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& upper_bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // not cumulative; last is +Inf
  std::atomic<double> sum_{0};
};

// Latency buckets, in seconds, for an exchange or a signature: from a
// fast HSM (a few ms) to an exchange that used up its retries.
extern const std::vector<double> kLatencyBucketsSeconds;

class Registry final {
 public:
  Registry();
  ~Registry();
  // Metrics are handed out by reference and must stay where they are.
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The metric `name` with `labels`, made on first use. A name is one kind
  // with one help text: asking for it as another kind is a bug (throws
  // std::logic_error). Counter names carry no "_total": rendering adds it.
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help,
                       const std::vector<double>& upper_bounds, const Labels& labels = {});

  // Replaces every gauge of family `name` with `values`: for what is read
  // when asked (each client's certificate), so that a client dropped by a
  // reload leaves no stale line.
  void set_gauges(std::string_view name, std::string_view help,
                  const std::vector<std::pair<Labels, double>>& values);

  // The OpenMetrics text of every family, sorted by name, ending "# EOF\n".
  std::string render() const;

  struct Family;

 private:
  Family& family(std::string_view name, std::string_view help, int kind);

  mutable std::mutex mutex_;  // guards families_ (not the values: they are atomic)
  std::map<std::string, std::unique_ptr<Family>, std::less<>> families_;
};

// "1.0", "0.005", "+Inf": numbers as OpenMetrics parsers read them back
// (Python's float repr, which prometheus_client compares `le` values with).
std::string format_number(double value);
// A label value inside its quotes: \, " and newline escaped.
std::string escape_label_value(std::string_view value);

}  // namespace mpa::metrics

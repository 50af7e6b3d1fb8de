#include "agent/metrics/registry.h"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace mpa::metrics {

const std::vector<double> kLatencyBucketsSeconds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                    0.5,   1.0,  2.5,   5.0,  10.0, 30.0};

namespace {

enum Kind : int { kCounter, kGauge, kHistogram };
constexpr std::string_view kKindNames[] = {"counter", "gauge", "histogram"};

std::string label_text(const Labels& labels) {
  std::string text;
  for (const auto& [name, value] : labels) {
    if (!text.empty()) text += ',';
    text += name + "=\"" + escape_label_value(value) + '"';
  }
  return text;
}

// `name{labels,extra}`, leaving out the braces when there is nothing in them.
std::string sample_name(std::string_view name, const std::string& labels,
                        const std::string& extra = {}) {
  std::string joined = labels;
  if (!extra.empty()) joined += (joined.empty() ? "" : ",") + extra;
  std::string out(name);
  if (!joined.empty()) out += '{' + joined + '}';
  return out;
}

}  // namespace

struct Registry::Family {
  int kind = kCounter;
  std::string help;
  std::vector<double> bounds;  // histograms
  struct Child {
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  std::map<std::string, Child> children;  // by label text
};

Registry::Registry() = default;
Registry::~Registry() = default;

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::observe(double value) noexcept {
  std::size_t bucket = 0;
  while (bucket < bounds_.size() && value > bounds_[bucket]) ++bucket;
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snapshot;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    snapshot.cumulative.push_back(running);
  }
  snapshot.count = running;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

Registry::Family& Registry::family(std::string_view name, std::string_view help, int kind) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    auto made = std::make_unique<Family>();
    made->kind = kind;
    made->help = std::string(help);
    it = families_.emplace(std::string(name), std::move(made)).first;
  }
  if (it->second->kind != kind) {
    throw std::logic_error("metric " + std::string(name) + " is a " +
                           std::string(kKindNames[it->second->kind]) + ", not a " +
                           std::string(kKindNames[kind]));
  }
  return *it->second;
}

Counter& Registry::counter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& child = family(name, help, kCounter).children[label_text(labels)];
  if (!child.counter) child.counter = std::make_unique<Counter>();
  return *child.counter;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& child = family(name, help, kGauge).children[label_text(labels)];
  if (!child.gauge) child.gauge = std::make_unique<Gauge>();
  return *child.gauge;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help,
                               const std::vector<double>& upper_bounds, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Family& histograms = family(name, help, kHistogram);
  if (histograms.children.empty()) histograms.bounds = upper_bounds;
  if (histograms.bounds != upper_bounds) {
    throw std::logic_error("histogram " + std::string(name) + " asked for with other buckets");
  }
  auto& child = histograms.children[label_text(labels)];
  if (!child.histogram) child.histogram = std::make_unique<Histogram>(upper_bounds);
  return *child.histogram;
}

void Registry::set_gauges(std::string_view name, std::string_view help,
                          const std::vector<std::pair<Labels, double>>& values) {
  std::lock_guard lock(mutex_);
  Family& gauges = family(name, help, kGauge);
  gauges.children.clear();
  for (const auto& [labels, value] : values) {
    auto& child = gauges.children[label_text(labels)];
    child.gauge = std::make_unique<Gauge>();
    child.gauge->set(value);
  }
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) {
    if (family->children.empty()) continue;
    out += "# TYPE " + name + ' ' + std::string(kKindNames[family->kind]) + '\n';
    out += "# HELP " + name + ' ' + escape_label_value(family->help) + '\n';
    for (const auto& [labels, child] : family->children) {
      if (child.counter) {
        out += sample_name(name + "_total", labels) + ' ' + std::to_string(child.counter->value()) + '\n';
      } else if (child.gauge) {
        out += sample_name(name, labels) + ' ' + format_number(child.gauge->value()) + '\n';
      } else {
        const Histogram::Snapshot snapshot = child.histogram->snapshot();
        const auto& bounds = child.histogram->upper_bounds();
        for (std::size_t i = 0; i <= bounds.size(); ++i) {
          const std::string le = i < bounds.size() ? format_number(bounds[i]) : "+Inf";
          out += sample_name(name + "_bucket", labels, "le=\"" + le + '"') + ' ' +
                 std::to_string(snapshot.cumulative[i]) + '\n';
        }
        out += sample_name(name + "_count", labels) + ' ' + std::to_string(snapshot.count) + '\n';
        out += sample_name(name + "_sum", labels) + ' ' + format_number(snapshot.sum) + '\n';
      }
    }
  }
  out += "# EOF\n";
  return out;
}

std::string format_number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  const auto written = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string text(buffer, written.ptr);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace mpa::metrics

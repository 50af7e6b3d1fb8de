#include <boost/test/unit_test.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.h"
#include "agent/metrics/agent_metrics.h"
#include "agent/metrics/registry.h"

using namespace mpa;
using namespace mpa::metrics;
using mpa::test::contains;

BOOST_AUTO_TEST_SUITE(registry)

BOOST_AUTO_TEST_CASE(EmptyRegistryRendersOnlyEof) {
  Registry registry;
  BOOST_TEST(registry.render() == "# EOF\n");
}

BOOST_AUTO_TEST_CASE(CounterRendersTypeHelpAndTotalSample) {
  Registry registry;
  registry.counter("jobs", "jobs done").increment(3);
  BOOST_TEST(registry.render() == "# TYPE jobs counter\n# HELP jobs jobs done\njobs_total 3\n# EOF\n");
}

BOOST_AUTO_TEST_CASE(SameNameAndLabelsIsTheSameCounter) {
  Registry registry;
  Counter& first = registry.counter("jobs", "jobs done", {{"kind", "a"}});
  Counter& again = registry.counter("jobs", "jobs done", {{"kind", "a"}});
  Counter& other = registry.counter("jobs", "jobs done", {{"kind", "b"}});
  BOOST_TEST(&first == &again);
  BOOST_TEST(&first != &other);
}

BOOST_AUTO_TEST_CASE(LabelValuesAreEscaped) {
  Registry registry;
  registry.gauge("g", "a gauge", {{"client", "a\"b\\c\nd"}}).set(1);
  BOOST_TEST(contains(registry.render(), "g{client=\"a\\\"b\\\\c\\nd\"} 1.0\n"));
}

BOOST_AUTO_TEST_CASE(RefusesOneNameAsTwoKinds) {
  Registry registry;
  registry.counter("x", "x");
  BOOST_CHECK_THROW(registry.gauge("x", "x"), std::logic_error);
}

BOOST_AUTO_TEST_CASE(RefusesAHistogramWithOtherBuckets) {
  Registry registry;
  registry.histogram("h", "h", {1.0, 2.0});
  BOOST_CHECK_THROW(registry.histogram("h", "h", {1.0}, {{"a", "b"}}), std::logic_error);
}

BOOST_AUTO_TEST_CASE(HistogramBucketsAreCumulativeWithInfAndCount) {
  Registry registry;
  Histogram& histogram = registry.histogram("latency_seconds", "how long", {0.1, 1.0});
  histogram.observe(0.05);
  histogram.observe(0.1);  // on the bound: in that bucket (le)
  histogram.observe(0.5);
  histogram.observe(7.0);
  const std::string text = registry.render();
  BOOST_TEST(contains(text, "# TYPE latency_seconds histogram\n"));
  BOOST_TEST(contains(text, "latency_seconds_bucket{le=\"0.1\"} 2\n"));
  BOOST_TEST(contains(text, "latency_seconds_bucket{le=\"1.0\"} 3\n"));
  BOOST_TEST(contains(text, "latency_seconds_bucket{le=\"+Inf\"} 4\n"));
  BOOST_TEST(contains(text, "latency_seconds_count 4\n"));
  BOOST_TEST(contains(text, "latency_seconds_sum 7.65\n"));
}

BOOST_AUTO_TEST_CASE(HistogramLabelsComeBeforeLe) {
  Registry registry;
  registry.histogram("h", "h", {1.0}, {{"client", "a"}}).observe(2);
  BOOST_TEST(contains(registry.render(), "h_bucket{client=\"a\",le=\"1.0\"} 0\n"));
}

BOOST_AUTO_TEST_CASE(SetGaugesDropsTheOnesNotGiven) {
  Registry registry;
  registry.set_gauges("expiry", "e", {{{{"client", "a"}}, 5}, {{{"client", "b"}}, 6}});
  registry.set_gauges("expiry", "e", {{{{"client", "b"}}, 7}});
  const std::string text = registry.render();
  BOOST_TEST(!contains(text, "client=\"a\""));
  BOOST_TEST(contains(text, "expiry{client=\"b\"} 7.0\n"));
}

BOOST_AUTO_TEST_CASE(FamilyWithoutSamplesIsLeftOut) {
  Registry registry;
  registry.set_gauges("expiry", "e", {});
  BOOST_TEST(registry.render() == "# EOF\n");
}

BOOST_AUTO_TEST_CASE(NumbersReadBackAsPythonWritesThem) {
  BOOST_TEST(format_number(1) == "1.0");
  BOOST_TEST(format_number(0.005) == "0.005");
  BOOST_TEST(format_number(-86400) == "-86400.0");
  BOOST_TEST(format_number(1795391934) == "1795391934.0");
  BOOST_TEST(format_number(1.0 / 0.0) == "+Inf");
}

BOOST_AUTO_TEST_CASE(CountersAddUpAcrossThreads) {
  Registry registry;
  Counter& counter = registry.counter("n", "n");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&counter] {
      for (int i = 0; i < 10000; ++i) counter.increment();
    });
  }
  for (auto& thread : threads) thread.join();
  BOOST_TEST(counter.value() == 40000U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(agent_metrics_set)

BOOST_AUTO_TEST_CASE(RequestIsCountedByOpAndResult) {
  AgentMetrics metrics;
  metrics.count_request("token", std::nullopt);
  metrics.count_request("token", ErrorCode::forbidden);
  metrics.count_request("token", ErrorCode::forbidden);
  const std::string text = metrics.registry().render();
  BOOST_TEST(contains(text, "maskinporten_agent_requests_total{op=\"token\",result=\"ok\"} 1\n"));
  BOOST_TEST(contains(text, "maskinporten_agent_requests_total{op=\"token\",result=\"forbidden\"} 2\n"));
}

BOOST_AUTO_TEST_CASE(UnknownOpCountsAsInvalid) {
  AgentMetrics metrics;
  metrics.count_request("no such op", ErrorCode::invalid_request);
  BOOST_TEST(contains(metrics.registry().render(),
                      "maskinporten_agent_requests_total{op=\"invalid\",result=\"invalid_request\"} 1\n"));
}

BOOST_AUTO_TEST_CASE(ConfigErrorCountsAsInternalAsOnTheWire) {
  AgentMetrics metrics;
  metrics.count_exchange(ErrorCode::invalid_config);
  BOOST_TEST(contains(metrics.registry().render(),
                      "maskinporten_agent_exchanges_total{outcome=\"internal\"} 1\n"));
}

BOOST_AUTO_TEST_CASE(HeldMissIsAMissAndHeld) {
  AgentMetrics metrics;
  metrics.cache_counters().count_held_miss();
  BOOST_TEST(metrics.cache_misses.value() == 1U);
  BOOST_TEST(metrics.cache_held.value() == 1U);
  BOOST_TEST(metrics.cache_hits.value() == 0U);
}

BOOST_AUTO_TEST_CASE(CountedExchangeCountsOutcomeAndNotesSuccess) {
  AgentMetrics& metrics = agent_metrics();
  int answered = 0;
  auto ok = counted_exchange<int>("alpha", [&](Result<int> r) { answered += r ? *r : 0; });
  ok(Result<int>(5));
  auto failed = counted_exchange<int>("alpha", [&](Result<int> r) { answered += r ? 0 : 1; });
  failed(make_error(ErrorCode::unavailable, "down"));
  BOOST_TEST(answered == 6);
  const std::string text = metrics.registry().render();
  BOOST_TEST(contains(text, "maskinporten_agent_exchanges_total{outcome=\"ok\"} 1\n"));
  BOOST_TEST(contains(text, "maskinporten_agent_exchanges_total{outcome=\"unavailable\"} 1\n"));
  BOOST_TEST(contains(text, "maskinporten_agent_exchange_duration_seconds_count 2\n"));
  BOOST_TEST(contains(text, "maskinporten_agent_last_successful_exchange_timestamp_seconds{client=\"alpha\"} "));
}

BOOST_AUTO_TEST_SUITE_END()

#include <boost/test/unit_test.hpp>
#include <chrono>

#include "common/clock.h"

using namespace mpa;

BOOST_AUTO_TEST_SUITE(Clocks)

BOOST_AUTO_TEST_CASE(FormatsUtcInEachStyle) {
  // 2026-11-24T10:00:00Z
  constexpr std::int64_t kInstant = 1795514400;
  BOOST_TEST(format_utc(kInstant) == "2026-11-24T10:00:00Z");
  BOOST_TEST(format_utc(kInstant, UtcFormat::readable) == "2026-11-24 10:00:00Z");
  BOOST_TEST(format_utc(kInstant, UtcFormat::date) == "2026-11-24");
}

BOOST_AUTO_TEST_CASE(OutOfCalendarRangeIsSaidInSeconds) {
  BOOST_TEST(format_utc(-1) == "epoch second -1");
  BOOST_TEST(format_utc(253402300800) == "epoch second 253402300800");
  BOOST_TEST(format_utc(253402300799) == "9999-12-31T23:59:59Z");
}

BOOST_AUTO_TEST_CASE(SystemClockIsTheSystemsTime) {
  const Clock clock = Clock::system();
  const std::int64_t before = epoch_seconds_now();
  const std::int64_t read = clock.epoch_seconds();
  BOOST_TEST(read >= before);
  BOOST_TEST(read <= epoch_seconds_now());
  const auto steady = clock.steady_now();
  BOOST_TEST((steady <= steady_now()));
}

BOOST_AUTO_TEST_CASE(AnInjectedClockIsWhatTheTestSays) {
  std::chrono::steady_clock::time_point now{};
  const Clock clock{[&now] { return now; }, [] { return std::int64_t{42}; }};
  now += std::chrono::seconds(5);
  BOOST_TEST(
      (clock.steady_now() == std::chrono::steady_clock::time_point(std::chrono::seconds(5))));
  BOOST_TEST(clock.epoch_seconds() == 42);
}

BOOST_AUTO_TEST_SUITE_END()

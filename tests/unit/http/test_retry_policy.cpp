#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/http/retry_policy.h"

using namespace mpa;
using std::chrono::milliseconds;

namespace {

// A clock that moves only when a retry's timer runs out.
struct FakeTime {
  std::chrono::steady_clock::time_point now{};
  std::vector<milliseconds> sleeps;
  Clock clock() {
    return Clock{[this] { return now; }, [] { return std::int64_t{1700000000}; }};
  }

  // Attempts `attempt(1)`, `attempt(2)`, ... as the Maskinporten and Altinn
  // exchanges do: each outcome goes to policy.after(), whose retry_in
  // starts a timer (here: the clock moves on at once) for the next one.
  template <class T>
  Result<T> run(const RetryPolicy& policy, const std::function<AttemptOutcome<T>(int)>& attempt,
                const RetryReport& report) {
    std::optional<Result<T>> result;
    bool timer_ran = true;
    for (int n = 1; timer_ran; ++n) {
      timer_ran = false;
      policy.after(attempt(n), n, report, [&](Result<T> r) { result = std::move(r); },
                   [&](milliseconds wait) {
                     sleeps.push_back(wait);
                     now += wait;
                     timer_ran = true;
                   });
    }
    BOOST_TEST_REQUIRE(result.has_value());
    return std::move(*result);
  }
};

RetryReport plain_report() {
  RetryReport report;
  report.give_up = [](const Error& last, int attempts, std::optional<int>) {
    return make_error(last.code, last.message + " after " + std::to_string(attempts));
  };
  report.retrying = [](const Error&, int, milliseconds) {};
  return report;
}

// A Retry-After verdict as text ("none" or the seconds), printable by Boost.Test.
std::string wait_for(const std::string& value, std::int64_t now) {
  const auto seconds = parse_retry_after(value, now);
  return seconds ? std::to_string(*seconds) : "none";
}

AttemptOutcome<int> failure(bool retryable, std::optional<int> retry_after = std::nullopt) {
  return {make_error(ErrorCode::unavailable, "busy"), retryable, retry_after};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(Retries)

BOOST_AUTO_TEST_CASE(BackoffIsFullJitterUnderADoublingCappedCeiling) {
  for (int attempt = 1; attempt <= 10; ++attempt) {
    const auto ceiling = std::min(kMaxBackoff, kFirstBackoff * (1 << (attempt - 1)));
    for (int i = 0; i < 50; ++i) {
      const milliseconds wait = backoff_with_jitter(attempt);
      BOOST_TEST(wait.count() >= 0);
      BOOST_TEST(wait.count() <= ceiling.count());
    }
  }
}

BOOST_AUTO_TEST_CASE(SuccessAfterFailuresSleepsBetweenAttempts) {
  FakeTime time;
  const RetryPolicy policy(std::chrono::seconds(30), time.clock());
  int calls = 0;
  const auto result = time.run<int>(policy, 
      [&](int) -> AttemptOutcome<int> {
        return ++calls < 3 ? failure(true) : AttemptOutcome<int>{5};
      },
      plain_report());
  BOOST_TEST_REQUIRE(result.ok());
  BOOST_TEST(*result == 5);
  BOOST_TEST(calls == 3);
  BOOST_TEST(time.sleeps.size() == 2u);
}

BOOST_AUTO_TEST_CASE(NonRetryableFailureStopsAtOnce) {
  FakeTime time;
  const RetryPolicy policy(std::chrono::seconds(30), time.clock());
  int calls = 0;
  const auto result = time.run<int>(policy, 
      [&](int) {
        ++calls;
        return failure(false);
      },
      plain_report());
  BOOST_TEST(!result.ok());
  BOOST_TEST(result.error().message == "busy");
  BOOST_TEST(calls == 1);
  BOOST_TEST(time.sleeps.empty());
}

BOOST_AUTO_TEST_CASE(RetryAfterIsHonouredExactly) {
  FakeTime time;
  const RetryPolicy policy(std::chrono::seconds(30), time.clock());
  int calls = 0;
  const auto result = time.run<int>(policy, 
      [&](int) -> AttemptOutcome<int> {
        return ++calls == 1 ? failure(true, 7) : AttemptOutcome<int>{1};
      },
      plain_report());
  BOOST_TEST(result.ok());
  BOOST_TEST_REQUIRE(time.sleeps.size() == 1u);
  BOOST_TEST(time.sleeps[0].count() == 7000);
}

BOOST_AUTO_TEST_CASE(GivesUpBeforeAWaitWouldPassTheDeadline) {
  FakeTime time;
  const RetryPolicy policy(std::chrono::seconds(10), time.clock());
  std::optional<int> asked;
  RetryReport report = plain_report();
  report.give_up = [&](const Error& last, int attempts, std::optional<int> wait) {
    asked = wait;
    return make_error(last.code, "gave up after " + std::to_string(attempts));
  };
  const auto result = time.run<int>(policy, [](int) { return failure(true, 60); }, report);
  BOOST_TEST_REQUIRE(!result.ok());
  BOOST_TEST(result.error().message == "gave up after 1");
  BOOST_TEST(asked.value_or(-1) == 60);
  BOOST_TEST(time.sleeps.empty());
}

BOOST_AUTO_TEST_CASE(RetriesStayWithinTheDeadline) {
  FakeTime time;
  const auto start = time.now;
  const RetryPolicy policy(std::chrono::seconds(20), time.clock());
  int calls = 0;
  const auto result = time.run<int>(policy, 
      [&](int) {
        ++calls;
        return failure(true);
      },
      plain_report());
  BOOST_TEST(!result.ok());
  BOOST_TEST(calls > 2);
  BOOST_TEST((time.now - start <= std::chrono::seconds(20)));
}

BOOST_AUTO_TEST_CASE(AttemptTimeoutIsWhatIsLeftWithinOneToCap) {
  FakeTime time;
  const RetryPolicy policy(std::chrono::seconds(20), time.clock());
  BOOST_TEST(policy.attempt_timeout_seconds(15) == 15);
  time.now += std::chrono::milliseconds(12500);
  BOOST_TEST(policy.attempt_timeout_seconds(15) == 8);
  time.now += std::chrono::seconds(30);
  BOOST_TEST(policy.attempt_timeout_seconds(15) == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ParseRetryAfter)

constexpr std::int64_t kNow = 1'700'000'000;
// "Sun, 06 Nov 1994 08:49:37 GMT" is RFC 9110's example date.
constexpr std::int64_t kExampleDate = 784111777;

BOOST_AUTO_TEST_CASE(ReadsDeltaSeconds) {
  BOOST_TEST(wait_for("2", kNow) == "2");
  BOOST_TEST(wait_for("0", kNow) == "0");
  BOOST_TEST(wait_for("120", kNow) == "120");
}

BOOST_AUTO_TEST_CASE(CapsHugeDeltaSeconds) {
  BOOST_TEST(wait_for("3601", kNow) == std::to_string(kMaxRetryAfterSeconds));
  BOOST_TEST(wait_for("99999999999999999999999", kNow) == std::to_string(kMaxRetryAfterSeconds));
}

BOOST_AUTO_TEST_CASE(ReadsImfFixdate) {
  BOOST_TEST(wait_for("Sun, 06 Nov 1994 08:49:37 GMT", kExampleDate - 10) == "10");
}

BOOST_AUTO_TEST_CASE(DateInThePastMeansNow) {
  BOOST_TEST(wait_for("Sun, 06 Nov 1994 08:49:37 GMT", kNow) == "0");
}

BOOST_AUTO_TEST_CASE(CapsFarFutureDate) {
  BOOST_TEST(wait_for("Fri, 31 Dec 9999 23:59:59 GMT", kNow) == std::to_string(kMaxRetryAfterSeconds));
}

BOOST_AUTO_TEST_CASE(RejectsNegativeAndSignedNumbers) {
  BOOST_TEST(wait_for("-1", kNow) == "none");
  BOOST_TEST(wait_for("+5", kNow) == "none");
}

BOOST_AUTO_TEST_CASE(RejectsGarbage) {
  for (const char* value : {"", "soon", "1.5", "5s", " 5", "5 ", "0x10", "١"}) {
    BOOST_TEST(wait_for(value, kNow) == "none", '"' << value << '"');
  }
}

BOOST_AUTO_TEST_CASE(RejectsOtherDateFormats) {
  for (const char* value : {"Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
                            "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37 gmt",
                            "Sun, 6 Nov 1994 08:49:37 GMT"}) {
    BOOST_TEST(wait_for(value, kNow) == "none", value);
  }
}

BOOST_AUTO_TEST_CASE(RejectsImpossibleDates) {
  for (const char* value : {"Mon, 06 Nov 1994 08:49:37 GMT", "Sun, 31 Feb 1994 08:49:37 GMT",
                            "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Foo 1994 08:49:37 GMT"}) {
    BOOST_TEST(wait_for(value, kNow) == "none", value);
  }
}

BOOST_AUTO_TEST_SUITE_END()

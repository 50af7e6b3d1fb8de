// One retry policy for the agent's HTTP exchanges (Maskinporten's /token
// and Altinn's token exchange): attempt until one succeeds, one fails for
// good, or the next wait would pass the deadline. Between attempts the
// server's Retry-After when it gave one, else exponential backoff from
// 500 ms, capped at 8 s, with full jitter.
//
// Full jitter (a wait drawn from [0, backoff]) rather than "equal" jitter
// (half the backoff fixed, half drawn): of the schemes compared in
// "Exponential Backoff And Jitter" (AWS Architecture Blog, 2015) it spreads
// many agents restarted together the most and costs the least total work.
// Equal jitter's guaranteed minimum wait buys nothing here: every exchange
// is bounded by its retry deadline anyway.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "common/clock.h"
#include "common/result.h"

namespace mpa {

inline constexpr std::chrono::milliseconds kFirstBackoff{500};
inline constexpr std::chrono::milliseconds kMaxBackoff{8000};

// The wait after failed attempt `attempt` (1, 2, ...): drawn from
// [0, min(kMaxBackoff, kFirstBackoff * 2^(attempt-1))].
std::chrono::milliseconds backoff_with_jitter(int attempt);

// Seconds to wait from a Retry-After value (RFC 9110 §10.2.3: delta-seconds
// or an HTTP-date); nullopt when absent or unparseable. Large values are
// capped at kMaxRetryAfterSeconds; a date in the past is 0.
inline constexpr int kMaxRetryAfterSeconds = 3600;
std::optional<int> parse_retry_after(const std::string& value, std::int64_t now);

// What one attempt came to.
template <class T>
struct AttemptOutcome {
  AttemptOutcome(Result<T> r, bool may_retry = false,  // NOLINT implicit
                 std::optional<int> server_wait = std::nullopt)
      : result(std::move(r)), retryable(may_retry), retry_after(server_wait) {}

  Result<T> result;
  bool retryable = false;
  std::optional<int> retry_after;  // seconds the server asked us to wait
};

// How the caller tells the story of its retries, in its own words.
struct RetryReport {
  // The error when the policy stops: the last attempt's error after
  // `attempts` attempts; `asked` is the server's wait when that wait was
  // the one that would have passed the deadline.
  std::function<Error(const Error& last, int attempts, std::optional<int> asked)> give_up;
  // Called before each wait.
  std::function<void(const Error& last, int attempt, std::chrono::milliseconds wait)> retrying;
};

class RetryPolicy {
 public:
  // The deadline is `budget` from now on `clock`.
  RetryPolicy(std::chrono::seconds budget, Clock clock)
      : clock_(std::move(clock)), deadline_(clock_.steady_now() + budget) {}

  // The time-out of the next attempt: the seconds left, within 1..cap.
  int attempt_timeout_seconds(int cap) const;

  // What follows attempt `attempt`, which came to `outcome`: either
  // `finish` gets the run's result (the attempt's own, or report.give_up's
  // when the next wait would pass the deadline), or, after report.retrying,
  // `retry_in` gets the wait before the next attempt. Callers that wait with
  // a timer call this from their attempt's callback.
  template <class T, class Finish, class RetryIn>
  void after(AttemptOutcome<T> outcome, int attempt, const RetryReport& report, Finish&& finish,
             RetryIn&& retry_in) const {
    if (outcome.result.ok() || !outcome.retryable) return finish(std::move(outcome.result));
    const auto wait = next_wait(attempt, outcome.retry_after);
    if (!wait) return finish(report.give_up(outcome.result.error(), attempt, outcome.retry_after));
    report.retrying(outcome.result.error(), attempt, *wait);
    retry_in(*wait);
  }

 private:
  // The wait after failed attempt `attempt`, or nothing when it would pass
  // the deadline.
  std::optional<std::chrono::milliseconds> next_wait(int attempt,
                                                     std::optional<int> retry_after) const {
    const std::chrono::milliseconds wait = wait_after(attempt, retry_after);
    if (clock_.steady_now() + wait >= deadline_) return std::nullopt;
    return wait;
  }

  static std::chrono::milliseconds wait_after(int attempt, std::optional<int> retry_after);

  Clock clock_;
  std::chrono::steady_clock::time_point deadline_;
};

}  // namespace mpa

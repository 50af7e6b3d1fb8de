#include "agent/cache/failure_memory.h"

#include <algorithm>
#include <string>

namespace mpa {

bool from_afar(ErrorCode code) {
  switch (code) {
    case ErrorCode::unavailable:
    case ErrorCode::invalid_grant:
    case ErrorCode::invalid_client:
    case ErrorCode::invalid_scope:
    case ErrorCode::forbidden:
      return true;
    default:
      return false;
  }
}

// Capped exponential back-off with jitter: b, 2b, 4b ... up to the maximum,
// each shortened by up to a quarter so that agents drift apart. Not
// agent/http/retry_policy's backoff: that one spaces attempts within one
// exchange (milliseconds, fixed bounds, full jitter that may wait 0); this
// one spaces exchanges of one cache entry (seconds, from the configuration)
// and also sets how long misses are told the last failure (hold_until), so
// it keeps at least three quarters of each step.
void FailureMemory::note(const Error& error, std::int64_t now, const TokenCacheOptions& options,
                         std::minstd_rand& random) {
  backoff_seconds_ = backoff_seconds_ == 0
                         ? options.backoff_initial_seconds
                         : std::min<std::int64_t>(2 * backoff_seconds_, options.backoff_max_seconds);
  const std::int64_t shortened =
      std::uniform_int_distribution<std::int64_t>(0, backoff_seconds_ / 4)(random);
  backoff_until_ = now + backoff_seconds_ - shortened;
  failure_ = error;
  failed_at_ = now;
}

// Misses get the last failure while the back-off runs, but for at least
// failure_hold_min_seconds (the first back-offs are a second or two: too
// short to spare Maskinporten a client retrying in a loop) and at most
// failure_hold_max_seconds (a person fixing the cause should not wait out
// a whole refresh back-off).
std::int64_t FailureMemory::hold_until(const TokenCacheOptions& options) const {
  if (!failure_ || !from_afar(failure_->code)) return 0;
  const std::int64_t backoff = backoff_until_ - failed_at_;
  return failed_at_ + std::min<std::int64_t>(std::max<std::int64_t>(backoff, options.failure_hold_min_seconds),
                                             options.failure_hold_max_seconds);
}

Error FailureMemory::held_failure(std::int64_t now, const TokenCacheOptions& options) const {
  Error error = *failure_;
  error.message += " (the answer to the agent's last exchange for this request, " +
                   std::to_string(now - failed_at_) + " s ago; it asks again in " +
                   std::to_string(hold_until(options) - now) +
                   " s, or at once after `maskinporten-agent invalidate`)";
  return error;
}

}  // namespace mpa

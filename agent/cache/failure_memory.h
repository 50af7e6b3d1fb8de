// What one cache entry remembers of failed exchanges (internal to
// agent/cache/): the back-off before the next exchange, and how long misses
// are answered with the last failure instead of a new exchange. Every time
// here is the cache's steady seconds: a stepped wall clock stretches nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <random>

#include "agent/cache/token_cache.h"
#include "common/result.h"

namespace mpa {

// Failures that Maskinporten or Altinn answered, or that reaching them
// caused: asking again at once would only ask them again.
bool from_afar(ErrorCode code);

class FailureMemory {
 public:
  // A token arrived: back-off and failure are forgotten.
  void forget() { *this = FailureMemory(); }

  // An exchange failed at `now`: the back-off grows one step.
  void note(const Error& error, std::int64_t now, const TokenCacheOptions& options,
            std::minstd_rand& random);

  // Whether a refresh ahead must wait for the back-off.
  bool backing_off(std::int64_t now) const { return now < backoff_until_; }

  // Until when misses get the last failure; 0 when they do not.
  std::int64_t hold_until(const TokenCacheOptions& options) const;

  // The last failure, as a held miss is answered with it.
  Error held_failure(std::int64_t now, const TokenCacheOptions& options) const;

 private:
  std::int64_t backoff_seconds_ = 0;  // 0: no failure since the last token
  std::int64_t backoff_until_ = 0;
  std::optional<Error> failure_;      // the last exchange's, until one succeeds
  std::int64_t failed_at_ = 0;
};

}  // namespace mpa

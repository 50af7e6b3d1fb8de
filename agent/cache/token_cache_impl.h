// TokenCache's state, shared by its source files (token_cache.cpp: lookups
// and stores; token_cache_refresh.cpp: exchanges, refreshes ahead, sweeps).
// Private to agent/cache.
#pragma once

#include <algorithm>
#include <list>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "agent/cache/failure_memory.h"
#include "agent/cache/token_cache.h"
#include "common/clock.h"

namespace mpa {

struct TokenCache::Impl : std::enable_shared_from_this<TokenCache::Impl> {
  // A refresh ahead waits a random 0..this many seconds (and at most a quarter
  // of the margin), so that many agents, or many keys, do not refresh together.
  static constexpr std::int64_t kMaxRefreshJitterSeconds = 5;
  // A refresh ahead starts at least this long before its token becomes too
  // short for the requests it serves (the exchange's own time, with room).
  static constexpr std::int64_t kRefreshLeadSeconds = 3;
  // A client waiting for a new token should have its grant signed within
  // this; a refresh ahead, this long before its token expires. Earliest
  // first, so a refresh close to expiry goes before new keys, and new keys
  // before refreshes that can wait.
  static constexpr std::int64_t kMissSignWithinMs = 1000;
  static constexpr std::int64_t kRefreshSignBeforeExpiryMs = 10'000;

  static std::string describe(const Error& error) {
    return std::string(to_string(error.code)) + ": " + error.message;
  }

  struct Waiter {
    std::int64_t min_ttl = 0;
    Callback done;
  };

  // One exchange in progress. The job that runs it holds it, so its waiters
  // are answered even when invalidate() has dropped the entry meanwhile.
  struct Flight {
    std::vector<Waiter> waiters;  // guarded by Impl::mutex
    std::string owner;            // whom the exchange is for; set at its start
  };

  struct Entry {
    TokenTarget target;                       // normalised: what the fetcher gets
    std::optional<AccessToken> token;
    // Times below are steady seconds (Impl::steady_seconds()), never the wall clock.
    std::int64_t expires = 0;                 // when `token` expires
    std::int64_t wall_minus_steady = 0;       // the clocks' difference when it arrived
    std::int64_t fetched_at = 0;
    std::int64_t last_used = 0;
    std::shared_ptr<Flight> flight;           // set while an exchange for this entry runs
    std::int64_t flight_started = 0;          // when that exchange was handed to the scheduler
    std::optional<std::int64_t> refresh_due;  // set by the first hit in the refresh window
    std::int64_t refresh_min_ttl = 0;         // the longest min_ttl asked that tokens can serve
    std::string last_owner;                   // of the latest get(), for refreshes ahead
    bool keep_fresh = false;                  // prefetched: refreshed whether used or not
    FailureMemory failures;
    std::list<const std::string*>::iterator lru_position;
  };

  using Entries = std::unordered_map<std::string, Entry>;

  Impl(Fetcher f, Scheduler s, TokenCacheOptions o, Clock c)
      : fetcher(std::move(f)), scheduler(std::move(s)), options(sane(o)),
        clock(std::move(c)), count(*options.counters), random(std::random_device{}()) {}

  // Set once, read by many threads without the lock.
  const Fetcher fetcher;
  const Scheduler scheduler;
  const TokenCacheOptions options;
  const Clock clock;
  const metrics::CacheCounters count;  // hits, misses, held: counted once, for status and metrics

  // The cache's time: steady seconds, for every age, expiry, back-off and hold.
  std::int64_t steady_seconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(clock.steady_now().time_since_epoch())
        .count();
  }

  // Whether the entry's token surely has `needed` seconds left. Both clocks
  // are read in whole seconds: `expires` may be up to a second late (the
  // wall second it was dated by nearly over) and `now` up to a second early,
  // so two seconds more than needed are asked of the count.
  static bool serves(const Entry& entry, std::int64_t needed, std::int64_t now) {
    return entry.token && entry.expires - now >= needed + 2;
  }

  mutable std::mutex mutex;  // guards everything below; never held across a call out
  Entries entries;
  std::list<const std::string*> lru;  // keys of `entries`, most recently used first
  std::map<std::string, LastError> last_errors;
  Stats counters;  // this cache's own: in_flight, exchanges, refreshed_ahead
  std::minstd_rand random;

  static TokenCacheOptions sane(TokenCacheOptions o) {
    o.refresh_margin_seconds = std::max(o.refresh_margin_seconds, 0);
    o.backoff_initial_seconds = std::max(o.backoff_initial_seconds, 1);
    o.backoff_max_seconds = std::max(o.backoff_max_seconds, o.backoff_initial_seconds);
    o.failure_hold_max_seconds = std::max(o.failure_hold_max_seconds, 0);
    o.failure_hold_min_seconds = std::clamp(o.failure_hold_min_seconds, 0, o.failure_hold_max_seconds);
    o.max_entries = std::max<std::size_t>(o.max_entries, 1);
    if (!o.counters) o.counters = metrics::agent_metrics().cache_counters();
    return o;
  }

  void get(const TokenTarget& target, std::int64_t min_ttl, Callback done,
           const std::string& owner);
  std::optional<AccessToken> peek(const TokenTarget& target, std::int64_t min_ttl);
  void put(const TokenTarget& target, const AccessToken& token);
  bool invalidate(const TokenTarget& target);
  void sweep();
  std::size_t refresh_due_entries();
  void keep_fresh(const TokenTarget& target, const std::string& owner);

 private:
  std::int64_t uniform(std::int64_t low, std::int64_t high);
  Entries::iterator find_or_insert(const std::string& key, const TokenTarget& target,
                                   std::int64_t now);
  void evict_least_recently_used_idle();
  void erase(Entries::iterator it);
  bool refresh_is_due(Entry& entry, std::int64_t min_ttl, std::int64_t now);
  using Start = std::function<void(std::function<void()> release)>;
  Start start_exchange(const std::string& key, Entry& entry, std::int64_t sign_by_ms);
  static std::string late_refresh_words(const Entry& entry, std::int64_t min_ttl,
                                        std::int64_t now);
  static std::optional<Error> too_long_for_this_entry(const Entry& entry, std::int64_t min_ttl,
                                                      std::int64_t now);
  void finish_exchange(const std::string& key, const std::string& client,
                       const std::shared_ptr<Flight>& flight, Result<AccessToken> result);
  void store(Entry& entry, const AccessToken& token, std::int64_t now) const;
  AccessToken served(const Entry& entry, std::int64_t now) const;
  std::int64_t sign_within_ms(std::int64_t ms) const;
  std::int64_t refresh_sign_by(const Entry& entry, std::int64_t now) const;
  static void answer(Waiter& waiter, const Result<AccessToken>& result, std::int64_t wall_now);
};

}  // namespace mpa

#include "agent/cache/token_cache.h"

#include <algorithm>
#include <exception>
#include <list>
#include <mutex>
#include <optional>
#include <random>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "agent/cache/failure_memory.h"
#include "agent/metrics/agent_metrics.h"
#include "common/clock.h"

namespace mpa {
namespace {

// A refresh ahead waits a random 0..this many seconds (and at most a quarter
// of the margin), so that many agents, or many keys, do not refresh together.
constexpr std::int64_t kMaxRefreshJitterSeconds = 5;
// A refresh ahead starts at least this long before its token becomes too
// short for the requests it serves (the exchange's own time, with room).
constexpr std::int64_t kRefreshLeadSeconds = 3;
// A client waiting for a new token should have its grant signed within
// this; a refresh ahead, this long before its token expires. Earliest
// first, so a refresh close to expiry goes before new keys, and new keys
// before refreshes that can wait.
constexpr std::int64_t kMissSignWithinMs = 1000;
constexpr std::int64_t kRefreshSignBeforeExpiryMs = 10'000;

std::int64_t refresh_sign_by(const AccessToken& token) {
  return token.expires_at * 1000 - kRefreshSignBeforeExpiryMs;
}

std::string describe(const Error& error) {
  return std::string(to_string(error.code)) + ": " + error.message;
}

struct Waiter {
  std::int64_t min_ttl = 0;
  TokenCache::Callback done;
};

// One exchange in progress. The job that runs it holds it, so its waiters
// are answered even when invalidate() has dropped the entry meanwhile.
struct Flight {
  std::vector<Waiter> waiters;  // guarded by Impl::mutex
};

struct Entry {
  TokenTarget target;                       // normalised: what the fetcher gets
  std::optional<AccessToken> token;
  std::int64_t fetched_at = 0;
  std::int64_t last_used = 0;
  std::shared_ptr<Flight> flight;           // set while an exchange for this entry runs
  std::optional<std::int64_t> refresh_due;  // set by the first hit in the refresh window
  std::int64_t refresh_min_ttl = 0;         // the longest min_ttl asked since the last token
  std::string last_owner;                   // of the latest get(), for refreshes ahead
  bool keep_fresh = false;                  // prefetched: refreshed whether used or not
  FailureMemory failures;
  std::list<const std::string*>::iterator lru_position;
};

}  // namespace

struct TokenCache::Impl : std::enable_shared_from_this<TokenCache::Impl> {
  using Entries = std::unordered_map<std::string, Entry>;

  Impl(Fetcher f, Scheduler s, TokenCacheOptions o, Clock c)
      : fetcher(std::move(f)), scheduler(std::move(s)), options(sane(o)),
        clock(c ? std::move(c) : Clock(epoch_seconds_now)), random(std::random_device{}()) {}

  // Set once, read by many threads without the lock.
  const Fetcher fetcher;
  const Scheduler scheduler;
  const TokenCacheOptions options;
  const Clock clock;

  mutable std::mutex mutex;  // guards everything below; never held across a call out
  Entries entries;
  std::list<const std::string*> lru;  // keys of `entries`, most recently used first
  std::map<std::string, std::string> last_errors;
  Stats counters;  // entries is filled in by stats()
  std::minstd_rand random;

  static TokenCacheOptions sane(TokenCacheOptions o) {
    o.refresh_margin_seconds = std::max(o.refresh_margin_seconds, 0);
    o.backoff_initial_seconds = std::max(o.backoff_initial_seconds, 1);
    o.backoff_max_seconds = std::max(o.backoff_max_seconds, o.backoff_initial_seconds);
    o.failure_hold_max_seconds = std::max(o.failure_hold_max_seconds, 0);
    o.failure_hold_min_seconds = std::clamp(o.failure_hold_min_seconds, 0, o.failure_hold_max_seconds);
    o.max_entries = std::max<std::size_t>(o.max_entries, 1);
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
  static std::optional<Error> too_long_for_this_entry(const Entry& entry, std::int64_t min_ttl,
                                                      std::int64_t now);
  void finish_exchange(const std::string& key, const std::string& client,
                       const std::shared_ptr<Flight>& flight, Result<AccessToken> result);
  static void store(Entry& entry, const AccessToken& token, std::int64_t now);
  static void answer(Waiter& waiter, const Result<AccessToken>& result, std::int64_t now);
};

std::int64_t TokenCache::Impl::uniform(std::int64_t low, std::int64_t high) {
  return std::uniform_int_distribution<std::int64_t>(low, high)(random);
}

void TokenCache::Impl::get(const TokenTarget& target, std::int64_t min_ttl,
                           Callback done, const std::string& owner) {
  const std::int64_t needed = std::max<std::int64_t>(min_ttl, 0);
  const std::string key = cache_key(target);
  std::optional<AccessToken> hit;
  std::optional<Error> held;  // answered without an exchange
  Start job;                  // an exchange to hand to the scheduler once unlocked
  {
    std::lock_guard lock(mutex);
    const std::int64_t now = clock();
    const auto it = find_or_insert(key, target, now);
    Entry& entry = it->second;
    entry.last_used = now;
    entry.last_owner = owner;
    lru.splice(lru.begin(), lru, entry.lru_position);
    if (entry.token && entry.token->expires_at - now >= needed) {
      ++counters.hits;
      metrics::agent_metrics().cache_hits.increment();
      hit = *entry.token;
      entry.refresh_min_ttl = std::max(entry.refresh_min_ttl, needed);
      if (refresh_is_due(entry, needed, now)) {
        job = start_exchange(it->first, entry, refresh_sign_by(*entry.token));
      }
    } else if (!entry.flight && now < entry.failures.hold_until(options)) {
      ++counters.misses;
      ++counters.held;
      metrics::agent_metrics().count_held_miss();
      held = entry.failures.held_failure(now, options);
    } else if (auto too_long = entry.flight ? std::nullopt
                                            : too_long_for_this_entry(entry, needed, now)) {
      ++counters.misses;
      ++counters.held;
      metrics::agent_metrics().count_held_miss();
      held = std::move(too_long);
    } else {
      ++counters.misses;
      metrics::agent_metrics().cache_misses.increment();
      if (!entry.flight) job = start_exchange(it->first, entry, now * 1000 + kMissSignWithinMs);
      entry.flight->waiters.push_back(Waiter{needed, std::move(done)});
    }
  }
  if (held) {
    done(std::move(*held));
    return;
  }
  if (hit) done(std::move(*hit));
  if (job) scheduler(owner, std::move(job));
}

// A token fetched in the first half of its life is what an exchange gives
// now; a min_ttl longer than its whole lifetime cannot be met by another.
std::optional<Error> TokenCache::Impl::too_long_for_this_entry(const Entry& entry,
                                                               std::int64_t min_ttl,
                                                               std::int64_t now) {
  if (!entry.token) return std::nullopt;
  const std::int64_t lifetime = entry.token->expires_at - entry.fetched_at;
  if (lifetime >= min_ttl || 2 * (now - entry.fetched_at) >= lifetime) return std::nullopt;
  return make_error(ErrorCode::unavailable,
                    "Maskinporten issues tokens valid for " + std::to_string(lifetime) +
                        " s for this request, shorter than min_ttl " + std::to_string(min_ttl) +
                        "; ask with a min_ttl of at most " + std::to_string(lifetime));
}

std::optional<AccessToken> TokenCache::Impl::peek(const TokenTarget& target,
                                                  std::int64_t min_ttl) {
  std::lock_guard lock(mutex);
  const auto it = entries.find(cache_key(target));
  if (it == entries.end() || !it->second.token) return std::nullopt;
  Entry& entry = it->second;
  const std::int64_t now = clock();
  if (entry.token->expires_at - now < std::max<std::int64_t>(min_ttl, 0)) return std::nullopt;
  entry.last_used = now;
  lru.splice(lru.begin(), lru, entry.lru_position);
  return entry.token;
}

void TokenCache::Impl::put(const TokenTarget& target, const AccessToken& token) {
  std::lock_guard lock(mutex);
  const std::int64_t now = clock();
  if (token.expires_at <= now) return;
  const std::string key = cache_key(target);
  Entry& entry = find_or_insert(key, target, now)->second;
  if (entry.token && entry.token->expires_at >= token.expires_at) return;
  store(entry, token, now);
}

void TokenCache::Impl::store(Entry& entry, const AccessToken& token, std::int64_t now) {
  entry.token = token;
  entry.fetched_at = now;
  entry.refresh_due.reset();
  entry.refresh_min_ttl = 0;
  entry.failures.forget();
}

TokenCache::Impl::Entries::iterator TokenCache::Impl::find_or_insert(
    const std::string& key, const TokenTarget& target, std::int64_t now) {
  if (const auto found = entries.find(key); found != entries.end()) return found;
  while (entries.size() >= options.max_entries && !lru.empty()) {
    const std::size_t before = entries.size();
    evict_least_recently_used_idle();
    if (entries.size() == before) break;  // all busy: exceed the cap until they finish
  }
  const auto [it, inserted] = entries.try_emplace(key);
  Entry& entry = it->second;
  entry.target = normalised(target);
  entry.last_used = now;
  lru.push_front(&it->first);  // node-based map: the key's address is stable
  entry.lru_position = lru.begin();
  return it;
}

void TokenCache::Impl::evict_least_recently_used_idle() {
  for (auto position = lru.rbegin(); position != lru.rend(); ++position) {
    const auto it = entries.find(**position);
    if (!it->second.flight && !it->second.keep_fresh) {
      erase(it);
      return;
    }
  }
}

void TokenCache::Impl::erase(Entries::iterator it) {
  lru.erase(it->second.lru_position);
  entries.erase(it);
}

// Refresh ahead while the token still serves this request, once it is
// within the margin of becoming too short for it (for min_ttl 0: of
// expiry), so that clients of a busy key never wait for an exchange.
bool TokenCache::Impl::refresh_is_due(Entry& entry, std::int64_t min_ttl, std::int64_t now) {
  if (entry.flight || entry.failures.backing_off(now)) return false;
  const AccessToken& token = *entry.token;
  if (token.expires_at - now - min_ttl > options.refresh_margin_seconds) return false;
  // Never in the first half of the time a token can serve this min_ttl:
  // a token shorter than min_ttl + margin would otherwise be exchanged
  // back to back.
  const std::int64_t usable = token.expires_at - entry.fetched_at - min_ttl;
  if (2 * (now - entry.fetched_at) < usable) return false;
  if (!entry.refresh_due) {
    const std::int64_t jitter_limit =
        std::min<std::int64_t>(options.refresh_margin_seconds / 4, kMaxRefreshJitterSeconds);
    // The jitter never pushes the refresh past the point where the token
    // becomes too short for this min_ttl: clients must not wait for it.
    const std::int64_t latest = token.expires_at - min_ttl - kRefreshLeadSeconds;
    entry.refresh_due = std::max(now, std::min(now + uniform(0, jitter_limit), latest));
  }
  return now >= *entry.refresh_due;
}

TokenCache::Impl::Start TokenCache::Impl::start_exchange(const std::string& key, Entry& entry,
                                                        std::int64_t sign_by_ms) {
  entry.flight = std::make_shared<Flight>();
  ++counters.in_flight;
  ++counters.exchanges;
  FetchOrder order{entry.last_owner, sign_by_ms};
  return [self = shared_from_this(), key, target = entry.target, flight = entry.flight,
          order = std::move(order)](std::function<void()> release) {
    auto finish = [self, key, client = target.client, flight,
                   release](Result<AccessToken> result) {
      self->finish_exchange(key, client, flight, std::move(result));
      release();
    };
    try {
      self->fetcher(target, order, finish);
    } catch (const std::exception& e) {
      // Waiters must be answered whatever the fetcher does (it has not
      // called `finish` when it throws before starting).
      finish(make_error(ErrorCode::internal, std::string("token exchange failed: ") + e.what()));
    }
  };
}

void TokenCache::Impl::finish_exchange(const std::string& key, const std::string& client,
                                       const std::shared_ptr<Flight>& flight,
                                       Result<AccessToken> result) {
  std::vector<Waiter> waiters;
  std::int64_t now = 0;
  {
    std::lock_guard lock(mutex);
    now = clock();
    --counters.in_flight;
    waiters = std::move(flight->waiters);
    if (!result.ok()) last_errors[client] = describe(result.error());
    // Only the flight the entry is waiting for may store its token: after
    // invalidate() the entry is gone or is a newer one.
    const auto it = entries.find(key);
    if (it != entries.end() && it->second.flight == flight) {
      Entry& entry = it->second;
      entry.flight.reset();
      if (result.ok()) {
        store(entry, *result, now);
      } else if (entry.token || entry.keep_fresh || from_afar(result.error().code)) {
        entry.failures.note(result.error(), now, options, random);
      } else {
        erase(it);  // nothing to serve, nobody waiting, nothing to hold
      }
    }
  }
  for (Waiter& waiter : waiters) answer(waiter, result, now);
}

void TokenCache::Impl::answer(Waiter& waiter, const Result<AccessToken>& result,
                              std::int64_t now) {
  if (result.ok()) {
    const std::int64_t valid_for = result->expires_at - now;
    if (valid_for < waiter.min_ttl) {
      waiter.done(make_error(ErrorCode::unavailable,
                             "Maskinporten issued a token valid for " + std::to_string(valid_for) +
                                 " s, shorter than min_ttl " + std::to_string(waiter.min_ttl)));
      return;
    }
  }
  waiter.done(result);
}

bool TokenCache::Impl::invalidate(const TokenTarget& target) {
  std::lock_guard lock(mutex);
  const auto it = entries.find(cache_key(target));
  if (it == entries.end()) return false;
  erase(it);
  return true;
}

std::size_t TokenCache::Impl::refresh_due_entries() {
  std::vector<std::pair<std::string, Start>> jobs;  // owner, exchange
  {
    std::lock_guard lock(mutex);
    const std::int64_t now = clock();
    for (auto& [key, entry] : entries) {
      if (entry.flight) continue;
      const bool valid = entry.token && entry.token->expires_at > now;
      if (!valid && entry.keep_fresh && now >= entry.failures.hold_until(options) &&
          !entry.failures.backing_off(now)) {
        // A kept-fresh key without a token: fetched again once its failure
        // no longer holds.
        jobs.emplace_back(entry.last_owner, start_exchange(key, entry, now * 1000));
        continue;
      }
      if (!valid) continue;
      if (!entry.keep_fresh && now - entry.last_used >= options.idle_drop_seconds) continue;
      if (!refresh_is_due(entry, entry.refresh_min_ttl, now)) continue;
      ++counters.refreshed_ahead;
      jobs.emplace_back(entry.last_owner,
                        start_exchange(key, entry, refresh_sign_by(*entry.token)));
    }
  }
  for (auto& [owner, job] : jobs) scheduler(owner, std::move(job));
  return jobs.size();
}

void TokenCache::Impl::keep_fresh(const TokenTarget& target, const std::string& owner) {
  Start job;
  {
    std::lock_guard lock(mutex);
    const std::int64_t now = clock();
    const auto it = find_or_insert(cache_key(target), target, now);
    Entry& entry = it->second;
    entry.keep_fresh = true;
    entry.last_owner = owner;
    // Not a miss: nobody waits for it.
    if (!entry.token && !entry.flight) job = start_exchange(it->first, entry, now * 1000);
  }
  if (job) scheduler(owner, std::move(job));
}

void TokenCache::Impl::sweep() {
  std::lock_guard lock(mutex);
  const std::int64_t now = clock();
  for (auto it = entries.begin(); it != entries.end();) {
    const Entry& entry = it->second;
    const bool idle = now - entry.last_used >= options.idle_drop_seconds;
    const bool expired = !entry.token || entry.token->expires_at <= now;
    const bool holding = now < entry.failures.hold_until(options);  // its failure answers misses
    if (!entry.flight && !entry.keep_fresh && (idle || (expired && !holding))) {
      lru.erase(entry.lru_position);
      it = entries.erase(it);
    } else {
      ++it;
    }
  }
}

TokenCache::TokenCache(Fetcher fetcher, Scheduler scheduler, TokenCacheOptions options,
                       Clock clock)
    : impl_(std::make_shared<Impl>(std::move(fetcher), std::move(scheduler), options,
                                   std::move(clock))) {}

TokenCache::~TokenCache() = default;

void TokenCache::get(const TokenTarget& target, std::int64_t min_ttl, Callback done,
                     const std::string& owner) {
  impl_->get(target, min_ttl, std::move(done), owner);
}

std::optional<AccessToken> TokenCache::peek(const TokenTarget& target,
                                            std::int64_t min_ttl) {
  return impl_->peek(target, min_ttl);
}

void TokenCache::put(const TokenTarget& target, const AccessToken& token) {
  impl_->put(target, token);
}

bool TokenCache::invalidate(const TokenTarget& target) {
  return impl_->invalidate(target);
}

void TokenCache::sweep() { impl_->sweep(); }

std::size_t TokenCache::refresh_due_entries() { return impl_->refresh_due_entries(); }

void TokenCache::keep_fresh(const TokenTarget& target, const std::string& owner) {
  impl_->keep_fresh(target, owner);
}

TokenCache::Stats TokenCache::stats() const {
  std::lock_guard lock(impl_->mutex);
  Stats stats = impl_->counters;
  stats.entries = impl_->entries.size();
  return stats;
}

std::map<std::string, std::string> TokenCache::last_errors() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->last_errors;
}

}  // namespace mpa

#include "agent/cache/token_cache.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "agent/cache/token_cache_impl.h"
#include "agent/metrics/agent_metrics.h"
#include "common/log.h"

namespace mpa {

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
  std::string late;           // why a token was not refreshed in time, for the log
  {
    std::lock_guard lock(mutex);
    const std::int64_t now = steady_seconds();
    const auto it = find_or_insert(key, target, now);
    Entry& entry = it->second;
    entry.last_used = now;
    entry.last_owner = owner;
    lru.splice(lru.begin(), lru, entry.lru_position);
    if (serves(entry, needed, now)) {
      count.hits->increment();
      hit = served(entry, now);
      entry.refresh_min_ttl = std::max(entry.refresh_min_ttl, needed);
      if (refresh_is_due(entry, needed, now)) {
        job = start_exchange(it->first, entry, refresh_sign_by(entry, now));
      }
    } else if (!entry.flight && now < entry.failures.hold_until(options)) {
      count.count_held_miss();
      held = entry.failures.held_failure(now, options);
    } else if (auto too_long = entry.flight ? std::nullopt
                                            : too_long_for_this_entry(entry, needed, now)) {
      count.count_held_miss();
      held = std::move(too_long);
    } else {
      count.misses->increment();
      // A token that served this min_ttl until now should have been
      // refreshed ahead: say why the client waits.
      if (entry.token && needed <= entry.refresh_min_ttl) {
        late = late_refresh_words(entry, needed, now);
      }
      // The token this exchange brings serves this min_ttl too: its
      // refresh ahead is planned for it from the start.
      entry.refresh_min_ttl = std::max(entry.refresh_min_ttl, needed);
      if (!entry.flight) job = start_exchange(it->first, entry, sign_within_ms(kMissSignWithinMs));
      entry.flight->waiters.push_back(Waiter{needed, std::move(done)});
    }
  }
  if (!late.empty()) log::warning("client " + target.client + ": " + late);
  if (held) {
    done(std::move(*held));
    return;
  }
  if (hit) done(std::move(*hit));
  if (job) scheduler(owner, std::move(job));
}

std::string TokenCache::Impl::late_refresh_words(const Entry& entry, std::int64_t min_ttl,
                                                 std::int64_t now) {
  const auto ago = [now](std::int64_t then) {
    return then > now ? "in " + std::to_string(then - now) + " s"
                      : std::to_string(now - then) + " s ago";
  };
  std::string words = "a request waits: the token has " +
                      std::to_string(entry.expires - now) + " s left, under min_ttl " +
                      std::to_string(min_ttl) + "; fetched " + ago(entry.fetched_at) +
                      ", refresh due ";
  words += entry.refresh_due ? ago(*entry.refresh_due) : std::string("not set");
  words += entry.flight ? ", its exchange started " + ago(entry.flight_started)
                        : std::string(", no exchange started");
  if (entry.failures.backing_off(now)) words += ", backing off after a failure";
  return words;
}

// A token fetched in the first half of its life is what an exchange gives
// now; a min_ttl longer than its whole lifetime cannot be met by another.
std::optional<Error> TokenCache::Impl::too_long_for_this_entry(const Entry& entry,
                                                               std::int64_t min_ttl,
                                                               std::int64_t now) {
  if (!entry.token) return std::nullopt;
  const std::int64_t lifetime = entry.expires - entry.fetched_at;
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
  const std::int64_t now = steady_seconds();
  if (!serves(entry, std::max<std::int64_t>(min_ttl, 0), now)) return std::nullopt;
  entry.last_used = now;
  lru.splice(lru.begin(), lru, entry.lru_position);
  return served(entry, now);
}

void TokenCache::Impl::put(const TokenTarget& target, const AccessToken& token) {
  std::lock_guard lock(mutex);
  const std::int64_t now = steady_seconds();
  const std::int64_t left = token.expires_at - clock.epoch_seconds();
  if (left <= 0) return;
  const std::string key = cache_key(target);
  Entry& entry = find_or_insert(key, target, now)->second;
  if (entry.token && entry.expires >= now + left) return;
  store(entry, token, now);
}

// A token arrives dated by the wall clock (expires_at); from here on its
// life is counted on the steady clock (in whole seconds, as the wall
// clock is read: see serves()).
void TokenCache::Impl::store(Entry& entry, const AccessToken& token, std::int64_t now) const {
  entry.token = token;
  const std::int64_t wall_now = clock.epoch_seconds();
  entry.expires = now + (token.expires_at - wall_now);
  entry.wall_minus_steady = wall_now - now;
  entry.fetched_at = now;
  entry.refresh_due.reset();
  // The min_ttl asked of the last token is asked of this one: forgetting
  // it planned the refresh for min_ttl 0 until the next hit, too late for
  // the clients of an entry asked for less often than the margin. One that
  // no token of this lifetime can serve (answered `unavailable`) is
  // forgotten: it must not make the token refreshed back to back.
  if (entry.refresh_min_ttl >= entry.expires - now) entry.refresh_min_ttl = 0;
  entry.failures.forget();
}

// The cached token as a client gets it: its expires_at moved by as much as
// the wall clock has been stepped since it arrived. A second either way is
// the two clocks' rounding to whole seconds, not a step: two hits on one
// token must not tell different expiry times.
AccessToken TokenCache::Impl::served(const Entry& entry, std::int64_t now) const {
  AccessToken token = *entry.token;
  const std::int64_t step = clock.epoch_seconds() - now - entry.wall_minus_steady;
  if (step > 1 || step < -1) token.expires_at += step;
  return token;
}

// FetchOrder's sign_by_ms is epoch milliseconds (the signature queue's order).
std::int64_t TokenCache::Impl::sign_within_ms(std::int64_t ms) const {
  return clock.epoch_seconds() * 1000 + ms;
}

std::int64_t TokenCache::Impl::refresh_sign_by(const Entry& entry, std::int64_t now) const {
  return sign_within_ms((entry.expires - now) * 1000 - kRefreshSignBeforeExpiryMs);
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

bool TokenCache::Impl::invalidate(const TokenTarget& target) {
  std::lock_guard lock(mutex);
  const auto it = entries.find(cache_key(target));
  if (it == entries.end()) return false;
  erase(it);
  return true;
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
  stats.hits = impl_->count.hits->value();
  stats.misses = impl_->count.misses->value();
  stats.held = impl_->count.held->value();
  return stats;
}

std::map<std::string, TokenCache::LastError> TokenCache::last_errors() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->last_errors;
}

}  // namespace mpa

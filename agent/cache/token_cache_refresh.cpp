#include <algorithm>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "agent/cache/token_cache_impl.h"

namespace mpa {

// Refresh ahead while the token still serves this request, once it is
// within the margin of becoming too short for it (for min_ttl 0: of
// expiry), so that clients of a busy key never wait for an exchange.
bool TokenCache::Impl::refresh_is_due(Entry& entry, std::int64_t min_ttl, std::int64_t now) {
  if (entry.flight || entry.failures.backing_off(now)) return false;
  if (entry.expires - now - min_ttl > options.refresh_margin_seconds) return false;
  // Never in the first half of the time a token can serve this min_ttl:
  // a token shorter than min_ttl + margin would otherwise be exchanged
  // back to back.
  const std::int64_t usable = entry.expires - entry.fetched_at - min_ttl;
  if (2 * (now - entry.fetched_at) < usable) return false;
  // The jitter never pushes the refresh past the point where the token
  // becomes too short for this min_ttl: clients must not wait for it.
  const std::int64_t latest = entry.expires - min_ttl - kRefreshLeadSeconds;
  if (!entry.refresh_due) {
    const std::int64_t jitter_limit =
        std::min<std::int64_t>(options.refresh_margin_seconds / 4, kMaxRefreshJitterSeconds);
    entry.refresh_due = std::max(now, std::min(now + uniform(0, jitter_limit), latest));
  } else {
    // Planned for a shorter min_ttl: brought forward for this one.
    entry.refresh_due = std::min(*entry.refresh_due, std::max(now, latest));
  }
  return now >= *entry.refresh_due;
}

TokenCache::Impl::Start TokenCache::Impl::start_exchange(const std::string& key, Entry& entry,
                                                        std::int64_t sign_by_ms) {
  entry.flight = std::make_shared<Flight>();
  entry.flight->owner = entry.last_owner;
  entry.flight_started = steady_seconds();
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
  std::int64_t wall_now = 0;
  {
    std::lock_guard lock(mutex);
    const std::int64_t now = steady_seconds();
    wall_now = clock.epoch_seconds();
    --counters.in_flight;
    waiters = std::move(flight->waiters);
    if (!result.ok()) {
      last_errors[client] = LastError{describe(result.error()),
                                      std::string(to_string(result.error().code)), flight->owner};
    }
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
  for (Waiter& waiter : waiters) answer(waiter, result, wall_now);
}

// A token just fetched: dated by the wall clock it was received by.
void TokenCache::Impl::answer(Waiter& waiter, const Result<AccessToken>& result,
                              std::int64_t wall_now) {
  if (result.ok()) {
    const std::int64_t valid_for = result->expires_at - wall_now;
    if (valid_for < waiter.min_ttl) {
      waiter.done(make_error(ErrorCode::unavailable,
                             "Maskinporten issued a token valid for " + std::to_string(valid_for) +
                                 " s, shorter than min_ttl " + std::to_string(waiter.min_ttl)));
      return;
    }
  }
  waiter.done(result);
}

std::size_t TokenCache::Impl::refresh_due_entries() {
  std::vector<std::pair<std::string, Start>> jobs;  // owner, exchange
  {
    std::lock_guard lock(mutex);
    const std::int64_t now = steady_seconds();
    for (auto& [key, entry] : entries) {
      if (entry.flight) continue;
      const bool valid = entry.token && entry.expires > now;
      if (!valid && entry.keep_fresh && now >= entry.failures.hold_until(options) &&
          !entry.failures.backing_off(now)) {
        // A kept-fresh key without a token: fetched again once its failure
        // no longer holds.
        jobs.emplace_back(entry.last_owner, start_exchange(key, entry, sign_within_ms(0)));
        continue;
      }
      if (!valid) continue;
      if (!entry.keep_fresh && now - entry.last_used >= options.idle_drop_seconds) continue;
      if (!refresh_is_due(entry, entry.refresh_min_ttl, now)) continue;
      ++counters.refreshed_ahead;
      jobs.emplace_back(entry.last_owner,
                        start_exchange(key, entry, refresh_sign_by(entry, now)));
    }
  }
  for (auto& [owner, job] : jobs) scheduler(owner, std::move(job));
  return jobs.size();
}

void TokenCache::Impl::keep_fresh(const TokenTarget& target, const std::string& owner) {
  Start job;
  {
    std::lock_guard lock(mutex);
    const std::int64_t now = steady_seconds();
    const auto it = find_or_insert(cache_key(target), target, now);
    Entry& entry = it->second;
    entry.keep_fresh = true;
    entry.last_owner = owner;
    // Not a miss: nobody waits for it.
    if (!entry.token && !entry.flight) job = start_exchange(it->first, entry, sign_within_ms(0));
  }
  if (job) scheduler(owner, std::move(job));
}

void TokenCache::Impl::sweep() {
  std::lock_guard lock(mutex);
  const std::int64_t now = steady_seconds();
  for (auto it = entries.begin(); it != entries.end();) {
    const Entry& entry = it->second;
    const bool idle = now - entry.last_used >= options.idle_drop_seconds;
    const bool expired = !entry.token || entry.expires <= now;
    const bool holding = now < entry.failures.hold_until(options);  // its failure answers misses
    if (!entry.flight && !entry.keep_fresh && (idle || (expired && !holding))) {
      lru.erase(entry.lru_position);
      it = entries.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace mpa

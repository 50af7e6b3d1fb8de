// The agent's token cache (DESIGN.md "Socket protocol"):
// keyed by the client and every request field that reaches the grant, so two
// requests that differ in any of them never share a token. Single-flight per
// key, no global lock held across an exchange, refresh ahead of expiry with
// jitter, capped exponential back-off after a failed refresh (the still
// valid token keeps being served), idle entries dropped.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "agent/maskinporten/maskinporten.h"
#include "agent/cache/token_target.h"
#include "agent/metrics/agent_metrics.h"
#include "common/clock.h"
#include "common/result.h"

namespace mpa {

struct TokenCacheOptions {
  int refresh_margin_seconds = 30;     // refresh this long before expiry
  int idle_drop_seconds = 3600;        // drop entries nobody asked for in this long
  int backoff_initial_seconds = 1;     // after a failed refresh
  int backoff_max_seconds = 60;
  // A miss whose exchange failed with an answer from afar (unavailable,
  // invalid_grant, invalid_client, invalid_scope, forbidden), with no valid
  // token to serve, is answered with that same error for a while (the
  // back-off, but at least the minimum and at most the maximum), instead of
  // a new grant and exchange per request: a client retrying in a loop must
  // not hammer Maskinporten or Altinn. Local failures (hsm_error: a token
  // put back should work at once) are not held. invalidate() ends a hold;
  // a maximum of 0 turns holding off.
  int failure_hold_min_seconds = 5;
  int failure_hold_max_seconds = 30;
  std::size_t max_entries = 10000;     // beyond: least recently used idle entries go
  // Where hits, misses and held misses are counted and read back by
  // stats(): the process's metrics (metrics::agent_metrics()) unless set.
  std::optional<metrics::CacheCounters> counters;
};

class TokenCache {
 public:
  // What an exchange is for: whose it is (the fair share) and by when its
  // grant should be signed (epoch milliseconds; the token's signature queue
  // serves the earliest first).
  struct FetchOrder {
    std::string owner;
    std::int64_t sign_by_ms = 0;
  };
  // Called once per exchange; starts it and returns without waiting, then
  // calls `done` once, from any thread. The target's scopes are sorted
  // without duplicates, so equal keys make equal grants. Errors are passed
  // to the waiting clients as they are.
  using Fetcher = std::function<void(const TokenTarget& target, const FetchOrder& order,
                                     std::function<void(Result<AccessToken>)> done)>;
  // Admits an exchange: runs `start` when `owner` may have one more in
  // flight (a fair share of max_concurrent_exchanges); `start` calls
  // `release` once its exchange has ended.
  using Scheduler = std::function<void(const std::string& owner,
                                       std::function<void(std::function<void()> release)> start)>;
  // Called exactly once per get(), on the caller's thread for a hit or a
  // held failure, else on whichever thread ended the exchange.
  using Callback = std::function<void(Result<AccessToken>)>;

  // Every age, expiry, back-off and hold is counted on `clock`'s steady
  // time, so a stepped wall clock neither serves an expired token nor
  // stretches a hold; the wall clock only dates what leaves the cache:
  // a token answered has expires_at = wall now + the seconds it has left.
  TokenCache(Fetcher fetcher, Scheduler scheduler, TokenCacheOptions options,
             Clock clock = Clock::system());
  // Waits for nothing. A scheduled exchange keeps the cache's state alive
  // until it ends, but the fetcher may point at things the daemon destroys:
  // stop the scheduler (join its workers) before destroying the cache. A
  // job the scheduler drops unrun leaves its waiters unanswered.
  ~TokenCache();
  // Not copyable: a copy would split one cache, and its single flights, in two.
  TokenCache(const TokenCache&) = delete;
  TokenCache& operator=(const TokenCache&) = delete;

  // A token valid for at least `min_ttl` more seconds: from the cache, or
  // after one exchange shared by every concurrent identical request.
  //
  // A hit that finds the token within refresh_margin_seconds of becoming too
  // short for this `min_ttl` (for 0: of its expiry), and past half its life,
  // still answers from the cache and starts one exchange in the background,
  // after a random delay of up to min(margin/4, 5) s, counted on the cache's
  // clock and started by the first hit after it. A failed refresh keeps the
  // token served while it is valid and backs off (initial, doubled up to the
  // maximum, each up to a quarter shorter) before the next. A miss starts
  // an exchange, or joins the one in flight; if the new token is still
  // shorter than `min_ttl` the answer is `unavailable`, and so is every
  // miss for a longer min_ttl than that entry's tokens live while its
  // token is in the first half of its life (a new exchange would only give
  // the same lifetime again). For a while after
  // a failed exchange (its back-off, within failure_hold_min_seconds and
  // failure_hold_max_seconds) a miss is answered at once with that
  // failure's code and message, which then says when the agent asks again.
  // `owner` (who asks: the agent passes the peer's uid) goes to the
  // scheduler with an exchange this call starts, a refresh ahead included.
  void get(const TokenTarget& target, std::int64_t min_ttl, Callback done,
           const std::string& owner = {});

  // The cached token for `target` if it is valid for at least `min_ttl`
  // more seconds; never starts or waits for an exchange, so a fetcher may
  // call it for another key. Counts as a use of the entry (it is not
  // dropped as idle while others live on it), not as a hit or miss.
  std::optional<AccessToken> peek(const TokenTarget& target, std::int64_t min_ttl);

  // Stores `token`, fetched outside the cache, as the entry for `target`,
  // unless the entry already holds one that expires no earlier, or `token`
  // has expired. An exchange in flight for the entry is left to finish (and
  // its token then replaces this one). Never waits; a fetcher may call it.
  void put(const TokenTarget& target, const AccessToken& token);

  // Drops the entry (an exchange in flight finishes but is not kept).
  // Returns whether there was one.
  bool invalidate(const TokenTarget& target);

  // Starts the refresh of every entry that is due for one and was asked
  // for within idle_drop_seconds (or is kept fresh), whether or not a
  // request arrives in its refresh window, so that its next client does
  // not wait. The daemon calls it every second. Returns how many started.
  std::size_t refresh_due_entries();

  // Fetches `target` now (unless cached) and keeps it fresh from then on,
  // used or not, until invalidated: `prefetch` in the configuration.
  void keep_fresh(const TokenTarget& target, const std::string& owner);

  // Drops entries nobody asked for in idle_drop_seconds, and those without
  // a valid token whose failure no longer answers misses, unless an
  // exchange for them is in flight; the daemon
  // calls it now and then. max_entries is kept on insert, by dropping the
  // least recently used entries with no exchange in flight (while every
  // entry has one, the cap is exceeded until they end).
  void sweep();

  // hits, misses and held come from options.counters (the metrics'
  // counters), so they count every cache that shared them; the rest are
  // this cache's own.
  struct Stats {
    std::size_t entries = 0;
    std::size_t in_flight = 0;
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t exchanges = 0;
    std::uint64_t held = 0;  // misses answered with a recent failure, no exchange
    std::uint64_t refreshed_ahead = 0;  // exchanges started before any request needed them
  };
  Stats stats() const;
  // The last failed exchange per client name (for `status`); a later
  // success does not clear it.
  struct LastError {
    std::string words;  // "<code>: <message>"
    std::string code;
    std::string owner;  // whom the exchange was for (the owner given to get())
  };
  std::map<std::string, LastError> last_errors() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mpa

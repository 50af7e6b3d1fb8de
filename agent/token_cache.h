// The agent's token cache (issue "agent daemon", DESIGN.md "Socket protocol"):
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
#include <string>

#include "agent/maskinporten.h"
#include "common/result.h"
#include "protocol/messages.h"

namespace mpa {

struct TokenCacheOptions {
  int refresh_margin_seconds = 30;     // refresh this long before expiry
  int idle_drop_seconds = 3600;        // drop entries nobody asked for in this long
  int backoff_initial_seconds = 1;     // after a failed refresh
  int backoff_max_seconds = 60;
  std::size_t max_entries = 10000;     // beyond: least recently used idle entries go
};

// The canonical cache key of a token request: client name (resolved, never
// empty) and every field that reaches the grant or the exchange. min_ttl is
// not part of it.
std::string cache_key(const std::string& client, const protocol::TokenRequest& request);

class TokenCache {
 public:
  // Runs on a worker thread and may block (signing, HTTP). `request.client`
  // is the resolved client name.
  using Fetcher = std::function<Result<AccessToken>(const protocol::TokenRequest& request)>;
  // Runs `job` on a worker thread (never the socket I/O thread).
  using Scheduler = std::function<void(std::function<void()> job)>;
  // Called exactly once per get(), on the caller's thread for a hit, else on
  // a worker thread.
  using Callback = std::function<void(Result<AccessToken>)>;
  using Clock = std::function<std::int64_t()>;  // epoch seconds

  TokenCache(Fetcher fetcher, Scheduler scheduler, TokenCacheOptions options, Clock clock = {});
  ~TokenCache();  // waits for nothing: callers stop the scheduler first
  // Owns entries that callbacks point into.
  TokenCache(const TokenCache&) = delete;
  TokenCache& operator=(const TokenCache&) = delete;

  // A token valid for at least `min_ttl` more seconds: from the cache, or
  // after one exchange shared by every concurrent identical request.
  // `request.client` must be resolved.
  void get(const protocol::TokenRequest& request, std::int64_t min_ttl, Callback done);

  // Drops the entry (an exchange in flight finishes but is not kept).
  // Returns whether there was one.
  bool invalidate(const protocol::TokenRequest& request);

  // Drops idle entries; the daemon calls it now and then.
  void sweep();

  struct Stats {
    std::size_t entries = 0;
    std::size_t in_flight = 0;
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t exchanges = 0;
  };
  Stats stats() const;
  // The last failed exchange per client name, in words (for `status`).
  std::map<std::string, std::string> last_errors() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mpa

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.h"
#include "agent/cache/token_cache.h"

using namespace mpa;


namespace {

// `now` is the steady time in seconds; the wall clock reads now +
// wall_offset, so a test steps it as an administrator or NTP would.
struct FakeClock {
  std::atomic<std::int64_t> now{1'000'000};
  std::atomic<std::int64_t> wall_offset{0};
  std::int64_t wall() const { return now + wall_offset; }
  Clock function() {
    return Clock{[this] { return std::chrono::steady_clock::time_point(std::chrono::seconds(now)); },
                 [this] { return wall(); }};
  }
};

// A fetcher that answers before it returns, on the scheduler's thread.
TokenCache::Fetcher blocking(std::function<Result<AccessToken>(const TokenTarget&)> fetch) {
  return [fetch = std::move(fetch)](const TokenTarget& target, const TokenCache::FetchOrder&,
                                    std::function<void(Result<AccessToken>)> done) {
    done(fetch(target));
  };
}

// Counts calls, remembers what it was asked, can be held at a gate and can
// fail. Token n is "token-n", valid for `lifetime` seconds from the clock.
class FakeFetcher {
 public:
  explicit FakeFetcher(FakeClock& clock) : clock_(clock) {}

  TokenCache::Fetcher function() {
    return blocking([this](const TokenTarget& request) { return fetch(request); });
  }

  void close_gate() {
    std::lock_guard lock(mutex_);
    gate_open_ = false;
  }
  void open_gate() {
    {
      std::lock_guard lock(mutex_);
      gate_open_ = true;
    }
    gate_.notify_all();
  }
  // Lets call `n` (counted from 1) through a closed gate.
  void release(int n) {
    {
      std::lock_guard lock(mutex_);
      released_.insert(n);
    }
    gate_.notify_all();
  }
  void fail_with(std::optional<Error> error) {
    std::lock_guard lock(mutex_);
    failure_ = std::move(error);
  }
  // Waits (untimed) until `n` calls have begun: a background exchange runs
  // on a thread of its own.
  void wait_for_calls(int n) {
    std::unique_lock lock(mutex_);
    called_.wait(lock, [&] { return calls_ >= n; });
  }
  int calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  std::vector<TokenTarget> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

  std::atomic<std::int64_t> lifetime{120};

 private:
  Result<AccessToken> fetch(const TokenTarget& request) {
    std::unique_lock lock(mutex_);
    const int n = ++calls_;
    requests_.push_back(request);
    called_.notify_all();
    gate_.wait(lock, [&] { return gate_open_ || released_.count(n) > 0; });
    if (failure_) return *failure_;
    AccessToken token;
    token.access_token = "token-" + std::to_string(n);
    token.token_type = "Bearer";
    token.expires_in = lifetime;
    token.expires_at = clock_.wall() + lifetime;
    return token;
  }

  FakeClock& clock_;
  std::mutex mutex_;
  std::condition_variable gate_;
  std::condition_variable called_;
  bool gate_open_ = true;
  std::set<int> released_;
  std::optional<Error> failure_;
  int calls_ = 0;
  std::vector<TokenTarget> requests_;
};

// Every job on a thread of its own; join() waits for all of them.
class ThreadScheduler {
 public:
  TokenCache::Scheduler function() {
    return [this](const std::string& owner, std::function<void(std::function<void()>)> start) {
      std::lock_guard lock(mutex_);
      owners_.push_back(owner);
      threads_.emplace_back([start = std::move(start)] { start([] {}); });
    };
  }
  void join() {
    for (;;) {
      std::vector<std::thread> threads;
      {
        std::lock_guard lock(mutex_);
        threads.swap(threads_);
      }
      if (threads.empty()) return;
      for (std::thread& thread : threads) thread.join();
    }
  }
  ~ThreadScheduler() { join(); }
  // The owner passed with each job, in order.
  std::vector<std::string> owners() {
    std::lock_guard lock(mutex_);
    return owners_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::thread> threads_;
  std::vector<std::string> owners_;
};

// The answers callbacks received, in order.
class Answers {
 public:
  TokenCache::Callback callback() {
    return [this](Result<AccessToken> result) {
      std::lock_guard lock(mutex_);
      results_.push_back(std::move(result));
      threads_.push_back(std::this_thread::get_id());
      answered_.notify_all();
    };
  }
  std::size_t size() {
    std::lock_guard lock(mutex_);
    return results_.size();
  }
  // Waits (untimed) for the first answer.
  void wait() {
    std::unique_lock lock(mutex_);
    answered_.wait(lock, [&] { return !results_.empty(); });
  }
  Result<AccessToken> at(std::size_t i) {
    std::lock_guard lock(mutex_);
    return results_.at(i);
  }
  std::thread::id thread_at(std::size_t i) {
    std::lock_guard lock(mutex_);
    return threads_.at(i);
  }
  std::string token_at(std::size_t i) {
    const Result<AccessToken> result = at(i);
    return result.ok() ? result->access_token : "error: " + result.error().message;
  }

 private:
  std::mutex mutex_;
  std::condition_variable answered_;
  std::vector<Result<AccessToken>> results_;
  std::vector<std::thread::id> threads_;
};

TokenTarget request(std::vector<std::string> scopes, std::string client = "default") {
  TokenTarget r;
  r.client = std::move(client);
  r.grant.scopes = std::move(scopes);
  return r;
}

TokenCacheOptions options() {
  TokenCacheOptions o;
  o.refresh_margin_seconds = 30;
  o.idle_drop_seconds = 3600;
  o.backoff_initial_seconds = 4;
  o.backoff_max_seconds = 60;
  o.failure_hold_min_seconds = 0;  // misses held exactly for the back-off
  o.failure_hold_max_seconds = 30;
  return o;
}

// A cache over a fake clock, fetcher and thread scheduler.
struct Fixture {
  FakeClock clock;
  FakeFetcher fetcher{clock};
  ThreadScheduler scheduler;
  TokenCacheOptions cache_options = options();
  // Each cache made here counts on counters of its own, so that a case
  // reads one cache's figures; the daemon's caches share the process's.
  struct OwnCounters {
    metrics::Counter hits, misses, held;
  };
  std::deque<OwnCounters> counters;  // before `cache`: it counts on them
  std::unique_ptr<TokenCache> cache;

  Fixture() { make_cache(); }
  ~Fixture() {
    fetcher.open_gate();
    scheduler.join();
  }
  void make_cache() {
    OwnCounters& own = counters.emplace_back();
    TokenCacheOptions o = cache_options;
    if (!o.counters) o.counters = metrics::CacheCounters{&own.hits, &own.misses, &own.held};
    cache = std::make_unique<TokenCache>(fetcher.function(), scheduler.function(), o, clock.function());
  }

  // get() and wait for the answer (joining any exchange it started).
  Result<AccessToken> get_now(const TokenTarget& r, std::int64_t min_ttl = 0) {
    Answers answers;
    cache->get(r, min_ttl, answers.callback());
    scheduler.join();
    BOOST_TEST_REQUIRE(answers.size() == 1u);
    return answers.at(0);
  }
  std::string token_now(const TokenTarget& r, std::int64_t min_ttl = 0) {
    const Result<AccessToken> result = get_now(r, min_ttl);
    return result.ok() ? result->access_token : "error: " + result.error().message;
  }
  // A get() that must be answered from the cache, on this thread, at once.
  std::string hit_now(const TokenTarget& r, std::int64_t min_ttl = 0) {
    Answers answers;
    cache->get(r, min_ttl, answers.callback());
    BOOST_TEST_REQUIRE(answers.size() == 1u, "not answered at once from the cache");
    BOOST_TEST(answers.thread_at(0) == std::this_thread::get_id());
    return answers.token_at(0);
  }
  // Hits once a second (joining what each starts) until the cache has
  // started `exchanges` in all; the clock is left at the hit that did it.
  void hit_until_exchanges(std::uint64_t exchanges, int max_seconds) {
    for (int second = 0; second <= max_seconds; ++second, clock.now += 1) {
      hit_now(request({"a"}));
      scheduler.join();
      if (cache->stats().exchanges >= exchanges) return;
    }
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(CacheKey)

BOOST_AUTO_TEST_CASE(ScopeOrderAndDuplicatesGiveTheSameKey) {
  BOOST_TEST(cache_key(request({"b", "a"})) == cache_key(request({"a", "b"})));
  BOOST_TEST(cache_key(request({"a", "b", "a"})) ==
             cache_key(request({"a", "b"})));
}

BOOST_AUTO_TEST_CASE(ClientIsPartOfTheKey) {
  BOOST_TEST(cache_key(request({"a"}, "other")) != cache_key(request({"a"})));
}

BOOST_AUTO_TEST_CASE(ResourceOrderIsKept) {
  TokenTarget ab = request({"s"});
  ab.grant.resource = {"https://a", "https://b"};
  TokenTarget ba = request({"s"});
  ba.grant.resource = {"https://b", "https://a"};
  BOOST_TEST(cache_key(ab) != cache_key(ba));
}

BOOST_AUTO_TEST_CASE(AdversarialRequestsNeverShareAKey) {
  struct Case {
    std::string name;
    std::string client;
    TokenTarget request;
  };
  std::vector<Case> cases;
  auto add = [&](std::string name, std::string client, auto edit) {
    TokenTarget r = request({"s"}, client);
    edit(r);
    cases.push_back({std::move(name), std::move(client), std::move(r)});
  };
  add("base", "default", [](TokenTarget&) {});
  add("scope with a space", "default", [](TokenTarget& r) { r.grant.scopes = {"a b"}; });
  add("two scopes", "default", [](TokenTarget& r) { r.grant.scopes = {"a", "b"}; });
  add("scope holding a length prefix", "default", [](TokenTarget& r) { r.grant.scopes = {"1:a1:b"}; });
  add("scope and resource", "default", [](TokenTarget& r) {
    r.grant.scopes = {"a"};
    r.grant.resource = {"b"};
  });
  add("client takes the scope's bytes", "default1:s", [](TokenTarget& r) { r.grant.scopes = {}; });
  add("other client", "other", [](TokenTarget&) {});
  add("empty consumer_org", "default", [](TokenTarget& r) { r.grant.consumer_org = ""; });
  add("consumer_org", "default", [](TokenTarget& r) { r.grant.consumer_org = "999888777"; });
  add("iss_onbehalfof same value", "default",
      [](TokenTarget& r) { r.grant.iss_onbehalfof = "999888777"; });
  add("pid same value", "default", [](TokenTarget& r) { r.grant.pid = "999888777"; });
  add("consumer_org holding the next field", "default",
      [](TokenTarget& r) { r.grant.consumer_org = "999888777b+9:999888777"; });
  add("authorization_details", "default", [](TokenTarget& r) { r.grant.authorization_details = "[]"; });
  add("exchange", "default", [](TokenTarget& r) { r.exchange = "altinn"; });
  add("exchange empty", "default", [](TokenTarget& r) { r.exchange = ""; });
  add("resource empty string", "default", [](TokenTarget& r) { r.grant.resource = {""}; });
  add("resource two", "default", [](TokenTarget& r) { r.grant.resource = {"", ""}; });
  add("separator bytes", "default", [](TokenTarget& r) { r.grant.scopes = {std::string("s\0r", 3)}; });

  std::set<std::string> seen;
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      BOOST_TEST(seen.insert(cache_key(c.request)).second, "key shared with another case");
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(TokenCacheBehaviour, Fixture)

BOOST_AUTO_TEST_CASE(SixtyFourConcurrentIdenticalMissesMakeOneExchange) {
  constexpr int kClients = 64;
  fetcher.close_gate();
  Answers answers;
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&] { cache->get(request({"altinn:enduser"}), 0, answers.callback()); });
  }
  for (std::thread& client : clients) client.join();
  BOOST_TEST(answers.size() == 0u);  // all waiting on the one exchange
  fetcher.open_gate();
  scheduler.join();
  BOOST_TEST(fetcher.calls() == 1);
  BOOST_TEST_REQUIRE(answers.size() == static_cast<std::size_t>(kClients));
  for (std::size_t i = 0; i < answers.size(); ++i) BOOST_TEST(answers.token_at(i) == "token-1");
  BOOST_TEST(cache->stats().misses == static_cast<std::uint64_t>(kClients));
  BOOST_TEST(cache->stats().exchanges == 1u);
}

BOOST_AUTO_TEST_CASE(RequestsDifferingInAnyGrantFieldGetTheirOwnExchange) {
  std::vector<TokenTarget> variants(8, request({"a"}));
  variants[1].grant.scopes = {"a", "b"};
  variants[2].grant.resource = {"https://tt02.altinn.no"};
  variants[3].grant.consumer_org = "999888777";
  variants[4].exchange = "altinn";
  variants[5].client = "other";
  variants[6].grant.iss_onbehalfof = "reportee";
  variants[7].grant.authorization_details = R"([{"type":"urn:altinn:systemuser"}])";
  std::set<std::string> tokens;
  for (const TokenTarget& variant : variants) tokens.insert(token_now(variant));
  BOOST_TEST(fetcher.calls() == static_cast<int>(variants.size()));
  BOOST_TEST(tokens.size() == variants.size());
}

BOOST_AUTO_TEST_CASE(ScopeOrderDoesNotMatter) {
  BOOST_TEST(token_now(request({"b", "a"})) == "token-1");
  BOOST_TEST(hit_now(request({"a", "b", "b"})) == "token-1");
  BOOST_TEST(fetcher.calls() == 1);
}

BOOST_AUTO_TEST_CASE(StatusFiguresAreTheMetricsAndOutliveAReload) {
  metrics::AgentMetrics& process = metrics::agent_metrics();
  auto agree = [&] {
    const TokenCache::Stats stats = cache->stats();
    return stats.hits == process.cache_hits.value() && stats.misses == process.cache_misses.value() &&
           stats.held == process.cache_held.value();
  };
  cache_options.counters = process.cache_counters();  // as the daemon's caches count
  make_cache();
  BOOST_TEST(get_now(request({"a"})).ok());  // a miss
  BOOST_TEST(get_now(request({"a"})).ok());  // a hit
  BOOST_TEST(agree());
  const TokenCache::Stats before = cache->stats();
  make_cache();  // a reload: a new cache in place of the old one
  BOOST_TEST(agree());
  BOOST_TEST(cache->stats().hits == before.hits);
  BOOST_TEST(get_now(request({"a"})).ok());  // the new cache's first miss
  BOOST_TEST(agree());
  BOOST_TEST(cache->stats().misses == before.misses + 1);
}

BOOST_AUTO_TEST_CASE(FetcherGetsSortedScopes) {
  TokenTarget r = request({"c", "a", "b", "a"});
  BOOST_TEST(get_now(r, 45).ok());
  const std::vector<TokenTarget> asked = fetcher.requests();
  BOOST_TEST_REQUIRE(asked.size() == 1u);
  BOOST_TEST(asked[0].grant.scopes == (std::vector<std::string>{"a", "b", "c"}),
             boost::test_tools::per_element());
  BOOST_TEST(asked[0].client == "default");
}

BOOST_AUTO_TEST_CASE(HitIsAnsweredOnTheCallersThreadWithoutAnExchange) {
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  clock.now += 50;  // 70 s left: no refresh ahead for min_ttl 30 yet
  BOOST_TEST(hit_now(request({"a"}), 30) == "token-1");
  BOOST_TEST(fetcher.calls() == 1);
  BOOST_TEST(cache->stats().hits == 1u);
}

BOOST_AUTO_TEST_CASE(MinTtlBeyondWhatIsLeftStartsAnExchange) {
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  clock.now += 60;  // 60 s left
  BOOST_TEST(token_now(request({"a"}), 61) == "token-2");
  BOOST_TEST(fetcher.calls() == 2);
}

BOOST_AUTO_TEST_CASE(ExpiredTokenIsNotServed) {
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  clock.now += 121;
  BOOST_TEST(token_now(request({"a"}), -5) == "token-2");
}

BOOST_AUTO_TEST_CASE(NewTokenShorterThanMinTtlIsUnavailable) {
  fetcher.lifetime = 20;
  const Result<AccessToken> result = get_now(request({"a"}), 60);
  BOOST_TEST_REQUIRE(!result.ok());
  BOOST_TEST(result.error().code == ErrorCode::unavailable);
  BOOST_TEST(result.error().message ==
             "Maskinporten issued a token valid for 20 s, shorter than min_ttl 60");
}

// Issue 9: ten requests whose min_ttl is longer than Maskinporten's tokens
// live made ten exchanges; the entry's lifetime now answers them.
BOOST_AUTO_TEST_CASE(MinTtlLongerThanTheTokensLifeMakesOneExchangeNotOnePerRequest) {
  fetcher.lifetime = 20;
  for (int i = 0; i < 10; ++i) {
    const Result<AccessToken> result = get_now(request({"a"}), 60);
    BOOST_TEST_REQUIRE(!result.ok());
    BOOST_TEST(result.error().code == ErrorCode::unavailable);
    if (i > 0) {
      BOOST_TEST(result.error().message ==
                 "Maskinporten issues tokens valid for 20 s for this request, shorter than "
                 "min_ttl 60; ask with a min_ttl of at most 20");
    }
  }
  BOOST_TEST(fetcher.calls() == 1);
  BOOST_TEST(hit_now(request({"a"}), 10) == "token-1");  // a min_ttl it can meet is a hit
  clock.now += 11;  // past half its life: the next exchange might do better
  BOOST_TEST(!get_now(request({"a"}), 60).ok());
  BOOST_TEST(fetcher.calls() == 2);
}

// 60 s tokens asked for with min_ttl 30 serve 30 s each: the refresh (and
// its jitter) must come before the token is too short, or clients wait.
BOOST_AUTO_TEST_CASE(ARefreshAheadIsDueBeforeTheTokenBecomesTooShortForItsMinTtl) {
  fetcher.lifetime = 60;
  BOOST_TEST(token_now(request({"a"}), 30) == "token-1");
  for (int second = 1; second <= 70; ++second) {
    clock.now += 1;
    hit_now(request({"a"}), 30);  // fails the test if it is not a hit
    scheduler.join();
  }
  BOOST_TEST(cache->stats().misses == 1u);
  BOOST_TEST(cache->stats().exchanges >= 3u);
}

// bench/soak_keepfresh.sh's misses: a token fetched for min_ttl 30 and not
// asked for again before it came within the margin of its expiry was
// refreshed on the plan for min_ttl 0, after it had become too short.
BOOST_AUTO_TEST_CASE(TheTimersRefreshServesTheMinTtlOfTheMissThatFetchedTheToken) {
  fetcher.lifetime = 60;
  BOOST_TEST(token_now(request({"a"}), 30) == "token-1");
  for (int second = 1; second <= 27 && cache->stats().exchanges < 2; ++second) {
    clock.now += 1;
    cache->refresh_due_entries();
    scheduler.join();
  }
  BOOST_TEST(cache->stats().exchanges == 2u);
  BOOST_TEST(hit_now(request({"a"}), 30) == "token-2");
}

BOOST_AUTO_TEST_CASE(TheMinTtlOfTheLastTokenIsServedByTheNext) {
  fetcher.lifetime = 60;
  BOOST_TEST(token_now(request({"a"}), 30) == "token-1");
  clock.now += 15;  // half the usable life: a refresh ahead is planned within 5 s
  for (int second = 15; second <= 27 && cache->stats().exchanges < 2; ++second, clock.now += 1) {
    BOOST_TEST(hit_now(request({"a"}), 30) == "token-1");
    scheduler.join();
  }
  BOOST_TEST_REQUIRE(cache->stats().exchanges == 2u);
  const std::int64_t fetched = clock.now;
  // token-2 is not asked for again: the timer alone refreshes it before
  // it has under 30 s left.
  while (clock.now < fetched + 27 && cache->stats().exchanges < 3) {
    clock.now += 1;
    cache->refresh_due_entries();
    scheduler.join();
  }
  BOOST_TEST(cache->stats().exchanges == 3u);
}

// A refresh planned for min_ttl 0 (jitter up to 5 s) is brought forward by
// a hit for a longer min_ttl; each round fails with even odds without that.
BOOST_AUTO_TEST_CASE(AHitForALongerMinTtlBringsAPlannedRefreshForward) {
  fetcher.lifetime = 60;
  for (int round = 0; round < 20; ++round) {
    const TokenTarget key = request({"key-" + std::to_string(round)});
    const std::int64_t start = clock.now;
    const auto calls_for_key = [&] {
      const auto asked = fetcher.requests();
      return std::count_if(asked.begin(), asked.end(), [&](const TokenTarget& r) {
        return r.grant.scopes == key.grant.scopes;
      });
    };
    token_now(key, 0);
    clock.now = start + 30;  // 30 s left: due for min_ttl 0, planned up to 5 s on
    cache->refresh_due_entries();
    scheduler.join();
    clock.now = start + 32;  // 28 s left: too short for 25 in 3 s
    hit_now(key, 25);
    scheduler.join();
    BOOST_TEST(calls_for_key() == 2, "round " << round);
  }
}

BOOST_AUTO_TEST_CASE(EntriesInUseAreRefreshedAheadWithoutARequestInTheWindow) {
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  BOOST_TEST(token_now(request({"b"})) == "token-2");
  clock.now += 60;
  BOOST_TEST(cache->refresh_due_entries() == 0u);  // 60 s left: not due yet
  clock.now += 35;  // 25 s left, past the margin and the largest jitter
  for (int second = 0; second <= 5 && cache->stats().exchanges < 4; ++second, clock.now += 1) {
    cache->refresh_due_entries();
    scheduler.join();
  }
  BOOST_TEST(cache->stats().exchanges == 4u);
  BOOST_TEST(cache->stats().refreshed_ahead == 2u);
  const std::string a = hit_now(request({"a"}));
  const std::string b = hit_now(request({"b"}));
  BOOST_TEST((a == "token-3" || a == "token-4"));
  BOOST_TEST((b == "token-3" || b == "token-4"));
  BOOST_TEST(a != b);
}

BOOST_AUTO_TEST_CASE(EntriesIdleLongerThanTheirIdleTimeAreNotRefreshedAhead) {
  cache_options.idle_drop_seconds = 50;
  make_cache();
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  clock.now += 100;  // 20 s left, unused for 100 s
  BOOST_TEST(cache->refresh_due_entries() == 0u);
  BOOST_TEST(fetcher.calls() == 1);
}

BOOST_AUTO_TEST_CASE(KeptFreshEntriesAreFetchedAtOnceAndRefreshedUnused) {
  cache_options.idle_drop_seconds = 50;
  make_cache();
  cache->keep_fresh(request({"p"}), "prefetch");
  scheduler.join();
  BOOST_TEST(fetcher.calls() == 1);
  BOOST_TEST(scheduler.owners() == std::vector<std::string>{"prefetch"});
  clock.now += 100;  // never asked for, and past its idle time
  for (int second = 0; second <= 5 && fetcher.calls() < 2; ++second, clock.now += 1) {
    cache->refresh_due_entries();
    scheduler.join();
  }
  BOOST_TEST(fetcher.calls() == 2);
  cache->sweep();
  BOOST_TEST(cache->stats().entries == 1u);  // not dropped as idle
  BOOST_TEST(hit_now(request({"p"})) == "token-2");
  BOOST_TEST(cache->stats().misses == 0u);
}

BOOST_AUTO_TEST_CASE(KeptFreshEntryWhoseFetchFailedIsTriedAgainLater) {
  fetcher.fail_with(make_error(ErrorCode::unavailable, "Maskinporten answered 503"));
  cache->keep_fresh(request({"p"}), "prefetch");
  scheduler.join();
  BOOST_TEST(fetcher.calls() == 1);
  cache->refresh_due_entries();  // still held: no new exchange
  scheduler.join();
  BOOST_TEST(fetcher.calls() == 1);
  fetcher.fail_with(std::nullopt);
  for (int second = 0; second <= 60 && fetcher.calls() < 2; ++second, clock.now += 1) {
    cache->refresh_due_entries();
    scheduler.join();
  }
  BOOST_TEST(fetcher.calls() == 2);
  BOOST_TEST(hit_now(request({"p"})) == "token-2");
}

BOOST_AUTO_TEST_CASE(SlowExchangeForOneKeyDoesNotDelayAHitOnAnother) {
  BOOST_TEST(token_now(request({"b"})) == "token-1");
  fetcher.close_gate();
  Answers waiting;
  cache->get(request({"a"}), 0, waiting.callback());
  BOOST_TEST_REQUIRE(cache->stats().exchanges == 2u);
  fetcher.wait_for_calls(2);  // the exchange for "a" is inside the fetcher, held
  BOOST_TEST(hit_now(request({"b"})) == "token-1");
  BOOST_TEST(waiting.size() == 0u);
  fetcher.open_gate();
  scheduler.join();
  BOOST_TEST(waiting.token_at(0) == "token-2");
}

BOOST_AUTO_TEST_CASE(RefreshAheadStartsOneBackgroundExchangeAndServesTheOldToken) {
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  clock.now += 95;  // 25 s left: within the 30 s margin
  fetcher.close_gate();
  // The refresh starts within the jitter (at most 5 s); every hit until it
  // ends is answered at once with the old token.
  for (int second = 0; second <= 6; ++second) {
    BOOST_TEST(hit_now(request({"a"})) == "token-1");
    clock.now += 1;
  }
  BOOST_TEST_REQUIRE(cache->stats().exchanges == 2u);  // else the wait below would hang
  fetcher.wait_for_calls(2);
  BOOST_TEST(hit_now(request({"a"})) == "token-1");
  BOOST_TEST(cache->stats().exchanges == 2u);
  fetcher.open_gate();
  scheduler.join();
  BOOST_TEST(fetcher.calls() == 2);
  BOOST_TEST(hit_now(request({"a"})) == "token-2");
}

BOOST_AUTO_TEST_CASE(NoRefreshOutsideTheMargin) {
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  clock.now += 89;  // 31 s left
  BOOST_TEST(hit_now(request({"a"})) == "token-1");
  scheduler.join();
  BOOST_TEST(fetcher.calls() == 1);
}

BOOST_AUTO_TEST_CASE(RefreshMarginCountsFromMinTtl) {
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  clock.now += 50;  // 70 s left: more than min_ttl 30 + margin 30
  BOOST_TEST(hit_now(request({"a"}), 30) == "token-1");
  BOOST_TEST(cache->stats().exchanges == 1u);
  clock.now += 15;  // 55 s left
  for (int second = 0; second <= 5; ++second, clock.now += 1) hit_now(request({"a"}), 30);
  BOOST_TEST(cache->stats().exchanges == 2u);
}

BOOST_AUTO_TEST_CASE(ShortLivedTokenIsNotRefreshedInTheFirstHalfOfItsLife) {
  fetcher.lifetime = 40;
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  clock.now += 10;  // 30 s left: within the margin, but young
  for (int second = 0; second < 10; ++second, clock.now += 1) hit_now(request({"a"}));
  BOOST_TEST(cache->stats().exchanges == 1u);
}

BOOST_AUTO_TEST_CASE(FailedRefreshKeepsServingTheOldTokenAndRecordsTheError) {
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  fetcher.fail_with(make_error(ErrorCode::unavailable, "Maskinporten answered 503"));
  clock.now += 95;
  hit_until_exchanges(2, 5);
  BOOST_TEST(fetcher.calls() == 2);
  BOOST_TEST(hit_now(request({"a"})) == "token-1");
  const auto errors = cache->last_errors();
  BOOST_TEST_REQUIRE(errors.count("default") == 1u);
  BOOST_TEST(errors.at("default").words == "unavailable: Maskinporten answered 503");
  BOOST_TEST(errors.at("default").code == "unavailable");
}

BOOST_AUTO_TEST_CASE(FailedRefreshBacksOffExponentiallyBeforeTheNextAttempt) {
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  fetcher.fail_with(make_error(ErrorCode::unavailable, "Maskinporten answered 503"));
  clock.now += 90;  // 30 s left
  hit_until_exchanges(2, 5);
  BOOST_TEST_REQUIRE(fetcher.calls() == 2);
  // Back-off 4 s, up to a quarter shorter: nothing before 3 s, a retry at 4 s.
  const std::int64_t failed_at = clock.now;
  clock.now = failed_at + 2;
  hit_now(request({"a"}));
  BOOST_TEST(cache->stats().exchanges == 2u);
  clock.now = failed_at + 4;
  hit_now(request({"a"}));
  scheduler.join();
  BOOST_TEST(fetcher.calls() == 3);
  // Then 8 s, at least 6.
  const std::int64_t failed_again_at = clock.now;
  clock.now = failed_again_at + 5;
  hit_now(request({"a"}));
  BOOST_TEST(cache->stats().exchanges == 3u);
  clock.now = failed_again_at + 8;
  hit_now(request({"a"}));
  scheduler.join();
  BOOST_TEST(fetcher.calls() == 4);
}

BOOST_AUTO_TEST_CASE(BackOffIsCappedAtTheMaximum) {
  cache_options.backoff_initial_seconds = 4;
  cache_options.backoff_max_seconds = 5;
  cache_options.refresh_margin_seconds = 100;
  make_cache();
  fetcher.lifetime = 1000;
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  fetcher.fail_with(make_error(ErrorCode::unavailable, "down"));
  clock.now += 900;  // 100 s left
  hit_until_exchanges(2, 5);
  BOOST_TEST_REQUIRE(fetcher.calls() == 2);
  for (int attempt = 3; attempt <= 6; ++attempt) {
    // Each within the capped back-off, at most 5 s (uncapped: 6 to 8, 12 to 16 ...).
    clock.now += 1;
    hit_until_exchanges(static_cast<std::uint64_t>(attempt), 4);
    BOOST_TEST(fetcher.calls() == attempt);
  }
}

BOOST_AUTO_TEST_CASE(WithoutAValidTokenTheFetchersErrorIsPassedOn) {
  const Error errors[] = {
      make_error(ErrorCode::invalid_grant, "Invalid assertion. Client authentication failed."),
      make_error(ErrorCode::hsm_error, "the token is not logged in"),
      make_error(ErrorCode::unavailable, "Maskinporten answered 502"),
  };
  int key = 0;
  for (const Error& error : errors) {
    BOOST_TEST_CONTEXT(error.message) {
      fetcher.fail_with(error);
      const Result<AccessToken> result = get_now(request({"key-" + std::to_string(++key)}));
      BOOST_TEST_REQUIRE(!result.ok());
      BOOST_TEST(result.error().code == error.code);
      BOOST_TEST(result.error().message == error.message);
    }
  }
  BOOST_TEST(fetcher.calls() == 3);
}

BOOST_AUTO_TEST_CASE(TheSchedulerIsToldWhoseExchangeItIs) {
  Answers answers;
  cache->get(request({"a"}), 0, answers.callback(), "uid 5");
  scheduler.join();
  BOOST_TEST(answers.token_at(0) == "token-1");
  cache->get(request({"a"}), 0, answers.callback(), "uid 6");  // a hit: nothing scheduled
  clock.now += 95;
  for (int second = 0; second <= 5 && cache->stats().exchanges < 2; ++second, clock.now += 1) {
    cache->get(request({"a"}), 0, answers.callback(), "uid 7");  // starts the refresh ahead
    scheduler.join();
  }
  BOOST_TEST(scheduler.owners() == (std::vector<std::string>{"uid 5", "uid 7"}));
}

BOOST_AUTO_TEST_CASE(FailedMissIsHeldAndAnsweredAtOnceWithTheSameError) {
  fetcher.fail_with(make_error(ErrorCode::invalid_scope, "Invalid scope: altinn:x"));
  BOOST_TEST_REQUIRE(!get_now(request({"a"})).ok());
  clock.now += 1;
  Answers answers;
  cache->get(request({"a"}), 0, answers.callback());
  BOOST_TEST_REQUIRE(answers.size() == 1u, "a held failure is answered at once");
  BOOST_TEST(answers.thread_at(0) == std::this_thread::get_id());
  const Result<AccessToken> held = answers.at(0);
  BOOST_TEST_REQUIRE(!held.ok());
  BOOST_TEST(held.error().code == ErrorCode::invalid_scope);
  BOOST_TEST(held.error().message.rfind("Invalid scope: altinn:x (", 0) == 0u, held.error().message);
  BOOST_TEST(held.error().message.find("1 s ago") != std::string::npos, held.error().message);
  BOOST_TEST(held.error().message.find("asks again in") != std::string::npos);
  BOOST_TEST(fetcher.calls() == 1);
  BOOST_TEST(cache->stats().held == 1u);
  BOOST_TEST(cache->stats().misses == 2u);
  // Another key is not held by this one's failure.
  fetcher.fail_with(std::nullopt);
  BOOST_TEST(token_now(request({"b"})) == "token-2");
}

BOOST_AUTO_TEST_CASE(HoldEndsWithTheBackOffAndDoublesOnTheNextFailure) {
  fetcher.fail_with(make_error(ErrorCode::unavailable, "down"));
  BOOST_TEST_REQUIRE(!get_now(request({"a"})).ok());
  const std::int64_t first_failure = clock.now;
  // Back-off 4 s, up to a quarter shorter: held for at least 3 s.
  clock.now = first_failure + 2;
  BOOST_TEST(!get_now(request({"a"})).ok());
  BOOST_TEST(fetcher.calls() == 1);
  clock.now = first_failure + 4;
  BOOST_TEST(!get_now(request({"a"})).ok());
  BOOST_TEST(fetcher.calls() == 2);
  // Then 8 s, at least 6.
  const std::int64_t second_failure = clock.now;
  clock.now = second_failure + 5;
  BOOST_TEST(!get_now(request({"a"})).ok());
  BOOST_TEST(fetcher.calls() == 2);
  fetcher.fail_with(std::nullopt);
  clock.now = second_failure + 8;
  BOOST_TEST(token_now(request({"a"})) == "token-3");
  // A success ends it all: the next failure starts again from 4 s.
  BOOST_TEST(hit_now(request({"a"})) == "token-3");
  BOOST_TEST(cache->stats().held == 2u);
}

BOOST_AUTO_TEST_CASE(HoldIsCappedAtFailureHoldMax) {
  cache_options.backoff_initial_seconds = 16;
  cache_options.failure_hold_max_seconds = 5;
  make_cache();
  fetcher.fail_with(make_error(ErrorCode::unavailable, "down"));
  BOOST_TEST_REQUIRE(!get_now(request({"a"})).ok());
  const std::int64_t failed_at = clock.now;
  clock.now = failed_at + 4;
  BOOST_TEST(!get_now(request({"a"})).ok());
  BOOST_TEST(fetcher.calls() == 1);
  clock.now = failed_at + 5;  // the back-off (12 to 16 s) is not over, the hold is
  BOOST_TEST(!get_now(request({"a"})).ok());
  BOOST_TEST(fetcher.calls() == 2);
}

BOOST_AUTO_TEST_CASE(HoldLastsAtLeastFailureHoldMin) {
  cache_options.backoff_initial_seconds = 1;
  cache_options.failure_hold_min_seconds = 5;
  make_cache();
  fetcher.fail_with(make_error(ErrorCode::unavailable, "down"));
  BOOST_TEST_REQUIRE(!get_now(request({"a"})).ok());
  const std::int64_t failed_at = clock.now;
  clock.now = failed_at + 4;  // the back-off (1 s) is over, the hold is not
  const Result<AccessToken> held = get_now(request({"a"}));
  BOOST_TEST_REQUIRE(!held.ok());
  BOOST_TEST(held.error().message.find("asks again in 1 s") != std::string::npos,
             held.error().message);
  BOOST_TEST(fetcher.calls() == 1);
  clock.now = failed_at + 5;
  BOOST_TEST(!get_now(request({"a"})).ok());
  BOOST_TEST(fetcher.calls() == 2);
}

BOOST_AUTO_TEST_CASE(LocalFailuresAreNotHeldAndLeaveNoEntry) {
  for (const ErrorCode code : {ErrorCode::hsm_error, ErrorCode::internal, ErrorCode::invalid_request}) {
    BOOST_TEST_CONTEXT(to_string(code)) {
      fetcher.fail_with(make_error(code, "local"));
      BOOST_TEST(!get_now(request({"a"})).ok());
      BOOST_TEST(cache->stats().entries == 0u);
    }
  }
  fetcher.fail_with(std::nullopt);
  BOOST_TEST(token_now(request({"a"})) == "token-4");  // the token put back works at once
  BOOST_TEST(cache->stats().held == 0u);
}

BOOST_AUTO_TEST_CASE(EveryFailureFromAfarIsHeld) {
  int key = 0;
  for (const ErrorCode code : {ErrorCode::unavailable, ErrorCode::invalid_grant,
                               ErrorCode::invalid_client, ErrorCode::invalid_scope,
                               ErrorCode::forbidden}) {
    BOOST_TEST_CONTEXT(to_string(code)) {
      const TokenTarget r = request({"key-" + std::to_string(++key)});
      fetcher.fail_with(make_error(code, "from afar"));
      BOOST_TEST(!get_now(r).ok());
      const Result<AccessToken> again = get_now(r);
      BOOST_TEST_REQUIRE(!again.ok());
      BOOST_TEST(again.error().code == code);
      BOOST_TEST(fetcher.calls() == key);
    }
  }
  BOOST_TEST(cache->stats().held == 5u);
}

BOOST_AUTO_TEST_CASE(FailureHoldMaxZeroNeverHolds) {
  cache_options.failure_hold_max_seconds = 0;
  make_cache();
  fetcher.fail_with(make_error(ErrorCode::unavailable, "down"));
  for (int i = 1; i <= 3; ++i) BOOST_TEST(!get_now(request({"a"})).ok());
  BOOST_TEST(fetcher.calls() == 3);
  BOOST_TEST(cache->stats().held == 0u);
}

BOOST_AUTO_TEST_CASE(InvalidateEndsAHold) {
  fetcher.fail_with(make_error(ErrorCode::invalid_client, "Unknown client"));
  BOOST_TEST_REQUIRE(!get_now(request({"a"})).ok());
  fetcher.fail_with(std::nullopt);
  BOOST_TEST(!get_now(request({"a"})).ok());
  BOOST_TEST(cache->invalidate(request({"a"})));
  BOOST_TEST(token_now(request({"a"})) == "token-2");
}

BOOST_AUTO_TEST_CASE(AfterAFailedRefreshTheTokenExpiringEndsTheBackOffForMisses) {
  cache_options.backoff_initial_seconds = 60;
  cache_options.failure_hold_max_seconds = 3;
  make_cache();
  BOOST_TEST(token_now(request({"a"})) == "token-1");  // valid until +120
  fetcher.fail_with(make_error(ErrorCode::unavailable, "Maskinporten answered 503"));
  clock.now += 95;
  hit_until_exchanges(2, 5);
  BOOST_TEST_REQUIRE(fetcher.calls() == 2);
  clock.now += 10;  // still valid, in the refresh back-off (45 to 60 s): no exchange
  BOOST_TEST(hit_now(request({"a"})) == "token-1");
  BOOST_TEST(cache->stats().exchanges == 2u);
  fetcher.fail_with(std::nullopt);
  clock.now = 1'000'000 + 121;  // expired, back-off still running, hold (3 s) over
  BOOST_TEST(token_now(request({"a"})) == "token-3");
}

BOOST_AUTO_TEST_CASE(WallClockSteppedBackDoesNotServeAnExpiredToken) {
  BOOST_TEST(token_now(request({"a"})) == "token-1");  // valid for 120 s
  clock.wall_offset = -100;  // the wall clock is set back 100 s
  clock.now += 121;
  BOOST_TEST(token_now(request({"a"})) == "token-2");
  BOOST_TEST(fetcher.calls() == 2);
}

BOOST_AUTO_TEST_CASE(WallClockSteppedForwardKeepsServingAValidToken) {
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  clock.wall_offset = 3600;
  clock.now += 10;
  BOOST_TEST(hit_now(request({"a"})) == "token-1");
  cache->sweep();
  BOOST_TEST(cache->stats().entries == 1u);
}

BOOST_AUTO_TEST_CASE(ServedTokenIsDatedByTheWallClockOfNow) {
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  clock.wall_offset = -100;
  clock.now += 20;  // 100 s left
  const Result<AccessToken> hit = get_now(request({"a"}));
  BOOST_TEST_REQUIRE(hit.ok());
  BOOST_TEST(hit->expires_at == clock.wall() + 100);
  const auto peeked = cache->peek(request({"a"}), 0);
  BOOST_TEST_REQUIRE(peeked.has_value());
  BOOST_TEST(peeked->expires_at == clock.wall() + 100);
}

BOOST_AUTO_TEST_CASE(ServedTokenKeepsItsExpiryWhileTheWallClockIsNotStepped) {
  const Result<AccessToken> first = get_now(request({"a"}));
  BOOST_TEST_REQUIRE(first.ok());
  clock.now += 7;
  clock.wall_offset = 1;  // rounding of the two clocks to whole seconds
  const Result<AccessToken> hit = get_now(request({"a"}));
  BOOST_TEST_REQUIRE(hit.ok());
  BOOST_TEST(hit->expires_at == first->expires_at);
}

BOOST_AUTO_TEST_CASE(WallClockSteppedBackDoesNotStretchAHold) {
  fetcher.fail_with(make_error(ErrorCode::unavailable, "down"));
  BOOST_TEST_REQUIRE(!get_now(request({"a"})).ok());
  clock.wall_offset = -3600;
  clock.now += 31;  // past the longest hold (30 s) and the first back-off
  fetcher.fail_with(std::nullopt);
  BOOST_TEST(token_now(request({"a"})) == "token-2");
  BOOST_TEST(cache->stats().held == 0u);
}

BOOST_AUTO_TEST_CASE(ThrowingFetcherAnswersInternal) {
  TokenCache throwing(blocking([](const TokenTarget&) -> Result<AccessToken> {
                        throw std::runtime_error("boom");
                      }),
                      scheduler.function(), options(), clock.function());
  Answers answers;
  throwing.get(request({"a"}), 0, answers.callback());
  scheduler.join();
  BOOST_TEST_REQUIRE(answers.size() == 1u);
  BOOST_TEST(!answers.at(0).ok());
  BOOST_TEST(answers.at(0).error().code == ErrorCode::internal);
  BOOST_TEST(answers.at(0).error().message == "token exchange failed: boom");
  BOOST_TEST(throwing.stats().in_flight == 0u);
}

BOOST_AUTO_TEST_CASE(InvalidateDropsTheEntry) {
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  BOOST_TEST(cache->invalidate(request({"a"})));
  BOOST_TEST(cache->stats().entries == 0u);
  BOOST_TEST(token_now(request({"a"})) == "token-2");
}

BOOST_AUTO_TEST_CASE(InvalidateOfAnUnknownEntryReportsNone) {
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  BOOST_TEST(!cache->invalidate(request({"b"})));
  BOOST_TEST(cache->stats().entries == 1u);
}

BOOST_AUTO_TEST_CASE(InvalidatedExchangeAnswersItsWaitersButIsNotStored) {
  fetcher.close_gate();
  Answers answers;
  cache->get(request({"a"}), 0, answers.callback());
  BOOST_TEST(cache->invalidate(request({"a"})));
  fetcher.open_gate();
  scheduler.join();
  BOOST_TEST(answers.token_at(0) == "token-1");
  BOOST_TEST(cache->stats().entries == 0u);
  BOOST_TEST(token_now(request({"a"})) == "token-2");
}

BOOST_AUTO_TEST_CASE(InvalidatedExchangeNeverOverwritesTheNewerEntry) {
  fetcher.close_gate();
  Answers old_answers;
  cache->get(request({"a"}), 0, old_answers.callback());
  fetcher.wait_for_calls(1);
  BOOST_TEST(cache->invalidate(request({"a"})));
  Answers new_answers;
  cache->get(request({"a"}), 0, new_answers.callback());
  fetcher.release(2);
  new_answers.wait();
  BOOST_TEST(new_answers.token_at(0) == "token-2");
  fetcher.open_gate();  // now the invalidated exchange ends
  scheduler.join();
  BOOST_TEST(old_answers.token_at(0) == "token-1");
  BOOST_TEST(hit_now(request({"a"})) == "token-2");
}

BOOST_AUTO_TEST_CASE(SweepDropsEntriesNobodyAskedFor) {
  cache_options.idle_drop_seconds = 100;
  make_cache();
  fetcher.lifetime = 3600;
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  clock.now += 99;
  cache->sweep();
  BOOST_TEST(cache->stats().entries == 1u);
  clock.now += 1;
  cache->sweep();
  BOOST_TEST(cache->stats().entries == 0u);
}

BOOST_AUTO_TEST_CASE(SweepDropsExpiredEntries) {
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  clock.now += 120;
  cache->sweep();
  BOOST_TEST(cache->stats().entries == 0u);
}

BOOST_AUTO_TEST_CASE(SweepKeepsAnEntryWithAnExchangeInFlight) {
  fetcher.close_gate();
  Answers answers;
  cache->get(request({"a"}), 0, answers.callback());
  clock.now += 7200;
  cache->sweep();
  BOOST_TEST(cache->stats().entries == 1u);
  fetcher.open_gate();
  scheduler.join();
  BOOST_TEST(answers.token_at(0) == "token-1");
  BOOST_TEST(hit_now(request({"a"})) == "token-1");
}

BOOST_AUTO_TEST_CASE(MaxEntriesDropsTheLeastRecentlyUsed) {
  cache_options.max_entries = 2;
  make_cache();
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  BOOST_TEST(token_now(request({"b"})) == "token-2");
  BOOST_TEST(hit_now(request({"a"})) == "token-1");
  BOOST_TEST(token_now(request({"c"})) == "token-3");  // "b" goes
  BOOST_TEST(cache->stats().entries == 2u);
  BOOST_TEST(hit_now(request({"a"})) == "token-1");
  BOOST_TEST(token_now(request({"b"})) == "token-4");
}

BOOST_AUTO_TEST_CASE(MaxEntriesNeverDropsAnEntryWithAnExchangeInFlight) {
  cache_options.max_entries = 1;
  make_cache();
  fetcher.close_gate();
  Answers answers;
  cache->get(request({"a"}), 0, answers.callback());
  cache->get(request({"b"}), 0, answers.callback());
  BOOST_TEST(cache->stats().entries == 2u);
  fetcher.open_gate();
  scheduler.join();
  BOOST_TEST(answers.size() == 2u);
  BOOST_TEST(cache->stats().in_flight == 0u);
}

BOOST_AUTO_TEST_CASE(SweepKeepsAFailedEntryUntilItsHoldEnds) {
  fetcher.fail_with(make_error(ErrorCode::unavailable, "down"));
  BOOST_TEST(!get_now(request({"a"})).ok());
  cache->sweep();
  BOOST_TEST(cache->stats().entries == 1u);
  clock.now += 4;  // backoff_initial_seconds
  cache->sweep();
  BOOST_TEST(cache->stats().entries == 0u);
}

BOOST_AUTO_TEST_CASE(LargerMinTtlJoinsTheRefreshInFlight) {
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  clock.now += 95;
  fetcher.close_gate();
  for (int second = 0; second <= 5 && cache->stats().exchanges < 2; ++second, clock.now += 1) {
    hit_now(request({"a"}));
  }
  BOOST_TEST_REQUIRE(cache->stats().exchanges == 2u);  // else the wait below would hang
  fetcher.wait_for_calls(2);
  Answers answers;
  cache->get(request({"a"}), 60, answers.callback());
  BOOST_TEST(answers.size() == 0u);
  fetcher.open_gate();
  scheduler.join();
  BOOST_TEST(fetcher.calls() == 2);
  BOOST_TEST(answers.token_at(0) == "token-2");
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// A token made outside the cache (as the Altinn exchange makes a
// Maskinporten token), valid for `lifetime` seconds from `now`.
AccessToken outside_token(const std::string& name, std::int64_t now, std::int64_t lifetime) {
  AccessToken token;
  token.access_token = name;
  token.token_type = "Bearer";
  token.expires_in = lifetime;
  token.expires_at = now + lifetime;
  return token;
}

TokenTarget altinn_request(std::vector<std::string> scopes) {
  TokenTarget r = request(std::move(scopes));
  r.exchange = "altinn";
  return r;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(PeekAndPut, Fixture)

BOOST_AUTO_TEST_CASE(PeekReturnsTheCachedTokenWithoutAnExchange) {
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  const auto peeked = cache->peek(request({"a"}), 60);
  BOOST_TEST_REQUIRE(peeked.has_value());
  BOOST_TEST(peeked->access_token == "token-1");
  BOOST_TEST(fetcher.calls() == 1);
  BOOST_TEST(cache->stats().exchanges == 1u);
}

BOOST_AUTO_TEST_CASE(PeekOfAnUnknownKeyIsEmptyAndStartsNothing) {
  BOOST_TEST(!cache->peek(request({"a"}), 0).has_value());
  scheduler.join();
  BOOST_TEST(fetcher.calls() == 0);
  BOOST_TEST(cache->stats().entries == 0u);
}

BOOST_AUTO_TEST_CASE(PeekRefusesATokenShorterThanMinTtl) {
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  clock.now += 60;  // 60 s left by the whole-second count: surely 58
  BOOST_TEST(cache->peek(request({"a"}), 58).has_value());
  BOOST_TEST(!cache->peek(request({"a"}), 59).has_value());
  scheduler.join();
  BOOST_TEST(fetcher.calls() == 1);
}

// Both clocks are read in whole seconds, so a token counted with one or two
// seconds left may already have expired: it is never served (seen in CI as
// an expired token answered a second after its expires_at).
BOOST_AUTO_TEST_CASE(ATokenInItsLastTwoCountedSecondsIsNotServed) {
  BOOST_TEST(token_now(request({"a"})) == "token-1");  // valid for 120 s
  clock.now += 118;
  BOOST_TEST(cache->peek(request({"a"}), 0).has_value());
  clock.now += 1;  // 1 s left by the count
  BOOST_TEST(!cache->peek(request({"a"}), 0).has_value());
  scheduler.join();
  BOOST_TEST(fetcher.calls() == 1);
}

BOOST_AUTO_TEST_CASE(PeekNeverWaitsForAnExchangeInFlight) {
  fetcher.close_gate();
  Answers answers;
  cache->get(request({"a"}), 0, answers.callback());
  fetcher.wait_for_calls(1);  // held inside the fetcher
  BOOST_TEST(!cache->peek(request({"a"}), 0).has_value());
  fetcher.open_gate();
  scheduler.join();
  BOOST_TEST(answers.token_at(0) == "token-1");
}

BOOST_AUTO_TEST_CASE(PeekIsNeitherAHitNorAMiss) {
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  cache->peek(request({"a"}), 0);
  cache->peek(request({"b"}), 0);
  BOOST_TEST(cache->stats().hits == 0u);
  BOOST_TEST(cache->stats().misses == 1u);
}

BOOST_AUTO_TEST_CASE(PeekDoesNotShareTheAltinnTokensKey) {
  BOOST_TEST(token_now(altinn_request({"a"})) == "token-1");
  BOOST_TEST(!cache->peek(request({"a"}), 0).has_value());
}

BOOST_AUTO_TEST_CASE(PeekKeepsAnEntryFromBeingDroppedAsIdle) {
  cache_options.idle_drop_seconds = 100;
  make_cache();
  fetcher.lifetime = 3600;
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  clock.now += 90;
  BOOST_TEST(cache->peek(request({"a"}), 0).has_value());
  clock.now += 90;
  cache->sweep();
  BOOST_TEST(cache->stats().entries == 1u);
}

BOOST_AUTO_TEST_CASE(PutTokenIsServedAsAHit) {
  cache->put(request({"b", "a"}), outside_token("outside", clock.now, 120));
  BOOST_TEST(hit_now(request({"a", "b"})) == "outside");
  BOOST_TEST(fetcher.calls() == 0);
  BOOST_TEST(cache->stats().exchanges == 0u);
}

BOOST_AUTO_TEST_CASE(PutNeverReplacesALongerLivedToken) {
  BOOST_TEST(token_now(request({"a"})) == "token-1");  // expires at now + 120
  cache->put(request({"a"}), outside_token("shorter", clock.now, 119));
  BOOST_TEST(hit_now(request({"a"})) == "token-1");
}

BOOST_AUTO_TEST_CASE(PutReplacesAShorterLivedToken) {
  BOOST_TEST(token_now(request({"a"})) == "token-1");
  clock.now += 50;
  cache->put(request({"a"}), outside_token("longer", clock.now, 120));
  BOOST_TEST(hit_now(request({"a"})) == "longer");
}

BOOST_AUTO_TEST_CASE(PutOfAnExpiredTokenIsIgnored) {
  cache->put(request({"a"}), outside_token("expired", clock.now, 0));
  BOOST_TEST(cache->stats().entries == 0u);
  BOOST_TEST(token_now(request({"a"})) == "token-1");
}

BOOST_AUTO_TEST_CASE(PutForTheMaskinportenKeyIsNotServedToAnAltinnRequest) {
  cache->put(request({"a"}), outside_token("maskinporten", clock.now, 120));
  BOOST_TEST(token_now(altinn_request({"a"})) == "token-1");
}

BOOST_AUTO_TEST_CASE(PutWhileAnExchangeIsInFlightLeavesItsWaitersToIt) {
  fetcher.close_gate();
  Answers answers;
  cache->get(request({"a"}), 0, answers.callback());
  fetcher.wait_for_calls(1);
  cache->put(request({"a"}), outside_token("outside", clock.now, 60));
  BOOST_TEST(answers.size() == 0u);
  fetcher.open_gate();
  scheduler.join();
  BOOST_TEST(answers.token_at(0) == "token-1");
  BOOST_TEST(hit_now(request({"a"})) == "token-1");  // the flight's token, stored after
}

BOOST_AUTO_TEST_CASE(FetcherMayPeekAndPutAnotherKeyOfItsOwnCache) {
  // As the agent's Altinn fetcher does: read and store the Maskinporten
  // entry from inside the exchange for the Altinn entry, on a worker.
  TokenCache* self = nullptr;
  int fetches = 0;
  TokenCache nested(
      blocking([&](const TokenTarget& r) -> Result<AccessToken> {
        ++fetches;
        TokenTarget plain = r;
        plain.exchange.reset();
        if (!self->peek(plain, 60)) self->put(plain, outside_token("mp", clock.now, 120));
        return outside_token("altinn-from-" + self->peek(plain, 60)->access_token, clock.now, 120);
      }),
      scheduler.function(), options(), clock.function());
  self = &nested;
  Answers answers;
  nested.get(altinn_request({"a"}), 0, answers.callback());
  scheduler.join();
  BOOST_TEST(answers.token_at(0) == "altinn-from-mp");
  Answers plain;
  nested.get(request({"a"}), 0, plain.callback());
  BOOST_TEST_REQUIRE(plain.size() == 1u);  // a hit, answered at once
  BOOST_TEST(plain.token_at(0) == "mp");
  BOOST_TEST(fetches == 1);
}

BOOST_AUTO_TEST_CASE(PutTokenLivesOnTheSteadyClock) {
  cache->put(request({"p"}), outside_token("outside", clock.wall(), 60));
  clock.wall_offset = -600;
  clock.now += 61;
  BOOST_TEST(!cache->peek(request({"p"}), 0).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

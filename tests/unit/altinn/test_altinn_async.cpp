// The Altinn exchange without a waiting thread: answers and retries come
// from the io (the HTTP thread's timer in the agent), and the Altinn token
// flow over a Maskinporten source (cached, fresh, forgotten). Fakes only:
// no network, no sleeping.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "support/test_support.h"
#include "agent/altinn/altinn.h"
#include "agent/altinn/altinn_token.h"
#include "agent/jwt/jose.h"

#include "unit/altinn/altinn_test_helpers.h"

using namespace mpa;
using namespace mpa::altinn;
using mpa::test::altinn_jwt;
using mpa::test::answer;
using mpa::test::exchange_client;
using std::chrono::milliseconds;

namespace {

constexpr std::int64_t kNow = 1795000000;

HttpResponse altinn_ok() { return answer(200, altinn_jwt(R"({"exp":1795001800})")); }

// An io that answers nothing by itself: the test answers each GET and runs
// each timer, as the HTTP thread would, later.
struct ManualIo {
  std::deque<AltinnIo::Answer> pending;   // GETs not answered yet
  std::vector<std::string> bearers;       // the Authorization header of each GET
  std::deque<std::pair<milliseconds, std::function<void()>>> timers;
  std::vector<milliseconds> waits;        // every timer's wait, in order
  milliseconds elapsed{0};

  AltinnIo io() {
    AltinnIo io;
    io.get = [this](const std::string&, const std::vector<std::string>& headers,
                    const HttpOptions&, AltinnIo::Answer a) {
      bearers.push_back(headers.at(0));
      pending.push_back(std::move(a));
    };
    io.after = [this](milliseconds wait, std::function<void()> job) {
      waits.push_back(wait);
      timers.emplace_back(wait, std::move(job));
    };
    io.clock = Clock{[this] { return std::chrono::steady_clock::time_point(elapsed); },
                     [] { return kNow; }};
    return io;
  }
  void answer_next(Result<HttpResponse> response) {
    auto a = std::move(pending.front());
    pending.pop_front();
    a(std::move(response));
  }
  void fire_next_timer() {
    auto [wait, job] = std::move(timers.front());
    timers.pop_front();
    elapsed += wait;
    job();
  }
};

struct Answers {
  std::vector<Result<AccessToken>> got;
  AltinnDone done() {
    return [this](Result<AccessToken> token) { got.push_back(std::move(token)); };
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(AsyncExchange)

BOOST_AUTO_TEST_CASE(ReturnsBeforeAltinnAnswersAndAnswersOnceItDoes) {
  ManualIo io;
  Answers answers;
  exchange_for_altinn(exchange_client(), "mp-token", io.io(), answers.done());
  BOOST_TEST(answers.got.empty());
  BOOST_TEST_REQUIRE(io.pending.size() == 1u);
  BOOST_TEST(io.bearers.at(0) == "Authorization: Bearer mp-token");
  io.answer_next(altinn_ok());
  BOOST_TEST_REQUIRE(answers.got.size() == 1u);
  BOOST_TEST_REQUIRE(answers.got[0].ok());
  BOOST_TEST(answers.got[0]->expires_at == 1795001800);
}

BOOST_AUTO_TEST_CASE(AFarFutureExpIsCappedAsMaskinportensExpiresIn) {
  for (const char* exp : {"9223372036854775807", "4102444800"}) {
    ManualIo io;
    Answers answers;
    exchange_for_altinn(exchange_client(), "mp-token", io.io(), answers.done());
    io.answer_next(answer(200, altinn_jwt(std::string(R"({"exp":)") + exp + "}")));
    BOOST_TEST_REQUIRE(answers.got.size() == 1u);
    BOOST_TEST_REQUIRE(answers.got[0].ok(), exp);
    BOOST_TEST(answers.got[0]->expires_in == kMaxAccessTokenLifetimeSeconds, exp);
    BOOST_TEST(answers.got[0]->expires_at == kNow + kMaxAccessTokenLifetimeSeconds, exp);
  }
}

BOOST_AUTO_TEST_CASE(AnExpWithinADayIsKeptAsItIs) {
  ManualIo io;
  Answers answers;
  exchange_for_altinn(exchange_client(), "mp-token", io.io(), answers.done());
  io.answer_next(answer(200, altinn_jwt(R"({"exp":1795086400})")));
  BOOST_TEST_REQUIRE(answers.got.size() == 1u);
  BOOST_TEST_REQUIRE(answers.got[0].ok());
  BOOST_TEST(answers.got[0]->expires_at == kNow + 86400);
}

BOOST_AUTO_TEST_CASE(AServerErrorIsRetriedOnTheIoTimerNotBySleeping) {
  ManualIo io;
  Answers answers;
  exchange_for_altinn(exchange_client(), "mp-token", io.io(), answers.done());
  io.answer_next(answer(503, "busy"));
  // The wait is a timer: no second GET and no answer until it fires.
  BOOST_TEST(io.timers.size() == 1u);
  BOOST_TEST(io.pending.empty());
  BOOST_TEST(answers.got.empty());
  io.fire_next_timer();
  BOOST_TEST_REQUIRE(io.pending.size() == 1u);
  io.answer_next(altinn_ok());
  BOOST_TEST_REQUIRE(answers.got.size() == 1u);
  BOOST_TEST(answers.got[0].ok());
}

BOOST_AUTO_TEST_CASE(TooManyRequestsWaitsTheRetryAfterAltinnAsked) {
  ManualIo io;
  Answers answers;
  exchange_for_altinn(exchange_client(), "mp-token", io.io(), answers.done());
  HttpResponse busy = answer(429, "slow down");
  busy.retry_after = "3";
  io.answer_next(busy);
  BOOST_TEST_REQUIRE(io.waits.size() == 1u);
  BOOST_TEST(io.waits[0] == milliseconds(3000));
}

BOOST_AUTO_TEST_CASE(ARetryAfterPastTheDeadlineGivesUpAtOnce) {
  ManualIo io;
  Answers answers;
  exchange_for_altinn(exchange_client(), "mp-token", io.io(), answers.done());
  HttpResponse busy = answer(429, "slow down");
  busy.retry_after = "60";
  io.answer_next(busy);
  BOOST_TEST(io.timers.empty());
  BOOST_TEST_REQUIRE(answers.got.size() == 1u);
  BOOST_TEST_REQUIRE(!answers.got[0].ok());
  BOOST_TEST(answers.got[0].error().code == ErrorCode::unavailable);
}

BOOST_AUTO_TEST_CASE(AClientErrorIsNotRetried) {
  ManualIo io;
  Answers answers;
  exchange_for_altinn(exchange_client(), "mp-token", io.io(), answers.done());
  io.answer_next(answer(400, "bad"));
  BOOST_TEST(io.timers.empty());
  BOOST_TEST_REQUIRE(answers.got.size() == 1u);
  BOOST_TEST(answers.got[0].error().code == ErrorCode::invalid_grant);
}

BOOST_AUTO_TEST_CASE(ServerErrorsForeverEndWithinTheBudget) {
  ManualIo io;
  Answers answers;
  exchange_for_altinn(exchange_client(), "mp-token", io.io(), answers.done());
  for (int i = 0; i < 1000 && answers.got.empty(); ++i) {
    io.answer_next(answer(500, "internal"));
    if (!io.timers.empty()) io.fire_next_timer();
  }
  BOOST_TEST_REQUIRE(answers.got.size() == 1u);
  BOOST_TEST(answers.got[0].error().code == ErrorCode::unavailable);
  BOOST_TEST(io.elapsed < std::chrono::seconds(20));
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

AccessToken maskinporten_token(const std::string& text) {
  AccessToken token;
  token.access_token = text;
  token.expires_at = kNow + 120;
  return token;
}

// A Maskinporten source with a cached token or none, counting its calls.
struct FakeSource {
  std::optional<AccessToken> cached;
  int fresh_calls = 0;
  int forgotten = 0;

  MaskinportenSource source() {
    MaskinportenSource s;
    s.cached = [this] { return cached; };
    s.fresh = [this](AltinnDone done) {
      ++fresh_calls;
      done(maskinporten_token("fresh-" + std::to_string(fresh_calls)));
    };
    s.forget = [this] {
      ++forgotten;
      cached.reset();
    };
    return s;
  }
};

const AltinnRequest kRequest{"default", "altinn:instances.read"};

}  // namespace

BOOST_AUTO_TEST_SUITE(AltinnTokenFlow)

BOOST_AUTO_TEST_CASE(ACachedMaskinportenTokenIsExchangedWithoutANewOne) {
  ManualIo io;
  Answers answers;
  FakeSource source;
  source.cached = maskinporten_token("cached");
  altinn_token(exchange_client(), kRequest, source.source(), io.io(), answers.done());
  io.answer_next(altinn_ok());
  BOOST_TEST(io.bearers == std::vector<std::string>{"Authorization: Bearer cached"});
  BOOST_TEST(source.fresh_calls == 0);
  BOOST_TEST_REQUIRE(answers.got.size() == 1u);
  BOOST_TEST(answers.got[0].ok());
}

BOOST_AUTO_TEST_CASE(WithoutACachedOneAFreshOneIsMade) {
  ManualIo io;
  Answers answers;
  FakeSource source;
  altinn_token(exchange_client(), kRequest, source.source(), io.io(), answers.done());
  io.answer_next(altinn_ok());
  BOOST_TEST(io.bearers == std::vector<std::string>{"Authorization: Bearer fresh-1"});
  BOOST_TEST(source.fresh_calls == 1);
  BOOST_TEST(answers.got.at(0).ok());
}

BOOST_AUTO_TEST_CASE(ARefusedCachedTokenIsForgottenAndAFreshOneTriedOnce) {
  ManualIo io;
  Answers answers;
  FakeSource source;
  source.cached = maskinporten_token("cached");
  altinn_token(exchange_client(), kRequest, source.source(), io.io(), answers.done());
  io.answer_next(answer(401, "revoked"));
  BOOST_TEST(source.forgotten == 1);
  BOOST_TEST(answers.got.empty());
  io.answer_next(altinn_ok());
  BOOST_TEST(io.bearers == (std::vector<std::string>{"Authorization: Bearer cached",
                                                     "Authorization: Bearer fresh-1"}));
  BOOST_TEST_REQUIRE(answers.got.size() == 1u);
  BOOST_TEST(answers.got[0].ok());
}

BOOST_AUTO_TEST_CASE(ARefusedFreshTokenIsNotTriedAgain) {
  ManualIo io;
  Answers answers;
  FakeSource source;
  altinn_token(exchange_client(), kRequest, source.source(), io.io(), answers.done());
  io.answer_next(answer(401, "no"));
  BOOST_TEST(io.pending.empty());
  BOOST_TEST(source.fresh_calls == 1);
  BOOST_TEST(source.forgotten == 0);
  BOOST_TEST_REQUIRE(answers.got.size() == 1u);
  BOOST_TEST(answers.got[0].error().code == ErrorCode::invalid_grant);
  BOOST_TEST(answers.got[0].error().message.rfind("Altinn token exchange: ", 0) == 0);
}

BOOST_AUTO_TEST_CASE(AForbiddenCachedTokenIsKept) {
  ManualIo io;
  Answers answers;
  FakeSource source;
  source.cached = maskinporten_token("cached");
  altinn_token(exchange_client(), kRequest, source.source(), io.io(), answers.done());
  io.answer_next(answer(403, ""));
  BOOST_TEST(source.forgotten == 0);
  BOOST_TEST(source.fresh_calls == 0);
  BOOST_TEST(answers.got.at(0).error().code == ErrorCode::forbidden);
}

BOOST_AUTO_TEST_CASE(AFailedFreshTokenIsPassedOnWithoutAnExchange) {
  ManualIo io;
  Answers answers;
  MaskinportenSource source;
  source.cached = [] { return std::optional<AccessToken>(); };
  source.fresh = [](AltinnDone done) { done(make_error(ErrorCode::hsm_error, "token removed")); };
  source.forget = [] {};
  altinn_token(exchange_client(), kRequest, source, io.io(), answers.done());
  BOOST_TEST(io.bearers.empty());
  BOOST_TEST_REQUIRE(answers.got.size() == 1u);
  BOOST_TEST(answers.got[0].error().code == ErrorCode::hsm_error);
  BOOST_TEST(answers.got[0].error().message == "token removed");
}

BOOST_AUTO_TEST_SUITE_END()

// The request handling without the socket: each op reaches its handler
// through AgentHandler's dispatch, with the peer's rights decided first.
// The state is built as `run` builds it, with signers that never touch a
// token and an exchange scheduler that records exchanges and starts none.
#include <boost/test/unit_test.hpp>

#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "agent/ops/agent_handler.h"
#include "agent/ops/agent_state.h"
#include "agent/ops/token_fetcher.h"
#include "protocol/messages.h"
#include "unit/ops/fake_agent_state.h"

using namespace mpa;
using namespace mpa::test;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

PeerCredentials own_peer() { return PeerCredentials{1, ::geteuid(), ::getegid(), {}}; }
PeerCredentials other_peer() { return PeerCredentials{2, other_uid(), 4242, {}}; }
PeerCredentials stranger() { return PeerCredentials{3, other_uid() + 1, 4243, {}}; }
PeerCredentials root_peer() { return PeerCredentials{4, 0, 0, {}}; }

// `text` with each `from` made `to`.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// A third client, on a token of its own, that no [[allow]] rule names.
const std::string kGammaOnItsOwnToken =
    "[[client]]\n"
    "name = \"gamma\"\n"
    "client_id = \"gamma-id\"\n"
    "environment = \"test\"\n"
    "key = \"pkcs11:token=gamma-token;object=gamma;type=private\"\n"
    "scopes = [\"test:g\"]\n";

// Jobs for the worker pools run at once, on the caller's thread.
const WorkScheduler kRunAtOnce = [](std::function<void()> job) { job(); };

struct Fixture {
  std::vector<std::string> exchange_owners;  // who each exchange the cache asked for is for
  std::vector<std::function<void()>> held;   // those exchanges, never started
  std::shared_ptr<AgentHandler> handler;

  explicit Fixture(const std::string& extra = "") {
    auto config = parse_config(config_text("/tmp/mpa-dispatch-test/agent.sock", extra),
                               "/tmp/agent.toml");
    BOOST_TEST_REQUIRE(config.ok(), (config.ok() ? "" : config.error().message));
    auto exchanges = [this](const std::string& owner,
                            std::function<void(std::function<void()>)> start) {
      exchange_owners.push_back(owner);
      held.push_back([start = std::move(start)] { start([] {}); });
    };
    auto state = build_agent_state(*config, exchanges, fake_signers());
    BOOST_TEST_REQUIRE(state.ok(), (state.ok() ? "" : state.error().message));
    handler = std::make_shared<AgentHandler>(*state, kRunAtOnce, kRunAtOnce);
  }

  // The answer to `line` from `peer`; "<none>" while none came.
  std::string ask(const PeerCredentials& peer, const std::string& line) {
    auto decoded = protocol::decode_request(line);
    auto* request = std::get_if<protocol::Request>(&decoded);
    BOOST_TEST_REQUIRE(request != nullptr, line);
    std::string answer = "<none>";
    handler->handle(peer, std::move(*request), [&](std::string sent) { answer = std::move(sent); });
    return answer;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(Dispatch, Fixture)

BOOST_AUTO_TEST_CASE(PingIsAnsweredOk) {
  BOOST_TEST(ask(own_peer(), R"({"op":"ping","id":7})") == "{\"ok\":true,\"id\":7}\n");
}

BOOST_AUTO_TEST_CASE(AnAllowedTokenRequestBecomesAnExchangeOfThePeersUid) {
  BOOST_TEST(ask(other_peer(), R"({"op":"token","client":"beta","scopes":["test:b"]})") == "<none>");
  BOOST_TEST(exchange_owners == std::vector<std::string>{exchange_owner(other_peer())});
}

BOOST_AUTO_TEST_CASE(StatusListsEveryClientToTheAgentsUser) {
  const std::string answer = ask(own_peer(), R"({"op":"status"})");
  BOOST_TEST(contains(answer, "\"ok\":true"), answer);
  BOOST_TEST(contains(answer, "\"alpha\""), answer);
  BOOST_TEST(contains(answer, "\"beta\""), answer);
}

BOOST_AUTO_TEST_CASE(InvalidateOfAnUncachedTokenSaysNothingWasDropped) {
  BOOST_TEST(contains(ask(own_peer(), R"({"op":"invalidate","client":"alpha","scopes":["test:a"]})"),
                      R"("invalidated":false)"));
}

BOOST_AUTO_TEST_CASE(MetricsAreReadByTheAgentsUser) {
  const std::string answer = ask(own_peer(), R"({"op":"metrics"})");
  BOOST_TEST(contains(answer, "maskinporten_agent_build_info"), answer);
}

BOOST_AUTO_TEST_CASE(TokenForAnotherTenantsClientIsAnsweredAsForAClientThatDoesNotExist) {
  const std::string foreign = ask(other_peer(), R"({"op":"token","client":"alpha","scopes":["test:a"]})");
  const std::string unknown = ask(other_peer(), R"({"op":"token","client":"nopex","scopes":["test:a"]})");
  BOOST_TEST(contains(foreign, "\"error\":\"unknown_client\""), foreign);
  BOOST_TEST(replaced(foreign, "alpha", "nopex") == unknown);
  BOOST_TEST(exchange_owners.empty());
}

BOOST_AUTO_TEST_CASE(AMissingClientNameDoesNotTellATenantHowManyClientsThereAre) {
  const std::string answer = ask(other_peer(), R"({"op":"token","scopes":["test:b"]})");
  BOOST_TEST(contains(answer, "\"error\":\"unknown_client\""), answer);
  BOOST_TEST(!contains(answer, "2 clients"), answer);
  BOOST_TEST(contains(answer, "this peer may use \\\"beta\\\""), answer);
}

BOOST_AUTO_TEST_CASE(TheAgentsUidAndRootKeepTheDetailedRefusals) {
  BOOST_TEST(contains(ask(own_peer(), R"({"op":"token","scopes":["test:a"]})"),
                      "this agent has 2 clients"));
  BOOST_TEST(contains(ask(root_peer(), R"({"op":"token","scopes":["test:a"]})"),
                      "this agent has 2 clients"));
  if (::geteuid() != 0) {  // else root is the agent's own uid, which may use every client
    const std::string root = ask(root_peer(), R"({"op":"token","client":"alpha","scopes":["test:a"]})");
    BOOST_TEST(contains(root, "\"error\":\"forbidden\""), root);
    BOOST_TEST(contains(root, "may not use client"), root);
  }
  BOOST_TEST(contains(ask(root_peer(), R"({"op":"token","client":"nope","scopes":["x"]})"),
                      "\"error\":\"unknown_client\""));
}

BOOST_AUTO_TEST_CASE(TokenForAScopeTheRuleDoesNotGiveIsForbidden) {
  const std::string answer = ask(other_peer(), R"({"op":"token","client":"beta","scopes":["test:a"]})");
  BOOST_TEST(contains(answer, "\"error\":\"forbidden\""), answer);
  BOOST_TEST(exchange_owners.empty());
}

BOOST_AUTO_TEST_CASE(UnknownClientIsAnsweredWithTheClientsThePeerMayUse) {
  const std::string answer = ask(other_peer(), R"({"op":"token","client":"nope","scopes":["x"]})");
  BOOST_TEST(contains(answer, "\"error\":\"unknown_client\""), answer);
  BOOST_TEST(contains(answer, "beta"), answer);
  BOOST_TEST(!contains(answer, "alpha"), answer);
}

BOOST_AUTO_TEST_CASE(AScopeOutsideTheClientsListIsRefusedBeforeTheCache) {
  const std::string answer = ask(own_peer(), R"({"op":"token","client":"alpha","scopes":["test:zz"]})");
  BOOST_TEST(contains(answer, "\"error\":\"invalid_scope\""), answer);
  BOOST_TEST(exchange_owners.empty());
  BOOST_TEST(handler->state()->cache->stats().entries == 0u);
}

BOOST_AUTO_TEST_CASE(StatusHidesAnotherTenantsClients) {
  const std::string answer = ask(other_peer(), R"({"op":"status"})");
  BOOST_TEST(contains(answer, "\"beta\""), answer);
  BOOST_TEST(!contains(answer, "\"alpha\""), answer);
  BOOST_TEST(!contains(answer, "alpha-id"), answer);
}

BOOST_AUTO_TEST_CASE(InvalidateOfAnotherTenantsClientIsAnsweredAsForAClientThatDoesNotExist) {
  const std::string foreign =
      ask(other_peer(), R"({"op":"invalidate","client":"alpha","scopes":["test:a"]})");
  const std::string unknown =
      ask(other_peer(), R"({"op":"invalidate","client":"nopex","scopes":["test:a"]})");
  BOOST_TEST(contains(foreign, "\"error\":\"unknown_client\""), foreign);
  BOOST_TEST(replaced(foreign, "alpha", "nopex") == unknown);
}

BOOST_AUTO_TEST_CASE(InvalidateOfAScopeTheRuleDoesNotGiveIsForbidden) {
  const std::string answer =
      ask(other_peer(), R"({"op":"invalidate","client":"beta","scopes":["test:a"]})");
  BOOST_TEST(contains(answer, "\"error\":\"forbidden\""), answer);
}

BOOST_AUTO_TEST_CASE(MetricsForAnotherUserAreForbidden) {
  const std::string answer = ask(other_peer(), R"({"op":"metrics"})");
  BOOST_TEST(contains(answer, "\"error\":\"forbidden\""), answer);
}

BOOST_AUTO_TEST_CASE(VerifyAltinnWithoutAltinnCertificatesIsAnInvalidRequest) {
  const std::string answer = ask(own_peer(), R"({"op":"verify_altinn","token":"a.b.c"})");
  BOOST_TEST(contains(answer, "\"error\":\"invalid_request\""), answer);
  BOOST_TEST(contains(answer, "verify_altinn needs [altinn] certificates"), answer);
}

BOOST_AUTO_TEST_CASE(VerifyTokenWithoutAVerifyTableIsAnInvalidRequest) {
  const std::string answer = ask(own_peer(), R"({"op":"verify_token","token":"a.b.c"})");
  BOOST_TEST(contains(answer, "\"error\":\"invalid_request\""), answer);
  BOOST_TEST(contains(answer, "verify_token needs a [verify] table"), answer);
}

BOOST_AUTO_TEST_CASE(APeerNoRuleNamesMayNotConnect) {
  BOOST_TEST(handler->may_connect(own_peer()));
  BOOST_TEST(handler->may_connect(other_peer()));
  BOOST_TEST(!handler->may_connect(stranger()));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(StatusDatesTheLastErrorAndShowsItAsPastOnceAnExchangeSucceeded) {
  Fixture fixture;
  const auto& outcomes = fixture.handler->state()->outcomes;
  const std::string owner = exchange_owner(own_peer());
  outcomes->record("alpha", owner,
                   make_error(ErrorCode::hsm_error, "signer restarting: gone, next try in 1 s"));
  const std::string failing = fixture.ask(own_peer(), R"({"op":"status"})");
  BOOST_TEST(contains(failing, "\"last_error\":\"hsm_error: signer restarting"), failing);
  BOOST_TEST(contains(failing, "\"last_error_at\":"), failing);
  BOOST_TEST(contains(failing, "\"last_error_past\":false"), failing);
  outcomes->record("alpha", owner, AccessToken{});
  const std::string recovered = fixture.ask(own_peer(), R"({"op":"status"})");
  BOOST_TEST(contains(recovered, "\"last_error\":\"hsm_error: signer restarting"), recovered);
  BOOST_TEST(contains(recovered, "\"last_error_past\":true"), recovered);
}

BOOST_AUTO_TEST_CASE(TheFetcherRecordsTheEndOfEachExchange) {
  Fixture fixture;
  const auto state = fixture.handler->state();
  auto outcomes = std::make_shared<ExchangeOutcomes>();
  const TokenFetcher fetcher(state->engine, 30, outcomes);
  TokenTarget target;
  target.client = "nope";
  std::string answered;
  fetcher(target, TokenCache::FetchOrder{"uid 7", 0},
          [&](Result<AccessToken> token) { answered = token.ok() ? "ok" : token.error().message; });
  const auto errors = outcomes->last_errors();
  BOOST_TEST_REQUIRE(errors.count("nope") == 1u);
  BOOST_TEST(errors.at("nope").code == "unknown_client");
  BOOST_TEST(errors.at("nope").owner == "uid 7");
  BOOST_TEST(!errors.at("nope").past);
  BOOST_TEST(contains(answered, "no client named"), answered);
}

BOOST_AUTO_TEST_CASE(StatusShowsATenantNoSharedCountersAndOnlyItsOwnTokensQueue) {
  Fixture fixture(kGammaOnItsOwnToken);
  fixture.handler->report_workers([] { return FairScheduler::Stats{4, 1, 0}; });
  const std::string tenant = fixture.ask(other_peer(), R"({"op":"status"})");
  BOOST_TEST(contains(tenant, "\"signing\":[{\"token\":\"t\""), tenant);
  BOOST_TEST(!contains(tenant, "gamma"), tenant);
  BOOST_TEST(!contains(tenant, "\"cache\""), tenant);
  BOOST_TEST(!contains(tenant, "\"workers\""), tenant);
  const std::string own = fixture.ask(own_peer(), R"({"op":"status"})");
  BOOST_TEST(contains(own, "\"token\":\"t\""), own);
  BOOST_TEST(contains(own, "\"token\":\"gamma-token\""), own);
  BOOST_TEST(contains(own, "\"cache\":{"), own);
  BOOST_TEST(contains(own, "\"workers\":{"), own);
}

BOOST_AUTO_TEST_CASE(TheSigningQueueIsNamedByTheTokensLabelWithoutSeparators) {
  Fixture fixture;
  const std::string own = fixture.ask(own_peer(), R"({"op":"status"})");
  BOOST_TEST(!contains(own, "\\u001f"), own);
  BOOST_TEST(!contains(own, "\\u001F"), own);
  BOOST_TEST(contains(own, "\"token\":\"t\""), own);
}

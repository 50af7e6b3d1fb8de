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

BOOST_AUTO_TEST_CASE(TokenForAClientThePeerMayNotUseIsForbidden) {
  const std::string answer = ask(other_peer(), R"({"op":"token","client":"alpha","scopes":["test:a"]})");
  BOOST_TEST(contains(answer, "\"error\":\"forbidden\""), answer);
  BOOST_TEST(exchange_owners.empty());
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

BOOST_AUTO_TEST_CASE(InvalidateByAPeerWithoutTheRightsIsForbidden) {
  const std::string answer =
      ask(other_peer(), R"({"op":"invalidate","client":"alpha","scopes":["test:a"]})");
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

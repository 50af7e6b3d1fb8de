// The daemon's metrics wiring: the count of every request by op and
// result, and the metrics op (who may read, what it answers).
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <string>

#include "agent/access/metrics_access.h"
#include "agent/metrics/agent_metrics.h"
#include "agent/ops/counted_reply.h"
#include "agent/ops/metrics_op.h"
#include "protocol/messages.h"

using namespace mpa;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(answers)

BOOST_AUTO_TEST_CASE(OkAnswerHasNoFailure) {
  BOOST_TEST(!answer_failure("{\"ok\":true}\n").has_value());
  BOOST_TEST(!answer_failure("{\"ok\":true,\"id\":7,\"access_token\":\"x\"}\n").has_value());
}

BOOST_AUTO_TEST_CASE(ErrorAnswerGivesItsCode) {
  const auto line = protocol::encode_error(std::string("\"error\""),
                                           make_error(ErrorCode::forbidden, "no \"error\":\"x\""));
  BOOST_TEST((answer_failure(line) == std::optional<ErrorCode>(ErrorCode::forbidden)));
}

BOOST_AUTO_TEST_CASE(UnreadableAnswerCountsAsInternal) {
  BOOST_TEST((answer_failure("garbage") == std::optional<ErrorCode>(ErrorCode::internal)));
}

BOOST_AUTO_TEST_CASE(CountedReplyCountsAndPassesTheLineOn) {
  std::string sent;
  Reply reply = counted_reply("ping", [&](std::string line) { sent = std::move(line); });
  reply("{\"ok\":true}\n");
  BOOST_TEST(sent == "{\"ok\":true}\n");
  BOOST_TEST(contains(metrics::agent_metrics().registry().render(),
                      "maskinporten_agent_requests_total{op=\"ping\",result=\"ok\"} 1\n"));
}

BOOST_AUTO_TEST_CASE(AltinnExchangesAreCountedApartFromMaskinportenExchanges) {
  int answered = 0;
  const auto done = [&](Result<int>) { ++answered; };
  metrics::counted_altinn_exchange<int>(done)(7);
  metrics::counted_altinn_exchange<int>(done)(make_error(ErrorCode::forbidden, "403"));
  BOOST_TEST(answered == 2);
  const std::string text = metrics::agent_metrics().registry().render();
  BOOST_TEST(contains(text, "maskinporten_agent_altinn_exchanges_total{outcome=\"ok\"} 1\n"), text);
  BOOST_TEST(contains(text, "maskinporten_agent_altinn_exchanges_total{outcome=\"forbidden\"} 1\n"));
  BOOST_TEST(contains(text, "maskinporten_agent_altinn_exchange_duration_seconds_count 2\n"));
  BOOST_TEST(contains(text, "maskinporten_agent_exchanges_total{outcome=\"ok\"} 0\n"));
  BOOST_TEST(contains(text, "maskinporten_agent_exchange_duration_seconds_count 0\n"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(metrics_op)

BOOST_AUTO_TEST_CASE(DecodesTheMetricsOp) {
  auto decoded = protocol::decode_request(R"({"op":"metrics","id":3})");
  const auto* request = std::get_if<protocol::Request>(&decoded);
  BOOST_TEST_REQUIRE(request != nullptr);
  BOOST_TEST(std::holds_alternative<protocol::MetricsRequest>(request->body));
  BOOST_TEST(protocol::encode_request(*request) == "{\"op\":\"metrics\",\"id\":3}\n");
}

BOOST_AUTO_TEST_CASE(MetricsOpTakesNoFields) {
  auto decoded = protocol::decode_request(R"({"op":"metrics","client":"a"})");
  const auto* bad = std::get_if<protocol::DecodeError>(&decoded);
  BOOST_TEST_REQUIRE(bad != nullptr);
  BOOST_TEST(contains(bad->error.message, "unknown field \"client\" in a metrics request"));
}

BOOST_AUTO_TEST_CASE(UnknownOpListsMetrics) {
  auto decoded = protocol::decode_request(R"({"op":"nope"})");
  const auto* bad = std::get_if<protocol::DecodeError>(&decoded);
  BOOST_TEST_REQUIRE(bad != nullptr);
  BOOST_TEST(contains(bad->error.message, "metrics"));
}

BOOST_AUTO_TEST_CASE(DecodesTheMetricsAnswer) {
  const auto text = protocol::decode_metrics_response(
      protocol::encode_ok(std::nullopt, R"({"metrics":"a 1\n# EOF\n"})"));
  BOOST_TEST_REQUIRE(text.ok(), (text.ok() ? "" : text.error().message));
  BOOST_TEST(*text == "a 1\n# EOF\n");
}

BOOST_AUTO_TEST_CASE(OwnUidAndRootMayReadMetrics) {
  BOOST_TEST(may_read_metrics(PeerCredentials{1, ::geteuid(), 0, {}}).ok());
  BOOST_TEST(may_read_metrics(PeerCredentials{1, 0, 0, {}}).ok());
}

BOOST_AUTO_TEST_CASE(OtherUidIsForbiddenInWords) {
  const uid_t other = ::geteuid() + 4242;
  std::string sent;
  // Refused before the state is looked at.
  handle_metrics(nullptr, PeerCredentials{1, other, 0, {}}, std::string("1"),
                 [](std::function<void()>) { BOOST_FAIL("nothing runs for a refused peer"); },
                 Clock::system(), [&](std::string line) { sent = std::move(line); });
  BOOST_TEST(contains(sent, "\"error\":\"forbidden\""), sent);
  BOOST_TEST(contains(sent, "[metrics] listen"), sent);
}

BOOST_AUTO_TEST_SUITE_END()


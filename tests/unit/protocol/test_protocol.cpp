#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <poll.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ostream>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "support/test_support.h"
#include "support/fake_agent.h"
#include "protocol/client.h"
#include "protocol/limits.h"
#include "protocol/messages.h"
#include "protocol/status.h"

using namespace mpa;
using namespace mpa::protocol;
namespace fs = std::filesystem;
using mpa::test::AfterAnswers;
using mpa::test::FakeAgent;
using mpa::test::TempDir;
using mpa::test::contains;
using mpa::test::why;

namespace {

Request decoded(std::string_view line) {
  auto result = decode_request(line);
  if (const auto* error = std::get_if<DecodeError>(&result)) {
    BOOST_TEST_REQUIRE(false, "refused: " + error->error.message);
  }
  return std::get<Request>(std::move(result));
}

DecodeError refused(std::string_view line) {
  auto result = decode_request(line);
  BOOST_TEST_REQUIRE(std::holds_alternative<DecodeError>(result), "accepted: " + std::string(line));
  DecodeError error = std::get<DecodeError>(std::move(result));
  BOOST_TEST(error.error.code == ErrorCode::invalid_request);
  return error;
}

// The refusal's message, for checks on its words.
std::string refusal(std::string_view line) { return refused(line).error.message; }

TokenRequest decoded_token(std::string_view line) {
  Request request = decoded(line);
  BOOST_TEST_REQUIRE(std::holds_alternative<TokenRequest>(request.body));
  return std::get<TokenRequest>(request.body);
}

VerifyTokenRequest decoded_verify(std::string_view line) {
  Request request = decoded(line);
  BOOST_TEST_REQUIRE(std::holds_alternative<VerifyTokenRequest>(request.body));
  return std::get<VerifyTokenRequest>(request.body);
}

bool is_one_json_object_line(const std::string& line) {
  if (line.empty() || line.back() != '\n' || line.find('\n') != line.size() - 1) return false;
  rapidjson::Document document;
  document.Parse<rapidjson::kParseValidateEncodingFlag>(line.data(), line.size() - 1);
  return !document.HasParseError() && document.IsObject();
}

constexpr std::chrono::milliseconds kTestTimeout{10000};
constexpr const char* kTokenAnswer =
    "{\"ok\":true,\"access_token\":\"eyJ.abc.def\",\"token_type\":\"Bearer\",\"expires_in\":118,"
    "\"expires_at\":1795391934,\"scope\":\"altinn:enduser\"}\n";

// The typed questions the CLI asks, through request() and the decoders.
Result<TokenResponse> ask_token(AgentClient& client, const TokenRequest& request) {
  auto line = client.request(Request{std::nullopt, request});
  if (!line) return std::move(line).error();
  return decode_token_response(*line);
}

Status ask(AgentClient& client, RequestBody body) {
  auto line = client.request(Request{std::nullopt, std::move(body)});
  if (!line) return std::move(line).error();
  return decode_response_status(*line);
}

Result<StatusResponse> ask_status(AgentClient& client) {
  auto line = client.request(Request{std::nullopt, StatusRequest{}});
  if (!line) return std::move(line).error();
  return decode_status_response(*line);
}

AgentClient connected(const FakeAgent& agent, std::chrono::milliseconds timeout = kTestTimeout) {
  auto client = AgentClient::connect(agent.path(), timeout);
  BOOST_TEST_REQUIRE(client.ok(), why(client));
  return std::move(client).value();
}

TokenRequest scopes_only(std::vector<std::string> scopes) {
  TokenRequest request;
  request.grant.scopes = std::move(scopes);
  return request;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(RequestDecoding)

BOOST_AUTO_TEST_CASE(DecodesTokenRequestWithEveryField) {
  const TokenRequest r = decoded_token(
      R"({"op":"token","client":"default","scopes":["altinn:enduser","b:c"],)"
      R"("resource":["https://tt02.altinn.no"],"consumer_org":"999888777","iss_onbehalfof":"x",)"
      R"("pid":"12345678901","authorization_details":[ {"type" : "urn:altinn:systemuser",)"
      R"("systemuser_org":{"authority":"iso6523-actorid-upis","ID":"0192:999888777"}} ],)"
      R"("min_ttl":30,"exchange":"altinn"})");
  BOOST_TEST(r.client == "default");
  BOOST_TEST(r.grant.scopes == (std::vector<std::string>{"altinn:enduser", "b:c"}));
  BOOST_TEST(r.grant.resource == std::vector<std::string>{"https://tt02.altinn.no"});
  BOOST_TEST(r.grant.consumer_org.value_or("") == "999888777");
  BOOST_TEST(r.grant.iss_onbehalfof.value_or("") == "x");
  BOOST_TEST(r.grant.pid.value_or("") == "12345678901");
  BOOST_TEST(r.grant.authorization_details.value_or("") ==
             R"([{"type":"urn:altinn:systemuser","systemuser_org":{"authority":"iso6523-actorid-upis","ID":"0192:999888777"}}])");
  BOOST_TEST(r.min_ttl.value_or(-1) == 30);
  BOOST_TEST(r.exchange.value_or("") == "altinn");
}

BOOST_AUTO_TEST_CASE(TokenRequestWithOnlyScopesLeavesTheRestUnset) {
  const TokenRequest r = decoded_token(R"({"op":"token","scopes":["altinn:enduser"]})");
  BOOST_TEST(r.client.empty());
  BOOST_TEST(r.grant.resource.empty());
  BOOST_TEST(!r.grant.consumer_org);
  BOOST_TEST(!r.grant.authorization_details);
  BOOST_TEST(!r.min_ttl);
  BOOST_TEST(!r.exchange);
}

BOOST_AUTO_TEST_CASE(DecodesStatusPingInvalidateAndVerifyAltinn) {
  BOOST_TEST(std::holds_alternative<StatusRequest>(decoded(R"({"op":"status"})").body));
  BOOST_TEST(std::holds_alternative<PingRequest>(decoded(R"({"op":"ping"})").body));
  const Request invalidate =
      decoded(R"({"op":"invalidate","client":"default","scopes":["altinn:enduser"],"exchange":"altinn"})");
  BOOST_TEST_REQUIRE(std::holds_alternative<InvalidateRequest>(invalidate.body));
  BOOST_TEST(std::get<InvalidateRequest>(invalidate.body).target.client == "default");
  BOOST_TEST(std::get<InvalidateRequest>(invalidate.body).target.exchange.value_or("") == "altinn");
  const Request verify = decoded(R"({"op":"verify_altinn","token":"eyJ.x.y"})");
  BOOST_TEST_REQUIRE(std::holds_alternative<VerifyAltinnRequest>(verify.body));
  BOOST_TEST(std::get<VerifyAltinnRequest>(verify.body).token == "eyJ.x.y");
}

BOOST_AUTO_TEST_CASE(StringIdIsKeptAsCompactJson) {
  BOOST_TEST(decoded(R"({"id" : "req-1\"x", "op":"ping"})").id_json.value_or("") == R"("req-1\"x")");
}

BOOST_AUTO_TEST_CASE(IntegerIdsAreKept) {
  BOOST_TEST(decoded(R"({"op":"ping","id":42})").id_json.value_or("") == "42");
  BOOST_TEST(decoded(R"({"op":"ping","id":-7})").id_json.value_or("") == "-7");
  BOOST_TEST(decoded(R"({"op":"ping","id":18446744073709551615})").id_json.value_or("") ==
             "18446744073709551615");
}

BOOST_AUTO_TEST_CASE(NoIdMeansNone) { BOOST_TEST(!decoded(R"({"op":"ping"})").id_json); }

BOOST_AUTO_TEST_CASE(AcceptsNonAsciiUtf8AndSurroundingWhitespace) {
  BOOST_TEST(decoded_token(" {\"op\":\"token\",\"client\":\"bl\xC3\xA5\",\"scopes\":[\"a\"]} \t").client ==
             "bl\xC3\xA5");
}

BOOST_AUTO_TEST_CASE(ErrorKeepsTheIdItCouldRead) {
  const DecodeError error = refused(R"({"op":"token","id":"abc","scopes":[]})");
  BOOST_TEST(error.id_json.value_or("") == R"("abc")");
  BOOST_TEST(refused(R"({"id":7,"op":"nope"})").id_json.value_or("") == "7");
}

BOOST_AUTO_TEST_CASE(RefusesNonJson) {
  BOOST_TEST(contains(refusal("op=token"), "not valid JSON"));
  BOOST_TEST(contains(refusal(""), "not valid JSON"));
}

BOOST_AUTO_TEST_CASE(RefusesAnythingButWhitespaceAfterTheValue) {
  using namespace std::string_literals;
  BOOST_TEST(contains(refusal(R"({"op":"ping"} x)"), "not valid JSON"));
  BOOST_TEST(contains(refusal(R"({"op":"ping"}{"op":"ping"})"), "not valid JSON"));
  BOOST_TEST(refusal("{\"op\":\"ping\"}\0garbage"s) ==
             "the request holds a NUL byte (at byte 13); JSON text has none");
  BOOST_TEST(refusal("{\"op\":\"ping\"}\0"s) == "the request holds a NUL byte (at byte 13); JSON text has none");
  BOOST_TEST(refused("{\"op\":\"ping\"}\0"s).close_connection);
  BOOST_TEST(std::holds_alternative<PingRequest>(decoded(" {\"op\":\"ping\"} \t\r").body));
}

BOOST_AUTO_TEST_CASE(NamesANulInsideAStringAsANul) {
  using namespace std::string_literals;
  BOOST_TEST(refusal("{\"op\":\"pi\0ng\"}"s) == "the request holds a NUL byte (at byte 9); JSON text has none");
  // Written as an escape it is JSON, and the op is then simply unknown.
  BOOST_TEST(contains(refusal(R"({"op":"pi\u0000ng"})"), "op"));
}

BOOST_AUTO_TEST_CASE(RefusesArrayAndOtherNonObjects) {
  BOOST_TEST(contains(refusal(R"([{"op":"ping"}])"), "must be a JSON object, not an array"));
  BOOST_TEST(contains(refusal(R"("ping")"), "not a string"));
  BOOST_TEST(contains(refusal("null"), "not null"));
}

BOOST_AUTO_TEST_CASE(RefusesTrailingData) {
  refused(R"({"op":"ping"} x)");
  refused(R"({"op":"ping"}{"op":"ping"})");
}

BOOST_AUTO_TEST_CASE(RefusesMissingOp) {
  BOOST_TEST(contains(refusal(R"({"scopes":["a"]})"), "needs \"op\""));
}

BOOST_AUTO_TEST_CASE(RefusesOpThatIsNotAString) {
  BOOST_TEST(contains(refusal(R"({"op":1})"), "op must be a string, not a number"));
}

BOOST_AUTO_TEST_CASE(RefusesUnknownOpAndSuggestsTheNearest) {
  BOOST_TEST(contains(refusal(R"({"op":"tokn"})"), "did you mean \"token\"?"));
  BOOST_TEST(contains(refusal(R"({"op":"shutdown"})"), "the ops are token, status"));
}

BOOST_AUTO_TEST_CASE(RefusesUnknownFieldAndSuggestsTheNearest) {
  BOOST_TEST(refusal(R"({"op":"token","scope":["a"]})") ==
             "unknown field \"scope\" in a token request; did you mean \"scopes\"?");
  BOOST_TEST(contains(refusal(R"({"op":"token","scopes":["a"],"colour":"red"})"),
                      "unknown field \"colour\" in a token request (its fields: scopes, client"));
}

BOOST_AUTO_TEST_CASE(RefusesLongUnknownFieldNameWithoutEchoingAllOfIt) {
  const std::string name(5000, 'x');
  const std::string message = refusal(R"({"op":"token","scopes":["a"],")" + name + R"(":1})");
  BOOST_TEST(contains(message, "unknown field"));
  BOOST_TEST(message.size() < 300u);
}

BOOST_AUTO_TEST_CASE(RefusesDuplicateField) {
  BOOST_TEST(contains(refusal(R"({"op":"token","scopes":["a"],"scopes":["b"]})"),
                      "\"scopes\" appears twice"));
}

BOOST_AUTO_TEST_CASE(RefusesMissingScopes) {
  BOOST_TEST(contains(refusal(R"({"op":"token"})"), "scopes is required"));
  BOOST_TEST(contains(refusal(R"({"op":"invalidate"})"), "scopes is required"));
}

BOOST_AUTO_TEST_CASE(RefusesEmptyScopes) {
  BOOST_TEST(contains(refusal(R"({"op":"token","scopes":[]})"), "at least one scope"));
}

BOOST_AUTO_TEST_CASE(RefusesScopesThatAreNotAnArray) {
  BOOST_TEST(contains(refusal(R"({"op":"token","scopes":"a b"})"), "scopes must be an array of strings, not a string"));
}

BOOST_AUTO_TEST_CASE(RefusesScopesHoldingANumberOrEmptyString) {
  BOOST_TEST(contains(refusal(R"({"op":"token","scopes":["a",5]})"), "scopes[1] must be a string, not a number"));
  BOOST_TEST(contains(refusal(R"({"op":"token","scopes":[""]})"), "scopes[0] must not be empty"));
}

BOOST_AUTO_TEST_CASE(RefusesScopeWithASpaceSinceTheGrantJoinsScopesWithSpaces) {
  BOOST_TEST(contains(refusal(R"({"op":"token","scopes":["a b"]})"), "scopes[0] contains a space"));
}

BOOST_AUTO_TEST_CASE(RefusesTooManyOrTooLongScopes) {
  std::string many = R"({"op":"token","scopes":[)";
  for (std::size_t i = 0; i <= kMaxScopes; ++i) many += (i ? ",\"s" : "\"s") + std::to_string(i) + "\"";
  BOOST_TEST(contains(refusal(many + "]}"), "scopes holds more than 32 entries"));
  const std::string long_scope(kMaxScopeBytes + 1, 's');
  BOOST_TEST(contains(refusal(R"({"op":"token","scopes":[")" + long_scope + "\"]}"), "longer than 256 bytes"));
}

BOOST_AUTO_TEST_CASE(RefusesIssOnBehalfOfLongerThanTheGrantTakes) {
  const std::string name(kMaxOnBehalfOfBytes + 1, 'o');
  BOOST_TEST(refusal(R"({"op":"token","scopes":["a"],"iss_onbehalfof":")" + name + "\"}") ==
             "iss_onbehalfof is longer than 255 bytes");
}

BOOST_AUTO_TEST_CASE(RefusesControlCharactersInStrings) {
  BOOST_TEST(contains(refusal(R"({"op":"token","scopes":["a"],"client":"x\u0001"})"), "control characters"));
  BOOST_TEST(contains(refusal(R"({"op":"token","scopes":["a\u0000b"]})"), "control characters"));
}

BOOST_AUTO_TEST_CASE(RefusesEmptyClient) {
  BOOST_TEST(contains(refusal(R"({"op":"token","scopes":["a"],"client":""})"), "client must not be empty"));
}

BOOST_AUTO_TEST_CASE(RefusesResourceThatIsNotAnArrayOfStrings) {
  BOOST_TEST(contains(refusal(R"({"op":"token","scopes":["a"],"resource":"https://x"})"), "resource must be an array"));
  BOOST_TEST(contains(refusal(R"({"op":"token","scopes":["a"],"resource":[{}]})"), "resource[0] must be a string"));
}

BOOST_AUTO_TEST_CASE(RefusesNegativeFractionalOrHugeMinTtl) {
  for (const char* value : {"-1", "30.5", "30.0", "86401", "1e3", "\"30\"", "99999999999999999999"}) {
    BOOST_TEST(contains(refusal(std::string(R"({"op":"token","scopes":["a"],"min_ttl":)") + value + "}"),
                        "min_ttl must be a whole number of seconds from 0 to 86400"),
               value);
  }
}

BOOST_AUTO_TEST_CASE(AcceptsMinTtlAtItsBounds) {
  BOOST_TEST(decoded_token(R"({"op":"token","scopes":["a"],"min_ttl":0})").min_ttl.value_or(-1) == 0);
  BOOST_TEST(decoded_token(R"({"op":"token","scopes":["a"],"min_ttl":86400})").min_ttl.value_or(-1) == 86400);
}

BOOST_AUTO_TEST_CASE(RefusesMinTtlInInvalidate) {
  BOOST_TEST(contains(refusal(R"({"op":"invalidate","scopes":["a"],"min_ttl":5})"),
                      "unknown field \"min_ttl\" in an invalidate request"));
}

BOOST_AUTO_TEST_CASE(RefusesExchangeOtherThanAltinn) {
  BOOST_TEST(contains(refusal(R"({"op":"token","scopes":["a"],"exchange":"foo"})"), "exchange must be \"altinn\""));
  refused(R"({"op":"token","scopes":["a"],"exchange":true})");
}

BOOST_AUTO_TEST_CASE(RefusesAuthorizationDetailsOfTheWrongShape) {
  BOOST_TEST(contains(refusal(R"({"op":"token","scopes":["a"],"authorization_details":{"type":"x"}})"),
                      "must be a non-empty array of objects"));
  BOOST_TEST(contains(refusal(R"({"op":"token","scopes":["a"],"authorization_details":[]})"),
                      "must be a non-empty array of objects"));
  BOOST_TEST(contains(refusal(R"({"op":"token","scopes":["a"],"authorization_details":["x"]})"),
                      "holds a string"));
  BOOST_TEST(contains(refusal(R"({"op":"token","scopes":["a"],"authorization_details":[{"a":{"b":1,"b":2}}]})"),
                      "key twice"));
}

BOOST_AUTO_TEST_CASE(RefusesAuthorizationDetailsOver8KiB) {
  const std::string big(kMaxAuthorizationDetailsBytes, 'x');
  BOOST_TEST(contains(refusal(R"({"op":"token","scopes":["a"],"authorization_details":[{"type":")" + big + "\"}]}"),
                      "longer than 8192 bytes"));
}

BOOST_AUTO_TEST_CASE(RefusesStatusAndPingWithExtraFields) {
  BOOST_TEST(refusal(R"({"op":"status","verbose":true})") ==
             "unknown field \"verbose\" in a status request (it takes only \"op\" and \"id\")");
  refused(R"({"op":"ping","scopes":["a"]})");
}

BOOST_AUTO_TEST_CASE(RefusesVerifyAltinnWithoutOrWithBadToken) {
  BOOST_TEST(contains(refusal(R"({"op":"verify_altinn"})"), "needs \"token\""));
  BOOST_TEST(contains(refusal(R"({"op":"verify_altinn","token":5})"), "token must be a string"));
  const std::string huge(kMaxVerifyTokenBytes + 1, 'e');
  BOOST_TEST(contains(refusal(R"({"op":"verify_altinn","token":")" + huge + "\"}"), "longer than 16384 bytes"));
}

BOOST_AUTO_TEST_CASE(RefusesIdThatIsNotAStringOrInteger) {
  for (const char* id : {"{}", "[1]", "1.5", "true", "null"}) {
    const DecodeError error = refused(std::string(R"({"op":"ping","id":)") + id + "}");
    BOOST_TEST(contains(error.error.message, "id must be a string or an integer"), id);
    BOOST_TEST(!error.id_json);
  }
}

BOOST_AUTO_TEST_CASE(RefusesIdLongerThan256Bytes) {
  BOOST_TEST(contains(refusal(R"({"op":"ping","id":")" + std::string(kMaxIdBytes + 1, 'i') + "\"}"),
                      "id is longer than 256 bytes"));
}

BOOST_AUTO_TEST_CASE(RefusesDeepNestingBeforeParsing) {
  const std::string deep = std::string(kMaxRequestNestingDepth, '[') + std::string(kMaxRequestNestingDepth, ']');
  BOOST_TEST(contains(refusal(R"({"op":"ping","id":)" + deep + "}"), "the request nests arrays or objects deeper than 9 levels"));
  const std::string very_deep(kMaxRequestLineBytes, '[');
  BOOST_TEST(contains(refusal(very_deep), "the request nests arrays or objects deeper than 9 levels"));
}

BOOST_AUTO_TEST_CASE(SaysWhetherTheConnectionMustClose) {
  const std::string deep = std::string(kMaxRequestNestingDepth, '[') + std::string(kMaxRequestNestingDepth, ']');
  // DESIGN.md: a line too long, or one that is not a JSON object, closes it.
  for (const std::string& line : {std::string(kMaxRequestLineBytes + 1, ' '), std::string("{"),
                                  std::string("[1]"), std::string("\"op\""), deep}) {
    const DecodeError error = refused(line);
    BOOST_TEST(error.close_connection, line.substr(0, 20) + ": " + error.error.message);
  }
  // An object with a bad op, field or id, or nested too deep, leaves it open.
  for (const std::string& line : {std::string(R"({"op":"nope"})"), std::string(R"({"op":"ping","x":1})"),
                                  std::string(R"({"op":"ping","id":true})"),
                                  R"({"op":"ping","id":)" + deep + "}"}) {
    const DecodeError error = refused(line);
    BOOST_TEST(!error.close_connection, line + ": " + error.error.message);
  }
}

BOOST_AUTO_TEST_CASE(BracketsInsideStringsDoNotCountAsNesting) {
  const std::string brackets(100, '[');
  BOOST_TEST(decoded(R"({"op":"ping","id":")" + brackets + "\"}").id_json.has_value());
}

BOOST_AUTO_TEST_CASE(RefusesInvalidUtf8) {
  BOOST_TEST(contains(refusal("{\"op\":\"token\",\"scopes\":[\"a\xFF\"]}"), "not valid JSON"));
  BOOST_TEST(contains(refusal("{\"op\":\"token\",\"scopes\":[\"\xC0\xAF\"]}"), "not valid JSON"));
}

BOOST_AUTO_TEST_CASE(RefusesLoneSurrogateEscapes) {
  BOOST_TEST(contains(refusal(R"({"op":"token","scopes":["\udc00"]})"), "not valid UTF-8"));
  refused(R"({"op":"token","scopes":["\ud800"]})");
  refused(R"({"op":"ping","id":"\udfff"})");
}

BOOST_AUTO_TEST_CASE(RefusesOversizedLine) {
  std::string line = R"({"op":"ping","id":")";
  line += std::string(kMaxRequestLineBytes, 'x') + "\"}";
  BOOST_TEST(contains(refusal(line), "longer than 65536 bytes"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(RequestEncoding)

BOOST_AUTO_TEST_CASE(EncodedTokenRequestDecodesToTheSameRequest) {
  const std::string line =
      R"({"op":"token","id":"r1","client":"default","scopes":["a:b","c"],"resource":["https://x"],)"
      R"("consumer_org":"999888777","iss_onbehalfof":"o","pid":"1","authorization_details":[{"type":"t"}],)"
      R"("min_ttl":60,"exchange":"altinn"})";
  const std::string encoded = encode_request(decoded(line));
  BOOST_TEST(encoded == line + "\n");
  BOOST_TEST(encode_request(decoded(encoded.substr(0, encoded.size() - 1))) == encoded);
}

BOOST_AUTO_TEST_CASE(EncodesEachOpAsOneLine) {
  for (const char* line : {R"({"op":"status"})", R"({"op":"ping","id":3})",
                           R"({"op":"invalidate","scopes":["a"]})", R"({"op":"verify_altinn","token":"t"})"}) {
    BOOST_TEST(encode_request(decoded(line)) == std::string(line) + "\n");
  }
}

BOOST_AUTO_TEST_CASE(InvalidateNeverCarriesMinTtl) {
  TokenRequest target = scopes_only({"a"});
  target.min_ttl = 30;
  BOOST_TEST(encode_request(Request{std::nullopt, InvalidateRequest{target}}) ==
             "{\"op\":\"invalidate\",\"scopes\":[\"a\"]}\n");
}

BOOST_AUTO_TEST_CASE(MalformedAuthorizationDetailsTextStaysJsonAndIsRefused) {
  TokenRequest request = scopes_only({"a"});
  request.grant.authorization_details = "[{\"type\":";
  const std::string line = encode_request(Request{std::nullopt, request});
  BOOST_TEST(is_one_json_object_line(line));
  BOOST_TEST(contains(refusal(line), "authorization_details must be a non-empty array"));
}

BOOST_AUTO_TEST_CASE(NormalizesAuthorizationDetailsToCompactJson) {
  auto compact = normalize_authorization_details("[ { \"type\" : \"urn:altinn:consent\" } ]\n");
  BOOST_TEST_REQUIRE(compact.ok(), why(compact));
  BOOST_TEST(*compact == R"([{"type":"urn:altinn:consent"}])");
}

BOOST_AUTO_TEST_CASE(NormalizeRefusesNonJsonAndNonArrays) {
  BOOST_TEST(contains(why(normalize_authorization_details("[{")), "not valid JSON"));
  BOOST_TEST(contains(why(normalize_authorization_details("{}")), "non-empty array"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ResponseEncoding)

BOOST_AUTO_TEST_CASE(TokenResponseHasDesignShape) {
  const TokenResponse response{"eyJ.a.b", "Bearer", 118, 1795391934, "altinn:enduser"};
  BOOST_TEST(encode_token_response(std::nullopt, response) ==
             R"({"ok":true,"access_token":"eyJ.a.b","token_type":"Bearer","expires_in":118,)"
             R"("expires_at":1795391934,"scope":"altinn:enduser"})"
             "\n");
}

BOOST_AUTO_TEST_CASE(IdComesRightAfterOk) {
  BOOST_TEST(encode_error(std::string("\"r1\""), make_error(ErrorCode::invalid_scope, "no")) ==
             "{\"ok\":false,\"id\":\"r1\",\"error\":\"invalid_scope\",\"message\":\"no\"}\n");
  BOOST_TEST(encode_ok(std::string("7")) == "{\"ok\":true,\"id\":7}\n");
}

BOOST_AUTO_TEST_CASE(OkCarriesTheGivenFields) {
  BOOST_TEST(encode_ok(std::nullopt, R"({"version":"0.1.0","cache":{"entries":3}})") ==
             "{\"ok\":true,\"version\":\"0.1.0\",\"cache\":{\"entries\":3}}\n");
}

BOOST_AUTO_TEST_CASE(OkWithBrokenFieldsBecomesInternalError) {
  for (const char* fields : {"[1]", "{", R"({"ok":false})", R"({"id":2})"}) {
    const std::string line = encode_ok(std::nullopt, fields);
    BOOST_TEST(contains(line, "\"ok\":false,\"error\":\"internal\""), fields);
    BOOST_TEST(is_one_json_object_line(line));
  }
}

BOOST_AUTO_TEST_CASE(ErrorMessageWithNewlinesAndBadUtf8StaysOneValidLine) {
  const std::string line =
      encode_error(std::nullopt, make_error(ErrorCode::invalid_grant, "MP-001\nbad \xFF byte \"quoted\""));
  BOOST_TEST(is_one_json_object_line(line));
  BOOST_TEST(contains(line, "bad \xEF\xBF\xBD byte \\\"quoted\\\""));
}

BOOST_AUTO_TEST_CASE(LocalConfigErrorIsSpelledInternalOnTheWire) {
  BOOST_TEST(contains(encode_error(std::nullopt, make_error(ErrorCode::invalid_config, "x")), "\"error\":\"internal\""));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(StatusAnswer)

StatusResponse full_status() {
  StatusResponse status;
  status.version = "1.2.3";
  status.uptime_seconds = 75;
  ClientStatus client;
  client.name = "default";
  client.client_id = "0ee1";
  client.token_present = true;
  client.logged_in = false;
  client.token_label = "Virksomhet";
  client.certificate_subject = "CN=Test";
  client.certificate_not_after = 1795391934;
  status.clients = std::vector<ClientStatus>{client};
  status.cache = CacheStatus{3, 0, 120, 5, 5, 1};
  status.workers = WorkerStatus{4, 3, 1};
  status.signing = std::vector<SigningStatus>{{"token=agent", 1, 1, 2, 80}};
  return status;
}

BOOST_AUTO_TEST_CASE(EncodesEveryPartInTheWireOrder) {
  BOOST_TEST(encode_status_response(std::string("7"), full_status()) ==
             R"({"ok":true,"id":7,"version":"1.2.3","uptime_seconds":75,"clients":[{"name":"default",)"
             R"("client_id":"0ee1","token_present":true,"logged_in":false,"token_label":"Virksomhet",)"
             R"("certificate_subject":"CN=Test","certificate_not_after":1795391934,"last_error":null}],)"
             R"("cache":{"entries":3,"in_flight":0,"hits":120,"misses":5,"exchanges":5,"held":1},)"
             R"("workers":{"size":4,"exchanging":3,"waiting":1},)"
             R"("signing":[{"token":"token=agent","threads":1,"signing":1,"queued":2,"oldest_wait_ms":80}]})"
             "\n");
}

BOOST_AUTO_TEST_CASE(DecodesWhatItEncodes) {
  StatusResponse status = full_status();
  status.clients->front().last_error = "hsm_error: token removed";
  const std::string line = encode_status_response(std::nullopt, status);
  const auto decoded = decode_status_response(std::string_view(line).substr(0, line.size() - 1));
  BOOST_TEST_REQUIRE(decoded.ok(), why(decoded));
  BOOST_TEST(encode_status_response(std::nullopt, *decoded) == line);
}

BOOST_AUTO_TEST_CASE(LeavesMissingPartsUnset) {
  const auto decoded = decode_status_response(R"({"ok":true,"clients":[1,{"name":5}]})");
  BOOST_TEST_REQUIRE(decoded.ok(), why(decoded));
  BOOST_TEST(!decoded->version);
  BOOST_TEST(!decoded->cache);
  BOOST_TEST(!decoded->workers);
  BOOST_TEST(!decoded->signing);
  BOOST_TEST_REQUIRE(decoded->clients->size() == 1u);
  BOOST_TEST(!decoded->clients->front().name);
}

BOOST_AUTO_TEST_CASE(RefusalOrGarbageIsAnErrorInWords) {
  const auto refused = decode_status_response(R"({"ok":false,"error":"forbidden","message":"not you"})");
  BOOST_TEST_REQUIRE(!refused.ok());
  BOOST_TEST(refused.error().code == ErrorCode::forbidden);
  BOOST_TEST(refused.error().message == "not you");
  BOOST_TEST(why(decode_status_response("{")).rfind("the agent's answer is not JSON: ", 0) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ResponseDecoding)

BOOST_AUTO_TEST_CASE(DecodesTokenAnswer) {
  auto token = decode_token_response(std::string_view(kTokenAnswer).substr(0, std::strlen(kTokenAnswer) - 1));
  BOOST_TEST_REQUIRE(token.ok(), why(token));
  BOOST_TEST(token->access_token == "eyJ.abc.def");
  BOOST_TEST(token->expires_in == 118);
  BOOST_TEST(token->expires_at == 1795391934);
  BOOST_TEST(token->scope == "altinn:enduser");
}

BOOST_AUTO_TEST_CASE(ErrorAnswerBecomesErrorWithItsCode) {
  for (ErrorCode code : {ErrorCode::invalid_request, ErrorCode::forbidden, ErrorCode::unknown_client,
                         ErrorCode::invalid_scope, ErrorCode::invalid_grant, ErrorCode::invalid_client,
                         ErrorCode::unavailable, ErrorCode::hsm_error, ErrorCode::invalid_token,
                         ErrorCode::internal}) {
    const Status status = decode_response_status(encode_error(std::nullopt, make_error(code, "words")));
    BOOST_TEST_REQUIRE(!status.ok());
    BOOST_TEST(status.error().code == code);
    BOOST_TEST(status.error().message == "words");
  }
}

BOOST_AUTO_TEST_CASE(UnknownErrorCodeBecomesInternalAndKeepsTheCode) {
  const Status status = decode_response_status(R"({"ok":false,"error":"quota_exceeded","message":"slow down"})");
  BOOST_TEST_REQUIRE(!status.ok());
  BOOST_TEST(status.error().code == ErrorCode::internal);
  BOOST_TEST(status.error().message == "quota_exceeded: slow down");
}

BOOST_AUTO_TEST_CASE(RefusesAnswersThatAreNotResponses) {
  BOOST_TEST(contains(why(decode_response_status("nope")), "not JSON"));
  BOOST_TEST(contains(why(decode_response_status("[]")), "not a JSON object"));
  BOOST_TEST(contains(why(decode_response_status(R"({"ok":"yes"})")), "no \"ok\""));
  BOOST_TEST(contains(why(decode_response_status(R"({"ok":false})")), "no error code"));
}

BOOST_AUTO_TEST_CASE(RefusesTokenAnswerWithoutAccessToken) {
  const auto token = decode_token_response(R"({"ok":true,"token_type":"Bearer","expires_in":1,"expires_at":2,"scope":"a"})");
  BOOST_TEST_REQUIRE(!token.ok());
  BOOST_TEST(token.error().code == ErrorCode::internal);
  BOOST_TEST(contains(token.error().message, "access_token"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(Client)

BOOST_AUTO_TEST_CASE(TokenSendsOneRequestLineAndReadsTheAnswer) {
  std::string access_token;
  FakeAgent agent({kTokenAnswer});
  {
    AgentClient client = connected(agent);
    TokenRequest request = scopes_only({"altinn:enduser"});
    request.min_ttl = 30;
    auto token = ask_token(client, request);
    BOOST_TEST_REQUIRE(token.ok(), why(token));
    access_token = token->access_token;
  }
  BOOST_TEST(access_token == "eyJ.abc.def");
  BOOST_TEST_REQUIRE(agent.received().size() == 1u);
  BOOST_TEST(agent.received()[0] == R"({"op":"token","scopes":["altinn:enduser"],"min_ttl":30})");
}

BOOST_AUTO_TEST_CASE(AgentErrorComesBackWithItsCode) {
  FakeAgent agent({"{\"ok\":false,\"error\":\"invalid_scope\",\"message\":\"not yours\"}\n"});
  AgentClient client = connected(agent);
  auto token = ask_token(client, scopes_only({"x"}));
  BOOST_TEST_REQUIRE(!token.ok());
  BOOST_TEST(token.error().code == ErrorCode::invalid_scope);
  BOOST_TEST(token.error().message == "not yours");
}

BOOST_AUTO_TEST_CASE(SeveralRequestsShareOneConnectionInOrder) {
  FakeAgent agent({"{\"ok\":true}\n", "{\"ok\":true,\"version\":\"0.1.0\"}\n", "{\"ok\":true}\n"});
  {
    AgentClient client = connected(agent);
    BOOST_TEST(ask(client, PingRequest{}).ok());
    auto status = ask_status(client);
    BOOST_TEST_REQUIRE(status.ok(), why(status));
    BOOST_TEST(status->version.value_or("") == "0.1.0");
    BOOST_TEST(ask(client, InvalidateRequest{scopes_only({"a"})}).ok());
  }
  BOOST_TEST(agent.received() == (std::vector<std::string>{R"({"op":"ping"})", R"({"op":"status"})",
                                                           R"({"op":"invalidate","scopes":["a"]})"}));
}

BOOST_AUTO_TEST_CASE(AnswerSplitAcrossWritesIsReassembled) {
  FakeAgent agent({std::string(kTokenAnswer)});
  AgentClient client = connected(agent);
  BOOST_TEST(client.send_raw("{\"op\":").ok());
  BOOST_TEST(client.send_raw("\"ping\"}\n").ok());
  auto line = client.read_line();
  BOOST_TEST_REQUIRE(line.ok(), why(line));
  BOOST_TEST(*line + "\n" == kTokenAnswer);
}

BOOST_AUTO_TEST_CASE(AgentThatClosesWithoutAnsweringIsUnavailable) {
  FakeAgent agent({});
  AgentClient client = connected(agent);
  const Status ping = ask(client, PingRequest{});
  BOOST_TEST_REQUIRE(!ping.ok());
  BOOST_TEST(ping.error().code == ErrorCode::unavailable);
  BOOST_TEST(contains(ping.error().message, "closed the connection"));
}

BOOST_AUTO_TEST_CASE(AnswerCutOffBeforeItsNewlineIsAnError) {
  FakeAgent agent({"{\"ok\":tr"});
  AgentClient client = connected(agent);
  BOOST_TEST(contains(why(ask_status(client)), "in the middle of an answer"));
}

BOOST_AUTO_TEST_CASE(SilentAgentTimesOut) {
  FakeAgent agent({""}, AfterAnswers::wait_for_client_to_close);
  AgentClient client = connected(agent, std::chrono::milliseconds(100));
  const Status ping = ask(client, PingRequest{});
  BOOST_TEST_REQUIRE(!ping.ok());
  BOOST_TEST(ping.error().code == ErrorCode::unavailable);
  BOOST_TEST(contains(ping.error().message, "did not answer within 100 ms"));
}

BOOST_AUTO_TEST_CASE(AnswerLongerThanTheLimitIsRefused) {
  FakeAgent agent({std::string(kMaxResponseLineBytes + 2, 'a')}, AfterAnswers::wait_for_client_to_close);
  AgentClient client = connected(agent);
  BOOST_TEST(contains(why(ask_status(client)), "longer than 1048576 bytes"));
}

BOOST_AUTO_TEST_CASE(ConnectToMissingPathAsksWhetherTheAgentRuns) {
  TempDir dir;
  const std::string path = (dir.path / "agent.sock").string();
  auto client = AgentClient::connect(path, kTestTimeout);
  BOOST_TEST_REQUIRE(!client.ok());
  BOOST_TEST(client.error().code == ErrorCode::unavailable);
  BOOST_TEST(client.error().message ==
             path + " does not exist; is the agent running? (maskinporten-agent run --config FILE)");
}

BOOST_AUTO_TEST_CASE(ConnectToRegularFileSaysItIsNotASocket) {
  TempDir dir;
  const fs::path path = dir.path / "agent.sock";
  std::ofstream(path) << "x";
  BOOST_TEST(contains(why(AgentClient::connect(path.string(), kTestTimeout)), "is not a socket"));
}

BOOST_AUTO_TEST_CASE(ConnectToLeftoverSocketIsRefusedInWords) {
  TempDir dir;
  const std::string path = (dir.path / "agent.sock").string();
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
  BOOST_TEST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  ::close(fd);  // the file stays, nobody listens
  BOOST_TEST(why(AgentClient::connect(path, kTestTimeout)) ==
             "no agent is listening on " + path +
                 ": connection refused (the agent stopped and left its socket behind?)");
}

BOOST_AUTO_TEST_CASE(ConnectRefusesPathTooLongForAUnixSocket) {
  BOOST_TEST(contains(why(AgentClient::connect("/tmp/" + std::string(200, 'p'), kTestTimeout)),
                      "too long for a Unix socket"));
}

BOOST_AUTO_TEST_SUITE_END()

// The verify_token op on the wire.
BOOST_AUTO_TEST_SUITE(VerifyTokenOp)

BOOST_AUTO_TEST_CASE(DecodesTokenAndScopes) {
  const auto request = decoded_verify(R"({"op":"verify_token","token":"a.b.c","scopes":["x:y","z"]})");
  BOOST_TEST(request.token == "a.b.c");
  BOOST_TEST(request.scopes.size() == 2u);
}

BOOST_AUTO_TEST_CASE(ScopesAreOptional) {
  BOOST_TEST(decoded_verify(R"({"op":"verify_token","token":"a.b.c"})").scopes.empty());
}

BOOST_AUTO_TEST_CASE(TokenRequired) {
  BOOST_TEST(contains(refusal(R"({"op":"verify_token"})"), "needs \"token\""));
}

BOOST_AUTO_TEST_CASE(UnknownFieldRefused) {
  BOOST_TEST(contains(refusal(R"({"op":"verify_token","token":"a.b.c","scope":"x"})"),
                      "unknown field"));
}

BOOST_AUTO_TEST_CASE(EncodesWhatItDecodes) {
  Request request{std::nullopt, VerifyTokenRequest{"a.b.c", {"x:y"}}};
  const std::string line = encode_request(request);
  BOOST_TEST(line == "{\"op\":\"verify_token\",\"token\":\"a.b.c\",\"scopes\":[\"x:y\"]}\n");
  BOOST_TEST(decoded_verify(line.substr(0, line.size() - 1)).scopes.front() == "x:y");
}

BOOST_AUTO_TEST_SUITE_END()

// The [verify] table and the verify_token request on the wire.
#include <boost/test/unit_test.hpp>

#include <string>
#include <variant>

#include "agent/config/config.h"
#include "protocol/messages.h"

using namespace mpa;

namespace {

const std::string kBase =
    "[agent]\n"
    "socket = \"/tmp/mpa-test/agent.sock\"\n"
    "[pkcs11]\n"
    "module = \"/usr/lib/softhsm/libsofthsm2.so\"\n"
    "pin_env = \"MPA_TEST_PIN\"\n"
    "[[client]]\n"
    "client_id = \"0ee1e2a9-client\"\n"
    "environment = \"test\"\n"
    "key = \"pkcs11:token=t;object=k;type=private\"\n"
    "scopes = [\"altinn:enduser\"]\n";

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string refusal(const std::string& verify_table) {
  auto config = parse_config(kBase + verify_table, "/tmp/agent.toml");
  BOOST_TEST_REQUIRE(!config.ok(), "expected a refusal of " << verify_table);
  return config.error().message;
}

protocol::VerifyTokenRequest decoded(const std::string& line) {
  auto result = protocol::decode_request(line);
  const auto* error = std::get_if<protocol::DecodeError>(&result);
  BOOST_TEST_REQUIRE(!error, (error ? error->error.message : ""));
  auto& body = std::get<protocol::Request>(result).body;
  BOOST_TEST_REQUIRE(std::holds_alternative<protocol::VerifyTokenRequest>(body));
  return std::get<protocol::VerifyTokenRequest>(body);
}

std::string decode_refusal(const std::string& line) {
  auto result = protocol::decode_request(line);
  BOOST_TEST_REQUIRE(std::holds_alternative<protocol::DecodeError>(result));
  return std::get<protocol::DecodeError>(result).error.message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(VerifySection)

BOOST_AUTO_TEST_CASE(AbsentMeansNoIssuer) {
  auto config = parse_config(kBase, "/tmp/agent.toml");
  BOOST_TEST_REQUIRE(config.ok(), (config.ok() ? "" : config.error().message));
  BOOST_TEST(!config->verify_issuer.has_value());
}

BOOST_AUTO_TEST_CASE(EnvironmentGivesDigdirsIssuer) {
  auto config = parse_config(kBase + "[verify]\nenvironment = \"prod\"\nleeway_seconds = 5\n",
                             "/tmp/agent.toml");
  BOOST_TEST_REQUIRE(config.ok(), (config.ok() ? "" : config.error().message));
  BOOST_TEST(*config->verify_issuer == "https://maskinporten.no/");
  BOOST_TEST(config->verify_leeway_seconds == 5);
}

BOOST_AUTO_TEST_CASE(IssuerTakenAsGiven) {
  auto config = parse_config(kBase + "[verify]\nissuer = \"https://localhost:8443/\"\n",
                             "/tmp/agent.toml");
  BOOST_TEST_REQUIRE(config.ok(), (config.ok() ? "" : config.error().message));
  BOOST_TEST(*config->verify_issuer == "https://localhost:8443/");
}

BOOST_AUTO_TEST_CASE(BothOrNeitherRefused) {
  BOOST_TEST(contains(refusal("[verify]\nleeway_seconds = 5\n"), "needs exactly one of environment"));
  BOOST_TEST(contains(refusal("[verify]\nenvironment = \"test\"\nissuer = \"https://x/\"\n"),
                      "needs exactly one of environment"));
}

BOOST_AUTO_TEST_CASE(UnknownEnvironmentRefused) {
  BOOST_TEST(contains(refusal("[verify]\nenvironment = \"staging\"\n"), "is \"test\" or \"prod\""));
}

BOOST_AUTO_TEST_CASE(PlainHttpIssuerRefused) {
  refusal("[verify]\nissuer = \"http://issuer.test/\"\n");
}

BOOST_AUTO_TEST_CASE(MissingJwksFileRefused) {
  BOOST_TEST(contains(refusal("[verify]\nenvironment = \"test\"\njwks_file = \"/nonexistent/jwks.json\"\n"),
                      "jwks_file"));
}

BOOST_AUTO_TEST_CASE(LeewayBounded) {
  refusal("[verify]\nenvironment = \"test\"\nleeway_seconds = 601\n");
}

BOOST_AUTO_TEST_CASE(UnknownKeyRefused) {
  BOOST_TEST(contains(refusal("[verify]\nenvironment = \"test\"\nscopes = []\n"), "scopes"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(VerifyTokenRequest)

BOOST_AUTO_TEST_CASE(DecodesTokenAndScopes) {
  const auto request = decoded(R"({"op":"verify_token","token":"a.b.c","scopes":["x:y","z"]})");
  BOOST_TEST(request.token == "a.b.c");
  BOOST_TEST(request.scopes.size() == 2u);
}

BOOST_AUTO_TEST_CASE(ScopesAreOptional) {
  BOOST_TEST(decoded(R"({"op":"verify_token","token":"a.b.c"})").scopes.empty());
}

BOOST_AUTO_TEST_CASE(TokenRequired) {
  BOOST_TEST(contains(decode_refusal(R"({"op":"verify_token"})"), "needs \"token\""));
}

BOOST_AUTO_TEST_CASE(UnknownFieldRefused) {
  BOOST_TEST(contains(decode_refusal(R"({"op":"verify_token","token":"a.b.c","scope":"x"})"),
                      "unknown field"));
}

BOOST_AUTO_TEST_CASE(EncodesWhatItDecodes) {
  protocol::Request request{std::nullopt, protocol::VerifyTokenRequest{"a.b.c", {"x:y"}}};
  const std::string line = protocol::encode_request(request);
  BOOST_TEST(line == "{\"op\":\"verify_token\",\"token\":\"a.b.c\",\"scopes\":[\"x:y\"]}\n");
  BOOST_TEST(decoded(line.substr(0, line.size() - 1)).scopes.front() == "x:y");
}

BOOST_AUTO_TEST_SUITE_END()

// The [verify] table of the configuration.
#define BOOST_TEST_MODULE verify_config
#include <boost/test/unit_test.hpp>

#include <string>

#include "support/test_support.h"
#include "agent/config/config.h"

using namespace mpa;
using mpa::test::contains;
using mpa::test::why;

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

std::string refusal(const std::string& verify_table) {
  auto config = parse_config(kBase + verify_table, "/tmp/agent.toml");
  BOOST_TEST_REQUIRE(!config.ok(), "expected a refusal of " << verify_table);
  return config.error().message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(VerifySection)

BOOST_AUTO_TEST_CASE(AbsentMeansNoIssuer) {
  auto config = parse_config(kBase, "/tmp/agent.toml");
  BOOST_TEST_REQUIRE(config.ok(), why(config));
  BOOST_TEST(!config->verify_issuer.has_value());
}

BOOST_AUTO_TEST_CASE(EnvironmentGivesDigdirsIssuer) {
  auto config = parse_config(kBase + "[verify]\nenvironment = \"prod\"\nleeway_seconds = 5\n",
                             "/tmp/agent.toml");
  BOOST_TEST_REQUIRE(config.ok(), why(config));
  BOOST_TEST(*config->verify_issuer == "https://maskinporten.no/");
  BOOST_TEST(config->verify_leeway_seconds == 5);
}

BOOST_AUTO_TEST_CASE(IssuerTakenAsGiven) {
  auto config = parse_config(kBase + "[verify]\nissuer = \"https://localhost:8443/\"\n",
                             "/tmp/agent.toml");
  BOOST_TEST_REQUIRE(config.ok(), why(config));
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

#define BOOST_TEST_MODULE metrics_config
#include <stdlib.h>

#include <boost/test/unit_test.hpp>
#include <string>

#include "support/test_support.h"
#include "agent/config/config.h"

using namespace mpa;
using mpa::test::contains;
using mpa::test::why;

namespace {

const std::string kMinimal =
    "[pkcs11]\n"
    "module = \"/usr/lib/softhsm/libsofthsm2.so\"\n"
    "pin_env = \"MPA_TEST_PIN\"\n"
    "\n"
    "[[client]]\n"
    "client_id = \"0ee1e2a9-client\"\n"
    "environment = \"test\"\n"
    "key = \"pkcs11:token=Virksomhet%20Test;object=vsert-auth;type=private\"\n"
    "scopes = [\"altinn:enduser\"]\n";

Result<Config> parse(const std::string& metrics_table) {
  ::setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
  return parse_config(kMinimal + "\n" + metrics_table, "/tmp/mpa-metrics-test/agent.toml");
}

std::string refusal(const std::string& metrics_table) {
  const auto config = parse(metrics_table);
  BOOST_TEST_REQUIRE(!config.ok(), "accepted: " << metrics_table);
  return config.error().message;
}

}  // namespace

BOOST_AUTO_TEST_CASE(NoMetricsTableMeansNoListener) {
  const auto config = parse("");
  BOOST_TEST_REQUIRE(config.ok(), why(config));
  BOOST_TEST(!config->metrics_listen.has_value());
}

BOOST_AUTO_TEST_CASE(EmptyMetricsTableMeansNoListener) {
  const auto config = parse("[metrics]\n");
  BOOST_TEST_REQUIRE(config.ok(), why(config));
  BOOST_TEST(!config->metrics_listen.has_value());
}

BOOST_AUTO_TEST_CASE(ReadsAnIpv4ListenAddress) {
  const auto config = parse("[metrics]\nlisten = \"127.0.0.1:9464\"\n");
  BOOST_TEST_REQUIRE(config.ok(), why(config));
  BOOST_TEST_REQUIRE(config->metrics_listen.has_value());
  BOOST_TEST(config->metrics_listen->address == "127.0.0.1");
  BOOST_TEST(config->metrics_listen->port == 9464);
}

BOOST_AUTO_TEST_CASE(ReadsABracketedIpv6ListenAddress) {
  const auto config = parse("[metrics]\nlisten = \"[::1]:9464\"\n");
  BOOST_TEST_REQUIRE(config.ok(), why(config));
  BOOST_TEST(config->metrics_listen->address == "::1");
}

BOOST_AUTO_TEST_CASE(RefusesAHostName) {
  BOOST_TEST(contains(refusal("[metrics]\nlisten = \"localhost:9464\"\n"),
                      "is an IP address and a port"));
}

BOOST_AUTO_TEST_CASE(RefusesAMissingOrBadPort) {
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:-1", "127.0.0.1:94x", "::1:9464", "[::1]"}) {
    const std::string message = refusal(std::string("[metrics]\nlisten = \"") + bad + "\"\n");
    BOOST_TEST(contains(message, "listen"), message);
    BOOST_TEST(contains(message, bad), message);
  }
}

BOOST_AUTO_TEST_CASE(RefusesAnUnknownKey) {
  BOOST_TEST(contains(refusal("[metrics]\nlisten_on = \"127.0.0.1:9464\"\n"), "listen_on"));
}

BOOST_AUTO_TEST_CASE(RefusesANonStringListen) {
  BOOST_TEST(contains(refusal("[metrics]\nlisten = 9464\n"), "listen"));
}

#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "support/test_support.h"
#include "agent/config/config.h"

using namespace mpa;
namespace fs = std::filesystem;
using mpa::test::contains;
using mpa::test::why;

namespace {

constexpr const char* kKeyUri = "pkcs11:token=Virksomhet%20Test;object=vsert-auth;type=private";

// A scratch directory with the files a configuration may point at.
struct Scratch : mpa::test::TempDir {
  Scratch() : TempDir("mpa-config-test") {
    for (const char* name : {"ca.pem", "chain.pem", "altinn.pem", "altinn2.pem", "pin"}) {
      write(name, "not parsed by the loader\n");
    }
  }
  std::string file() const { return (path / "agent.toml").string(); }
};

// Sets (or unsets, with nullopt) an environment variable for one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

const std::string kPkcs11 =
    "[pkcs11]\n"
    "module = \"/usr/lib/softhsm/libsofthsm2.so\"\n"
    "pin_env = \"MPA_TEST_PIN\"\n";

const std::string kClient = std::string(
                                "[[client]]\n"
                                "client_id = \"0ee1e2a9-client\"\n"
                                "environment = \"test\"\n"
                                "key = \"") +
                            kKeyUri +
                            "\"\n"
                            "scopes = [\"altinn:enduser\", \"altinn:instances.read\"]\n";

// The smallest valid file, with `client_extra` lines added to its [[client]].
std::string minimal(const std::string& client_extra = "") {
  return kPkcs11 + "\n" + kClient + client_extra;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  BOOST_TEST_REQUIRE(at != std::string::npos, "test text lacks " << from);
  return text.replace(at, from.size(), to);
}

// Every test runs with a known XDG_RUNTIME_DIR and no CREDENTIALS_DIRECTORY.
struct Fixture {
  Scratch scratch;
  ScopedEnv runtime_dir{"XDG_RUNTIME_DIR", "/run/user/4242"};
  ScopedEnv credentials{"CREDENTIALS_DIRECTORY", std::nullopt};

  Result<Config> parse(const std::string& text) const { return parse_config(text, scratch.file()); }

  // The message of the refusal; fails the test if the text is accepted.
  std::string refusal(const std::string& text) const {
    auto config = parse(text);
    BOOST_TEST_REQUIRE(!config.ok(), "expected a refusal of:\n" << text);
    BOOST_TEST((config.error().code == ErrorCode::invalid_config));
    BOOST_TEST(contains(config.error().message, scratch.file()), config.error().message);
    return config.error().message;
  }

  Config accepted(const std::string& text) const {
    auto config = parse(text);
    BOOST_TEST_REQUIRE(config.ok(), why(config));
    return std::move(config).value();
  }
};

// For the [metrics] and [verify] tables: each after the smallest valid file.
struct TableFixture : Fixture {
  Result<Config> parse_table(const std::string& table) const { return parse(minimal() + "\n" + table); }
  std::string table_refusal(const std::string& table) const { return refusal(minimal() + "\n" + table); }
};

std::string full_config(const Scratch& scratch) {
  return "[agent]\n"
         "socket = \"/run/maskinporten-agent/agent.sock\"\n"
         "socket_mode = \"0660\"\n"
         "refresh_margin_seconds = 45\n"
         "max_connections = 100\n"
         "\n"
         "[pkcs11]\n"
         "module = \"/usr/lib/softhsm/libsofthsm2.so\"\n"
         "pin_file = \"pin\"\n"
         "\n"
         "[[client]]\n"
         "name = \"main\"\n"
         "client_id = \"0ee1e2a9-main\"\n"
         "environment = \"custom\"\n"
         "issuer = \"https://localhost:8443/\"\n"
         "token_endpoint = \"https://localhost:8443/token\"\n"
         "discovery = false\n"
         "key = \"" +
         std::string(kKeyUri) +
         "\"\n"
         "x5c = \"chain\"\n"
         "chain_file = \"chain.pem\"\n"
         "alg = \"RS512\"\n"
         "grant_lifetime_seconds = 60\n"
         "ca_file = \"" +
         (scratch.path / "ca.pem").string() +
         "\"\n"
         "proxy = \"http://proxy.example:3128\"\n"
         "altinn_exchange_endpoint = \"https://localhost:8443/exchange\"\n"
         "scopes = [\"altinn:enduser\", \"skatteetaten:test\"]\n"
         "connect_timeout_seconds = 3\n"
         "timeout_seconds = 10\n"
         "retry_deadline_seconds = 25\n"
         "\n"
         "[[client]]\n"
         "name = \"second\"\n"
         "client_id = \"c2\"\n"
         "environment = \"prod\"\n"
         "key = \"pkcs11:object=other;type=private\"\n"
         "kid = \"my-registered-key\"\n"
         "scopes = [\"nav:test/api\"]\n"
         "\n"
         "[altinn]\n"
         "certificates = [\"altinn.pem\", \"altinn2.pem\"]\n"
         "leeway_seconds = 30\n"
         "\n"
         "[[allow]]\n"
         "uid = 1001\n"
         "clients = [\"main\"]\n"
         "scopes = [\"altinn:enduser\"]\n"
         "\n"
         "[[allow]]\n"
         "group = \"root\"\n"
         "clients = [\"main\", \"second\"]\n";
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(ConfigLoading, Fixture)

// ------------------------------------------------------------ accepted

BOOST_AUTO_TEST_CASE(LoadsFullConfigWithEveryKey) {
  const fs::path path = scratch.write("agent.toml", full_config(scratch));
  auto loaded = load_config(path.string());
  BOOST_TEST_REQUIRE(loaded.ok(), (loaded.ok() ? "" : loaded.error().message));
  const Config& config = *loaded;
  BOOST_TEST(config.path == path.string());
  BOOST_TEST(config.socket == "/run/maskinporten-agent/agent.sock");
  BOOST_TEST(config.socket_mode == 0660u);
  BOOST_TEST(config.refresh_margin_seconds == 45);
  BOOST_TEST(config.max_connections == 100);
  BOOST_TEST(config.module == "/usr/lib/softhsm/libsofthsm2.so");
  BOOST_TEST(*config.pin_file == (scratch.path / "pin").string());
  BOOST_TEST(!config.pin_env.has_value());

  BOOST_TEST_REQUIRE(config.clients.size() == 2u);
  const ClientConfig& main = config.clients[0];
  BOOST_TEST(main.name == "main");
  BOOST_TEST(main.client_id == "0ee1e2a9-main");
  BOOST_TEST((main.environment == Environment::custom));
  BOOST_TEST(main.issuer == "https://localhost:8443/");
  BOOST_TEST(main.token_endpoint == "https://localhost:8443/token");
  BOOST_TEST(!main.discovery);
  BOOST_TEST(main.key == kKeyUri);
  BOOST_TEST(!main.kid.has_value());
  BOOST_TEST(main.x5c_chain);
  BOOST_TEST(*main.chain_file == (scratch.path / "chain.pem").string());
  BOOST_TEST((main.alg == JwsAlg::RS512));
  BOOST_TEST(main.grant_lifetime_seconds == 60);
  BOOST_TEST(*main.ca_file == (scratch.path / "ca.pem").string());
  BOOST_TEST(*main.proxy == "http://proxy.example:3128");
  BOOST_TEST(main.altinn_exchange_endpoint == "https://localhost:8443/exchange");
  BOOST_TEST(main.scopes == (std::vector<std::string>{"altinn:enduser", "skatteetaten:test"}),
             boost::test_tools::per_element());
  BOOST_TEST(main.connect_timeout_seconds == 3);
  BOOST_TEST(main.timeout_seconds == 10);
  BOOST_TEST(main.retry_deadline_seconds == 25);

  const ClientConfig& second = config.clients[1];
  BOOST_TEST(*second.kid == "my-registered-key");
  BOOST_TEST(!second.x5c_chain);

  BOOST_TEST(config.altinn_certificates ==
                 (std::vector<std::string>{(scratch.path / "altinn.pem").string(),
                                           (scratch.path / "altinn2.pem").string()}),
             boost::test_tools::per_element());
  BOOST_TEST(config.altinn_leeway_seconds == 30);

  BOOST_TEST_REQUIRE(config.allow.size() == 2u);
  BOOST_TEST(*config.allow[0].uid == 1001u);
  BOOST_TEST(!config.allow[0].gid.has_value());
  BOOST_TEST(config.allow[0].scopes == (std::vector<std::string>{"altinn:enduser"}),
             boost::test_tools::per_element());
  BOOST_TEST(*config.allow[1].gid == 0u);  // root
  BOOST_TEST(!config.allow[1].uid.has_value());
  BOOST_TEST(config.allow[1].clients.size() == 2u);
  BOOST_TEST(config.allow[1].who == "group root (gid 0)");
}

BOOST_AUTO_TEST_CASE(ReadsTheLogFormat) {
  BOOST_TEST((accepted("[agent]\nlog_format = \"json\"\n" + minimal()).log_format ==
              log::Format::json));
  BOOST_TEST((accepted("[agent]\nlog_format = \"text\"\n" + minimal()).log_format ==
              log::Format::text));
}

BOOST_AUTO_TEST_CASE(AppliesDefaultsToMinimalConfig) {
  const Config config = accepted(minimal());
  BOOST_TEST((config.log_format == log::Format::text));
  BOOST_TEST(config.socket == "/run/user/4242/maskinporten-agent/agent.sock");
  BOOST_TEST(config.socket_mode == 0600u);
  BOOST_TEST(config.refresh_margin_seconds == 30);
  BOOST_TEST(config.max_connections == 256);
  BOOST_TEST(config.max_concurrent_exchanges == 64);
  BOOST_TEST(*config.pin_env == "MPA_TEST_PIN");
  BOOST_TEST_REQUIRE(config.clients.size() == 1u);
  const ClientConfig& client = config.clients[0];
  BOOST_TEST(client.name == "default");
  BOOST_TEST((client.alg == JwsAlg::RS256));
  BOOST_TEST(client.grant_lifetime_seconds == 120);
  BOOST_TEST(!client.kid.has_value());
  BOOST_TEST(!client.x5c_chain);
  BOOST_TEST(!client.discovery);
  BOOST_TEST(!client.ca_file.has_value());
  BOOST_TEST(!client.chain_file.has_value());
  BOOST_TEST(!client.proxy.has_value());
  BOOST_TEST(client.connect_timeout_seconds == 5);
  BOOST_TEST(client.timeout_seconds == 15);
  BOOST_TEST(client.retry_deadline_seconds == 30);
  BOOST_TEST(client.prefetch.empty());
  BOOST_TEST(config.altinn_certificates.empty());
  BOOST_TEST(config.altinn_leeway_seconds == 60);
  BOOST_TEST(config.allow.empty());
}

BOOST_AUTO_TEST_CASE(ReadsPrefetchListsOfTheClientsScopes) {
  const Config config = accepted(
      minimal("prefetch = [[\"altinn:enduser\"], [\"altinn:enduser\", \"altinn:instances.read\"]]\n"));
  BOOST_TEST_REQUIRE(config.clients[0].prefetch.size() == 2u);
  BOOST_TEST(config.clients[0].prefetch[1] ==
             (std::vector<std::string>{"altinn:enduser", "altinn:instances.read"}));
}

BOOST_AUTO_TEST_CASE(RefusesPrefetchOfScopesTheClientHasNot) {
  BOOST_TEST(contains(refusal(minimal("prefetch = [[\"nav:other\"]]\n")),
                      "prefetch[0]: \"nav:other\" is not in this client's scopes"));
  BOOST_TEST(contains(refusal(minimal("prefetch = [[]]\n")), "prefetch[0] is empty"));
  BOOST_TEST(contains(refusal(minimal("prefetch = [\"altinn:enduser\"]\n")),
                      "prefetch[0]"));
}

BOOST_AUTO_TEST_CASE(ReadsMaxConcurrentExchangesWithinItsRange) {
  BOOST_TEST(accepted("[agent]\nmax_concurrent_exchanges = 8\n" + minimal()).max_concurrent_exchanges == 8);
  BOOST_TEST(contains(refusal("[agent]\nmax_concurrent_exchanges = 0\n" + minimal()),
                      "an integer from 1 to 1024"));
}

BOOST_AUTO_TEST_CASE(TestEnvironmentHasDigdirTestEndpoints) {
  const ClientConfig client = accepted(minimal()).clients.at(0);
  BOOST_TEST(client.issuer == "https://test.maskinporten.no/");
  BOOST_TEST(client.token_endpoint == "https://test.maskinporten.no/token");
  BOOST_TEST(client.altinn_exchange_endpoint ==
             "https://platform.tt02.altinn.no/authentication/api/v1/exchange/maskinporten");
}

BOOST_AUTO_TEST_CASE(ProdEnvironmentHasDigdirProductionEndpoints) {
  const ClientConfig client = accepted(replaced(minimal(), "\"test\"", "\"prod\"")).clients.at(0);
  BOOST_TEST((client.environment == Environment::prod));
  BOOST_TEST(client.issuer == "https://maskinporten.no/");
  BOOST_TEST(client.token_endpoint == "https://maskinporten.no/token");
  BOOST_TEST(client.altinn_exchange_endpoint ==
             "https://platform.altinn.no/authentication/api/v1/exchange/maskinporten");
}

BOOST_AUTO_TEST_CASE(CustomEnvironmentWithDiscoveryNeedsNoTokenEndpoint) {
  const ClientConfig client =
      accepted(replaced(minimal("issuer = \"https://localhost:8443/\"\ndiscovery = true\n"),
                        "\"test\"", "\"custom\""))
          .clients.at(0);
  BOOST_TEST(client.discovery);
  BOOST_TEST(client.issuer == "https://localhost:8443/");
  BOOST_TEST(client.token_endpoint.empty());
  BOOST_TEST(client.altinn_exchange_endpoint.empty());
}

BOOST_AUTO_TEST_CASE(ExpandsCredentialsDirectoryInPinFile) {
  ScopedEnv set("CREDENTIALS_DIRECTORY", "/run/credentials/maskinporten-agent.service");
  const Config config = accepted(replaced(minimal(), "pin_env = \"MPA_TEST_PIN\"",
                                          "pin_file = \"$CREDENTIALS_DIRECTORY/pin\""));
  BOOST_TEST(*config.pin_file == "/run/credentials/maskinporten-agent.service/pin");
}

BOOST_AUTO_TEST_CASE(ResolvesAllowUserName) {
  const Config config =
      accepted(minimal() + "[[allow]]\nuser = \"root\"\nclients = [\"default\"]\n");
  BOOST_TEST_REQUIRE(config.allow.size() == 1u);
  BOOST_TEST(*config.allow[0].uid == 0u);
  BOOST_TEST(config.allow[0].who == "user root (uid 0)");
}

BOOST_AUTO_TEST_CASE(FindClientByNameOrTheOnlyOne) {
  const Config one = accepted(minimal());
  BOOST_TEST(one.find_client("") == &one.clients[0]);
  BOOST_TEST(one.find_client("default") == &one.clients[0]);
  BOOST_TEST(one.find_client("other") == nullptr);

  const Config two = accepted(full_config(scratch));
  BOOST_TEST(two.find_client("second") == &two.clients[1]);
  BOOST_TEST(two.find_client("") == nullptr);  // ambiguous
}

// ------------------------------------------------------------ refused: structure

BOOST_AUTO_TEST_CASE(RejectsUnknownKeyAndSuggestsTheKnownOne) {
  const std::string message = refusal(minimal("clientid = \"x\"\n"));
  BOOST_TEST(contains(message,
                      ":10: [[client]] \"default\" \"clientid\": unknown key; did you mean "
                      "client_id?"),
             message);
}

BOOST_AUTO_TEST_CASE(RejectsUnknownTable) {
  const std::string message = refusal("[agnet]\nsocket = \"/x\"\n" + minimal());
  BOOST_TEST(contains(message, ":1: unknown table [agnet]"), message);
}

BOOST_AUTO_TEST_CASE(RejectsUnknownTopLevelKey) {
  const std::string message = refusal("verbose = true\n" + minimal());
  BOOST_TEST(contains(message, "unknown key \"verbose\" outside any table"), message);
}

BOOST_AUTO_TEST_CASE(RejectsWrongTypes) {
  BOOST_TEST(contains(refusal("[agent]\nrefresh_margin_seconds = \"30\"\n" + minimal()),
                      "[agent] refresh_margin_seconds: expected an integer from 0 to 3600, got a "
                      "string"));
  BOOST_TEST(contains(refusal("[agent]\nsocket_mode = 0o600\n" + minimal()),
                      "[agent] socket_mode: expected a string in quotes such as \"0600\", got an integer"));
  BOOST_TEST(contains(refusal(minimal("discovery = \"yes\"\n")),
                      "discovery: expected true or false, got a string"));
  BOOST_TEST(contains(refusal(replaced(minimal(), "scopes = [", "scopes = [1, ")),
                      "scopes[0]: expected a string, got an integer"));
}

BOOST_AUTO_TEST_CASE(RejectsClientWrittenAsSingleTable) {
  const std::string message = refusal(replaced(minimal(), "[[client]]", "[client]"));
  BOOST_TEST(contains(message, "client: write [[client]] tables (one per client), not a table"),
             message);
}

BOOST_AUTO_TEST_CASE(RejectsFileWithoutClients) {
  BOOST_TEST(contains(refusal(kPkcs11), "has no [[client]] table"));
}

BOOST_AUTO_TEST_CASE(RejectsFileWithoutPkcs11Table) {
  BOOST_TEST(contains(refusal(kClient), "has no [pkcs11] table"));
}

BOOST_AUTO_TEST_CASE(RejectsInvalidTomlWithLine) {
  const std::string message = refusal(minimal("alg = RS256\n"));
  BOOST_TEST(contains(message, "agent.toml:10:"), message);
  BOOST_TEST(contains(message, "not valid TOML"), message);
}

BOOST_AUTO_TEST_CASE(RejectsOversizedText) {
  const std::string big = minimal() + "# " + std::string(1024 * 1024, 'x') + "\n";
  BOOST_TEST(contains(refusal(big), "a configuration file is at most 1048576 bytes (1 MiB)"));
}

BOOST_AUTO_TEST_CASE(RejectsOversizedFile) {
  const fs::path path =
      scratch.write("agent.toml", minimal() + "# " + std::string(1024 * 1024, 'x') + "\n");
  auto config = load_config(path.string());
  BOOST_TEST_REQUIRE(!config.ok());
  BOOST_TEST(contains(config.error().message, "at most 1048576 bytes"), config.error().message);
}

BOOST_AUTO_TEST_CASE(RejectsMissingFile) {
  auto config = load_config((scratch.path / "nothere.toml").string());
  BOOST_TEST_REQUIRE(!config.ok());
  BOOST_TEST(contains(config.error().message, "nothere.toml: cannot open: No such file"),
             config.error().message);
}

BOOST_AUTO_TEST_CASE(RejectsFileWritableByOthers) {
  const fs::path path = scratch.write("agent.toml", minimal());
  BOOST_TEST_REQUIRE(::chmod(path.c_str(), 0646) == 0);
  auto config = load_config(path.string());
  BOOST_TEST_REQUIRE(!config.ok());
  BOOST_TEST(contains(config.error().message, "is writable by other users"),
             config.error().message);
}

BOOST_AUTO_TEST_CASE(RejectsFileWritableByItsGroup) {
  const fs::path path = scratch.write("agent.toml", minimal());
  BOOST_TEST_REQUIRE(::chmod(path.c_str(), 0664) == 0);
  auto config = load_config(path.string());
  BOOST_TEST_REQUIRE(!config.ok());
  BOOST_TEST(contains(config.error().message, "is writable by other users (mode 0664; group or others may write "
                                              "it), and whoever can write it chooses the PKCS#11 module"),
             config.error().message);
}

BOOST_AUTO_TEST_CASE(RejectsFileOwnedByAnotherUser) {
  if (::geteuid() != 0) return;  // chown needs root; the integration test runs as root
  const fs::path path = scratch.write("agent.toml", minimal());
  BOOST_TEST_REQUIRE(::chmod(path.c_str(), 0644) == 0);
  BOOST_TEST_REQUIRE(::chown(path.c_str(), 4242, 4242) == 0);
  auto config = load_config(path.string());
  BOOST_TEST_REQUIRE(!config.ok());
  BOOST_TEST(contains(config.error().message, "agent.toml: belongs to uid 4242, neither root nor the agent's own uid"),
             config.error().message);
}

BOOST_AUTO_TEST_CASE(AcceptsFileOfRootReadableByAll) {
  const fs::path path = scratch.write("agent.toml", minimal());
  BOOST_TEST_REQUIRE(::chmod(path.c_str(), 0644) == 0);
  auto config = load_config(path.string());
  BOOST_TEST(config.ok(), (config.ok() ? "" : config.error().message));
}

BOOST_AUTO_TEST_CASE(RejectsModuleWritableByOthers) {
  const fs::path module = scratch.write("module.so", "not loaded by the loader");
  BOOST_TEST_REQUIRE(::chmod(module.c_str(), 0775) == 0);
  const std::string message =
      refusal(replaced(minimal(), "/usr/lib/softhsm/libsofthsm2.so", module.string()));
  BOOST_TEST(contains(message, "[pkcs11] module: \"" + module.string() +
                                   "\" is writable by other users (mode 0775), who could put their code into "
                                   "the process that holds the PIN"),
             message);
}

BOOST_AUTO_TEST_CASE(RejectsModuleOwnedByAnotherUser) {
  if (::geteuid() != 0) return;  // chown needs root
  const fs::path module = scratch.write("module.so", "not loaded by the loader");
  BOOST_TEST_REQUIRE(::chown(module.c_str(), 4242, 4242) == 0);
  const std::string message =
      refusal(replaced(minimal(), "/usr/lib/softhsm/libsofthsm2.so", module.string()));
  BOOST_TEST(contains(message, "belongs to uid 4242, neither root nor the agent's own uid"), message);
}

BOOST_AUTO_TEST_CASE(ModuleNamedForTheLoaderOrMissingIsLeftToTheLoader) {
  accepted(replaced(minimal(), "/usr/lib/softhsm/libsofthsm2.so", "libsofthsm2.so"));
  accepted(replaced(minimal(), "/usr/lib/softhsm/libsofthsm2.so", (scratch.path / "gone.so").string()));
}

BOOST_AUTO_TEST_CASE(RejectsControlCharacterInString) {
  BOOST_TEST(contains(refusal(replaced(minimal(), "0ee1e2a9-client", "0ee1\\u0000x")),
                      "client_id: contains a control character"));
}

// ------------------------------------------------------------ refused: [agent]

BOOST_AUTO_TEST_CASE(RejectsSocketModeGivingOthersAccess) {
  for (const char* mode : {"0644", "0606", "0666"}) {
    const std::string message =
        refusal("[agent]\nsocket_mode = \"" + std::string(mode) + "\"\n" + minimal());
    BOOST_TEST(contains(message, ":2: [agent] socket_mode: \"" + std::string(mode) +
                                     "\" gives access to other users; use \"0600\", or \"0660\""),
               message);
  }
}

BOOST_AUTO_TEST_CASE(RejectsALogFormatOtherThanTextOrJson) {
  for (const char* format : {"JSON", "logfmt", "text "}) {
    const std::string message =
        refusal("[agent]\nlog_format = \"" + std::string(format) + "\"\n" + minimal());
    BOOST_TEST(contains(message, ":2: [agent] log_format: \"" + std::string(format) +
                                     "\" is not a log format; use \"text\" (the default) or "
                                     "\"json\" (one JSON object per line)"),
               message);
  }
  BOOST_TEST(contains(refusal("[agent]\nlog_format = 1\n" + minimal()),
                      "[agent] log_format: expected \"text\" or \"json\", got an integer"));
}

BOOST_AUTO_TEST_CASE(RejectsExecutableOrMalformedSocketMode) {
  BOOST_TEST(contains(refusal("[agent]\nsocket_mode = \"0700\"\n" + minimal()),
                      "socket_mode: \"0700\" has an execute bit"));
  BOOST_TEST(contains(refusal("[agent]\nsocket_mode = \"0640\"\n" + minimal()),
                      "connecting needs read and write"));
  for (const char* mode : {"rw-------", "0800", "1600", "60"}) {
    BOOST_TEST(
        contains(refusal("[agent]\nsocket_mode = \"" + std::string(mode) + "\"\n" + minimal()),
                 "is not a permission mode"));
  }
}

BOOST_AUTO_TEST_CASE(RejectsMissingSocketWithoutXdgRuntimeDir) {
  ScopedEnv unset("XDG_RUNTIME_DIR", std::nullopt);
  BOOST_TEST(contains(refusal(minimal()),
                      "[agent] socket: is not set and XDG_RUNTIME_DIR is not set either"));
}

BOOST_AUTO_TEST_CASE(RejectsSocketPathTooLongForSunPath) {
  const std::string message =
      refusal("[agent]\nsocket = \"/" + std::string(120, 's') + "\"\n" + minimal());
  BOOST_TEST(contains(message, "a Unix socket path holds at most 107"), message);
}

BOOST_AUTO_TEST_CASE(RejectsAgentNumbersOutOfRange) {
  BOOST_TEST(contains(refusal("[agent]\nrefresh_margin_seconds = 3601\n" + minimal()),
                      "refresh_margin_seconds: 3601 is out of range; expected an integer from 0 "
                      "to 3600"));
  BOOST_TEST(contains(refusal("[agent]\nmax_connections = 0\n" + minimal()),
                      "max_connections: 0 is out of range"));
}

// ------------------------------------------------------------ refused: [pkcs11]

BOOST_AUTO_TEST_CASE(RejectsBothPinFileAndPinEnv) {
  const std::string message =
      refusal(replaced(minimal(), "pin_env", "pin_file = \"pin\"\npin_env"));
  BOOST_TEST(contains(message, "[pkcs11] pin_env: pin_file and pin_env are exclusive"), message);
}

BOOST_AUTO_TEST_CASE(RejectsNeitherPinFileNorPinEnv) {
  const std::string message = refusal(replaced(minimal(), "pin_env = \"MPA_TEST_PIN\"\n", ""));
  BOOST_TEST(contains(message, ":1: [pkcs11]: needs pin_file"), message);
  BOOST_TEST(contains(message, "or pin_env"), message);
}

BOOST_AUTO_TEST_CASE(RejectsPinInTheFileWithoutQuotingIt) {
  for (const char* key : {"pin", "pin_value"}) {
    const std::string message = refusal(
        replaced(minimal(), "[pkcs11]\n", "[pkcs11]\n" + std::string(key) + " = \"31415\"\n"));
    BOOST_TEST(contains(message, "[pkcs11] " + std::string(key) +
                                     ": the PIN never goes in the configuration file; use "
                                     "pin_file or pin_env"),
               message);
    BOOST_TEST(!contains(message, "31415"), message);
  }
}

BOOST_AUTO_TEST_CASE(RejectsPinValueInKeyUriWithoutQuotingIt) {
  const std::string message =
      refusal(replaced(minimal(), "type=private", "type=private;pin-value=31415"));
  BOOST_TEST(contains(message, "[[client]] \"default\" key: "), message);
  BOOST_TEST(contains(message, "pin-value is refused"), message);
  BOOST_TEST(contains(message, "pin_file"), message);
  BOOST_TEST(!contains(message, "31415"), message);
}

BOOST_AUTO_TEST_CASE(RejectsMissingModule) {
  const std::string message =
      refusal(replaced(minimal(), "module = \"/usr/lib/softhsm/libsofthsm2.so\"\n", ""));
  BOOST_TEST(contains(message, "[pkcs11] module: is required"), message);
}

BOOST_AUTO_TEST_CASE(RejectsCredentialsDirectoryWhenUnset) {
  const std::string message = refusal(replaced(minimal(), "pin_env = \"MPA_TEST_PIN\"",
                                               "pin_file = \"$CREDENTIALS_DIRECTORY/pin\""));
  BOOST_TEST(contains(message, "[pkcs11] pin_file: uses $CREDENTIALS_DIRECTORY, which is not set"),
             message);
}

BOOST_AUTO_TEST_CASE(RejectsOtherVariablesInPinFile) {
  const std::string message =
      refusal(replaced(minimal(), "pin_env = \"MPA_TEST_PIN\"", "pin_file = \"$HOME/pin\""));
  BOOST_TEST(contains(message, "only $CREDENTIALS_DIRECTORY/NAME is expanded"), message);
}

// ------------------------------------------------------------ refused: [[client]]

BOOST_AUTO_TEST_CASE(RejectsMissingClientId) {
  const std::string message = refusal(replaced(minimal(), "client_id = \"0ee1e2a9-client\"\n", ""));
  BOOST_TEST(contains(message, ":5: [[client]] \"default\" client_id: is required"), message);
}

BOOST_AUTO_TEST_CASE(RejectsEmptyClientId) {
  BOOST_TEST(contains(refusal(replaced(minimal(), "0ee1e2a9-client", "")),
                      "[[client]] \"default\" client_id: must not be empty"));
}

BOOST_AUTO_TEST_CASE(RejectsDisallowedAlgWithExactMessage) {
  const std::string message = refusal(minimal("alg = \"HS256\"\n"));
  BOOST_TEST(message == scratch.file() +
                            ":10: [[client]] \"default\" alg: \"HS256\" is not allowed; use "
                            "RS256, RS384 or RS512");
}

BOOST_AUTO_TEST_CASE(RejectsKidTogetherWithX5c) {
  const std::string message = refusal(minimal("kid = \"k1\"\nx5c = \"leaf\"\n"));
  BOOST_TEST(contains(message, "x5c: and kid are exclusive"), message);
}

BOOST_AUTO_TEST_CASE(RejectsUnknownX5cValue) {
  BOOST_TEST(
      contains(refusal(minimal("x5c = \"full\"\n")), "x5c: \"full\" is not known; use \"leaf\""));
}

BOOST_AUTO_TEST_CASE(RejectsIssuerWithoutTrailingSlash) {
  const std::string message =
      refusal(replaced(minimal("issuer = \"https://localhost:8443\"\ntoken_endpoint = "
                               "\"https://localhost:8443/token\"\n"),
                       "\"test\"", "\"custom\""));
  BOOST_TEST(contains(message,
                      "issuer: \"https://localhost:8443\" does not end with '/'; add the "
                      "trailing slash; the grant's aud is the issuer exactly"),
             message);
}

BOOST_AUTO_TEST_CASE(RejectsHttpEndpoints) {
  const std::string custom = replaced(
      minimal(
          "issuer = \"http://localhost:8443/\"\ntoken_endpoint = \"https://localhost/token\"\n"),
      "\"test\"", "\"custom\"");
  BOOST_TEST(
      contains(refusal(custom), "issuer: \"http://localhost:8443/\" is not an https:// URL"));
  BOOST_TEST(contains(refusal(minimal("altinn_exchange_endpoint = \"http://a.example/x\"\n")),
                      "altinn_exchange_endpoint: \"http://a.example/x\" is not an https:// URL"));
  BOOST_TEST(
      contains(refusal(minimal("altinn_exchange_endpoint = \"https:///x\"\n")), "has no host"));
}

BOOST_AUTO_TEST_CASE(RejectsCustomWithoutTokenEndpoint) {
  const std::string message = refusal(
      replaced(minimal("issuer = \"https://localhost:8443/\"\n"), "\"test\"", "\"custom\""));
  BOOST_TEST(contains(message,
                      "token_endpoint: is required; environment = \"custom\" needs the "
                      "token endpoint (or discovery = true)"),
             message);
}

BOOST_AUTO_TEST_CASE(RejectsCustomWithoutIssuer) {
  BOOST_TEST(contains(refusal(replaced(minimal(), "\"test\"", "\"custom\"")),
                      "issuer: is required; environment = \"custom\" needs the issuer"));
}

BOOST_AUTO_TEST_CASE(RejectsEndpointsWithTestOrProdEnvironment) {
  BOOST_TEST(contains(refusal(minimal("issuer = \"https://localhost/\"\n")),
                      "issuer: is set by environment = \"test\"; remove it"));
  BOOST_TEST(contains(refusal(replaced(minimal("token_endpoint = \"https://localhost/token\"\n"),
                                       "\"test\"", "\"prod\"")),
                      "token_endpoint: is set by environment = \"prod\""));
}

BOOST_AUTO_TEST_CASE(RejectsUnknownOrMissingEnvironment) {
  BOOST_TEST(
      contains(refusal(replaced(minimal(), "\"test\"", "\"staging\"")),
               "environment: \"staging\" is not known; use \"test\", \"prod\" or \"custom\""));
  BOOST_TEST(contains(refusal(replaced(minimal(), "environment = \"test\"\n", "")),
                      "environment: is required"));
}

BOOST_AUTO_TEST_CASE(RejectsGrantLifetimeAbove120Seconds) {
  BOOST_TEST(contains(refusal(minimal("grant_lifetime_seconds = 121\n")),
                      "grant_lifetime_seconds: 121 is out of range; expected an integer from 1 to "
                      "120"));
}

BOOST_AUTO_TEST_CASE(RejectsTimeoutsOutOfRange) {
  BOOST_TEST(
      contains(refusal(minimal("timeout_seconds = 0\n")), "timeout_seconds: 0 is out of range"));
  BOOST_TEST(contains(refusal(minimal("retry_deadline_seconds = 301\n")),
                      "retry_deadline_seconds: 301 is out of range"));
}

BOOST_AUTO_TEST_CASE(RejectsDuplicateClientNames) {
  const std::string text = kPkcs11 +
                           replaced(kClient, "[[client]]\n", "[[client]]\nname = \"a\"\n") +
                           replaced(kClient, "[[client]]\n", "[[client]]\nname = \"a\"\n");
  BOOST_TEST(contains(refusal(text), ":11: [[client]] #2 name: \"a\" is used by an earlier [[client]]"));
}

BOOST_AUTO_TEST_CASE(RejectsUnnamedClientAmongSeveral) {
  const std::string text =
      kPkcs11 + kClient + replaced(kClient, "[[client]]\n", "[[client]]\nname = \"b\"\n");
  BOOST_TEST(
      contains(refusal(text), "[[client]] #1 name: is required when there are several clients"));
}

BOOST_AUTO_TEST_CASE(RejectsMissingCaFileAndChainFile) {
  BOOST_TEST(contains(refusal(minimal("ca_file = \"missing-ca.pem\"\n")),
                      "ca_file: cannot read \"" + (scratch.path / "missing-ca.pem").string() +
                          "\": No such file or directory"));
  BOOST_TEST(contains(refusal(minimal("chain_file = \"/nonexistent/chain.pem\"\n")),
                      "chain_file: cannot read \"/nonexistent/chain.pem\""));
}

BOOST_AUTO_TEST_CASE(RejectsBadScopes) {
  BOOST_TEST(
      contains(refusal(replaced(minimal(), "\"altinn:enduser\", ", "\"altinn:enduser extra\", ")),
               "scopes: \"altinn:enduser extra\" is not a scope"));
  BOOST_TEST(contains(refusal(replaced(minimal(), "\"altinn:enduser\", ", "\"\", ")),
                      "scopes[0]: must not be empty"));
  BOOST_TEST(contains(
      refusal(replaced(minimal(), "[\"altinn:enduser\", \"altinn:instances.read\"]", "[]")),
      "scopes: is empty"));
  BOOST_TEST(
      contains(refusal(replaced(minimal(), "\"altinn:instances.read\"", "\"altinn:enduser\"")),
               "\"altinn:enduser\" is listed twice"));
}

BOOST_AUTO_TEST_CASE(RejectsBadKeyUri) {
  BOOST_TEST(contains(refusal(replaced(minimal(), kKeyUri, "file:/etc/key.pem")),
                      "key: PKCS#11 URI \"file:/etc/key.pem\": does not start with \"pkcs11:\""));
}

BOOST_AUTO_TEST_CASE(RejectsProxyThatIsNoUrlWithoutQuotingIt) {
  const std::string message = refusal(minimal("proxy = \"user:secret@proxy:3128\"\n"));
  BOOST_TEST(contains(message, "proxy: is not a proxy URL"), message);
  BOOST_TEST(!contains(message, "secret"), message);
}

BOOST_AUTO_TEST_CASE(RejectsSocksProxyAtLoadNamingTheSetting) {
  for (const char* proxy : {"socks5://proxy:1080", "SOCKS5H://user:secret@proxy:1080", "socks4://p:1"}) {
    const std::string message = refusal(minimal(std::string("proxy = \"") + proxy + "\"\n"));
    BOOST_TEST(contains(message, "proxy: is a SOCKS proxy, which the agent does not use; give an http:// or "
                                 "https:// proxy"),
               message);
    BOOST_TEST(!contains(message, "secret"), message);
  }
}

BOOST_AUTO_TEST_CASE(AcceptsHttpsProxy) {
  BOOST_TEST(*accepted(minimal("proxy = \"https://proxy.example:3128\"\n")).clients.front().proxy ==
             "https://proxy.example:3128");
}

// ------------------------------------------------------------ refused: [altinn], [[allow]]

BOOST_AUTO_TEST_CASE(RejectsMissingAltinnCertificate) {
  const std::string message = refusal(minimal() + "[altinn]\ncertificates = [\"gone.pem\"]\n");
  BOOST_TEST(contains(message, "[altinn] certificates: cannot read"), message);
  BOOST_TEST(contains(message, "gone.pem"), message);
}

BOOST_AUTO_TEST_CASE(RejectsAltinnLeewayOutOfRange) {
  BOOST_TEST(contains(
      refusal(minimal() + "[altinn]\ncertificates = [\"altinn.pem\"]\nleeway_seconds = 601\n"),
      "[altinn] leeway_seconds: 601 is out of range"));
}

BOOST_AUTO_TEST_CASE(RejectsUnknownAllowUserOrGroup) {
  BOOST_TEST(contains(
      refusal(minimal() + "[[allow]]\nuser = \"no-such-user-mpa\"\nclients = [\"default\"]\n"),
      "[[allow]] #1 user: no user \"no-such-user-mpa\" on this system"));
  BOOST_TEST(contains(
      refusal(minimal() + "[[allow]]\ngroup = \"no-such-group-mpa\"\nclients = [\"default\"]\n"),
      "[[allow]] #1 group: no group \"no-such-group-mpa\" on this system"));
}

BOOST_AUTO_TEST_CASE(RejectsAllowNamingMissingClient) {
  BOOST_TEST(contains(refusal(minimal() + "[[allow]]\nuid = 1001\nclients = [\"nope\"]\n"),
                      "[[allow]] #1 clients: \"nope\" is not a configured [[client]] name"));
}

BOOST_AUTO_TEST_CASE(RejectsAllowWithTwoPrincipalsOrNone) {
  BOOST_TEST(
      contains(refusal(minimal() + "[[allow]]\nuid = 1001\ngid = 5\nclients = [\"default\"]\n"),
               "[[allow]] #1: needs exactly one of uid, user, gid or group (it has 2)"));
  BOOST_TEST(contains(refusal(minimal() + "[[allow]]\nclients = [\"default\"]\n"), "(it has 0)"));
}

BOOST_AUTO_TEST_CASE(RejectsAllowWithoutClientsOrWithForeignScope) {
  BOOST_TEST(contains(refusal(minimal() + "[[allow]]\nuid = 1001\n"),
                      "[[allow]] #1 clients: is required"));
  BOOST_TEST(contains(refusal(minimal() + "[[allow]]\nuid = 1001\nclients = []\n"),
                      "[[allow]] #1 clients: is empty"));
  BOOST_TEST(contains(refusal(minimal() + "[[allow]]\nuid = 1001\nclients = [\"default\"]\n"
                                          "scopes = [\"nav:other\"]\n"),
                      "scopes: \"nav:other\" is not among the scopes of client \"default\""));
}

BOOST_AUTO_TEST_CASE(ReadsAllowDelegationFields) {
  const Config config = accepted(minimal() +
                                 "[[allow]]\nuid = 1001\nclients = [\"default\"]\n"
                                 "consumer_orgs = [\"999888777\", \"111222333\"]\n"
                                 "onbehalfof = [\"*\"]\nsystemuser_orgs = [\"310000001\"]\n"
                                 "pid = true\n");
  BOOST_TEST_REQUIRE(config.allow.size() == 1u);
  const AllowRule& rule = config.allow[0];
  BOOST_TEST(rule.consumer_orgs == (std::vector<std::string>{"999888777", "111222333"}),
             boost::test_tools::per_element());
  BOOST_TEST(rule.onbehalfof == (std::vector<std::string>{"*"}), boost::test_tools::per_element());
  BOOST_TEST(rule.systemuser_orgs == (std::vector<std::string>{"310000001"}),
             boost::test_tools::per_element());
  BOOST_TEST(rule.pid);
}

BOOST_AUTO_TEST_CASE(AllowRuleWithoutDelegationFieldsAllowsNone) {
  const Config config = accepted(minimal() + "[[allow]]\nuid = 1001\nclients = [\"default\"]\n");
  BOOST_TEST_REQUIRE(config.allow.size() == 1u);
  BOOST_TEST(config.allow[0].consumer_orgs.empty());
  BOOST_TEST(config.allow[0].onbehalfof.empty());
  BOOST_TEST(config.allow[0].systemuser_orgs.empty());
  BOOST_TEST(!config.allow[0].pid);
}

BOOST_AUTO_TEST_CASE(RejectsAllowDelegationValuesOfTheWrongShape) {
  const std::string rule = "[[allow]]\nuid = 1001\nclients = [\"default\"]\n";
  BOOST_TEST(contains(refusal(minimal() + rule + "consumer_orgs = [\"12345\"]\n"),
                      "[[allow]] #1 consumer_orgs: \"12345\" is not an organisation number "
                      "(9 digits) (or \"*\" alone, for any)"));
  BOOST_TEST(contains(refusal(minimal() + rule + "systemuser_orgs = [\"0192:999888777\"]\n"),
                      "systemuser_orgs: \"0192:999888777\" is not an organisation number "
                      "(9 digits, without \"0192:\")"));
  BOOST_TEST(contains(refusal(minimal() + rule + "consumer_orgs = []\n"),
                      "consumer_orgs: is empty; leave it out to allow none, or write [\"*\"] "
                      "for any"));
  BOOST_TEST(contains(refusal(minimal() + rule + "onbehalfof = [\"*\", \"kunde-1\"]\n"),
                      "onbehalfof: has \"*\" beside other values"));
  BOOST_TEST(contains(refusal(minimal() + rule + "pid = \"yes\"\n"), "pid:"));
  BOOST_TEST(contains(refusal(minimal() + rule + "consumer_org = [\"999888777\"]\n"),
                      "consumer_org"));
}

BOOST_AUTO_TEST_CASE(RejectsAllowUidOutOfRange) {
  BOOST_TEST(contains(refusal(minimal() + "[[allow]]\nuid = -1\nclients = [\"default\"]\n"),
                      "uid: -1 is out of range"));
  BOOST_TEST(contains(refusal(minimal() + "[[allow]]\nuid = 4294967295\nclients = [\"default\"]\n"),
                      "uid: 4294967295 is out of range"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(MetricsSection, TableFixture)

BOOST_AUTO_TEST_CASE(NoMetricsTableMeansNoListener) {
  const auto config = parse_table("");
  BOOST_TEST_REQUIRE(config.ok(), why(config));
  BOOST_TEST(!config->metrics_listen.has_value());
}

BOOST_AUTO_TEST_CASE(EmptyMetricsTableMeansNoListener) {
  const auto config = parse_table("[metrics]\n");
  BOOST_TEST_REQUIRE(config.ok(), why(config));
  BOOST_TEST(!config->metrics_listen.has_value());
}

BOOST_AUTO_TEST_CASE(ReadsAnIpv4ListenAddress) {
  const auto config = parse_table("[metrics]\nlisten = \"127.0.0.1:9464\"\n");
  BOOST_TEST_REQUIRE(config.ok(), why(config));
  BOOST_TEST_REQUIRE(config->metrics_listen.has_value());
  BOOST_TEST(config->metrics_listen->address == "127.0.0.1");
  BOOST_TEST(config->metrics_listen->port == 9464);
}

BOOST_AUTO_TEST_CASE(ReadsABracketedIpv6ListenAddress) {
  const auto config = parse_table("[metrics]\nlisten = \"[::1]:9464\"\n");
  BOOST_TEST_REQUIRE(config.ok(), why(config));
  BOOST_TEST(config->metrics_listen->address == "::1");
}

BOOST_AUTO_TEST_CASE(RefusesAHostName) {
  BOOST_TEST(contains(table_refusal("[metrics]\nlisten = \"localhost:9464\"\n"),
                      "is an IP address and a port"));
}

BOOST_AUTO_TEST_CASE(RefusesAMissingOrBadPort) {
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:-1", "127.0.0.1:94x", "::1:9464", "[::1]"}) {
    const std::string message = table_refusal(std::string("[metrics]\nlisten = \"") + bad + "\"\n");
    BOOST_TEST(contains(message, "listen"), message);
    BOOST_TEST(contains(message, bad), message);
  }
}

BOOST_AUTO_TEST_CASE(RefusesAnUnknownKey) {
  BOOST_TEST(contains(table_refusal("[metrics]\nlisten_on = \"127.0.0.1:9464\"\n"), "listen_on"));
}

BOOST_AUTO_TEST_CASE(RefusesANonStringListen) {
  BOOST_TEST(contains(table_refusal("[metrics]\nlisten = 9464\n"), "listen"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(VerifySection, TableFixture)

BOOST_AUTO_TEST_CASE(AbsentMeansNoIssuer) {
  auto config = parse_table("");
  BOOST_TEST_REQUIRE(config.ok(), why(config));
  BOOST_TEST(!config->verify_issuer.has_value());
}

BOOST_AUTO_TEST_CASE(EnvironmentGivesDigdirsIssuer) {
  auto config = parse_table("[verify]\nenvironment = \"prod\"\nleeway_seconds = 5\n");
  BOOST_TEST_REQUIRE(config.ok(), why(config));
  BOOST_TEST(*config->verify_issuer == "https://maskinporten.no/");
  BOOST_TEST(config->verify_leeway_seconds == 5);
}

BOOST_AUTO_TEST_CASE(IssuerTakenAsGiven) {
  auto config = parse_table("[verify]\nissuer = \"https://localhost:8443/\"\n");
  BOOST_TEST_REQUIRE(config.ok(), why(config));
  BOOST_TEST(*config->verify_issuer == "https://localhost:8443/");
}

BOOST_AUTO_TEST_CASE(BothOrNeitherRefused) {
  BOOST_TEST(contains(table_refusal("[verify]\nleeway_seconds = 5\n"), "needs exactly one of environment"));
  BOOST_TEST(contains(table_refusal("[verify]\nenvironment = \"test\"\nissuer = \"https://x/\"\n"),
                      "needs exactly one of environment"));
}

BOOST_AUTO_TEST_CASE(UnknownEnvironmentRefused) {
  BOOST_TEST(contains(table_refusal("[verify]\nenvironment = \"staging\"\n"), "is \"test\" or \"prod\""));
}

BOOST_AUTO_TEST_CASE(PlainHttpIssuerRefused) {
  table_refusal("[verify]\nissuer = \"http://issuer.test/\"\n");
}

BOOST_AUTO_TEST_CASE(MissingJwksFileRefused) {
  BOOST_TEST(contains(table_refusal("[verify]\nenvironment = \"test\"\njwks_file = \"/nonexistent/jwks.json\"\n"),
                      "jwks_file"));
}

BOOST_AUTO_TEST_CASE(LeewayBounded) {
  table_refusal("[verify]\nenvironment = \"test\"\nleeway_seconds = 601\n");
}

BOOST_AUTO_TEST_CASE(AudienceTakenAsGiven) {
  auto config =
      parse_table("[verify]\nenvironment = \"test\"\naudience = \"https://api.example/\"\n");
  BOOST_TEST_REQUIRE(config.ok(), why(config));
  BOOST_TEST(config->verify_audience.value_or("") == "https://api.example/");
  auto without = parse_table("[verify]\nenvironment = \"test\"\n");
  BOOST_TEST_REQUIRE(without.ok(), why(without));
  BOOST_TEST(!without->verify_audience.has_value());
}

BOOST_AUTO_TEST_CASE(EmptyAudienceRefused) {
  BOOST_TEST(contains(table_refusal("[verify]\nenvironment = \"test\"\naudience = \"\"\n"),
                      "audience"));
}

BOOST_AUTO_TEST_CASE(UnknownKeyRefused) {
  BOOST_TEST(contains(table_refusal("[verify]\nenvironment = \"test\"\nscopes = []\n"), "scopes"));
}

BOOST_AUTO_TEST_SUITE_END()

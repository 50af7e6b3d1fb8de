#define BOOST_TEST_MODULE engine
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "agent/engine/engine.h"

using namespace mpa;

namespace {

// A signer that answers at once, or with the error a token would give.
class FakeGrantSigner final : public GrantSigner {
 public:
  bool fail = false;
  std::atomic<int> sign_calls{0};

  Result<Bytes> sign(JwsAlg, std::string_view) override {
    ++sign_calls;
    if (fail) return make_error(ErrorCode::hsm_error, "the token is not present");
    return Bytes{1, 2, 3};
  }
  const std::vector<Bytes>& certificate_chain() const override { return chain_; }
  SignerInfo info() const override {
    SignerInfo info;
    info.token_label = "fake";
    return info;
  }

 private:
  std::vector<Bytes> chain_{Bytes{0x30, 0x00}};
};

ClientConfig client(const std::string& name, const std::string& token) {
  ClientConfig c;
  c.name = name;
  c.client_id = "id-" + name;
  c.issuer = "https://maskinporten.invalid/";
  c.token_endpoint = "https://maskinporten.invalid/token";
  c.key = "pkcs11:token=" + token + ";object=" + name + ";type=private";
  c.kid = "kid-" + name;
  c.scopes = {"scope:a"};
  return c;
}

Config config_of(std::vector<ClientConfig> clients) {
  Config config;
  config.path = "agent.toml";
  config.max_concurrent_signatures = 1;
  config.clients = std::move(clients);
  return config;
}

// The factory the engine is given: `signers`, one per client.
Engine::GrantSignerFactory giving(std::vector<std::shared_ptr<FakeGrantSigner>> signers) {
  return [signers](const Config&) -> Result<std::vector<std::shared_ptr<GrantSigner>>> {
    return std::vector<std::shared_ptr<GrantSigner>>(signers.begin(), signers.end());
  };
}

GrantRequest scopes(std::vector<std::string> asked) {
  GrantRequest request;
  request.scopes = std::move(asked);
  return request;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(EngineAssembly)

BOOST_AUTO_TEST_CASE(GrantIsSignedByTheClientsOwnSigner) {
  auto a = std::make_shared<FakeGrantSigner>();
  auto b = std::make_shared<FakeGrantSigner>();
  auto engine = Engine::create(config_of({client("a", "T"), client("b", "T")}), giving({a, b}));
  BOOST_REQUIRE(engine.ok());
  auto which = (*engine)->client("b");
  BOOST_REQUIRE(which.ok());
  auto grant = (*engine)->make_grant(**which, scopes({"scope:a"}));
  BOOST_REQUIRE(grant.ok());
  BOOST_TEST(!grant->jwt.empty());
  BOOST_TEST(a->sign_calls == 0);
  BOOST_TEST(b->sign_calls == 1);
  BOOST_TEST((*engine)->signer_info(**which).token_label == "fake");
}

BOOST_AUTO_TEST_CASE(ClientsOnOneTokenShareOneSignatureQueue) {
  auto engine = Engine::create(config_of({client("a", "T"), client("b", "T"), client("c", "U")}),
                               giving({std::make_shared<FakeGrantSigner>(), std::make_shared<FakeGrantSigner>(),
                                       std::make_shared<FakeGrantSigner>()}));
  BOOST_REQUIRE(engine.ok());
  const auto queues = (*engine)->signature_queues();
  BOOST_TEST(queues.size() == 2u);
  for (const auto& queue : queues) BOOST_TEST(queue.stats.threads == 1u);
}

BOOST_AUTO_TEST_CASE(TheOnlyClientIsFoundWithoutAName) {
  auto engine = Engine::create(config_of({client("a", "T")}), giving({std::make_shared<FakeGrantSigner>()}));
  BOOST_REQUIRE(engine.ok());
  auto only = (*engine)->client("");
  BOOST_REQUIRE(only.ok());
  BOOST_TEST((*only)->name == "a");
}

BOOST_AUTO_TEST_CASE(AnUnnamedClientAmongSeveralIsRefused) {
  auto engine = Engine::create(config_of({client("a", "T"), client("b", "T")}),
                               giving({std::make_shared<FakeGrantSigner>(), std::make_shared<FakeGrantSigner>()}));
  BOOST_REQUIRE(engine.ok());
  auto none = (*engine)->client("");
  BOOST_REQUIRE(!none.ok());
  BOOST_TEST((none.error().code == ErrorCode::unknown_client));
  BOOST_TEST(contains(none.error().message, "say which one"));
  BOOST_TEST(((*engine)->client("z").error().code == ErrorCode::unknown_client));
}

BOOST_AUTO_TEST_CASE(AFactoryErrorIsTheEnginesError) {
  auto engine = Engine::create(config_of({client("a", "T")}), [](const Config&) -> Result<std::vector<std::shared_ptr<GrantSigner>>> {
    return make_error(ErrorCode::hsm_error, "agent.toml: client \"a\": the token refused the PIN",
                      ErrorReason::pin_refused);
  });
  BOOST_REQUIRE(!engine.ok());
  BOOST_TEST(engine.error().message == "agent.toml: client \"a\": the token refused the PIN");
  BOOST_TEST((engine.error().reason == ErrorReason::pin_refused));
}

BOOST_AUTO_TEST_CASE(AFactoryWithTooFewSignersIsAnInternalError) {
  auto engine = Engine::create(config_of({client("a", "T"), client("b", "T")}),
                               giving({std::make_shared<FakeGrantSigner>()}));
  BOOST_REQUIRE(!engine.ok());
  BOOST_TEST((engine.error().code == ErrorCode::internal));
  BOOST_TEST(contains(engine.error().message, "gave 1 signers for 2 clients"));
}

BOOST_AUTO_TEST_CASE(ACaFileWithoutACertificateIsRefusedBeforeAnySigner) {
  const auto path = std::filesystem::temp_directory_path() / "mpa_test_engine_empty_ca.pem";
  std::ofstream(path) << "not a certificate\n";
  ClientConfig c = client("a", "T");
  c.ca_file = path.string();
  bool asked = false;
  auto engine = Engine::create(config_of({c}), [&](const Config&) -> Result<std::vector<std::shared_ptr<GrantSigner>>> {
    asked = true;
    return std::vector<std::shared_ptr<GrantSigner>>{std::make_shared<FakeGrantSigner>()};
  });
  std::filesystem::remove(path);
  BOOST_REQUIRE(!engine.ok());
  BOOST_TEST((engine.error().code == ErrorCode::invalid_config));
  BOOST_TEST(contains(engine.error().message, "agent.toml: client \"a\": ca_file "));
  BOOST_TEST(!asked);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(EngineFetch)

// The signature runs on the token's queue, before any HTTP: a signer that
// fails ends the exchange with its error, and Maskinporten is never asked.
BOOST_AUTO_TEST_CASE(ASignerFailureEndsTheExchangeWithItsError) {
  auto signer = std::make_shared<FakeGrantSigner>();
  signer->fail = true;
  auto engine = Engine::create(config_of({client("a", "T")}), giving({signer}));
  BOOST_REQUIRE(engine.ok());
  auto token = (*engine)->fetch_token(**(*engine)->client("a"), scopes({"scope:a"}));
  BOOST_REQUIRE(!token.ok());
  BOOST_TEST((token.error().code == ErrorCode::hsm_error));
  BOOST_TEST(contains(token.error().message, "the token is not present"));
  BOOST_TEST(signer->sign_calls == 1);
}

BOOST_AUTO_TEST_CASE(AScopeTheClientMayNotAskForIsRefusedBeforeSigning) {
  auto signer = std::make_shared<FakeGrantSigner>();
  auto engine = Engine::create(config_of({client("a", "T")}), giving({signer}));
  BOOST_REQUIRE(engine.ok());
  auto token = (*engine)->fetch_token(**(*engine)->client("a"), scopes({"scope:other"}));
  BOOST_REQUIRE(!token.ok());
  BOOST_TEST((token.error().code == ErrorCode::invalid_scope));
  BOOST_TEST(signer->sign_calls == 0);
}

BOOST_AUTO_TEST_CASE(AnUnknownClientIsAnsweredAtOnce) {
  auto engine = Engine::create(config_of({client("a", "T")}), giving({std::make_shared<FakeGrantSigner>()}));
  BOOST_REQUIRE(engine.ok());
  auto token = (*engine)->fetch_token(client("z", "T"), scopes({"scope:a"}));
  BOOST_REQUIRE(!token.ok());
  BOOST_TEST((token.error().code == ErrorCode::unknown_client));
}

BOOST_AUTO_TEST_SUITE_END()

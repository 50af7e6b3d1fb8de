#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/engine/engine.h"
#include "common/openssl_handles.h"

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

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// RS256 with a key in memory: what a token does, without one.
class KeyGrantSigner final : public GrantSigner {
 public:
  explicit KeyGrantSigner(const std::filesystem::path& key_pem) {
    std::FILE* file = std::fopen(key_pem.c_str(), "r");
    BOOST_TEST_REQUIRE(file != nullptr);
    key_.reset(PEM_read_PrivateKey(file, nullptr, nullptr, nullptr));
    std::fclose(file);
    BOOST_TEST_REQUIRE(key_ != nullptr);
  }
  std::atomic<int> sign_calls{0};

  Result<Bytes> sign(JwsAlg, std::string_view data) override {
    ++sign_calls;
    Handle<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
    std::size_t length = 0;
    const auto* input = reinterpret_cast<const unsigned char*>(data.data());
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &length, input, data.size()) != 1) {
      return make_error(ErrorCode::hsm_error, "EVP_DigestSign failed");
    }
    Bytes signature(length);
    if (EVP_DigestSign(ctx.get(), signature.data(), &length, input, data.size()) != 1) {
      return make_error(ErrorCode::hsm_error, "EVP_DigestSign failed");
    }
    signature.resize(length);
    return signature;
  }
  const std::vector<Bytes>& certificate_chain() const override { return chain_; }
  SignerInfo info() const override { return {}; }

 private:
  Handle<EVP_PKEY> key_;
  std::vector<Bytes> chain_;
};

// The stand-in Maskinporten (tests/standin) over real HTTPS, knowing
// client "engine-test" with scope "scope:a" and the public half of
// key.pem as its kid "kid-a"; other.pem is a key it does not know. One
// for the whole run, started at first use.
class Standin {
 public:
  static Standin& get() {
    static Standin standin;
    return standin;
  }
  std::filesystem::path dir;
  int port = 0;

  ClientConfig client() const {
    ClientConfig c = ::client("a", "T");
    c.client_id = "engine-test";
    c.kid = "kid-a";
    c.issuer = "https://localhost:" + std::to_string(port) + "/";
    c.token_endpoint = c.issuer + "token";
    c.ca_file = (dir / "tls-ca.pem").string();
    c.retry_deadline_seconds = 5;
    return c;
  }

  ~Standin() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }

 private:
  pid_t pid_ = -1;

  Standin() {
    for (const char* name : {"https_proxy", "HTTPS_PROXY", "http_proxy", "all_proxy", "ALL_PROXY"}) {
      ::unsetenv(name);
    }
    char tmpl[] = "/tmp/mpa-engine-test-XXXXXX";
    BOOST_TEST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    const std::string in = "cd '" + dir.string() + "' && ";
    for (const char* command :
         {"openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out ca.pem -days 1 "
          "-subj /CN=engine-test",
          "openssl pkey -in key.pem -pubout -out pub.pem",
          "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other.pem"}) {
      BOOST_TEST_REQUIRE(std::system((in + command + " >>openssl.log 2>&1").c_str()) == 0, command);
    }
    start();
  }

  void start() {
    const char* source = std::getenv("MPA_SOURCE_DIR");
    BOOST_TEST_REQUIRE(source != nullptr, "MPA_SOURCE_DIR is set by ctest");
    const std::string script = std::string(source) + "/tests/standin/maskinporten.py";
    const std::string kid = "engine-test:kid-a=" + (dir / "pub.pem").string();
    const std::string state = dir.string();
    const std::string trusted = (dir / "ca.pem").string();
    const std::string log = (dir / "standin.log").string();
    pid_ = ::fork();
    BOOST_TEST_REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 2);
      ::execl("/usr/bin/python3", "python3", script.c_str(), "--state-dir", state.c_str(),
              "--trusted-ca", trusted.c_str(), "--client", "engine-test=scope:a", "--kid", kid.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // It makes an RSA TLS key first, slow on a loaded machine.
    const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (read_text(dir / "port").empty()) {
      BOOST_TEST_REQUIRE(::waitpid(pid_, nullptr, WNOHANG) == 0, "the stand-in exited: " << read_text(log));
      BOOST_TEST_REQUIRE((std::chrono::steady_clock::now() < limit), "the stand-in did not start");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    port = std::stoi(read_text(dir / "port"));
  }
};

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

// A whole exchange: the grant signed through the engine's GrantSigner on
// its token's queue, posted by the engine's HTTP lane to the stand-in over
// TLS, and its answer read back.
BOOST_AUTO_TEST_SUITE(EngineExchange)

BOOST_AUTO_TEST_CASE(AGrantSignedByTheSignerIsExchangedForAToken) {
  Standin& standin = Standin::get();
  auto signer = std::make_shared<KeyGrantSigner>(standin.dir / "key.pem");
  auto engine = Engine::create(config_of({standin.client()}),
                               [signer](const Config&) -> Result<std::vector<std::shared_ptr<GrantSigner>>> {
                                 return std::vector<std::shared_ptr<GrantSigner>>{signer};
                               });
  BOOST_REQUIRE(engine.ok());
  auto token = (*engine)->fetch_token(**(*engine)->client("a"), scopes({"scope:a"}));
  BOOST_REQUIRE_MESSAGE(token.ok(), (token.ok() ? "" : token.error().message));
  BOOST_TEST(!token->access_token.empty());
  BOOST_TEST(signer->sign_calls == 1);
}

BOOST_AUTO_TEST_CASE(AGrantSignedWithAnotherKeyIsRefusedAsMaskinportenSaysIt) {
  Standin& standin = Standin::get();
  auto signer = std::make_shared<KeyGrantSigner>(standin.dir / "other.pem");
  auto engine = Engine::create(config_of({standin.client()}),
                               [signer](const Config&) -> Result<std::vector<std::shared_ptr<GrantSigner>>> {
                                 return std::vector<std::shared_ptr<GrantSigner>>{signer};
                               });
  BOOST_REQUIRE(engine.ok());
  auto token = (*engine)->fetch_token(**(*engine)->client("a"), scopes({"scope:a"}));
  BOOST_REQUIRE(!token.ok());
  BOOST_TEST((token.error().code == ErrorCode::invalid_grant), token.error().message);
  BOOST_TEST(signer->sign_calls == 1);
}

BOOST_AUTO_TEST_SUITE_END()

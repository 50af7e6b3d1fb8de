#include <boost/test/unit_test.hpp>

// The PKCS#11 header is used here only to play "token removed" (closing
// every session behind libp11's back); the code under test keeps it inside
// pkcs11/.
#include <dlfcn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <p11-kit-1/p11-kit/pkcs11.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.h"
#include "common/jws_digest.h"
#include "common/grant_signer.h"
#include "pkcs11/errors.h"
#include "pkcs11/pkcs11.h"

using namespace mpa;
using namespace mpa::pkcs11;
namespace fs = std::filesystem;
using mpa::test::contains;
using mpa::test::read_text;
using mpa::test::why;

namespace {

// The agent reads PINs from a file or the environment only; a test has its
// PIN in hand.
SecretBytes secret_of(std::string_view text) { return SecretBytes(text.begin(), text.end()); }

constexpr const char* kModule = "/usr/lib/softhsm/libsofthsm2.so";
// OpenSC's pkcs11-spy logs every call to the module it wraps.
constexpr const char* kSpyModule = "/usr/lib/x86_64-linux-gnu/pkcs11-spy.so";
constexpr const char* kKeyUri = "pkcs11:token=Virksomhet%20Test;object=vsert-auth;type=private";

// One fresh token for the whole run, made by the fixture script the
// integration tests use too.
struct TokenDir {
  mpa::test::TempDir temp{"mpa-pkcs11-test"};
  fs::path dir = temp.path;

  TokenDir() {
    const std::string command = mpa::test::source_dir() + "/softhsm-fixtures/make-token.sh '" +
                                dir.string() + "' >/dev/null";
    BOOST_TEST_REQUIRE(std::system(command.c_str()) == 0, "make-token.sh failed");
    // Before the module is loaded: SoftHSM reads it in C_Initialize.
    ::setenv("SOFTHSM2_CONF", (dir / "softhsm2.conf").c_str(), 1);
    // For the cases that load SoftHSM through OpenSC's pkcs11-spy.
    ::setenv("PKCS11SPY", kModule, 1);
    ::setenv("PKCS11SPY_OUTPUT", (dir / "pkcs11-spy.log").c_str(), 1);
    instance = this;
  }
  static TokenDir* instance;
};
TokenDir* TokenDir::instance = nullptr;

const fs::path& token_dir() { return TokenDir::instance->dir; }

SecretBytes right_pin() { return secret_of(read_text(token_dir() / "pin")); }

Pkcs11Uri token_uri() { return Pkcs11Uri::parse(kKeyUri).value(); }

std::shared_ptr<Pkcs11Token> open_token(std::vector<std::string>* warnings = nullptr) {
  TokenOptions options{kModule, right_pin(), nullptr, {}};
  if (warnings != nullptr) {
    options.warn = [warnings](const std::string& w) { warnings->push_back(w); };
  }
  auto token = Pkcs11Token::open(std::move(options), token_uri());
  BOOST_TEST_REQUIRE(token.ok(), why(token));
  return *token;
}

std::shared_ptr<GrantSigner> make_signer(Pkcs11Token& token, const std::string& uri,
                                    std::optional<std::string> chain_file = std::nullopt) {
  auto signer = token.signer(KeyOptions{uri, std::move(chain_file)});
  BOOST_TEST_REQUIRE(signer.ok(), why(signer));
  return *signer;
}

std::string signer_error(Pkcs11Token& token, const std::string& uri,
                         std::optional<std::string> chain_file = std::nullopt) {
  auto signer = token.signer(KeyOptions{uri, std::move(chain_file)});
  BOOST_TEST_REQUIRE(!signer.ok(), "expected " << uri << " to be refused");
  return signer.error().message;
}

X509* load_pem_cert(const fs::path& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  BOOST_TEST_REQUIRE(f != nullptr);
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  BOOST_TEST_REQUIRE(cert != nullptr);
  return cert;
}

Bytes pem_to_der(const fs::path& path) {
  X509* cert = load_pem_cert(path);
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
  Bytes out(der, der + len);
  OPENSSL_free(der);
  X509_free(cert);
  return out;
}

// Verifies `signature` over `data` with the public key of the DER
// certificate `cert_der`, as a relying party (Maskinporten) would.
bool verifies(const Bytes& cert_der, JwsAlg alg, std::string_view data, const Bytes& signature) {
  const unsigned char* p = cert_der.data();
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(cert_der.size()));
  if (cert == nullptr) return false;
  const EVP_MD* md = digest_for(alg);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, X509_get0_pubkey(cert)) == 1 &&
      EVP_DigestVerify(ctx, signature.data(), signature.size(),
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  X509_free(cert);
  return ok;
}

bool write_file(const fs::path& path, const std::string& content, mode_t mode) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  return ::chmod(path.c_str(), mode) == 0;
}

// The module libp11 loaded (dlopen hands out the loaded library), for
// playing the token's part behind libp11's back.
struct RawModule {
  CK_FUNCTION_LIST_PTR p11 = nullptr;
  CK_SLOT_ID slot = 0;

  explicit RawModule(const char* path = kModule) {
    void* module = ::dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    BOOST_TEST_REQUIRE(module != nullptr, path << " is not loaded");
    auto get_list = reinterpret_cast<CK_RV (*)(CK_FUNCTION_LIST_PTR_PTR)>(
        ::dlsym(module, "C_GetFunctionList"));
    BOOST_TEST_REQUIRE(get_list != nullptr);
    BOOST_TEST_REQUIRE(get_list(&p11) == CKR_OK);
    ::dlclose(module);  // libp11 still holds it
    CK_SLOT_ID slots[8];
    CK_ULONG count = 8;
    BOOST_TEST_REQUIRE(p11->C_GetSlotList(CK_TRUE, slots, &count) == CKR_OK);
    for (CK_ULONG i = 0; i < count; ++i) {
      CK_TOKEN_INFO info{};
      if (p11->C_GetTokenInfo(slots[i], &info) != CKR_OK) continue;
      const std::string label(reinterpret_cast<const char*>(info.label), sizeof info.label);
      if (label.rfind("Virksomhet Test ", 0) == 0) slot = slots[i];
    }
    BOOST_TEST_REQUIRE(slot != 0u);
  }

  // Plays "token removed and put back": every session closes, and with
  // the last one the login ends.
  void close_all_sessions() { p11->C_CloseAllSessions(slot); }

  void change_pin(const std::string& from, const std::string& to) {
    CK_SESSION_HANDLE session = 0;
    BOOST_TEST_REQUIRE(p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr,
                                          nullptr, &session) == CKR_OK);
    auto* old_pin = reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(from.data()));
    auto* new_pin = reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(to.data()));
    const CK_RV login = p11->C_Login(session, CKU_USER, old_pin, from.size());
    BOOST_TEST_REQUIRE((login == CKR_OK || login == CKR_USER_ALREADY_LOGGED_IN));
    BOOST_TEST_REQUIRE(p11->C_SetPIN(session, old_pin, from.size(), new_pin, to.size()) ==
                       CKR_OK);
    close_all_sessions();
  }
};


// One log for the whole run: the spy keeps the file it opened first.
struct SpyLog {
  int baseline_logins = 0;
  int baseline_finalizes = 0;
  SpyLog() : baseline_logins(total("C_Login")), baseline_finalizes(total("C_Finalize")) {}

  static fs::path file() { return token_dir() / "pkcs11-spy.log"; }
  static int total(const std::string& function) {
    std::ifstream in(file());
    int n = 0;
    for (std::string line; std::getline(in, line);) {
      const auto colon = line.find(": ");
      if (colon != std::string::npos && line.substr(colon + 2) == function) ++n;
    }
    return n;
  }
  int logins() const { return total("C_Login") - baseline_logins; }
  int finalizes() const { return total("C_Finalize") - baseline_finalizes; }
};

constexpr std::string_view kData = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ0ZXN0In0";

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(TokenDir);

BOOST_AUTO_TEST_SUITE(Pkcs11Token2048And3072)

BOOST_AUTO_TEST_CASE(SignsRs256Rs384Rs512VerifiableWithTheCertificate) {
  auto token = open_token();
  auto signer = make_signer(*token, kKeyUri);
  const Bytes leaf = pem_to_der(token_dir() / "pki/vsert-auth.pem");
  BOOST_TEST_REQUIRE(signer->certificate_chain().size() >= 1u);
  BOOST_TEST((signer->certificate_chain().front() == leaf));
  for (JwsAlg alg : {JwsAlg::RS256, JwsAlg::RS384, JwsAlg::RS512}) {
    auto signature = signer->sign(alg, kData);
    BOOST_TEST_REQUIRE(signature.ok(), why(signature));
    BOOST_TEST(signature->size() == 256u);
    BOOST_TEST(verifies(leaf, alg, kData, *signature), to_string(alg));
  }
}

BOOST_AUTO_TEST_CASE(Signs3072BitKeyVerifiableWithItsCertificate) {
  auto token = open_token();
  auto signer = make_signer(*token, "pkcs11:token=Virksomhet%20Test;object=vsert-auth-3072");
  const Bytes leaf = pem_to_der(token_dir() / "pki/vsert-auth-3072.pem");
  BOOST_TEST((signer->certificate_chain().front() == leaf));
  for (JwsAlg alg : {JwsAlg::RS256, JwsAlg::RS384, JwsAlg::RS512}) {
    auto signature = signer->sign(alg, kData);
    BOOST_TEST_REQUIRE(signature.ok(), why(signature));
    BOOST_TEST(signature->size() == 384u);
    BOOST_TEST(verifies(leaf, alg, kData, *signature), to_string(alg));
  }
}

BOOST_AUTO_TEST_CASE(SignatureDoesNotVerifyOverOtherData) {
  auto token = open_token();
  auto signer = make_signer(*token, kKeyUri);
  auto signature = signer->sign(JwsAlg::RS256, kData);
  BOOST_TEST_REQUIRE(signature.ok());
  BOOST_TEST(!verifies(signer->certificate_chain().front(), JwsAlg::RS256, "other", *signature));
  BOOST_TEST(!verifies(signer->certificate_chain().front(), JwsAlg::RS384, kData, *signature));
}

BOOST_AUTO_TEST_CASE(PicksKeyByIdNotTheFirstKeyOnTheToken) {
  // `unrelated` (id 10) was generated first; id 01 is vsert-auth.
  auto token = open_token();
  auto signer = make_signer(*token, "pkcs11:token=Virksomhet%20Test;id=%01");
  const Bytes leaf = pem_to_der(token_dir() / "pki/vsert-auth.pem");
  auto signature = signer->sign(JwsAlg::RS256, kData);
  BOOST_TEST_REQUIRE(signature.ok());
  BOOST_TEST(verifies(leaf, JwsAlg::RS256, kData, *signature));
}

BOOST_AUTO_TEST_CASE(ChainFromTokenIsLeafThenIntermediateWithoutRoot) {
  auto token = open_token();
  auto signer = make_signer(*token, kKeyUri);
  const auto& chain = signer->certificate_chain();
  BOOST_TEST_REQUIRE(chain.size() == 2u);
  BOOST_TEST((chain[1] == pem_to_der(token_dir() / "pki/intermediate-ca.pem")));
}

BOOST_AUTO_TEST_CASE(ChainFromChainFileReplacesTheToken) {
  auto token = open_token();
  // root + intermediate in the file: the self-signed root is not sent.
  const fs::path file = token_dir() / "chain-with-root.pem";
  BOOST_TEST_REQUIRE(write_file(file,
                                read_text(token_dir() / "pki/chain.pem") +
                                    read_text(token_dir() / "pki/root-ca.pem"),
                                0644));
  auto signer = make_signer(*token, kKeyUri, file.string());
  const auto& chain = signer->certificate_chain();
  BOOST_TEST_REQUIRE(chain.size() == 2u);
  BOOST_TEST((chain[1] == pem_to_der(token_dir() / "pki/intermediate-ca.pem")));
}

BOOST_AUTO_TEST_CASE(RejectsMissingChainFile) {
  auto token = open_token();
  const auto message = signer_error(*token, kKeyUri, (token_dir() / "nope.pem").string());
  BOOST_TEST(contains(message, "cannot open chain_file"), message);
}

BOOST_AUTO_TEST_CASE(RejectsChainFileWithoutCertificates) {
  auto token = open_token();
  const fs::path file = token_dir() / "empty-chain.pem";
  BOOST_TEST_REQUIRE(write_file(file, "not a certificate\n", 0644));
  const auto message = signer_error(*token, kKeyUri, file.string());
  BOOST_TEST(contains(message, "holds no intermediate certificate"), message);
}

BOOST_AUTO_TEST_CASE(InfoDescribesTokenKeyAndCertificate) {
  auto token = open_token();
  auto signer = make_signer(*token, kKeyUri);
  const SignerInfo info = signer->info();
  BOOST_TEST(info.token_present);
  BOOST_TEST(info.logged_in);
  BOOST_TEST(info.token_label == "Virksomhet Test");
  BOOST_TEST(info.key_uri == kKeyUri);
  BOOST_TEST(contains(info.certificate_subject, "serialNumber=999888777"), info.certificate_subject);
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  BOOST_TEST(info.certificate_not_after > now + 300 * 86400);
  BOOST_TEST(info.last_error.empty());
}

BOOST_AUTO_TEST_CASE(SignsFromFourThreadsAtOnceAndAllVerify) {
  auto token = open_token();
  auto signer = make_signer(*token, kKeyUri);
  const Bytes leaf = signer->certificate_chain().front();
  std::atomic<int> good{0};
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const std::string data = "thread " + std::to_string(t) + " grant " + std::to_string(i);
        const JwsAlg alg = i % 2 == 0 ? JwsAlg::RS256 : JwsAlg::RS512;
        auto signature = signer->sign(alg, data);
        if (signature.ok() && verifies(leaf, alg, data, *signature)) {
          ++good;
        } else {
          ++bad;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  BOOST_TEST(good.load() == 100);
  BOOST_TEST(bad.load() == 0);
}

BOOST_AUTO_TEST_CASE(RecoversOnceWhenTheSessionsWentAway) {
  auto token = open_token();
  auto signer = make_signer(*token, kKeyUri);
  BOOST_TEST_REQUIRE(signer->sign(JwsAlg::RS256, kData).ok());
  RawModule().close_all_sessions();
  auto signature = signer->sign(JwsAlg::RS256, kData);
  BOOST_TEST_REQUIRE(signature.ok(), why(signature));
  BOOST_TEST(verifies(signer->certificate_chain().front(), JwsAlg::RS256, kData, *signature));
  BOOST_TEST(signer->info().logged_in);
}

BOOST_AUTO_TEST_CASE(FourThreadsRecoverTogetherWhenTheSessionsWentAway) {
  auto token = open_token();
  auto signer = make_signer(*token, kKeyUri);
  const Bytes leaf = signer->certificate_chain().front();
  BOOST_TEST_REQUIRE(signer->sign(JwsAlg::RS256, kData).ok());
  RawModule().close_all_sessions();
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const std::string data = "after removal " + std::to_string(t);
      auto signature = signer->sign(JwsAlg::RS384, data);
      if (signature.ok() && verifies(leaf, JwsAlg::RS384, data, *signature)) ++good;
    });
  }
  for (auto& thread : threads) thread.join();
  BOOST_TEST(good.load() == 4);
  BOOST_TEST(signer->info().logged_in);
}

// What a configuration reload that opens the token beside the old one
// meets: libp11 closing the old one ends the new one's sessions too.
BOOST_AUTO_TEST_CASE(SurvivorOfTwoTokensOnAModuleRecoversWithOneLogin) {
  SpyLog spy;
  auto spy_token = [] {
    auto token = Pkcs11Token::open(TokenOptions{kSpyModule, right_pin(), nullptr, {}}, token_uri());
    BOOST_TEST_REQUIRE(token.ok(), why(token));
    return *token;
  };
  auto old_token = spy_token();
  auto new_token = spy_token();
  auto signer = make_signer(*new_token, kKeyUri);
  BOOST_TEST_REQUIRE(spy.logins() == 2);
  old_token.reset();
  auto signature = signer->sign(JwsAlg::RS256, kData);
  BOOST_TEST_REQUIRE(signature.ok(), why(signature));
  BOOST_TEST(verifies(signer->certificate_chain().front(), JwsAlg::RS256, kData, *signature));
  BOOST_TEST(spy.logins() == 3);
  BOOST_TEST_REQUIRE(signer->sign(JwsAlg::RS256, kData).ok());
  BOOST_TEST(spy.logins() == 3);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(Pkcs11TokenRefusals)

BOOST_AUTO_TEST_CASE(RejectsMissingKeyListingWhatIsThere) {
  auto token = open_token();
  const auto message = signer_error(*token, "pkcs11:token=Virksomhet%20Test;object=no-such-key");
  BOOST_TEST(contains(message, "no private key with object=\"no-such-key\""), message);
  BOOST_TEST(contains(message, "unrelated (id 10)"), message);
}

BOOST_AUTO_TEST_CASE(RejectsLabelAndIdThatBelongToDifferentKeys) {
  auto token = open_token();
  const auto message = signer_error(*token, "pkcs11:object=vsert-auth;id=%10");
  BOOST_TEST(contains(message, "no private key"), message);
}

BOOST_AUTO_TEST_CASE(RejectsKeyWithoutCertificate) {
  auto token = open_token();
  const auto message = signer_error(*token, "pkcs11:object=unrelated");
  BOOST_TEST(contains(message, "no certificate with CKA_ID 10"), message);
}

BOOST_AUTO_TEST_CASE(RejectsCertificateCarryingAnotherPublicKey) {
  auto token = open_token();
  const auto message = signer_error(*token, "pkcs11:object=mismatch");
  BOOST_TEST(contains(message, "carries another public key"), message);
}

BOOST_AUTO_TEST_CASE(RejectsExpiredCertificate) {
  auto token = open_token();
  const auto message = signer_error(*token, "pkcs11:object=expired");
  BOOST_TEST(contains(message, "expired"), message);
  BOOST_TEST(contains(message, "days ago"), message);
}

BOOST_AUTO_TEST_CASE(RejectsKeyUriThatNamesNoKey) {
  auto token = open_token();
  const auto message = signer_error(*token, "pkcs11:token=Virksomhet%20Test;type=private");
  BOOST_TEST(contains(message, "names no key"), message);
}

BOOST_AUTO_TEST_CASE(RejectsKeyUriNamingACertificate) {
  auto token = open_token();
  const auto message = signer_error(*token, "pkcs11:object=vsert-auth;type=cert");
  BOOST_TEST(contains(message, "must name the private key"), message);
}

BOOST_AUTO_TEST_CASE(RejectsKeyUriForAnotherToken) {
  auto token = open_token();
  const auto message = signer_error(*token, "pkcs11:token=Other;object=vsert-auth");
  BOOST_TEST(contains(message, "names another token"), message);
}

BOOST_AUTO_TEST_CASE(RejectsMalformedKeyUri) {
  auto token = open_token();
  const auto message = signer_error(*token, "pkcs11:object=vsert-auth;colour=red");
  BOOST_TEST(contains(message, "unknown attribute"), message);
}

BOOST_AUTO_TEST_CASE(RejectsUnknownTokenListingTheTokensFound) {
  auto token = Pkcs11Token::open(TokenOptions{kModule, right_pin(), nullptr, {}},
                                 Pkcs11Uri::parse("pkcs11:token=Nope").value());
  BOOST_TEST_REQUIRE(!token.ok());
  BOOST_TEST((token.error().code == ErrorCode::hsm_error));
  BOOST_TEST(contains(token.error().message, "no token matches token=\"Nope\""),
             token.error().message);
  BOOST_TEST(contains(token.error().message, "tokens found: \"Virksomhet Test\""),
             token.error().message);
}

BOOST_AUTO_TEST_CASE(RejectsMissingModule) {
  auto token = Pkcs11Token::open(TokenOptions{"/nonexistent/libpkcs11.so", right_pin(), nullptr, {}},
                                 token_uri());
  BOOST_TEST_REQUIRE(!token.ok());
  BOOST_TEST((token.error().code == ErrorCode::invalid_config));
  BOOST_TEST(contains(token.error().message, "does not exist"), token.error().message);
}

BOOST_AUTO_TEST_CASE(RejectsLibraryThatIsNotAPkcs11Module) {
  auto token = Pkcs11Token::open(
      TokenOptions{"/usr/lib/x86_64-linux-gnu/libz.so.1", right_pin(), nullptr, {}}, token_uri());
  BOOST_TEST_REQUIRE(!token.ok());
  BOOST_TEST((token.error().code == ErrorCode::invalid_config));
  BOOST_TEST(contains(token.error().message, "/usr/lib/x86_64-linux-gnu/libz.so.1 is not a PKCS#11 "
                                             "module: it has no C_GetFunctionList"),
             token.error().message);
}

BOOST_AUTO_TEST_CASE(RejectsAFileThatIsNotALibrary) {
  char path[] = "/tmp/mpa-not-a-library-XXXXXX";
  const int fd = ::mkstemp(path);
  BOOST_TEST_REQUIRE(fd >= 0);
  BOOST_TEST_REQUIRE(::write(fd, "not ELF\n", 8) == 8);
  ::close(fd);
  auto token = Pkcs11Token::open(TokenOptions{path, right_pin(), nullptr, {}}, token_uri());
  ::unlink(path);
  BOOST_TEST_REQUIRE(!token.ok());
  BOOST_TEST((token.error().code == ErrorCode::invalid_config));
  BOOST_TEST(contains(token.error().message, "cannot be loaded as a library: "),
             token.error().message);
}

// Wrong PINs are few in this suite and each is followed by the right one:
// a real token locks after a few, and the test token must stay usable.
BOOST_AUTO_TEST_CASE(WrongPinIsRefusedWithOneLoginAttemptAndTheTokenStillWorks) {
  {
    SpyLog spy;
    auto token = Pkcs11Token::open(TokenOptions{kSpyModule, secret_of("not-the-pin"), nullptr, {}},
                                   token_uri());
    BOOST_TEST_REQUIRE(!token.ok());
    BOOST_TEST((token.error().code == ErrorCode::hsm_error));
    BOOST_TEST(contains(token.error().message, "refused the PIN"), token.error().message);
    BOOST_TEST(contains(token.error().message, "CKR_PIN_INCORRECT (incorrect PIN)"),
               token.error().message);
    BOOST_TEST(contains(token.error().message, "not retried, to avoid locking it"),
               token.error().message);
    BOOST_TEST(!contains(token.error().message, "not-the-pin"));
    BOOST_TEST(spy.logins() == 1);
  }
  auto token = open_token();
  auto signer = make_signer(*token, kKeyUri);
  BOOST_TEST(signer->sign(JwsAlg::RS256, kData).ok());
}

// The spy cannot be used here: the test must reach the module instance
// libp11 loaded, and the spy loads its own SoftHSM out of dlopen's reach.
// "not logging in again" is said only before any C_Login is tried.
BOOST_AUTO_TEST_CASE(NeverLogsInAgainAfterThePinWasRefusedOnRecovery) {
  const std::string pin(view(right_pin()));
  const std::string changed = pin + "-changed";
  {
    auto token = open_token();
    auto signer = make_signer(*token, kKeyUri);
    BOOST_TEST_REQUIRE(signer->sign(JwsAlg::RS256, kData).ok());

    // The token "comes back" with another PIN: the kept PIN is now wrong.
    RawModule().change_pin(pin, changed);
    auto first = signer->sign(JwsAlg::RS256, kData);
    BOOST_TEST_REQUIRE(!first.ok());
    BOOST_TEST((first.error().code == ErrorCode::hsm_error));
    BOOST_TEST(contains(first.error().message, "CKR_SESSION_HANDLE_INVALID"), first.error().message);
    BOOST_TEST(contains(first.error().message, "refused the PIN"), first.error().message);

    auto second = signer->sign(JwsAlg::RS256, kData);
    BOOST_TEST_REQUIRE(!second.ok());
    BOOST_TEST(contains(second.error().message, "not logging in again"), second.error().message);
    BOOST_TEST(!signer->info().token_present);
    BOOST_TEST(contains(signer->info().last_error, "PIN"), signer->info().last_error);
  }
  // Put the PIN back for the tests after this one (the module is loaded
  // by this token, so that RawModule can reach it).
  {
    auto token = Pkcs11Token::open(TokenOptions{kModule, secret_of(changed), nullptr, {}},
                                   token_uri());
    BOOST_TEST_REQUIRE(token.ok(), why(token));
    RawModule().change_pin(changed, pin);
  }
  auto token = open_token();
  BOOST_TEST(make_signer(*token, kKeyUri)->sign(JwsAlg::RS256, kData).ok());
}

// Changes the CKA_ID of the certificate with CKA_ID `from` on the test
// token, as another program would (pkcs11-tool, its own SoftHSM instance).
void set_certificate_id(const std::string& from, const std::string& to) {
  const std::string command = std::string("pkcs11-tool --module ") + kModule +
                              " --token-label 'Virksomhet Test' --login --pin '" +
                              std::string(view(right_pin())) + "' --type cert --id " + from +
                              " --set-id " + to + " >/dev/null 2>&1";
  BOOST_TEST_REQUIRE(std::system(command.c_str()) == 0, "pkcs11-tool --set-id failed");
}

// Issue 8, "Re-login only to the same token": a token with the same label
// and serial that shows another key (here: the certificates of keys 01 and
// 02 swap their CKA_IDs while the token is away) gets no C_Login.
BOOST_AUTO_TEST_CASE(NoLoginAfterReinsertionWhenTheKeysCertificateShowsAnotherKey) {
  SpyLog spy;
  auto spy_token = [] {
    auto token = Pkcs11Token::open(TokenOptions{kSpyModule, right_pin(), nullptr, {}}, token_uri());
    BOOST_TEST_REQUIRE(token.ok(), why(token));
    return *token;
  };
  auto old_token = spy_token();
  auto token = spy_token();
  auto signer = make_signer(*token, kKeyUri);
  BOOST_TEST_REQUIRE(signer->sign(JwsAlg::RS256, kData).ok());
  BOOST_TEST_REQUIRE(spy.logins() == 2);

  set_certificate_id("01", "99");
  set_certificate_id("02", "01");
  set_certificate_id("99", "02");
  old_token.reset();  // ends the other token's sessions: it must open the token again
  auto refused = signer->sign(JwsAlg::RS256, kData);
  set_certificate_id("01", "99");
  set_certificate_id("02", "01");
  set_certificate_id("99", "02");

  BOOST_TEST_REQUIRE(!refused.ok());
  BOOST_TEST((refused.error().code == ErrorCode::hsm_error));
  BOOST_TEST(contains(refused.error().message,
                      "not presenting the PIN: the token \"Virksomhet Test\" now in the reader "
                      "shows another public key for the key object=\"vsert-auth\" than at the "
                      "first login (was the token replaced?)"),
             refused.error().message);
  BOOST_TEST((refused.error().reason != ErrorReason::pin_refused));
  BOOST_TEST(spy.logins() == 2);
  BOOST_TEST(make_signer(*open_token(), kKeyUri)->sign(JwsAlg::RS256, kData).ok());
}

// p11-kit's client with no server behind it fails C_GetSlotList and
// leaves libp11 no reason; the message still gives one.
BOOST_AUTO_TEST_CASE(SlotListFailureWithoutAReasonStillSaysWhy) {
  constexpr const char* kP11KitClient = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so";
  if (::access(kP11KitClient, R_OK) != 0) {
    BOOST_TEST_MESSAGE("skipped: " << kP11KitClient << " is not installed");
    return;
  }
  const char* before = std::getenv("P11_KIT_SERVER_ADDRESS");
  const std::string kept = before != nullptr ? before : "";
  ::setenv("P11_KIT_SERVER_ADDRESS", ("unix:path=" + (token_dir() / "no-server").string()).c_str(), 1);
  auto token = Pkcs11Token::open(TokenOptions{kP11KitClient, right_pin(), nullptr, {}}, token_uri());
  if (before != nullptr) ::setenv("P11_KIT_SERVER_ADDRESS", kept.c_str(), 1);
  else ::unsetenv("P11_KIT_SERVER_ADDRESS");
  BOOST_TEST_REQUIRE(!token.ok());
  const std::string& message = token.error().message;
  BOOST_TEST_MESSAGE("p11-kit client without a server: " << message);
  const auto colon = message.find(": ");
  BOOST_TEST_REQUIRE(colon != std::string::npos, message);
  BOOST_TEST(message.size() > colon + 2, message);
  BOOST_TEST(message.back() != ' ', message);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(PinFile)

BOOST_AUTO_TEST_CASE(ReadsOwnerOnlyPinFileWithoutTrailingNewline) {
  const fs::path file = token_dir() / "pin-0600";
  BOOST_TEST_REQUIRE(write_file(file, "123456\n", 0600));
  auto pin = read_pin_file(file.string());
  BOOST_TEST_REQUIRE(pin.ok());
  BOOST_TEST(view(*pin) == "123456");
}

BOOST_AUTO_TEST_CASE(RejectsPinFileReadableByOthers) {
  const fs::path file = token_dir() / "pin-0644";
  BOOST_TEST_REQUIRE(write_file(file, "123456", 0644));
  auto pin = read_pin_file(file.string());
  BOOST_TEST_REQUIRE(!pin.ok());
  BOOST_TEST((pin.error().code == ErrorCode::invalid_config));
  BOOST_TEST(contains(pin.error().message, "readable by group or others (mode 0644)"),
             pin.error().message);
}

BOOST_AUTO_TEST_CASE(RejectsEmptyPinFile) {
  const fs::path file = token_dir() / "pin-empty";
  BOOST_TEST_REQUIRE(write_file(file, "\n", 0600));
  BOOST_TEST(!read_pin_file(file.string()).ok());
}

BOOST_AUTO_TEST_CASE(RejectsMissingPinFile) {
  auto pin = read_pin_file((token_dir() / "no-pin").string());
  BOOST_TEST_REQUIRE(!pin.ok());
  BOOST_TEST(contains(pin.error().message, "cannot open pin_file"));
}

BOOST_AUTO_TEST_CASE(ReadsPinFromEnvironment) {
  ::setenv("MPA_TEST_PIN", "4321\n", 1);
  auto pin = read_pin_env("MPA_TEST_PIN");
  ::unsetenv("MPA_TEST_PIN");
  BOOST_TEST_REQUIRE(pin.ok());
  BOOST_TEST(view(*pin) == "4321");
}

BOOST_AUTO_TEST_CASE(RejectsUnsetPinEnvironmentVariable) {
  ::unsetenv("MPA_TEST_PIN");
  auto pin = read_pin_env("MPA_TEST_PIN");
  BOOST_TEST_REQUIRE(!pin.ok());
  BOOST_TEST(contains(pin.error().message, "is not set"), pin.error().message);
}

BOOST_AUTO_TEST_CASE(RejectsPinEnvironmentVariableHoldingOnlyANewline) {
  ::setenv("MPA_TEST_PIN", "\n", 1);
  auto pin = read_pin_env("MPA_TEST_PIN");
  ::unsetenv("MPA_TEST_PIN");
  BOOST_TEST(!pin.ok());
}

BOOST_AUTO_TEST_SUITE_END()

// Last, because it gives `unrelated` a certificate, which earlier cases
// rely on it not having.
BOOST_AUTO_TEST_SUITE(Pkcs11TokenWarnings)

BOOST_AUTO_TEST_CASE(WarnsWhenTheCertificateExpiresWithin30Days) {
  const std::string dir = token_dir().string();
  const std::string p11 = std::string("pkcs11-tool --module ") + kModule +
                          " --token-label 'Virksomhet Test' ";
  const std::string script = mpa::test::source_dir() + "/softhsm-fixtures/issue_cert.py";
  const std::string command =
      "set -e; " + p11 + "--read-object --type pubkey --id 10 --output-file " + dir +
      "/unrelated.pub.der >/dev/null; /usr/bin/python3 " + script + " " + dir + " " + dir +
      "/unrelated.pub.der 10 " + dir + "/unrelated.der; " + p11 + "--login --pin \"$(cat " +
      dir + "/pin)\" --write-object " + dir + "/unrelated.der --type cert --id 10 >/dev/null";
  BOOST_TEST_REQUIRE(std::system(command.c_str()) == 0, command);

  std::vector<std::string> warnings;
  auto token = open_token(&warnings);
  auto signer = make_signer(*token, "pkcs11:object=unrelated");
  BOOST_TEST(signer->sign(JwsAlg::RS256, kData).ok());
  BOOST_TEST_REQUIRE(warnings.size() == 1u);
  BOOST_TEST(contains(warnings.front(), "expires in"), warnings.front());
  BOOST_TEST(contains(warnings.front(), "renew it"), warnings.front());
}

BOOST_AUTO_TEST_CASE(DoesNotWarnForACertificateValidForAYear) {
  std::vector<std::string> warnings;
  auto token = open_token(&warnings);
  make_signer(*token, kKeyUri);
  BOOST_TEST(warnings.empty());
}

BOOST_AUTO_TEST_SUITE_END()

// Only the token's own words about the PIN are a refusal; any other login
// error (a reader hiccup, a daemon restarting) passes, unless the PIN
// flags, read again after it, show that the token counted a try.
BOOST_AUTO_TEST_CASE(OnlyThePinAnswersOfTheTokenAreARefusal) {
  for (unsigned long rv : {CKR_PIN_INCORRECT, CKR_PIN_INVALID, CKR_PIN_LEN_RANGE, CKR_PIN_EXPIRED,
                           CKR_PIN_LOCKED}) {
    BOOST_TEST((classify_login_failure(rv, 0, 0UL) == LoginFailure::pin_refused), ckr_text(rv));
    BOOST_TEST((classify_login_failure(rv, 0, std::nullopt) == LoginFailure::pin_refused));
  }
  for (unsigned long rv : {CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR, CKR_HOST_MEMORY,
                           CKR_ARGUMENTS_BAD, CKR_FUNCTION_CANCELED}) {
    BOOST_TEST((classify_login_failure(rv, 0, 0UL) == LoginFailure::not_about_pin), ckr_text(rv));
    BOOST_TEST((classify_login_failure(rv, 0, std::nullopt) == LoginFailure::not_about_pin));
    BOOST_TEST((classify_login_failure(rv, CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_COUNT_LOW) ==
                LoginFailure::not_about_pin),
               "a count already low before the login is not this try");
  }
  BOOST_TEST((classify_login_failure(std::nullopt, 0, 0UL) == LoginFailure::not_about_pin));
  BOOST_TEST((classify_login_failure(CKR_DEVICE_REMOVED, 0, 0UL) == LoginFailure::token_lost));
  BOOST_TEST((classify_login_failure(CKR_SESSION_HANDLE_INVALID, 0, 0UL) == LoginFailure::token_lost));
}

BOOST_AUTO_TEST_CASE(AnUnclearLoginErrorAfterWhichTheTokenCountedATryIsNotRetried) {
  for (unsigned long after : {CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED}) {
    BOOST_TEST((classify_login_failure(CKR_FUNCTION_FAILED, 0, after) == LoginFailure::tries_counted));
    BOOST_TEST((classify_login_failure(std::nullopt, 0, after) == LoginFailure::tries_counted));
  }
  BOOST_TEST((classify_login_failure(CKR_GENERAL_ERROR, CKF_USER_PIN_COUNT_LOW,
                                     CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY) ==
              LoginFailure::tries_counted));
  BOOST_TEST((classify_login_failure(CKR_GENERAL_ERROR, CKF_USER_PIN_FINAL_TRY,
                                     CKF_USER_PIN_FINAL_TRY) == LoginFailure::tries_counted),
             "a final try shown is never spent automatically");
}

// openCryptoki without pkcsslotd, or without group pkcs11, fails its
// C_Initialize with CKR_HOST_MEMORY or CKR_FUNCTION_FAILED: no shortage of
// memory, and the words point at what is missing.
BOOST_AUTO_TEST_CASE(AFailedModuleInitialisationIsSaidAsSuchWithAHint) {
  for (unsigned long rv : {CKR_HOST_MEMORY, CKR_FUNCTION_FAILED}) {
    const std::string words = initialisation_failure("/usr/lib/pkcs11/libopencryptoki.so", rv);
    BOOST_TEST(contains(words, "the PKCS#11 module /usr/lib/pkcs11/libopencryptoki.so failed to "
                               "initialise (C_Initialize: " + ckr_name(rv) + ")"),
               words);
    BOOST_TEST(contains(words, "a daemon, service or group it needs may be missing"), words);
    BOOST_TEST(contains(words, "pkcsslotd"), words);
    BOOST_TEST(contains(words, "group pkcs11"), words);
    BOOST_TEST(!contains(words, "ran out of memory"), words);
  }
  BOOST_TEST(ckr_name(CKR_HOST_MEMORY) == "CKR_HOST_MEMORY");
  BOOST_TEST(ckr_name(0x80001234UL) == "CKR 0x80001234");
}


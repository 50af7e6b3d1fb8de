// The reload rule: a helper whose token settings did not change is kept
// (no new login), a changed one gets a new helper, and keys on other
// tokens get helpers of their own. Fake helpers, forked from the test.
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <filesystem>
#include <fstream>

#include "agent/signer_helper/helper_pool.h"

using namespace mpa;
using namespace mpa::signer_helper;
namespace fs = std::filesystem;

namespace {

const std::string kIssuer = "https://test.maskinporten.no/";
const std::string kOtherIssuer = "https://maskinporten.no/";

// A key whose URI says "missing" is not on the fake token.
ReadyMessage ready_for(const std::vector<KeySetup>& keys) {
  ReadyMessage ready;
  for (const KeySetup& key : keys) {
    SignerInfo info;
    info.logged_in = true;
    info.key_uri = key.key_uri;
    ready.keys.push_back(KeyReady{{Bytes(key.key_uri.begin(), key.key_uri.end())}, info});
  }
  return ready;
}

bool has_missing_key(const std::vector<KeySetup>& keys) {
  return std::any_of(keys.begin(), keys.end(),
                     [](const KeySetup& k) { return k.key_uri.find("missing") != std::string::npos; });
}

// Answers setup with one chain per key, takes reconfigures, and signs by
// echoing the input; its toy policy: the input must be an allowed audience.
[[noreturn]] void fake_helper(int fd) {
  for (int other = 3; other < 1024; ++other) {
    if (other != fd) ::close(other);
  }
  auto setup = read_frame(fd);
  if (!setup || !setup->has_value()) ::_exit(3);
  ReadyMessage ready = ready_for(std::get<SetupMessage>(**setup).keys);
  std::vector<std::string> audiences = std::get<SetupMessage>(**setup).allowed_audiences;
  (void)write_frame(fd, ready);
  for (;;) {
    auto frame = read_frame(fd);
    if (!frame || !frame->has_value()) ::_exit(0);
    if (auto* info = std::get_if<InfoMessage>(&**frame)) {
      InfoReplyMessage reply{info->id, {}};
      for (const auto& key : ready.keys) reply.keys.push_back(key.info);
      (void)write_frame(fd, reply);
    } else if (auto* change = std::get_if<ReconfigureMessage>(&**frame)) {
      if (has_missing_key(change->keys)) {
        (void)write_frame(fd, FailedMessage{SetupFailure::other, ErrorCode::invalid_config, "no such key"});
        continue;
      }
      ready = ready_for(change->keys);
      audiences = change->allowed_audiences;
      (void)write_frame(fd, ready);
    } else {
      auto& sign = std::get<SignMessage>(**frame);
      if (std::find(audiences.begin(), audiences.end(), sign.signing_input) == audiences.end()) {
        (void)write_frame(fd, SignErrorMessage{sign.id, ErrorCode::forbidden, "not an allowed audience"});
      } else {
        (void)write_frame(fd, SignatureMessage{sign.id, Bytes(sign.signing_input.begin(), sign.signing_input.end())});
      }
    }
  }
}

struct Fixture {
  std::shared_ptr<std::atomic<int>> started = std::make_shared<std::atomic<int>>(0);
  fs::path dir;
  HelperPool pool;

  Fixture() {
    char tmpl[] = "/tmp/mpa-helper-pool.XXXXXX";
    dir = ::mkdtemp(tmpl);
    std::ofstream(dir / "pin") << "1234";
    pool.set_launcher([count = started]() -> Result<HelperChild> {
      count->fetch_add(1);
      int fds[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        return make_error(ErrorCode::internal, "socketpair");
      }
      const pid_t pid = ::fork();
      if (pid == 0) fake_helper(fds[1]);
      ::close(fds[1]);
      return HelperChild{pid, UniqueFd(fds[0])};
    });
  }
  ~Fixture() { fs::remove_all(dir); }

  Config config(std::vector<std::string> keys, const std::string& issuer = kIssuer) const {
    Config c;
    c.path = (dir / "agent.toml").string();
    c.module = "/fake/module.so";
    c.pin_file = (dir / "pin").string();
    c.state_dir = (dir / "state").string();
    for (std::size_t i = 0; i < keys.size(); ++i) {
      ClientConfig client;
      client.name = "c" + std::to_string(i);
      client.key = keys[i];
      client.issuer = issuer;
      c.clients.push_back(client);
    }
    return c;
  }
};

const std::string kKeyA = "pkcs11:token=A;object=k1;type=private";
const std::string kKeyA2 = "pkcs11:token=A;object=k2;type=private";
const std::string kKeyB = "pkcs11:token=B;object=k1;type=private";

}  // namespace

BOOST_FIXTURE_TEST_CASE(KeysOnOneTokenShareOneHelperAndOtherTokensGetTheirOwn, Fixture) {
  auto signers = pool.signers_for(config({kKeyA, kKeyA2, kKeyB, kKeyA}));
  BOOST_REQUIRE(signers.ok());
  BOOST_TEST(started->load() == 2);
  BOOST_REQUIRE_EQUAL(signers->size(), 4u);
  const auto chain_of = [&](std::size_t i) { return (*signers)[i]->certificate_chain().at(0); };
  BOOST_TEST(chain_of(0) == Bytes(kKeyA.begin(), kKeyA.end()));
  BOOST_TEST(chain_of(1) == Bytes(kKeyA2.begin(), kKeyA2.end()));
  BOOST_TEST(chain_of(2) == Bytes(kKeyB.begin(), kKeyB.end()));
  BOOST_TEST(chain_of(3) == chain_of(0));
  BOOST_TEST((*signers)[2]->sign(JwsAlg::RS256, kIssuer).ok());
}

BOOST_FIXTURE_TEST_CASE(AnUnchangedConfigKeepsTheRunningHelper, Fixture) {
  auto first = pool.signers_for(config({kKeyA}));
  BOOST_REQUIRE(first.ok());
  auto second = pool.signers_for(config({kKeyA}));
  BOOST_REQUIRE(second.ok());
  BOOST_TEST(started->load() == 1, "a reload with the same settings started another helper");
}

BOOST_FIXTURE_TEST_CASE(AChangedPinFileGetsANewHelper, Fixture) {
  auto first = pool.signers_for(config({kKeyA}));
  BOOST_REQUIRE(first.ok());
  // A new file in the PIN file's place (the stamp holds inode and times).
  std::ofstream(dir / "pin.new") << "5678";
  fs::rename(dir / "pin.new", dir / "pin");
  auto second = pool.signers_for(config({kKeyA}));
  BOOST_REQUIRE(second.ok());
  BOOST_TEST(started->load() == 2);
  BOOST_TEST((*first)[0]->sign(JwsAlg::RS256, kIssuer).ok(), "the old helper serves until its engine goes");
}

BOOST_FIXTURE_TEST_CASE(AChangedModuleGetsANewHelper, Fixture) {
  auto first = pool.signers_for(config({kKeyA}));
  BOOST_REQUIRE(first.ok());
  Config changed = config({kKeyA});
  changed.module = "/other/module.so";
  BOOST_REQUIRE(pool.signers_for(changed).ok());
  BOOST_TEST(started->load() == 2);
}

BOOST_FIXTURE_TEST_CASE(AHelperNoEngineUsesAnyMoreIsNotKept, Fixture) {
  { auto first = pool.signers_for(config({kKeyA})); BOOST_REQUIRE(first.ok()); }
  BOOST_REQUIRE(pool.signers_for(config({kKeyA})).ok());
  BOOST_TEST(started->load() == 2);
}

BOOST_FIXTURE_TEST_CASE(ABadKeyUriNamesTheClient, Fixture) {
  auto signers = pool.signers_for(config({"not-a-uri"}));
  BOOST_REQUIRE(!signers.ok());
  BOOST_TEST(signers.error().message.find("client \"c0\": key") != std::string::npos, signers.error().message);
  BOOST_TEST(started->load() == 0);
}

BOOST_FIXTURE_TEST_CASE(AnotherKeyOnTheSameTokenKeepsTheHelper, Fixture) {
  auto first = pool.signers_for(config({kKeyA}));
  BOOST_REQUIRE(first.ok());
  auto second = pool.signers_for(config({kKeyA2, kKeyA}));
  BOOST_REQUIRE(second.ok());
  BOOST_TEST(started->load() == 1, "a key added on the same token started another helper (a new login)");
  BOOST_TEST((*second)[0]->certificate_chain().at(0) == Bytes(kKeyA2.begin(), kKeyA2.end()));
  BOOST_TEST((*second)[1]->certificate_chain().at(0) == Bytes(kKeyA.begin(), kKeyA.end()));
  BOOST_TEST((*second)[0]->sign(JwsAlg::RS256, kIssuer).ok());
  BOOST_TEST((*first)[0]->sign(JwsAlg::RS256, kIssuer).ok(), "the old configuration's key keeps its place");
}

BOOST_FIXTURE_TEST_CASE(AChangedIssuerKeepsTheHelperAndTheOldOneIsRefusedOnceItsEngineGoes, Fixture) {
  auto first = pool.signers_for(config({kKeyA}));
  BOOST_REQUIRE(first.ok());
  auto second = pool.signers_for(config({kKeyA}, kOtherIssuer));
  BOOST_REQUIRE(second.ok());
  BOOST_TEST(started->load() == 1);
  BOOST_TEST((*second)[0]->sign(JwsAlg::RS256, kOtherIssuer).ok());
  BOOST_TEST((*first)[0]->sign(JwsAlg::RS256, kIssuer).ok(), "until the switch, the old configuration signs");
  auto kept = (*second)[0];
  first->clear();  // the old engine goes
  second->clear();
  // The narrower policy goes to the helper from the supervisor's thread.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (kept->sign(JwsAlg::RS256, kIssuer).ok() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto old = kept->sign(JwsAlg::RS256, kIssuer);
  BOOST_REQUIRE(!old.ok());
  BOOST_TEST((old.error().code == ErrorCode::forbidden));
  BOOST_TEST(kept->sign(JwsAlg::RS256, kOtherIssuer).ok());
  BOOST_TEST(started->load() == 1);
}

BOOST_FIXTURE_TEST_CASE(AKeyTheHelperCannotFindFailsTheReloadAndTheOldOneServes, Fixture) {
  auto first = pool.signers_for(config({kKeyA}));
  BOOST_REQUIRE(first.ok());
  // The client whose key the helper has to look up is named.
  auto second = pool.signers_for(config({kKeyA, "pkcs11:token=A;object=missing;type=private"}, kOtherIssuer));
  BOOST_REQUIRE(!second.ok());
  BOOST_TEST(second.error().message.find("client \"c1\": no such key") != std::string::npos, second.error().message);
  BOOST_TEST(started->load() == 1);
  BOOST_TEST((*first)[0]->sign(JwsAlg::RS256, kIssuer).ok());
  BOOST_TEST(!(*first)[0]->sign(JwsAlg::RS256, kOtherIssuer).ok(), "the failed reload's issuer was taken in");
}

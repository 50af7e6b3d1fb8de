// The reload rule: a helper whose token settings did not change is kept
// (no new login), a changed one gets a new helper, and keys on other
// tokens get helpers of their own. Fake helpers, forked from the test.
#define BOOST_TEST_MODULE signer_helper_pool
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "agent/signer/helper_pool.h"

using namespace mpa;
using namespace mpa::signer;
namespace fs = std::filesystem;

namespace {

// Answers setup with one chain per key, then signs by echoing the input.
[[noreturn]] void fake_helper(int fd) {
  for (int other = 3; other < 1024; ++other) {
    if (other != fd) ::close(other);
  }
  auto setup = read_frame(fd);
  if (!setup || !setup->has_value()) ::_exit(3);
  ReadyMessage ready;
  for (const KeySetup& key : std::get<SetupMessage>(**setup).keys) {
    SignerInfo info;
    info.logged_in = true;
    info.key_uri = key.key_uri;
    ready.keys.push_back(KeyReady{{Bytes(key.key_uri.begin(), key.key_uri.end())}, info});
  }
  (void)write_frame(fd, ready);
  for (;;) {
    auto frame = read_frame(fd);
    if (!frame || !frame->has_value()) ::_exit(0);
    if (auto* info = std::get_if<InfoMessage>(&**frame)) {
      InfoReplyMessage reply{info->id, {}};
      for (const auto& key : ready.keys) reply.keys.push_back(key.info);
      (void)write_frame(fd, reply);
    } else {
      auto& sign = std::get<SignMessage>(**frame);
      (void)write_frame(fd, SignatureMessage{sign.id, Bytes(sign.signing_input.begin(), sign.signing_input.end())});
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

  Config config(std::vector<std::string> keys) const {
    Config c;
    c.path = (dir / "agent.toml").string();
    c.module = "/fake/module.so";
    c.pin_file = (dir / "pin").string();
    c.state_dir = (dir / "state").string();
    for (std::size_t i = 0; i < keys.size(); ++i) {
      ClientConfig client;
      client.name = "c" + std::to_string(i);
      client.key = keys[i];
      client.issuer = "https://test.maskinporten.no/";
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
  BOOST_TEST((*signers)[2]->sign(JwsAlg::RS256, "x").ok());
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
  BOOST_TEST((*first)[0]->sign(JwsAlg::RS256, "old").ok(), "the old helper serves until its engine goes");
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

// The supervisor against fake helpers: children forked from the test that
// speak the wire and then behave (answer, hang, exit, send garbage, refuse
// the PIN). No fixed sleeps: every wait is for a condition, bounded.
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "support/test_support.h"
#include "agent/signer_helper/helper_supervisor.h"

using namespace mpa;
using namespace mpa::signer_helper;
using namespace std::chrono_literals;
using mpa::test::contains;

namespace {

enum class Behaviour { answer, hang_on_sign, exit_on_sign, garbage_on_sign, refuse_pin, fail_setup, answer_reversed };

const Bytes kLeaf{0x30, 0x01, 0x02};

Bytes reversed(const std::string& s) { return Bytes(s.rbegin(), s.rend()); }

[[noreturn]] void fake_helper(int fd, Behaviour behaviour) {
  for (int other = 3; other < 1024; ++other) {
    if (other != fd) ::close(other);
  }
  auto setup = read_frame(fd);
  if (!setup || !setup->has_value()) ::_exit(3);
  if (behaviour == Behaviour::refuse_pin) {
    (void)write_frame(fd, FailedMessage{SetupFailure::pin_refused, ErrorCode::hsm_error,
                                        "the token \"T\" refused the PIN (CKR_PIN_INCORRECT)"});
    ::_exit(4);
  }
  if (behaviour == Behaviour::fail_setup) {
    (void)write_frame(fd, FailedMessage{SetupFailure::other, ErrorCode::hsm_error, "no token T"});
    ::_exit(1);
  }
  SignerInfo info;
  info.token_present = true;
  info.logged_in = true;
  info.token_label = "T";
  (void)write_frame(fd, ReadyMessage{{KeyReady{{kLeaf}, info}}});
  std::vector<SignMessage> held;
  for (;;) {
    auto frame = read_frame(fd);
    if (!frame || !frame->has_value()) ::_exit(0);
    if (auto* i = std::get_if<InfoMessage>(&**frame)) {
      (void)write_frame(fd, InfoReplyMessage{i->id, {info}});
      continue;
    }
    auto& sign = std::get<SignMessage>(**frame);
    switch (behaviour) {
      case Behaviour::hang_on_sign: ::pause(); break;
      case Behaviour::exit_on_sign: ::_exit(7);
      case Behaviour::garbage_on_sign: {
        const char junk[] = "\x00\x00\x00\x03\x09\x09\x09";
        (void)!::write(fd, junk, sizeof junk - 1);
        break;
      }
      case Behaviour::answer_reversed:
        held.push_back(sign);
        if (held.size() < 4) break;
        for (auto it = held.rbegin(); it != held.rend(); ++it) {
          (void)write_frame(fd, SignatureMessage{it->id, reversed(it->signing_input)});
        }
        held.clear();
        break;
      default: (void)write_frame(fd, SignatureMessage{sign.id, reversed(sign.signing_input)});
    }
  }
}

// A launcher whose n-th start (from 0) behaves as behaviours[min(n, last)].
struct FakeLauncher {
  std::vector<Behaviour> behaviours;
  std::shared_ptr<std::atomic<int>> started = std::make_shared<std::atomic<int>>(0);

  Result<HelperChild> operator()() const {
    const int n = started->fetch_add(1);
    const Behaviour b = behaviours[std::min<std::size_t>(n, behaviours.size() - 1)];
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
      return make_error(ErrorCode::internal, "socketpair");
    }
    const pid_t pid = ::fork();
    if (pid == 0) fake_helper(fds[1], b);
    ::close(fds[1]);
    return HelperChild{pid, UniqueFd(fds[0])};
  }
};

SupervisorOptions options(std::vector<Behaviour> behaviours, std::uint32_t concurrency = 2) {
  SupervisorOptions o;
  o.setup.module_path = "/fake.so";
  o.setup.token_uri = "pkcs11:token=T";
  o.setup.keys = {{"pkcs11:token=T;object=k;type=private", std::nullopt}};
  o.setup.max_concurrent_signatures = concurrency;
  o.sign_timeout = 300ms;
  o.first_backoff = 200ms;
  o.max_backoff = 400ms;
  o.info_wait = 300ms;
  o.launch = FakeLauncher{std::move(behaviours)};
  return o;
}

// Waits for `condition`, at most 10 s; false if it never held.
bool eventually(const std::function<bool()>& condition) {
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

Result<std::shared_ptr<HelperSupervisor>> start_supervisor(SupervisorOptions o) {
  return HelperSupervisor::start(std::move(o));
}

// The signer of the setup's one key.
std::shared_ptr<GrantSigner> first_signer(HelperSupervisor& supervisor) {
  auto signers = supervisor.signers_for({{"pkcs11:token=T;object=k;type=private", std::nullopt}}, {});
  BOOST_REQUIRE(signers.ok());
  return signers->at(0);
}

}  // namespace

BOOST_AUTO_TEST_CASE(SignsThroughTheHelperAndGivesItsChain) {
  auto supervisor = start_supervisor(options({Behaviour::answer}));
  BOOST_REQUIRE(supervisor.ok());
  auto signer = first_signer(**supervisor);
  auto signature = signer->sign(JwsAlg::RS256, "abc");
  BOOST_REQUIRE(signature.ok());
  BOOST_TEST(*signature == reversed("abc"));
  BOOST_REQUIRE_EQUAL(signer->certificate_chain().size(), 1u);
  BOOST_TEST(signer->certificate_chain()[0] == kLeaf);
  const SignerInfo info = signer->info();
  BOOST_TEST(info.logged_in);
  BOOST_TEST(info.token_label == "T");
}

BOOST_AUTO_TEST_CASE(HungHelperIsKilledRestartedAndNeverHangsTheCaller) {
  auto o = options({Behaviour::hang_on_sign, Behaviour::answer});
  auto started = o.launch.target<FakeLauncher>()->started;
  auto supervisor = start_supervisor(std::move(o));
  BOOST_REQUIRE(supervisor.ok());
  auto signer = first_signer(**supervisor);
  const pid_t first = (*supervisor)->helper_pid();
  auto hung = signer->sign(JwsAlg::RS256, "abc");
  BOOST_REQUIRE(!hung.ok());
  BOOST_TEST((hung.error().code == ErrorCode::hsm_error));
  BOOST_TEST(contains(hung.error().message,
                      "signer restarting: the helper did not answer a signature within 300 ms, next try in 1 s"),
             hung.error().message);
  BOOST_TEST(eventually([&] { return ::kill(first, 0) != 0; }), "the hung helper still runs");
  BOOST_REQUIRE(eventually([&] { return (*supervisor)->helper_pid() != -1; }));
  BOOST_TEST(started->load() == 2);
  auto again = signer->sign(JwsAlg::RS256, "xyz");
  BOOST_REQUIRE(again.ok());
  BOOST_TEST(*again == reversed("xyz"));
}

BOOST_AUTO_TEST_CASE(WhileDownSignAnswersAtOnceAndInfoSaysWhy) {
  auto o = options({Behaviour::exit_on_sign, Behaviour::fail_setup});
  o.first_backoff = 60s;  // stays down for the whole test
  o.max_backoff = 60s;
  auto started = o.launch.target<FakeLauncher>()->started;
  auto supervisor = start_supervisor(std::move(o));
  BOOST_REQUIRE(supervisor.ok());
  auto signer = first_signer(**supervisor);
  auto died = signer->sign(JwsAlg::RS256, "abc");
  BOOST_REQUIRE(!died.ok());
  BOOST_TEST(contains(died.error().message, "signer restarting: the helper closed the connection, exited with status 7, next try in 60 s"),
             died.error().message);
  const auto before = std::chrono::steady_clock::now();
  auto down = signer->sign(JwsAlg::RS256, "abc");
  BOOST_TEST((std::chrono::steady_clock::now() - before < 100ms));
  BOOST_REQUIRE(!down.ok());
  BOOST_TEST(contains(down.error().message, "signer restarting: "), down.error().message);
  const SignerInfo info = signer->info();
  BOOST_TEST(!info.logged_in);
  BOOST_TEST(contains(info.last_error, "signer restarting: the helper closed the connection"), info.last_error);
  BOOST_TEST(started->load() == 1);
}

BOOST_AUTO_TEST_CASE(GarbageFromTheHelperIsAProtocolErrorAndARestart) {
  auto supervisor = start_supervisor(options({Behaviour::garbage_on_sign, Behaviour::answer}));
  BOOST_REQUIRE(supervisor.ok());
  auto signer = first_signer(**supervisor);
  auto broken = signer->sign(JwsAlg::RS256, "abc");
  BOOST_REQUIRE(!broken.ok());
  BOOST_TEST(contains(broken.error().message, "signer restarting: the helper broke the wire (signer wire: version 9"),
             broken.error().message);
  BOOST_REQUIRE(eventually([&] { return (*supervisor)->helper_pid() != -1; }));
  BOOST_TEST(signer->sign(JwsAlg::RS256, "abc").ok());
}

BOOST_AUTO_TEST_CASE(HelperKilledFromOutsideIsNoticedWithoutASignature) {
  auto o = options({Behaviour::answer});
  auto started = o.launch.target<FakeLauncher>()->started;
  auto supervisor = start_supervisor(std::move(o));
  BOOST_REQUIRE(supervisor.ok());
  const pid_t first = (*supervisor)->helper_pid();
  BOOST_REQUIRE(::kill(first, SIGKILL) == 0);
  BOOST_REQUIRE(eventually([&] { return started->load() == 2 && (*supervisor)->helper_pid() != -1; }));
  BOOST_TEST((*supervisor)->helper_pid() != first);
  BOOST_TEST(first_signer(**supervisor)->sign(JwsAlg::RS256, "a").ok());
}

BOOST_AUTO_TEST_CASE(RefusedPinAtStartIsAnErrorAndNoRestart) {
  auto o = options({Behaviour::refuse_pin});
  auto started = o.launch.target<FakeLauncher>()->started;
  auto supervisor = HelperSupervisor::start(std::move(o));
  BOOST_REQUIRE(!supervisor.ok());
  BOOST_TEST((supervisor.error().reason == ErrorReason::pin_refused));
  BOOST_TEST(contains(supervisor.error().message, "refused the PIN"));
  BOOST_TEST(started->load() == 1);
}

BOOST_AUTO_TEST_CASE(RefusedPinOnRestartStopsTheSignerForGood) {
  auto o = options({Behaviour::exit_on_sign, Behaviour::refuse_pin});
  auto started = o.launch.target<FakeLauncher>()->started;
  auto supervisor = start_supervisor(std::move(o));
  BOOST_REQUIRE(supervisor.ok());
  auto signer = first_signer(**supervisor);
  BOOST_TEST(!signer->sign(JwsAlg::RS256, "abc").ok());
  BOOST_REQUIRE(eventually([&] {
    auto r = signer->sign(JwsAlg::RS256, "abc");
    return !r.ok() && contains(r.error().message, "signer stopped: ");
  }));
  auto stopped = signer->sign(JwsAlg::RS256, "abc");
  BOOST_TEST(contains(stopped.error().message, "refused the PIN"), stopped.error().message);
  BOOST_TEST(contains(stopped.error().message, "not started again until the PIN is corrected"));
  BOOST_TEST(started->load() == 2);
}

BOOST_AUTO_TEST_CASE(SetupFailureAtStartIsTheHelpersWords) {
  auto supervisor = start_supervisor(options({Behaviour::fail_setup}));
  BOOST_REQUIRE(!supervisor.ok());
  BOOST_TEST(supervisor.error().message == "no token T");
}

BOOST_AUTO_TEST_CASE(ConcurrentSignaturesArePipelinedAndMatchedById) {
  auto o = options({Behaviour::answer_reversed}, 4);
  o.sign_timeout = 5s;
  auto supervisor = start_supervisor(std::move(o));
  BOOST_REQUIRE(supervisor.ok());
  auto signer = first_signer(**supervisor);
  std::vector<std::thread> threads;
  std::vector<Result<Bytes>> results(4, Result<Bytes>(Error{}));
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] { results[i] = signer->sign(JwsAlg::RS256, "input-" + std::to_string(i)); });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 4; ++i) {
    BOOST_REQUIRE(results[i].ok());
    BOOST_TEST(*results[i] == reversed("input-" + std::to_string(i)));
  }
}

BOOST_AUTO_TEST_CASE(StoppingTheSupervisorEndsTheHelper) {
  pid_t pid = -1;
  {
    auto supervisor = start_supervisor(options({Behaviour::answer}));
    BOOST_REQUIRE(supervisor.ok());
    pid = (*supervisor)->helper_pid();
    BOOST_REQUIRE(pid > 0);
  }
  BOOST_TEST(::kill(pid, 0) != 0, "the helper outlived its supervisor");
}

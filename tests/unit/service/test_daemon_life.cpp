// The daemon's life cycle in this process, as `run` drives it but without
// the process hardening: started on a thread, reloaded with SIGHUP and
// stopped with SIGTERM, watched through what it tells systemd
// (NOTIFY_SOCKET: READY=1, RELOADING=1, STOPPING=1) and through its socket.
// Its signers are fakes; one can hold a status in flight.
#include <boost/test/unit_test.hpp>

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "agent/service/daemon.h"
#include "common/unique_fd.h"
#include "unit/ops/fake_agent_state.h"

using namespace mpa;
using namespace mpa::test;
namespace fs = std::filesystem;

namespace {

// Only a guard against a hung test, never an assertion on timing.
constexpr int kHangGuardMs = 20000;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  return address;
}

// The next bytes `fd` gives within the hang guard; nullopt at its end.
std::optional<std::string> receive(int fd) {
  pollfd p{fd, POLLIN, 0};
  BOOST_TEST_REQUIRE(::poll(&p, 1, kHangGuardMs) == 1, "nothing came within the hang guard");
  char chunk[4096];
  const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
  if (n <= 0) return std::nullopt;
  return std::string(chunk, static_cast<std::size_t>(n));
}

// A client of the agent's socket that reads whole lines.
class Client {
 public:
  // Not connected when nothing listens at `path`.
  explicit Client(const std::string& path) : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    const sockaddr_un address = unix_address(path);
    connected_ = ::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  }
  bool connected() const { return connected_; }

  void send(const std::string& line) {
    const std::string text = line + "\n";
    BOOST_TEST_REQUIRE(::send(fd_.get(), text.data(), text.size(), MSG_NOSIGNAL) ==
                       static_cast<ssize_t>(text.size()));
  }
  // The next answer line; nullopt when the agent closed the connection.
  std::optional<std::string> read_line() {
    for (;;) {
      if (const auto newline = buffer_.find('\n'); newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return line;
      }
      auto more = receive(fd_.get());
      if (!more) return std::nullopt;
      buffer_ += *more;
    }
  }
  std::string request(const std::string& line) {
    send(line);
    return read_line().value_or("<closed>");
  }

 private:
  UniqueFd fd_;
  bool connected_ = false;
  std::string buffer_;
};

struct DaemonFixture {
  fs::path dir;
  std::string config_path;
  std::string socket_path;
  UniqueFd notices;  // our NOTIFY_SOCKET
  std::shared_ptr<Gate> gate = std::make_shared<Gate>();
  std::shared_ptr<std::atomic<bool>> fail_signers = std::make_shared<std::atomic<bool>>(false);
  std::thread thread;
  bool stop_sent = false;  // no SIGTERM after the daemon's own handler is gone
  std::optional<Status> result;

  DaemonFixture() {
    char tmpl[] = "/tmp/mpa-daemon-life-XXXXXX";
    BOOST_TEST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    config_path = (dir / "agent.toml").string();
    socket_path = (dir / "run" / "agent.sock").string();
    const std::string notify_path = (dir / "notify.sock").string();
    notices = UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    const sockaddr_un address = unix_address(notify_path);
    BOOST_TEST_REQUIRE(::bind(notices.get(), reinterpret_cast<const sockaddr*>(&address),
                              sizeof address) == 0);
    ::setenv("NOTIFY_SOCKET", notify_path.c_str(), 1);
    write_config();
  }
  ~DaemonFixture() {
    if (thread.joinable()) {
      gate->open();
      if (!stop_sent) ::kill(::getpid(), SIGTERM);
      thread.join();
    }
    ::unsetenv("NOTIFY_SOCKET");
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }

  void write_config(const std::string& extra = "") {
    std::ofstream(config_path) << config_text(socket_path, extra);
  }

  DaemonOptions options() {
    DaemonOptions options;
    options.config_path = config_path;
    options.signers = fake_signers(gate, fail_signers);
    return options;
  }

  // Starts the daemon and waits until it says it serves.
  void start() {
    gate->open();  // start logs each client's certificate
    thread = std::thread([this, options = options()] { result = run_daemon(options); });
    wait_for_notice("READY=1");
  }

  // The next message to systemd that holds `state`, skipping others.
  std::string wait_for_notice(const std::string& state) {
    for (;;) {
      auto notice = receive(notices.get());
      BOOST_TEST_REQUIRE(notice.has_value());
      if (contains(*notice, state)) return *notice;
    }
  }

  // SIGHUP, and the wait until the reload has ended (applied or not).
  void reload() {
    ::kill(::getpid(), SIGHUP);
    wait_for_notice("RELOADING=1");
    wait_for_notice("READY=1");
  }

  // SIGTERM; waits until the daemon says it is stopping.
  void begin_stop() {
    stop_sent = true;
    ::kill(::getpid(), SIGTERM);
    wait_for_notice("STOPPING=1");
  }

  // Waits for run_daemon to return; whether it said ok.
  bool stopped_ok() {
    thread.join();
    return result && result->ok();
  }

  std::string status() { return Client(socket_path).request(R"({"op":"status"})"); }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(Life, DaemonFixture)

BOOST_AUTO_TEST_CASE(StartedItAnswersOnItsSocket) {
  start();
  Client client(socket_path);
  BOOST_TEST_REQUIRE(client.connected());
  BOOST_TEST(client.request(R"({"op":"ping","id":1})") == R"({"ok":true,"id":1})");
  begin_stop();
  BOOST_TEST(stopped_ok());
}

BOOST_AUTO_TEST_CASE(ReloadAppliesTheNewConfiguration) {
  start();
  BOOST_TEST(!contains(status(), "\"gamma\""));
  write_config(client_table("gamma", "test:g"));
  reload();
  const std::string after = status();
  BOOST_TEST(contains(after, "\"gamma\""), after);
  BOOST_TEST(contains(after, "\"alpha\""), after);
}

BOOST_AUTO_TEST_CASE(ReloadKeepsOpenConnectionsServing) {
  start();
  Client client(socket_path);
  BOOST_TEST(client.request(R"({"op":"ping","id":1})") == R"({"ok":true,"id":1})");
  write_config(client_table("gamma", "test:g"));
  reload();
  BOOST_TEST(client.request(R"({"op":"ping","id":2})") == R"({"ok":true,"id":2})");
  BOOST_TEST(contains(client.request(R"({"op":"status"})"), "\"gamma\""));
}

BOOST_AUTO_TEST_CASE(StopWaitsForAStatusHeldOnTheToken) {
  start();
  Client client(socket_path);
  // Closed behind start's log lines: the next info() waits.
  std::shared_ptr<Gate> held = gate;
  held->close();
  client.send(R"({"op":"status","id":4})");
  BOOST_TEST_REQUIRE(held->wait_for_arrivals(1));
  begin_stop();
  held->open();
  const auto answer = client.read_line();
  BOOST_TEST_REQUIRE(answer.has_value());
  BOOST_TEST(contains(*answer, R"("ok":true)"), *answer);
  BOOST_TEST(contains(*answer, R"("id":4)"), *answer);
  BOOST_TEST(stopped_ok());
}

BOOST_AUTO_TEST_CASE(ABrokenConfigurationOnReloadKeepsTheRunningOne) {
  start();
  std::ofstream(config_path) << "[agent\nthis is not TOML\n";
  reload();
  const std::string after = status();
  BOOST_TEST(contains(after, "\"ok\":true"), after);
  BOOST_TEST(contains(after, "\"alpha\""), after);
  BOOST_TEST(contains(after, "\"beta\""), after);
}

BOOST_AUTO_TEST_CASE(AConfigurationWhoseSignersFailOnReloadKeepsTheRunningOne) {
  start();
  write_config(client_table("gamma", "test:g"));
  *fail_signers = true;
  reload();
  *fail_signers = false;
  const std::string after = status();
  BOOST_TEST(!contains(after, "\"gamma\""), after);
  BOOST_TEST(contains(after, "\"alpha\""), after);
}

BOOST_AUTO_TEST_CASE(ABrokenConfigurationAtStartIsRefusedInWords) {
  std::ofstream(config_path) << "[agent\nthis is not TOML\n";
  const Status started = run_daemon(options());
  BOOST_TEST_REQUIRE(!started.ok());
  BOOST_TEST(contains(started.error().message, config_path), started.error().message);
  BOOST_TEST(!fs::exists(socket_path));
}

BOOST_AUTO_TEST_CASE(AStoppingDaemonTakesNoNewConnection) {
  start();
  Client client(socket_path);
  std::shared_ptr<Gate> held = gate;
  held->close();
  client.send(R"({"op":"status"})");  // keeps the daemon stopping, not stopped
  BOOST_TEST_REQUIRE(held->wait_for_arrivals(1));
  begin_stop();
  // The socket file goes right after STOPPING=1, on the daemon's I/O thread.
  const auto guard = std::chrono::steady_clock::now() + std::chrono::milliseconds(kHangGuardMs);
  while (fs::exists(socket_path) && std::chrono::steady_clock::now() < guard) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  BOOST_TEST(!Client(socket_path).connected());
  held->open();
  BOOST_TEST(client.read_line().has_value());
  BOOST_TEST(stopped_ok());
}

BOOST_AUTO_TEST_CASE(ASecondStopSignalDoesNotWaitForRequestsInFlight) {
  start();
  Client client(socket_path);
  std::shared_ptr<Gate> held = gate;
  held->close();
  client.send(R"({"op":"status"})");
  BOOST_TEST_REQUIRE(held->wait_for_arrivals(1));
  begin_stop();
  ::kill(::getpid(), SIGTERM);
  BOOST_TEST(!client.read_line().has_value());  // closed unanswered
  held->open();                                  // lets the worker end
  BOOST_TEST(stopped_ok());
}

BOOST_AUTO_TEST_CASE(AnUnknownOpIsAnsweredAndTheConnectionServesOn) {
  start();
  Client client(socket_path);
  const std::string answer = client.request(R"({"op":"nope","id":5})");
  BOOST_TEST(contains(answer, "\"error\":\"invalid_request\""), answer);
  BOOST_TEST(contains(answer, "\"id\":5"), answer);
  BOOST_TEST(client.request(R"({"op":"ping","id":6})") == R"({"ok":true,"id":6})");
}

BOOST_AUTO_TEST_CASE(ALineThatIsNotJsonIsAnsweredAndClosesOnlyItsConnection) {
  start();
  Client client(socket_path);
  const std::string answer = client.request(R"({"op":"token","scopes":)");
  BOOST_TEST(contains(answer, "\"error\":\"invalid_request\""), answer);
  BOOST_TEST(contains(answer, "not valid JSON"), answer);
  BOOST_TEST(!client.read_line().has_value());
  BOOST_TEST(Client(socket_path).request(R"({"op":"ping","id":7})") == R"({"ok":true,"id":7})");
}

BOOST_AUTO_TEST_SUITE_END()

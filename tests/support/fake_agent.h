// A stand-in agent on a real Unix socket for the tests of the client
// library and of the CLI.
#pragma once

#include <boost/test/unit_test.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.h"

namespace mpa::test {

namespace fs = std::filesystem;

// How a FakeAgent ends the conversation once its canned answers are used up.
enum class AfterAnswers { close, wait_for_client_to_close };

// A stand-in agent on a real Unix socket: accepts one connection, answers
// each request line with the next canned bytes, records what it was sent.
class FakeAgent {
 public:
  FakeAgent(std::vector<std::string> answers, AfterAnswers after = AfterAnswers::close)
      : path_(dir_.path / "agent.sock") {
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    BOOST_TEST_REQUIRE(listener_ >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path_.c_str());
    BOOST_TEST_REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    BOOST_TEST_REQUIRE(::listen(listener_, 1) == 0);
    thread_ = std::thread([this, answers = std::move(answers), after] { serve(answers, after); });
  }
  ~FakeAgent() {
    thread_.join();
    ::close(listener_);
  }

  std::string path() const { return path_.string(); }
  // Safe to read once the client is done with the connection.
  const std::vector<std::string>& received() const { return received_; }

 private:
  void serve(const std::vector<std::string>& answers, AfterAnswers after) {
    // A bound on the wait so that a broken test fails instead of hanging.
    constexpr int kGiveUpMillis = 20000;
    pollfd entry{listener_, POLLIN, 0};
    if (::poll(&entry, 1, kGiveUpMillis) != 1) return;
    const int connection = ::accept(listener_, nullptr, nullptr);
    if (connection < 0) return;
    std::string pending;
    for (const std::string& answer : answers) {
      if (!read_line(connection, pending)) break;
      send_all(connection, answer);
    }
    if (after == AfterAnswers::wait_for_client_to_close) {
      char byte;
      while (::recv(connection, &byte, 1, 0) > 0) {
      }
    }
    ::close(connection);
  }

  bool read_line(int connection, std::string& pending) {
    for (;;) {
      if (const auto nl = pending.find('\n'); nl != std::string::npos) {
        received_.push_back(pending.substr(0, nl));
        pending.erase(0, nl + 1);
        return true;
      }
      char chunk[4096];
      const ssize_t n = ::recv(connection, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      pending.append(chunk, static_cast<std::size_t>(n));
    }
  }

  static void send_all(int connection, const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(connection, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<std::size_t>(n);
    }
  }

  TempDir dir_;
  fs::path path_;
  int listener_ = -1;
  std::vector<std::string> received_;
  std::thread thread_;
};

}  // namespace mpa::test

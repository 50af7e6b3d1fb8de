#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/server/listen_socket.h"
#include "agent/server/server.h"
#include "protocol/messages.h"
#include "unit/server/server_test_helpers.h"

using namespace mpa;
using namespace mpa::test;
namespace fs = std::filesystem;

namespace {

// Only a guard against a hung test, never an assertion on timing.
constexpr int kHangGuardMs = 20000;

// Answers ping at once; holds every token request until the test releases
// it; answers status from another thread; drops the reply of a token
// request for scope "drop".
class FakeHandler final : public RequestHandler {
 public:
  void handle(const PeerCredentials&, protocol::Request request, Reply reply) override {
    if (std::holds_alternative<protocol::PingRequest>(request.body)) {
      reply(protocol::encode_ok(request.id_json));
      return;
    }
    if (std::holds_alternative<protocol::StatusRequest>(request.body)) {
      std::lock_guard lock(mutex_);
      threads_.emplace_back([reply, id = request.id_json] { reply(protocol::encode_ok(id)); });
      return;
    }
    auto& token = std::get<protocol::TokenRequest>(request.body);
    if (!token.grant.scopes.empty() && token.grant.scopes.front() == "drop") return;
    if (!token.grant.scopes.empty() && token.grant.scopes.front() == "big") {
      reply(protocol::encode_ok(request.id_json,
                                "{\"pad\":\"" + std::string(256 * 1024, 'x') + "\"}"));
      return;
    }
    std::lock_guard lock(mutex_);
    held_.push_back({request.id_json, std::move(reply)});
    changed_.notify_all();
  }

  // Joins the threads that answered status. The fixture calls it before
  // it stops the io_context: a thread that still held a reference to a
  // connection after the io_context was destroyed would free the server
  // on that thread, after its io_context (found by ASan in CI).
  void join_threads() {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mutex_);
      threads.swap(threads_);
    }
    for (auto& thread : threads) thread.join();
  }

  void wait_for_held(std::size_t count) {
    std::unique_lock lock(mutex_);
    BOOST_TEST_REQUIRE(changed_.wait_for(lock, std::chrono::milliseconds(kHangGuardMs),
                                         [&] { return held_.size() >= count; }));
  }

  // Answers the i-th held request (in arrival order).
  void release(std::size_t index) {
    Held held;
    {
      std::lock_guard lock(mutex_);
      held = held_.at(index);
    }
    held.reply(protocol::encode_ok(held.id, "{\"released\":" + std::to_string(index) + "}"));
  }

 private:
  struct Held {
    std::optional<std::string> id;
    Reply reply;
  };
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Held> held_;
  std::vector<std::thread> threads_;
};

// A blocking client that reads whole lines.
class TestClient final {
 public:
  explicit TestClient(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    BOOST_TEST_REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0,
                       "connect: " << std::strerror(errno));
  }
  ~TestClient() { ::close(fd_); }
  TestClient(const TestClient&) = delete;  // owns the descriptor
  TestClient& operator=(const TestClient&) = delete;

  void send(const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::send(fd_, text.data() + done, text.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return;  // the server closed; reads will show it
      done += static_cast<std::size_t>(n);
    }
  }

  // The next line without '\n'; nullopt at end of stream.
  std::optional<std::string> read_line() {
    for (;;) {
      const std::size_t newline = buffer_.find('\n');
      if (newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return line;
      }
      pollfd p{fd_, POLLIN, 0};
      BOOST_TEST_REQUIRE(::poll(&p, 1, kHangGuardMs) == 1, "no answer from the server");
      char chunk[65536];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  std::string request(const std::string& line) {
    send(line + "\n");
    return read_line().value_or("<closed>");
  }

  // Half-close: the client has nothing more to send.
  void finish_sending() { ::shutdown(fd_, SHUT_WR); }

  bool closed_by_server() { return !read_line().has_value(); }

  // Whether the server still takes bytes (a closed peer gives EPIPE).
  bool write_succeeds(const std::string& text) {
    return ::send(fd_, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
  }

 private:
  int fd_ = -1;
  std::string buffer_;
};

// A server on a fresh socket in a temp directory, its io_context on one thread.
struct ServerFixture {
  fs::path dir = make_temp_dir();
  std::string path = (dir / "run" / "agent.sock").string();
  boost::asio::io_context io;
  std::shared_ptr<FakeHandler> handler = std::make_shared<FakeHandler>();
  std::unique_ptr<Server> server;
  std::optional<ListeningSocket> listening;
  std::thread io_thread;

  void start(ServerOptions options = {}) {
    auto bound = ListeningSocket::bind_path(path, 0600);
    BOOST_TEST_REQUIRE(bound.ok(), why(bound));
    listening.emplace(std::move(*bound));
    server = std::make_unique<Server>(io, listening->release_fd(), handler, std::move(options));
    server->start();
    io_thread = std::thread([this] { io.run(); });
  }

  // The server's connection count, read on the I/O thread.
  std::size_t connections() {
    std::promise<std::size_t> count;
    boost::asio::post(io, [&] { count.set_value(server->connection_count()); });
    return count.get_future().get();
  }

  // The server's counters, read on the I/O thread.
  ServerStats stats() {
    std::promise<ServerStats> counted;
    boost::asio::post(io, [&] { counted.set_value(server->stats()); });
    return counted.get_future().get();
  }

  // Waits (bounded by the hang guard) until the server holds no connection.
  void wait_until_no_connection() {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(kHangGuardMs);
    while (connections() != 0) {
      BOOST_TEST_REQUIRE((std::chrono::steady_clock::now() < give_up), "a connection stayed open");
      std::this_thread::yield();
    }
  }

  ~ServerFixture() {
    handler->join_threads();
    io.stop();
    if (io_thread.joinable()) io_thread.join();
    server.reset();
    listening.reset();
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
};

std::optional<std::string> id_of(const std::string& line) {
  const auto at = line.find("\"id\":");
  if (at == std::string::npos) return std::nullopt;
  const auto end = line.find_first_of(",}", at);
  return line.substr(at + 5, end - at - 5);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(SocketServer)

BOOST_FIXTURE_TEST_CASE(AnswersPing, ServerFixture) {
  start();
  TestClient client(path);
  const std::string answer = client.request(R"({"op":"ping","id":7})");
  BOOST_TEST(contains(answer, "\"ok\":true"));
  BOOST_TEST(id_of(answer).value_or("") == "7");
}

BOOST_FIXTURE_TEST_CASE(AnswersPipelinedRequestsInRequestOrderWhenRepliesComeOutOfOrder,
                        ServerFixture) {
  start();
  TestClient client(path);
  client.send("{\"op\":\"token\",\"scopes\":[\"a\"],\"id\":1}\n"
              "{\"op\":\"token\",\"scopes\":[\"a\"],\"id\":2}\n"
              "{\"op\":\"ping\",\"id\":3}\n"
              "{\"op\":\"token\",\"scopes\":[\"a\"],\"id\":4}\n");
  handler->wait_for_held(3);
  handler->release(2);
  handler->release(0);
  handler->release(1);
  for (const char* expected : {"1", "2", "3", "4"}) {
    const auto line = client.read_line();
    BOOST_TEST_REQUIRE(line.has_value());
    BOOST_TEST(id_of(*line).value_or("") == expected);
  }
}

BOOST_FIXTURE_TEST_CASE(AnswersRepliesSentFromAnotherThread, ServerFixture) {
  start();
  TestClient client(path);
  BOOST_TEST(contains(client.request(R"({"op":"status"})"), "\"ok\":true"));
}

BOOST_FIXTURE_TEST_CASE(OversizedLineGetsErrorThenClose, ServerFixture) {
  start();
  TestClient client(path);
  client.send("{\"op\":\"ping\",\"id\":1}\n");
  client.send("{\"op\":\"ping\",\"pad\":\"" + std::string(protocol::kMaxRequestLineBytes, 'x'));
  const auto first = client.read_line();
  BOOST_TEST_REQUIRE(first.has_value());
  BOOST_TEST(contains(*first, "\"ok\":true"));
  const auto second = client.read_line();
  BOOST_TEST_REQUIRE(second.has_value());
  BOOST_TEST(contains(*second, "\"error\":\"invalid_request\""));
  BOOST_TEST(contains(*second, "request line longer than 65536 bytes"));
  BOOST_TEST(client.closed_by_server());
}

BOOST_FIXTURE_TEST_CASE(LineThatIsNotAnObjectGetsErrorThenClose, ServerFixture) {
  start();
  TestClient client(path);
  const std::string answer = client.request("[1,2,3]");
  BOOST_TEST(contains(answer, "\"error\":\"invalid_request\""));
  BOOST_TEST(contains(answer, "a request must be a JSON object, not an array"), answer);
  BOOST_TEST(client.closed_by_server());
}

BOOST_FIXTURE_TEST_CASE(MalformedJsonGetsErrorThenClose, ServerFixture) {
  start();
  TestClient client(path);
  const std::string answer = client.request("{\"op\":");
  BOOST_TEST(contains(answer, "\"error\":\"invalid_request\""));
  BOOST_TEST(contains(answer, "the request is not valid JSON: "), answer);
  BOOST_TEST(client.closed_by_server());
}

BOOST_FIXTURE_TEST_CASE(UnknownOpGetsErrorAndConnectionStaysOpen, ServerFixture) {
  start();
  TestClient client(path);
  const std::string answer = client.request(R"({"op":"frobnicate","id":"x"})");
  BOOST_TEST(contains(answer, "\"error\":\"invalid_request\""));
  BOOST_TEST(contains(answer, "unknown op \\\"frobnicate\\\""), answer);
  BOOST_TEST(id_of(answer).value_or("") == "\"x\"");
  BOOST_TEST(contains(client.request(R"({"op":"ping"})"), "\"ok\":true"));
}

BOOST_FIXTURE_TEST_CASE(UnknownFieldGetsErrorAndConnectionStaysOpen, ServerFixture) {
  start();
  TestClient client(path);
  BOOST_TEST(contains(client.request(R"({"op":"ping","scopez":[]})"), "invalid_request"));
  BOOST_TEST(contains(client.request(R"({"op":"ping"})"), "\"ok\":true"));
}

BOOST_FIXTURE_TEST_CASE(IdleClientIsDisconnected, ServerFixture) {
  ServerOptions options;
  options.idle_timeout_seconds = 1;
  start(options);
  TestClient client(path);
  BOOST_TEST(contains(client.request(R"({"op":"ping"})"), "\"ok\":true"));
  BOOST_TEST(client.closed_by_server());
}

BOOST_FIXTURE_TEST_CASE(ALineSentAByteAtATimeMustEndWithinTheIdleLimitOfItsFirstByte, ServerFixture) {
  ServerOptions options;
  options.idle_timeout_seconds = 1;
  start(options);
  TestClient client(path);
  // 13 bytes, one every 200 ms: never a second without a byte, but the
  // line takes 2.6 s.
  for (const char byte : std::string(R"({"op":"ping"})")) {
    client.send(std::string(1, byte));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  client.send("\n");
  BOOST_TEST(client.closed_by_server());
}

BOOST_FIXTURE_TEST_CASE(ALineSentInPartsWithinTheIdleLimitIsAnswered, ServerFixture) {
  ServerOptions options;
  options.idle_timeout_seconds = 2;
  start(options);
  TestClient client(path);
  client.send(R"({"op":)");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  BOOST_TEST(contains(client.request(R"("ping"})"), "\"ok\":true"));
  // The next line's clock starts at its own first byte.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  client.send(R"({"op":)");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  BOOST_TEST(contains(client.request(R"("ping"})"), "\"ok\":true"));
}

BOOST_FIXTURE_TEST_CASE(ClientWaitingOnSlowHandlerIsNotIdle, ServerFixture) {
  ServerOptions options;
  options.idle_timeout_seconds = 1;
  // Shared with the server's I/O thread, which may check once more after the test body.
  struct IdleChecks {
    std::mutex mutex;
    std::condition_variable checked;
    int count = 0;
  };
  auto checks = std::make_shared<IdleChecks>();
  options.idle_checked = [checks] {
    std::lock_guard lock(checks->mutex);
    ++checks->count;
    checks->checked.notify_all();
  };
  start(options);
  TestClient client(path);
  client.send("{\"op\":\"token\",\"scopes\":[\"a\"],\"id\":1}\n");
  handler->wait_for_held(1);
  // Two idle checks, past the idle timeout, while the handler is busy: still served.
  {
    std::unique_lock lock(checks->mutex);
    BOOST_TEST_REQUIRE(checks->checked.wait_for(lock, std::chrono::milliseconds(kHangGuardMs),
                                                [&] { return checks->count >= 2; }));
  }
  handler->release(0);
  const auto line = client.read_line();
  BOOST_TEST_REQUIRE(line.has_value());
  BOOST_TEST(contains(*line, "\"released\":0"));
}

BOOST_FIXTURE_TEST_CASE(KeepsAReserveOfConnectionsForTheAgentsUidAndRoot, ServerFixture) {
  ServerOptions options;
  options.max_connections = 8;  // a reserve of 2: a quarter of it
  auto reserved = std::make_shared<std::atomic<bool>>(false);
  options.reserved_for = [reserved](const PeerCredentials&) { return reserved->load(); };
  start(options);
  std::vector<std::unique_ptr<TestClient>> tenants;
  for (int i = 0; i < 6; ++i) {
    tenants.push_back(std::make_unique<TestClient>(path));
    BOOST_TEST(contains(tenants.back()->request(R"({"op":"ping"})"), "\"ok\":true"));
  }
  TestClient seventh(path);
  BOOST_TEST(contains(seventh.request(R"({"op":"ping"})"), "too many connections (8)"));
  reserved->store(true);
  TestClient own(path);
  BOOST_TEST(contains(own.request(R"({"op":"ping"})"), "\"ok\":true"));
  TestClient root(path);
  BOOST_TEST(contains(root.request(R"({"op":"ping"})"), "\"ok\":true"));
  TestClient beyond(path);
  BOOST_TEST(contains(beyond.request(R"({"op":"ping"})"), "too many connections (8)"));
}

BOOST_FIXTURE_TEST_CASE(TheServersOwnUidMayUseTheReserve, ServerFixture) {
  ServerOptions options;
  options.max_connections = 4;  // a reserve of 1
  start(options);
  std::vector<std::unique_ptr<TestClient>> own;
  for (int i = 0; i < 4; ++i) {
    own.push_back(std::make_unique<TestClient>(path));
    BOOST_TEST(contains(own.back()->request(R"({"op":"ping"})"), "\"ok\":true"));
  }
}

BOOST_FIXTURE_TEST_CASE(RefusesConnectionsBeyondTheMaximumWithWords, ServerFixture) {
  ServerOptions options;
  options.max_connections = 2;
  start(options);
  TestClient first(path);
  TestClient second(path);
  BOOST_TEST(contains(first.request(R"({"op":"ping"})"), "\"ok\":true"));
  BOOST_TEST(contains(second.request(R"({"op":"ping"})"), "\"ok\":true"));
  TestClient third(path);
  const auto refusal = third.read_line();
  BOOST_TEST_REQUIRE(refusal.has_value());
  BOOST_TEST(*refusal ==
             R"({"ok":false,"error":"unavailable","message":"too many connections (2); try again later"})");
  BOOST_TEST(third.closed_by_server());
  BOOST_TEST(contains(first.request(R"({"op":"ping"})"), "\"ok\":true"));
}

BOOST_FIXTURE_TEST_CASE(RefusesOneUidBeyondItsShareWithWords, ServerFixture) {
  ServerOptions options;
  options.max_connections = 10;
  options.max_connections_per_uid = 2;
  start(options);
  TestClient first(path);
  TestClient second(path);
  BOOST_TEST(contains(first.request(R"({"op":"ping"})"), "\"ok\":true"));
  BOOST_TEST(contains(second.request(R"({"op":"ping"})"), "\"ok\":true"));
  TestClient third(path);
  const auto refusal = third.read_line();
  BOOST_TEST_REQUIRE(refusal.has_value());
  BOOST_TEST(*refusal == R"({"ok":false,"error":"unavailable","message":"too many connections from uid )" +
                             std::to_string(::getuid()) + R"( (2); try again later"})");
  BOOST_TEST(third.closed_by_server());
  BOOST_TEST(stats().refused_per_uid == 1u);
}

BOOST_FIXTURE_TEST_CASE(UidGetsItsShareBackWhenItsConnectionsClose, ServerFixture) {
  ServerOptions options;
  options.max_connections_per_uid = 1;
  start(options);
  {
    TestClient first(path);
    BOOST_TEST(contains(first.request(R"({"op":"ping"})"), "\"ok\":true"));
  }
  wait_until_no_connection();
  TestClient again(path);
  BOOST_TEST(contains(again.request(R"({"op":"ping"})"), "\"ok\":true"));
}

// A lingering refusal still reads what its client sends; one past the
// budget is closed at once, so the client's write after the refusal fails.
BOOST_FIXTURE_TEST_CASE(RefusalsPastTheLingeringBudgetAreClosedAtOnce, ServerFixture) {
  ServerOptions options;
  options.may_connect = [](const PeerCredentials&) { return false; };
  options.refused_linger = std::chrono::milliseconds(kHangGuardMs * 2);
  options.max_lingering_refusals = 1;
  start(options);
  TestClient lingering(path);
  BOOST_TEST_REQUIRE(lingering.read_line().has_value());
  BOOST_TEST(lingering.closed_by_server());
  TestClient at_once(path);
  const auto refusal = at_once.read_line();
  BOOST_TEST_REQUIRE(refusal.has_value());
  BOOST_TEST(contains(*refusal, "you may not use this agent"), *refusal);
  BOOST_TEST(at_once.closed_by_server());
  BOOST_TEST(lingering.write_succeeds("{}\n"));
  BOOST_TEST(!at_once.write_succeeds("{}\n"));
  const ServerStats counted = stats();
  BOOST_TEST(counted.refused == 2u);
  BOOST_TEST(counted.refused_closed_at_once == 1u);
}

BOOST_FIXTURE_TEST_CASE(AcceptedSocketsAreCloseOnExec, ServerFixture) {
  std::promise<int> accepted_flags;
  ServerOptions options;
  options.may_connect = [&](const PeerCredentials&) {
    // The accepted socket: bound to the server's path, not listening.
    int flags = -1;
    for (int fd = 0; fd < 1024 && flags == -1; ++fd) {
      sockaddr_un local{};
      socklen_t length = sizeof local;
      int accepts = 1;
      socklen_t option_length = sizeof accepts;
      if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0 || local.sun_family != AF_UNIX ||
          path != local.sun_path ||
          ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepts, &option_length) != 0 || accepts != 0) {
        continue;
      }
      flags = ::fcntl(fd, F_GETFD);
    }
    accepted_flags.set_value(flags);
    return true;
  };
  start(options);
  TestClient client(path);
  BOOST_TEST(contains(client.request(R"({"op":"ping"})"), "\"ok\":true"));
  const int flags = accepted_flags.get_future().get();
  BOOST_TEST_REQUIRE(flags != -1, "the accepted socket was not found");
  BOOST_TEST((flags & FD_CLOEXEC) != 0);
}

BOOST_FIXTURE_TEST_CASE(RefusedPeerGetsForbiddenAndNothingElse, ServerFixture) {
  ServerOptions options;
  options.may_connect = [](const PeerCredentials&) { return false; };
  start(options);
  TestClient client(path);
  client.send("{\"op\":\"ping\"}\n");
  const auto line = client.read_line();
  BOOST_TEST_REQUIRE(line.has_value());
  BOOST_TEST(contains(*line, "\"error\":\"forbidden\""));
  BOOST_TEST(contains(*line, "you may not use this agent"), *line);
  BOOST_TEST(client.closed_by_server());
}

BOOST_FIXTURE_TEST_CASE(PolicySeesThePeersRealUid, ServerFixture) {
  ServerOptions options;
  options.may_connect = [](const PeerCredentials& peer) {
    return peer.uid == ::getuid() && peer.pid == ::getpid();
  };
  start(options);
  TestClient client(path);
  BOOST_TEST(contains(client.request(R"({"op":"ping"})"), "\"ok\":true"));
}

BOOST_FIXTURE_TEST_CASE(SlowRequestOnOneConnectionDoesNotDelayAnother, ServerFixture) {
  start();
  TestClient slow(path);
  TestClient quick(path);
  slow.send("{\"op\":\"token\",\"scopes\":[\"a\"],\"id\":1}\n");
  handler->wait_for_held(1);
  // Answered while the other connection's request is still held.
  BOOST_TEST(contains(quick.request(R"({"op":"ping"})"), "\"ok\":true"));
  handler->release(0);
  BOOST_TEST(contains(slow.read_line().value_or(""), "\"released\":0"));
}

BOOST_FIXTURE_TEST_CASE(StopsReadingAtThePipeliningBound, ServerFixture) {
  ServerOptions options;
  options.max_pending_per_connection = 2;
  start(options);
  TestClient client(path);
  client.send("{\"op\":\"token\",\"scopes\":[\"a\"],\"id\":1}\n"
              "{\"op\":\"token\",\"scopes\":[\"a\"],\"id\":2}\n"
              "{\"op\":\"token\",\"scopes\":[\"a\"],\"id\":3}\n");
  handler->wait_for_held(2);
  handler->release(0);
  // The third request is read only once a slot is free.
  handler->wait_for_held(3);
  handler->release(1);
  handler->release(2);
  for (const char* expected : {"1", "2", "3"}) {
    BOOST_TEST(id_of(client.read_line().value_or("")).value_or("") == expected);
  }
}

BOOST_FIXTURE_TEST_CASE(DroppedReplyIsAnsweredInternal, ServerFixture) {
  start();
  TestClient client(path);
  const std::string answer = client.request(R"({"op":"token","scopes":["drop"]})");
  BOOST_TEST(contains(answer, "\"error\":\"internal\""));
  BOOST_TEST(contains(answer, "the agent lost this request; please report it"), answer);
  BOOST_TEST(contains(client.request(R"({"op":"ping"})"), "\"ok\":true"));
}

BOOST_FIXTURE_TEST_CASE(ClientThatDoesNotReadItsAnswersIsDropped, ServerFixture) {
  start();
  TestClient client(path);
  std::string burst;
  constexpr int kRequests = 32;  // 32 × 256 KiB answers: far past kMaxUnsentBytes
  for (int i = 0; i < kRequests; ++i) burst += "{\"op\":\"token\",\"scopes\":[\"big\"]}\n";
  client.send(burst);
  wait_until_no_connection();  // it gave up on the client
  int answers = 0;
  while (client.read_line()) ++answers;
  BOOST_TEST(answers < kRequests);
}

BOOST_FIXTURE_TEST_CASE(HalfClosedClientStillGetsItsAnswers, ServerFixture) {
  start();
  TestClient client(path);
  client.send("{\"op\":\"ping\",\"id\":1}\n{\"op\":\"status\",\"id\":2}\n");
  client.finish_sending();
  BOOST_TEST_REQUIRE(client.read_line().has_value());
  BOOST_TEST(contains(client.read_line().value_or(""), "\"id\":2"));
}

BOOST_FIXTURE_TEST_CASE(ShutDownAnswersInFlightRequestsThenReportsDrained, ServerFixture) {
  start();
  TestClient client(path);
  client.send("{\"op\":\"token\",\"scopes\":[\"a\"],\"id\":1}\n");
  handler->wait_for_held(1);
  std::mutex mutex;
  std::condition_variable cv;
  bool drained = false;
  boost::asio::post(io, [&] {
    server->shut_down([&] {
      std::lock_guard lock(mutex);
      drained = true;
      cv.notify_all();
    });
  });
  handler->release(0);
  BOOST_TEST(contains(client.read_line().value_or(""), "\"released\":0"));
  BOOST_TEST(client.closed_by_server());
  std::unique_lock lock(mutex);
  BOOST_TEST(cv.wait_for(lock, std::chrono::milliseconds(kHangGuardMs), [&] { return drained; }));
}

BOOST_AUTO_TEST_SUITE_END()

// What the server and its connections share (internal to agent/server/):
// the io_context, the handler, the options and the set of live connections.
// Everything here is touched on the I/O thread only.
#pragma once

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "agent/server/server.h"
#include "common/result.h"
#include "common/unique_fd.h"

namespace mpa {

using UnixSocket = boost::asio::local::stream_protocol::socket;
using UnixAcceptor = boost::asio::local::stream_protocol::acceptor;

class Connection;  // agent/server/connection.cpp

// How often at most a line about a flood (refused peers, no descriptors
// left) is written.
inline constexpr std::chrono::seconds kFloodLogInterval{60};

// A log line written at most once per interval, counting the events it
// held back meanwhile: a flood must not flood the log.
class LogThrottle {
 public:
  explicit LogThrottle(std::chrono::steady_clock::duration interval) : interval_(interval) {}

  // One more event for the next line to count.
  void count() { ++unlogged_; }
  // Whether a line is due at `now` (none written yet, or the last an
  // interval ago): if so, the events counted since the last line, and
  // counting starts again.
  std::optional<std::uint64_t> due(std::chrono::steady_clock::time_point now) {
    if (logged_at_ && now - *logged_at_ < interval_) return std::nullopt;
    logged_at_ = now;
    return std::exchange(unlogged_, 0);
  }

 private:
  std::chrono::steady_clock::duration interval_;
  std::optional<std::chrono::steady_clock::time_point> logged_at_;
  std::uint64_t unlogged_ = 0;
};

struct Server::Shared {
  Shared(boost::asio::io_context& io_context, int listen_fd, std::shared_ptr<RequestHandler> request_handler,
         ServerOptions server_options)
      : io(io_context),
        acceptor(io_context, boost::asio::local::stream_protocol(), listen_fd),
        accept_retry(io_context),
        handler(std::move(request_handler)),
        options(std::move(server_options)) {
    reopen_reserve();
  }

  boost::asio::io_context& io;
  UnixAcceptor acceptor;
  boost::asio::steady_timer accept_retry;
  std::shared_ptr<RequestHandler> handler;
  ServerOptions options;
  std::unordered_map<const Connection*, std::weak_ptr<Connection>> connections;
  std::unordered_map<uid_t, std::size_t> connections_per_uid;
  bool accepting = false;
  bool full_logged = false;                 // one warning per episode of "too many connections"
  std::unordered_set<uid_t> uid_full_logged;  // the same, per uid
  std::size_t lingering_refusals = 0;
  ServerStats stats;
  // Kept open so that, out of descriptors (EMFILE), one can be freed to
  // accept a waiting connection and close it instead of spinning on it.
  UniqueFd reserve;
  LogThrottle descriptor_shortage_log{kFloodLogInterval};  // counts connections closed for it
  LogThrottle refusal_log{kFloodLogInterval};  // peers [[allow]] refuses; counts those not logged
  std::function<void()> drained;

  void reopen_reserve();

  void connection_opened(const Connection* connection, std::weak_ptr<Connection> weak, uid_t uid) {
    connections.emplace(connection, std::move(weak));
    ++connections_per_uid[uid];
  }

  void connection_closed(const Connection* connection, uid_t uid) {
    connections.erase(connection);
    if (auto it = connections_per_uid.find(uid); it != connections_per_uid.end()) {
      if (--it->second < options.max_connections_per_uid) uid_full_logged.erase(uid);
      if (it->second == 0) connections_per_uid.erase(it);
    }
    if (connections.size() < options.max_connections) full_logged = false;
    if (drained && connections.empty()) std::exchange(drained, nullptr)();
  }

  std::size_t connections_of(uid_t uid) const {
    const auto it = connections_per_uid.find(uid);
    return it == connections_per_uid.end() ? 0 : it->second;
  }

  std::vector<std::shared_ptr<Connection>> live_connections() const {
    std::vector<std::shared_ptr<Connection>> live;
    for (const auto& [key, weak] : connections) {
      if (auto connection = weak.lock()) live.push_back(std::move(connection));
    }
    return live;
  }
};

// An error line without an id, for answers to no particular request.
std::string error_line(ErrorCode code, std::string message);
// "uid 1000 pid 4242", for log lines.
std::string describe(const PeerCredentials& peer);

// Refuses a connection with one line (see kRefusedLinger and
// kMaxLingeringRefusals); agent/server/refused_connection.cpp.
void refuse_connection(const std::shared_ptr<Server::Shared>& shared, UnixSocket socket,
                       std::string line);
// Writes `line` if the socket takes it now, without waiting; the caller closes it.
void refuse_at_once(int fd, const std::string& line);

// Serves `socket` from `peer` until it closes, and registers it in
// shared->connections meanwhile.
void start_connection(const std::shared_ptr<Server::Shared>& shared, UnixSocket socket,
                      const PeerCredentials& peer);
// Graceful stop: answer what was read, take nothing new, then close.
void drain_connection(Connection& connection);
void close_connection(Connection& connection);

}  // namespace mpa

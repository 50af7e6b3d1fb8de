// What the server and its connections share (internal to agent/daemon/):
// the io_context, the handler, the options and the set of live connections.
// Everything here is touched on the I/O thread only.
#pragma once

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/daemon/server.h"
#include "common/result.h"

namespace mpa {

using UnixSocket = boost::asio::local::stream_protocol::socket;
using UnixAcceptor = boost::asio::local::stream_protocol::acceptor;

class Connection;  // agent/daemon/connection.cpp

struct Server::Shared {
  Shared(boost::asio::io_context& io_context, int listen_fd, std::shared_ptr<RequestHandler> request_handler,
         ServerOptions server_options)
      : io(io_context),
        acceptor(io_context, boost::asio::local::stream_protocol(), listen_fd),
        accept_retry(io_context),
        handler(std::move(request_handler)),
        options(std::move(server_options)) {}

  boost::asio::io_context& io;
  UnixAcceptor acceptor;
  boost::asio::steady_timer accept_retry;
  std::shared_ptr<RequestHandler> handler;
  ServerOptions options;
  std::unordered_map<const Connection*, std::weak_ptr<Connection>> connections;
  bool accepting = false;
  bool full_logged = false;  // one warning per episode of "too many connections"
  std::function<void()> drained;

  void connection_closed(const Connection* connection) {
    connections.erase(connection);
    if (connections.size() < options.max_connections) full_logged = false;
    if (drained && connections.empty()) std::exchange(drained, nullptr)();
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

// Serves `socket` from `peer` until it closes, and registers it in
// shared->connections meanwhile.
void start_connection(const std::shared_ptr<Server::Shared>& shared, UnixSocket socket,
                      const PeerCredentials& peer);
// Graceful stop: answer what was read, take nothing new, then close.
void drain_connection(Connection& connection);
void close_connection(Connection& connection);

}  // namespace mpa

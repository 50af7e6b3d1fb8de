#include "agent/daemon/server.h"

#include <sys/socket.h>

#include <array>
#include <boost/asio/write.hpp>
#include <chrono>
#include <optional>

#include "agent/daemon/server_shared.h"
#include "common/log.h"

namespace mpa {

namespace asio = boost::asio;

std::string error_line(ErrorCode code, std::string message) {
  return protocol::encode_error(std::nullopt, make_error(code, std::move(message)));
}

std::string describe(const PeerCredentials& peer) {
  return "uid " + std::to_string(peer.uid) + " pid " + std::to_string(peer.pid);
}

namespace {

// After a failed accept() (EMFILE, ENFILE, ENOMEM) the server waits this
// long before trying again, instead of spinning on the error.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

std::optional<PeerCredentials> peer_credentials(int fd) {
  ucred credentials{};
  socklen_t length = sizeof credentials;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0 ||
      length != sizeof credentials) {
    return std::nullopt;
  }
  return with_peer_groups(
      fd, PeerCredentials{credentials.pid, credentials.uid, credentials.gid, {}});
}

// Writes one line to a connection that is not served, then lingers briefly
// before closing: a client that wrote its request before reading would
// otherwise get EPIPE or ECONNRESET instead of the reason. The lingering
// is bounded in time and bytes, so a flood of refused clients cannot hold
// the agent's descriptors.
constexpr std::chrono::milliseconds kRefusedLinger{500};
constexpr std::size_t kRefusedDrainBytes = 64 * 1024;

struct RefusedConnection {
  RefusedConnection(UnixSocket s, std::string l)
      : socket(std::move(s)), timer(socket.get_executor()), line(std::move(l)) {}
  UnixSocket socket;
  asio::steady_timer timer;
  std::string line;
  std::array<char, 4096> sink{};
  std::size_t drained = 0;

  void close() {
    boost::system::error_code ignored;
    timer.cancel();
    socket.close(ignored);
  }
};

void drain_refused(std::shared_ptr<RefusedConnection> refused) {
  refused->socket.async_read_some(
      asio::buffer(refused->sink), [refused](const boost::system::error_code& error, std::size_t n) {
        refused->drained += n;
        if (error || refused->drained > kRefusedDrainBytes) {
          refused->close();
          return;
        }
        drain_refused(refused);
      });
}

void refuse(std::shared_ptr<UnixSocket> socket, std::string line) {
  auto refused = std::make_shared<RefusedConnection>(std::move(*socket), std::move(line));
  asio::async_write(refused->socket, asio::buffer(refused->line),
                    [refused](const boost::system::error_code& error, std::size_t) {
                      if (error) {
                        refused->close();
                        return;
                      }
                      boost::system::error_code ignored;
                      refused->socket.shutdown(UnixSocket::shutdown_send, ignored);
                      refused->timer.expires_after(kRefusedLinger);
                      refused->timer.async_wait([refused](const boost::system::error_code& e) {
                        if (!e) refused->close();
                      });
                      drain_refused(refused);
                    });
}

void accept_next(const std::shared_ptr<Server::Shared>& shared);

void serve(const std::shared_ptr<Server::Shared>& shared, UnixSocket socket) {
  const auto peer = peer_credentials(socket.native_handle());
  if (!peer) {
    log::warning("closing a connection whose peer credentials cannot be read");
    return;
  }
  auto refused = std::make_shared<UnixSocket>(std::move(socket));
  if (shared->options.may_connect && !shared->options.may_connect(*peer)) {
    log::info("refused " + describe(*peer) + ": not allowed by the configuration ([[allow]])");
    refuse(refused, error_line(ErrorCode::forbidden, "you may not use this agent"));
    return;
  }
  if (shared->connections.size() >= shared->options.max_connections) {
    if (!shared->full_logged) {
      shared->full_logged = true;
      log::warning("too many connections (" + std::to_string(shared->options.max_connections) +
                   "); refusing new ones until some close");
    }
    refuse(refused, error_line(ErrorCode::unavailable,
                               "too many connections (" +
                                   std::to_string(shared->options.max_connections) +
                                   "); try again later"));
    return;
  }
  log::debug("connection from " + describe(*peer));
  start_connection(shared, std::move(*refused), *peer);
}

void accept_next(const std::shared_ptr<Server::Shared>& shared) {
  if (!shared->accepting) return;
  shared->acceptor.async_accept(
      [shared](const boost::system::error_code& error, UnixSocket socket) {
        if (!shared->accepting) return;
        if (error) {
          log::warning("accept failed: " + error.message() + "; trying again shortly");
          shared->accept_retry.expires_after(kAcceptRetryDelay);
          shared->accept_retry.async_wait([shared](const boost::system::error_code& timer_error) {
            if (!timer_error) accept_next(shared);
          });
          return;
        }
        serve(shared, std::move(socket));
        accept_next(shared);
      });
}


}  // namespace

Server::Server(asio::io_context& io, int listen_fd, std::shared_ptr<RequestHandler> handler,
               ServerOptions options)
    : shared_(std::make_shared<Shared>(io, listen_fd, std::move(handler), std::move(options))) {}

Server::~Server() {
  shared_->accepting = false;
  shared_->drained = nullptr;
  boost::system::error_code ignored;
  shared_->acceptor.close(ignored);
  shared_->accept_retry.cancel();
  close_all();
}

void Server::start() {
  shared_->accepting = true;
  accept_next(shared_);
}

void Server::set_max_connections(std::size_t max_connections) {
  shared_->options.max_connections = max_connections;
}

void Server::shut_down(std::function<void()> drained) {
  shared_->accepting = false;
  boost::system::error_code ignored;
  shared_->acceptor.close(ignored);
  shared_->accept_retry.cancel();
  shared_->drained = std::move(drained);
  for (const auto& connection : shared_->live_connections()) drain_connection(*connection);
  if (shared_->drained && shared_->connections.empty()) std::exchange(shared_->drained, nullptr)();
}

void Server::close_all() {
  for (const auto& connection : shared_->live_connections()) close_connection(*connection);
}

std::size_t Server::connection_count() const { return shared_->connections.size(); }

}  // namespace mpa

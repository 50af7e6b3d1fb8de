#include "agent/server/server.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <chrono>
#include <optional>

#include "agent/server/server_shared.h"
#include "agent/metrics/agent_metrics.h"
#include "common/log.h"
#include "common/text.h"

namespace mpa {

namespace asio = boost::asio;

std::string error_line(ErrorCode code, std::string message) {
  return protocol::encode_error(std::nullopt, make_error(code, std::move(message)));
}

std::string describe(const PeerCredentials& peer) {
  return "uid " + std::to_string(peer.uid) + " pid " + std::to_string(peer.pid);
}

namespace {

// After a failed accept() that the reserve descriptor could not absorb
// (ENOMEM, ENOBUFS, no reserve) the server waits this long before trying
// again, instead of spinning on the error.
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

// Connections taken from the backlog per wake-up before other I/O runs.
constexpr int kAcceptsPerWakeup = 64;

bool reserved_for(const Server::Shared& shared, const PeerCredentials& peer) {
  if (shared.options.reserved_for) return shared.options.reserved_for(peer);
  return peer.uid == ::geteuid() || peer.uid == 0;
}

// Other peers stop short of max_connections by the reserve.
bool too_many_in_total(Server::Shared& shared, const PeerCredentials& peer) {
  const std::size_t max = shared.options.max_connections;
  const std::size_t reserve = std::min(shared.options.reserved_connections, max / 4);
  const std::size_t limit = reserved_for(shared, peer) ? max : max - reserve;
  if (shared.connections.size() < limit) return false;
  if (!shared.full_logged) {
    shared.full_logged = true;
    log::warning("too many connections (" + std::to_string(shared.options.max_connections) +
                 "); refusing new ones until some close");
  }
  return true;
}

bool too_many_from(Server::Shared& shared, uid_t uid) {
  if (shared.connections_of(uid) < shared.options.max_connections_per_uid) return false;
  if (shared.uid_full_logged.insert(uid).second) {
    log::warning("too many connections from uid " + std::to_string(uid) + " (" +
                 std::to_string(shared.options.max_connections_per_uid) +
                 ", [agent] max_connections_per_uid); refusing its new ones until some close");
  }
  ++shared.stats.refused_per_uid;
  return true;
}

// Once per interval, not per connection, with how many went unlogged.
void note_refusal(Server::Shared& shared, const PeerCredentials& peer) {
  const auto since = shared.refusal_log.due(shared.options.clock.steady_now());
  if (!since) {
    shared.refusal_log.count();
    return;
  }
  log::info("refused " + describe(peer) + ": not allowed by the configuration ([[allow]])" +
            (*since > 0 ? "; " + std::to_string(*since) + " more refused since the last such line"
                        : std::string()));
}

void serve(const std::shared_ptr<Server::Shared>& shared, UnixSocket socket) {
  const auto peer = peer_credentials(socket.native_handle());
  if (!peer) {
    log::warning("closing a connection whose peer credentials cannot be read");
    return;
  }
  if (shared->options.may_connect && !shared->options.may_connect(*peer)) {
    note_refusal(*shared, *peer);
    metrics::agent_metrics().count_refused_connection(metrics::ConnectionRefusal::allow);
    refuse_connection(shared, std::move(socket), error_line(ErrorCode::forbidden, "you may not use this agent"));
    return;
  }
  if (too_many_in_total(*shared, *peer)) {
    metrics::agent_metrics().count_refused_connection(metrics::ConnectionRefusal::max_connections);
    refuse_connection(shared, std::move(socket),
                      error_line(ErrorCode::unavailable,
                                 "too many connections (" + std::to_string(shared->options.max_connections) +
                                     "); try again later"));
    return;
  }
  if (too_many_from(*shared, peer->uid)) {
    metrics::agent_metrics().count_refused_connection(
        metrics::ConnectionRefusal::max_connections_per_uid);
    refuse_connection(shared, std::move(socket),
                      error_line(ErrorCode::unavailable,
                                 "too many connections from uid " + std::to_string(peer->uid) + " (" +
                                     std::to_string(shared->options.max_connections_per_uid) +
                                     "); try again later"));
    return;
  }
  log::debug("connection from " + describe(*peer));
  start_connection(shared, std::move(socket), *peer);
}

// Once per interval, not per connection: a flood must not flood the log.
void note_descriptor_shortage(Server::Shared& shared, int error_number) {
  const auto due = shared.descriptor_shortage_log.due(shared.options.clock.steady_now());
  if (!due) return;
  const std::uint64_t since = *due;
  log::warning("accept: " + errno_text(error_number) +
               ": out of file descriptors, new connections are closed at once" +
               (since > 0 ? " (" + std::to_string(since) + " since the last warning)" : std::string()) +
               "; raise the open-files limit (LimitNOFILE=) or lower [agent] max_connections");
}

enum class Shed { closed_one, none_waiting, failed };

// EMFILE/ENFILE: frees the reserve descriptor, takes the waiting
// connection and closes it (its client sees the reason, or at least an
// end, instead of hanging in the backlog), then takes the reserve back.
Shed shed_with_reserve(Server::Shared& shared, int error_number) {
  if (!shared.reserve.valid()) {
    note_descriptor_shortage(shared, error_number);
    return Shed::failed;
  }
  shared.reserve.reset();
  const int fd = ::accept4(shared.acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  const int accept_errno = errno;
  if (fd >= 0) {
    note_descriptor_shortage(shared, error_number);
    refuse_at_once(fd, error_line(ErrorCode::unavailable, "the agent is out of file descriptors; try again later"));
    ::close(fd);
    ++shared.stats.closed_for_descriptors;
    metrics::agent_metrics().count_refused_connection(metrics::ConnectionRefusal::out_of_descriptors);
    shared.descriptor_shortage_log.count();
  }
  shared.reopen_reserve();
  if (fd >= 0) return shared.reserve.valid() ? Shed::closed_one : Shed::failed;
  return accept_errno == EAGAIN || accept_errno == EWOULDBLOCK ? Shed::none_waiting : Shed::failed;
}

void accept_waiting(const std::shared_ptr<Server::Shared>& shared);

void retry_accept_later(const std::shared_ptr<Server::Shared>& shared) {
  shared->accept_retry.expires_after(kAcceptRetryDelay);
  shared->accept_retry.async_wait([shared](const boost::system::error_code& timer_error) {
    if (timer_error) return;
    if (!shared->reserve.valid()) shared->reopen_reserve();
    accept_waiting(shared);
  });
}

// The acceptor is registered edge-triggered: wait only after accept4()
// said EAGAIN, or a connection already waiting would never wake us.
void wait_for_connections(const std::shared_ptr<Server::Shared>& shared) {
  if (!shared->accepting) return;
  shared->acceptor.async_wait(UnixAcceptor::wait_read, [shared](const boost::system::error_code& error) {
    if (!shared->accepting) return;
    if (error) {
      log::warning("waiting for connections failed: " + error.message() + "; trying again shortly");
      retry_accept_later(shared);
      return;
    }
    accept_waiting(shared);
  });
}

void serve_descriptor(const std::shared_ptr<Server::Shared>& shared, int fd) {
  UnixSocket socket(shared->io);
  boost::system::error_code error;
  socket.assign(asio::local::stream_protocol(), fd, error);
  if (error) {
    ::close(fd);
    log::warning("cannot serve a connection: " + error.message());
    return;
  }
  serve(shared, std::move(socket));
}

// Takes the connections waiting in the backlog with accept4(), so that each
// is close-on-exec from the start: a signer helper spawned meanwhile never
// inherits a client's socket. After a batch, other handlers run first.
void accept_waiting(const std::shared_ptr<Server::Shared>& shared) {
  for (int taken = 0; taken < kAcceptsPerWakeup; ++taken) {
    if (!shared->accepting) return;
    const int fd = ::accept4(shared->acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
      serve_descriptor(shared, fd);
      continue;
    }
    const int error_number = errno;
    if (error_number == EINTR || error_number == ECONNABORTED) continue;
    if (error_number == EAGAIN || error_number == EWOULDBLOCK) {
      wait_for_connections(shared);
      return;
    }
    if (error_number == EMFILE || error_number == ENFILE) {
      const Shed shed = shed_with_reserve(*shared, error_number);
      if (shed == Shed::closed_one) continue;
      if (shed == Shed::none_waiting) {
        wait_for_connections(shared);
        return;
      }
    } else {
      log::warning("accept failed: " + errno_text(error_number) + "; trying again shortly");
    }
    retry_accept_later(shared);
    return;
  }
  asio::post(shared->io, [shared] { accept_waiting(shared); });
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
  // accept4() below must never block the I/O thread.
  boost::system::error_code ignored;
  shared_->acceptor.non_blocking(true, ignored);
  asio::post(shared_->io, [shared = shared_] { accept_waiting(shared); });
}

void Server::set_max_connections(std::size_t max_connections) {
  shared_->options.max_connections = max_connections;
}

void Server::set_max_connections_per_uid(std::size_t max_connections_per_uid) {
  shared_->options.max_connections_per_uid = max_connections_per_uid;
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

ServerStats Server::stats() const {
  ServerStats stats = shared_->stats;
  stats.connections = shared_->connections.size();
  return stats;
}

void Server::Shared::reopen_reserve() {
  reserve.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

}  // namespace mpa

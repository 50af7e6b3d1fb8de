// Connections the server does not serve: the one line that says why, and
// a bounded linger so that a client that wrote before reading gets the
// reason rather than ECONNRESET. Past kMaxLingeringRefusals lingering at
// once, a refusal is written without waiting and closed at once.
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "agent/server/server_shared.h"

namespace mpa {

namespace asio = boost::asio;

namespace {

// What a lingering refusal reads (and drops) from its client at most.
constexpr std::size_t kRefusedDrainBytes = 64 * 1024;

class RefusedConnection final {
 public:
  RefusedConnection(std::shared_ptr<Server::Shared> shared, UnixSocket socket, std::string line)
      : shared_(std::move(shared)),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        line_(std::move(line)) {
    ++shared_->lingering_refusals;
  }
  // Handlers hold it through a shared_ptr.
  RefusedConnection(const RefusedConnection&) = delete;
  RefusedConnection& operator=(const RefusedConnection&) = delete;
  ~RefusedConnection() { close(); }

  static void start(std::shared_ptr<RefusedConnection> self) {
    auto& line = self->line_;
    asio::async_write(self->socket_, asio::buffer(line),
                      [self](const boost::system::error_code& error, std::size_t) {
                        if (error) {
                          self->close();
                          return;
                        }
                        self->linger(self);
                      });
  }

 private:
  void linger(const std::shared_ptr<RefusedConnection>& self) {
    boost::system::error_code ignored;
    socket_.shutdown(UnixSocket::shutdown_send, ignored);
    timer_.expires_after(shared_->options.refused_linger);
    timer_.async_wait([self](const boost::system::error_code& error) {
      if (!error) self->close();
    });
    drain(self);
  }

  static void drain(std::shared_ptr<RefusedConnection> self) {
    auto& sink = self->sink_;
    self->socket_.async_read_some(
        asio::buffer(sink), [self](const boost::system::error_code& error, std::size_t n) {
          self->drained_ += n;
          if (error || self->drained_ > kRefusedDrainBytes) {
            self->close();
            return;
          }
          drain(self);
        });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    --shared_->lingering_refusals;
    boost::system::error_code ignored;
    timer_.cancel();
    socket_.close(ignored);
  }

  std::shared_ptr<Server::Shared> shared_;
  UnixSocket socket_;
  asio::steady_timer timer_;
  std::string line_;
  std::array<char, 4096> sink_{};
  std::size_t drained_ = 0;
  bool closed_ = false;
};

}  // namespace

void refuse_at_once(int fd, const std::string& line) {
  // What the client already sent is read first: closing a Unix socket with
  // unread data makes the client's next read fail with ECONNRESET, which
  // could hide the line.
  std::array<char, 4096> sink{};
  std::size_t drained = 0;
  while (drained < kRefusedDrainBytes) {
    const ssize_t n = ::recv(fd, sink.data(), sink.size(), MSG_DONTWAIT);
    if (n <= 0) break;
    drained += static_cast<std::size_t>(n);
  }
  (void)::send(fd, line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

void refuse_connection(const std::shared_ptr<Server::Shared>& shared, UnixSocket socket,
                       std::string line) {
  ++shared->stats.refused;
  if (shared->lingering_refusals >= shared->options.max_lingering_refusals) {
    ++shared->stats.refused_closed_at_once;
    refuse_at_once(socket.native_handle(), line);
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  RefusedConnection::start(std::make_shared<RefusedConnection>(shared, std::move(socket), std::move(line)));
}

}  // namespace mpa

#include "agent/daemon/server.h"

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <optional>
#include <unordered_map>
#include <vector>

#include "common/log.h"
#include "protocol/line_reader.h"

namespace mpa {

namespace asio = boost::asio;
using UnixSocket = asio::local::stream_protocol::socket;
using UnixAcceptor = asio::local::stream_protocol::acceptor;
using SteadyClock = std::chrono::steady_clock;

namespace {

// After a failed accept() (EMFILE, ENFILE, ENOMEM) the server waits this
// long before trying again, instead of spinning on the error.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

class Connection;

}  // namespace

struct Server::Shared {
  Shared(asio::io_context& io_context, int listen_fd, std::shared_ptr<RequestHandler> request_handler,
         ServerOptions server_options)
      : io(io_context),
        acceptor(io_context, asio::local::stream_protocol(), listen_fd),
        accept_retry(io_context),
        handler(std::move(request_handler)),
        options(std::move(server_options)) {}

  asio::io_context& io;
  UnixAcceptor acceptor;
  asio::steady_timer accept_retry;
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

namespace {

std::string error_line(ErrorCode code, std::string message) {
  return protocol::encode_error(std::nullopt, make_error(code, std::move(message)));
}

std::optional<PeerCredentials> peer_credentials(int fd) {
  ucred credentials{};
  socklen_t length = sizeof credentials;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0 ||
      length != sizeof credentials) {
    return std::nullopt;
  }
  return PeerCredentials{credentials.pid, credentials.uid, credentials.gid};
}

std::string describe(const PeerCredentials& peer) {
  return "uid " + std::to_string(peer.uid) + " pid " + std::to_string(peer.pid);
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

class Connection final : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Server::Shared> shared, UnixSocket socket, PeerCredentials peer)
      : shared_(std::move(shared)),
        socket_(std::move(socket)),
        timer_(shared_->io),
        reader_(shared_->options.max_line_bytes),
        peer_(peer) {}

  void start() {
    touch();
    arm_timer(shared_->options.idle_timeout_seconds);
    read_more();
  }

  // Graceful stop: answer what was read, take nothing new.
  void drain() {
    taking_requests_ = false;
    close_when_done();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    socket_.close(ignored);
    timer_.cancel();
    slots_.clear();
    out_.clear();
    shared_->connection_closed(this);
  }

  // The answer to request `seq`, on the I/O thread.
  void complete(std::uint64_t seq, std::string line, bool close_after) {
    if (closed_ || seq < first_seq_ || seq >= next_seq_) return;
    Slot& slot = slots_[static_cast<std::size_t>(seq - first_seq_)];
    slot.line = std::move(line);
    slot.close_after = close_after;
    flush_ready();
  }

 private:
  struct Slot {
    std::optional<std::string> line;
    bool close_after = false;
  };

  // Copies of a Reply share one of these; it answers once, and answers
  // `internal` if the handler drops the Reply without using it.
  class PendingReply final {
   public:
    PendingReply(std::weak_ptr<Connection> connection, std::uint64_t seq)
        : connection_(std::move(connection)), seq_(seq) {}
    PendingReply(const PendingReply&) = delete;  // shared through a shared_ptr
    PendingReply& operator=(const PendingReply&) = delete;
    ~PendingReply() {
      if (!sent_.load()) {
        log::error("bug: a request was dropped without an answer");
        send(error_line(ErrorCode::internal, "the agent lost this request; please report it"));
      }
    }

    void send(std::string line) {
      if (sent_.exchange(true)) {
        log::error("bug: a request was answered twice; the second answer is dropped");
        return;
      }
      auto connection = connection_.lock();
      if (!connection) return;  // the client went away
      // A cache hit answers on the I/O thread while its line is being
      // dispatched: queue it at once instead of another trip through the
      // io_context. complete() never reads, so this cannot recurse.
      if (connection->shared_->io.get_executor().running_in_this_thread()) {
        connection->complete(seq_, std::move(line), false);
        return;
      }
      auto executor = connection->socket_.get_executor();
      asio::post(executor, [connection, seq = seq_, text = std::move(line)]() mutable {
        connection->complete(seq, std::move(text), false);
      });
    }

   private:
    std::weak_ptr<Connection> connection_;
    std::uint64_t seq_;
    std::atomic<bool> sent_{false};
  };

  std::size_t unsent() const { return out_.size() + writing_buffer_.size(); }
  bool may_read() const {
    return taking_requests_ && !input_ended_ && slots_.size() < shared_->options.max_pending_per_connection &&
           unsent() < kReadPauseUnsentBytes;
  }

  void touch() { last_activity_ = SteadyClock::now(); }

  void arm_timer(int seconds) {
    timer_.expires_after(std::chrono::seconds(seconds));
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
      if (!error) self->on_timer();
    });
  }

  // Idle means waiting on the client: for its next request or for it to
  // read our answers. Waiting on our own handler is not the client's fault.
  void on_timer() {
    if (closed_) return;
    const int idle_seconds = shared_->options.idle_timeout_seconds;
    if (!slots_.empty() && unsent() == 0) {
      touch();
      arm_timer(idle_seconds);
      return;
    }
    const auto idle_for = SteadyClock::now() - last_activity_;
    if (idle_for >= std::chrono::seconds(idle_seconds)) {
      log::debug("closing connection of " + describe(peer_) + ": idle for " +
                 std::to_string(idle_seconds) + " s");
      close();
      return;
    }
    const auto left = std::chrono::seconds(idle_seconds) - idle_for;
    arm_timer(static_cast<int>(std::chrono::ceil<std::chrono::seconds>(left).count()));
  }

  void read_more() {
    if (reading_ || closed_ || !may_read()) return;
    reading_ = true;
    socket_.async_read_some(
        asio::buffer(read_buffer_),
        [self = shared_from_this()](const boost::system::error_code& error, std::size_t length) {
          self->on_read(error, length);
        });
  }

  void on_read(const boost::system::error_code& error, std::size_t length) {
    reading_ = false;
    if (closed_) return;
    if (error) {
      // EOF after a half-close still gets the answers to what was sent.
      input_ended_ = true;
      close_when_done();
      return;
    }
    touch();
    unfed_begin_ = 0;
    unfed_end_ = length;
    process_input();
  }

  // Takes lines from what was read while the pipelining bound allows. Bytes
  // go to the LineReader one line at a time, so that an oversized line
  // after good ones still lets the good ones be answered first.
  void process_input() {
    while (!closed_ && taking_requests_ &&
           slots_.size() < shared_->options.max_pending_per_connection) {
      if (auto line = reader_.next_line()) {
        dispatch(std::move(*line));
        continue;
      }
      if (unfed_begin_ == unfed_end_) break;
      if (!feed_next_segment()) {
        reject_oversized_line();
        break;
      }
    }
    if (closed_) return;
    if (!taking_requests_ || input_ended_) {
      close_when_done();
      return;
    }
    if (unfed_begin_ == unfed_end_) read_more();
  }

  bool feed_next_segment() {
    const char* begin = read_buffer_.data() + unfed_begin_;
    const std::size_t available = unfed_end_ - unfed_begin_;
    const void* newline = std::memchr(begin, '\n', available);
    const std::size_t length =
        newline ? static_cast<std::size_t>(static_cast<const char*>(newline) - begin) + 1 : available;
    unfed_begin_ += length;
    return reader_.feed(std::string_view(begin, length));
  }

  std::uint64_t open_slot() {
    slots_.emplace_back();
    return next_seq_++;
  }

  void reject_oversized_line() {
    log::debug("closing connection of " + describe(peer_) + ": request line too long");
    const std::uint64_t seq = open_slot();
    finish_with_error(seq, error_line(ErrorCode::invalid_request,
                                      "request line longer than " +
                                          std::to_string(shared_->options.max_line_bytes) + " bytes"));
  }

  // The last answer on this connection: it closes once this is written.
  void finish_with_error(std::uint64_t seq, std::string line) {
    taking_requests_ = false;
    complete(seq, std::move(line), true);
  }

  void dispatch(std::string line) {
    const std::uint64_t seq = open_slot();
    auto decoded = protocol::decode_request(line);
    if (auto* bad = std::get_if<protocol::DecodeError>(&decoded)) {
      std::string answer = protocol::encode_error(bad->id_json, bad->error);
      if (bad->close_connection) {
        finish_with_error(seq, std::move(answer));
      } else {
        complete(seq, std::move(answer), false);
      }
      return;
    }
    auto pending = std::make_shared<PendingReply>(weak_from_this(), seq);
    Reply reply = [pending](std::string answer) { pending->send(std::move(answer)); };
    try {
      shared_->handler->handle(peer_, std::get<protocol::Request>(std::move(decoded)),
                               std::move(reply));
    } catch (const std::exception& e) {
      // The handler is ours; the dropped Reply answers `internal`.
      log::error(std::string("bug: the request handler threw: ") + e.what());
    }
  }

  void flush_ready() {
    while (!slots_.empty() && slots_.front().line) {
      Slot slot = std::move(slots_.front());
      slots_.pop_front();
      ++first_seq_;
      out_ += *slot.line;
      if (slot.close_after) {
        close_after_write_ = true;
        first_seq_ += slots_.size();
        slots_.clear();
        break;
      }
    }
    if (unsent() > kMaxUnsentBytes) {
      log::warning("dropping the connection of " + describe(peer_) +
                   ": it does not read its answers");
      close();
      return;
    }
    // Reading resumes from on_written, never from here: an answer made
    // while a line is dispatched must not recurse into the next line.
    write_more();
  }

  void write_more() {
    if (writing_ || closed_ || out_.empty()) return;
    writing_ = true;
    writing_buffer_ = std::move(out_);
    out_.clear();
    asio::async_write(socket_, asio::buffer(writing_buffer_),
                      [self = shared_from_this()](const boost::system::error_code& error,
                                                  std::size_t) { self->on_written(error); });
  }

  void on_written(const boost::system::error_code& error) {
    writing_ = false;
    writing_buffer_.clear();
    if (closed_) return;
    if (error) {
      close();
      return;
    }
    touch();
    if (!out_.empty()) {
      write_more();
      return;
    }
    if (close_after_write_) {
      close();
      return;
    }
    process_input();
  }

  // Closes once every request read has been answered and written.
  void close_when_done() {
    if (closed_) return;
    if ((taking_requests_ && !input_ended_) || !slots_.empty() || writing_ || !out_.empty()) return;
    close();
  }

  std::shared_ptr<Server::Shared> shared_;
  UnixSocket socket_;
  asio::steady_timer timer_;
  protocol::LineReader reader_;
  PeerCredentials peer_;
  std::array<char, kReadChunkBytes> read_buffer_{};
  std::size_t unfed_begin_ = 0;  // read but not yet given to reader_
  std::size_t unfed_end_ = 0;
  std::deque<Slot> slots_;       // requests read and not yet written, in order
  std::uint64_t first_seq_ = 0;  // the request slots_.front() belongs to
  std::uint64_t next_seq_ = 0;
  std::string out_;              // answers waiting for the write in progress
  std::string writing_buffer_;   // the write in progress
  SteadyClock::time_point last_activity_{};
  bool reading_ = false;
  bool writing_ = false;
  bool taking_requests_ = true;
  bool input_ended_ = false;
  bool close_after_write_ = false;
  bool closed_ = false;
};

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
  auto connection = std::make_shared<Connection>(shared, std::move(*refused), *peer);
  shared->connections.emplace(connection.get(), connection);
  connection->start();
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
  for (const auto& connection : shared_->live_connections()) connection->drain();
  if (shared_->drained && shared_->connections.empty()) std::exchange(shared_->drained, nullptr)();
}

void Server::close_all() {
  for (const auto& connection : shared_->live_connections()) connection->close();
}

std::size_t Server::connection_count() const { return shared_->connections.size(); }

}  // namespace mpa

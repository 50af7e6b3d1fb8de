// One client connection of the socket server: reads request lines,
// dispatches them to the handler, writes the answers in request order,
// and closes on idleness, on a bad line, or when the client goes.
#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <optional>

#include "agent/server/server_shared.h"
#include "agent/metrics/agent_metrics.h"
#include "common/log.h"
#include "protocol/line_reader.h"

namespace mpa {

namespace asio = boost::asio;

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
    arm_timer(std::chrono::seconds(shared_->options.idle_timeout_seconds));
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
    shared_->connection_closed(this, peer_.uid);
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

  void touch() { last_activity_ = shared_->options.clock.steady_now(); }

  void arm_timer(std::chrono::milliseconds after) {
    timer_.expires_after(after);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
      if (!error) self->on_timer();
    });
  }

  // Idle means waiting on the client: for its next request or for it to
  // read our answers. Waiting on our own handler is not the client's fault.
  void on_timer() {
    if (closed_) return;
    check_idle();
    if (shared_->options.idle_checked) shared_->options.idle_checked();
  }

  // A request line must be complete within the idle limit of its first
  // byte: a client that sends a byte now and then is idle all the same.
  void check_idle() {
    const int idle_seconds = shared_->options.idle_timeout_seconds;
    const auto limit = std::chrono::seconds(idle_seconds);
    const auto now = shared_->options.clock.steady_now();
    const bool line_waits = line_started_ && reading_;  // on the client's next bytes
    if (line_waits && now - *line_started_ >= limit) {
      log::debug("closing connection of " + describe(peer_) + ": a request line unfinished for " +
                 std::to_string(idle_seconds) + " s");
      close();
      return;
    }
    if (!slots_.empty() && unsent() == 0) touch();
    const auto idle_for = now - last_activity_;
    if (idle_for >= limit) {
      log::debug("closing connection of " + describe(peer_) + ": idle for " +
                 std::to_string(idle_seconds) + " s");
      close();
      return;
    }
    auto left = limit - idle_for;
    if (line_waits) left = std::min(left, limit - (now - *line_started_));
    arm_timer(std::chrono::ceil<std::chrono::milliseconds>(left));
  }

  // After a read: when the line that is still incomplete began.
  void note_line_start(std::uint64_t lines_before, bool was_mid_line) {
    if (reader_.buffered() == 0) {
      line_started_.reset();
    } else if (!was_mid_line || next_seq_ != lines_before) {
      line_started_ = last_activity_;
    }
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
    const std::uint64_t lines_before = next_seq_;
    const bool was_mid_line = reader_.buffered() > 0;
    unfed_begin_ = 0;
    unfed_end_ = length;
    process_input();
    if (!closed_) note_line_start(lines_before, was_mid_line);
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
      metrics::agent_metrics().count_request("invalid", bad->error.code);
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
  std::chrono::steady_clock::time_point last_activity_{};
  // When the request line still incomplete got its first byte; unset
  // between lines.
  std::optional<std::chrono::steady_clock::time_point> line_started_;
  bool reading_ = false;
  bool writing_ = false;
  bool taking_requests_ = true;
  bool input_ended_ = false;
  bool close_after_write_ = false;
  bool closed_ = false;
};

void start_connection(const std::shared_ptr<Server::Shared>& shared, UnixSocket socket,
                      const PeerCredentials& peer) {
  auto connection = std::make_shared<Connection>(shared, std::move(socket), peer);
  shared->connection_opened(connection.get(), connection, peer.uid);
  connection->start();
}

void drain_connection(Connection& connection) { connection.drain(); }

void close_connection(Connection& connection) { connection.close(); }

}  // namespace mpa

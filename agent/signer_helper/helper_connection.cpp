#include "agent/signer_helper/helper_connection.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>

namespace mpa::signer_helper {
namespace {

// How long one frame may take to enter the socket.
constexpr std::chrono::seconds kSendTimeout{10};

Error gone(const std::string& why) {
  return make_error(ErrorCode::hsm_error, "the signer helper went away: " + why);
}

std::string seconds_text(Clock::duration d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

}  // namespace

HelperConnection::HelperConnection(HelperChild child, std::function<void()> on_death)
    : pid_(child.pid), fd_(std::move(child.fd)), on_death_(std::move(on_death)) {}

std::shared_ptr<HelperConnection> HelperConnection::start(HelperChild child,
                                                          std::function<void()> on_death) {
  std::shared_ptr<HelperConnection> c(new HelperConnection(std::move(child), std::move(on_death)));
  // A helper that stops reading fills the socket; a send then fails
  // instead of holding the write lock for ever.
  const timeval send_timeout{static_cast<time_t>(kSendTimeout.count()), 0};
  ::setsockopt(c->fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
  c->reader_ = std::thread([raw = c.get()] { raw->read_loop(); });
  return c;
}

HelperConnection::~HelperConnection() {
  kill("stopped by the agent");
  if (!reader_.joinable()) return;
  // The last owner may be on_death_'s caller, i.e. the reader itself.
  if (reader_.get_id() == std::this_thread::get_id()) {
    reader_.detach();
  } else {
    reader_.join();
  }
}

void HelperConnection::read_loop() {
  std::string why;
  for (;;) {
    auto frame = read_frame(fd_.get());
    if (!frame) {
      why = "broke the wire (" + frame.error().message + ")";
      break;
    }
    if (!frame->has_value()) {
      why = "closed the connection";
      break;
    }
    if (!deliver(std::move(**frame))) {
      why = "answered what was not asked";
      break;
    }
  }
  // Wait without reaping, so that the pid stays ours while kill() may
  // still send to it; then reap under the lock.
  ::kill(pid_, SIGKILL);
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
  }
  std::string how;
  {
    std::lock_guard lock(mutex_);
    reaped_ = true;
    how = reap(pid_);
  }
  died(why + ", " + how);
}

bool HelperConnection::deliver(Message message) {
  std::lock_guard lock(mutex_);
  if (std::holds_alternative<ReadyMessage>(message) || std::holds_alternative<FailedMessage>(message)) {
    auto& answer = !setup_answer_ ? setup_answer_ : reconfigure_answer_;
    if (answer || (&answer == &reconfigure_answer_ && !reconfiguring_)) return false;
    if (auto* ready = std::get_if<ReadyMessage>(&message)) {
      answer = std::move(*ready);
    } else {
      answer = Result<ReadyMessage>(error_of(std::get<FailedMessage>(message)));
    }
    cv_.notify_all();
    return true;
  }
  std::uint64_t id = 0;
  std::optional<Result<Bytes>> signature;
  std::optional<std::vector<SignerInfo>> info;
  if (auto* s = std::get_if<SignatureMessage>(&message)) {
    id = s->id;
    signature = Result<Bytes>(std::move(s->signature));
  } else if (auto* e = std::get_if<SignErrorMessage>(&message)) {
    id = e->id;
    signature = Result<Bytes>(make_error(e->code, e->message));
  } else if (auto* r = std::get_if<InfoReplyMessage>(&message)) {
    id = r->id;
    info = std::move(r->keys);
  } else {
    return false;  // a request, from the helper
  }
  auto it = pending_.find(id);
  if (it == pending_.end() || it->second.done) return false;
  if (signature.has_value() != it->second.is_sign) return false;
  if (it->second.abandoned) {
    pending_.erase(it);
    return true;
  }
  it->second.done = true;
  it->second.signature = std::move(signature);
  it->second.info = std::move(info);
  cv_.notify_all();
  return true;
}

void HelperConnection::died(const std::string& why) {
  {
    std::lock_guard lock(mutex_);
    alive_ = false;
    death_reason_ = kill_reason_.empty() ? why : kill_reason_;
    cv_.notify_all();
  }
  if (on_death_) on_death_();
}

void HelperConnection::kill(const std::string& why) {
  std::lock_guard lock(mutex_);
  if (!alive_ || reaped_) return;
  if (kill_reason_.empty()) kill_reason_ = why;
  ::kill(pid_, SIGKILL);
  // A module's own child may hold the helper's end open; this ends our
  // reads anyway.
  ::shutdown(fd_.get(), SHUT_RDWR);
}

void HelperConnection::stop(Clock::duration grace) {
  ::shutdown(fd_.get(), SHUT_WR);
  std::unique_lock lock(mutex_);
  if (!cv_.wait_until(lock, Clock::now() + grace, [&] { return !alive_; })) {
    lock.unlock();
    kill("did not exit within " + seconds_text(grace) + " of being asked to");
  }
}

bool HelperConnection::alive() const {
  std::lock_guard lock(mutex_);
  return alive_;
}

std::string HelperConnection::death_reason() const {
  std::lock_guard lock(mutex_);
  return kill_reason_.empty() ? death_reason_ : kill_reason_;
}

std::uint64_t HelperConnection::send(const Message& message, bool is_sign) {
  std::uint64_t id = 0;
  Message numbered = message;
  {
    std::lock_guard lock(mutex_);
    if (!alive_) return 0;
    id = next_id_++;
    pending_[id].is_sign = is_sign;
  }
  if (auto* s = std::get_if<SignMessage>(&numbered)) s->id = id;
  if (auto* i = std::get_if<InfoMessage>(&numbered)) i->id = id;
  Status sent;
  {
    std::lock_guard lock(write_mutex_);
    sent = write_frame(fd_.get(), numbered);
  }
  if (!sent) {
    kill("the connection to it failed: " + sent.error().message);
    std::lock_guard lock(mutex_);
    pending_.erase(id);
    return 0;
  }
  return id;
}

Result<ReadyMessage> HelperConnection::setup(const SetupMessage& setup, Clock::time_point deadline) {
  return exchange(setup, setup_answer_, deadline, "open the token");
}

Result<ReadyMessage> HelperConnection::reconfigure(const ReconfigureMessage& change,
                                                  Clock::time_point deadline) {
  {
    std::lock_guard lock(mutex_);
    reconfiguring_ = true;
    reconfigure_answer_.reset();
  }
  auto answer = exchange(change, reconfigure_answer_, deadline, "take the new configuration");
  std::lock_guard lock(mutex_);
  reconfiguring_ = false;
  reconfigure_answer_.reset();
  return answer;
}

Result<ReadyMessage> HelperConnection::exchange(const Message& message,
                                               std::optional<Result<ReadyMessage>>& answer,
                                               Clock::time_point deadline, const std::string& doing) {
  Status sent;
  {
    std::lock_guard lock(write_mutex_);
    sent = write_frame(fd_.get(), message);
  }
  if (!sent) kill("the connection to it failed: " + sent.error().message);
  std::unique_lock lock(mutex_);
  cv_.wait_until(lock, deadline, [&] { return answer.has_value() || !alive_; });
  if (answer) return *answer;
  const bool timed_out = alive_;
  lock.unlock();
  if (timed_out) kill("did not " + doing + " in time");
  lock.lock();
  cv_.wait(lock, [&] { return !alive_; });
  return make_error(ErrorCode::hsm_error, "the signer helper " +
                                              (kill_reason_.empty() ? death_reason_ : kill_reason_) +
                                              " before it was ready");
}

Result<Bytes> HelperConnection::sign(std::uint32_t key_index, JwsAlg alg, std::string_view input,
                                     Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  const std::uint64_t id = send(SignMessage{0, key_index, alg, std::string(input)}, true);
  if (id == 0) return gone(death_reason());
  std::unique_lock lock(mutex_);
  cv_.wait_until(lock, deadline, [&] { return pending_[id].done || !alive_; });
  Pending& pending = pending_[id];
  if (pending.done) {
    Result<Bytes> out = std::move(*pending.signature);
    pending_.erase(id);
    return out;
  }
  pending_.erase(id);
  const bool timed_out = alive_;
  lock.unlock();
  if (timed_out) kill("did not answer a signature within " + seconds_text(timeout));
  return gone(death_reason());
}

std::optional<std::vector<SignerInfo>> HelperConnection::info(Clock::time_point deadline) {
  const std::uint64_t id = send(InfoMessage{0}, false);
  if (id == 0) return std::nullopt;
  std::unique_lock lock(mutex_);
  cv_.wait_until(lock, deadline, [&] { return pending_[id].done || !alive_; });
  Pending& pending = pending_[id];
  if (!pending.done) {
    pending.abandoned = true;  // a late answer is dropped, not a protocol error
    return std::nullopt;
  }
  auto out = std::move(pending.info);
  pending_.erase(id);
  return out;
}

}  // namespace mpa::signer_helper

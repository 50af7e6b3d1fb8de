#include "agent/signer/signer_supervisor.h"

#include <algorithm>

namespace mpa::signer {
namespace {

// How long a helper asked to stop (EOF) may take before it is killed.
constexpr std::chrono::seconds kStopGrace{2};

// The Signer the engine sees for one key of a helper.
class RemoteSigner final : public Signer {
 public:
  RemoteSigner(std::shared_ptr<SignerSupervisor> supervisor, std::size_t index)
      : supervisor_(std::move(supervisor)), index_(index) {}

  Result<Bytes> sign(JwsAlg alg, std::string_view data) override {
    return supervisor_->sign(index_, alg, data);
  }
  const std::vector<Bytes>& certificate_chain() const override {
    return supervisor_->certificate_chain(index_);
  }
  SignerInfo info() const override { return supervisor_->info(index_); }

 private:
  const std::shared_ptr<SignerSupervisor> supervisor_;
  const std::size_t index_;
};

std::int64_t seconds_until(Clock::time_point when) {
  const auto left = when - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  return std::chrono::ceil<std::chrono::seconds>(left).count();
}

}  // namespace

SignerSupervisor::SignerSupervisor(SupervisorOptions options)
    : options_(std::move(options)),
      backoff_(options_.first_backoff),
      slots_(static_cast<std::ptrdiff_t>(std::clamp<std::uint32_t>(options_.setup.max_concurrent_signatures, 1, 256))) {}

Result<std::shared_ptr<SignerSupervisor>> SignerSupervisor::start(SupervisorOptions options,
                                                                  SetupFailure* failure) {
  if (!options.launch) options.launch = [] { return launch_helper_process(); };
  std::shared_ptr<SignerSupervisor> s(new SignerSupervisor(std::move(options)));
  // Helpers are started from this thread: PR_SET_PDEATHSIG follows the
  // thread that started them, and this one lives as long as they should.
  s->thread_ = std::thread([raw = s.get()] { raw->supervise(); });
  std::unique_lock lock(s->mutex_);
  s->cv_.wait(lock, [&] { return s->first_attempt_done_; });
  if (s->first_failure_) {
    const FailedMessage failed = *s->first_failure_;
    lock.unlock();
    if (failure != nullptr) *failure = failed.failure;
    return make_error(failed.code, failed.message,
                      failed.failure == SetupFailure::pin_refused ? ErrorReason::pin_refused
                                                                  : ErrorReason::none);
  }
  return s;
}

SignerSupervisor::~SignerSupervisor() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<Signer> SignerSupervisor::signer(std::size_t index) {
  return std::make_shared<RemoteSigner>(shared_from_this(), index);
}

void SignerSupervisor::supervise() {
  const std::optional<FailedMessage> first = start_helper();
  std::unique_lock lock(mutex_);
  first_attempt_done_ = true;
  first_failure_ = first;
  cv_.notify_all();
  while (!first && !stopping_) {
    cv_.wait(lock, [&] { return stopping_ || retired_ || (!helper_ && !pin_refused_); });
    if (retired_) {
      auto dead = std::move(retired_);
      lock.unlock();
      dead.reset();  // joins its reader; never under our lock
      lock.lock();
      continue;
    }
    if (stopping_) break;
    if (cv_.wait_until(lock, next_try_, [&] { return stopping_; })) break;
    lock.unlock();
    const std::optional<FailedMessage> failed = start_helper();
    lock.lock();
    if (!failed) continue;
    down_reason_ = failed->message;
    if (failed->failure == SetupFailure::pin_refused) {
      pin_refused_ = true;
    } else {
      next_try_ = Clock::now() + backoff_;
      backoff_ = std::min(backoff_ * 2, options_.max_backoff);
    }
    if (options_.warn) options_.warn(down_error_locked().message);
  }
  auto last = std::move(helper_);
  auto dead = std::move(retired_);
  lock.unlock();
  if (last) last->stop(kStopGrace);
}

std::optional<FailedMessage> SignerSupervisor::start_helper() {
  auto child = options_.launch();
  if (!child) return FailedMessage{SetupFailure::other, child.error().code, child.error().message};
  const pid_t pid = child->pid;
  {
    std::lock_guard lock(mutex_);
    ++starts_;
  }
  auto connection = HelperConnection::start(std::move(*child), [this, pid] {
    std::lock_guard lock(mutex_);
    if (helper_ && helper_->pid() == pid) note_death_locked(pid, helper_->death_reason());
  });
  const auto deadline = Clock::now() + options_.sign_timeout * options_.setup_timeout_factor;
  auto answer = connection->setup(options_.setup, deadline);
  if (auto* failed = std::get_if<FailedMessage>(&answer)) {
    connection->stop(kStopGrace);
    return *failed;
  }
  auto& ready = std::get<ReadyMessage>(answer);
  if (ready.keys.size() != options_.setup.keys.size()) {
    connection->kill("was set up with " + std::to_string(options_.setup.keys.size()) +
                     " keys and answered with " + std::to_string(ready.keys.size()));
    return FailedMessage{SetupFailure::other, ErrorCode::internal,
                         "the signer helper " + connection->death_reason()};
  }
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < ready.keys.size(); ++i) {
    if (!first_attempt_done_) {
      chains_.push_back(ready.keys[i].chain);
    } else if (ready.keys[i].chain != chains_[i]) {
      // The engine built its grants' x5c from the first chain.
      connection->kill("found another certificate chain than at start");
      return FailedMessage{SetupFailure::other, ErrorCode::hsm_error,
                           "the token now holds another certificate for " +
                               options_.setup.keys[i].key_uri +
                               " than at start; restart the agent to use it"};
    }
  }
  last_info_.clear();
  for (const KeyReady& key : ready.keys) last_info_.push_back(key.info);
  helper_ = std::move(connection);
  down_reason_.clear();
  return std::nullopt;
}

void SignerSupervisor::note_death_locked(pid_t pid, const std::string& why) {
  if (!helper_ || helper_->pid() != pid) return;
  retired_ = std::move(helper_);
  down_reason_ = "the helper " + why;
  next_try_ = Clock::now() + backoff_;
  backoff_ = std::min(backoff_ * 2, options_.max_backoff);
  if (options_.warn) options_.warn(down_error_locked().message);
  cv_.notify_all();
}

void SignerSupervisor::note_death(const std::shared_ptr<HelperConnection>& which) {
  std::lock_guard lock(mutex_);
  note_death_locked(which->pid(), which->death_reason());
}

Result<Bytes> SignerSupervisor::sign(std::size_t index, JwsAlg alg, std::string_view data) {
  std::shared_ptr<HelperConnection> helper;
  {
    std::lock_guard lock(mutex_);
    if (!helper_) return down_error_locked();
    helper = helper_;
  }
  if (!slots_.try_acquire_for(options_.sign_timeout)) {
    return make_error(ErrorCode::hsm_error,
                      "the token is busy: " + std::to_string(options_.setup.max_concurrent_signatures) +
                          " signature(s) (max_concurrent_signatures) stayed in flight for " +
                          std::to_string(options_.sign_timeout.count()) + " ms");
  }
  auto signature = helper->sign(static_cast<std::uint32_t>(index), alg, data, options_.sign_timeout);
  slots_.release();
  if (signature) {
    std::lock_guard lock(mutex_);
    backoff_ = options_.first_backoff;
    return signature;
  }
  if (helper->death_reason().empty()) return signature;  // the helper said no; it lives on
  std::lock_guard lock(mutex_);
  note_death_locked(helper->pid(), helper->death_reason());
  if (helper_ == nullptr) return down_error_locked();
  return signature;
}

SignerInfo SignerSupervisor::info(std::size_t index) const {
  std::shared_ptr<HelperConnection> helper;
  {
    std::lock_guard lock(mutex_);
    if (!helper_) return down_info_locked(index);
    helper = helper_;
  }
  auto fresh = helper->info(Clock::now() + options_.info_wait);
  std::lock_guard lock(mutex_);
  if (fresh && fresh->size() == last_info_.size()) last_info_ = std::move(*fresh);
  if (!helper_) return down_info_locked(index);
  return last_info_.at(index);
}

Error SignerSupervisor::down_error_locked() const {
  if (pin_refused_) {
    return make_error(ErrorCode::hsm_error,
                      "signer stopped: " + down_reason_ +
                          "; it is not started again until the PIN is corrected (then reload or "
                          "restart the agent)");
  }
  return make_error(ErrorCode::hsm_error, "signer restarting: " + down_reason_ + ", next try in " +
                                              std::to_string(seconds_until(next_try_)) + " s");
}

SignerInfo SignerSupervisor::down_info_locked(std::size_t index) const {
  SignerInfo out = last_info_.at(index);
  out.token_present = false;
  out.logged_in = false;
  out.last_error = down_error_locked().message;
  return out;
}

bool SignerSupervisor::logged_in() const {
  for (std::size_t i = 0; i < key_count(); ++i) {
    if (!info(i).logged_in) return false;
  }
  return true;
}

int SignerSupervisor::starts() const {
  std::lock_guard lock(mutex_);
  return starts_;
}

pid_t SignerSupervisor::helper_pid() const {
  std::lock_guard lock(mutex_);
  return helper_ ? helper_->pid() : -1;
}

}  // namespace mpa::signer

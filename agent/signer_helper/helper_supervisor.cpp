#include "agent/signer_helper/helper_supervisor.h"

#include <algorithm>

#include "agent/metrics/agent_metrics.h"
#include "agent/signer_helper/helper_grant_signer.h"

namespace mpa::signer_helper {
namespace {

// How long a helper asked to stop (EOF) may take before it is killed.
constexpr std::chrono::seconds kStopGrace{2};

bool same_key(const KeySetup& a, const KeySetup& b) {
  return a.key_uri == b.key_uri && a.chain_file == b.chain_file;
}

template <class T>
void add_once(std::vector<T>& list, const T& item) {
  if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(item);
}

bool same_policy(const SigningPolicy& a, const SigningPolicy& b) {
  return a.algs == b.algs && a.audiences == b.audiences;
}

SigningPolicy policy_of(const SetupMessage& setup) { return {setup.allowed_algs, setup.allowed_audiences}; }

std::int64_t seconds_until(Clock::time_point when) {
  const auto left = when - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  return std::chrono::ceil<std::chrono::seconds>(left).count();
}

}  // namespace

HelperSupervisor::HelperSupervisor(SupervisorOptions options)
    : options_(std::move(options)),
      setup_(options_.setup),
      applied_(policy_of(options_.setup)),
      backoff_(options_.first_backoff),
      slots_(static_cast<std::ptrdiff_t>(std::clamp<std::uint32_t>(options_.setup.max_concurrent_signatures, 1, 256))) {}

Result<std::shared_ptr<HelperSupervisor>> HelperSupervisor::start(SupervisorOptions options) {
  if (!options.launch) options.launch = [] { return launch_helper_process(); };
  std::shared_ptr<HelperSupervisor> s(new HelperSupervisor(std::move(options)));
  // Helpers are started from this thread: PR_SET_PDEATHSIG follows the
  // thread that started them, and this one lives as long as they should.
  s->thread_ = std::thread([raw = s.get()] { raw->supervise(); });
  std::unique_lock lock(s->mutex_);
  s->cv_.wait(lock, [&] { return s->first_attempt_done_; });
  if (s->first_failure_) return *s->first_failure_;
  return s;
}

HelperSupervisor::~HelperSupervisor() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<std::vector<std::shared_ptr<GrantSigner>>> HelperSupervisor::signers_for(
    const std::vector<KeySetup>& keys, const SigningPolicy& policy) {
  std::lock_guard one_at_a_time(reconfigure_mutex_);
  std::unique_lock lock(mutex_);
  ReconfigureMessage change{setup_.keys, {}, {}};
  for (const KeySetup& key : keys) {
    if (std::none_of(change.keys.begin(), change.keys.end(), [&](const KeySetup& k) { return same_key(k, key); })) {
      change.keys.push_back(key);
    }
  }
  if (change.keys.size() > kMaxKeys) {
    return make_error(ErrorCode::invalid_config,
                      "the signer helper would hold more than " + std::to_string(kMaxKeys) +
                          " keys of this token; restart the agent to drop keys no longer configured");
  }
  const std::uint64_t generation = next_generation_++;
  SigningPolicy wanted = live_.empty() ? SigningPolicy{} : wanted_policy_locked();
  for (JwsAlg alg : policy.algs) add_once(wanted.algs, alg);
  for (const std::string& aud : policy.audiences) add_once(wanted.audiences, aud);
  if (change.keys.size() != setup_.keys.size() || !same_policy(wanted, applied_)) {
    MPA_RETURN_IF_ERROR(reconfigure_locked(lock, std::move(change), wanted));
  }
  live_[generation] = policy;
  const SigningPolicy now_wanted = wanted_policy_locked();
  setup_.allowed_algs = now_wanted.algs;
  setup_.allowed_audiences = now_wanted.audiences;
  if (policy_due_locked()) cv_.notify_all();  // a release came meanwhile

  auto lease = std::make_shared<GenerationLease>(shared_from_this(), generation);
  std::vector<std::shared_ptr<GrantSigner>> out;
  for (const KeySetup& key : keys) {
    const auto at = std::find_if(setup_.keys.begin(), setup_.keys.end(), [&](const KeySetup& k) { return same_key(k, key); });
    const auto index = static_cast<std::size_t>(at - setup_.keys.begin());
    out.push_back(std::make_shared<HelperGrantSigner>(shared_from_this(), index, chains_.at(index), lease));
  }
  return out;
}

Status HelperSupervisor::reconfigure_locked(std::unique_lock<std::mutex>& lock, ReconfigureMessage change,
                                            const SigningPolicy& wanted) {
  if (!helper_) {
    return make_error(ErrorCode::hsm_error, down_error_locked().message +
                                                "; the new configuration needs it running");
  }
  auto helper = helper_;
  change.allowed_algs = wanted.algs;
  change.allowed_audiences = wanted.audiences;
  lock.unlock();
  auto answer = helper->reconfigure(change, Clock::now() + options_.sign_timeout * options_.setup_timeout_factor);
  lock.lock();
  // The helper's words, without a setup failure's kind: its login stands.
  if (!answer) return make_error(answer.error().code, answer.error().message);
  if (helper_ != helper) {
    return make_error(ErrorCode::hsm_error, "the signer helper restarted during the reload; reload again");
  }
  if (auto taken = take_ready_locked(*answer, change.keys, *helper); !taken) {
    return make_error(taken.error().code, taken.error().message);
  }
  setup_.keys = change.keys;
  applied_ = wanted;
  return {};
}

bool HelperSupervisor::has_key(const KeySetup& key) const {
  std::lock_guard lock(mutex_);
  return std::any_of(setup_.keys.begin(), setup_.keys.end(), [&](const KeySetup& k) { return same_key(k, key); });
}

SigningPolicy HelperSupervisor::wanted_policy_locked() const {
  if (live_.empty()) return policy_of(setup_);
  SigningPolicy out;
  for (const auto& [generation, policy] : live_) {
    for (JwsAlg alg : policy.algs) add_once(out.algs, alg);
    for (const std::string& aud : policy.audiences) add_once(out.audiences, aud);
  }
  return out;
}

bool HelperSupervisor::policy_due_locked() const {
  return helper_ && !same_policy(policy_of(setup_), applied_);
}

void HelperSupervisor::release(std::uint64_t generation) {
  std::lock_guard lock(mutex_);
  live_.erase(generation);
  if (live_.empty()) return;  // the supervisor goes with its last signer
  const SigningPolicy wanted = wanted_policy_locked();
  setup_.allowed_algs = wanted.algs;
  setup_.allowed_audiences = wanted.audiences;
  if (policy_due_locked()) cv_.notify_all();
}

void HelperSupervisor::apply_policy() {
  std::lock_guard one_at_a_time(reconfigure_mutex_);
  std::unique_lock lock(mutex_);
  if (!policy_due_locked() || stopping_) return;
  auto helper = helper_;
  const ReconfigureMessage change{setup_.keys, setup_.allowed_algs, setup_.allowed_audiences};
  lock.unlock();
  auto answer = helper->reconfigure(change, Clock::now() + options_.sign_timeout * options_.setup_timeout_factor);
  lock.lock();
  if (answer) {
    applied_ = SigningPolicy{change.allowed_algs, change.allowed_audiences};
    return;
  }
  // Only the policy changed, which cannot fail: a helper that says it
  // did is not trusted with the wider one; a new one starts with setup_.
  lock.unlock();
  helper->kill("did not take the narrower signing policy: " + answer.error().message);
}

void HelperSupervisor::supervise() {
  const Status first = start_helper();
  std::unique_lock lock(mutex_);
  first_attempt_done_ = true;
  if (!first) first_failure_ = first.error();
  cv_.notify_all();
  while (first && !stopping_) {
    cv_.wait(lock, [&] {
      return stopping_ || retired_ || (!helper_ && !pin_refused_) || policy_due_locked();
    });
    if (stopping_) break;
    if (helper_ && policy_due_locked()) {
      lock.unlock();
      apply_policy();
      lock.lock();
      continue;
    }
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
    metrics::agent_metrics().signer_restarts.increment();
    const Status started = start_helper();
    lock.lock();
    if (started) continue;
    down_reason_ = started.error().message;
    if (started.error().reason == ErrorReason::pin_refused) {
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

Status HelperSupervisor::start_helper() {
  auto child = options_.launch();
  if (!child) return make_error(child.error().code, child.error().message);
  const pid_t pid = child->pid;
  auto connection = HelperConnection::start(std::move(*child), [this, pid] {
    std::lock_guard lock(mutex_);
    if (helper_ && helper_->pid() == pid) note_death_locked(pid, helper_->death_reason());
  });
  SetupMessage setup;
  {
    std::lock_guard lock(mutex_);
    setup = setup_;
  }
  const auto deadline = Clock::now() + options_.sign_timeout * options_.setup_timeout_factor;
  auto answer = connection->setup(setup, deadline);
  if (!answer) {
    connection->stop(kStopGrace);
    return std::move(answer).error();
  }
  std::lock_guard lock(mutex_);
  MPA_RETURN_IF_ERROR(take_ready_locked(*answer, setup.keys, *connection));
  applied_ = policy_of(setup);
  helper_ = std::move(connection);
  down_reason_.clear();
  return {};
}

Status HelperSupervisor::take_ready_locked(const ReadyMessage& ready, const std::vector<KeySetup>& keys,
                                           HelperConnection& from) {
  if (ready.keys.size() != keys.size()) {
    from.kill("was asked for " + std::to_string(keys.size()) + " keys and answered with " +
              std::to_string(ready.keys.size()));
    return make_error(ErrorCode::internal, "the signer helper " + from.death_reason());
  }
  for (std::size_t i = 0; i < chains_.size() && i < keys.size(); ++i) {
    if (ready.keys[i].chain == chains_[i]) continue;
    // The engine built its grants' x5c from the first chain.
    from.kill("found another certificate chain than at start");
    return make_error(ErrorCode::hsm_error, "the token now holds another certificate for " +
                                                keys[i].key_uri + " than at start; restart the agent to use it");
  }
  for (std::size_t i = chains_.size(); i < keys.size(); ++i) chains_.push_back(ready.keys[i].chain);
  last_info_.clear();
  for (const KeyReady& key : ready.keys) last_info_.push_back(key.info);
  return {};
}

void HelperSupervisor::note_death_locked(pid_t pid, const std::string& why) {
  if (!helper_ || helper_->pid() != pid) return;
  retired_ = std::move(helper_);
  down_reason_ = "the helper " + why;
  next_try_ = Clock::now() + backoff_;
  backoff_ = std::min(backoff_ * 2, options_.max_backoff);
  if (options_.warn) options_.warn(down_error_locked().message);
  cv_.notify_all();
}

void HelperSupervisor::note_death(const std::shared_ptr<HelperConnection>& which) {
  std::lock_guard lock(mutex_);
  note_death_locked(which->pid(), which->death_reason());
}

Result<Bytes> HelperSupervisor::sign(std::size_t index, JwsAlg alg, std::string_view data) {
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

SignerInfo HelperSupervisor::info(std::size_t index) const {
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

Error HelperSupervisor::down_error_locked() const {
  if (pin_refused_) {
    return make_error(ErrorCode::hsm_error,
                      "signer stopped: " + down_reason_ +
                          "; it is not started again until the PIN is corrected (then reload or "
                          "restart the agent)");
  }
  return make_error(ErrorCode::hsm_error, "signer restarting: " + down_reason_ + ", next try in " +
                                              std::to_string(seconds_until(next_try_)) + " s");
}

SignerInfo HelperSupervisor::down_info_locked(std::size_t index) const {
  SignerInfo out = last_info_.at(index);
  out.token_present = false;
  out.logged_in = false;
  out.last_error = down_error_locked().message;
  return out;
}

bool HelperSupervisor::logged_in() const {
  std::size_t keys = 0;
  {
    std::lock_guard lock(mutex_);
    keys = last_info_.size();
  }
  for (std::size_t i = 0; i < keys; ++i) {
    if (!info(i).logged_in) return false;
  }
  return true;
}

pid_t HelperSupervisor::helper_pid() const {
  std::lock_guard lock(mutex_);
  return helper_ ? helper_->pid() : -1;
}

}  // namespace mpa::signer_helper

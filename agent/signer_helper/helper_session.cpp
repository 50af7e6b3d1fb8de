#include "agent/signer_helper/helper_process.h"

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/signer_helper/helper_token.h"
#include "agent/signer_helper/signing_policy.h"
#include "agent/signer_helper/wire.h"
#include "common/log.h"

namespace mpa::signer_helper {
namespace {

// Signatures waiting for a worker; the agent keeps at most its
// max_concurrent_signatures in flight, so more is an agent gone wrong.
constexpr std::size_t kMaxQueuedSignatures = 1024;

std::int64_t now_seconds() { return static_cast<std::int64_t>(std::time(nullptr)); }

// What one configuration has the helper sign: its keys (those of earlier
// configurations first, in their places) and its policy. Replaced whole by
// a reconfigure; a signature in flight keeps the one it started with.
struct Served {
  std::vector<KeySetup> keys;
  std::vector<std::shared_ptr<GrantSigner>> signers;  // in the order of keys
  SigningPolicy policy;
};

// One helper's state after setup: the opened token, what it serves and the
// workers that sign. The reader (run()) checks the policy itself, so a
// refusal never waits behind the token.
class HelperSession final {
 public:
  HelperSession(int fd, OpenedToken token, Served served, std::size_t workers)
      : fd_(fd), token_(std::move(token.token)), served_(std::make_shared<const Served>(std::move(served))) {
    for (std::size_t i = 0; i < workers; ++i) workers_.emplace_back([this] { work(); });
  }
  // Workers hold `this`.
  HelperSession(const HelperSession&) = delete;
  HelperSession& operator=(const HelperSession&) = delete;
  ~HelperSession() {
    {
      std::lock_guard lock(queue_mutex_);
      stopping_ = true;
    }
    queue_cv_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }

  int run() {
    for (;;) {
      auto frame = read_frame(fd_);
      if (!frame) {
        log::error("signer helper: " + frame.error().message);
        return kHelperExitProtocol;
      }
      if (!frame->has_value()) return kHelperExitOk;
      Message& message = **frame;
      if (auto* sign = std::get_if<SignMessage>(&message)) {
        accept(std::move(*sign));
      } else if (auto* info = std::get_if<InfoMessage>(&message)) {
        answer_info(info->id);
      } else if (auto* change = std::get_if<ReconfigureMessage>(&message)) {
        reconfigure(std::move(*change));
      } else {
        log::error("signer helper: the agent sent a message that only the helper sends");
        return kHelperExitProtocol;
      }
      if (write_failed_) return kHelperExitProtocol;
    }
  }

 private:
  std::shared_ptr<const Served> served() const {
    std::lock_guard lock(served_mutex_);
    return served_;
  }

  void accept(SignMessage sign) {
    const auto now_served = served();
    if (sign.key_index >= now_served->signers.size()) {
      return reply(SignErrorMessage{sign.id, ErrorCode::internal,
                                    "key index " + std::to_string(sign.key_index) + " is not set up"});
    }
    if (auto allowed = check_signing_input(now_served->policy, sign.alg, sign.signing_input, now_seconds());
        !allowed) {
      log::warning("signer helper: " + allowed.error().message);
      return reply(SignErrorMessage{sign.id, allowed.error().code, allowed.error().message});
    }
    std::shared_ptr<GrantSigner> signer = now_served->signers[sign.key_index];
    std::unique_lock lock(queue_mutex_);
    if (queue_.size() >= kMaxQueuedSignatures) {
      lock.unlock();
      return reply(SignErrorMessage{sign.id, ErrorCode::hsm_error, "the signer is busy"});
    }
    queue_.push_back(Queued{std::move(sign), std::move(signer)});
    lock.unlock();
    queue_cv_.notify_one();
  }

  // The keys the helper has keep their places; new ones are looked up on
  // the token, logged in already. Nothing changes unless all of it works.
  void reconfigure(ReconfigureMessage change) {
    const auto old = served();
    const auto& keys = change.keys;
    const bool keeps_places = keys.size() >= old->keys.size() &&
                              std::equal(old->keys.begin(), old->keys.end(), keys.begin(), same_key);
    if (!keeps_places || keys.empty()) {
      return reply(FailedMessage{SetupFailure::other, ErrorCode::internal,
                                 "signer wire: a reconfigure must keep the keys set up, in their order"});
    }
    const std::vector<KeySetup> added(keys.begin() + static_cast<std::ptrdiff_t>(old->keys.size()), keys.end());
    auto found = find_helper_keys(*token_, added);
    if (!found) return reply(failed_message(found.error()));
    auto next = std::make_shared<Served>(*old);
    for (auto& signer : *found) next->signers.push_back(std::move(signer));
    next->keys = std::move(change.keys);
    next->policy = SigningPolicy{std::move(change.allowed_algs), std::move(change.allowed_audiences)};
    ReadyMessage ready;
    for (const auto& signer : next->signers) {
      ready.keys.push_back(KeyReady{signer->certificate_chain(), signer->info()});
    }
    {
      std::lock_guard lock(served_mutex_);
      served_ = std::move(next);
    }
    reply(std::move(ready));
  }

  static bool same_key(const KeySetup& a, const KeySetup& b) {
    return a.key_uri == b.key_uri && a.chain_file == b.chain_file;
  }

  void work() {
    for (;;) {
      std::unique_lock lock(queue_mutex_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      Queued queued = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      const SignMessage& sign = queued.sign;
      auto signature = queued.signer->sign(sign.alg, sign.signing_input);
      if (signature) {
        reply(SignatureMessage{sign.id, std::move(*signature)});
      } else {
        reply(SignErrorMessage{sign.id, signature.error().code, signature.error().message});
      }
    }
  }

  void answer_info(std::uint64_t id) {
    InfoReplyMessage out{id, {}};
    for (const auto& signer : served()->signers) out.keys.push_back(signer->info());
    reply(std::move(out));
  }

  void reply(Message message) {
    std::lock_guard lock(write_mutex_);
    if (write_failed_) return;
    if (auto sent = write_frame(fd_, message); !sent) {
      log::error("signer helper: " + sent.error().message);
      write_failed_ = true;
      ::shutdown(fd_, SHUT_RD);  // wakes the reader, which then exits
    }
  }

  struct Queued {
    SignMessage sign;
    std::shared_ptr<GrantSigner> signer;
  };

  const int fd_;
  const std::shared_ptr<pkcs11::Pkcs11Token> token_;
  mutable std::mutex served_mutex_;
  std::shared_ptr<const Served> served_;

  std::mutex write_mutex_;
  std::atomic<bool> write_failed_{false};  // set under write_mutex_; read by run()

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<Queued> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

Result<SetupMessage> read_setup(int fd) {
  auto frame = read_frame(fd);
  if (!frame) return std::move(frame).error();
  if (!frame->has_value()) return make_error(ErrorCode::internal, "the agent closed before setup");
  auto* setup = std::get_if<SetupMessage>(&**frame);
  if (setup == nullptr) return make_error(ErrorCode::internal, "signer wire: the first message is not setup");
  if (setup->keys.empty()) return make_error(ErrorCode::internal, "signer wire: setup names no key");
  return std::move(*setup);
}

}  // namespace

int run_signer_helper(int fd) {
  if (!harden_helper_process(fd)) {
    log::error(std::string("signer helper: cannot harden the process: ") + std::strerror(errno));
    return kHelperExitSetupFailed;
  }
  auto setup = read_setup(fd);
  if (!setup) {
    log::error("signer helper: " + setup.error().message);
    return kHelperExitProtocol;
  }
  auto outcome = open_helper_token(*setup);
  if (!outcome) {
    // The agent reports it, in its own words and context.
    (void)write_frame(fd, failed_message(outcome.error()));
    return outcome.error().reason == ErrorReason::pin_refused ? kHelperExitPinRefused
                                                               : kHelperExitSetupFailed;
  }
  auto& opened = *outcome;
  ReadyMessage ready;
  for (const auto& signer : opened.signers) {
    ready.keys.push_back(KeyReady{signer->certificate_chain(), signer->info()});
  }
  if (auto sent = write_frame(fd, ready); !sent) {
    log::error("signer helper: " + sent.error().message);
    return kHelperExitProtocol;
  }
  Served served{setup->keys, opened.signers, SigningPolicy{setup->allowed_algs, setup->allowed_audiences}};
  HelperSession session(fd, std::move(opened), std::move(served), setup->max_concurrent_signatures);
  return session.run();
}

}  // namespace mpa::signer_helper

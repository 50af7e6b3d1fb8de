// The agent's side of one signer helper (one token): starts it, gives its
// keys out as Signers, and keeps it running. A helper that misses a
// deadline or dies is killed and started again after a back-off that
// doubles from first_backoff to max_backoff (reset by a good signature).
// While it is down, sign() answers at once with hsm_error "signer
// restarting: WHY, next try in N s" and info() says the same; never a hang.
// A helper whose token refused the PIN is not started again.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include "agent/signer/helper_connection.h"
#include "agent/signer/helper_launch.h"
#include "agent/signer/wire.h"
#include "common/result.h"
#include "common/signer.h"

namespace mpa::signer {

struct SupervisorOptions {
  SetupMessage setup;
  std::chrono::milliseconds sign_timeout{10'000};
  // Opening the module and logging in may take a card longer than a
  // signature: this many sign timeouts.
  int setup_timeout_factor = 3;
  std::chrono::milliseconds first_backoff{1'000};
  std::chrono::milliseconds max_backoff{60'000};
  // How long status waits for the helper's own words before it answers
  // with the last it heard.
  std::chrono::milliseconds info_wait{500};
  HelperLauncher launch;                         // default: launch_helper_process()
  std::function<void(const std::string&)> warn;  // operator log lines
};

class SignerSupervisor final : public std::enable_shared_from_this<SignerSupervisor> {
 public:
  // Starts the helper and waits until it is ready (or failed): a helper
  // that cannot open the token at start is an error, not a restart.
  // Errors: the helper's own (hsm_error, invalid_config...); `failure`, if
  // given, says what kind.
  static Result<std::shared_ptr<SignerSupervisor>> start(SupervisorOptions options,
                                                         SetupFailure* failure = nullptr);

  // Owns a thread that uses `this`.
  SignerSupervisor(const SignerSupervisor&) = delete;
  SignerSupervisor& operator=(const SignerSupervisor&) = delete;
  // Stops the helper (EOF, then SIGKILL after a grace) and the thread.
  ~SignerSupervisor();

  std::size_t key_count() const { return chains_.size(); }
  // The Signer of setup.keys[index]; it keeps this supervisor alive.
  std::shared_ptr<Signer> signer(std::size_t index);

  Result<Bytes> sign(std::size_t index, JwsAlg alg, std::string_view data);
  const std::vector<Bytes>& certificate_chain(std::size_t index) const { return chains_.at(index); }
  SignerInfo info(std::size_t index) const;

  // Whether the helper runs and every key's token is logged in, asked of
  // the helper now. A reload keeps only such a helper: one that lost its
  // login (a refused PIN after reinsertion) is replaced, as the operator
  // who reloads asks for.
  bool logged_in() const;

  // How many helpers have been started (the first included), for tests and
  // status.
  int starts() const;
  pid_t helper_pid() const;

 private:
  explicit SignerSupervisor(SupervisorOptions options);
  void supervise();
  // One start of the helper, on the supervisor thread.
  std::optional<FailedMessage> start_helper();
  // Marks `which` dead (once; later calls for it do nothing) and schedules
  // the next start.
  void note_death(const std::shared_ptr<HelperConnection>& which);
  void note_death_locked(pid_t pid, const std::string& why);
  Error down_error_locked() const;
  SignerInfo down_info_locked(std::size_t index) const;

  const SupervisorOptions options_;
  std::vector<std::vector<Bytes>> chains_;  // per key, from the first ready; later helpers must agree

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::shared_ptr<HelperConnection> helper_;  // null while down
  std::shared_ptr<HelperConnection> retired_;       // dead, destroyed on the thread
  mutable std::vector<SignerInfo> last_info_;  // refreshed by info()
  std::string down_reason_;
  Clock::time_point next_try_{};
  std::chrono::milliseconds backoff_;
  bool first_attempt_done_ = false;
  std::optional<FailedMessage> first_failure_;
  bool pin_refused_ = false;  // never started again
  bool stopping_ = false;
  int starts_ = 0;

  std::counting_semaphore<256> slots_;
  std::thread thread_;
};

}  // namespace mpa::signer

// The agent's side of one signer helper (one token): starts it, gives its
// keys out as GrantSigners (HelperGrantSigner), and keeps it running. A helper that misses a
// deadline or dies is killed and started again after a back-off that
// doubles from first_backoff to max_backoff (reset by a good signature).
// While it is down, sign() answers at once with hsm_error "signer
// restarting: WHY, next try in N s" and info() says the same; never a hang.
// A helper whose token refused the PIN is not started again.
//
// A reload hands a running helper the keys and signing policy of the new
// configuration (signers_for): no new login. The helper signs for every
// configuration whose signers are still alive (the old one serves until
// the switch); once the old one's signers are gone, its policy is taken
// back from the helper.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include "agent/signer_helper/helper_connection.h"
#include "agent/signer_helper/helper_launch.h"
#include "agent/signer_helper/signing_policy.h"
#include "agent/signer_helper/wire.h"
#include "common/grant_signer.h"
#include "common/result.h"

namespace mpa::signer_helper {

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

class GenerationLease;

class HelperSupervisor final : public std::enable_shared_from_this<HelperSupervisor> {
 public:
  // Starts the helper and waits until it is ready (or failed): a helper
  // that cannot open the token at start is an error, not a restart.
  // Errors: the helper's words; ErrorReason::pin_refused (never retried)
  // or ErrorReason::pin_unreadable (the PIN source, a [pkcs11] setting).
  static Result<std::shared_ptr<HelperSupervisor>> start(SupervisorOptions options);

  // A GrantSigner for each of `keys` (a configuration's keys on this token),
  // signing under `policy` as well as under the policies of every other
  // configuration whose signers live. Keys the helper does not have yet
  // are looked up by it on the logged-in token. Errors: the helper's own
  // words (a key not found...), or the helper is down; then the helper
  // serves as before.
  Result<std::vector<std::shared_ptr<GrantSigner>>> signers_for(const std::vector<KeySetup>& keys,
                                                           const SigningPolicy& policy);

  // Owns a thread that uses `this`.
  HelperSupervisor(const HelperSupervisor&) = delete;
  HelperSupervisor& operator=(const HelperSupervisor&) = delete;
  // Stops the helper (EOF, then SIGKILL after a grace) and the thread.
  ~HelperSupervisor();

  // Whether the helper has `key` already (a reload needs no lookup for it).
  bool has_key(const KeySetup& key) const;

  Result<Bytes> sign(std::size_t index, JwsAlg alg, std::string_view data);
  SignerInfo info(std::size_t index) const;

  // Whether the helper runs and every key's token is logged in, asked of
  // the helper now. A reload keeps only such a helper: one that lost its
  // login (a refused PIN after reinsertion) is replaced, as the operator
  // who reloads asks for.
  bool logged_in() const;

  // The running helper's process id, -1 while it is down.
  pid_t helper_pid() const;

 private:
  explicit HelperSupervisor(SupervisorOptions options);
  void supervise();
  // One start of the helper, on the supervisor thread.
  Status start_helper();
  // Marks `which` dead (once; later calls for it do nothing) and schedules
  // the next start.
  void note_death(const std::shared_ptr<HelperConnection>& which);
  void note_death_locked(pid_t pid, const std::string& why);
  Error down_error_locked() const;
  SignerInfo down_info_locked(std::size_t index) const;
  // Checks a ready against the keys asked for and the chains seen before
  // (the engine built its grants' x5c from those), and takes it in.
  Status take_ready_locked(const ReadyMessage& ready, const std::vector<KeySetup>& keys,
                           HelperConnection& from);
  // Gives the running helper `change` (the keys) under `wanted`, for
  // signers_for(); `lock` holds mutex_ and is let go while the helper works.
  Status reconfigure_locked(std::unique_lock<std::mutex>& lock, ReconfigureMessage change,
                            const SigningPolicy& wanted);
  // The union of the live configurations' policies (the setup's while
  // none has signers yet).
  SigningPolicy wanted_policy_locked() const;
  bool policy_due_locked() const;
  // Gives the running helper wanted_policy_locked(), on the thread.
  void apply_policy();
  void release(std::uint64_t generation);
  friend class GenerationLease;

  const SupervisorOptions options_;
  // Serialises reconfigures (a reload's and the thread's).
  std::mutex reconfigure_mutex_;

  mutable std::mutex mutex_;
  SetupMessage setup_;      // what the next start sends: every key, the wanted policy
  SigningPolicy applied_;   // the policy the running helper has
  std::map<std::uint64_t, SigningPolicy> live_;  // per configuration with live signers
  std::uint64_t next_generation_ = 1;
  std::vector<std::vector<Bytes>> chains_;  // per key, from its first ready; later helpers must agree

  std::condition_variable cv_;
  std::shared_ptr<HelperConnection> helper_;  // null while down
  std::shared_ptr<HelperConnection> retired_;       // dead, destroyed on the thread
  mutable std::vector<SignerInfo> last_info_;  // refreshed by info()
  std::string down_reason_;
  Clock::time_point next_try_{};
  std::chrono::milliseconds backoff_;
  bool first_attempt_done_ = false;
  std::optional<Error> first_failure_;
  bool pin_refused_ = false;  // never started again
  bool stopping_ = false;

  std::counting_semaphore<256> slots_;
  std::thread thread_;
};

}  // namespace mpa::signer_helper

// One running signer helper seen from the agent: the child, the socket, a
// reader thread that matches answers to requests by id. Every wait has a
// deadline; a helper that misses a signature's deadline, breaks the wire
// or answers an id nobody asked for is killed. Private to agent/signer_helper.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/signer_helper/helper_launch.h"
#include "agent/signer_helper/wire.h"

namespace mpa::signer_helper {

using Clock = std::chrono::steady_clock;

class HelperConnection final {
 public:
  // Starts the reader. `on_death` is called once, from the reader thread,
  // after the helper is gone (killed, exited or the wire broke) and reaped.
  static std::shared_ptr<HelperConnection> start(HelperChild child, std::function<void()> on_death);

  // Owns a process, a socket and a thread that uses `this`.
  HelperConnection(const HelperConnection&) = delete;
  HelperConnection& operator=(const HelperConnection&) = delete;
  // Kills the helper if still running and joins the reader.
  ~HelperConnection();

  // Sends setup, waits for ready or failed until `deadline` (then kills).
  // Errors: the helper's failed (error_of: its kind in the reason), or
  // hsm_error when it went away first.
  Result<ReadyMessage> setup(const SetupMessage& setup, Clock::time_point deadline);

  // Sends reconfigure, waits for ready or failed until `deadline` (then
  // kills). One at a time: the caller serialises them. Errors: as setup.
  Result<ReadyMessage> reconfigure(const ReconfigureMessage& change, Clock::time_point deadline);

  // One signature; no answer within `timeout` kills the helper. Errors:
  // whatever the helper said, or hsm_error when it went away (then alive()
  // is false).
  Result<Bytes> sign(std::uint32_t key_index, JwsAlg alg, std::string_view input,
                     Clock::duration timeout);

  // The helper's SignerInfo per key, or nothing by `deadline` (no kill:
  // status must never be the reason a signature is cut short).
  std::optional<std::vector<SignerInfo>> info(Clock::time_point deadline);

  // Ends the helper now with SIGKILL; `why` becomes death_reason().
  void kill(const std::string& why);

  // Closes our end so the helper sees EOF and exits on its own; then waits
  // up to `grace` and kills it if it has not.
  void stop(Clock::duration grace);

  bool alive() const;
  std::string death_reason() const;
  pid_t pid() const { return pid_; }

 private:
  struct Pending {
    bool is_sign = false;
    bool abandoned = false;  // info() gave up waiting; the answer is dropped
    bool done = false;
    std::optional<Result<Bytes>> signature;
    std::optional<std::vector<SignerInfo>> info;
  };

  HelperConnection(HelperChild child, std::function<void()> on_death);
  void read_loop();
  // Returns false when the message breaks the protocol.
  bool deliver(Message message);
  void died(const std::string& why);
  // Numbers and sends a sign or info request; 0 if the send failed (the
  // helper is then killed).
  std::uint64_t send(const Message& message, bool is_sign);

  const pid_t pid_;
  UniqueFd fd_;
  std::function<void()> on_death_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::mutex write_mutex_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, Pending> pending_;
  // Sends `message` (setup or reconfigure) and waits for the ready or
  // failed it gets into `answer`; `doing` words a missed deadline.
  Result<ReadyMessage> exchange(const Message& message, std::optional<Result<ReadyMessage>>& answer,
                                Clock::time_point deadline, const std::string& doing);

  std::optional<Result<ReadyMessage>> setup_answer_;
  bool reconfiguring_ = false;  // a reconfigure waits for its answer
  std::optional<Result<ReadyMessage>> reconfigure_answer_;
  bool alive_ = true;
  bool reaped_ = false;
  std::string kill_reason_;   // set by kill(): why we ended it
  std::string death_reason_;  // once !alive_
  std::thread reader_;
};

}  // namespace mpa::signer_helper

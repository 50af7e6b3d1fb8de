// The grants waiting for one token, made by as many threads as the token
// signs at once ([pkcs11] max_concurrent_signatures; a smartcard is 1),
// earliest deadline first: a refresh whose token is about to expire goes
// before a new key, and a new key (a client waiting now) before refreshes
// that can wait. Signing blocks (the signer helper, the token), so it never
// runs on the HTTP or the socket thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace mpa {

class SignatureQueue {
 public:
  explicit SignatureQueue(std::size_t threads);
  // Stops the threads after the job each is running; queued jobs are run
  // with `cancelled` true, so their callers are answered. May be called
  // from a job.
  ~SignatureQueue();
  // The same, now: after it returns (unless called from one of its own
  // jobs) no thread of this queue runs any more, so a process may exit.
  // Idempotent.
  void shutdown();
  SignatureQueue(const SignatureQueue&) = delete;
  SignatureQueue& operator=(const SignatureQueue&) = delete;

  // `deadline`: epoch milliseconds by which the grant should be signed.
  // Equal deadlines run in submission order.
  using Job = std::function<void(bool cancelled)>;
  void submit(std::int64_t deadline_ms, Job job);

  struct Stats {
    std::size_t threads = 0;
    std::size_t signing = 0;  // jobs running now
    std::size_t queued = 0;
    std::int64_t oldest_wait_ms = 0;  // of the job queued longest, 0 without any
  };
  Stats stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mpa

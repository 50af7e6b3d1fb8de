// Shares a bounded number of slots (workers, or exchanges in flight) among
// the agent's callers, so that one of them (a socket peer asking for many
// uncached tokens while Maskinporten is slow) cannot take them all: each
// owner may run at most `per_owner` jobs at once, all together at most
// `slots`, and queued jobs start in turn, one owner after another (round
// robin), as slots free up. A job says when it is done (submit_async).
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace mpa {

class FairScheduler final : public std::enable_shared_from_this<FairScheduler> {
 public:
  // `run` hands a job to a pool (a worker thread), or runs it at once on
  // the calling thread (run_here: the daemon's jobs only start work).
  // `slots` is the number of jobs running at once; `per_owner` (at least
  // 1, at most `slots`) the share of one owner.
  using Run = std::function<void(std::function<void()> job)>;
  static std::shared_ptr<FairScheduler> create(Run run, std::size_t slots, std::size_t per_owner);
  static Run run_here() {
    return [](std::function<void()> job) { job(); };
  }

  // Starts `job` now if a slot is free and `owner` is below its share,
  // else queues it; jobs of one owner start in the order they were
  // submitted. A job only starts work that finishes later: its slot is
  // free once it has called `release` (exactly once, from any thread; a
  // second call does nothing). `run` may run it on the caller's thread;
  // the scheduler holds no lock while it runs.
  using AsyncJob = std::function<void(std::function<void()> release)>;
  void submit_async(const std::string& owner, AsyncJob job);

  struct Stats {
    std::size_t slots = 0;    // jobs that may run at once
    std::size_t running = 0;
    std::size_t queued = 0;   // waiting for a slot
  };
  Stats stats() const;

 private:
  FairScheduler(Run run, std::size_t slots, std::size_t per_owner);
  struct Start {
    std::string owner;
    AsyncJob job;
  };
  void launch(std::vector<Start> starts);  // without the mutex
  void finished(const std::string& owner);
  void fill_free_slots(std::vector<Start>& starts);  // mutex held by caller
  bool may_start(const std::string& owner) const;

  const Run run_;
  const std::size_t slots_;
  const std::size_t per_owner_;

  mutable std::mutex mutex_;
  std::size_t running_ = 0;
  std::map<std::string, std::size_t> running_by_owner_;
  std::map<std::string, std::deque<AsyncJob>> queued_;
  std::deque<std::string> turns_;  // owners with queued jobs, whose turn is next first
};

}  // namespace mpa

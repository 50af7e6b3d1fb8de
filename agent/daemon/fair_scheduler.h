// Shares a bounded worker pool among the agent's callers, so that one of
// them (a socket peer asking for many uncached tokens while Maskinporten is
// slow) cannot take every worker: each owner may run at most `per_owner`
// jobs at once, the pool at most `slots`, and queued jobs start in turn,
// one owner after another (round robin), as slots free up.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace mpa {

class FairScheduler final : public std::enable_shared_from_this<FairScheduler> {
 public:
  // `run` hands a job to the pool (a worker thread). `slots` is the number
  // of jobs running at once (the pool's threads); `per_owner` (at least 1,
  // at most `slots`) the share of one owner.
  using Run = std::function<void(std::function<void()> job)>;
  static std::shared_ptr<FairScheduler> create(Run run, std::size_t slots, std::size_t per_owner);

  // Runs `job` now if a slot is free and `owner` is below its share, else
  // queues it. Jobs of one owner start in the order they were submitted.
  void submit(const std::string& owner, std::function<void()> job);

  struct Stats {
    std::size_t slots = 0;    // jobs that may run at once
    std::size_t running = 0;
    std::size_t queued = 0;   // waiting for a slot
  };
  Stats stats() const;

 private:
  FairScheduler(Run run, std::size_t slots, std::size_t per_owner);
  void start(const std::string& owner, std::function<void()> job);  // mutex held by caller
  void finished(const std::string& owner);
  bool may_start(const std::string& owner) const;

  const Run run_;
  const std::size_t slots_;
  const std::size_t per_owner_;

  mutable std::mutex mutex_;
  std::size_t running_ = 0;
  std::map<std::string, std::size_t> running_by_owner_;
  std::map<std::string, std::deque<std::function<void()>>> queued_;
  std::deque<std::string> turns_;  // owners with queued jobs, whose turn is next first
};

}  // namespace mpa

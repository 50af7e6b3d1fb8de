#include "agent/cache/fair_scheduler.h"

#include <algorithm>
#include <atomic>
#include <utility>
#include <vector>

namespace mpa {

std::shared_ptr<FairScheduler> FairScheduler::create(Run run, std::size_t slots,
                                                     std::size_t per_owner) {
  return std::shared_ptr<FairScheduler>(new FairScheduler(std::move(run), slots, per_owner));
}

FairScheduler::FairScheduler(Run run, std::size_t slots, std::size_t per_owner)
    : run_(std::move(run)),
      slots_(std::max<std::size_t>(slots, 1)),
      per_owner_(std::clamp<std::size_t>(per_owner, 1, std::max<std::size_t>(slots, 1))) {}

bool FairScheduler::may_start(const std::string& owner) const {
  if (running_ >= slots_) return false;
  const auto it = running_by_owner_.find(owner);
  return it == running_by_owner_.end() || it->second < per_owner_;
}

void FairScheduler::submit_async(const std::string& owner, AsyncJob job) {
  std::vector<Start> starts;
  {
    std::lock_guard lock(mutex_);
    // Behind its own queued jobs, in order; else at once when there is room.
    const auto queue = queued_.find(owner);
    if ((queue == queued_.end() || queue->second.empty()) && may_start(owner)) {
      ++running_;
      ++running_by_owner_[owner];
      starts.push_back(Start{owner, std::move(job)});
    } else {
      auto& jobs = queued_[owner];
      if (jobs.empty()) turns_.push_back(owner);
      jobs.push_back(std::move(job));
    }
  }
  launch(std::move(starts));
}

void FairScheduler::launch(std::vector<Start> starts) {
  for (Start& start : starts) {
    auto released = std::make_shared<std::atomic<bool>>(false);
    std::function<void()> release = [self = shared_from_this(), owner = start.owner, released] {
      if (!released->exchange(true)) self->finished(owner);
    };
    run_([job = std::move(start.job), release = std::move(release)] { job(release); });
  }
}

void FairScheduler::finished(const std::string& owner) {
  std::vector<Start> starts;
  {
    std::lock_guard lock(mutex_);
    --running_;
    if (auto it = running_by_owner_.find(owner);
        it != running_by_owner_.end() && --it->second == 0) {
      running_by_owner_.erase(it);
    }
    fill_free_slots(starts);
  }
  launch(std::move(starts));
}

// The first owner in turn that is below its share starts its oldest job
// and, with more queued, goes to the back.
void FairScheduler::fill_free_slots(std::vector<Start>& starts) {
  for (std::size_t looked = 0; looked < turns_.size() && running_ < slots_;) {
    const std::string next = turns_.front();
    turns_.pop_front();
    if (!may_start(next)) {
      turns_.push_back(next);
      ++looked;
      continue;
    }
    auto it = queued_.find(next);
    AsyncJob job = std::move(it->second.front());
    it->second.pop_front();
    if (it->second.empty()) {
      queued_.erase(it);
    } else {
      turns_.push_back(next);
    }
    ++running_;
    ++running_by_owner_[next];
    starts.push_back(Start{next, std::move(job)});
    looked = 0;
  }
}

FairScheduler::Stats FairScheduler::stats() const {
  std::lock_guard lock(mutex_);
  Stats stats;
  stats.slots = slots_;
  stats.running = running_;
  for (const auto& [owner, jobs] : queued_) stats.queued += jobs.size();
  return stats;
}

}  // namespace mpa

#include "agent/engine/signature_queue.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "common/clock.h"

namespace mpa {
namespace {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Queued {
  SignatureQueue::Job job;
  std::int64_t queued_at_ms = 0;  // steady
};

}  // namespace

struct SignatureQueue::Impl {
  std::mutex mutex;
  std::condition_variable wake;
  // (deadline, sequence) -> job: the first is the earliest deadline.
  std::map<std::pair<std::int64_t, std::uint64_t>, Queued> queue;
  std::uint64_t sequence = 0;
  std::size_t signing = 0;
  std::size_t thread_count = 0;
  bool stopping = false;
  std::vector<std::thread> threads;

  void work() {
    std::unique_lock lock(mutex);
    for (;;) {
      wake.wait(lock, [&] { return stopping || !queue.empty(); });
      if (stopping) return;
      Queued next = std::move(queue.begin()->second);
      queue.erase(queue.begin());
      ++signing;
      lock.unlock();
      next.job(false);
      next.job = nullptr;  // its captures go before the lock is taken again
      lock.lock();
      --signing;
    }
  }

  std::vector<Queued> take_all() {
    std::lock_guard lock(mutex);
    std::vector<Queued> left;
    for (auto& [key, queued] : queue) left.push_back(std::move(queued));
    queue.clear();
    return left;
  }
};

SignatureQueue::SignatureQueue(std::size_t threads) : impl_(std::make_shared<Impl>()) {
  impl_->thread_count = std::max<std::size_t>(threads, 1);
  for (std::size_t i = 0; i < impl_->thread_count; ++i) {
    impl_->threads.emplace_back([impl = impl_] { impl->work(); });
  }
}

SignatureQueue::~SignatureQueue() { shutdown(); }

void SignatureQueue::shutdown() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  for (std::thread& thread : impl_->threads) {
    if (!thread.joinable()) continue;
    if (thread.get_id() == std::this_thread::get_id()) {
      thread.detach();  // called from one of its jobs: it ends on its own
    } else {
      thread.join();
    }
  }
  for (Queued& queued : impl_->take_all()) queued.job(true);
}

void SignatureQueue::submit(std::int64_t deadline_ms, Job job) {
  {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->stopping) {
      impl_->queue.emplace(std::make_pair(deadline_ms, impl_->sequence++),
                           Queued{std::move(job), steady_ms()});
      job = nullptr;
    }
  }
  if (job) {
    job(true);
    return;
  }
  impl_->wake.notify_one();
}

SignatureQueue::Stats SignatureQueue::stats() const {
  std::lock_guard lock(impl_->mutex);
  Stats stats;
  stats.threads = impl_->thread_count;
  stats.signing = impl_->signing;
  stats.queued = impl_->queue.size();
  std::int64_t oldest = 0;
  for (const auto& [key, queued] : impl_->queue) {
    oldest = oldest == 0 ? queued.queued_at_ms : std::min(oldest, queued.queued_at_ms);
  }
  if (oldest != 0) stats.oldest_wait_ms = steady_ms() - oldest;
  return stats;
}

}  // namespace mpa

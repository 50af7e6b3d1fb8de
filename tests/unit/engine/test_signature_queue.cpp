#include <boost/test/unit_test.hpp>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/engine/signature_queue.h"

using namespace mpa;

namespace {

// A job that waits at a gate the test opens, so the queue fills behind it.
struct Gate {
  std::mutex mutex;
  std::condition_variable changed;
  bool open = false;
  bool entered = false;
  std::vector<std::string> order;  // labels of the jobs in the order they ran
  std::size_t cancelled = 0;

  SignatureQueue::Job blocker() {
    return [this](bool was_cancelled) {
      std::unique_lock lock(mutex);
      if (was_cancelled) return;
      entered = true;
      changed.notify_all();
      changed.wait(lock, [&] { return open; });
    };
  }
  SignatureQueue::Job recorder(std::string label) {
    return [this, label = std::move(label)](bool was_cancelled) {
      std::lock_guard lock(mutex);
      if (was_cancelled) {
        ++cancelled;
      } else {
        order.push_back(label);
      }
      changed.notify_all();
    };
  }
  void wait_until_entered() {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return entered; });
  }
  void release() {
    {
      std::lock_guard lock(mutex);
      open = true;
    }
    changed.notify_all();
  }
  void wait_for(std::size_t done) {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return order.size() + cancelled >= done; });
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(EarliestDeadlineFirstEqualDeadlinesInOrder) {
  Gate gate;
  SignatureQueue queue(1);
  queue.submit(0, gate.blocker());
  gate.wait_until_entered();
  queue.submit(5000, gate.recorder("new key b"));
  queue.submit(9000, gate.recorder("refresh that can wait"));
  queue.submit(1000, gate.recorder("refresh about to expire"));
  queue.submit(5000, gate.recorder("new key c"));
  const SignatureQueue::Stats stats = queue.stats();
  BOOST_TEST(stats.threads == 1u);
  BOOST_TEST(stats.signing == 1u);
  BOOST_TEST(stats.queued == 4u);
  gate.release();
  gate.wait_for(4);
  BOOST_TEST(gate.order == (std::vector<std::string>{"refresh about to expire", "new key b",
                                                     "new key c", "refresh that can wait"}));
}

BOOST_AUTO_TEST_CASE(RunsAsManyAtOnceAsItHasThreads) {
  Gate gate;
  SignatureQueue queue(2);
  queue.submit(0, gate.blocker());
  queue.submit(0, gate.blocker());
  gate.wait_until_entered();
  for (int i = 0; i < 100 && queue.stats().signing < 2; ++i) {
    std::unique_lock lock(gate.mutex);
    gate.changed.wait_for(lock, std::chrono::milliseconds(10));
  }
  BOOST_TEST(queue.stats().signing == 2u);
  gate.release();
}

BOOST_AUTO_TEST_CASE(QueuedJobsAreAnsweredCancelledWhenTheQueueGoes) {
  Gate gate;
  auto queue = std::make_unique<SignatureQueue>(1);
  queue->submit(0, gate.blocker());
  gate.wait_until_entered();
  queue->submit(1, gate.recorder("a"));
  queue->submit(2, gate.recorder("b"));
  gate.release();
  queue.reset();  // joins; whatever had not started is cancelled, not dropped
  BOOST_TEST(gate.order.size() + gate.cancelled == 2u);
}

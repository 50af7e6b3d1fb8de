#define BOOST_TEST_MODULE fair_scheduler
#include <boost/test/unit_test.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "agent/cache/fair_scheduler.h"

using namespace mpa;

namespace {

// A pool that runs nothing by itself: the test decides which handed-over
// job finishes when, so every order is deterministic.
class ManualPool {
 public:
  FairScheduler::Run run() {
    return [this](std::function<void()> job) { handed_.push_back(std::move(job)); };
  }
  std::size_t handed() const { return handed_.size(); }
  // Runs (to its end) the i-th job handed over and not yet run.
  void finish(std::size_t i) {
    std::function<void()> job = std::move(handed_.at(i));
    handed_.erase(handed_.begin() + static_cast<std::ptrdiff_t>(i));
    job();
  }

 private:
  std::deque<std::function<void()>> handed_;
};

struct Fixture {
  ManualPool pool;
  std::vector<std::string> started;  // "owner:n" in the order jobs began
  std::shared_ptr<FairScheduler> fair = FairScheduler::create(pool.run(), 4, 3);

  void submit(const std::string& owner, int n) {
    fair->submit(owner, [this, label = owner + ":" + std::to_string(n)] { started.push_back(label); });
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(FairShares, Fixture)

BOOST_AUTO_TEST_CASE(JobsRunAtOnceWhileThereIsRoom) {
  submit("a", 1);
  submit("b", 1);
  BOOST_TEST(pool.handed() == 2u);
  BOOST_TEST(fair->stats().running == 2u);
  BOOST_TEST(fair->stats().queued == 0u);
}

BOOST_AUTO_TEST_CASE(OneOwnerNeverTakesEverySlot) {
  for (int n = 1; n <= 6; ++n) submit("greedy", n);
  BOOST_TEST(pool.handed() == 3u);  // its share of 3 out of 4 slots
  BOOST_TEST(fair->stats().queued == 3u);
  submit("other", 1);
  BOOST_TEST(pool.handed() == 4u);  // the slot kept free is the other owner's at once
  pool.finish(3);
  BOOST_TEST(started == std::vector<std::string>{"other:1"});
}

BOOST_AUTO_TEST_CASE(QueuedOwnersTakeTurns) {
  for (int n = 1; n <= 5; ++n) submit("a", n);  // a:1..3 run, a:4,5 queued
  submit("b", 1);                                 // runs: 4 slots busy
  submit("b", 2);                                 // queued behind a
  submit("c", 1);                                 // queued behind b
  BOOST_TEST(pool.handed() == 4u);
  BOOST_TEST(fair->stats().queued == 4u);
  // Each finished job frees a slot; queued jobs start a, b, c, a in turn
  // (a is below its share of 3 once one of its jobs ends).
  pool.finish(0);  // a:1 ends -> a:4
  pool.finish(0);  // a:2 ends -> b:2
  pool.finish(0);  // a:3 ends -> c:1
  pool.finish(0);  // b:1 ends -> a:5
  BOOST_TEST(started == (std::vector<std::string>{"a:1", "a:2", "a:3", "b:1"}));
  while (pool.handed() > 0) pool.finish(0);
  BOOST_TEST(started == (std::vector<std::string>{"a:1", "a:2", "a:3", "b:1", "a:4", "b:2", "c:1",
                                                  "a:5"}));
  BOOST_TEST(fair->stats().running == 0u);
  BOOST_TEST(fair->stats().queued == 0u);
}

BOOST_AUTO_TEST_CASE(AnOwnersJobsStartInTheOrderSubmitted) {
  for (int n = 1; n <= 8; ++n) submit("a", n);
  while (pool.handed() > 0) pool.finish(0);
  BOOST_TEST(started == (std::vector<std::string>{"a:1", "a:2", "a:3", "a:4", "a:5", "a:6", "a:7",
                                                  "a:8"}));
}

BOOST_AUTO_TEST_CASE(AnOwnerAtItsShareDoesNotBlockAnotherInTheQueue) {
  for (int n = 1; n <= 4; ++n) submit("a", n);  // a:1..3 run, a:4 queued
  submit("b", 1);                                 // runs (slot 4)
  submit("b", 2);                                 // queued
  pool.finish(3);                                 // b:1 ends: a is at its share, b:2 starts
  BOOST_TEST(pool.handed() == 4u);
  BOOST_TEST(fair->stats().queued == 1u);
  pool.finish(3);
  BOOST_TEST(started == (std::vector<std::string>{"b:1", "b:2"}));
}

BOOST_AUTO_TEST_CASE(AThrowingJobStillFreesItsSlot) {
  auto one = FairScheduler::create(pool.run(), 1, 1);
  one->submit("a", [] { throw std::runtime_error("boom"); });
  one->submit("a", [this] { started.push_back("after"); });
  BOOST_TEST(pool.handed() == 1u);
  pool.finish(0);
  BOOST_TEST(pool.handed() == 1u);
  pool.finish(0);
  BOOST_TEST(started == std::vector<std::string>{"after"});
  BOOST_TEST(one->stats().running == 0u);
}

BOOST_AUTO_TEST_CASE(ShareIsClampedToTheSlots) {
  auto odd = FairScheduler::create(pool.run(), 2, 0);  // at least 1
  odd->submit("a", [] {});
  odd->submit("a", [] {});
  BOOST_TEST(pool.handed() == 1u);
  BOOST_TEST(odd->stats().queued == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

// The fair share of exchange slots, driven as the daemon drives it:
// submit_async with run_here, each job starting work that the test
// finishes (calls its release) when it chooses, so every order is
// deterministic.
#include <boost/test/unit_test.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/cache/fair_scheduler.h"

using namespace mpa;

namespace {

struct Fixture {
  std::vector<std::string> started;              // "owner:n" in the order jobs began
  std::deque<std::function<void()>> in_flight;   // the releases of jobs begun, not yet done
  std::shared_ptr<FairScheduler> fair = FairScheduler::create(FairScheduler::run_here(), 4, 3);

  FairScheduler::AsyncJob job(const std::string& label) {
    return [this, label](std::function<void()> release) {
      started.push_back(label);
      in_flight.push_back(std::move(release));
    };
  }
  void submit(const std::string& owner, int n) { submit_to(*fair, owner, n); }
  void submit_to(FairScheduler& scheduler, const std::string& owner, int n) {
    scheduler.submit_async(owner, job(owner + ":" + std::to_string(n)));
  }
  // The i-th job in flight (in the order they began) is done.
  void finish(std::size_t i) {
    std::function<void()> release = std::move(in_flight.at(i));
    in_flight.erase(in_flight.begin() + static_cast<std::ptrdiff_t>(i));
    release();
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(FairShares, Fixture)

BOOST_AUTO_TEST_CASE(JobsRunAtOnceWhileThereIsRoom) {
  submit("a", 1);
  submit("b", 1);
  BOOST_TEST(started == (std::vector<std::string>{"a:1", "b:1"}));
  BOOST_TEST(fair->stats().running == 2u);
  BOOST_TEST(fair->stats().queued == 0u);
}

BOOST_AUTO_TEST_CASE(OneOwnerNeverTakesEverySlot) {
  for (int n = 1; n <= 6; ++n) submit("greedy", n);
  BOOST_TEST(in_flight.size() == 3u);  // its share of 3 out of 4 slots
  BOOST_TEST(fair->stats().queued == 3u);
  submit("other", 1);
  BOOST_TEST(in_flight.size() == 4u);  // the slot kept free is the other owner's at once
  BOOST_TEST(started.back() == "other:1");
}

BOOST_AUTO_TEST_CASE(QueuedOwnersTakeTurns) {
  for (int n = 1; n <= 5; ++n) submit("a", n);  // a:1..3 run, a:4,5 queued
  submit("b", 1);                                 // runs: 4 slots busy
  submit("b", 2);                                 // queued behind a
  submit("c", 1);                                 // queued behind b
  BOOST_TEST(started == (std::vector<std::string>{"a:1", "a:2", "a:3", "b:1"}));
  BOOST_TEST(fair->stats().queued == 4u);
  // Each finished job frees a slot; queued jobs start a, b, c, a in turn
  // (a is below its share of 3 once one of its jobs ends).
  finish(0);  // a:1 ends -> a:4
  BOOST_TEST(started.back() == "a:4");
  finish(0);  // a:2 ends -> b:2
  BOOST_TEST(started.back() == "b:2");
  finish(0);  // a:3 ends -> c:1
  BOOST_TEST(started.back() == "c:1");
  finish(0);  // b:1 ends -> a:5
  BOOST_TEST(started == (std::vector<std::string>{"a:1", "a:2", "a:3", "b:1", "a:4", "b:2", "c:1",
                                                  "a:5"}));
  while (!in_flight.empty()) finish(0);
  BOOST_TEST(fair->stats().running == 0u);
  BOOST_TEST(fair->stats().queued == 0u);
}

BOOST_AUTO_TEST_CASE(AnOwnersJobsStartInTheOrderSubmitted) {
  for (int n = 1; n <= 8; ++n) submit("a", n);
  while (!in_flight.empty()) finish(0);
  BOOST_TEST(started == (std::vector<std::string>{"a:1", "a:2", "a:3", "a:4", "a:5", "a:6", "a:7",
                                                  "a:8"}));
}

BOOST_AUTO_TEST_CASE(AnOwnerAtItsShareDoesNotBlockAnotherInTheQueue) {
  for (int n = 1; n <= 4; ++n) submit("a", n);  // a:1..3 run, a:4 queued
  submit("b", 1);                                 // runs (slot 4)
  submit("b", 2);                                 // queued
  finish(3);                                      // b:1 ends: a is at its share, b:2 starts
  BOOST_TEST(in_flight.size() == 4u);
  BOOST_TEST(fair->stats().queued == 1u);
  BOOST_TEST(started.back() == "b:2");
}

// A job that fails before it starts any work (the cache's exchange
// answered at once) releases on the caller's thread, inside submit_async.
BOOST_AUTO_TEST_CASE(AJobThatReleasesAtOnceFreesItsSlot) {
  auto one = FairScheduler::create(FairScheduler::run_here(), 1, 1);
  one->submit_async("a", [](const std::function<void()>& release) { release(); });
  submit_to(*one, "a", 2);
  BOOST_TEST(started == std::vector<std::string>{"a:2"});
  BOOST_TEST(one->stats().running == 1u);
  finish(0);
  BOOST_TEST(one->stats().running == 0u);
}

BOOST_AUTO_TEST_CASE(ASecondReleaseFreesNoOtherSlot) {
  auto one = FairScheduler::create(FairScheduler::run_here(), 1, 1);
  submit_to(*one, "a", 1);
  submit_to(*one, "a", 2);
  submit_to(*one, "a", 3);
  std::function<void()> first = in_flight.front();
  finish(0);  // a:1 ends -> a:2
  first();    // again: a:2 still holds the only slot
  BOOST_TEST(started == (std::vector<std::string>{"a:1", "a:2"}));
  BOOST_TEST(one->stats().running == 1u);
  BOOST_TEST(one->stats().queued == 1u);
}

BOOST_AUTO_TEST_CASE(ShareIsClampedToTheSlots) {
  auto odd = FairScheduler::create(FairScheduler::run_here(), 2, 0);  // at least 1
  submit_to(*odd, "a", 1);
  submit_to(*odd, "a", 2);
  BOOST_TEST(in_flight.size() == 1u);
  BOOST_TEST(odd->stats().queued == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

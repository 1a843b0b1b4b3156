#include <poetryops/runtime/workqueue.hpp>

#include <poetryops/util/metrics.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace poetryops::runtime {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<RateLimiter> fast_limiter() {
    return std::make_unique<ItemExponentialRateLimiter>(std::chrono::milliseconds(5),
                                                        std::chrono::seconds(1000));
}

TEST(WorkQueue, DeduplicatesKeysNotYetTaken) {
    ManualClock clock;
    WorkQueue q("t", clock, fast_limiter());
    q.add("a");
    q.add("b");
    q.add("a");
    EXPECT_EQ(q.len(), 2u);
    EXPECT_EQ(q.get_for(10ms), "a");
    EXPECT_EQ(q.get_for(10ms), "b");
    EXPECT_EQ(q.get_for(10ms), std::nullopt);
}

TEST(WorkQueue, KeyBeingProcessedIsNotHandedOutAgainButRunsAfterDone) {
    ManualClock clock;
    WorkQueue q("t", clock, fast_limiter());
    q.add("a");
    auto k = q.get_for(10ms);
    ASSERT_EQ(k, "a");
    q.add("a");  // changed while being reconciled
    q.add("a");
    EXPECT_EQ(q.len(), 0u);
    EXPECT_EQ(q.get_for(20ms), std::nullopt) << "a second worker must not get the key in flight";
    q.done("a");
    EXPECT_EQ(q.len(), 1u);
    EXPECT_EQ(q.get_for(10ms), "a");
    q.done("a");
    EXPECT_EQ(q.len(), 0u);
}

TEST(WorkQueue, NeverProcessesOneKeyConcurrently) {
    WorkQueue q("t", SystemClock::instance(), fast_limiter());
    std::atomic<int> in_flight{0}, max_in_flight{0}, processed{0};
    std::vector<std::thread> workers;
    for (int i = 0; i < 4; ++i) {
        workers.emplace_back([&] {
            while (auto k = q.get()) {
                int now = ++in_flight;
                int prev = max_in_flight.load();
                while (now > prev && !max_in_flight.compare_exchange_weak(prev, now)) {
                }
                std::this_thread::sleep_for(1ms);
                --in_flight;
                ++processed;
                q.done(*k);
            }
        });
    }
    for (int i = 0; i < 200; ++i) {
        q.add("same");
        std::this_thread::sleep_for(100us);
    }
    ASSERT_TRUE([&] {
        for (int i = 0; i < 200 && (q.len() > 0 || q.processing() > 0); ++i)
            std::this_thread::sleep_for(5ms);
        return q.len() == 0 && q.processing() == 0;
    }());
    q.shut_down();
    for (auto& t : workers) t.join();
    EXPECT_EQ(max_in_flight.load(), 1);
    EXPECT_GE(processed.load(), 1);
}

TEST(WorkQueue, AddAfterWaitsForTheClockAndEarliestTimeWins) {
    ManualClock clock;
    WorkQueue q("t", clock, fast_limiter());
    q.add_after("a", 10s);
    q.add_after("a", 3s);   // earlier: wins
    q.add_after("a", 20s);  // later: ignored
    EXPECT_EQ(q.len(), 0u);
    EXPECT_EQ(q.waiting(), 1u);
    clock.advance(2s);
    EXPECT_EQ(q.len(), 0u);
    clock.advance(1s);
    EXPECT_EQ(q.len(), 1u);
    EXPECT_EQ(q.get_for(10ms), "a");
    q.done("a");
    clock.advance(60s);
    EXPECT_EQ(q.len(), 0u) << "superseded timers must not fire again";
}

TEST(WorkQueue, BlockedGetWakesWhenADelayedKeyBecomesDue) {
    ManualClock clock;
    WorkQueue q("t", clock, fast_limiter());
    q.add_after("a", 5s);
    std::thread t([&] {
        std::this_thread::sleep_for(30ms);
        clock.advance(5s);
    });
    auto k = q.get_for(2000ms);
    t.join();
    EXPECT_EQ(k, "a");
}

TEST(WorkQueue, ShutdownReleasesBlockedWorkersAndRefusesNewWork) {
    WorkQueue q("t");
    std::thread t([&] {
        std::this_thread::sleep_for(20ms);
        q.shut_down();
    });
    EXPECT_EQ(q.get(), std::nullopt);
    t.join();
    q.add("a");
    EXPECT_EQ(q.len(), 0u);
    EXPECT_TRUE(q.shutting_down());
}

TEST(WorkQueue, RateLimitedAddsBackOffExponentiallyAndForgetResets) {
    ManualClock clock;
    WorkQueue q("t", clock, fast_limiter());
    q.add_rate_limited("a");  // 5 ms
    q.add_rate_limited("b");  // 5 ms (per item)
    EXPECT_EQ(q.num_requeues("a"), 1);
    clock.advance(4ms);
    EXPECT_EQ(q.len(), 0u);
    clock.advance(1ms);
    EXPECT_EQ(q.len(), 2u);
    ASSERT_EQ(q.get_for(10ms), "a");
    q.add_rate_limited("a");  // 10 ms
    q.done("a");
    clock.advance(9ms);
    EXPECT_EQ(q.len(), 1u);  // only b
    clock.advance(1ms);
    EXPECT_EQ(q.len(), 2u);
    q.forget("a");
    EXPECT_EQ(q.num_requeues("a"), 0);
}

TEST(WorkQueue, PublishesDepthAddsAndRetries) {
    ManualClock clock;
    metrics::MetricsRegistry m;
    WorkQueue q("apps", clock, fast_limiter(), &m);
    q.add("a");
    q.add("a");
    q.add("b");
    EXPECT_EQ(m.value("workqueue_depth", {{"name", "apps"}}), 2);
    EXPECT_EQ(m.value("workqueue_adds_total", {{"name", "apps"}}), 2);
    auto k = q.get_for(10ms);
    q.add_rate_limited(*k);
    q.done(*k);
    EXPECT_EQ(m.value("workqueue_retries_total", {{"name", "apps"}}), 1);
    EXPECT_EQ(m.value("workqueue_depth", {{"name", "apps"}}), 1);
}

TEST(RateLimiter, ItemExponentialDoublesFrom5msAndCapsAt1000s) {
    ItemExponentialRateLimiter l;
    EXPECT_EQ(l.when("x"), std::chrono::milliseconds(5));
    EXPECT_EQ(l.when("x"), std::chrono::milliseconds(10));
    EXPECT_EQ(l.when("x"), std::chrono::milliseconds(20));
    EXPECT_EQ(l.when("y"), std::chrono::milliseconds(5));
    for (int i = 0; i < 100; ++i) (void)l.when("x");
    EXPECT_EQ(l.when("x"), std::chrono::seconds(1000));
    l.forget("x");
    EXPECT_EQ(l.when("x"), std::chrono::milliseconds(5));
}

TEST(RateLimiter, TokenBucketAllowsBurstThenTenPerSecond) {
    ManualClock clock;
    BucketRateLimiter l(10, 100, clock);
    for (int i = 0; i < 100; ++i)
        ASSERT_EQ(l.when("k" + std::to_string(i)), RateLimiter::duration::zero()) << i;
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(l.when("x")).count(), 100);
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(l.when("y")).count(), 200);
    clock.advance(std::chrono::seconds(1));  // 10 tokens refill, 2 were owed
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(l.when("z")).count(), 0);
}

TEST(RateLimiter, DefaultControllerLimiterTakesTheLongerDelay) {
    ManualClock clock;
    auto l = default_controller_rate_limiter(clock);
    EXPECT_EQ(l->when("a"), std::chrono::milliseconds(5));                 // bucket: 0, item: 5 ms
    for (int i = 0; i < 120; ++i) (void)l->when("k" + std::to_string(i));  // drain the bucket
    auto d = l->when("fresh");
    EXPECT_GT(d, std::chrono::milliseconds(1000)) << "bucket debt dominates the 5 ms item delay";
}

}  // namespace
}  // namespace poetryops::runtime

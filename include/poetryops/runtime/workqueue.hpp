#pragma once
/// The controller workqueue, with client-go's semantics (`workqueue.RateLimitingInterface`):
///
/// * Deduplication: a key added many times before it is taken is processed once.
/// * Processing set: a key taken by get() is not handed out again until done(); re-adds in between
/// are remembered
///   and the key is queued again at done(), so one key is never reconciled twice at once and no
///   change is lost.
/// * add_after(): delayed adds (the earliest pending time wins); add_rate_limited(): a delay from
/// the RateLimiter
///   (by default max(per-item 5 ms·2ⁿ ≤ 1000 s, 10 qps token bucket with burst 100)); forget()
///   resets the backoff.
/// * shut_down(): get() returns nullopt from then on (in-flight keys can still be done()).
///
/// Metrics (when a registry is given): workqueue_depth{name}, workqueue_adds_total{name},
/// workqueue_retries_total{name}.
///
///   while (auto key = queue.get()) { auto r = reconcile(*key); ...; queue.done(*key); }

#include <poetryops/runtime/rate_limiter.hpp>
#include <poetryops/util/clock.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace poetryops::metrics {
class MetricsRegistry;
}  // namespace poetryops::metrics

namespace poetryops::runtime {

/// Thread safety: safe; any number of producers and workers.
class WorkQueue {
public:
    using duration = std::chrono::steady_clock::duration;

    /// `limiter` null: default_controller_rate_limiter(clock). `metrics` may be null.
    explicit WorkQueue(std::string name, const Clock& clock = SystemClock::instance(),
                       std::unique_ptr<RateLimiter> limiter = nullptr,
                       metrics::MetricsRegistry* metrics = nullptr);
    ~WorkQueue();
    WorkQueue(const WorkQueue&) = delete;
    WorkQueue& operator=(const WorkQueue&) = delete;

    void add(const std::string& key);
    /// Adds `key` once `delay` has passed on the clock (at once when delay <= 0).
    void add_after(const std::string& key, duration delay);
    /// add_after(key, limiter.when(key)); counts a retry.
    void add_rate_limited(const std::string& key);
    /// Resets the key's backoff (call after a successful reconcile).
    void forget(const std::string& key);
    int num_requeues(const std::string& key);

    /// Blocks until a key is ready or the queue shuts down (nullopt). The caller must call
    /// done(key).
    std::optional<std::string> get();
    /// Like get() but gives up after `timeout` of real time.
    std::optional<std::string> get_for(std::chrono::milliseconds timeout);
    /// Marks `key` finished; queues it again if it was added while being processed.
    void done(const std::string& key);

    void shut_down();
    bool shutting_down() const;

    /// Keys ready to be taken (delayed keys whose time has come are counted).
    std::size_t len();
    /// Keys waiting for their add_after() time.
    std::size_t waiting();
    /// Keys taken and not yet done().
    std::size_t processing();
    const std::string& name() const { return name_; }

private:
    struct Waiting {
        std::chrono::steady_clock::time_point ready;
        std::uint64_t seq;
        std::string key;
        bool operator>(const Waiting& o) const {
            return ready != o.ready ? ready > o.ready : seq > o.seq;
        }
    };

    void add_locked(const std::string& key);
    void promote_due_locked();
    std::optional<std::string> take_locked();
    void publish_depth_locked();

    std::string name_;
    const Clock& clock_;
    std::unique_ptr<RateLimiter> limiter_;
    metrics::MetricsRegistry* metrics_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::string> queue_;
    std::unordered_set<std::string> dirty_;
    std::unordered_set<std::string> processing_;
    std::priority_queue<Waiting, std::vector<Waiting>, std::greater<>> waiting_heap_;
    std::unordered_map<std::string, std::chrono::steady_clock::time_point> waiting_;
    std::uint64_t seq_ = 0;
    bool shutting_down_ = false;
};

}  // namespace poetryops::runtime

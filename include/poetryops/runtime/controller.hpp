#pragma once
/// A controller: a workqueue of keys, N workers, and a Reconciler (controller-runtime's model).
/// Level-based: the reconciler receives only a key and re-reads the world (usually from an
/// Informer's cache).
///
///   class AppReconciler : public runtime::Reconciler {
///       Result<runtime::ReconcileResult> reconcile(const std::string& key) override { ... }
///   };
///   auto& c = manager.add_controller({.name = "poetryapp", .max_concurrent_reconciles = 4},
///                                    reconciler);
///   c.watch(apps_informer);                                    // the object's own key
///   c.watch(jobs_informer, runtime::owner_mapper("PoetryApp"));  // the controlling owner's key
///
/// Outcome of one reconcile → what the queue does:
/// * success, no requeue               → forget (backoff reset) result="success"
/// * requeue_after > 0                 → forget, add_after(requeue_after) result="requeue_after"
/// * requeue == true                   → add_rate_limited result="requeue"
/// * Error with terminal == false      → add_rate_limited                           result="error"
/// * Error with terminal == true       → forget, no retry                           result="error"
/// * an exception                      → caught, counted (panics), add_rate_limited result="error"
///
/// Metrics: controller_runtime_reconcile_total{controller,result},
/// controller_runtime_reconcile_errors_total, controller_runtime_terminal_reconcile_errors_total,
/// controller_runtime_reconcile_panics_total, controller_runtime_reconcile_time_seconds
/// (histogram), controller_runtime_active_workers, controller_runtime_max_concurrent_reconciles,
/// and the queue's workqueue_* series.

#include <poetryops/runtime/informer.hpp>
#include <poetryops/runtime/workqueue.hpp>
#include <poetryops/util/clock.hpp>
#include <poetryops/util/result.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace poetryops::metrics {
class MetricsRegistry;
}  // namespace poetryops::metrics

namespace poetryops::runtime {

struct ReconcileResult {
    std::chrono::milliseconds requeue_after{0};  ///< > 0: reconcile this key again after this long
    bool requeue = false;                        ///< requeue with the rate limiter's backoff
};

/// Thread safety: reconcile() is called from several workers at once, but never twice concurrently
/// for one key.
class Reconciler {
public:
    virtual ~Reconciler() = default;
    /// Errors with `terminal` set are not retried; other errors are retried with backoff.
    virtual Result<ReconcileResult> reconcile(const std::string& key) = 0;
};

/// Maps an object from a watched informer to the keys to reconcile.
using KeyMapper = std::function<std::vector<std::string>(const nlohmann::json& object)>;

/// The key of the object's controlling owner (ownerReferences[controller=true]) when its kind is
/// `owner_kind` (and its apiVersion's group is `owner_group`, when given), in the object's
/// namespace.
KeyMapper owner_mapper(std::string owner_kind, std::string owner_group = {});

struct ControllerOptions {
    std::string name;  ///< metrics label `controller` and queue name
    int max_concurrent_reconciles = 1;
    std::unique_ptr<RateLimiter> rate_limiter{};  ///< null: default_controller_rate_limiter()
};

/// Thread safety: safe. Created by Manager::add_controller().
class Controller {
public:
    Controller(ControllerOptions options, Reconciler& reconciler, metrics::MetricsRegistry& metrics,
               const Clock& clock = SystemClock::instance());
    ~Controller();
    Controller(const Controller&) = delete;
    Controller& operator=(const Controller&) = delete;

    /// Enqueues each added/updated/deleted object's own key.
    void watch(Informer& informer);
    /// Enqueues the keys `map` returns for each added/updated/deleted object.
    void watch(Informer& informer, KeyMapper map);
    void enqueue(const std::string& key) { queue_.add(key); }

    /// Starts the workers (idempotent).
    void start();
    /// Stops taking work, lets in-flight reconciles finish and joins the workers. Idempotent.
    void stop();

    WorkQueue& queue() { return queue_; }
    const std::string& name() const { return name_; }
    /// Reconciles finished so far (any result).
    std::uint64_t reconciles() const;

private:
    void worker();
    void reconcile_one(const std::string& key);

    std::string name_;
    int workers_count_;
    Reconciler& reconciler_;
    metrics::MetricsRegistry& metrics_;
    const Clock& clock_;
    WorkQueue queue_;
    std::mutex mu_;
    std::vector<std::thread> workers_;
    std::atomic<std::uint64_t> reconciles_{0};
    bool started_ = false;
};

}  // namespace poetryops::runtime

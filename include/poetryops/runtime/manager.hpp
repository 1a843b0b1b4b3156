#pragma once
/// The Manager runs informers, controllers, leader election and the probe/metrics endpoints
/// (controller-runtime's Manager).
///
///   metrics::MetricsRegistry registry;
///   POETRYOPS_TRY(auto client, kube::RestClient::create(cfg, {.metrics = &registry}));
///   runtime::Manager mgr(*client, {.leader_election = true,
///                                  .leader_election_namespace = "poetryops-system",
///                                  .metrics = &registry});
///   auto& apps = mgr.add_informer({.resource = kube::resources::configmaps()});
///   auto& ctl = mgr.add_controller({.name = "poetryapp", .max_concurrent_reconciles = 4},
///                                  reconciler);
///   ctl.watch(apps);
///   runtime::ShutdownSignals signals;  // first in main(): blocks SIGTERM/SIGINT in all threads
///   signals.on_signal([&] { mgr.stop(); });
///   return mgr.run();                  // 0 after a clean stop
///
/// Start: bind the endpoints, start every informer; then (after winning the lease, when leader
/// election is on) wait until every cache has synced and start the controllers' workers. Stop
/// (stop(), e.g. on SIGTERM): stop taking work, let in-flight reconciles finish, release the lease,
/// stop the informers and the endpoints; run() returns 0. Losing the lease calls
/// `on_lost_leadership`; the default logs and exits the process with status 1 (another replica is
/// leading; Kubernetes restarts us as a candidate).
///
/// Endpoints (each bound server answers all three paths): GET /healthz → 200 "ok"; GET /readyz →
/// 200 once every informer has synced, else 503 naming the unsynced ones; GET /metrics → Prometheus
/// text.

#include <poetryops/kube/client.hpp>
#include <poetryops/kube/events.hpp>
#include <poetryops/runtime/controller.hpp>
#include <poetryops/runtime/informer.hpp>
#include <poetryops/runtime/leader_election.hpp>
#include <poetryops/util/clock.hpp>
#include <poetryops/util/metrics.hpp>
#include <poetryops/util/result.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace poetryops::runtime {

struct ManagerOptions {
    /// "host:port", ":port" (all interfaces), or "0"/"" to disable. Port 0 picks a free port (see
    /// metrics_port()).
    std::string metrics_bind_address = ":8080";
    std::string health_probe_bind_address = ":8081";
    bool leader_election = false;
    std::string leader_election_namespace = "default";
    std::string leader_election_id = "poetryops-controller";  ///< the Lease's name
    std::string leader_identity;                              ///< empty: default_leader_identity()
    std::chrono::milliseconds lease_duration{std::chrono::seconds(15)};
    std::chrono::milliseconds renew_deadline{std::chrono::seconds(10)};
    std::chrono::milliseconds retry_period{std::chrono::seconds(2)};
    /// This process's own Pod, "namespace/name" (leader election only). Every replica removes
    /// `leader_pod_label` from it at start() and the leader sets it to "true" before its
    /// controllers start, so that a Service selecting the label sends requests (registry webhooks)
    /// to the leader only. At start() a Pod that is not there or may not be patched is an error
    /// naming it. Empty: no label.
    std::string leader_pod;
    std::string leader_pod_label = "poetryops.io/leader";
    /// Called (on the election thread) when the lease is lost. Empty: log and std::_Exit(1).
    std::function<void()> on_lost_leadership;
    kube::EventRecorderOptions events;
    const Clock* clock = nullptr;  ///< null: SystemClock
    /// The registry served on /metrics; null: the manager owns one. Pass the one given to
    /// RestClientOptions so rest_client_requests_total shows up too.
    metrics::MetricsRegistry* metrics = nullptr;
};

/// Thread safety: add_* before start(); stop() from any thread (not from a reconciler or handler).
class Manager {
public:
    Manager(kube::KubeClient& client, ManagerOptions options = {});
    ~Manager();  ///< stop()
    Manager(const Manager&) = delete;
    Manager& operator=(const Manager&) = delete;

    Informer& add_informer(InformerOptions options);
    Controller& add_controller(ControllerOptions options, Reconciler& reconciler);

    kube::KubeClient& client() { return client_; }
    metrics::MetricsRegistry& metrics() { return *metrics_; }
    kube::EventRecorder& events() { return events_; }

    /// Binds the endpoints and starts everything in the background. Fails when an address cannot be
    /// bound.
    Result<void> start();
    /// start() (unless started), then blocks until stop(); returns the process exit code (0 after a
    /// clean stop).
    int run();
    /// Graceful stop; idempotent; returns when everything has stopped.
    void stop();

    /// Every informer has synced.
    bool ready() const;
    /// Workers are running (leader, caches synced).
    bool controllers_started() const;
    bool is_leader() const;
    std::uint16_t metrics_port() const;
    std::uint16_t health_port() const;

    struct Impl;

private:
    void start_controllers_when_synced();
    /// Sets (true) or removes (false) leader_pod_label on leader_pod.
    Result<void> label_leader_pod(bool leading);

    kube::KubeClient& client_;
    ManagerOptions options_;
    const Clock& clock_;
    std::unique_ptr<metrics::MetricsRegistry> own_metrics_;
    metrics::MetricsRegistry* metrics_;
    kube::EventRecorder events_;
    std::vector<std::unique_ptr<Informer>> informers_;
    std::vector<std::unique_ptr<Controller>> controllers_;
    std::unique_ptr<LeaderElector> elector_;
    std::unique_ptr<Impl> impl_;

    std::mutex stop_mu_;  // serialises stop(): run() and a signal thread may both call it
    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool started_ = false;
    bool stopping_ = false;
    bool stopped_ = false;
    bool controllers_started_ = false;
    std::thread elector_thread_;
    std::thread starter_thread_;
};

/// SIGTERM/SIGINT handling without async-signal hazards: the constructor blocks both signals in the
/// calling thread (construct it first in main(), before any thread starts, so every thread inherits
/// the mask); a dedicated thread waits for them with sigwait() and runs the callback. The
/// destructor stops that thread.
class ShutdownSignals {
public:
    ShutdownSignals();
    ~ShutdownSignals();
    ShutdownSignals(const ShutdownSignals&) = delete;
    ShutdownSignals& operator=(const ShutdownSignals&) = delete;
    /// Runs `callback` once, on the signal thread, when SIGTERM or SIGINT arrives.
    void on_signal(std::function<void()> callback);
    /// The signal received (0 when none yet).
    int received() const { return received_.load(); }

private:
    std::thread thread_;
    std::atomic<int> received_{0};
    std::mutex mu_;
    std::function<void()> callback_;
};

}  // namespace poetryops::runtime

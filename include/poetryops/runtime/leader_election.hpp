#pragma once
/// Leader election on a `coordination.k8s.io/v1` Lease, with client-go's rules:
///
/// * A candidate takes the lease when it is free (no holder) or its holder has not renewed for
/// leaseDuration
///   *as observed on our clock* (we time how long the record stays unchanged; remote timestamps are
///   never compared with ours, so clock skew does not matter).
/// * The leader renews every retryPeriod; when no renewal succeeded for renewDeadline it has lost
/// the lease
///   (on_stopped_leading: the manager's default exits the process).
/// * Every write carries the resourceVersion read, so two candidates cannot both win (409 for the
/// loser).
/// * release(): clears holderIdentity so a successor need not wait out the lease.
///
/// Defaults: 15 s lease, 10 s renew deadline, 2 s retry period (controller-runtime's). The state
/// machine is try_acquire_or_renew(), driven by run() or by tests with a ManualClock.

#include <poetryops/kube/client.hpp>
#include <poetryops/util/clock.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace poetryops::metrics {
class MetricsRegistry;
}  // namespace poetryops::metrics

namespace poetryops::runtime {

struct LeaderElectionConfig {
    std::string lease_namespace;
    std::string lease_name;
    std::string identity;  ///< unique per candidate, e.g. "<hostname>_<random>"
    std::chrono::milliseconds lease_duration{std::chrono::seconds(15)};
    std::chrono::milliseconds renew_deadline{std::chrono::seconds(10)};
    std::chrono::milliseconds retry_period{std::chrono::seconds(2)};
    std::function<void()> on_started_leading;
    std::function<void()> on_stopped_leading;  ///< only after leading; not called by release()
    std::function<void(const std::string& identity)> on_new_leader;
    metrics::MetricsRegistry* metrics = nullptr;  ///< leader_election_master_status{name}
};

/// Thread safety: run() on one thread; stop(), release() and the observers from any thread.
class LeaderElector {
public:
    LeaderElector(kube::KubeClient& client, LeaderElectionConfig config,
                  const Clock& clock = SystemClock::instance());

    /// One attempt: read the lease and acquire or renew it. Returns true when we hold it
    /// afterwards.
    bool try_acquire_or_renew();

    /// Blocks: acquire (retrying every retry_period with jitter), call on_started_leading, renew
    /// until the lease is lost (on_stopped_leading) or stop() is called (then release()). Returns
    /// when done.
    void run();
    /// Makes run() return (releasing the lease if held). Safe from any thread.
    void stop();
    /// Gives up the lease now (holderIdentity cleared) if we hold it.
    Result<void> release();

    bool is_leader() const { return leader_.load(); }
    /// The holder last observed ("" when none).
    std::string observed_holder() const;
    const LeaderElectionConfig& config() const { return config_; }

private:
    bool sleep_for(std::chrono::milliseconds d);
    void set_leader(bool leading);
    nlohmann::json lease_spec(bool new_holder, const nlohmann::json* old_spec) const;

    kube::KubeClient& client_;
    LeaderElectionConfig config_;
    const Clock& clock_;
    kube::ResourceRef ref_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::atomic<bool> leader_{false};
    std::string observed_holder_;
    nlohmann::json observed_spec_;
    std::chrono::steady_clock::time_point observed_at_{};
    std::string observed_rv_;
    std::chrono::steady_clock::time_point last_renew_{};
};

/// A unique identity for this process: "<hostname>_<8 random hex>".
std::string default_leader_identity();

}  // namespace poetryops::runtime

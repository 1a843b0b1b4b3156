#pragma once
/// BuildPort in the cluster: each build is a `batch/v1` Job made by build::make_job, owned by its
/// PoetryApp and named by build::job_name, so a restarted controller finds the Job of a commit
/// again and never starts a second one. Jobs and their Pods are watched (informers with the
/// `poetryops.io/app` label selector, not polling); a change of either calls on_change with the
/// app's key. The local twin is local_builds.hpp.
///
///   KubeBuildPort port(client, {.job = job_options, .namespaces = {"team-a"}});
///   port.start(app, action);  // creates the Job; AlreadyExists is success
///   port.builds(app);         // read_job() of each of the app's Jobs, with their Pods
///
/// - Global concurrency (`--max-concurrent-builds`): a Job created while that many builds run is
///   created suspended (`spec.suspend: true`, reason "Queued") and resumed, oldest first, when a
///   slot frees. Suspension is the Job API's own queue: no Pod exists until it is resumed, and its
///   activeDeadlineSeconds counts from then.
/// - A failed build's message ends with the last lines of the failed container's log, read once
///   per Job from the pods/log API (bounded, redacted); the container's termination message when
///   the log cannot be read.
/// - Cancel deletes the Job (propagation Background: the garbage collector removes its Pods).
///
/// Thread safety: safe.

#include <poetryops/build/job.hpp>
#include <poetryops/controller/ports.hpp>
#include <poetryops/kube/client.hpp>
#include <poetryops/util/clock.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace poetryops::runtime {
class Informer;
}

namespace poetryops::controller {

struct KubeBuildOptions {
    build::JobOptions job;                ///< what the Jobs are made of (controller flags)
    std::vector<std::string> namespaces;  ///< the controller's --namespace list; empty: all
    int max_concurrent = 0;               ///< builds running at once over every app; 0: no limit
    int log_tail_lines = 40;              ///< of a failed container's log
    std::int64_t log_limit_bytes = 16 * 1024;
    /// How long the first call waits for the Job and Pod caches (a reconcile before they synced
    /// would take a running build for a vanished one).
    std::chrono::milliseconds sync_timeout{std::chrono::seconds(30)};
};

class KubeBuildPort final : public BuildPort {
public:
    KubeBuildPort(kube::KubeClient& client, KubeBuildOptions options,
                  const Clock& clock = SystemClock::instance());
    ~KubeBuildPort() override;  ///< stops the informers

    Result<std::vector<build::JobObservation>> builds(const api::PoetryApp& app) override;
    Result<void> start(const api::PoetryApp& app, const build::Action& start) override;
    Result<void> cancel(const api::PoetryApp& app, const std::string& name) override;
    void on_change(std::function<void(const std::string& app_key)> fn) override;

private:
    struct Watch {
        std::string namespace_;  ///< "" : all namespaces
        std::unique_ptr<runtime::Informer> jobs, pods;
    };
    /// Starts the informers on first use and waits for their caches; errors name what could not be
    /// listed (RBAC, the API server down).
    Result<void> ensure_started();
    Watch* watch_for(const std::string& namespace_);
    void changed_job(const nlohmann::json& job);
    void changed_pod(const Watch& w, const nlohmann::json& pod);
    /// Resumes suspended Jobs, oldest first, while fewer than max_concurrent run.
    void resume_queued();
    /// The log tail of a failed build, read once per Job uid.
    std::string failure_log(const std::string& namespace_, const std::string& job_uid,
                            const build::JobObservation& observed);

    kube::KubeClient& client_;
    KubeBuildOptions options_;
    const Clock& clock_;
    std::mutex start_mu_;  // serialises ensure_started
    bool started_ = false;
    std::vector<Watch> watches_;  // fixed once started_
    std::mutex resume_mu_;
    std::set<std::string> resumed_;  // ns/name resumed, not yet seen resumed (under resume_mu_)
    /// A build ended or a Job went away since the last resume_queued (true at start: the first
    /// read after a restart resumes what the previous process left queued).
    std::atomic<bool> slot_freed_{true};
    std::mutex mu_;
    std::function<void(const std::string&)> on_change_;  // under mu_
    std::set<std::string> created_;                      // ns/name, not yet cached
    std::map<std::string, std::string> logs_;            // by Job uid
};

}  // namespace poetryops::controller

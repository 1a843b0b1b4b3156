#pragma once
/// The promotion reconciler: observe (registry, git, health) → plan (promote::plan, pure) → act
/// (commit through the committer) → the status to write. Runtime-agnostic: the in-cluster
/// controller and local mode both call it.

#include <poetryops/controller/analysis_port.hpp>
#include <poetryops/controller/ports.hpp>
#include <poetryops/util/clock.hpp>

#include <chrono>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::controller {

struct PromotionOutcome {
    api::PoetryAppStatus status;  ///< write it when it differs from what is stored
    std::vector<promote::Event> events;
    std::vector<promote::PromoteAction> committed;  ///< promotions that reached git this time
    std::optional<std::chrono::milliseconds> requeue_after;
    /// A dependency (registry, git) failed: status carries Degraded=True, nothing was promoted;
    /// retry with backoff.
    std::optional<Error> error;
};

/// A reconcile whose edits were handed to the committer: the plan's outcome and one future per
/// action. finish() waits for them and records the result.
struct PendingPromotion {
    api::PoetryApp app;        ///< as planned
    PromotionOutcome outcome;  ///< the plan's status (phase Promoting), events and timer
    std::vector<promote::PromoteAction> actions;
    std::vector<std::future<Result<git::EditOutcome>>> commits;  ///< one per action
    bool planned = false;  ///< false: observation failed before planning (Degraded is set)
    /// True when every commit has its outcome (finish() will not block).
    bool ready() const;
};

/// Thread safety: reconcile(), begin() and finish() may run concurrently for different apps (ports
/// must be thread-safe).
/// Degraded=True with the error's reason (CamelCase) and message, or Degraded=False (AsExpected)
/// when `error` is null. The one writer of Degraded, for the promotion and the build halves.
void set_degraded(api::PoetryAppStatus& status, const api::PoetryApp& app, const Error* error,
                  Clock::time_point now);

class PromotionReconciler {
public:
    /// `analysis` (may be null: a due round is then unavailable) runs canary analysis rounds;
    /// `traffic` (may be null: local mode) reads and sets the live routes of `canary.mode:
    /// cluster`; `approvals` (may be null: local mode, the annotation only) reads PoetryApprovals.
    PromotionReconciler(GitOpsPort& gitops, ArtifactPort& artifacts, HealthPort* health,
                        const Clock& clock, AnalysisPort* analysis = nullptr,
                        TrafficPort* traffic = nullptr, ApprovalPort* approvals = nullptr);

    /// Reconciles one app whose spec has passed validation (api::validate): begin() then finish().
    /// Never throws.
    PromotionOutcome reconcile(const api::PoetryApp& app);

    /// Observes, plans and submits every action's edit at once without waiting for git.
    /// `on_committed` (optional) is called once, from the committer's thread, when the last of
    /// those edits has its outcome. With no action the pending promotion is already ready().
    PendingPromotion begin(const api::PoetryApp& app, std::function<void()> on_committed = {});
    /// Waits for the pending edits and records each outcome (history, Promoted or CommitFailed
    /// events, Degraded). Returns the whole outcome; the events added here follow the plan's.
    PromotionOutcome finish(PendingPromotion pending);

private:
    promote::Observations observe(const api::PoetryApp& app, PromotionOutcome& out);
    promote::HealthObservation observe_health(const api::PoetryApp& app,
                                              const api::EnvironmentSpec& env,
                                              const api::EnvironmentStatus* status);
    /// The health gate read for the last canary commit: Argo CD or Flux synced to it and
    /// healthy, or the canary workload's Deployment rolled out with the canary's digest.
    canary::HealthView observe_canary_health(const api::PoetryApp& app,
                                             const api::EnvironmentSpec& env,
                                             const api::EnvironmentStatus* status);
    /// Fills view.own when git (or the live route) differs from status' canary: the newest canary
    /// commit of the environment after status' one, or the live weights poetryops wrote.
    void find_own_write(const api::PoetryApp& app, const api::EnvironmentSpec& env,
                        const api::EnvironmentStatus* status, canary::GitView& view,
                        const Result<LiveWeights>* live);
    git::EditRequest edit_request(const api::PoetryApp& app, const promote::PromoteAction& action,
                                  const promote::Observations& obs) const;
    /// Cluster mode canary actions: sets the live route's weight (before the commit, so an abort
    /// takes the traffic away at once); nullopt for any other action.
    std::optional<Result<void>> set_live_weights(const api::PoetryApp& app,
                                                 const promote::PromoteAction& action);

    GitOpsPort& gitops_;
    ArtifactPort& artifacts_;
    HealthPort* health_;
    const Clock& clock_;
    AnalysisPort* analysis_;
    TrafficPort* traffic_;
    ApprovalPort* approvals_;
};

/// The file of an environment that holds the pin: path + "/" + update.effective_file() (normalised,
/// no "./").
std::string environment_file(const api::EnvironmentSpec& env);

/// The image name the environment's manifests use for the app: update.image, else
/// spec.image.repository.
std::string environment_image_name(const api::PoetryAppSpec& spec, const api::EnvironmentSpec& env);

/// Where a canary's route is looked for when canary.traffic.file is empty: this file in the
/// environment's folder, then the environment's update file.
inline constexpr std::string_view kDefaultRouteFile = "route.yaml";

/// A file that may hold a canary's route, as read from git (nullopt: it does not exist).
struct RouteFile {
    std::string path;
    std::optional<std::string> text;
};

/// The files a git-mode canary's route is read from: traffic.file, or, when empty, route.yaml and
/// then the update file (the route must be in exactly one).
std::vector<std::string> route_files(const api::EnvironmentSpec& env);

/// The namespace of a cluster-mode canary's live route: traffic.namespace, else the app's.
std::string route_namespace(const api::PoetryApp& app, const api::CanarySpec& canary);

/// What a canary environment says (docs/canary.md "The environment's folder"): the canary weight
/// of `traffic.route` (git mode: in `routes`, which must hold it exactly once; cluster mode:
/// `live`, null in local mode) and the digest the canary workload pins in the environment's update
/// file. read_ok false names the file or object and what is wrong (update.kind not manifest, no
/// such file, route, backend or canary workload, the route in two files, the live route
/// unreadable).
canary::GitView observe_canary(const api::PoetryApp& app, const api::EnvironmentSpec& env,
                               const std::string& update_text, const std::vector<RouteFile>& routes,
                               const Result<LiveWeights>* live = nullptr);

}  // namespace poetryops::controller

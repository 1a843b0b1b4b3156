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
#include <vector>

namespace poetryops::controller {

struct PromotionOutcome {
    api::PoetryAppStatus status;  ///< write it when it differs from what is stored
    std::vector<promote::Event> events;
    std::vector<promote::PromoteAction> committed;  ///< promotions that reached git this time
    std::optional<std::chrono::seconds> requeue_after;
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
    /// `analysis` (may be null: a due round is then unavailable) runs canary analysis rounds.
    PromotionReconciler(GitOpsPort& gitops, ArtifactPort& artifacts, HealthPort* health,
                        const Clock& clock, AnalysisPort* analysis = nullptr);

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
    git::EditRequest edit_request(const api::PoetryApp& app,
                                  const promote::PromoteAction& action) const;

    GitOpsPort& gitops_;
    ArtifactPort& artifacts_;
    HealthPort* health_;
    const Clock& clock_;
    AnalysisPort* analysis_;
};

/// The file of an environment that holds the pin: path + "/" + update.effective_file() (normalised,
/// no "./").
std::string environment_file(const api::EnvironmentSpec& env);

/// The image name the environment's manifests use for the app: update.image, else
/// spec.image.repository.
std::string environment_image_name(const api::PoetryAppSpec& spec, const api::EnvironmentSpec& env);

/// What a canary environment's folder says (docs/canary.md "The environment's folder"): the canary
/// weight of `traffic.route` in `traffic.file`, and the digest the canary workload pins in the
/// environment's update file. read_ok false names the file and what is wrong (update.kind not
/// manifest, no traffic.file, no such route or backend, no canary workload).
canary::GitView observe_canary(const api::PoetryApp& app, const api::EnvironmentSpec& env,
                               const std::string& update_text,
                               const std::optional<std::string>& route_text);

}  // namespace poetryops::controller

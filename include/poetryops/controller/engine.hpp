#pragma once
/// The controller engine: the one reconcile that `poetryops controller`, `poetryops run` and the
/// demo all run, and the named triggers that make an app be reconciled again.
///
///   trigger (spec change, registry push, commit done, timer, …) ─► the runtime's one queue of apps
///   ─► Engine::reconcile(app, validation errors)
///        validate        Ready=False/InvalidSpec and nothing else, or
///        build           (spec.build) BuildReconciler: source, builds, registry
///                        → build::plan (pure) → start / cancel builds, verify tags
///                        (builds.hpp)
///        promote         PromotionReconciler::begin: observe → promote::plan (pure) → submit edits
///        commits done    PromotionReconciler::finish: record history, Promoted events, Degraded
///   ─► the desired status (the runtime writes it: status subresource, or a JSON file)
///
/// A reconcile never waits for git: it hands its edits to the committer and returns with
/// `commits_in_flight`; the committer's outcome fires a `commit_done` trigger, and the next
/// reconcile of that app records it. So every edit queued while a commit is pushed joins the next
/// commit, whatever the number of workers.
///
/// The runtimes: `AppReconciler` (status subresource; triggers become workqueue keys through the
/// informers' repository index) and `LocalRunner` (files; triggers wake its next pass). Ports are
/// built by make_ports() (wiring.hpp), the same function for both.

#include <poetryops/api/poetryapp.hpp>
#include <poetryops/api/validation.hpp>
#include <poetryops/controller/builds.hpp>
#include <poetryops/controller/notifications.hpp>
#include <poetryops/controller/promotion.hpp>
#include <poetryops/controller/wiring.hpp>
#include <poetryops/git/webhook.hpp>
#include <poetryops/registry/webhook.hpp>
#include <poetryops/util/clock.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::controller::detail {
class WebhookListener;
}

namespace poetryops::controller {

/// Why an app is reconciled again.
enum class TriggerKind {
    spec_change,    ///< the PoetryApp was created or changed (informer event, a re-read file)
    registry_push,  ///< a registry webhook named the app's image repository
    source_push,    ///< a source webhook named the app's spec.source repository
    poll_tick,      ///< the policy's poll interval passed (the fallback when webhooks are missing)
    health_change,  ///< a health gate's object changed (the cluster's HealthPort watches them)
    timer,          ///< a planned time arrived (soak, health timeout, promotion window)
    commit_done,    ///< the committer has the outcome of the app's edits
    build_done,     ///< one of the app's builds changed phase (started, finished, failed)
    approval_change,    ///< a PoetryApproval naming the app was created, changed or deleted
    notification_done,  ///< a notification of the app was delivered or gave up (record it)
};
std::string_view to_string(TriggerKind kind);

struct Trigger {
    TriggerKind kind = TriggerKind::spec_change;
    /// "namespace/name" of one app; empty: every app that `repository`, `object` or `source_urls`
    /// concern.
    std::string key;
    /// registry_push: the pushed "registry/repository"; the apps whose spec.image.repository names
    /// it.
    std::string repository;
    /// health_change: HealthObjectRef::key() of the object that changed; the apps whose health
    /// gates read it (health_object()).
    std::string object;
    /// source_push: every URL the forge gave for the pushed repository; the apps whose
    /// spec.source.repoURL names one of them (git::names_repository).
    std::vector<std::string> source_urls;
};

/// Where triggers go: the runtime's queue. Called from any thread (webhook handlers, the
/// committer's thread); must not block.
using TriggerSink = std::function<void(const Trigger&)>;

/// The canary metrics (docs/operations.md "Metrics").
inline constexpr std::string_view kCanaryStepsMetric = "poetryops_canary_steps_total";
inline constexpr std::string_view kCanaryWeightMetric = "poetryops_canary_weight";

struct EngineOptions {
    /// The promotion engine's ports; nullopt: validation and status only (`--no-promotion`).
    std::optional<PortsOptions> ports;
    /// Registry webhooks: "host:port" or ":port" for POST /webhooks/registry; empty: none.
    std::string webhook_address;
    registry::WebhookConfig webhook;  ///< bearer token or HMAC secret for the receiver
    /// POST /webhooks/source on the same address: the forges' secret; empty: not served.
    git::SourceWebhookConfig source_webhook;
    /// Where poetryops_builds_total and poetryops_build_duration_seconds go; null: nowhere.
    metrics::MetricsRegistry* metrics = nullptr;
    /// Where spec.notifications[].urlFrom and hmacKeyFrom are read: the API in the cluster
    /// (kube_secret_source), files in local mode (local_secret_source). Used once a notifier is
    /// set (set_notifier).
    SecretSource secrets;
};

/// What one reconcile decided.
struct EngineOutcome {
    api::PoetryAppStatus status;          ///< the desired status; write it when it differs
    std::vector<api::FieldError> errors;  ///< validation problems (empty: valid)
    bool ready_changed = false;  ///< the Ready condition changed (status, reason or message)
    std::vector<promote::Event> events;             ///< to record, in order
    std::vector<promote::PromoteAction> committed;  ///< promotions that reached git this time
    /// The earliest planned time (soak, health timeout); the poll interval is `poll`.
    std::optional<std::chrono::milliseconds> timer;
    std::chrono::milliseconds poll{0};  ///< the policy's poll interval (0: no promotion)
    std::optional<Error> error;         ///< a dependency failed (Degraded=True): retry with backoff
    bool commits_in_flight = false;     ///< edits are with the committer; commit_done follows
};

/// Thread safety: reconcile() runs concurrently for different apps, never twice at once for one
/// app (both runtimes guarantee it); the rest is safe from any thread.
class Engine {
public:
    /// Builds the ports (when promotion is on); binds nothing yet.
    static Result<std::unique_ptr<Engine>> create(EngineOptions options, const Clock& clock);
    virtual ~Engine();

    /// Where triggers go; set before start().
    void set_sink(TriggerSink sink);
    /// Starts the registry webhook receiver, if configured. A push drops the cached tag list of its
    /// repository, hints the pushed tag, and fires registry_push.
    Result<void> start();
    /// Stops the webhook receiver. Commits in flight still complete.
    void stop();
    std::uint16_t webhook_port() const;

    /// The one reconcile. `app` is decoded (defaults applied) and carries its stored status;
    /// `errors` are its validation problems.
    virtual EngineOutcome reconcile(const api::PoetryApp& app, std::vector<api::FieldError> errors);
    /// Waits until every edit handed to the committer has its outcome (local mode's passes).
    void wait_for_commits();

    /// Sends spec.notifications through `notifier` (not owned; null: none are sent). Set before
    /// start(); the notifier's outcomes must come to notification_done() until it is stopped,
    /// which happens before the engine is destroyed.
    void set_notifier(notify::Notifier* notifier);
    /// The notifier's callback: records the outcome and fires notification_done for the app.
    void notification_done(const notify::Outcome& outcome);
    /// Waits until every notification handed to the notifier has its outcome, at most `timeout`
    /// (`run --once` before its last pass); true when none is left.
    bool wait_for_notifications(std::chrono::milliseconds timeout);
    /// Notification outcomes recorded so far (0 without a notifier).
    std::size_t notification_outcomes() const;
    /// Drops what is kept for an app that was deleted (also its poetryops_canary_weight series).
    void forget(const std::string& key);

    /// Null when promotion is off.
    Ports* ports() { return ports_.get(); }
    void fire(const Trigger& trigger);

protected:
    /// Validation and status only.
    explicit Engine(const Clock& clock);

private:
    struct InFlight {
        PendingPromotion pending;
        std::size_t planned_events = 0;  ///< events already returned with the plan
    };
    EngineOutcome reconcile_app(const api::PoetryApp& app, std::vector<api::FieldError> errors);
    void on_push(const std::vector<registry::PushEvent>& events);
    void on_source_push(const git::PushEvent& push);
    /// Folds the build half's Ready, timer and error into the promotion half's outcome.
    void merge_build(EngineOutcome& out, const BuildOutcome& built, const api::PoetryApp& app);
    /// poetryops_canary_steps_total for the canary actions `out` committed, and
    /// poetryops_canary_weight for each canary in its status.
    static void count_canaries(metrics::MetricsRegistry& m, const std::string& key,
                               const EngineOutcome& out);

    const Clock& clock_;
    EngineOptions options_;
    std::mutex mu_;
    TriggerSink sink_;
    std::map<std::string, std::shared_ptr<InFlight>> in_flight_;  // by app key
    // Declared last, destroyed first: the committers finish their queues (and call fire()) while
    // the members above still exist.
    std::unique_ptr<Ports> ports_;
    std::unique_ptr<PromotionReconciler> promotion_;
    std::unique_ptr<BuildReconciler> builds_;  // when the ports can build
    std::unique_ptr<detail::WebhookListener> webhooks_;
    std::unique_ptr<Notifications> notifications_;  // with a notifier
};

/// The validation half of Ready, owned here for every runtime: Ready=False with reason
/// InvalidSpec and the field paths when `errors` is not empty, else Ready=True/ValidSpec;
/// observedGeneration. With `planner_decides` (the promotion planner runs next and refines Ready)
/// a valid spec leaves a Ready the planner set (Held, PromotionFailed, CanaryBlocked, AsExpected)
/// as it is: flipping it to True/ValidSpec first would move its lastTransitionTime on every pass
/// and rewrite status for nothing. Returns true when Ready changed.
bool set_validation_status(api::PoetryAppStatus& status, const api::PoetryApp& app,
                           const std::vector<api::FieldError>& errors,
                           std::chrono::system_clock::time_point now, bool planner_decides = false);

}  // namespace poetryops::controller

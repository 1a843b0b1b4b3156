#pragma once
/// The typed `poetryops.io/v1alpha1` `PoetryApp`: spec (what the user asks for) and status (what
/// the controller observed and did). Every field is documented in docs/api.md; the CRD is
/// crds/poetryops.io_poetryapps.yaml. Defaults written in the member initialisers are exactly the
/// CRD's `default:` values (a test compares them).

#include <poetryops/api/conditions.hpp>
#include <poetryops/api/duration.hpp>
#include <poetryops/api/enums.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::api {

inline constexpr std::string_view kGroup = "poetryops.io";
inline constexpr std::string_view kVersion = "v1alpha1";
inline constexpr std::string_view kApiVersion = "poetryops.io/v1alpha1";
inline constexpr std::string_view kKind = "PoetryApp";
inline constexpr std::string_view kPlural = "poetryapps";
/// Annotation prefixes the promotion engine reads: `poetryops.io/approve.<env>: sha256:…`,
/// `poetryops.io/rollback.<env>: sha256:…`, `poetryops.io/release.<env>: "<anything>"` (releases a
/// hold).
inline constexpr std::string_view kApproveAnnotationPrefix = "poetryops.io/approve.";
inline constexpr std::string_view kRollbackAnnotationPrefix = "poetryops.io/rollback.";
inline constexpr std::string_view kReleaseAnnotationPrefix = "poetryops.io/release.";
/// `poetryops.io/hold.<env>: "<why>"` (any non-empty value): no new promotion or canary step in
/// that environment while it is set; rollbacks still apply.
inline constexpr std::string_view kHoldAnnotationPrefix = "poetryops.io/hold.";
/// `poetryops.io/canary.<env>: pause|resume|abort|promote@sha256:…` steers the canary of that
/// digest (canary/plan.hpp).
inline constexpr std::string_view kCanaryAnnotationPrefix = "poetryops.io/canary.";

/// A reference to a Secret in the PoetryApp's namespace.
struct SecretRef {
    std::string name;
};

/// One key of a Secret in the PoetryApp's namespace (`secretKeyRef`).
struct SecretKeyRef {
    std::string name;
    std::string key;
};

/// spec.notifications[]: where the engine's decisions are sent (docs/notifications.md). The URL
/// and the HMAC key are secrets: read when a delivery is made, never logged or written to status.
struct NotificationSpec {
    std::string name;  ///< DNS-1123 label, unique; names the target in status and Events
    NotificationType type = NotificationType::webhook;
    SecretKeyRef url_from;                      ///< urlFrom.secretKeyRef: the receiver's URL
    std::optional<SecretKeyRef> hmac_key_from;  ///< hmacKeyFrom.secretKeyRef: webhook only
    /// The Event reasons sent; default: all of them.
    std::vector<NotificationEvent> events = all_notification_events();

    /// `events` holds `e`.
    bool wants(NotificationEvent e) const;
    static std::vector<NotificationEvent> all_notification_events();
};

/// Where the Poetry project's source lives (needed only when `build` is set).
struct SourceSpec {
    std::string repo_url;  ///< repoURL: https://, http://, ssh://, scp-like git@host:path, file://
    std::string ref = "main";  ///< branch (or tag) to follow
    std::string path = ".";    ///< the project folder inside the repo (holds pyproject.toml)
    std::optional<SecretRef> secret_ref;  ///< git credentials
    Duration poll_interval{"5m"};         ///< fallback polling when no webhook arrives
};

/// Which images of the repository are eligible for the first environment.
struct ImagePolicy {
    std::string versions;           ///< PEP 440 specifier set, e.g. ">=1.4,<2"; empty: any version
    bool allow_prerelease = false;  ///< admit a1/b1/rc1/dev versions
    Duration poll_interval{"5m"};   ///< fallback registry polling when no webhook arrives
};

struct ImageSpec {
    std::string repository;  ///< e.g. registry.example.com/acme/billing (no tag, no digest)
    std::optional<SecretRef> secret_ref;  ///< registry credentials (a dockerconfigjson Secret)
    /// placeholders: {version} {shortSha} {sha} {ref}
    std::string tag_template = "{version}-{shortSha}";
    ImagePolicy policy;
};

struct BuildSpec {
    BuildEngine engine = BuildEngine::buildkit;
    std::string dockerfile = "generate";  ///< "generate" or a path relative to source.path
    std::string python;                   ///< "3.12"; empty: the lowest version pyproject allows
    std::string poetry;                   ///< "1.8.3"; empty: the generator's pinned default
    Duration timeout{"30m"};
    /// A newer commit cancels the build of an older one (true), or waits for it to finish (false).
    bool cancel_outdated = true;
};

struct GitOpsSpec {
    std::string repo_url;
    std::string branch = "main";
    std::optional<SecretRef> secret_ref;
};

/// How the pinned image is written into an environment's folder.
struct UpdateSpec {
    UpdateKind kind = UpdateKind::kustomize;
    std::string file;  ///< empty: kustomization.yaml (kustomize), values.yaml (helm), every *.yaml
                       ///< (manifest)
    /// kustomize `images[].name` / container image to match; empty: image.repository
    std::string image;
    std::string tag;        ///< helm: dotted values path of the tag; empty: "image.tag"
    std::string digest;     ///< helm: dotted values path of the digest; empty: the digest goes into
                            ///< the tag value
    std::string container;  ///< manifest: only containers with this name; empty: any container
                            ///< running the image

    /// The file to edit, with the per-kind default applied.
    std::string effective_file() const;
    /// The helm values path of the tag, with the default applied.
    std::string effective_tag_path() const;
};

/// promotion.approval: who must approve a digest before it moves into the environment
/// (docs/promotion.md#approvals).
struct ApprovalSpec {
    bool required = false;  ///< wait for approvals (`auto: false` implies it)
    int approvers = 1;      ///< distinct people who must approve the same digest, >= 1
    /// When set, only approvers in at least one of these groups (from the API server's userInfo)
    /// count.
    std::vector<std::string> groups;
};

/// promotion.windows[]: when promotions into the environment may happen
/// (docs/promotion.md#promotion-windows). Occurrences of an RFC 5545 rule, each `duration` long.
struct PromotionWindow {
    std::string rrule;  ///< e.g. FREQ=WEEKLY;BYDAY=MO,TU,WE,TH;BYHOUR=9,10,11 (schedule/window.hpp)
    Duration duration{""};  ///< how long each occurrence is open (elapsed time); required
    WindowKind kind = WindowKind::allow;
    std::string timezone = "UTC";  ///< IANA zone the rule's hours are in
    bool block_rollbacks = false;  ///< rollbacks obey this window too
};

struct PromotionSpec {
    std::string from;          ///< upstream environment; empty: the environment listed before
    bool auto_promote = true;  ///< `auto`: promote without a user action once gates pass
    Duration soak{"0s"};       ///< how long `from` must have been healthy with the digest
    /// `holdNewer`: with a soak, `from` keeps the digest soaking for this environment until this
    /// environment has taken it, and only then takes a newer one (frequent builds would otherwise
    /// restart the soak forever)
    bool hold_newer = true;
    /// `approval.required`: wait for PoetryApprovals (or `poetryops.io/approve.<env>: <digest>`)
    ApprovalSpec approval;
    /// Allow and deny windows (deny wins) for promotions, automatic or approved; rollbacks only
    /// obey the windows with blockRollbacks.
    std::vector<PromotionWindow> windows;
};

struct ArgoCdHealth {
    std::string application;
    std::string namespace_ = "argocd";
};
struct FluxHealth {
    std::string kustomization;
    std::string namespace_ = "flux-system";
};
struct DeploymentHealth {
    std::string name;
    std::string namespace_;  ///< empty: the PoetryApp's namespace
};

/// At most one of argocd / flux / deployment; none set means `none` (healthy once pushed).
struct HealthSpec {
    std::optional<ArgoCdHealth> argocd;
    std::optional<FluxHealth> flux;
    std::optional<DeploymentHealth> deployment;
    Duration timeout{
        "15m"};  ///< not healthy within this after the push: the environment becomes Failed

    HealthKind kind() const;
};

struct TrafficSpec {
    TrafficKind kind = TrafficKind::gateway_api;
    /// HTTPRoute / VirtualService / Ingress / TrafficSplit / TraefikService name
    std::string route;
    std::string stable;  ///< stable Service
    std::string canary;  ///< canary Service
    /// git mode: file in the environment folder holding the route; empty: route.yaml, else the
    /// update file (the one of them that holds it)
    std::string file;
    /// cluster mode: the live route's namespace; empty: the app's
    std::string namespace_;
};

struct CanaryStep {
    int weight = 0;        ///< percent of traffic to the canary, 1..100, strictly increasing
    Duration pause{"1m"};  ///< time at this weight before the next step
};

struct MetricSpec {
    std::string name;   ///< built-in (success-rate, latency-p99-ms) or any name with a query
    std::string query;  ///< PromQL; empty: the built-in query of `name`
    std::optional<double> min;  ///< fails when the value is below
    std::optional<double> max;  ///< fails when the value is above
    /// compare judge: which way of a difference from the baseline fails; unset: by name
    /// (effective_direction()).
    std::optional<MetricDirection> direction;

    /// `direction` when set, else by name: success-rate → lower_is_worse, latency-p99-ms →
    /// higher_is_worse, any other metric → either.
    MetricDirection effective_direction() const;
};

struct PrometheusSpec {
    std::string address;  ///< http(s)://host:port
    /// Credentials and trust in the PoetryApp's namespace: keys `token` (a bearer token) or
    /// `username` and `password` (basic auth), and optionally `ca.crt` (PEM) to verify https.
    std::optional<SecretRef> secret_ref;
};

struct AnalysisSpec {
    PrometheusSpec prometheus;
    std::vector<MetricSpec> metrics;
    Duration interval{"1m"};
    std::int64_t min_requests = 0;  ///< fewer requests in an interval: inconclusive, the step waits
    int failure_limit = 2;          ///< failed checks that abort the canary and roll back
    CanaryJudge judge = CanaryJudge::threshold;
    /// inconclusive rounds in a row that count as a failure (no data, too little traffic)
    int inconclusive_limit = 3;
    /// Prometheus unreachable or erroring: hold at the current weight, or abort
    OnUnavailable on_unavailable = OnUnavailable::hold;
    /// compare: a shift counts only when its interval clears ±tolerance·|shift|; in (0, 1]
    double tolerance = 0.25;
    /// compare: confidence level of the shift's interval; in (0.5, 1)
    double confidence = 0.98;
};

struct CanarySpec {
    CanaryMode mode = CanaryMode::git;
    TrafficSpec traffic;
    std::vector<CanaryStep> steps = default_canary_steps();
    std::optional<AnalysisSpec> analysis;
    /// The canary workload (a Deployment, StatefulSet, … in the environment's folder, by
    /// metadata.name) whose container image the canary pins; empty: traffic.canary.
    std::string workload;

    /// `workload`, or traffic.canary when empty (the canary Service's name, e.g. billing-canary).
    std::string effective_workload() const;

    static std::vector<CanaryStep> default_canary_steps() {
        return {{10, Duration("5m")}, {50, Duration("5m")}};
    }
};

struct EnvironmentSpec {
    std::string name;  ///< DNS-1123 label, unique
    std::string path;  ///< folder in the GitOps repo, relative
    UpdateSpec update;
    PromotionSpec promotion;
    HealthSpec health;
    std::optional<CanarySpec> canary;

    /// A promotion into it waits for an approval: promotion.approval required, or no autoPromote.
    bool needs_approval() const;
};

struct PoetryAppSpec {
    std::optional<SourceSpec> source;
    ImageSpec image;
    std::optional<BuildSpec> build;  ///< absent: track images built elsewhere
    GitOpsSpec gitops;
    std::vector<EnvironmentSpec> environments;
    int history_limit = 10;  ///< promotions kept in status.history
    bool suspend = false;    ///< true: observe and report, never act
    /// Where decisions are sent (webhook, Slack, Teams); empty: nowhere.
    std::vector<NotificationSpec> notifications;

    /// The upstream environment of environments[i]: promotion.from, else the one listed before;
    /// nullopt for the first.
    std::optional<std::string> upstream_of(std::size_t i) const;
    const EnvironmentSpec* find_environment(std::string_view name) const;
};

/// One metric's result in the last analysis round (status.environments[].canary.analysis[]).
struct MetricResult {
    std::string name;  ///< the metric's name; "requests" for the minRequests check
    /// The value judged (compare: the estimated shift canary − baseline); unset when there was
    /// none. Only finite values are written.
    std::optional<double> value;
    std::string bound;  ///< what it was judged against, e.g. ">= 0.99", "<= 500", "vs stable"
    AnalysisVerdict verdict = AnalysisVerdict::inconclusive;
    std::string message;  ///< one human line, e.g. "success-rate 0.95 is below min 0.99"
};

/// Where an environment's canary is (status.environments[].canary).
struct CanaryStatus {
    CanaryPhase phase = CanaryPhase::progressing;
    // The canary's artifact.
    std::string version;  ///< PEP 440 version
    std::string tag;      ///< image tag
    std::string digest;   ///< sha256:…
    int step = 0;         ///< index into spec.environments[].canary.steps
    int weight = 0;       ///< percent of traffic the canary gets now
    std::optional<std::chrono::system_clock::time_point> started;        ///< the canary began
    std::optional<std::chrono::system_clock::time_point> step_started;   ///< the current step began
    std::optional<std::chrono::system_clock::time_point> last_analysis;  ///< the last round ended
    int failures = 0;      ///< failed analysis rounds so far (failureLimit aborts)
    int inconclusive = 0;  ///< inconclusive rounds in a row (inconclusiveLimit counts a failure)
    std::vector<MetricResult> analysis;  ///< the last round, one entry per check
    std::string commit;                  ///< the last canary commit (git mode)
    std::string message;                 ///< one human line
};

/// What one environment runs and where it is in its pipeline.
/// The artifact next in line for an environment that it has not taken yet, and why not.
struct WaitingArtifact {
    std::string version;
    std::string tag;
    std::string digest;
    std::string reason;  ///< WaitingForApproval, Soaking, HeldForDownstream, …

    bool operator==(const WaitingArtifact&) const = default;
};

/// status.environments[].window: the promotion windows of the environment, evaluated at the last
/// reconcile.
struct WindowStatus {
    bool open = true;
    std::optional<std::chrono::system_clock::time_point> next_open;   ///< within a year
    std::optional<std::chrono::system_clock::time_point> next_close;  ///< within a year
    std::string message;  ///< while closed: which window keeps it closed

    bool operator==(const WindowStatus&) const = default;
};

/// One approval or rejection seen for an environment (status.environments[].approvals[]): a
/// PoetryApproval, or the `poetryops.io/approve.<env>` annotation. Also what the controller
/// observes and hands the planner (promote::Observations::approvals).
struct ApprovalRecord {
    std::string name;                 ///< the PoetryApproval's name, or the annotation's key
    std::string digest;               ///< sha256:… it approves or rejects
    std::string approver;             ///< the user; "" when unknown (annotation)
    std::vector<std::string> groups;  ///< the approver's groups (webhook only)
    IdentitySource source = IdentitySource::annotation;
    ApprovalDecision decision = ApprovalDecision::approve;
    std::string reason;                                         ///< why, for a rejection
    std::optional<std::chrono::system_clock::time_point> time;  ///< created
    /// status only: what the planner made of it ("counts for …", "ignored: … is not waiting …")
    std::string message;

    /// "alice (webhook)", "unknown (annotation)": the Poetryops-Approved-By trailer value.
    std::string who() const;
};

struct EnvironmentStatus {
    std::string name;
    std::string version;  ///< PEP 440 version of the artifact running there
    std::string tag;
    std::string digest;  ///< sha256:…
    std::string commit;  ///< GitOps commit that pinned it
    Phase phase = Phase::pending;
    std::optional<std::chrono::system_clock::time_point> since;  ///< when phase last changed
    std::string reason;      ///< CamelCase machine reason for the phase
    std::string message;     ///< one human line
    bool held = false;       ///< someone else changed the pinned image in git
    std::string held_image;  ///< what git pins while held
    /// Digests that failed their health gate or were rolled back here, newest first (at most 20).
    /// The promotion engine never promotes these into this environment or any environment
    /// downstream of it.
    std::vector<std::string> rejected_digests;
    /// The canary of this environment, while one runs and after it ended (until the next starts).
    std::optional<CanaryStatus> canary;
    /// What comes next here once its gate opens (an approval, a soak, a downstream soak).
    std::optional<WaitingArtifact> waiting;
    /// Approvals and rejections seen for this environment, newest first (at most 20).
    std::vector<ApprovalRecord> approvals;
    /// Set when spec.environments[].promotion.windows is not empty.
    std::optional<WindowStatus> window;

    /// `digest` is in rejected_digests.
    bool rejected(std::string_view digest) const;
};

struct HistoryEntry {
    std::string environment;
    HistoryKind kind = HistoryKind::promote;
    std::string version;
    std::string tag;
    std::string digest;
    std::string commit;
    std::optional<std::chrono::system_clock::time_point> time;
    std::string reason;
};

/// The newest eligible artifact seen for the first environment.
struct ArtifactStatus {
    std::string version;
    std::string tag;
    std::string digest;
    std::string source_commit;
    std::optional<std::chrono::system_clock::time_point> discovered_at;
};

/// One build of a source commit (status.builds[]).
struct BuildStatus {
    std::string commit;   ///< the source commit, 40 hex
    std::string version;  ///< PEP 440 version from its pyproject.toml
    std::string tag;      ///< the rendered image tag
    std::string digest;  ///< sha256:…: the builder's report (Running: being verified), or adopted
    BuildEngine engine = BuildEngine::buildkit;
    BuildPhase phase = BuildPhase::pending;
    std::optional<std::chrono::system_clock::time_point> start_time;
    std::string duration;  ///< Go duration from start to the end ("2m31s"); empty while running
    std::string job_name;  ///< the Job that builds it; empty when nothing ran (adopted, refused)
    std::string reason;    ///< CamelCase (api/conditions.hpp: Built, StaleLock, BuildFailed, …)
    std::string message;   ///< one human line
};

/// Delivery keys kept per notification target in status.notifications[].keys besides those of
/// facts still current (at most 4 per environment and one build: they must stay, or they would be
/// sent again).
inline constexpr std::size_t kNotificationKeysKept = 20;

/// The last delivery to a target that gave up (retries exhausted, or a 4xx).
struct NotificationFailure {
    std::string key;      ///< its dedup key
    std::string event;    ///< the Event reason, e.g. "Promoted"
    std::string message;  ///< the last error, never the URL
    std::optional<std::chrono::system_clock::time_point> time;
};

/// status.notifications[]: what was sent to one target, so a restarted controller does not send it
/// again (docs/notifications.md#deduplication).
struct NotificationStatus {
    std::string name;  ///< spec.notifications[].name
    /// Dedup keys whose delivery ended (delivered, or given up: lastFailure), oldest first: those
    /// of facts still current and the kNotificationKeysKept newest others.
    std::vector<std::string> keys;
    /// Set when a delivery gave up; cleared by the target's next delivered one.
    std::optional<NotificationFailure> last_failure;
};

struct PoetryAppStatus {
    std::int64_t observed_generation = 0;
    std::vector<Condition> conditions;
    std::vector<EnvironmentStatus> environments;
    std::vector<HistoryEntry> history;  ///< newest first, at most spec.historyLimit
    std::optional<ArtifactStatus> latest;
    std::string summary;  ///< printer column: "dev=1.4.2 staging=1.4.1 prod=1.3.0"
    /// Builds of source commits, newest first, at most spec.historyLimit.
    std::vector<BuildStatus> builds;
    /// Printer column `Build`: the short commit of the Pending or Running build; empty otherwise.
    std::string building;
    /// Per notification target: the delivery keys already sent (dedup across restarts).
    std::vector<NotificationStatus> notifications;

    EnvironmentStatus* find_environment(std::string_view name);
    const EnvironmentStatus* find_environment(std::string_view name) const;
};

/// The subset of metadata poetryops reads.
struct ObjectMeta {
    std::string name;
    std::string namespace_;
    std::string uid;
    std::string resource_version;
    std::int64_t generation = 0;
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations;
};

struct PoetryApp {
    std::string api_version{kApiVersion};
    std::string kind{kKind};
    ObjectMeta metadata;
    PoetryAppSpec spec;
    PoetryAppStatus status;

    /// "namespace/name" (or "name" when cluster-less, e.g. local mode without a namespace).
    std::string key() const;
    /// The value of annotation `prefix` + `env` (kApproveAnnotationPrefix, …), trimmed; "" when
    /// unset.
    std::string annotation(std::string_view prefix, std::string_view env) const;
};

/// The printer-column summary: each spec environment in order as name=version ("-" when nothing
/// runs there), suffixed "(held)" or "(failed)" for those phases. While an environment's canary is
/// Progressing or Paused it shows the canary's version and weight instead: "prod=1.4.2(canary
/// 25%)". Environments only in status are left out.
std::string make_summary(const PoetryAppSpec& spec, const PoetryAppStatus& status);

/// Prepends `entry` to status.history and trims it to `limit` entries.
void record_history(PoetryAppStatus& status, HistoryEntry entry, int limit);

}  // namespace poetryops::api

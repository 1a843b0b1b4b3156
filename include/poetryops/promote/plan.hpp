#pragma once
/// The promotion engine: a pure function from (spec, status, observations, now) to the next
/// actions, the status the controller should write, and the events to emit. No I/O: the reconciler
/// observes, calls plan(), acts on the actions, then records what happened with record_promotion().
///
/// Rules (docs/promotion.md):
/// - the first environment takes the newest eligible artifact (tag + digest);
/// - environment N takes exactly the digest environment N-1 runs, once N-1 is Healthy and has
/// soaked for `soak`;
/// - a digest that failed or was rolled back in an environment is never promoted there or
/// downstream again;
/// - `approval: {required: true, approvers: N, groups: [...]}` (or `auto: false`) waits for N
/// distinct approvers (PoetryApprovals, in allowed groups when set) of that digest; the annotation
/// `poetryops.io/approve.<env>: <digest>` counts as one approver of unknown identity; a rejection
/// (PoetryApproval with decision reject) blocks the digest in that environment;
/// - `promotion.windows` (allow and deny, deny wins) keep a candidate that passed every other gate
/// waiting (OutsidePromotionWindow) while closed, and a canary in flight at its weight; rollbacks
/// obey only windows with blockRollbacks; a window whose rule or zone is unusable keeps it closed;
/// - a pinned image changed in git by someone else is a hold: reported, never overwritten, until
/// released with
///   `poetryops.io/release.<env>: <the held digest or image>` or overridden by a rollback
///   annotation;
/// - `poetryops.io/rollback.<env>: <digest>` re-pins a digest from that environment's history and
/// keeps the
///   environment there (no automatic promotion into it) while the annotation stays; the digest it
///   replaced is rejected.

#include <poetryops/api/poetryapp.hpp>
#include <poetryops/canary/plan.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace poetryops::promote {

using TimePoint = std::chrono::system_clock::time_point;

/// An image that can be promoted: what the version policy selected or what an environment runs.
struct Artifact {
    std::string version;
    std::string tag;
    std::string digest;         ///< sha256:…
    std::string source_commit;  ///< the source commit it was built from, when known
};

/// What the health gate of an environment says about the digest poetryops pinned there.
enum class HealthState {
    unknown,      ///< no signal yet (object missing, not synced to our commit yet)
    progressing,  ///< synced to our commit, rollout in progress
    healthy,      ///< synced to our commit (or later) and healthy
    degraded,     ///< synced and reporting unhealthy
};

struct HealthObservation {
    HealthState state = HealthState::unknown;
    std::string message;  ///< why, for status ("Argo CD app billing-staging: Progressing")
};

/// What the reconciler read for one environment.
struct EnvironmentObservation {
    /// false: the environment's file could not be read (git unreachable, a path refused, a file
    /// missing, over the size limit or not YAML); the environment is left as it is and the app is
    /// not Ready (`read_reason`, `read_error`).
    bool read_ok = true;
    std::string read_error;
    std::string read_reason;  ///< CamelCase: InvalidPath, FileNotFound, TooLarge, GitOpsUnavailable
    /// The image reference the environment's manifests pin now, as written (empty: nothing found).
    std::string pinned_image;
    std::string pinned_digest;  ///< its digest part ("" when pinned by tag only)
    std::string pinned_tag;     ///< its tag part
    /// The commit that pinned `pinned_digest` when it carries this app's Poetryops-Promotion
    /// trailer for this environment and digest and is newer than (a descendant of) the commit
    /// status records; "" otherwise: the pin was made by someone else (an older promotion commit of
    /// the same digest does not count: that is a revert).
    std::string promotion_commit;
    HealthObservation health;
    /// Environments with `canary:`: the route and the canary workload as git has them, the health
    /// gate read against the last canary commit, and an analysis round's results when this plan
    /// is the second of a reconcile that ran the round Plan::analyze asked for.
    canary::GitView canary;
    canary::HealthView canary_health;
    std::optional<canary::Analysis> analysis;
};

struct Observations {
    std::optional<Artifact> newest;  ///< newest eligible artifact of the image policy
    std::map<std::string, EnvironmentObservation> environments;  ///< by environment name
    /// PoetryApprovals of this app, by environment name (cluster mode; the approve annotation is
    /// read from the app itself). `message` is ignored: the planner writes it.
    std::map<std::string, std::vector<api::ApprovalRecord>> approvals;
};

struct PromoteAction {
    std::string environment;
    api::HistoryKind kind = api::HistoryKind::promote;
    Artifact artifact;
    std::string image;   ///< repository:tag@digest to pin
    std::string reason;  ///< one line: why now
    /// Set in a canary environment: what to commit instead of (deploy, shift, abort) or besides
    /// (complete: the stable image is `image`) a plain pin. `artifact` is the canary's.
    std::optional<canary::Action> canary;
    /// Who approved the digest, one `ApprovalRecord::who()` each ("alice (webhook)"): a
    /// `Poetryops-Approved-By` trailer each on the commit. Empty when no approval was needed.
    std::vector<std::string> approved_by;
};

struct Event {
    bool warning = false;
    std::string reason;  ///< CamelCase
    std::string message;
};

struct Plan {
    /// in environment order; commit each, then record_promotion()
    std::vector<PromoteAction> actions;
    api::PoetryAppStatus status;  ///< the status to write once the actions are done (or failed)
    std::vector<Event> events;
    /// when a timer (soak, health timeout) expires
    std::optional<std::chrono::milliseconds> requeue_after;
    /// Canary environments whose analysis round is due now: measure, put the results in their
    /// EnvironmentObservation::analysis and plan again.
    std::vector<std::string> analyze;
    /// Canary analysis that could not run (Prometheus unavailable), one line per environment: the
    /// app is Degraded (AnalysisUnavailable).
    std::vector<std::string> unavailable;
    /// Canaries that cannot go on as configured (route or canary workload unreadable, analysis
    /// that cannot run), one line per environment naming the file or metric: Ready is False
    /// (CanaryBlocked) unless an environment is unreadable, Held or Failed.
    std::vector<std::string> blocked;
};

/// Computes the next step. `app.status` is the last written status; the returned status carries
/// phases, holds, rejections and messages for every spec environment (in spec order) and the
/// summary.
Plan plan(const api::PoetryApp& app, const Observations& observations, TimePoint now);

/// Records a committed promotion (or one found already in git) in `status`: the environment's
/// version, tag, digest, commit, phase Syncing (Healthy at once for health `none`), since `now`,
/// and a history entry. A canary action records its step in the environment's canary
/// (canary::record); only a completed canary changes what the environment runs.
void record_promotion(api::PoetryAppStatus& status, const api::PoetryAppSpec& spec,
                      const PromoteAction& action, const std::string& commit, TimePoint now);

/// Records a promotion that could not be committed: the environment keeps what it runs and says
/// why.
void record_failure(api::PoetryAppStatus& status, const api::PoetryAppSpec& spec,
                    const PromoteAction& action, const std::string& message, TimePoint now);

/// `repository:tag@digest` (tag or digest omitted when empty).
std::string image_reference(const std::string& repository, const Artifact& artifact);

}  // namespace poetryops::promote

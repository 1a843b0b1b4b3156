#pragma once
/// The canary step machine: a pure function from (the environment's canary spec, its status, what
/// git and the health gate say now, the candidate the promotion gates let through, an analysis
/// round's results, the manual control annotation, now) to at most one action, the canary status
/// to write and the events to emit. No I/O. promote::plan calls it for every environment with
/// `canary:`, so a promotion into such an environment *is* a canary (docs/canary.md "Steps").
///
///   deploy    the candidate on the canary workload; the route still sends it nothing
///   shift     the route's weights to the next step (after the previous commit is healthy)
///   analyze   ask the metrics now (every analysis.interval at a step); plan again with the results
///   complete  the stable workload takes the digest (the environment's own update), canary weight 0
///   abort     canary weight 0, the canary workload back to the stable digest; the digest is
///             rejected in this environment and the environment is Failed
///
/// State lives in status.environments[].canary and in git: a commit of the machine carries a
/// `Poetryops-Canary` trailer (canary::trailer) naming its action, so a restarted controller whose
/// status write was lost finds its own last write (`GitView::own`) and takes it as done instead of
/// as a human edit.

#include <poetryops/api/poetryapp.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace poetryops::canary {

using TimePoint = std::chrono::system_clock::time_point;

/// The image the canary is about (what promotion selected for the environment).
struct Target {
    std::string version;
    std::string tag;
    std::string digest;
};

enum class ActionKind { deploy, shift, complete, abort, analyze };

/// What a `Poetryops-Canary` trailer records (parse_trailer), or, in cluster mode, what the live
/// route says poetryops wrote last.
struct TrailerFacts {
    std::string subject;  ///< "<ns>/<app>/<env>/<digest>"
    std::string digest;   ///< the canary's digest, the subject's last part
    /// The action committed; nullopt in a trailer written before actions were recorded.
    std::optional<ActionKind> action;
    int step = 0;  ///< 1-based step reached (0: at weight 0)
    int weight = 0;
};

/// The machine's own last write, found where the write went: the newest commit with this
/// environment's `Poetryops-Canary` trailer after status' `canary.commit` (git mode), or the live
/// route's weights when poetryops wrote them (cluster mode).
struct OwnWrite {
    std::string commit;  ///< the commit it made ("" for a live route write: status' commit stays)
    TrailerFacts facts;
};

/// What the environment's folder (and, in cluster mode, the live route) says now.
struct GitView {
    bool read_ok = true;
    std::string read_error;     ///< names the file: the route or the canary workload
    std::string canary_digest;  ///< the canary workload's pinned digest ("" none)
    int canary_weight = 0;      ///< the route's weight for traffic.canary
    /// Where the weight was read, for messages: "git", or "the live route" (cluster mode).
    std::string weights_from = "git";
    std::string route_file;  ///< git mode: the file the route was found in (edits go there)
    /// Filled when what git shows differs from status' canary: the machine's own newest write, if
    /// any. When it accounts for what git shows (its digest and weight), the status write that
    /// followed it was lost and it is taken as done; otherwise the difference is someone else's
    /// edit, and the canary holds.
    std::optional<OwnWrite> own;
};

/// The health gate, read against the last canary commit (synced to it and ready).
enum class Health { waiting, healthy, degraded };
struct HealthView {
    Health state = Health::waiting;
    std::string message;
};

/// One analysis round, as the caller measured and judged it (canary/judge.hpp).
struct Analysis {
    /// The metrics source could not answer (Prometheus down): nothing was judged.
    bool unavailable = false;
    std::string message;
    std::vector<api::MetricResult> metrics;
    api::AnalysisVerdict verdict = api::AnalysisVerdict::inconclusive;  ///< all metrics combined
    /// The analysis cannot run as configured: a query Prometheus refused (PromQL that does not
    /// parse), a query template, a metric without a query, credentials that cannot be read; each
    /// named with Prometheus' own words. The canary holds and counts nothing until it is fixed.
    std::string invalid;
};

struct Input {
    const api::EnvironmentSpec& env;       ///< has `canary`
    const api::EnvironmentStatus& status;  ///< as planned so far: the stable digest, its canary
    /// What promotion would pin in this environment now (its gates passed); nullopt: nothing new.
    std::optional<Target> candidate;
    GitView git;
    HealthView health;
    std::optional<Analysis> analysis;  ///< the results of an `analyze` asked for by this plan
    std::string control;               ///< the value of poetryops.io/canary.<env>, "" when unset
    bool suspended = false;            ///< spec.suspend: decide nothing new
    TimePoint now;
};

struct Action {
    ActionKind kind = ActionKind::deploy;
    Target target;              ///< the canary's image
    int weight = 0;             ///< the canary weight after this action (complete, abort: 0)
    int step = 0;               ///< 1-based step reached (shift), else the step it happened at
    int steps = 0;              ///< how many steps the canary has
    std::string stable_digest;  ///< abort: what the canary workload goes back to
    std::string verdict;        ///< for the trailer: pass, fail, inconclusive, manual, start
    std::string reason;         ///< one line: why now
    /// The metric values behind the decision ("success-rate=0.997 latency-p99-ms=41"), for the
    /// commit message.
    std::string metrics;
};

struct Event {
    bool warning = false;
    std::string reason;
    std::string message;
};

struct Step {
    /// Not a canary this time: the environment has nothing stable yet (its first image goes
    /// straight in), so promotion pins the candidate as usual.
    bool passthrough = false;
    std::optional<Action> action;
    /// The canary status to write; nullopt: remove it (none in progress and none to show).
    std::optional<api::CanaryStatus> canary;
    /// abort (or an adopted abort): add the canary's digest to the environment's rejected digests
    /// and fail it with `message`.
    bool reject = false;
    /// The analysis could not be run (AnalysisUnavailable): the app is Degraded with `message`.
    bool unavailable = false;
    /// A human changed the route or the canary workload: the canary holds with `message`.
    bool held = false;
    /// The canary cannot go on as configured (its route or workload cannot be read, its analysis
    /// cannot run): it holds, and the app is not Ready, with `message`.
    bool blocked = false;
    /// The machine's own abort or completion, found in git after its status write was lost, was
    /// taken as done: no action (`reject` says whether it was an abort).
    bool adopted = false;
    std::string message;  ///< the environment's message while the canary runs
    std::vector<Event> events;
    std::optional<std::chrono::milliseconds> requeue_after;
};

/// The next step of the canary in `in.env`. Rules (docs/canary.md "Steps"):
/// - nothing stable yet: passthrough; a candidate other than the stable digest starts a canary
///   (deploy); a newer candidate mid-canary replaces it (deploy again, counts reset);
/// - each commit is followed before the next: the health gate must say healthy for it (degraded:
///   abort); weight 0 → the first step's weight once the canary workload is healthy;
/// - at a step, an analysis round runs every analysis.interval (`analyze`); a step advances when
///   its pause has passed and its last round passed (no analysis: when the pause has passed); the
///   last step completes;
/// - fail counts a failure, a run of analysis.inconclusiveLimit inconclusive rounds counts one;
///   failureLimit failures abort; Prometheus unavailable holds (or aborts: onUnavailable);
/// - `poetryops.io/canary.<env>: pause|resume|abort|promote@<digest>` applies only to the canary
///   of that digest (otherwise ignored with an Event); pause holds until resume;
/// - git weights or canary image that differ from status and carry no trailer of ours are a hold.
Step step(const Input& in);

/// Records a committed action in `canary` (the commit, the new weight and step, when); call it
/// with the status step() returned once the action's commit landed.
void record(api::CanaryStatus& canary, const Action& action, const std::string& commit,
            TimePoint now);

/// The `Poetryops-Canary` trailer value of a commit: "<ns>/<app>/<env>/<digest> action=shift
/// step=2/3 weight=25 verdict=pass". The reconciler searches git for it (GitView::own).
std::string trailer(const std::string& app_key, const std::string& env, const Action& action);

/// A trailer value read back; nullopt when it is not one of ours.
std::optional<TrailerFacts> parse_trailer(const std::string& value);

/// "deploy", "shift", "complete", "abort", "analyze": the trailer's words.
const char* to_string(ActionKind kind);

/// Parses a control annotation value "pause@sha256:…"; nullopt when it is not one.
struct Control {
    enum class Verb { pause, resume, abort, promote } verb = Verb::pause;
    std::string digest;
};
std::optional<Control> parse_control(const std::string& value);

}  // namespace poetryops::canary

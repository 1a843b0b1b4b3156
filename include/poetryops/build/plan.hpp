#pragma once
/// The build planner: a pure function from (the app's spec and status, what the caller observed of
/// the source commit, its project files, the registry and the build Jobs, now) to the next
/// actions, the status to write (status.builds, status.building, the Built condition) and the
/// events to emit. No I/O: the caller observes, calls plan(), acts, and reports a verification
/// back with record_verification(). Rules (docs/build.md "The planner's rules"):
///
/// - one build per app at a time, the newest commit wins: a new commit cancels the running build
///   of an older one (spec.build.cancelOutdated, default true) or waits for it (false);
/// - a commit is never built twice: a commit already in status.builds is not built again whatever
///   its outcome, and a tag the registry already holds is adopted with its digest;
/// - a commit without pyproject.toml at spec.source.path, with an unreadable pyproject, a stale
///   poetry.lock or a tag the template cannot render fails without a Job, naming the file or field;
/// - a Job that succeeded reports a digest the caller must verify in the registry (a `verify`
///   action) before the build is Succeeded; a different or missing digest fails it
///   (DigestMismatch);
/// - a Job that fails, runs past spec.build.timeout or disappears fails the build; the next commit
///   still builds;
/// - status.builds keeps spec.historyLimit entries, newest first (a running build is never
///   dropped).
///
///   auto p = build::plan(app, observations, now);
///   for (const auto& a : p.actions) {
///       switch (a.kind) {
///       case build::ActionKind::resolve: /* look a.tag up, plan again with head_tag */ break;
///       case build::ActionKind::start:   /* create build::make_job(app, a.request(), opts) */
///       break; case build::ActionKind::cancel:  /* delete Job a.job_name (propagation Background)
///       */ break; case build::ActionKind::verify:  /* resolve a.tag; record_verification(...) */
///       break; case build::ActionKind::adopt:   /* nothing to do: the tag exists; promote it */
///       break;
///       }
///   }

#include <poetryops/api/poetryapp.hpp>
#include <poetryops/build/job.hpp>
#include <poetryops/util/result.hpp>

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::build {

/// The newest commit of spec.source.ref that the caller read.
struct SourceCommit {
    std::string sha;  ///< 40 hex
    /// Committer time, {timestamp} of the tag template; the epoch (default): unknown, `now` is used
    /// when the tag is first rendered (and recorded, so it does not change afterwards).
    TimePoint time{};
    /// {buildNumber} of the tag template: the caller's number for this commit (e.g. the commit
    /// count of source.ref); empty: a template using it fails with InvalidTag.
    std::string build_number;
    /// Whether the commit changed the project (touches() over the paths it changed). false: not a
    /// commit to build (a monorepo commit elsewhere); the planner leaves builds as they are.
    bool touches_project = true;
};

/// What the caller read from the commit's pyproject.toml and poetry.lock at spec.source.path.
struct ProjectFacts {
    bool pyproject_found = true;  ///< false: no pyproject.toml at spec.source.path in the commit
    std::string version;          ///< the project's version, as written
    std::string requires_python;  ///< as written; "" when unset
    /// Non-empty: pyproject.toml could not be used (unreadable, not Poetry, no version); the
    /// message names the file and line (python::parse_pyproject's error).
    std::string pyproject_problem;
    /// Non-empty: poetry.lock is missing, unreadable or stale (does not match pyproject.toml).
    std::string lock_problem;
};

/// The registry's answer for a tag (a `resolve` action).
struct RegistryTag {
    std::string tag;
    bool exists = false;
    std::string digest;  ///< sha256:… when it exists
};

/// Everything the planner needs besides the app.
struct Observations {
    std::optional<SourceCommit> head;     ///< nullopt: the source has not been read yet
    std::optional<ProjectFacts> project;  ///< the head commit's facts; nullopt: not read yet
    /// The registry's answer for the head commit's tag (head_tag()); nullopt, or another tag: the
    /// planner asks for it with a `resolve` action before deciding to build.
    std::optional<RegistryTag> head_tag;
    /// This app's build Jobs (label poetryops.io/app=app_label(name)), read with read_job().
    std::vector<JobObservation> jobs;
};

enum class ActionKind {
    resolve,  ///< look `tag` up in the registry; plan again with Observations::head_tag
    start,    ///< create the Job `job_name` (make_job with request()); AlreadyExists is success
    cancel,   ///< delete the Job `job_name` (with its Pods); NotFound is success
    verify,   ///< resolve `tag` in the registry and call record_verification() with the digest
    adopt,    ///< the tag already exists at `digest`: nothing to build (promote it)
};

struct Action {
    ActionKind kind = ActionKind::start;
    std::string commit;
    std::string version;
    std::string tag;
    std::string job_name;  ///< start, cancel
    std::string digest;    ///< verify: what the builder reported; adopt: the tag's digest
    std::string reason;    ///< one line: why

    /// The make_job() request of a start action.
    BuildRequest request() const { return {commit, version, tag}; }
};

struct Event {
    bool warning = false;
    std::string reason;  ///< CamelCase (api/conditions.hpp)
    std::string message;
};

struct Plan {
    /// cancels first, then resolve/start/adopt of the head commit, then verifies
    std::vector<Action> actions;
    /// app.status with status.builds, status.building and the Built condition updated
    api::PoetryAppStatus status;
    /// Set when the newest commit's build failed: Ready=False with the build's reason. Apply it
    /// with fold_ready() after the promotion planner has set Ready.
    std::optional<api::Condition> ready;
    std::vector<Event> events;
    /// when the timeout backstop of a running build falls due
    std::optional<std::chrono::milliseconds> requeue_after;
};

/// How long past spec.build.timeout the planner waits for the Job's own activeDeadlineSeconds
/// before it cancels the Job itself and fails the build (BuildTimedOut).
inline constexpr std::chrono::seconds kTimeoutGrace{60};

/// Computes the next step. Nothing is planned without spec.build; with spec.suspend the planner
/// follows running builds (and asks for verifications) but starts and cancels nothing.
Plan plan(const api::PoetryApp& app, const Observations& observations, TimePoint now);

/// The tag of `commit`: the one status.builds recorded for it, else spec.image.tagTemplate
/// rendered (oci::render_tag) with the project's version, the commit, spec.source.ref as
/// {branch}, the commit's build number and time (`now` when unknown). Errors name
/// spec.image.tagTemplate.
Result<std::string> head_tag(const api::PoetryApp& app, const SourceCommit& commit,
                             const ProjectFacts& facts, TimePoint now);

/// Records the caller's answer to a verify action: `registry_digest` is what the registry holds
/// for `verify.tag` (nullopt: no such tag). Equal to `verify.digest`: the build is Succeeded
/// (reason Built); otherwise Failed (DigestMismatch). Updates status.building and the Built
/// condition as plan() does; returns the event to emit (none when the build is not awaiting
/// verification any more). A registry that cannot be reached is not an answer: retry the verify.
std::vector<Event> record_verification(api::PoetryAppStatus& status, std::int64_t generation,
                                       const Action& verify,
                                       const std::optional<std::string>& registry_digest,
                                       TimePoint now);

/// Ready as the build planner sees it: False with the failed build's reason when the newest build
/// (status.builds[0]) failed; nullopt otherwise (the promotion planner decides).
std::optional<api::Condition> build_ready(const api::PoetryAppStatus& status,
                                          std::int64_t generation);

/// Folds the build's Ready verdict into `status`, which another planner (promote::plan) computed
/// from `stored`: when `ready` is set it replaces Ready, with lastTransitionTime measured against
/// the stored condition, so two planners never make Ready flip within one reconcile.
void fold_ready(api::PoetryAppStatus& status, const api::PoetryAppStatus& stored,
                const std::optional<api::Condition>& ready, TimePoint now);

/// Whether a commit that changed `changed_paths` (repository-relative, '/'-separated, as git lists
/// them) touches the project folder `source_path` ("." is the whole repository) or one of
/// `extra_paths` (files or folders outside it that the project depends on, e.g. a path
/// dependency). A path touches a folder when it is the folder or lies beneath it; "./" prefixes
/// and trailing slashes are ignored. An empty list touches nothing.
bool touches(std::span<const std::string> changed_paths, std::string_view source_path,
             std::span<const std::string> extra_paths = {});

/// The newest build that succeeded (verified in the registry, or adopted): what the first
/// environment promotes when the app builds its own images. Null when none did.
const api::BuildStatus* newest_built(const api::PoetryAppStatus& status);

/// The first 7 characters of a commit id (the `Build` printer column, messages).
std::string short_commit(std::string_view sha);

}  // namespace poetryops::build

// The build planner (build/plan.hpp): follow the running build, decide about the newest commit,
// keep status.builds bounded and say so in the Built condition.
#include <poetryops/build/plan.hpp>

#include <poetryops/api/conditions.hpp>
#include <poetryops/api/duration.hpp>
#include <poetryops/oci/grammar.hpp>
#include <poetryops/oci/tag_template.hpp>

#include <algorithm>

namespace poetryops::build {

namespace {

using api::BuildPhase;
using api::BuildStatus;

bool active(const BuildStatus& b) {
    return b.phase == BuildPhase::pending || b.phase == BuildPhase::running;
}

/// Running with a digest: the Job succeeded, the registry has not confirmed the digest yet.
bool verifying(const BuildStatus& b) { return b.phase == BuildPhase::running && !b.digest.empty(); }

std::string describe(const BuildStatus& b) {
    std::string out = short_commit(b.commit);
    if (!b.tag.empty()) out += " (" + b.tag + ")";
    return out;
}

std::string duration_between(const std::optional<TimePoint>& start, TimePoint end) {
    if (!start || end < *start) return {};
    auto d = std::chrono::duration_cast<std::chrono::seconds>(end - *start);
    return api::format_duration(d);
}

/// Ends a build: phase, reason, message, duration.
void finish(BuildStatus& b, BuildPhase phase, std::string_view reason, std::string message,
            TimePoint end) {
    b.phase = phase;
    b.reason = std::string(reason);
    b.message = std::move(message);
    b.duration = duration_between(b.start_time, end);
}

const JobObservation* find_job(const Observations& obs, std::string_view name) {
    if (name.empty()) return nullptr;
    for (const auto& j : obs.jobs) {
        if (j.name == name) return &j;
    }
    return nullptr;
}

bool job_active(const JobObservation& j) {
    return j.phase == JobPhase::pending || j.phase == JobPhase::running;
}

/// Makes sure a message about poetry.lock names the file.
std::string lock_message(const std::string& problem) {
    if (problem.find("poetry.lock") != std::string::npos) return problem;
    return "poetry.lock: " + problem;
}

/// spec.build.timeout, parsed from its text (the app may not have been through validate()).
std::chrono::milliseconds build_timeout(const api::BuildSpec& b) {
    if (auto v = api::parse_duration(b.timeout.text); v && v->count() > 0) return *v;
    return *api::parse_duration(api::BuildSpec{}.timeout.text);
}

std::string project_path(const api::PoetryApp& app) {
    std::string path = app.spec.source ? app.spec.source->path : ".";
    if (path == ".") return "pyproject.toml";
    while (!path.empty() && path.back() == '/') path.pop_back();
    return path + "/pyproject.toml";
}

class Planner {
public:
    Planner(const api::PoetryApp& app, const Observations& obs, TimePoint now)
        : app_(app), obs_(obs), now_(now), build_(*app.spec.build) {
        plan_.status = app.status;
    }

    Plan run() {
        auto& builds = plan_.status.builds;
        // 1. Follow the builds in flight.
        for (auto& b : builds) {
            if (active(b)) follow(b);
        }
        // 2. Decide about the newest commit.
        decide_head();
        // 3. Jobs no build wants any more (a crash between creating a Job and writing status, a
        //    status written by hand): a running Job nobody follows only takes a slot.
        for (const auto& j : obs_.jobs) {
            if (!job_active(j) || followed(j.name)) continue;
            cancel(j.name, j.commit, "no build of this app follows Job " + j.name);
        }
        trim();
        finish_status();
        order_actions();
        return std::move(plan_);
    }

private:
    bool acting() const { return !app_.spec.suspend; }

    bool followed(std::string_view job) const {
        for (const auto& b : plan_.status.builds) {
            if (b.job_name == job && active(b)) return true;
        }
        return false;
    }

    void event(bool warning, std::string_view reason, std::string message) {
        plan_.events.push_back({warning, std::string(reason), std::move(message)});
    }

    void cancel(const std::string& job, const std::string& commit, std::string why) {
        if (!acting() || job.empty()) return;
        for (const auto& a : plan_.actions) {
            if (a.kind == ActionKind::cancel && a.job_name == job) return;
        }
        Action a;
        a.kind = ActionKind::cancel;
        a.job_name = job;
        a.commit = commit;
        a.reason = std::move(why);
        plan_.actions.push_back(std::move(a));
    }

    void verify(const BuildStatus& b) {
        act(ActionKind::verify, b, "the builder reported " + b.digest + " for " + b.tag);
    }

    void start(const BuildStatus& b, std::string why) {
        if (!acting()) return;
        act(ActionKind::start, b, std::move(why));
    }

    /// An action on build `b`: its commit, version, tag and Job; a verify also carries the digest
    /// the builder reported.
    void act(ActionKind kind, const BuildStatus& b, std::string why) {
        Action a;
        a.kind = kind;
        a.commit = b.commit;
        a.version = b.version;
        a.tag = b.tag;
        a.job_name = b.job_name;
        if (kind == ActionKind::verify) a.digest = b.digest;
        a.reason = std::move(why);
        plan_.actions.push_back(std::move(a));
    }

    void fail(BuildStatus& b, std::string_view reason, std::string message, TimePoint end) {
        finish(b, BuildPhase::failed, reason, std::move(message), end);
        event(true, reason, describe(b) + ": " + b.message);
    }

    /// One build in flight against its Job.
    void follow(BuildStatus& b) {
        if (verifying(b)) {
            verify(b);
            return;
        }
        const JobObservation* job = find_job(obs_, b.job_name);
        if (!job) {
            if (b.phase == BuildPhase::running) {
                fail(b, api::kReasonJobDeleted,
                     "Job " + b.job_name +
                         " disappeared before the build finished (deleted by hand?)",
                     now_);
            } else {
                // Not seen yet: the create may not have happened or not reached the informer.
                // Creating it again is harmless (the name is deterministic: AlreadyExists).
                start(b, "Job " + b.job_name + " not seen yet");
                backstop(b);
            }
            return;
        }
        if (job->start_time) b.start_time = job->start_time;
        TimePoint end = job->completion_time.value_or(now_);
        switch (job->phase) {
            case JobPhase::pending:
                b.phase = BuildPhase::pending;
                b.reason = std::string(api::kReasonBuilding);
                b.message = "Job " + job->name + " is pending" +
                            (job->message.empty() ? "" : ": " + job->message);
                backstop(b);
                return;
            case JobPhase::running:
                b.phase = BuildPhase::running;
                b.reason = std::string(api::kReasonBuilding);
                b.message = "building in Job " + job->name;
                backstop(b);
                return;
            case JobPhase::succeeded:
                if (job->digest.empty()) {
                    fail(b, api::kReasonNoDigest,
                         "Job " + job->name +
                             " succeeded but its builder reported no sha256 digest" +
                             (job->message.empty() ? "" : ": " + job->message),
                         end);
                    return;
                }
                b.phase = BuildPhase::running;
                b.digest = job->digest;
                b.duration = duration_between(b.start_time, end);
                b.reason = std::string(api::kReasonBuilding);
                b.message = "built " + job->digest + "; verifying " + b.tag + " in the registry";
                verify(b);
                return;
            case JobPhase::failed: {
                bool deadline = job->reason == "DeadlineExceeded";
                std::string msg =
                    deadline ? "the build ran longer than spec.build.timeout (" +
                                   build_.timeout.text + ") and Job " + job->name + " was stopped"
                             : "Job " + job->name + " failed" +
                                   (job->reason.empty() ? "" : " (" + job->reason + ")") +
                                   (job->message.empty() ? "" : ": " + job->message);
                fail(b, deadline ? api::kReasonBuildTimedOut : api::kReasonBuildFailed,
                     std::move(msg), end);
                return;
            }
        }
    }

    /// The planner's own timeout, for a Job whose activeDeadlineSeconds did not stop it (a Job
    /// never started by its controller, a deadline edited by hand).
    void backstop(BuildStatus& b) {
        if (!b.start_time) return;
        auto limit =
            std::chrono::duration_cast<std::chrono::seconds>(build_timeout(build_)) + kTimeoutGrace;
        TimePoint due = *b.start_time + limit;
        if (now_ >= due) {
            // Remove the start action a Pending build without a Job may have queued.
            std::erase_if(plan_.actions, [&](const Action& a) {
                return a.kind == ActionKind::start && a.job_name == b.job_name;
            });
            cancel(b.job_name, b.commit, "the build ran past spec.build.timeout");
            fail(b, api::kReasonBuildTimedOut,
                 "the build ran longer than spec.build.timeout (" + build_.timeout.text +
                     "); Job " + b.job_name + " cancelled",
                 now_);
            return;
        }
        auto left =
            std::chrono::duration_cast<std::chrono::seconds>(due - now_) + std::chrono::seconds(1);
        if (!plan_.requeue_after || left < *plan_.requeue_after) plan_.requeue_after = left;
    }

    void waiting(std::string message) { head_wait_ = std::move(message); }

    void decide_head() {
        if (!obs_.head || !obs_.head->touches_project) return;
        const SourceCommit& head = *obs_.head;
        auto& builds = plan_.status.builds;
        for (const auto& b : builds) {
            if (b.commit == head.sha) return;  // never the same commit twice
        }
        const std::string short_sha = short_commit(head.sha);
        const std::string name = job_name(app_.metadata.namespace_, app_.metadata.name, head.sha);

        // A Job for the head exists but status does not know it (a crash after the create):
        // take it over instead of judging the commit again.
        if (const JobObservation* job = find_job(obs_, name)) {
            std::string version = job->version, tag = job->tag;
            if (obs_.project && (version.empty() || tag.empty())) {
                if (version.empty()) version = obs_.project->version;
                if (auto t = head_tag(app_, head, *obs_.project, now_); tag.empty() && t) tag = *t;
            }
            BuildStatus b = new_build(head, version, tag);
            b.job_name = name;
            b.start_time = job->start_time.value_or(now_);
            builds.insert(builds.begin(), std::move(b));
            supersede_others(short_sha);
            follow(builds.front());
            return;
        }
        if (!obs_.project) {
            waiting(short_sha + " waits: its pyproject.toml has not been read yet");
            return;
        }
        const ProjectFacts& facts = *obs_.project;
        if (!facts.pyproject_found) {
            refuse(head, facts, api::kReasonProjectNotFound,
                   "commit " + short_sha + " has no " + project_path(app_) +
                       " (spec.source.path is \"" + app_.spec.source->path + "\")");
            return;
        }
        if (!facts.pyproject_problem.empty()) {
            refuse(head, facts, api::kReasonInvalidProject, facts.pyproject_problem);
            return;
        }
        if (!facts.lock_problem.empty()) {
            refuse(head, facts, api::kReasonStaleLock,
                   lock_message(facts.lock_problem) +
                       " (run `poetry lock` and commit poetry.lock; nothing was built)");
            return;
        }
        auto tag = head_tag(app_, head, facts, now_);
        if (!tag) {
            refuse(head, facts, api::kReasonInvalidTag, tag.error().message);
            return;
        }
        if (!obs_.head_tag || obs_.head_tag->tag != *tag) {
            Action a;
            a.kind = ActionKind::resolve;
            a.commit = head.sha;
            a.version = facts.version;
            a.tag = *tag;
            a.reason = "is " + *tag + " already in the registry?";
            plan_.actions.push_back(std::move(a));
            waiting(short_sha + " waits: looking up " + *tag + " in the registry");
            return;
        }
        if (obs_.head_tag->exists) {
            BuildStatus b = new_build(head, facts.version, *tag);
            b.phase = BuildPhase::succeeded;
            b.digest = obs_.head_tag->digest;
            b.reason = std::string(api::kReasonImageAdopted);
            b.message = *tag + " is already in the registry at " + b.digest + "; not rebuilt";
            Action a;
            a.kind = ActionKind::adopt;
            a.commit = head.sha;
            a.version = facts.version;
            a.tag = *tag;
            a.digest = b.digest;
            a.reason = b.message;
            plan_.actions.push_back(std::move(a));
            event(false, api::kReasonImageAdopted, short_sha + ": " + b.message);
            builds.insert(builds.begin(), std::move(b));
            supersede_others(short_sha);
            return;
        }
        if (!acting()) {
            waiting(short_sha + " waits: spec.suspend is true, nothing is built");
            return;
        }
        for (const auto& b : builds) {
            if (!active(b) || b.commit == head.sha) continue;
            if (!build_.cancel_outdated) {
                waiting(short_sha + " waits for the build of " + describe(b) +
                        " to finish (spec.build.cancelOutdated is false)");
                return;
            }
        }
        supersede_others(short_sha);
        BuildStatus b = new_build(head, facts.version, *tag);
        b.job_name = name;
        b.phase = BuildPhase::pending;
        b.reason = std::string(api::kReasonBuilding);
        b.message = "starting Job " + name;
        start(b, "new commit " + short_sha);
        event(false, "BuildStarted", "building " + describe(b) + " in Job " + name);
        builds.insert(builds.begin(), std::move(b));
        backstop(builds.front());
    }

    BuildStatus new_build(const SourceCommit& head, const std::string& version,
                          const std::string& tag) const {
        BuildStatus b;
        b.commit = head.sha;
        b.version = version;
        b.tag = tag;
        b.engine = build_.engine;
        b.start_time = std::chrono::time_point_cast<std::chrono::seconds>(now_);
        return b;
    }

    /// A commit that cannot be built: recorded as Failed without a Job (the next commit builds).
    void refuse(const SourceCommit& head, const ProjectFacts& facts, std::string_view reason,
                std::string message) {
        BuildStatus b = new_build(head, facts.version, {});
        fail(b, reason, std::move(message), now_);
        plan_.status.builds.insert(plan_.status.builds.begin(), std::move(b));
    }

    /// Newest commit wins: with cancelOutdated, every other build in flight is cancelled.
    void supersede_others(const std::string& short_sha) {
        if (!build_.cancel_outdated || !acting()) return;
        for (auto& b : plan_.status.builds) {
            if (!active(b) || b.commit == obs_.head->sha) continue;
            if (verifying(b)) continue;  // built already: let the registry confirm it
            cancel(b.job_name, b.commit, "superseded by " + short_sha);
            finish(b, BuildPhase::cancelled, api::kReasonSuperseded, "superseded by " + short_sha,
                   now_);
            event(false, "BuildCancelled", describe(b) + ": superseded by " + short_sha);
        }
    }

    void trim() {
        auto& builds = plan_.status.builds;
        std::size_t limit = static_cast<std::size_t>(std::max(1, app_.spec.history_limit));
        // The newest `limit` entries, and a build in flight wherever it is.
        std::vector<BuildStatus> kept;
        for (std::size_t i = 0; i < builds.size(); ++i) {
            if (i < limit || active(builds[i])) kept.push_back(std::move(builds[i]));
        }
        builds = std::move(kept);
    }

    void finish_status() {
        auto& st = plan_.status;
        st.building.clear();
        for (const auto& b : st.builds) {
            if (active(b)) {
                st.building = short_commit(b.commit);
                break;
            }
        }
        api::Condition c;
        c.type = std::string(api::kConditionBuilt);
        c.observed_generation = app_.metadata.generation;
        if (!head_wait_.empty()) {
            c.status = std::string(api::kConditionFalse);
            c.reason = std::string(api::kReasonBuilding);
            c.message = head_wait_;
        } else if (st.builds.empty()) {
            return;  // nothing built or decided yet: no verdict
        } else {
            built_condition(st.builds.front(), c);
        }
        api::set_condition(st.conditions, std::move(c), now_);
        plan_.ready = build_ready(st, app_.metadata.generation);
    }

    /// cancels, then the head's resolve/start/adopt, then verifies (stable within each).
    void order_actions() {
        auto rank = [](ActionKind k) {
            switch (k) {
                case ActionKind::cancel: return 0;
                case ActionKind::resolve:
                case ActionKind::start:
                case ActionKind::adopt: return 1;
                case ActionKind::verify: return 2;
            }
            return 3;
        };
        std::stable_sort(
            plan_.actions.begin(), plan_.actions.end(),
            [&](const Action& a, const Action& b) { return rank(a.kind) < rank(b.kind); });
    }

public:
    static void built_condition(const BuildStatus& b, api::Condition& c) {
        switch (b.phase) {
            case BuildPhase::pending:
            case BuildPhase::running:
                c.status = std::string(api::kConditionFalse);
                c.reason = std::string(api::kReasonBuilding);
                c.message = describe(b) + ": " + b.message;
                return;
            case BuildPhase::succeeded:
                c.status = std::string(api::kConditionTrue);
                c.reason = b.reason.empty() ? std::string(api::kReasonBuilt) : b.reason;
                c.message = b.tag + " is " + b.digest + " (commit " + short_commit(b.commit) + ")";
                return;
            case BuildPhase::failed:
            case BuildPhase::cancelled:
                c.status = std::string(api::kConditionFalse);
                c.reason = b.reason.empty() ? std::string(api::kReasonBuildFailed) : b.reason;
                c.message = describe(b) + ": " + b.message;
                return;
        }
    }

private:
    const api::PoetryApp& app_;
    const Observations& obs_;
    TimePoint now_;
    const api::BuildSpec& build_;
    Plan plan_;
    std::string head_wait_;
};

std::string normalise(std::string_view p) {
    while (p.starts_with("./")) p.remove_prefix(2);
    while (!p.empty() && p.back() == '/') p.remove_suffix(1);
    if (p == ".") p = {};
    return std::string(p);
}

/// `path` is `folder` or beneath it ("" is the repository root).
bool under(std::string_view path, std::string_view folder) {
    if (folder.empty()) return true;
    if (!path.starts_with(folder)) return false;
    return path.size() == folder.size() || path[folder.size()] == '/';
}

}  // namespace

std::string short_commit(std::string_view sha) { return std::string(sha.substr(0, 7)); }

Result<std::string> head_tag(const api::PoetryApp& app, const SourceCommit& commit,
                             const ProjectFacts& facts, TimePoint now) {
    for (const auto& b : app.status.builds) {
        if (b.commit == commit.sha && !b.tag.empty()) return b.tag;
    }
    oci::TagValues v;
    v.version = facts.version;
    v.sha = commit.sha;
    v.branch = app.spec.source ? app.spec.source->ref : std::string();
    v.build_number = commit.build_number;
    v.timestamp = commit.time == TimePoint{} ? now : commit.time;
    auto tag = oci::render_tag(app.spec.image.tag_template, v);
    if (!tag) {
        return fail(Error::Kind::invalid,
                    "spec.image.tagTemplate: " + tag.error().message + " (commit " +
                        short_commit(commit.sha) + ", version \"" + facts.version + "\")",
                    std::string(api::kReasonInvalidTag));
    }
    return tag;
}

Plan plan(const api::PoetryApp& app, const Observations& observations, TimePoint now) {
    if (!app.spec.build || !app.spec.source) {  // validation refuses build without source
        Plan p;
        p.status = app.status;
        return p;
    }
    return Planner(app, observations, now).run();
}

std::vector<Event> record_verification(api::PoetryAppStatus& status, std::int64_t generation,
                                       const Action& verify,
                                       const std::optional<std::string>& registry_digest,
                                       TimePoint now) {
    std::vector<Event> events;
    auto it = std::find_if(status.builds.begin(), status.builds.end(), [&](const BuildStatus& b) {
        return b.commit == verify.commit && verifying(b);
    });
    if (it == status.builds.end()) return events;
    BuildStatus& b = *it;
    if (registry_digest && *registry_digest == b.digest) {
        b.phase = BuildPhase::succeeded;
        b.reason = std::string(api::kReasonBuilt);
        b.message = "pushed " + b.tag + " at " + b.digest + " (verified in the registry)";
        events.push_back({false, std::string(api::kReasonBuilt), describe(b) + ": " + b.message});
    } else {
        b.phase = BuildPhase::failed;
        b.reason = std::string(api::kReasonDigestMismatch);
        b.message =
            registry_digest
                ? "the builder reported " + b.digest + " but the registry has " + b.tag + " at " +
                      *registry_digest
                : "the builder reported " + b.digest + " but the registry has no tag " + b.tag;
        events.push_back(
            {true, std::string(api::kReasonDigestMismatch), describe(b) + ": " + b.message});
    }
    if (b.duration.empty()) b.duration = duration_between(b.start_time, now);
    status.building.clear();
    for (const auto& other : status.builds) {
        if (active(other)) {
            status.building = short_commit(other.commit);
            break;
        }
    }
    if (&b == &status.builds.front()) {
        api::Condition c;
        c.type = std::string(api::kConditionBuilt);
        c.observed_generation = generation;
        Planner::built_condition(b, c);
        api::set_condition(status.conditions, std::move(c), now);
    }
    return events;
}

std::optional<api::Condition> build_ready(const api::PoetryAppStatus& status,
                                          std::int64_t generation) {
    if (status.builds.empty() || status.builds.front().phase != BuildPhase::failed)
        return std::nullopt;
    const BuildStatus& b = status.builds.front();
    api::Condition c;
    c.type = std::string(api::kConditionReady);
    c.status = std::string(api::kConditionFalse);
    c.observed_generation = generation;
    c.reason = b.reason.empty() ? std::string(api::kReasonBuildFailed) : b.reason;
    c.message = "the build of " + describe(b) + " failed: " + b.message;
    return c;
}

void fold_ready(api::PoetryAppStatus& status, const api::PoetryAppStatus& stored,
                const std::optional<api::Condition>& ready, TimePoint now) {
    if (!ready) return;
    // Measure the transition against what is stored, in place (condition order is kept, so an
    // unchanged status compares equal and is not written again).
    const api::Condition* old = api::find_condition(stored.conditions, api::kConditionReady);
    auto it = std::find_if(status.conditions.begin(), status.conditions.end(),
                           [](const api::Condition& c) { return c.type == api::kConditionReady; });
    if (it != status.conditions.end()) {
        if (old) {
            *it = *old;
        } else {
            status.conditions.erase(it);
        }
    } else if (old) {
        status.conditions.push_back(*old);
    }
    api::set_condition(status.conditions, *ready, now);
}

bool touches(std::span<const std::string> changed_paths, std::string_view source_path,
             std::span<const std::string> extra_paths) {
    std::vector<std::string> folders{normalise(source_path)};
    for (const auto& e : extra_paths) folders.push_back(normalise(e));
    for (const auto& changed : changed_paths) {
        std::string p = normalise(changed);
        if (p.empty()) continue;
        for (const auto& f : folders) {
            if (under(p, f)) return true;
        }
    }
    return false;
}

const api::BuildStatus* newest_built(const api::PoetryAppStatus& status) {
    for (const auto& b : status.builds) {  // newest first
        if (b.phase == api::BuildPhase::succeeded && !b.digest.empty()) return &b;
    }
    return nullptr;
}

}  // namespace poetryops::build

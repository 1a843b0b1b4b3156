// The build planner's rules (docs/build.md "The planner's rules"), one test or more each.
#include <poetryops/build/plan.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

using namespace poetryops;
using namespace std::chrono_literals;
using api::BuildPhase;
using build::ActionKind;
using build::JobObservation;
using build::JobPhase;
using build::Observations;
using testing::HasSubstr;

namespace {

const std::string kShaA = "aaaaaaa1111111111111111111111111111111aa";
const std::string kShaB = "bbbbbbb2222222222222222222222222222222bb";
const std::string kShaC = "ccccccc3333333333333333333333333333333cc";
const std::string kDigest1 = "sha256:" + std::string(64, '1');
const std::string kDigest2 = "sha256:" + std::string(64, '2');

const build::TimePoint kT0 = std::chrono::sys_days{std::chrono::year{2026} / 5 / 4} + 10h;

api::PoetryApp make_app() {
    api::PoetryApp app;
    app.metadata.name = "billing";
    app.metadata.namespace_ = "team-a";
    app.metadata.uid = "2f1c6e5a-0000-4000-8000-000000000001";
    app.metadata.generation = 3;
    app.spec.source = api::SourceSpec{};
    app.spec.source->repo_url = "https://git.example.com/acme/mono.git";
    app.spec.source->path = "services/billing";
    app.spec.image.repository = "registry.example.com/acme/billing";
    app.spec.build = api::BuildSpec{};
    app.spec.history_limit = 10;
    return app;
}

build::SourceCommit commit(const std::string& sha) {
    build::SourceCommit c;
    c.sha = sha;
    c.time = kT0 - 1h;
    return c;
}

build::ProjectFacts facts(const std::string& version = "1.4.2") {
    build::ProjectFacts f;
    f.version = version;
    f.requires_python = ">=3.11,<4.0";
    return f;
}

std::string tag_of(const std::string& sha, const std::string& version = "1.4.2") {
    return version + "-" + sha.substr(0, 7);
}

/// Observations of `sha` with the registry's answer: the tag is absent (or at `digest`).
Observations observe(const std::string& sha, const std::string& registry_digest = {}) {
    Observations o;
    o.head = commit(sha);
    o.project = facts();
    o.head_tag = build::RegistryTag{tag_of(sha), !registry_digest.empty(), registry_digest};
    return o;
}

std::string job_of(const api::PoetryApp& app, const std::string& sha) {
    return build::job_name(app.metadata.namespace_, app.metadata.name, sha);
}

JobObservation job(const api::PoetryApp& app, const std::string& sha, JobPhase phase) {
    JobObservation j;
    j.name = job_of(app, sha);
    j.commit = sha;
    j.tag = tag_of(sha);
    j.version = "1.4.2";
    j.phase = phase;
    j.start_time = kT0 + 10s;
    return j;
}

/// A build of `sha` in flight (Running) as a previous plan recorded it.
api::BuildStatus in_flight(const api::PoetryApp& app, const std::string& sha,
                           BuildPhase phase = BuildPhase::running) {
    api::BuildStatus b;
    b.commit = sha;
    b.version = "1.4.2";
    b.tag = tag_of(sha);
    b.phase = phase;
    b.start_time = kT0;
    b.job_name = job_of(app, sha);
    b.reason = "Building";
    return b;
}

api::BuildStatus finished(const std::string& sha, BuildPhase phase, const std::string& reason) {
    api::BuildStatus b;
    b.commit = sha;
    b.version = "1.4.2";
    b.tag = tag_of(sha);
    b.phase = phase;
    b.start_time = kT0 - 2h;
    b.reason = reason;
    return b;
}

std::vector<ActionKind> kinds(const build::Plan& p) {
    std::vector<ActionKind> out;
    for (const auto& a : p.actions) out.push_back(a.kind);
    return out;
}

const api::Condition* built(const build::Plan& p) {
    return api::find_condition(p.status.conditions, api::kConditionBuilt);
}

}  // namespace

TEST(BuildPlan, WithoutBuildSpecNothingIsPlanned) {
    api::PoetryApp app = make_app();
    app.spec.build.reset();
    auto p = build::plan(app, observe(kShaA), kT0);
    EXPECT_TRUE(p.actions.empty());
    EXPECT_TRUE(p.status.builds.empty());
    EXPECT_EQ(built(p), nullptr);
}

TEST(BuildPlan, NewCommitIsLookedUpInTheRegistryFirst) {
    api::PoetryApp app = make_app();
    Observations o = observe(kShaA);
    o.head_tag.reset();
    auto p = build::plan(app, o, kT0);
    ASSERT_EQ(kinds(p), std::vector<ActionKind>{ActionKind::resolve});
    EXPECT_EQ(p.actions[0].tag, "1.4.2-aaaaaaa");
    EXPECT_EQ(p.actions[0].commit, kShaA);
    EXPECT_TRUE(p.status.builds.empty()) << "nothing is recorded before the registry answers";
    ASSERT_NE(built(p), nullptr);
    EXPECT_EQ(built(p)->status, "False");
    EXPECT_EQ(built(p)->reason, "Building");
    EXPECT_THAT(built(p)->message, HasSubstr("looking up 1.4.2-aaaaaaa"));

    // An answer for another tag (a stale lookup) is no answer.
    o.head_tag = build::RegistryTag{"1.4.1-aaaaaaa", false, {}};
    EXPECT_EQ(kinds(build::plan(app, o, kT0)), std::vector<ActionKind>{ActionKind::resolve});
}

TEST(BuildPlan, NewCommitStartsADeterministicJob) {
    api::PoetryApp app = make_app();
    auto p = build::plan(app, observe(kShaA), kT0);
    ASSERT_EQ(kinds(p), std::vector<ActionKind>{ActionKind::start});
    const auto& a = p.actions[0];
    EXPECT_EQ(a.job_name, job_of(app, kShaA));
    EXPECT_EQ(a.tag, "1.4.2-aaaaaaa");
    EXPECT_EQ(a.version, "1.4.2");
    EXPECT_EQ(a.request().commit, kShaA);
    ASSERT_EQ(p.status.builds.size(), 1u);
    const auto& b = p.status.builds[0];
    EXPECT_EQ(b.phase, BuildPhase::pending);
    EXPECT_EQ(b.engine, api::BuildEngine::buildkit);
    EXPECT_EQ(b.job_name, a.job_name);
    EXPECT_EQ(b.start_time, kT0);
    EXPECT_EQ(p.status.building, "aaaaaaa");
    EXPECT_EQ(built(p)->reason, "Building");
    EXPECT_EQ(built(p)->observed_generation, 3);
    EXPECT_FALSE(p.ready);
    ASSERT_EQ(p.events.size(), 1u);
    EXPECT_EQ(p.events[0].reason, "BuildStarted");
    // The timeout backstop is due 30m + grace after the start.
    ASSERT_TRUE(p.requeue_after);
    EXPECT_EQ(*p.requeue_after, 30min + build::kTimeoutGrace + 1s);

    // Planning again before the Job is seen starts it again (same name: AlreadyExists is fine)
    // and records nothing new.
    app.status = p.status;
    auto again = build::plan(app, observe(kShaA), kT0 + 2s);
    EXPECT_EQ(kinds(again), std::vector<ActionKind>{ActionKind::start});
    EXPECT_EQ(again.actions[0].job_name, a.job_name);
    EXPECT_EQ(again.status.builds.size(), 1u);
}

TEST(BuildPlan, AnExistingTagIsAdoptedWithoutBuilding) {
    api::PoetryApp app = make_app();
    auto p = build::plan(app, observe(kShaA, kDigest1), kT0);
    ASSERT_EQ(kinds(p), std::vector<ActionKind>{ActionKind::adopt});
    EXPECT_EQ(p.actions[0].digest, kDigest1);
    ASSERT_EQ(p.status.builds.size(), 1u);
    EXPECT_EQ(p.status.builds[0].phase, BuildPhase::succeeded);
    EXPECT_EQ(p.status.builds[0].digest, kDigest1);
    EXPECT_EQ(p.status.builds[0].reason, "ImageAdopted");
    EXPECT_TRUE(p.status.builds[0].job_name.empty());
    EXPECT_EQ(p.status.building, "");
    EXPECT_EQ(built(p)->status, "True");
    EXPECT_EQ(built(p)->reason, "ImageAdopted");
    EXPECT_THAT(built(p)->message, HasSubstr(kDigest1));
}

TEST(BuildPlan, TheSameCommitIsNeverBuiltTwice) {
    for (auto [phase, reason] :
         {std::pair{BuildPhase::succeeded, "Built"}, std::pair{BuildPhase::failed, "BuildFailed"},
          std::pair{BuildPhase::cancelled, "Superseded"}}) {
        api::PoetryApp app = make_app();
        app.status.builds = {finished(kShaA, phase, reason)};
        auto p = build::plan(app, observe(kShaA), kT0);
        EXPECT_TRUE(p.actions.empty()) << reason;
        EXPECT_EQ(p.status.builds.size(), 1u) << reason;
        EXPECT_EQ(built(p)->status, phase == BuildPhase::succeeded ? "True" : "False");
    }
}

TEST(BuildPlan, JobProgressIsFollowedToAVerification) {
    api::PoetryApp app = make_app();
    app.status.builds = {in_flight(app, kShaA, BuildPhase::pending)};
    Observations o = observe(kShaA);

    JobObservation j = job(app, kShaA, JobPhase::pending);
    j.message = "build container: ImagePullBackOff: Back-off pulling image";
    o.jobs = {j};
    auto p = build::plan(app, o, kT0 + 20s);
    EXPECT_TRUE(p.actions.empty());
    EXPECT_EQ(p.status.builds[0].phase, BuildPhase::pending);
    EXPECT_THAT(p.status.builds[0].message, HasSubstr("ImagePullBackOff"));
    EXPECT_THAT(built(p)->message, HasSubstr("ImagePullBackOff"));

    o.jobs = {job(app, kShaA, JobPhase::running)};
    p = build::plan(app, o, kT0 + 30s);
    EXPECT_TRUE(p.actions.empty());
    EXPECT_EQ(p.status.builds[0].phase, BuildPhase::running);
    EXPECT_EQ(p.status.builds[0].start_time, kT0 + 10s) << "the Job's start";
    EXPECT_EQ(p.status.building, "aaaaaaa");

    j = job(app, kShaA, JobPhase::succeeded);
    j.digest = kDigest1;
    j.completion_time = kT0 + 10s + 151s;
    o.jobs = {j};
    app.status = p.status;
    p = build::plan(app, o, kT0 + 200s);
    ASSERT_EQ(kinds(p), std::vector<ActionKind>{ActionKind::verify});
    EXPECT_EQ(p.actions[0].digest, kDigest1);
    EXPECT_EQ(p.actions[0].tag, "1.4.2-aaaaaaa");
    EXPECT_EQ(p.status.builds[0].phase, BuildPhase::running) << "not Succeeded before verified";
    EXPECT_EQ(p.status.builds[0].digest, kDigest1);
    EXPECT_EQ(p.status.builds[0].duration, "2m31s");
    EXPECT_EQ(built(p)->status, "False");

    // Until the caller answers, every plan asks again (a crash loses nothing), Job or not.
    app.status = p.status;
    o.jobs.clear();
    EXPECT_EQ(kinds(build::plan(app, o, kT0 + 300s)), std::vector<ActionKind>{ActionKind::verify});

    api::PoetryAppStatus st = p.status;
    auto events = build::record_verification(st, 3, p.actions[0], kDigest1, kT0 + 201s);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].reason, "Built");
    EXPECT_FALSE(events[0].warning);
    EXPECT_EQ(st.builds[0].phase, BuildPhase::succeeded);
    EXPECT_EQ(st.builds[0].reason, "Built");
    EXPECT_EQ(st.building, "");
    const api::Condition* c = api::find_condition(st.conditions, api::kConditionBuilt);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->status, "True");
    EXPECT_EQ(c->reason, "Built");
    EXPECT_THAT(c->message, HasSubstr("1.4.2-aaaaaaa is " + kDigest1));
    // A second answer changes nothing.
    EXPECT_TRUE(build::record_verification(st, 3, p.actions[0], kDigest1, kT0 + 202s).empty());
}

TEST(BuildPlan, ADigestTheRegistryDoesNotHoldFailsTheBuild) {
    api::PoetryApp app = make_app();
    api::BuildStatus b = in_flight(app, kShaA);
    b.digest = kDigest1;
    app.status.builds = {b};
    auto p = build::plan(app, observe(kShaA), kT0 + 5min);
    ASSERT_EQ(kinds(p), std::vector<ActionKind>{ActionKind::verify});

    api::PoetryAppStatus other = p.status;
    auto events = build::record_verification(other, 3, p.actions[0], kDigest2, kT0 + 5min);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_TRUE(events[0].warning);
    EXPECT_EQ(events[0].reason, "DigestMismatch");
    EXPECT_EQ(other.builds[0].phase, BuildPhase::failed);
    EXPECT_THAT(other.builds[0].message,
                HasSubstr("the registry has 1.4.2-aaaaaaa at " + kDigest2));
    auto ready = build::build_ready(other, 3);
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->reason, "DigestMismatch");

    api::PoetryAppStatus missing = p.status;
    build::record_verification(missing, 3, p.actions[0], std::nullopt, kT0 + 5min);
    EXPECT_EQ(missing.builds[0].reason, "DigestMismatch");
    EXPECT_THAT(missing.builds[0].message, HasSubstr("has no tag 1.4.2-aaaaaaa"));
}

TEST(BuildPlan, ASuccessWithoutDigestFails) {
    api::PoetryApp app = make_app();
    app.status.builds = {in_flight(app, kShaA)};
    Observations o = observe(kShaA);
    JobObservation j = job(app, kShaA, JobPhase::succeeded);
    j.reason = "NoDigest";
    j.message = "the build container's termination message is empty";
    o.jobs = {j};
    auto p = build::plan(app, o, kT0 + 5min);
    EXPECT_TRUE(p.actions.empty());
    EXPECT_EQ(p.status.builds[0].phase, BuildPhase::failed);
    EXPECT_EQ(p.status.builds[0].reason, "NoDigest");
    EXPECT_THAT(p.status.builds[0].message, HasSubstr("termination message is empty"));
}

TEST(BuildPlan, JobFailuresKeepTheirReasonAndTimeoutIsBuildTimedOut) {
    api::PoetryApp app = make_app();
    app.status.builds = {in_flight(app, kShaA)};
    Observations o = observe(kShaA);
    JobObservation j = job(app, kShaA, JobPhase::failed);
    j.reason = "BackoffLimitExceeded";
    j.message =
        "build container: Error (exit code 1): ERROR: failed to solve: process "
        "\"/bin/sh -c poetry install\" did not complete successfully";
    j.completion_time = kT0 + 70s;
    o.jobs = {j};
    auto p = build::plan(app, o, kT0 + 2min);
    const auto& b = p.status.builds[0];
    EXPECT_EQ(b.phase, BuildPhase::failed);
    EXPECT_EQ(b.reason, "BuildFailed");
    EXPECT_THAT(b.message, HasSubstr("BackoffLimitExceeded"));
    EXPECT_THAT(b.message, HasSubstr("failed to solve"));
    EXPECT_EQ(b.duration, "1m") << "from the Job's start to its end";
    EXPECT_EQ(p.status.building, "");
    EXPECT_EQ(built(p)->reason, "BuildFailed");
    ASSERT_TRUE(p.ready);
    EXPECT_EQ(p.ready->status, "False");
    EXPECT_EQ(p.ready->reason, "BuildFailed");
    ASSERT_EQ(p.events.size(), 1u);
    EXPECT_TRUE(p.events[0].warning);

    j.reason = "DeadlineExceeded";
    j.message = "Job was active longer than specified deadline";
    o.jobs = {j};
    p = build::plan(app, o, kT0 + 31min);
    EXPECT_EQ(p.status.builds[0].reason, "BuildTimedOut");
    EXPECT_THAT(p.status.builds[0].message, HasSubstr("spec.build.timeout (30m)"));
    EXPECT_EQ(p.ready->reason, "BuildTimedOut");
}

TEST(BuildPlan, ABuildPastItsTimeoutIsCancelledByThePlannerToo) {
    api::PoetryApp app = make_app();
    app.spec.build->timeout = api::Duration("10m");
    app.status.builds = {in_flight(app, kShaA)};
    Observations o = observe(kShaA);
    JobObservation j = job(app, kShaA, JobPhase::running);
    j.start_time = kT0;
    o.jobs = {j};
    auto p = build::plan(app, o, kT0 + 10min);
    EXPECT_TRUE(p.actions.empty()) << "within the grace the Job's own deadline acts";
    ASSERT_TRUE(p.requeue_after);
    EXPECT_EQ(*p.requeue_after, build::kTimeoutGrace + 1s);

    p = build::plan(app, o, kT0 + 10min + build::kTimeoutGrace);
    ASSERT_EQ(kinds(p), std::vector<ActionKind>{ActionKind::cancel});
    EXPECT_EQ(p.actions[0].job_name, job_of(app, kShaA));
    EXPECT_EQ(p.status.builds[0].phase, BuildPhase::failed);
    EXPECT_EQ(p.status.builds[0].reason, "BuildTimedOut");
    EXPECT_THAT(p.status.builds[0].message, HasSubstr("spec.build.timeout (10m)"));
}

TEST(BuildPlan, AJobDeletedByHandFailsTheBuild) {
    api::PoetryApp app = make_app();
    app.status.builds = {in_flight(app, kShaA, BuildPhase::running)};
    auto p = build::plan(app, observe(kShaA), kT0 + 3min);
    EXPECT_TRUE(p.actions.empty());
    EXPECT_EQ(p.status.builds[0].phase, BuildPhase::failed);
    EXPECT_EQ(p.status.builds[0].reason, "JobDeleted");
    EXPECT_THAT(p.status.builds[0].message, HasSubstr(job_of(app, kShaA)));
}

TEST(BuildPlan, ANewerCommitCancelsTheOutdatedBuild) {
    api::PoetryApp app = make_app();
    app.status.builds = {in_flight(app, kShaA)};
    Observations o = observe(kShaB);
    o.jobs = {job(app, kShaA, JobPhase::running)};
    auto p = build::plan(app, o, kT0 + 5min);
    ASSERT_EQ(kinds(p), (std::vector<ActionKind>{ActionKind::cancel, ActionKind::start}));
    EXPECT_EQ(p.actions[0].job_name, job_of(app, kShaA));
    EXPECT_EQ(p.actions[1].job_name, job_of(app, kShaB));
    ASSERT_EQ(p.status.builds.size(), 2u);
    EXPECT_EQ(p.status.builds[0].commit, kShaB);
    EXPECT_EQ(p.status.builds[0].phase, BuildPhase::pending);
    EXPECT_EQ(p.status.builds[1].phase, BuildPhase::cancelled);
    EXPECT_EQ(p.status.builds[1].reason, "Superseded");
    EXPECT_THAT(p.status.builds[1].message, HasSubstr("bbbbbbb"));
    EXPECT_EQ(p.status.building, "bbbbbbb");

    // The cancelled Job still shows as running for a while: nothing more is done about it.
    app.status = p.status;
    p = build::plan(app, o, kT0 + 5min + 1s);
    EXPECT_THAT(kinds(p), testing::Contains(ActionKind::cancel).Times(1));
    EXPECT_EQ(p.status.builds[1].phase, BuildPhase::cancelled);
}

TEST(BuildPlan, WithoutCancelOutdatedTheNewestCommitWaitsThenBuilds) {
    api::PoetryApp app = make_app();
    app.spec.build->cancel_outdated = false;
    app.status.builds = {in_flight(app, kShaA)};
    Observations o = observe(kShaB);
    o.jobs = {job(app, kShaA, JobPhase::running)};
    auto p = build::plan(app, o, kT0 + 5min);
    EXPECT_TRUE(p.actions.empty());
    ASSERT_EQ(p.status.builds.size(), 1u) << "a waiting commit is not recorded";
    EXPECT_EQ(p.status.building, "aaaaaaa");
    EXPECT_THAT(built(p)->message, HasSubstr("cancelOutdated is false"));

    // A finishes (and is verified): B builds.
    app.status = p.status;
    app.status.builds[0].phase = BuildPhase::succeeded;
    app.status.builds[0].digest = kDigest1;
    o.jobs = {};
    p = build::plan(app, o, kT0 + 9min);
    ASSERT_EQ(kinds(p), std::vector<ActionKind>{ActionKind::start});
    EXPECT_EQ(p.actions[0].commit, kShaB);
}

TEST(BuildPlan, AStaleLockFailsWithoutAJobNamingPoetryLock) {
    api::PoetryApp app = make_app();
    Observations o = observe(kShaA);
    o.project->lock_problem = "content-hash does not match pyproject.toml";
    auto p = build::plan(app, o, kT0);
    EXPECT_TRUE(p.actions.empty());
    ASSERT_EQ(p.status.builds.size(), 1u);
    const auto& b = p.status.builds[0];
    EXPECT_EQ(b.phase, BuildPhase::failed);
    EXPECT_EQ(b.reason, "StaleLock");
    EXPECT_THAT(b.message, HasSubstr("poetry.lock"));
    EXPECT_THAT(b.message, HasSubstr("content-hash does not match"));
    EXPECT_TRUE(b.job_name.empty());
    EXPECT_EQ(built(p)->reason, "StaleLock");
    ASSERT_TRUE(p.ready);
    EXPECT_EQ(p.ready->reason, "StaleLock");
    EXPECT_THAT(p.ready->message, HasSubstr("poetry.lock"));
    ASSERT_EQ(p.events.size(), 1u);
    EXPECT_EQ(p.events[0].reason, "StaleLock");
    EXPECT_TRUE(p.events[0].warning);
}

TEST(BuildPlan, ACommitWithoutPyprojectNamesThePath) {
    api::PoetryApp app = make_app();
    Observations o = observe(kShaA);
    o.project->pyproject_found = false;
    auto p = build::plan(app, o, kT0);
    EXPECT_TRUE(p.actions.empty());
    EXPECT_EQ(p.status.builds[0].reason, "ProjectNotFound");
    EXPECT_THAT(p.status.builds[0].message, HasSubstr("services/billing/pyproject.toml"));
    EXPECT_THAT(p.status.builds[0].message, HasSubstr("spec.source.path"));

    o.project = facts();
    o.project->pyproject_problem = "pyproject.toml:3: [tool.poetry] has no version";
    p = build::plan(app, o, kT0);
    EXPECT_EQ(p.status.builds[0].reason, "InvalidProject");
    EXPECT_EQ(p.status.builds[0].message, "pyproject.toml:3: [tool.poetry] has no version");
}

TEST(BuildPlan, ATagTheTemplateCannotRenderFailsNamingTheField) {
    api::PoetryApp app = make_app();
    app.spec.image.tag_template = "{version}-{buildNumber}";
    auto p = build::plan(app, observe(kShaA), kT0);
    EXPECT_TRUE(p.actions.empty());
    EXPECT_EQ(p.status.builds[0].reason, "InvalidTag");
    EXPECT_THAT(p.status.builds[0].message, HasSubstr("spec.image.tagTemplate"));
    EXPECT_THAT(p.status.builds[0].message, HasSubstr("buildNumber"));
}

TEST(BuildPlan, AfterAFailureTheNextCommitStillBuilds) {
    api::PoetryApp app = make_app();
    app.status.builds = {finished(kShaA, BuildPhase::failed, "BuildFailed")};
    auto p = build::plan(app, observe(kShaB), kT0);
    ASSERT_EQ(kinds(p), std::vector<ActionKind>{ActionKind::start});
    EXPECT_EQ(p.actions[0].commit, kShaB);
    EXPECT_FALSE(p.ready) << "the newest build is not a failure any more";
    // And a stale lock in one commit does not stop the next.
    app.status.builds = {finished(kShaA, BuildPhase::failed, "StaleLock")};
    p = build::plan(app, observe(kShaB), kT0);
    EXPECT_EQ(kinds(p), std::vector<ActionKind>{ActionKind::start});
}

TEST(BuildPlan, HistoryIsBoundedButABuildInFlightStays) {
    api::PoetryApp app = make_app();
    app.spec.history_limit = 3;
    app.status.builds = {finished(kShaC, BuildPhase::succeeded, "Built"),
                         finished(kShaB, BuildPhase::failed, "BuildFailed"),
                         finished(kShaA, BuildPhase::succeeded, "Built")};
    const std::string kShaD = std::string(40, 'd');
    auto p = build::plan(app, observe(kShaD), kT0);
    ASSERT_EQ(p.status.builds.size(), 3u);
    EXPECT_EQ(p.status.builds[0].commit, kShaD);
    EXPECT_EQ(p.status.builds[1].commit, kShaC);
    EXPECT_EQ(p.status.builds[2].commit, kShaB);

    // Limit 1, a build in flight (the newer commit waits without cancelOutdated) and a newer
    // commit refused for its lock: both stay.
    app.spec.history_limit = 1;
    app.spec.build->cancel_outdated = false;
    app.status.builds = {in_flight(app, kShaA)};
    Observations o = observe(kShaB);
    o.project->lock_problem = "poetry.lock is missing";
    o.jobs = {job(app, kShaA, JobPhase::running)};
    p = build::plan(app, o, kT0 + 1min);
    ASSERT_EQ(p.status.builds.size(), 2u);
    EXPECT_EQ(p.status.builds[0].reason, "StaleLock");
    EXPECT_EQ(p.status.builds[1].phase, BuildPhase::running);
    EXPECT_EQ(p.status.building, "aaaaaaa");
    EXPECT_EQ(built(p)->reason, "StaleLock") << "the newest commit's verdict";
}

TEST(BuildPlan, SuspendFollowsButNeverStartsOrCancels) {
    api::PoetryApp app = make_app();
    app.spec.suspend = true;
    auto p = build::plan(app, observe(kShaA), kT0);
    EXPECT_TRUE(p.actions.empty());
    EXPECT_TRUE(p.status.builds.empty());
    EXPECT_THAT(built(p)->message, HasSubstr("spec.suspend"));

    app.status.builds = {in_flight(app, kShaA)};
    Observations o = observe(kShaB);
    JobObservation j = job(app, kShaA, JobPhase::succeeded);
    j.digest = kDigest1;
    o.jobs = {j, job(app, kShaC, JobPhase::running)};
    p = build::plan(app, o, kT0 + 1min);
    EXPECT_EQ(kinds(p), std::vector<ActionKind>{ActionKind::verify})
        << "a verification only reads the registry";
}

TEST(BuildPlan, ACommitElsewhereInTheMonorepoBuildsNothing) {
    api::PoetryApp app = make_app();
    Observations o = observe(kShaA);
    o.head->touches_project = false;
    auto p = build::plan(app, o, kT0);
    EXPECT_TRUE(p.actions.empty());
    EXPECT_TRUE(p.status.builds.empty());
}

TEST(BuildPlan, AJobNoBuildFollowsIsCancelled) {
    api::PoetryApp app = make_app();
    app.status.builds = {finished(kShaB, BuildPhase::succeeded, "Built")};
    Observations o = observe(kShaB);
    o.jobs = {job(app, kShaA, JobPhase::running), job(app, kShaC, JobPhase::succeeded)};
    auto p = build::plan(app, o, kT0);
    ASSERT_EQ(kinds(p), std::vector<ActionKind>{ActionKind::cancel});
    EXPECT_EQ(p.actions[0].job_name, job_of(app, kShaA));
}

TEST(BuildPlan, TheHeadsJobIsTakenOverWhenStatusLostIt) {
    // A crash between creating the Job and writing status: the next plan finds the Job by its
    // name and follows it instead of starting another.
    api::PoetryApp app = make_app();
    Observations o = observe(kShaA);
    o.head_tag.reset();
    o.jobs = {job(app, kShaA, JobPhase::running)};
    auto p = build::plan(app, o, kT0 + 1min);
    EXPECT_TRUE(p.actions.empty());
    ASSERT_EQ(p.status.builds.size(), 1u);
    EXPECT_EQ(p.status.builds[0].phase, BuildPhase::running);
    EXPECT_EQ(p.status.builds[0].tag, "1.4.2-aaaaaaa");
    EXPECT_EQ(p.status.builds[0].job_name, job_of(app, kShaA));
    EXPECT_EQ(p.status.building, "aaaaaaa");
}

TEST(BuildPlan, NewestBuiltIsTheNewestSucceededBuild) {
    api::PoetryAppStatus st;
    EXPECT_EQ(build::newest_built(st), nullptr);
    api::BuildStatus running, failed, ok, older;
    running.phase = BuildPhase::running;
    running.digest = kDigest2;  // reported, not verified yet
    failed.phase = BuildPhase::failed;
    ok.phase = BuildPhase::succeeded;
    ok.commit = kShaB;
    ok.digest = kDigest1;
    older.phase = BuildPhase::succeeded;
    older.commit = kShaA;
    older.digest = kDigest2;
    st.builds = {running, failed, ok, older};
    ASSERT_NE(build::newest_built(st), nullptr);
    EXPECT_EQ(build::newest_built(st)->commit, kShaB);
}

TEST(BuildPlan, HeadTagKeepsARecordedTagAndRendersTheTemplate) {
    api::PoetryApp app = make_app();
    app.spec.image.tag_template = "{version}-{branch}-{timestamp}";
    app.spec.source->ref = "release/2.x";
    build::SourceCommit c = commit(kShaA);
    auto tag = build::head_tag(app, c, facts("2.0.0+local"), kT0);
    ASSERT_TRUE(tag) << tag.error().message;
    EXPECT_EQ(*tag, "2.0.0-local-release-2.x-20260504090000");
    // Commit time unknown: now, once; recorded tags are kept afterwards.
    c.time = {};
    EXPECT_EQ(*build::head_tag(app, c, facts("2.0.0"), kT0), "2.0.0-release-2.x-20260504100000");
    api::BuildStatus recorded = finished(kShaA, BuildPhase::failed, "BuildFailed");
    recorded.tag = "2.0.0-release-2.x-20260101000000";
    app.status.builds = {recorded};
    EXPECT_EQ(*build::head_tag(app, c, facts("2.0.0"), kT0 + 1h), recorded.tag);

    app.spec.image.tag_template = "{version}.{buildNumber}";
    c.sha = kShaB;
    c.build_number = "57";
    EXPECT_EQ(*build::head_tag(app, c, facts("2.0.0"), kT0), "2.0.0.57");
}

TEST(BuildPlan, FoldReadyMeasuresTheTransitionAgainstTheStoredCondition) {
    api::PoetryAppStatus stored;
    api::set_condition(stored.conditions, {"Ready", "False", 3, {}, "StaleLock", "old"}, kT0);
    api::set_condition(stored.conditions, {"Degraded", "False", 3, {}, "AsExpected", ""}, kT0);
    // The promotion planner, starting from `stored`, decided Ready=True just now.
    api::PoetryAppStatus promoted = stored;
    api::set_condition(promoted.conditions, {"Ready", "True", 3, {}, "AsExpected", "ok"}, kT0 + 1h);
    api::Condition build_says{"Ready", "False", 3, {}, "StaleLock", "still stale"};
    build::fold_ready(promoted, stored, build_says, kT0 + 1h);
    const api::Condition* ready = api::find_condition(promoted.conditions, "Ready");
    ASSERT_NE(ready, nullptr);
    EXPECT_EQ(ready->status, "False");
    EXPECT_EQ(ready->message, "still stale");
    EXPECT_EQ(ready->last_transition_time, kT0) << "no flip: it was False before";
    EXPECT_EQ(promoted.conditions[0].type, "Ready") << "order kept";

    // Nothing from the build: the promotion planner's verdict stands.
    api::PoetryAppStatus untouched = promoted;
    build::fold_ready(untouched, stored, std::nullopt, kT0 + 2h);
    EXPECT_EQ(untouched.conditions, promoted.conditions);

    // No Ready stored yet: the build's verdict is new.
    api::PoetryAppStatus fresh;
    build::fold_ready(fresh, api::PoetryAppStatus{}, build_says, kT0 + 3h);
    ASSERT_EQ(fresh.conditions.size(), 1u);
    EXPECT_EQ(fresh.conditions[0].last_transition_time, kT0 + 3h);
}

TEST(BuildTouches, OnlyPathsUnderTheProjectOrItsDependencies) {
    std::vector<std::string> docs{"docs/index.md", "services/other/app.py"};
    std::vector<std::string> mine{"docs/index.md", "services/billing/app/main.py"};
    std::vector<std::string> lock{"services/billing/poetry.lock"};
    std::vector<std::string> sibling{"services/billing-v2/app.py"};
    std::vector<std::string> lib{"libs/common/common/__init__.py"};
    EXPECT_FALSE(build::touches(docs, "services/billing"));
    EXPECT_TRUE(build::touches(mine, "services/billing"));
    EXPECT_TRUE(build::touches(lock, "services/billing/"));
    EXPECT_TRUE(build::touches(lock, "./services/billing"));
    EXPECT_FALSE(build::touches(sibling, "services/billing")) << "a prefix is not a folder";
    EXPECT_FALSE(build::touches(lib, "services/billing"));
    std::vector<std::string> extra{"libs/common"};
    EXPECT_TRUE(build::touches(lib, "services/billing", extra));
    EXPECT_TRUE(build::touches(docs, "."));
    EXPECT_TRUE(build::touches(docs, "./"));
    EXPECT_FALSE(build::touches(std::vector<std::string>{}, "."));
    std::vector<std::string> exact{"services/billing"};
    EXPECT_TRUE(build::touches(exact, "services/billing")) << "a file named like the folder";
}

#include <poetryops/api/codec.hpp>
#include <poetryops/promote/plan.hpp>
#include <poetryops/promote/trailers.hpp>

#include "plan_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

namespace poetryops::promote {
namespace {

using namespace std::chrono_literals;
using api::Phase;

using namespace test;

/// dev (first, health none) -> staging (soak 10m, argocd gate, health timeout 15m) -> prod
/// (approval required).
api::PoetryApp make_app() {
    api::PoetryApp app;
    app.metadata.name = "billing";
    app.metadata.namespace_ = "team-a";
    app.metadata.generation = 3;
    app.spec.image.repository = kRepo;
    api::EnvironmentSpec dev;
    dev.name = "dev";
    dev.path = "envs/dev";
    api::EnvironmentSpec staging;
    staging.name = "staging";
    staging.path = "envs/staging";
    staging.promotion.from = "dev";
    staging.promotion.soak = api::Duration("10m");
    staging.health.argocd = api::ArgoCdHealth{"billing-staging", "argocd"};
    api::EnvironmentSpec prod;
    prod.name = "prod";
    prod.path = "envs/prod";
    prod.promotion.from = "staging";
    prod.promotion.approval.required = true;
    prod.health.deployment = api::DeploymentHealth{"billing", ""};
    app.spec.environments = {dev, staging, prod};
    return app;
}

bool has_event(const Plan& p, const std::string& reason) {
    return std::any_of(p.events.begin(), p.events.end(),
                       [&](const Event& e) { return e.reason == reason; });
}

/// Runs one reconcile: plan, then "commit" every action (commit sha = "c-<env>-<n>").
Plan step(api::PoetryApp& app, Observations obs, TimePoint now) {
    static int n = 0;
    Plan p = plan(app, obs, now);
    for (const auto& a : p.actions)
        record_promotion(p.status, app.spec, a, "c-" + a.environment + "-" + std::to_string(++n),
                         now);
    app.status = p.status;
    return p;
}

class PlanTest : public ::testing::Test {
protected:
    api::PoetryApp app = make_app();
    TimePoint t0 = std::chrono::sys_days{std::chrono::year{2026} / 3 / 1};
};

TEST_F(PlanTest, FirstEnvironmentTakesTheNewestEligibleArtifact) {
    Observations obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    Plan p = plan(app, obs, t0);
    ASSERT_EQ(p.actions.size(), 1u);
    EXPECT_EQ(p.actions[0].environment, "dev");
    EXPECT_EQ(p.actions[0].image, kRepo + ":1.4.2-ab12cd3@" + kA);
    EXPECT_EQ(p.actions[0].kind, api::HistoryKind::promote);
    EXPECT_EQ(p.status.environments[0].phase, Phase::promoting);
    EXPECT_EQ(p.status.environments[1].phase, Phase::pending);
    EXPECT_EQ(p.status.environments[2].phase, Phase::pending);
}

TEST_F(PlanTest, AHoldAnnotationKeepsTheEnvironmentWhereItIsUntilRemoved) {
    app.metadata.annotations["poetryops.io/hold.dev"] = "incident 42";
    Observations obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    Plan p = plan(app, obs, t0);
    EXPECT_TRUE(p.actions.empty());
    EXPECT_EQ(p.status.environments[0].message,
              "held by poetryops.io/hold.dev (incident 42): no promotion into dev until the "
              "annotation is removed");
    // Planned again with the status it wrote: the message does not grow.
    app.status = p.status;
    p = plan(app, obs, t0);
    EXPECT_TRUE(p.actions.empty());
    EXPECT_EQ(p.status.environments[0].message.find("; held"), std::string::npos);
    app.metadata.annotations.clear();
    p = plan(app, obs, t0);
    ASSERT_EQ(p.actions.size(), 1u);
    EXPECT_EQ(p.actions[0].environment, "dev");
}

TEST_F(PlanTest, NoArtifactMeansNothingToDo) {
    Plan p = plan(app, observe_status(app), t0);
    EXPECT_TRUE(p.actions.empty());
    EXPECT_EQ(p.status.environments[0].reason, "NoArtifact");
}

TEST_F(PlanTest, SameDigestFlowsDownstreamOnlyAfterHealthAndSoak) {
    Observations obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    step(app, obs, t0);
    // dev has health none: healthy at once; history and commit recorded.
    const auto* dev = app.status.find_environment("dev");
    EXPECT_EQ(dev->phase, Phase::healthy);
    EXPECT_EQ(dev->digest, kA);
    EXPECT_FALSE(dev->commit.empty());
    ASSERT_EQ(app.status.history.size(), 1u);
    EXPECT_EQ(app.status.history[0].environment, "dev");

    // Staging waits for dev's soak of 10 minutes and asks to be woken when it ends.
    obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    Plan p = step(app, obs, t0 + 4min);
    EXPECT_EQ(action_for(p, "staging"), nullptr);
    ASSERT_TRUE(p.requeue_after);
    EXPECT_LE(*p.requeue_after, 6min + 1s);
    EXPECT_GE(*p.requeue_after, 6min);
    EXPECT_EQ(app.status.find_environment("staging")->reason, "Soaking");

    p = step(app, obs, t0 + 10min);
    const PromoteAction* a = action_for(p, "staging");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->artifact.digest, kA);  // exactly the digest dev runs
    EXPECT_EQ(a->artifact.version, "1.4.2");
    EXPECT_EQ(app.status.find_environment("staging")->phase, Phase::syncing);

    // Staging syncing (Argo CD not healthy yet): prod does not move.
    obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    obs.environments["staging"].health = {HealthState::progressing, "Argo CD: Progressing"};
    p = step(app, obs, t0 + 11min);
    EXPECT_TRUE(p.actions.empty());
    EXPECT_EQ(app.status.find_environment("staging")->message, "Argo CD: Progressing");
    EXPECT_EQ(app.status.find_environment("prod")->phase, Phase::pending);
}

/// A build every minute and a 10-minute soak (Kargo's #5342, #5708): with holdNewer (the default)
/// dev keeps the digest staging soaks until staging has taken it, so staging gets a new digest
/// about every 10 minutes and never starves; each one ran 10 minutes in dev; the newer build waits
/// in dev's status. Without holdNewer every build restarts the soak and staging gets nothing.
TEST_F(PlanTest, HoldNewerKeepsTheSoakingDigestSoStagingNeverStarves) {
    for (bool hold : {true, false}) {
        SCOPED_TRACE(hold ? "holdNewer" : "no holdNewer");
        app = make_app();
        app.spec.environments[1].promotion.hold_newer = hold;
        std::vector<std::pair<std::string, TimePoint>> into_staging;
        std::map<std::string, TimePoint> into_dev;
        for (int minute = 0; minute <= 60; ++minute) {
            Observations obs = observe_status(app);
            std::string digest = "sha256:" + std::string(60, 'd') + (minute < 10 ? "000" : "00") +
                                 std::to_string(minute);
            obs.newest = artifact("1.0." + std::to_string(minute), digest);
            obs.environments["staging"].health = {HealthState::healthy, "Argo CD: Healthy"};
            TimePoint now = t0 + std::chrono::minutes(minute);
            Plan p = step(app, obs, now);
            if (const auto* a = action_for(p, "dev")) into_dev[a->artifact.digest] = now;
            if (const auto* a = action_for(p, "staging"))
                into_staging.emplace_back(a->artifact.digest, now);
            // Argo CD reports staging healthy on the next pass.
            const auto* dev = app.status.find_environment("dev");
            if (hold && dev->digest != digest) {
                ASSERT_TRUE(dev->waiting) << minute;
                EXPECT_EQ(dev->waiting->digest, digest);
                EXPECT_EQ(dev->waiting->reason, "HeldForDownstream");
                EXPECT_NE(dev->message.find("keeping "), std::string::npos) << dev->message;
            }
        }
        if (!hold) {
            EXPECT_TRUE(into_staging.empty()) << "every build restarted the soak";
            continue;
        }
        ASSERT_GE(into_staging.size(), 5u);
        for (std::size_t i = 0; i < into_staging.size(); ++i) {
            const auto& [digest, when] = into_staging[i];
            ASSERT_TRUE(into_dev.count(digest));
            EXPECT_GE(when - into_dev[digest], 10min) << "soaked in dev";
            if (i > 0) {
                EXPECT_LE(when - into_staging[i - 1].second, 12min) << "never starves";
            }
        }
    }
}

/// Status names what waits at each gate: the digest dev soaks (staging), the one waiting for an
/// approval (prod) — what `kubectl poetryops approve` approves by default.
TEST_F(PlanTest, WaitingNamesTheDigestAtEachGate) {
    Observations obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    step(app, obs, t0);
    obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    step(app, obs, t0 + 1min);
    const auto* staging = app.status.find_environment("staging");
    ASSERT_TRUE(staging->waiting);
    EXPECT_EQ(staging->waiting->digest, kA);
    EXPECT_EQ(staging->waiting->reason, "Soaking");
    obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    step(app, obs, t0 + 10min);  // staging takes A
    obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    obs.environments["staging"].health = {HealthState::healthy, "Argo CD: Healthy"};
    step(app, obs, t0 + 11min);
    EXPECT_FALSE(app.status.find_environment("staging")->waiting);
    const auto* prod = app.status.find_environment("prod");
    ASSERT_TRUE(prod->waiting);
    EXPECT_EQ(prod->waiting->digest, kA);
    EXPECT_EQ(prod->waiting->reason, "WaitingForApproval");
    // The status round-trips through the API's codec.
    std::vector<api::FieldError> errors;
    auto decoded = api::decode_status(api::encode_status(app.status), errors);
    EXPECT_TRUE(errors.empty());
    EXPECT_EQ(decoded.find_environment("prod")->waiting, prod->waiting);
}

TEST_F(PlanTest, ApprovalCountsOnlyForTheDigestItNames) {
    // staging healthy with A long enough; prod requires approval.
    Observations obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    step(app, obs, t0);
    step(app, obs = observe_status(app), t0 + 10min);
    obs = observe_status(app);
    obs.environments["staging"].health = {HealthState::healthy, "Healthy"};
    step(app, obs, t0 + 11min);
    ASSERT_EQ(app.status.find_environment("staging")->phase, Phase::healthy);

    obs = observe_status(app);
    obs.environments["staging"].health = {HealthState::healthy, "Healthy"};
    Plan p = step(app, obs, t0 + 12min);
    EXPECT_EQ(action_for(p, "prod"), nullptr);
    EXPECT_EQ(app.status.find_environment("prod")->reason, "WaitingForApproval");
    EXPECT_NE(app.status.find_environment("prod")->message.find(kA), std::string::npos);

    app.metadata.annotations["poetryops.io/approve.prod"] = kB;  // approves another digest
    p = step(app, obs, t0 + 13min);
    EXPECT_EQ(action_for(p, "prod"), nullptr);
    EXPECT_TRUE(has_event(p, "ApprovalIgnored"));

    app.metadata.annotations["poetryops.io/approve.prod"] = kA;
    p = step(app, obs, t0 + 14min);
    const PromoteAction* a = action_for(p, "prod");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->artifact.digest, kA);
}

TEST_F(PlanTest, FailedHealthRejectsTheDigestHereAndDownstream) {
    Observations obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    step(app, obs, t0);
    step(app, observe_status(app), t0 + 10min);  // staging gets A
    obs = observe_status(app);
    obs.environments["staging"].health = {HealthState::degraded, "Argo CD: Degraded"};
    Plan p = step(app, obs, t0 + 12min);
    const auto* staging = app.status.find_environment("staging");
    EXPECT_EQ(staging->phase, Phase::failed);
    EXPECT_EQ(staging->rejected_digests, std::vector<std::string>{kA});
    EXPECT_TRUE(has_event(p, "HealthCheckFailed"));
    EXPECT_EQ(p.status.conditions.at(0).status, "False");
    EXPECT_EQ(p.status.conditions.at(0).reason, "PromotionFailed");
    EXPECT_EQ(p.status.summary, "dev=1.4.2 staging=1.4.2(failed) prod=-");

    // Prod never takes A even with an approval for it.
    app.metadata.annotations["poetryops.io/approve.prod"] = kA;
    p = step(app, obs, t0 + 30min);
    EXPECT_EQ(action_for(p, "prod"), nullptr);

    // A newer artifact flows again: dev takes B, then staging after soak.
    obs = observe_status(app);
    obs.newest = artifact("1.4.3", kB);
    p = step(app, obs, t0 + 31min);
    ASSERT_NE(action_for(p, "dev"), nullptr);
    obs = observe_status(app);
    obs.newest = artifact("1.4.3", kB);
    p = step(app, obs, t0 + 41min);
    ASSERT_NE(action_for(p, "staging"), nullptr);
    EXPECT_EQ(action_for(p, "staging")->artifact.digest, kB);
}

TEST_F(PlanTest, HealthTimeoutFailsTheEnvironment) {
    Observations obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    step(app, obs, t0);
    step(app, observe_status(app), t0 + 10min);
    obs = observe_status(app);  // health unknown for 15 minutes
    Plan p = step(app, obs, t0 + 20min);
    EXPECT_EQ(app.status.find_environment("staging")->phase, Phase::syncing);
    ASSERT_TRUE(p.requeue_after);
    EXPECT_LE(*p.requeue_after, 5min + 1s);
    step(app, obs, t0 + 25min);
    EXPECT_EQ(app.status.find_environment("staging")->phase, Phase::failed);
    EXPECT_NE(app.status.find_environment("staging")->message.find("not healthy within 15m"),
              std::string::npos);
}

TEST_F(PlanTest, HumanEditInGitIsAHoldNeverOverwritten) {
    // About holds: dev takes B while staging has not taken the digest before (holdNewer has tests
    // of its own).
    app.spec.environments[1].promotion.hold_newer = false;
    Observations obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    step(app, obs, t0);
    // Someone pins C in dev by hand; a newer B arrives.
    obs = observe_status(app);
    obs.environments["dev"].pinned_digest = kC;
    obs.environments["dev"].pinned_tag = "hotfix";
    obs.environments["dev"].pinned_image = kRepo + ":hotfix@" + kC;
    obs.newest = artifact("1.4.3", kB);
    Plan p = step(app, obs, t0 + 1min);
    EXPECT_TRUE(p.actions.empty());
    const auto* dev = app.status.find_environment("dev");
    EXPECT_EQ(dev->phase, Phase::held);
    EXPECT_TRUE(dev->held);
    EXPECT_EQ(dev->held_image, kRepo + ":hotfix@" + kC);
    EXPECT_EQ(dev->digest, kA);  // status keeps what poetryops pinned
    EXPECT_TRUE(has_event(p, "Held"));
    EXPECT_EQ(p.status.conditions.at(0).reason, "Held");
    EXPECT_EQ(p.status.summary, "dev=1.4.2(held) staging=- prod=-");
    // Downstream does not take anything from a held environment, even after soak.
    p = step(app, obs, t0 + 30min);
    EXPECT_TRUE(p.actions.empty());
    EXPECT_FALSE(has_event(p, "Held"));  // reported once per hold

    // A release bound to another digest does nothing; the right one adopts the human's pin.
    app.metadata.annotations["poetryops.io/release.dev"] = kB;
    p = step(app, obs, t0 + 31min);
    EXPECT_TRUE(app.status.find_environment("dev")->held);
    app.metadata.annotations["poetryops.io/release.dev"] = kC;
    p = plan(app, obs, t0 + 32min);
    EXPECT_TRUE(has_event(p, "HoldReleased"));
    EXPECT_FALSE(p.status.environments[0].held);
    // Released means "poetryops drives dev again": the newest image (B) replaces the human's pin at
    // once.
    const PromoteAction* a = action_for(p, "dev");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->artifact.digest, kB);
}

TEST_F(PlanTest, RemovedPinIsAHoldToo) {
    Observations obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    step(app, obs, t0);
    obs = observe_status(app);
    obs.environments["dev"] = EnvironmentObservation{};
    obs.newest = artifact("1.4.2", kA);
    Plan p = step(app, obs, t0 + 1min);
    EXPECT_TRUE(p.actions.empty());
    EXPECT_EQ(app.status.find_environment("dev")->reason, "RemovedFromGit");
}

TEST_F(PlanTest, OwnCommitFoundInGitIsAdoptedNotCommittedAgain) {
    // Crash between push and status write: git pins B via our commit, status still says A.
    Observations obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    step(app, obs, t0);
    obs = observe_status(app);
    obs.environments["dev"].pinned_digest = kB;
    obs.environments["dev"].pinned_tag = "1.4.3-ab12cd3";
    obs.environments["dev"].pinned_image = kRepo + ":1.4.3-ab12cd3@" + kB;
    obs.environments["dev"].promotion_commit = "deadbeef";
    obs.newest = artifact("1.4.3", kB);
    Plan p = step(app, obs, t0 + 1min);
    EXPECT_EQ(action_for(p, "dev"), nullptr);
    const auto* dev = app.status.find_environment("dev");
    EXPECT_EQ(dev->digest, kB);
    EXPECT_EQ(dev->commit, "deadbeef");
    EXPECT_FALSE(dev->held);
    EXPECT_EQ(dev->phase, Phase::healthy);  // health none
    // The history entry lost with the status write is recorded, once.
    ASSERT_FALSE(app.status.history.empty());
    EXPECT_EQ(app.status.history.front().commit, "deadbeef");
    EXPECT_EQ(app.status.history.front().kind, api::HistoryKind::promote);
    step(app, obs, t0 + 2min);
    EXPECT_EQ(std::count_if(app.status.history.begin(), app.status.history.end(),
                            [](const api::HistoryEntry& h) { return h.commit == "deadbeef"; }),
              1);
}

TEST_F(PlanTest, FirstSightAdoptsWhatGitPins) {
    Observations obs = observe_status(app);
    obs.environments["prod"].pinned_digest = kC;
    obs.environments["prod"].pinned_tag = "1.3.0";
    obs.environments["prod"].pinned_image = kRepo + ":1.3.0@" + kC;
    Plan p = step(app, obs, t0);
    const auto* prod = app.status.find_environment("prod");
    EXPECT_EQ(prod->digest, kC);
    EXPECT_EQ(prod->version, "1.3.0");
    EXPECT_FALSE(prod->held);
    EXPECT_TRUE(has_event(p, "Adopted"));
}

TEST_F(PlanTest, TagOnlyPinIsAdoptedOnceAndAChangedTagIsAHold) {
    Observations obs = observe_status(app);
    obs.environments["prod"].pinned_tag = "1.3.0";
    obs.environments["prod"].pinned_image = kRepo + ":1.3.0";
    Plan p = step(app, obs, t0);
    EXPECT_TRUE(has_event(p, "Adopted"));
    p = step(app, obs, t0 + 1min);
    EXPECT_FALSE(has_event(p, "Adopted"));
    EXPECT_FALSE(app.status.find_environment("prod")->held);
    obs.environments["prod"].pinned_tag = "1.3.1";
    obs.environments["prod"].pinned_image = kRepo + ":1.3.1";
    p = step(app, obs, t0 + 2min);
    EXPECT_TRUE(app.status.find_environment("prod")->held);
}

TEST_F(PlanTest, RollbackRepinsFromHistoryRejectsTheBadDigestAndStays) {
    app.spec.environments[1].promotion.hold_newer = false;  // about rollbacks
    Observations obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    step(app, obs, t0);
    obs = observe_status(app);
    obs.newest = artifact("1.4.3", kB);
    step(app, obs, t0 + 1min);
    ASSERT_EQ(app.status.find_environment("dev")->digest, kB);

    app.metadata.annotations["poetryops.io/rollback.dev"] = kA;
    obs = observe_status(app);
    obs.newest = artifact("1.4.3", kB);
    Plan p = step(app, obs, t0 + 2min);
    const PromoteAction* a = action_for(p, "dev");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->kind, api::HistoryKind::rollback);
    EXPECT_EQ(a->artifact.digest, kA);
    EXPECT_EQ(a->artifact.version, "1.4.2");
    const auto* dev = app.status.find_environment("dev");
    EXPECT_EQ(dev->digest, kA);
    EXPECT_EQ(dev->rejected_digests, std::vector<std::string>{kB});
    EXPECT_EQ(app.status.history.front().kind, api::HistoryKind::rollback);

    // While the annotation stays, a newer artifact does not move dev; and B never comes back.
    obs = observe_status(app);
    obs.newest = artifact("1.4.4", kC);
    p = step(app, obs, t0 + 3min);
    EXPECT_EQ(action_for(p, "dev"), nullptr);
    EXPECT_EQ(app.status.find_environment("dev")->reason, "RolledBack");
    app.metadata.annotations.erase("poetryops.io/rollback.dev");
    obs.newest = artifact("1.4.3", kB);
    p = step(app, obs, t0 + 4min);
    EXPECT_EQ(action_for(p, "dev"), nullptr);
    obs.newest = artifact("1.4.4", kC);
    p = step(app, obs, t0 + 5min);
    ASSERT_NE(action_for(p, "dev"), nullptr);
}

TEST_F(PlanTest, RollbackOrApprovalNamingAnUnknownDigestIsIgnoredWithAnEvent) {
    Observations obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    step(app, obs, t0);
    app.metadata.annotations["poetryops.io/rollback.dev"] = kC;
    obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    Plan p = step(app, obs, t0 + 1min);
    EXPECT_TRUE(p.actions.empty());
    EXPECT_TRUE(has_event(p, "UnknownRollbackDigest"));
    EXPECT_EQ(app.status.find_environment("dev")->digest, kA);
}

TEST_F(PlanTest, RollbackOverridesAHold) {
    app.spec.environments[1].promotion.hold_newer = false;  // about rollbacks
    Observations obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    step(app, obs, t0);
    obs = observe_status(app);
    obs.newest = artifact("1.4.3", kB);
    step(app, obs, t0 + 1min);
    obs = observe_status(app);
    obs.environments["dev"].pinned_digest = kC;
    obs.environments["dev"].pinned_image = kRepo + "@" + kC;
    step(app, obs, t0 + 2min);
    ASSERT_TRUE(app.status.find_environment("dev")->held);
    app.metadata.annotations["poetryops.io/rollback.dev"] = kA;
    Plan p = step(app, obs, t0 + 3min);
    ASSERT_NE(action_for(p, "dev"), nullptr);
    EXPECT_FALSE(app.status.find_environment("dev")->held);
    EXPECT_EQ(app.status.find_environment("dev")->digest, kA);
}

TEST_F(PlanTest, RolledBackUpstreamDigestIsNeverPromotedDownstream) {
    // dev: A then B (B rolled back in dev while staging soaks B? staging must never get B).
    Observations obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    step(app, obs, t0);
    obs = observe_status(app);
    obs.newest = artifact("1.4.3", kB);
    step(app, obs, t0 + 1min);
    app.metadata.annotations["poetryops.io/rollback.dev"] = kA;
    step(app, obs = observe_status(app), t0 + 2min);
    obs = observe_status(app);
    Plan p = step(app, obs, t0 + 30min);
    // staging takes A (what dev runs), never B.
    const PromoteAction* a = action_for(p, "staging");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->artifact.digest, kA);
}

TEST_F(PlanTest, SuspendObservesButDoesNotAct) {
    app.spec.suspend = true;
    Observations obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    Plan p = plan(app, obs, t0);
    EXPECT_TRUE(p.actions.empty());
    EXPECT_NE(p.status.environments[0].message.find("suspended"), std::string::npos);
}

TEST_F(PlanTest, UnreadableGitLeavesTheEnvironmentAlone) {
    Observations obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    obs.environments["dev"].read_ok = false;
    obs.environments["dev"].read_error = "connection refused";
    Plan p = plan(app, obs, t0);
    EXPECT_TRUE(p.actions.empty());
    EXPECT_NE(p.status.environments[0].message.find("connection refused"), std::string::npos);
    // Nothing is known of what it runs: not Ready.
    ASSERT_FALSE(p.status.conditions.empty());
    EXPECT_EQ(p.status.conditions[0].type, "Ready");
    EXPECT_EQ(p.status.conditions[0].status, "False");
    EXPECT_EQ(p.status.conditions[0].reason, "GitOpsUnavailable");
}

TEST_F(PlanTest, AnEnvironmentWhoseFileIsRefusedIsNotReadyNamingWhy) {
    Observations obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    auto& prod = obs.environments[app.spec.environments.back().name];
    prod.read_ok = false;
    prod.read_error = "envs/prod/values.yaml: document of 52428943 bytes is over the limit";
    prod.read_reason = "TooLarge";
    Plan p = plan(app, obs, t0);
    ASSERT_FALSE(p.status.conditions.empty());
    const api::Condition& ready = p.status.conditions[0];
    EXPECT_EQ(ready.type, "Ready");
    EXPECT_EQ(ready.status, "False");
    EXPECT_EQ(ready.reason, "TooLarge");
    EXPECT_EQ(ready.message, app.spec.environments.back().name +
                                 ": cannot read the GitOps repo: " + prod.read_error);
    // The environments before it still move.
    EXPECT_NE(action_for(p, "dev"), nullptr);
}

TEST_F(PlanTest, ReadyConditionAndTrailer) {
    Observations obs = observe_status(app);
    obs.newest = artifact("1.4.2", kA);
    Plan p = step(app, obs, t0);
    ASSERT_FALSE(p.status.conditions.empty());
    EXPECT_EQ(p.status.conditions[0].type, "Ready");
    EXPECT_EQ(p.status.conditions[0].observed_generation, 3);
    EXPECT_EQ(promotion_trailer_value(app, "dev", kA), "team-a/billing/dev/" + kA);
    EXPECT_EQ(promotion_trailer(app, "dev", kA).first, "Poetryops-Promotion");
    EXPECT_EQ(image_reference(kRepo, Artifact{"", "", kA, ""}), kRepo + "@" + kA);
}

}  // namespace
}  // namespace poetryops::promote

namespace poetryops::promote {
namespace {

/// dev (health none) -> prod with a canary of two steps (10 %, 50 %, 5m each), no analysis.
class CanaryPromotionTest : public ::testing::Test {
protected:
    CanaryPromotionTest() {
        app.metadata.name = "billing";
        app.metadata.namespace_ = "team-a";
        app.spec.image.repository = kRepo;
        api::EnvironmentSpec dev;
        dev.name = "dev";
        dev.path = "envs/dev";
        api::EnvironmentSpec prod;
        prod.name = "prod";
        prod.path = "envs/prod";
        prod.promotion.from = "dev";
        api::CanarySpec c;
        c.traffic.route = "billing";
        c.traffic.stable = "billing";
        c.traffic.canary = "billing-canary";
        c.steps = {{10, api::Duration("5m")}, {50, api::Duration("5m")}};
        prod.canary = c;
        app.spec.environments = {dev, prod};
    }

    /// Git as status says, with the canary's route and workload as its status says, healthy.
    Observations observed() {
        Observations o = observe_status(app);
        o.newest = newest;
        const auto* st = app.status.find_environment("prod");
        auto& prod = o.environments["prod"];
        prod.canary_health.state = canary::Health::healthy;
        if (st && st->canary) {
            const bool live = st->canary->phase == api::CanaryPhase::progressing ||
                              st->canary->phase == api::CanaryPhase::paused;
            prod.canary.canary_weight = live ? st->canary->weight : 0;
            prod.canary.canary_digest =
                st->canary->phase == api::CanaryPhase::aborted ? st->digest : st->canary->digest;
        }
        return o;
    }

    Plan run() { return step(app, observed(), now); }

    api::PoetryApp app;
    std::optional<Artifact> newest = artifact("1.4.1", kA);
    TimePoint now = TimePoint(std::chrono::hours(500000));
};

TEST_F(CanaryPromotionTest, TheFirstImageGoesStraightInAndTheNextOneWalksTheSteps) {
    Plan p = run();  // dev takes 1.4.1, prod has nothing: no canary yet
    p = run();
    const auto* prod = app.status.find_environment("prod");
    ASSERT_NE(prod, nullptr);
    EXPECT_EQ(prod->digest, kA) << "the first image of prod is a plain promotion";
    EXPECT_FALSE(prod->canary);

    newest = artifact("1.4.2", kB);
    run();  // dev takes 1.4.2
    p = run();
    const PromoteAction* a = action_for(p, "prod");
    ASSERT_NE(a, nullptr);
    ASSERT_TRUE(a->canary);
    EXPECT_EQ(a->canary->kind, canary::ActionKind::deploy);
    EXPECT_EQ(a->kind, api::HistoryKind::canary);
    prod = app.status.find_environment("prod");
    EXPECT_EQ(prod->digest, kA) << "a canary does not change what the environment runs";
    ASSERT_TRUE(prod->canary);
    EXPECT_EQ(prod->canary->digest, kB);

    p = run();  // healthy at weight 0: the first step
    a = action_for(p, "prod");
    ASSERT_TRUE(a && a->canary);
    EXPECT_EQ(a->canary->kind, canary::ActionKind::shift);
    EXPECT_EQ(app.status.find_environment("prod")->canary->weight, 10);
    EXPECT_EQ(app.status.summary, "dev=1.4.2 prod=1.4.2(canary 10%)");
    now += std::chrono::minutes(5);
    p = run();
    a = action_for(p, "prod");
    ASSERT_TRUE(a && a->canary);
    EXPECT_EQ(a->canary->weight, 50);
    now += std::chrono::minutes(5);
    p = run();
    a = action_for(p, "prod");
    ASSERT_TRUE(a && a->canary);
    EXPECT_EQ(a->canary->kind, canary::ActionKind::complete);
    EXPECT_EQ(a->kind, api::HistoryKind::promote);
    prod = app.status.find_environment("prod");
    EXPECT_EQ(prod->digest, kB) << "the completed canary is what prod runs";
    EXPECT_EQ(prod->canary->phase, api::CanaryPhase::succeeded);
    EXPECT_EQ(app.status.history.front().kind, api::HistoryKind::promote);
    EXPECT_EQ(app.status.history.front().digest, kB);
}

TEST_F(CanaryPromotionTest, AClosedPromotionWindowHoldsTheCanaryAtItsWeight) {
    run();
    run();
    newest = artifact("1.4.2", kB);
    run();
    run();  // deploy
    run();  // 10 %
    ASSERT_EQ(app.status.find_environment("prod")->canary->weight, 10);
    // A freeze starts: no step, no completion, until it ends.
    app.spec.environments[1].promotion.windows = {
        {"FREQ=DAILY", api::Duration("24h"), api::WindowKind::deny, "UTC", false}};
    now += std::chrono::minutes(10);
    Plan p = run();
    EXPECT_EQ(action_for(p, "prod"), nullptr);
    const auto* prod = app.status.find_environment("prod");
    EXPECT_EQ(prod->canary->weight, 10);
    EXPECT_EQ(prod->canary->phase, api::CanaryPhase::progressing);
    EXPECT_NE(prod->message.find("holds at 10% outside the promotion window: inside deny window 1 "
                                 "(no window opens within a year)"),
              std::string::npos)
        << prod->message;
    app.spec.environments[1].promotion.windows.clear();
    p = run();
    const PromoteAction* a = action_for(p, "prod");
    ASSERT_TRUE(a && a->canary);
    EXPECT_EQ(a->canary->weight, 50);
    EXPECT_FALSE(app.status.find_environment("prod")->window);
}

TEST_F(CanaryPromotionTest, AnAbortedCanaryFailsTheEnvironmentRejectsTheDigestAndKeepsStable) {
    run();
    run();
    newest = artifact("1.4.2", kB);
    run();
    run();  // deploy
    run();  // 10 %
    app.metadata.annotations["poetryops.io/canary.prod"] = "abort@" + kB;
    Plan p = run();
    const PromoteAction* a = action_for(p, "prod");
    ASSERT_TRUE(a && a->canary);
    EXPECT_EQ(a->canary->kind, canary::ActionKind::abort);
    EXPECT_EQ(a->image, kRepo + ":1.4.1-ab12cd3@" + kA) << "the stable image, for the record";
    const auto* prod = app.status.find_environment("prod");
    EXPECT_EQ(prod->phase, Phase::failed);
    EXPECT_EQ(prod->reason, "CanaryAborted");
    EXPECT_EQ(prod->digest, kA);
    EXPECT_EQ(prod->rejected_digests.front(), kB);
    EXPECT_EQ(app.status.history.front().kind, api::HistoryKind::canary);
    EXPECT_TRUE(has_event(p, "CanaryAborted"));
    // Rejected: the same digest never starts a canary here again.
    app.metadata.annotations.clear();
    p = run();
    EXPECT_EQ(action_for(p, "prod"), nullptr);
    EXPECT_EQ(app.status.find_environment("prod")->phase, Phase::failed);

    // The next image's canary: prod runs its stable digest and is no longer Failed.
    const std::string kC = "sha256:" + std::string(64, 'c');
    newest = artifact("1.4.3", kC);
    run();  // dev takes 1.4.3
    p = run();
    a = action_for(p, "prod");
    ASSERT_TRUE(a && a->canary);
    EXPECT_EQ(a->canary->kind, canary::ActionKind::deploy);
    prod = app.status.find_environment("prod");
    EXPECT_NE(prod->phase, Phase::failed);
    EXPECT_EQ(prod->digest, kA);
    auto ready = std::find_if(app.status.conditions.begin(), app.status.conditions.end(),
                              [](const api::Condition& c) { return c.type == "Ready"; });
    ASSERT_NE(ready, app.status.conditions.end());
    EXPECT_EQ(ready->status, "True") << ready->message;
}

TEST_F(CanaryPromotionTest, AnAnalysisRoundIsAskedForByEnvironment) {
    api::AnalysisSpec analysis;
    analysis.interval = api::Duration("1m");
    api::MetricSpec m;
    m.name = "success-rate";
    m.min = 0.99;
    analysis.metrics.push_back(m);
    app.spec.environments[1].canary->analysis = analysis;
    run();
    run();
    newest = artifact("1.4.2", kB);
    run();
    run();
    run();  // at 10 %
    now += std::chrono::minutes(1);
    Plan p = plan(app, observed(), now);
    EXPECT_EQ(p.analyze, std::vector<std::string>{"prod"});
    EXPECT_TRUE(p.actions.empty());
}

}  // namespace
}  // namespace poetryops::promote

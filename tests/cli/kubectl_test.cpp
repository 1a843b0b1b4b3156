// `kubectl poetryops`' decisions from a PoetryApp's spec and status (cli/kubectl.hpp): which digest
// waits where, why, what a rollback takes, what hold and release write. The verbs against a real
// API server: kubectl_plugin_it_test.cpp.
#include <poetryops/cli/kubectl.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace poetryops::cli::kubectl {
namespace {

using namespace std::chrono_literals;
using testing::HasSubstr;

const TimePoint kNow = std::chrono::sys_days{std::chrono::year{2026} / 12 / 2} + 12h;

std::string digest(char c) { return "sha256:" + std::string(64, c); }

api::EnvironmentStatus running(const std::string& env, const std::string& version, char d,
                               std::chrono::seconds ago) {
    api::EnvironmentStatus s;
    s.name = env;
    s.version = version;
    s.digest = digest(d);
    s.phase = api::Phase::healthy;
    s.since = kNow - ago;
    return s;
}

/// dev (auto) → prod (approval required, soak 10m).
api::PoetryApp app() {
    api::PoetryApp a;
    a.metadata.name = "billing";
    a.metadata.namespace_ = "team-a";
    api::EnvironmentSpec dev, prod;
    dev.name = "dev";
    prod.name = "prod";
    prod.promotion.approval.required = true;
    prod.promotion.soak = api::Duration("10m");
    a.spec.environments = {dev, prod};
    a.status.latest = api::ArtifactStatus{"1.2.0", "1.2.0-abc", digest('2'), "", std::nullopt};
    a.status.environments = {running("dev", "1.1.0", '1', 1h), running("prod", "1.0.0", '0', 48h)};
    return a;
}

TEST(KubectlPlugin, TheCandidateIsTheUpstreamsDigestOrTheNewestImage) {
    auto a = app();
    auto dev = candidate(a, "dev");
    ASSERT_TRUE(dev);
    EXPECT_EQ(dev->digest, digest('2'));
    EXPECT_EQ(dev->from, "");
    auto prod = candidate(a, "prod");
    ASSERT_TRUE(prod);
    EXPECT_EQ(prod->digest, digest('1'));
    EXPECT_EQ(prod->from, "dev");
    a.status.environments[1].digest = digest('1');
    EXPECT_FALSE(candidate(a, "prod"));
    EXPECT_FALSE(candidate(a, "qa"));
}

TEST(KubectlPlugin, ApproveTakesOnlyTheWaitingDigest) {
    auto a = app();
    auto t = approval_target(a, "prod", "");
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ(t->digest, digest('1'));
    EXPECT_TRUE(approval_target(a, "prod", digest('1')));
    auto other = approval_target(a, "prod", digest('2'));
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error().kind, Error::Kind::invalid);
    EXPECT_THAT(other.error().message, HasSubstr("that is " + digest('1') + " (1.1.0)"));
    EXPECT_THAT(approval_target(a, "dev", "").error().message, HasSubstr("needs no approval"));
    // auto: false needs approval too.
    a.spec.environments[0].promotion.auto_promote = false;
    EXPECT_TRUE(approval_target(a, "dev", ""));
    // A digest rejected there is never promoted there again: approving it is refused.
    a.status.environments[1].rejected_digests = {digest('1')};
    EXPECT_THAT(approval_target(a, "prod", "").error().message, HasSubstr("was rejected in prod"));
    a.status.environments[1].digest = digest('1');
    EXPECT_THAT(approval_target(a, "prod", "").error().message,
                HasSubstr("nothing waits for approval in prod"));
    EXPECT_EQ(approval_target(a, "qa", "").error().kind, Error::Kind::not_found);
}

/// The controller's count of approvers and a rejection (PoetryApprovals) show in why; reject takes
/// the waiting digest or any digest named.
TEST(KubectlPlugin, WhyShowsApproversSoFarAndARejectionAndRejectTakesAnyDigest) {
    auto a = app();
    a.spec.environments[1].promotion.approval.approvers = 2;
    auto& prod = a.status.environments[1];
    prod.waiting = api::WaitingArtifact{"1.1.0", "1.1.0-abc", digest('1'), "WaitingForApproval"};
    prod.message =
        "waiting for approval of 1.1.0 (sha256:111111111111): 1 of 2 approvers (alice "
        "(webhook)); kubectl poetryops approve billing prod";
    EXPECT_THAT(why(a, "prod", kNow), HasSubstr("waiting for approval (`kubectl poetryops approve "
                                                "billing prod`): waiting for approval of 1.1.0 "
                                                "(sha256:111111111111): 1 of 2 approvers (alice"));
    prod.waiting->reason = "Rejected";
    prod.message = "1.1.0 (sha256:111111111111) was rejected in prod by dave (webhook): CVE";
    EXPECT_THAT(why(a, "prod", kNow),
                HasSubstr("next: 1.1.0 (sha256:111111111111) from dev, blocked: 1.1.0 "
                          "(sha256:111111111111) was rejected in prod by dave (webhook): CVE"));

    auto waiting = rejection_target(a, "prod", "");
    ASSERT_TRUE(waiting) << waiting.error().message;
    EXPECT_EQ(waiting->digest, digest('1'));
    auto ahead = rejection_target(a, "prod", digest('7'));
    ASSERT_TRUE(ahead) << ahead.error().message;
    EXPECT_EQ(ahead->digest, digest('7'));
    EXPECT_THAT(rejection_target(a, "prod", "sha256:ABC").error().message,
                HasSubstr("is not a digest"));
    a.status.environments[1].digest = digest('1');
    EXPECT_THAT(rejection_target(a, "prod", "").error().message,
                HasSubstr("nothing waits in prod of team-a/billing: name the DIGEST to reject"));
}

TEST(KubectlPlugin, WhyNamesTheGateThatWaits) {
    auto a = app();
    // dev has run 1.1.0 for an hour: soaked; prod waits for approval.
    EXPECT_THAT(why(a, "prod", kNow),
                HasSubstr("next: 1.1.0 (sha256:111111111111) from dev, waiting for approval"));
    a.status.environments[0].since = kNow - 4min;
    EXPECT_THAT(why(a, "prod", kNow),
                HasSubstr("soaking in dev until 2026-12-02T12:06:00Z (6m left), then needs "
                          "approval"));
    a.status.environments[0].phase = api::Phase::syncing;
    EXPECT_THAT(why(a, "prod", kNow), HasSubstr("waiting for dev to be Healthy (it is Syncing)"));
    // dev keeps what prod soaks until prod has taken it (holdNewer): the controller says so in
    // status, and why says it for dev.
    a.status.environments[0].waiting =
        api::WaitingArtifact{"1.2.0", "1.2.0-abc", digest('2'), "HeldForDownstream"};
    EXPECT_THAT(why(a, "dev", kNow),
                HasSubstr("next: 1.2.0 (sha256:222222222222) (newest image), waiting: dev keeps "
                          "1.1.0 (sha256:111111111111) until the environment downstream"));
    a.status.environments[0].waiting.reset();
    // Approved and soaked, outside prod's promotion window: why says which window and when.
    a.metadata.annotations["poetryops.io/approve.prod"] = digest('1');
    a.status.environments[1].waiting =
        api::WaitingArtifact{"1.1.0", "1.1.0-abc", digest('1'), "OutsidePromotionWindow"};
    a.status.environments[1].window =
        api::WindowStatus{false, kNow + 90min, kNow + 150min, "inside deny window 1"};
    a.status.environments[0].phase = api::Phase::healthy;
    a.status.environments[0].since = kNow - 1h;
    EXPECT_THAT(why(a, "prod", kNow),
                HasSubstr("every gate passed; waiting for a promotion window (inside deny window "
                          "1), which opens at 2026-12-02T13:30:00Z (in 1h30m)"));
    a.metadata.annotations.erase("poetryops.io/approve.prod");
    a.status.environments[1].waiting.reset();
    a.status.environments[1].window.reset();
    a.status.environments[0].held = true;
    a.status.environments[0].held_image = "r/billing:hotfix";
    EXPECT_THAT(why(a, "prod", kNow), HasSubstr("waiting: dev is held"));
    EXPECT_THAT(why(a, "dev", kNow), HasSubstr("held: git pins r/billing:hotfix"));
    a.metadata.annotations["poetryops.io/rollback.prod"] = digest('0');
    EXPECT_THAT(why(a, "prod", kNow), HasSubstr("pinned by poetryops.io/rollback.prod="));
    a.status.environments.clear();
    EXPECT_THAT(why(a, "prod", kNow), HasSubstr("prod: no status yet"));
}

TEST(KubectlPlugin, RollbackPreviousSkipsTheRunningAndRejectedDigests) {
    auto a = app();
    auto h = [](const std::string& env, char d, const std::string& version) {
        api::HistoryEntry e;
        e.environment = env;
        e.digest = digest(d);
        e.version = version;
        return e;
    };
    a.status.history = {h("prod", '0', "1.0.0"), h("dev", '9', "0.9.0"), h("prod", '8', "0.8.0"),
                        h("prod", '7', "0.7.0")};
    a.status.environments[1].rejected_digests = {digest('8')};
    auto prev = rollback_target(a, "prod", "");
    ASSERT_TRUE(prev) << prev.error().message;
    EXPECT_EQ(prev->version, "0.7.0");
    // Named explicitly, a rejected digest is the user's choice; one that never ran there is not.
    EXPECT_EQ(rollback_target(a, "prod", digest('8'))->version, "0.8.0");
    EXPECT_THAT(rollback_target(a, "prod", digest('9')).error().message,
                HasSubstr("never ran in prod"));
    a.status.history.resize(1);
    EXPECT_THAT(rollback_target(a, "prod", "").error().message, HasSubstr("no previous digest"));
}

TEST(KubectlPlugin, ReleaseWritesWhatTheControllerReads) {
    auto a = app();
    EXPECT_THAT(release_change(a, "prod").error().message, HasSubstr("is not held"));
    auto& prod = a.status.environments[1];
    prod.held = true;
    prod.held_image = "r/billing:1.0.0-hotfix@" + digest('f');
    a.metadata.annotations["poetryops.io/rollback.prod"] = digest('0');
    auto c = release_change(a, "prod");
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->annotations["poetryops.io/release.prod"], digest('f'));
    EXPECT_TRUE(c->annotations["poetryops.io/rollback.prod"].is_null());
    EXPECT_EQ(c->effects.size(), 2u);
    // Pinned by tag only: the release names the image, as the hold's message does.
    prod.held_image = "r/billing:hotfix";
    EXPECT_EQ(release_change(a, "prod")->annotations["poetryops.io/release.prod"],
              "r/billing:hotfix");
    prod.held_image = "nothing";
    EXPECT_THAT(release_change(a, "prod").error().message, HasSubstr("git pins no image"));
}

TEST(KubectlPlugin, HoldPausesACanaryAndReleaseResumesIt) {
    auto a = app();
    auto held = hold_change(a, "prod", "incident 42");
    ASSERT_TRUE(held) << held.error().message;
    EXPECT_EQ(held->annotations["poetryops.io/hold.prod"], "incident 42");
    EXPECT_EQ(held->annotations.size(), 1u) << "no canary to pause";
    a.metadata.annotations["poetryops.io/hold.prod"] = "incident 42";
    EXPECT_THAT(hold_change(a, "prod").error().message, HasSubstr("already held"));
    auto freed = release_change(a, "prod");
    ASSERT_TRUE(freed) << freed.error().message;
    EXPECT_TRUE(freed->annotations["poetryops.io/hold.prod"].is_null());
    a.metadata.annotations.clear();
    a.spec.environments[1].canary = api::CanarySpec{};
    api::CanaryStatus c;
    c.digest = digest('1');
    c.weight = 10;
    a.status.environments[1].canary = c;
    auto hold = hold_change(a, "prod");
    ASSERT_TRUE(hold) << hold.error().message;
    EXPECT_EQ(hold->annotations["poetryops.io/canary.prod"], "pause@" + digest('1'));
    EXPECT_EQ(hold->annotations["poetryops.io/hold.prod"], "held with kubectl poetryops");
    a.status.environments[1].canary->phase = api::CanaryPhase::paused;
    a.metadata.annotations["poetryops.io/hold.prod"] = "held with kubectl poetryops";
    EXPECT_THAT(hold_change(a, "prod").error().message, HasSubstr("already held"));
    EXPECT_EQ(release_change(a, "prod")->annotations["poetryops.io/canary.prod"],
              "resume@" + digest('1'));
}

TEST(KubectlPlugin, AgeIsKubectls) {
    EXPECT_EQ(age(kNow - 45s, kNow), "45s");
    EXPECT_EQ(age(kNow - 12min, kNow), "12m");
    EXPECT_EQ(age(kNow - 5h, kNow), "5h");
    EXPECT_EQ(age(kNow - 72h, kNow), "3d");
    EXPECT_EQ(age(kNow + 5s, kNow), "0s");
}

}  // namespace
}  // namespace poetryops::cli::kubectl

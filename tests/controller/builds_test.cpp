// The build half of the reconcile (BuildReconciler) through fake ports: what it asks the registry,
// which builds it starts and cancels, what it verifies, and what a failing dependency does. The
// planner's own rules are tests/build/plan_test.cpp; the real path (git server, buildah,
// docker-registry) is tests/controller/local_build_it_test.cpp.
#include <poetryops/controller/builds.hpp>

#include <poetryops/api/conditions.hpp>
#include <poetryops/util/clock.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

using namespace poetryops;
using namespace poetryops::controller;
using testing::HasSubstr;

namespace {

const std::string kSha = "aaaaaaa1111111111111111111111111111111aa";
const std::string kDigest = "sha256:" + std::string(64, '1');
const std::string kOther = "sha256:" + std::string(64, '2');

class FakeSource final : public SourcePort {
public:
    std::optional<SourceObservation> obs;
    Result<SourceObservation> observe(const api::PoetryApp&, const std::string&) override {
        if (!obs) return fail(Error::Kind::transport, "git.example.com: connection refused");
        return *obs;
    }
};

class FakeBuilder final : public BuildPort {
public:
    std::vector<build::JobObservation> jobs;
    std::vector<std::string> started, cancelled;
    Result<std::vector<build::JobObservation>> builds(const api::PoetryApp&) override {
        return jobs;
    }
    Result<void> start(const api::PoetryApp&, const build::Action& a) override {
        started.push_back(a.job_name);
        build::JobObservation j;
        j.name = a.job_name;
        j.commit = a.commit;
        j.tag = a.tag;
        j.version = a.version;
        jobs.push_back(j);
        return ok();
    }
    Result<void> cancel(const api::PoetryApp&, const std::string& name) override {
        cancelled.push_back(name);
        return ok();
    }
};

class FakeRegistry final : public ArtifactPort {
public:
    std::map<std::string, std::string> tags;  // tag -> digest
    std::vector<std::string> asked;
    bool down = false;
    Result<std::optional<promote::Artifact>> newest(const api::PoetryApp&) override {
        return std::optional<promote::Artifact>{};
    }
    Result<std::optional<std::string>> digest_of(const api::PoetryApp&,
                                                 const std::string& tag) override {
        asked.push_back(tag);
        if (down) return fail(Error::Kind::transport, "registry.example.com: connection refused");
        auto it = tags.find(tag);
        if (it == tags.end()) return std::optional<std::string>{};
        return std::optional<std::string>(it->second);
    }
};

class BuildReconcilerTest : public ::testing::Test {
protected:
    BuildReconcilerTest() {
        app_.metadata.name = "billing";
        app_.metadata.namespace_ = "team-a";
        app_.metadata.uid = "uid-1";
        app_.metadata.generation = 2;
        app_.spec.image.repository = "registry.example.com/acme/billing";
        app_.spec.source = api::SourceSpec{};
        app_.spec.source->repo_url = "https://git.example.com/acme/billing.git";
        app_.spec.build = api::BuildSpec{};
        SourceObservation o;
        o.head.sha = kSha;
        o.project.version = "1.4.2";
        source_.obs = o;
    }
    BuildOutcome reconcile() {
        auto out = reconciler_.reconcile(app_);
        app_.status = out.status;
        return out;
    }
    std::string tag() const { return "1.4.2-aaaaaaa"; }

    api::PoetryApp app_;
    FakeSource source_;
    FakeBuilder builder_;
    FakeRegistry registry_;
    ManualClock clock_;
    metrics::MetricsRegistry metrics_;
    BuildReconciler reconciler_{source_, builder_, registry_, clock_, &metrics_};
};

TEST_F(BuildReconcilerTest, ANewCommitIsLookedUpThenBuiltOnce) {
    auto out = reconcile();
    EXPECT_EQ(registry_.asked, std::vector<std::string>{tag()});
    ASSERT_EQ(builder_.started.size(), 1u);
    EXPECT_EQ(builder_.started[0], build::job_name("team-a", "billing", kSha));
    ASSERT_FALSE(out.status.builds.empty());
    EXPECT_EQ(out.status.builds[0].commit, kSha);
    EXPECT_EQ(out.status.building, "aaaaaaa");
    EXPECT_FALSE(out.error);
    // The next reconcile follows the build; it does not start it again.
    reconcile();
    EXPECT_EQ(builder_.started.size(), 1u);
}

TEST_F(BuildReconcilerTest, ATagAlreadyInTheRegistryIsAdoptedWithoutBuilding) {
    registry_.tags[tag()] = kDigest;
    auto out = reconcile();
    EXPECT_TRUE(builder_.started.empty());
    ASSERT_FALSE(out.status.builds.empty());
    EXPECT_EQ(out.status.builds[0].digest, kDigest);
}

TEST_F(BuildReconcilerTest, ASucceededBuildIsVerifiedInTheRegistry) {
    reconcile();
    ASSERT_EQ(builder_.jobs.size(), 1u);
    builder_.jobs[0].phase = build::JobPhase::succeeded;
    builder_.jobs[0].digest = kDigest;
    registry_.tags[tag()] = kDigest;
    auto out = reconcile();
    ASSERT_FALSE(out.status.builds.empty());
    EXPECT_EQ(out.status.builds[0].phase, api::BuildPhase::succeeded);
    EXPECT_EQ(out.status.builds[0].digest, kDigest);
    EXPECT_TRUE(out.status.building.empty());
    EXPECT_FALSE(out.ready);
}

TEST_F(BuildReconcilerTest, ADigestTheRegistryDoesNotHoldFailsTheBuildAndReady) {
    reconcile();
    builder_.jobs[0].phase = build::JobPhase::succeeded;
    builder_.jobs[0].digest = kDigest;
    registry_.tags[tag()] = kOther;
    auto out = reconcile();
    ASSERT_FALSE(out.status.builds.empty());
    EXPECT_EQ(out.status.builds[0].phase, api::BuildPhase::failed);
    ASSERT_TRUE(out.ready);
    EXPECT_EQ(out.ready->status, "False");
    EXPECT_EQ(out.ready->reason, "DigestMismatch");
}

TEST_F(BuildReconcilerTest, AnUnreachableSourceIsAnErrorAndStartsNothing) {
    source_.obs.reset();
    auto out = reconcile();
    ASSERT_TRUE(out.error);
    EXPECT_THAT(out.error->message, HasSubstr("spec.source"));
    EXPECT_EQ(out.error->reason, "SourceUnavailable");
    EXPECT_TRUE(builder_.started.empty());
}

TEST_F(BuildReconcilerTest, AnUnreachableRegistryIsAnErrorAndStartsNothing) {
    registry_.down = true;
    auto out = reconcile();
    ASSERT_TRUE(out.error);
    EXPECT_EQ(out.error->reason, "RegistryUnavailable");
    EXPECT_TRUE(builder_.started.empty());
}

TEST_F(BuildReconcilerTest, ANewerCommitCancelsTheRunningBuild) {
    reconcile();
    builder_.jobs[0].phase = build::JobPhase::running;
    source_.obs->head.sha = "bbbbbbb2222222222222222222222222222222bb";
    reconcile();
    EXPECT_EQ(builder_.cancelled, std::vector<std::string>{builder_.started[0]});
}

TEST_F(BuildReconcilerTest, EachBuildThatEndsIsCountedOnceWithItsDuration) {
    const metrics::Labels succeeded{{"result", "Succeeded"}};
    const metrics::Labels cancelled{{"result", "Cancelled"}};
    reconcile();
    EXPECT_EQ(metrics_.total("poetryops_builds_total"), 0) << "a running build is not an outcome";
    builder_.jobs[0].phase = build::JobPhase::running;
    builder_.jobs[0].start_time = clock_.now();
    clock_.advance(std::chrono::seconds(90));
    builder_.jobs[0].phase = build::JobPhase::succeeded;
    builder_.jobs[0].digest = kDigest;
    builder_.jobs[0].completion_time = clock_.now();
    registry_.tags[tag()] = kDigest;
    reconcile();
    reconcile();  // the same status again: not counted twice
    EXPECT_EQ(metrics_.value("poetryops_builds_total", succeeded), 1);
    EXPECT_EQ(metrics_.value("poetryops_build_duration_seconds", succeeded), 1);
    EXPECT_THAT(metrics_.render(),
                HasSubstr("poetryops_build_duration_seconds_sum{result=\"Succeeded\"} 90"));

    // A newer commit while the next build runs: the older one ends Cancelled.
    source_.obs->head.sha = "bbbbbbb2222222222222222222222222222222bb";
    reconcile();
    builder_.jobs.back().phase = build::JobPhase::running;
    source_.obs->head.sha = "ccccccc3333333333333333333333333333333cc";
    reconcile();
    EXPECT_EQ(metrics_.value("poetryops_builds_total", cancelled), 1);
    EXPECT_EQ(metrics_.total("poetryops_builds_total"), 2);
}

TEST_F(BuildReconcilerTest, WithoutBuildSpecNothingIsAsked) {
    app_.spec.build.reset();
    auto out = reconcile();
    EXPECT_TRUE(registry_.asked.empty());
    EXPECT_TRUE(builder_.started.empty());
    EXPECT_TRUE(out.status.builds.empty());
}

}  // namespace

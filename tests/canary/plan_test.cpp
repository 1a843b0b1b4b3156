// The canary step machine, transition by transition: what a user would see in git (the action),
// in status (the canary's phase, step, weight, counts) and in Events.
#include <poetryops/canary/plan.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace poetryops::canary {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using testing::HasSubstr;

const std::string kStable = "sha256:" + std::string(64, '1');
const std::string kNew = "sha256:" + std::string(64, '2');
const std::string kNewer = "sha256:" + std::string(64, '3');

class CanaryPlan : public ::testing::Test {
protected:
    CanaryPlan() {
        env_.name = "prod";
        env_.path = "envs/prod";
        env_.health.timeout = api::Duration("10m");
        api::CanarySpec c;
        c.traffic.kind = api::TrafficKind::gateway_api;
        c.traffic.route = "billing";
        c.traffic.stable = "billing";
        c.traffic.canary = "billing-canary";
        c.steps = {{10, api::Duration("5m")}, {50, api::Duration("5m")}};
        env_.canary = c;
        status_.name = "prod";
        status_.version = "1.4.1";
        status_.digest = kStable;
        status_.commit = "c0";
        now_ = std::chrono::system_clock::time_point(std::chrono::hours(500000));
    }

    void with_analysis(int failure_limit = 2, api::OnUnavailable on = api::OnUnavailable::hold) {
        api::AnalysisSpec a;
        a.interval = api::Duration("1m");
        a.failure_limit = failure_limit;
        a.inconclusive_limit = 3;
        a.on_unavailable = on;
        api::MetricSpec m;
        m.name = "success-rate";
        m.min = 0.99;
        a.metrics.push_back(m);
        env_.canary->analysis = a;
    }

    Input input() {
        Input in{env_, status_, candidate_, git_, health_, analysis_, control_, false, now_};
        return in;
    }
    Step plan() { return step(input()); }

    /// Plans, and when the plan commits something, records it as committed now and updates what
    /// git shows (as the reconciler and the committer do).
    Step plan_and_commit() {
        Step s = plan();
        status_.canary = s.canary;
        if (s.action && s.action->kind != ActionKind::analyze && s.canary) {
            record(*status_.canary, *s.action, "commit-" + std::to_string(++commits_), now_);
            git_.canary_weight = s.action->weight;
            git_.canary_digest = s.action->kind == ActionKind::abort ? s.action->stable_digest
                                                                     : s.action->target.digest;
            if (s.action->kind == ActionKind::complete) {
                status_.digest = s.action->target.digest;
                status_.version = s.action->target.version;
            }
        }
        return s;
    }

    /// What the reconciler finds in git for `a` committed as "commit-lost".
    static OwnWrite lost(const Action& a) {
        auto facts = parse_trailer(trailer("team-a/billing", "prod", a));
        EXPECT_TRUE(facts);
        return OwnWrite{"commit-lost", facts ? *facts : TrailerFacts{}};
    }

    static Analysis round(api::AnalysisVerdict v, double value) {
        Analysis a;
        a.verdict = v;
        api::MetricResult m;
        m.name = "success-rate";
        m.value = value;
        m.bound = ">= 0.99";
        m.verdict = v;
        a.metrics.push_back(m);
        return a;
    }

    /// Runs one analysis round through the plan: asked for, measured, planned again.
    Step analyse(api::AnalysisVerdict v, double value) {
        Step asked = plan();
        EXPECT_TRUE(asked.action && asked.action->kind == ActionKind::analyze)
            << "no analysis asked for";
        analysis_ = round(v, value);
        Step s = plan_and_commit();
        analysis_.reset();
        return s;
    }

    /// A canary of kNew deployed and healthy at its first step (10 %).
    void at_first_step() {
        candidate_ = Target{"1.4.2", "1.4.2-ab12cd3", kNew};
        ASSERT_EQ(plan_and_commit().action->kind, ActionKind::deploy);
        candidate_.reset();
        health_.state = Health::healthy;
        auto s = plan_and_commit();
        ASSERT_TRUE(s.action);
        if (s.action->kind == ActionKind::analyze) {
            // With analysis: one round at 0 % proves the queries run before any traffic.
            analysis_ = round(api::AnalysisVerdict::inconclusive, 0);
            s = plan_and_commit();
            analysis_.reset();
            ASSERT_TRUE(s.action);
        }
        ASSERT_EQ(s.action->kind, ActionKind::shift);
        ASSERT_EQ(status_.canary->weight, 10);
    }

    api::EnvironmentSpec env_;
    api::EnvironmentStatus status_;
    std::optional<Target> candidate_;
    GitView git_;
    HealthView health_;
    std::optional<Analysis> analysis_;
    std::string control_;
    TimePoint now_;
    int commits_ = 0;
};

TEST_F(CanaryPlan, TheFirstImageOfAnEnvironmentGoesStraightIn) {
    status_.digest.clear();
    candidate_ = Target{"1.4.2", "1.4.2-ab12cd3", kNew};
    auto s = plan();
    EXPECT_TRUE(s.passthrough);
    EXPECT_FALSE(s.action);
}

TEST_F(CanaryPlan, ANewDigestIsDeployedOnTheCanaryWorkloadWithNoTrafficFirst) {
    candidate_ = Target{"1.4.2", "1.4.2-ab12cd3", kNew};
    auto s = plan();
    ASSERT_TRUE(s.action);
    EXPECT_EQ(s.action->kind, ActionKind::deploy);
    EXPECT_EQ(s.action->weight, 0);
    EXPECT_EQ(s.action->target.digest, kNew);
    ASSERT_TRUE(s.canary);
    EXPECT_EQ(s.canary->phase, api::CanaryPhase::progressing);
    EXPECT_EQ(s.canary->digest, kNew);
    EXPECT_THAT(s.message, HasSubstr("billing-canary"));
    ASSERT_EQ(s.events.size(), 1u);
    EXPECT_EQ(s.events[0].reason, "CanaryStarted");
    EXPECT_EQ(trailer("team-a/billing", "prod", *s.action),
              "team-a/billing/prod/" + kNew + " action=deploy step=0/2 weight=0 verdict=start");
}

TEST_F(CanaryPlan, WithoutAnalysisEachStepWaitsItsPauseThenTheLastCompletes) {
    at_first_step();
    auto s = plan_and_commit();
    EXPECT_FALSE(s.action) << "the pause has not passed";
    ASSERT_TRUE(s.requeue_after);
    EXPECT_EQ(*s.requeue_after, minutes(5));
    now_ += minutes(5);
    s = plan_and_commit();
    ASSERT_TRUE(s.action);
    EXPECT_EQ(s.action->kind, ActionKind::shift);
    EXPECT_EQ(s.action->weight, 50);
    EXPECT_EQ(s.action->step, 2);
    EXPECT_EQ(status_.canary->step, 1);
    now_ += minutes(5);
    s = plan_and_commit();
    ASSERT_TRUE(s.action);
    EXPECT_EQ(s.action->kind, ActionKind::complete);
    EXPECT_EQ(s.action->weight, 0);
    EXPECT_EQ(status_.canary->phase, api::CanaryPhase::succeeded);
    EXPECT_EQ(status_.digest, kNew);
    // Done: nothing more to do, the finished canary stays for display.
    s = plan_and_commit();
    EXPECT_FALSE(s.action);
    ASSERT_TRUE(s.canary);
    EXPECT_EQ(s.canary->phase, api::CanaryPhase::succeeded);
}

TEST_F(CanaryPlan, TheCanaryWaitsForItsHealthGateAndAbortsWhenItDegradesOrTimesOut) {
    candidate_ = Target{"1.4.2", "1.4.2-ab12cd3", kNew};
    plan_and_commit();
    candidate_.reset();
    health_ = {Health::waiting, "Argo CD app billing-prod: Progressing"};
    auto s = plan_and_commit();
    EXPECT_FALSE(s.action);
    EXPECT_THAT(s.message, HasSubstr("waiting for the health gate"));
    ASSERT_TRUE(s.requeue_after);
    now_ += minutes(10);
    s = plan_and_commit();
    ASSERT_TRUE(s.action);
    EXPECT_EQ(s.action->kind, ActionKind::abort);
    EXPECT_EQ(s.action->stable_digest, kStable);
    EXPECT_TRUE(s.reject);
    EXPECT_THAT(s.message, HasSubstr("not healthy within 10m"));
    EXPECT_EQ(git_.canary_digest, kStable) << "the canary workload goes back to the stable digest";

    // Degraded is at once.
    status_.canary.reset();
    git_ = {};
    candidate_ = Target{"1.4.3", "1.4.3-cd34ef5", kNewer};
    health_ = {};
    plan_and_commit();
    candidate_.reset();
    health_ = {Health::degraded, "Deployment billing-canary: CrashLoopBackOff"};
    s = plan_and_commit();
    ASSERT_TRUE(s.action);
    EXPECT_EQ(s.action->kind, ActionKind::abort);
    EXPECT_THAT(s.message, HasSubstr("CrashLoopBackOff"));
}

TEST_F(CanaryPlan, AnalysisRunsEachIntervalAndAStepAdvancesOnlyAfterAPassingCheck) {
    with_analysis();
    at_first_step();
    auto s = plan();
    EXPECT_FALSE(s.action) << "the first check covers a whole interval at the step";
    EXPECT_EQ(*s.requeue_after, minutes(1));
    now_ += minutes(1);
    s = analyse(api::AnalysisVerdict::pass, 0.999);
    EXPECT_FALSE(s.action) << "passed, but the 5m pause has not";
    EXPECT_EQ(status_.canary->analysis.size(), 1u);
    now_ += minutes(4);
    s = analyse(api::AnalysisVerdict::pass, 0.998);
    ASSERT_TRUE(s.action);
    EXPECT_EQ(s.action->kind, ActionKind::shift);
    EXPECT_EQ(s.action->verdict, "pass");
    EXPECT_THAT(s.action->metrics, HasSubstr("success-rate=0.998"));
    EXPECT_EQ(trailer("team-a/billing", "prod", *s.action),
              "team-a/billing/prod/" + kNew + " action=shift step=2/2 weight=50 verdict=pass");
}

TEST_F(CanaryPlan, TheRoundThatShiftedToAStepDoesNotPassTheNextStep) {
    // A pause shorter than the interval: the step advances only after a round of its own, also
    // when status reads the round and the step's commit back as the same second (RFC 3339).
    env_.canary->steps = {{10, api::Duration("30s")}, {50, api::Duration("30s")}};
    with_analysis();
    at_first_step();
    now_ += minutes(1);
    auto s = analyse(api::AnalysisVerdict::pass, 0.999);
    ASSERT_TRUE(s.action);
    ASSERT_EQ(s.action->kind, ActionKind::shift);
    ASSERT_EQ(status_.canary->weight, 50);
    ASSERT_EQ(status_.canary->last_analysis, status_.canary->step_started);
    now_ += seconds(30);
    s = plan();
    EXPECT_FALSE(s.action) << "completed on the round of the 10 % step";
    now_ += seconds(30);
    s = analyse(api::AnalysisVerdict::pass, 0.998);
    ASSERT_TRUE(s.action);
    EXPECT_EQ(s.action->kind, ActionKind::complete);
    EXPECT_THAT(s.action->metrics, HasSubstr("success-rate=0.998"));
}

TEST_F(CanaryPlan, AQueryPrometheusRefusesHoldsTheCanaryBeforeAnyTraffic) {
    with_analysis();
    candidate_ = Target{"1.4.2", "1.4.2-ab12cd3", kNew};
    plan_and_commit();  // deploy
    candidate_.reset();
    health_.state = Health::healthy;
    auto s = plan();
    ASSERT_TRUE(s.action);
    EXPECT_EQ(s.action->kind, ActionKind::analyze);
    EXPECT_THAT(s.action->reason, HasSubstr("before any traffic"));
    Analysis bad = round(api::AnalysisVerdict::inconclusive, 0);
    bad.invalid = "success-rate: Prometheus refused the query: bad_data: 1:7: parse error";
    analysis_ = bad;
    s = plan_and_commit();
    EXPECT_FALSE(s.action) << "no traffic to a canary whose analysis cannot run";
    EXPECT_TRUE(s.blocked);
    EXPECT_THAT(s.message, HasSubstr("holds at 0%"));
    EXPECT_THAT(s.message, HasSubstr("parse error"));
    EXPECT_EQ(git_.canary_weight, 0);
    ASSERT_FALSE(s.events.empty());
    EXPECT_EQ(s.events.back().reason, "CanaryAnalysisInvalid");
    // Fixed: the next round runs, and the first step follows.
    analysis_ = round(api::AnalysisVerdict::inconclusive, 0);
    s = plan_and_commit();
    ASSERT_TRUE(s.action);
    EXPECT_EQ(s.action->kind, ActionKind::shift);
    EXPECT_EQ(s.action->weight, 10);
}

TEST_F(CanaryPlan, AnalysisThatCannotRunAtAStepHoldsAndCountsNothing) {
    with_analysis(1);
    at_first_step();
    now_ += minutes(1);
    plan();
    Analysis bad = round(api::AnalysisVerdict::inconclusive, 0);
    bad.invalid = "latency-p99-ms: the query template is invalid: unknown variable {{pod}}";
    analysis_ = bad;
    for (int i = 0; i < 4; ++i) {
        auto s = plan_and_commit();
        EXPECT_FALSE(s.action);
        EXPECT_TRUE(s.blocked);
        now_ += minutes(1);
    }
    EXPECT_EQ(status_.canary->failures, 0);
    EXPECT_EQ(status_.canary->inconclusive, 0);
    EXPECT_EQ(status_.canary->weight, 10);
}

TEST_F(CanaryPlan, AnUnreadableRouteBlocksTheCanary) {
    candidate_ = Target{"1.4.2", "1.4.2-ab12cd3", kNew};
    git_.read_ok = false;
    git_.read_error = "envs/prod/route.yaml: no backend named billing-canary";
    auto s = plan();
    EXPECT_FALSE(s.action);
    EXPECT_TRUE(s.blocked);
    EXPECT_THAT(s.message, HasSubstr("envs/prod/route.yaml"));
}

TEST_F(CanaryPlan, FailedChecksAbortAtTheFailureLimitAndRejectTheDigest) {
    with_analysis(2);
    at_first_step();
    now_ += minutes(1);
    auto s = analyse(api::AnalysisVerdict::fail, 0.95);
    EXPECT_FALSE(s.action);
    EXPECT_EQ(status_.canary->failures, 1);
    ASSERT_FALSE(s.events.empty());
    EXPECT_EQ(s.events[0].reason, "CanaryCheckFailed");
    now_ += minutes(1);
    s = analyse(api::AnalysisVerdict::fail, 0.94);
    ASSERT_TRUE(s.action);
    EXPECT_EQ(s.action->kind, ActionKind::abort);
    EXPECT_EQ(s.action->verdict, "fail");
    EXPECT_TRUE(s.reject);
    EXPECT_EQ(status_.canary->phase, api::CanaryPhase::aborted);
    EXPECT_EQ(git_.canary_weight, 0);
    EXPECT_THAT(s.message, HasSubstr("2 failed checks at 10%: success-rate=0.94"));
}

TEST_F(CanaryPlan, ARunOfInconclusiveChecksCountsAsOneFailure) {
    with_analysis(1);
    at_first_step();
    for (int i = 0; i < 2; ++i) {
        now_ += minutes(1);
        auto s = analyse(api::AnalysisVerdict::inconclusive, 0);
        EXPECT_FALSE(s.action) << "inconclusive " << i + 1 << " waits";
    }
    EXPECT_EQ(status_.canary->inconclusive, 2);
    now_ += minutes(10);
    auto s = analyse(api::AnalysisVerdict::inconclusive, 0);
    ASSERT_TRUE(s.action) << "the third inconclusive check is a failure (limit 1)";
    EXPECT_EQ(s.action->kind, ActionKind::abort);
}

TEST_F(CanaryPlan, PrometheusDownHoldsTheWeightOrAbortsWhenAskedTo) {
    with_analysis();
    at_first_step();
    now_ += minutes(10);
    plan();
    Analysis down;
    down.unavailable = true;
    down.message = "prometheus 127.0.0.1:9090: connection refused";
    analysis_ = down;
    auto s = plan_and_commit();
    EXPECT_FALSE(s.action) << "no step without a passing check";
    EXPECT_TRUE(s.unavailable);
    EXPECT_THAT(s.message, HasSubstr("holds at 10%"));
    EXPECT_EQ(status_.canary->weight, 10);

    env_.canary->analysis->on_unavailable = api::OnUnavailable::abort;
    s = plan_and_commit();
    ASSERT_TRUE(s.action);
    EXPECT_EQ(s.action->kind, ActionKind::abort);
}

TEST_F(CanaryPlan, AnnotationsPauseResumeAbortAndPromoteOnlyTheDigestTheyName) {
    at_first_step();
    control_ = "pause@" + kNewer;  // another digest: ignored
    now_ += minutes(5);
    auto s = plan();
    ASSERT_FALSE(s.events.empty());
    EXPECT_EQ(s.events[0].reason, "CanaryControlIgnored");
    ASSERT_TRUE(s.action) << "an ignored annotation does not stop the canary";

    control_ = "pause@" + kNew;
    s = plan_and_commit();
    EXPECT_FALSE(s.action);
    EXPECT_EQ(status_.canary->phase, api::CanaryPhase::paused);
    EXPECT_THAT(s.message, HasSubstr("resume@" + kNew));
    control_ = "resume@" + kNew;
    s = plan_and_commit();
    EXPECT_EQ(status_.canary->phase, api::CanaryPhase::progressing);
    ASSERT_TRUE(s.action);
    EXPECT_EQ(s.action->kind, ActionKind::shift);

    control_ = "promote@" + kNew;
    s = plan_and_commit();
    ASSERT_TRUE(s.action);
    EXPECT_EQ(s.action->kind, ActionKind::complete);
    EXPECT_EQ(s.action->verdict, "manual");
}

TEST_F(CanaryPlan, AnAbortAnnotationRollsBackAtOnce) {
    at_first_step();
    control_ = "abort@" + kNew;
    auto s = plan_and_commit();
    ASSERT_TRUE(s.action);
    EXPECT_EQ(s.action->kind, ActionKind::abort);
    EXPECT_EQ(s.action->verdict, "manual");
    EXPECT_TRUE(s.reject);
}

TEST_F(CanaryPlan, WeightsChangedInGitByAHumanHoldTheCanary) {
    at_first_step();
    git_.canary_weight = 80;  // someone edited the route
    now_ += minutes(5);
    auto s = plan();
    EXPECT_TRUE(s.held);
    EXPECT_FALSE(s.action);
    EXPECT_THAT(s.message, HasSubstr("changed outside poetryops"));
    EXPECT_THAT(s.message, HasSubstr("abort@" + kNew));
}

TEST_F(CanaryPlan, OurOwnCommitWhoseStatusWasLostIsTakenAsDone) {
    at_first_step();
    now_ += minutes(5);
    auto s = plan();  // the shift to 50 % is decided and committed...
    ASSERT_TRUE(s.action);
    git_.canary_weight = 50;  // ...but the status write is lost
    git_.own = lost(*s.action);
    s = plan_and_commit();
    EXPECT_FALSE(s.held);
    EXPECT_EQ(status_.canary->weight, 50);
    EXPECT_EQ(status_.canary->step, 1);
    EXPECT_EQ(status_.canary->commit, "commit-lost");
    EXPECT_FALSE(s.action) << "the step's pause starts again from now";
    ASSERT_FALSE(s.events.empty());
    EXPECT_EQ(s.events[0].reason, "CanaryAdopted");
}

TEST_F(CanaryPlan, OurOwnCommitThatDoesNotAccountForGitIsStillAHold) {
    at_first_step();
    now_ += minutes(5);
    auto s = plan();
    ASSERT_TRUE(s.action);
    git_.own = lost(*s.action);  // we committed 50 %...
    git_.canary_weight = 80;     // ...and a human then made it 80 %
    s = plan();
    EXPECT_TRUE(s.held);
    EXPECT_FALSE(s.action);
    EXPECT_THAT(s.message, HasSubstr("changed outside poetryops"));
}

TEST_F(CanaryPlan, AnAbortWhoseStatusWasLostIsTakenAsDoneNotDecidedAgain) {
    at_first_step();
    control_ = "abort@" + kNew;
    auto s = plan();
    ASSERT_TRUE(s.action);
    ASSERT_EQ(s.action->kind, ActionKind::abort);
    // The abort landed in git; its status write did not.
    git_.canary_weight = 0;
    git_.canary_digest = kStable;
    git_.own = lost(*s.action);
    control_.clear();
    s = plan();
    EXPECT_FALSE(s.action);
    EXPECT_FALSE(s.held);
    EXPECT_TRUE(s.adopted);
    EXPECT_TRUE(s.reject) << "the digest is rejected as the abort said";
    ASSERT_TRUE(s.canary);
    EXPECT_EQ(s.canary->phase, api::CanaryPhase::aborted);
    EXPECT_EQ(s.canary->commit, "commit-lost");
}

TEST_F(CanaryPlan, ACompletionWhoseStatusWasLostIsTakenAsDone) {
    at_first_step();
    control_ = "promote@" + kNew;
    auto s = plan();
    ASSERT_TRUE(s.action);
    ASSERT_EQ(s.action->kind, ActionKind::complete);
    git_.canary_weight = 0;
    git_.own = lost(*s.action);
    status_.digest = kNew;  // the promotion trailer of the same commit was adopted
    control_.clear();
    s = plan();
    EXPECT_FALSE(s.action);
    EXPECT_TRUE(s.adopted);
    EXPECT_FALSE(s.reject);
    EXPECT_EQ(s.canary->phase, api::CanaryPhase::succeeded);
}

TEST_F(CanaryPlan, ADeployOfANewerDigestWhoseStatusWasLostStartsThatCanary) {
    at_first_step();
    candidate_ = Target{"1.4.3", "1.4.3-cd34ef5", kNewer};
    auto s = plan();
    ASSERT_TRUE(s.action);
    ASSERT_EQ(s.action->kind, ActionKind::deploy);
    git_.canary_weight = 0;
    git_.canary_digest = kNewer;
    git_.own = lost(*s.action);
    s = plan();
    EXPECT_FALSE(s.held);
    ASSERT_TRUE(s.canary);
    EXPECT_EQ(s.canary->digest, kNewer);
    EXPECT_EQ(s.canary->version, "1.4.3");
    EXPECT_EQ(s.canary->weight, 0);
    EXPECT_EQ(s.canary->commit, "commit-lost");
}

TEST_F(CanaryPlan, AnAbortWhoseCommitFailedIsDecidedAgain) {
    at_first_step();
    control_ = "abort@" + kNew;
    auto s = plan();
    ASSERT_TRUE(s.action);
    ASSERT_EQ(s.action->kind, ActionKind::abort);
    status_.canary = s.canary;  // the commit failed: nothing recorded
    EXPECT_EQ(status_.canary->phase, api::CanaryPhase::progressing)
        << "the phase changes when the abort is in git";
    s = plan();
    ASSERT_TRUE(s.action);
    EXPECT_EQ(s.action->kind, ActionKind::abort);
}

TEST_F(CanaryPlan, ANewerDigestReplacesTheCanaryAndResetsItsCounts) {
    with_analysis();
    at_first_step();
    now_ += minutes(1);
    analyse(api::AnalysisVerdict::fail, 0.9);
    EXPECT_EQ(status_.canary->failures, 1);
    candidate_ = Target{"1.4.3", "1.4.3-cd34ef5", kNewer};
    auto s = plan_and_commit();
    ASSERT_TRUE(s.action);
    EXPECT_EQ(s.action->kind, ActionKind::deploy);
    EXPECT_EQ(s.action->weight, 0);
    EXPECT_EQ(status_.canary->digest, kNewer);
    EXPECT_EQ(status_.canary->failures, 0);
    EXPECT_FALSE(s.reject) << "superseded is not rejected";
}

TEST_F(CanaryPlan, SuspendedDecidesNothingNew) {
    candidate_ = Target{"1.4.2", "1.4.2-ab12cd3", kNew};
    Input in = input();
    in.suspended = true;
    auto s = step(in);
    EXPECT_FALSE(s.action);
    EXPECT_THAT(s.message, HasSubstr("suspended"));
}

TEST(CanaryText, TrailersAndControlsParse) {
    auto f = parse_trailer("team-a/billing/prod/" + kNew +
                           " action=shift step=2/3 weight=25 verdict=pass");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->subject, "team-a/billing/prod/" + kNew);
    EXPECT_EQ(f->digest, kNew);
    EXPECT_EQ(f->action, ActionKind::shift);
    EXPECT_EQ(f->step, 2);
    EXPECT_EQ(f->weight, 25);
    // Written before actions were recorded: still ours, the action unknown.
    auto old = parse_trailer("team-a/billing/prod/" + kNew + " step=2/3 weight=25 verdict=pass");
    ASSERT_TRUE(old);
    EXPECT_FALSE(old->action);
    EXPECT_FALSE(parse_trailer("team-a/billing/prod/" + kNew + " action=launch weight=25"));
    EXPECT_FALSE(parse_trailer("garbage"));
    EXPECT_FALSE(parse_trailer("a/b weight=x"));
    auto c = parse_control("promote@" + kNew);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->verb, Control::Verb::promote);
    EXPECT_FALSE(parse_control("promote"));
    EXPECT_FALSE(parse_control("launch@" + kNew));
    EXPECT_FALSE(parse_control("pause@sha256:short"));
}

}  // namespace
}  // namespace poetryops::canary

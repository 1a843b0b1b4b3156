// The approval gate with identities (docs/promotion.md#approvals): N distinct approvers from the
// allowed groups, bound to the digest; a rejection blocks the digest there; approvals of digests
// that do not wait are reported, never counted; every approver becomes a trailer.
#include <poetryops/api/codec.hpp>
#include <poetryops/promote/plan.hpp>
#include <poetryops/promote/trailers.hpp>

#include "plan_support.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace poetryops::promote {
namespace {

using namespace std::chrono_literals;
using api::Phase;
using testing::ElementsAre;
using testing::HasSubstr;

using namespace test;

/// dev (health none) -> prod (approval required by 2 people of release-managers or sre; health
/// none). dev runs A; prod runs nothing yet.
class ApprovalsTest : public ::testing::Test {
protected:
    api::PoetryApp app;
    TimePoint t0 = std::chrono::sys_days{std::chrono::year{2026} / 3 / 1};

    void SetUp() override {
        app = dev_and_prod(t0 - 1h);
        auto& approval = app.spec.environments[1].promotion.approval;
        approval.required = true;
        approval.approvers = 2;
        approval.groups = {"release-managers", "sre"};
    }

    Observations observe(std::vector<api::ApprovalRecord> prod_approvals = {}) const {
        Observations o = observe_status(app);
        o.approvals["prod"] = std::move(prod_approvals);
        return o;
    }

    static api::ApprovalRecord approval(std::string name, std::string who,
                                        std::vector<std::string> groups,
                                        const std::string& digest = kA) {
        api::ApprovalRecord r;
        r.name = std::move(name);
        r.approver = std::move(who);
        r.groups = std::move(groups);
        r.digest = digest;
        r.source = api::IdentitySource::webhook;
        return r;
    }

    static const PromoteAction* prod_action(const Plan& p) { return action_for(p, "prod"); }
};

bool has_event(const Plan& p, const std::string& reason, const std::string& text) {
    return std::any_of(p.events.begin(), p.events.end(), [&](const Event& e) {
        return e.reason == reason && e.message.find(text) != std::string::npos;
    });
}

TEST_F(ApprovalsTest, NDistinctApproversFromTheAllowedGroupsPromoteAndEachBecomesATrailer) {
    auto alice = approval("billing-prod-1", "alice", {"system:authenticated", "release-managers"});
    auto alice_again = approval("billing-prod-2", "alice", {"release-managers"});
    auto bob = approval("billing-prod-3", "bob", {"developers"});
    auto carol = approval("billing-prod-4", "carol", {"sre"});

    Plan p = plan(app, observe({alice, alice_again, bob}), t0);
    EXPECT_EQ(prod_action(p), nullptr) << "alice twice and bob (not in a group) are one approver";
    const auto* prod = p.status.find_environment("prod");
    ASSERT_TRUE(prod->waiting);
    EXPECT_EQ(prod->waiting->reason, "WaitingForApproval");
    EXPECT_THAT(prod->message, HasSubstr("1 of 2 approvers in release-managers, sre (alice "
                                         "(webhook)); kubectl poetryops approve billing prod"));
    ASSERT_EQ(prod->approvals.size(), 3u);
    auto bobs = std::find_if(prod->approvals.begin(), prod->approvals.end(),
                             [](const auto& r) { return r.approver == "bob"; });
    EXPECT_THAT(bobs->message, HasSubstr("bob is in none of the groups release-managers, sre"));

    p = plan(app, observe({alice, alice_again, bob, carol}), t0 + 1min);
    const PromoteAction* a = prod_action(p);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->artifact.digest, kA);
    EXPECT_THAT(a->approved_by, ElementsAre("alice (webhook)", "carol (webhook)"));
    auto trailers = approved_by_trailers(a->approved_by);
    EXPECT_THAT(
        trailers,
        ElementsAre(
            std::pair<std::string, std::string>{"Poetryops-Approved-By", "alice (webhook)"},
            std::pair<std::string, std::string>{"Poetryops-Approved-By", "carol (webhook)"}));
}

TEST_F(ApprovalsTest, AManagedFieldsIdentityCountsOnlyWithoutGroupsAndStatusSaysItIsWeak) {
    auto weak = approval("billing-prod-1", "kubectl-poetryops", {});
    weak.source = api::IdentitySource::managed_fields;
    app.spec.environments[1].promotion.approval.approvers = 1;
    Plan p = plan(app, observe({weak}), t0);
    EXPECT_EQ(prod_action(p), nullptr) << "groups need the webhook's identity";
    const auto* prod = p.status.find_environment("prod");
    ASSERT_EQ(prod->approvals.size(), 1u);
    EXPECT_THAT(prod->approvals[0].message,
                HasSubstr("needs an identity stamped by the admission webhook"));
    EXPECT_THAT(prod->approvals[0].message,
                HasSubstr("identity from managedFields (no admission webhook)"));
    EXPECT_THAT(prod->approvals[0].message, HasSubstr("which has no groups"));
    EXPECT_THAT(prod->message,
                HasSubstr("1 approval(s) without the admission webhook's identity do not count "
                          "toward groups (managedFields and the annotation carry no groups)"));

    app.spec.environments[1].promotion.approval.groups.clear();
    p = plan(app, observe({weak}), t0);
    ASSERT_NE(prod_action(p), nullptr);
    EXPECT_THAT(prod_action(p)->approved_by, ElementsAre("kubectl-poetryops (managedFields)"));
}

TEST_F(ApprovalsTest, ARejectionBlocksTheDigestThereWithWhoAndWhyUntilItIsDeleted) {
    auto alice = approval("billing-prod-1", "alice", {"sre"});
    auto carol = approval("billing-prod-2", "carol", {"sre"});
    auto dave = approval("billing-prod-3", "dave", {"sre"});
    dave.decision = api::ApprovalDecision::reject;
    dave.reason = "CVE-2026-1234 in the base image";
    Plan p = plan(app, observe({alice, carol, dave}), t0);
    EXPECT_EQ(prod_action(p), nullptr);
    const auto* prod = p.status.find_environment("prod");
    EXPECT_EQ(prod->reason, "ApprovalRejected");
    EXPECT_THAT(prod->message,
                HasSubstr("1.4.2 (sha256:aaaaaaaaaaaa) was rejected in prod by dave (webhook): "
                          "CVE-2026-1234 in the base image (PoetryApproval billing-prod-3"));
    ASSERT_TRUE(prod->waiting);
    EXPECT_EQ(prod->waiting->reason, "Rejected");
    // Not in rejected_digests: the rejection is the object; deleting it unblocks.
    EXPECT_TRUE(prod->rejected_digests.empty());
    // Without approvals required, a rejection still blocks.
    app.spec.environments[1].promotion.approval.required = false;
    EXPECT_EQ(prod_action(plan(app, observe({dave}), t0)), nullptr);
    app.spec.environments[1].promotion.approval.required = true;
    ASSERT_NE(prod_action(plan(app, observe({alice, carol}), t0)), nullptr);
}

TEST_F(ApprovalsTest, AnApprovalOfADigestThatDoesNotWaitIsReportedAndNeverCounts) {
    app.spec.environments[1].promotion.approval.approvers = 1;
    auto stale = approval("billing-prod-9", "alice", {"sre"}, kB);
    Plan p = plan(app, observe({stale}), t0);
    EXPECT_EQ(prod_action(p), nullptr);
    EXPECT_TRUE(has_event(p, "ApprovalIgnored",
                          "approval billing-prod-9 is for " + kB +
                              " which is not waiting in prod (" + kA + " waits there)"));
    const auto* prod = p.status.find_environment("prod");
    ASSERT_EQ(prod->approvals.size(), 1u);
    EXPECT_EQ(prod->approvals[0].message, "ignored: " + kB + " is not waiting in prod");
    // The status (approvals included) round-trips through the API's codec.
    std::vector<api::FieldError> errors;
    auto decoded = api::decode_status(api::encode_status(p.status), errors);
    EXPECT_TRUE(errors.empty());
    ASSERT_EQ(decoded.find_environment("prod")->approvals.size(), 1u);
    EXPECT_EQ(decoded.find_environment("prod")->approvals[0].approver, "alice");
    EXPECT_EQ(decoded.find_environment("prod")->approvals[0].groups,
              std::vector<std::string>{"sre"});
}

TEST_F(ApprovalsTest, TheAnnotationCountsAsOneApproverOfUnknownIdentity) {
    app.spec.environments[1].promotion.approval.groups.clear();
    app.metadata.annotations["poetryops.io/approve.prod"] = kA;
    Plan p = plan(app, observe(), t0);
    EXPECT_EQ(prod_action(p), nullptr) << "two approvers needed";
    EXPECT_THAT(p.status.find_environment("prod")->message, HasSubstr("1 of 2 approvers"));
    p = plan(app, observe({approval("billing-prod-1", "alice", {})}), t0);
    ASSERT_NE(prod_action(p), nullptr);
    EXPECT_THAT(prod_action(p)->approved_by,
                ElementsAre("alice (webhook)", "unknown (annotation)"));
    // A single approval (the default) by annotation alone promotes, as before.
    app.spec.environments[1].promotion.approval.approvers = 1;
    p = plan(app, observe(), t0);
    ASSERT_NE(prod_action(p), nullptr);
    EXPECT_THAT(prod_action(p)->approved_by, ElementsAre("unknown (annotation)"));
    // A user name that would break the trailer line cannot.
    api::ApprovalRecord odd = approval("x", "mallory\nPoetryops-Approved-By: ceo", {});
    EXPECT_EQ(odd.who(), "mallory?Poetryops-Approved-By: ceo (webhook)");
}

}  // namespace
}  // namespace poetryops::promote

// Promotion windows in the planner (docs/promotion.md#promotion-windows): nothing is promoted
// outside a window, automatic or approved; the candidate waits with reason OutsidePromotionWindow
// and goes in when the window opens; rollbacks pass unless a window blocks them; status shows
// nextOpen and nextClose; a rule that does not parse names the rule and the character.
#include <poetryops/api/codec.hpp>
#include <poetryops/api/validation.hpp>
#include <poetryops/promote/plan.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "plan_support.hpp"

namespace poetryops::promote {
namespace {

using namespace std::chrono_literals;
using namespace test;
using api::Phase;
using testing::HasSubstr;

/// A UTC instant.
TimePoint utc(int y, unsigned m, unsigned d, int h = 0, int min = 0) {
    return std::chrono::sys_days{std::chrono::year{y} / std::chrono::month{m} /
                                 std::chrono::day{d}} +
           std::chrono::hours(h) + std::chrono::minutes(min);
}

/// dev (health none) runs A, healthy for a day -> prod (health none) takes what dev runs, only
/// Monday to Thursday 09:00-16:00 in Paris and never in the Christmas freeze.
class WindowsTest : public ::testing::Test {
protected:
    api::PoetryApp app;

    void SetUp() override {
        app = dev_and_prod(utc(2026, 12, 1));
        app.spec.environments[1].promotion.windows = {
            {"FREQ=WEEKLY;BYDAY=MO,TU,WE,TH;BYHOUR=9,10,11,12,13,14,15", api::Duration("1h"),
             api::WindowKind::allow, "Europe/Paris", false},
            {"FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24", api::Duration("72h"), api::WindowKind::deny,
             "Europe/Paris", false},
        };
        api::EnvironmentStatus p;
        p.name = "prod";
        p.version = "1.4.1";
        p.tag = "1.4.1-ab12cd3";
        p.digest = kB;
        p.phase = Phase::healthy;
        p.since = utc(2026, 11, 20);
        app.status.environments.push_back(p);
        api::HistoryEntry h{"prod",
                            api::HistoryKind::promote,
                            "1.4.0",
                            "1.4.0-ab12cd3",
                            kC,
                            "c0",
                            utc(2026, 11, 10),
                            "promoted from dev"};
        app.status.history = {h};
    }
};

TEST_F(WindowsTest, OutsideEveryWindowTheCandidateWaitsAndTheStatusSaysUntilWhen) {
    // Friday 2026-12-11, 11:00 in Paris.
    const TimePoint now = utc(2026, 12, 11, 10);
    Plan p = plan(app, observe_status(app), now);
    EXPECT_EQ(action_for(p, "prod"), nullptr);
    const auto* prod = p.status.find_environment("prod");
    ASSERT_TRUE(prod->waiting);
    EXPECT_EQ(prod->waiting->reason, "OutsidePromotionWindow");
    EXPECT_EQ(prod->waiting->digest, kA);
    EXPECT_THAT(prod->message, HasSubstr("waits for a promotion window: outside every allow window "
                                         "until 2026-12-14T08:00:00Z"));
    ASSERT_TRUE(prod->window);
    EXPECT_FALSE(prod->window->open);
    EXPECT_EQ(prod->window->next_open, utc(2026, 12, 14, 8));
    EXPECT_EQ(prod->window->next_close, utc(2026, 12, 14, 15));
    // The plan comes back when the window opens.
    ASSERT_TRUE(p.requeue_after);
    EXPECT_EQ(*p.requeue_after,
              std::chrono::duration_cast<std::chrono::milliseconds>(utc(2026, 12, 14, 8) - now));
    // dev has no windows and no window status.
    EXPECT_FALSE(p.status.find_environment("dev")->window);
    // Planned again with the status it wrote, nothing changes (no status churn).
    app.status = p.status;
    Plan again = plan(app, observe_status(app), now + 1min);
    EXPECT_EQ(again.status.find_environment("prod")->message, prod->message);
    EXPECT_EQ(again.status.find_environment("prod")->window, prod->window);
}

TEST_F(WindowsTest, WhenTheWindowOpensTheWaitingCandidateGoesIn) {
    const TimePoint monday_nine = utc(2026, 12, 14, 8);  // 09:00 in Paris
    Plan p = plan(app, observe_status(app), monday_nine - 1s);
    EXPECT_EQ(action_for(p, "prod"), nullptr);
    app.status = p.status;
    p = plan(app, observe_status(app), monday_nine);
    const PromoteAction* a = action_for(p, "prod");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->artifact.digest, kA);
    const auto* prod = p.status.find_environment("prod");
    ASSERT_TRUE(prod->window);
    EXPECT_TRUE(prod->window->open);
    EXPECT_EQ(prod->window->next_close, utc(2026, 12, 14, 15));
    EXPECT_EQ(prod->window->next_open, utc(2026, 12, 15, 8));
    EXPECT_EQ(prod->window->message, "");
}

TEST_F(WindowsTest, DenyWinsAndNamesTheWindow) {
    // Thursday 2026-12-24 10:00 in Paris: inside the allow window, inside the freeze.
    Plan p = plan(app, observe_status(app), utc(2026, 12, 24, 9));
    EXPECT_EQ(action_for(p, "prod"), nullptr);
    const auto* prod = p.status.find_environment("prod");
    EXPECT_THAT(prod->message, HasSubstr("waits for a promotion window: inside deny window 2 "
                                         "until 2026-12-28T08:00:00Z"));
}

TEST_F(WindowsTest, ApprovedPromotionsWaitForTheWindowToo) {
    app.spec.environments[1].promotion.approval.required = true;
    api::ApprovalRecord alice;
    alice.name = "billing-prod-1";
    alice.approver = "alice";
    alice.digest = kA;
    alice.source = api::IdentitySource::webhook;
    Observations obs = observe_status(app);
    obs.approvals["prod"] = {alice};
    // Approved, but outside the window: it waits for the window, not for an approval.
    Plan p = plan(app, obs, utc(2026, 12, 11, 10));
    EXPECT_EQ(action_for(p, "prod"), nullptr);
    EXPECT_EQ(p.status.find_environment("prod")->waiting->reason, "OutsidePromotionWindow");
    // Inside the window without the approval: it waits for the approval.
    Plan q = plan(app, observe_status(app), utc(2026, 12, 14, 9));
    EXPECT_EQ(action_for(q, "prod"), nullptr);
    EXPECT_EQ(q.status.find_environment("prod")->waiting->reason, "WaitingForApproval");
    // Both: promoted, and the approver is on the commit.
    Plan r = plan(app, obs, utc(2026, 12, 14, 9));
    const PromoteAction* a = action_for(r, "prod");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->approved_by, std::vector<std::string>{"alice (webhook)"});
}

TEST_F(WindowsTest, RollbacksPassUnlessAWindowBlocksThem) {
    app.metadata.annotations["poetryops.io/rollback.prod"] = kC;
    const TimePoint friday = utc(2026, 12, 11, 10);
    Plan p = plan(app, observe_status(app), friday);
    const PromoteAction* a = action_for(p, "prod");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->kind, api::HistoryKind::rollback);

    app.spec.environments[1].promotion.windows[0].block_rollbacks = true;
    p = plan(app, observe_status(app), friday);
    EXPECT_EQ(action_for(p, "prod"), nullptr);
    EXPECT_THAT(p.status.find_environment("prod")->message,
                HasSubstr("rollback to 1.4.0 (sha256:cccccccccccc) waits for a promotion window "
                          "(blockRollbacks): outside every allow window until "
                          "2026-12-14T08:00:00Z"));
    // Inside the window the rollback goes.
    p = plan(app, observe_status(app), utc(2026, 12, 14, 9));
    ASSERT_NE(action_for(p, "prod"), nullptr);
    EXPECT_EQ(action_for(p, "prod")->kind, api::HistoryKind::rollback);
}

TEST_F(WindowsTest, ARuleThatDoesNotParseNamesTheRuleTheCharacterAndTheField) {
    app.spec.environments[1].promotion.windows[0].rrule = "FREQ=WEEKLY;BYDAY=MO,XX";
    app.spec.environments[1].promotion.windows[1].timezone = "Europe/Pariss";
    app.spec.environments[1].promotion.windows[1].duration = api::Duration("");
    auto errors = api::validate(app);
    std::vector<std::string> lines;
    for (const auto& e : errors) lines.push_back(e.str());
    EXPECT_THAT(lines, testing::Contains(
                           "spec.environments[1].promotion.windows[0].rrule: \"FREQ=WEEKLY;BYDAY="
                           "MO,XX\" at character 22 (\"XX\"): not a weekday (MO, TU, WE, TH, FR, "
                           "SA, SU)"));
    EXPECT_THAT(lines, testing::Contains(HasSubstr("spec.environments[1].promotion.windows[1]."
                                                   "timezone: \"Europe/Pariss\" is not a time "
                                                   "zone")));
    EXPECT_THAT(lines, testing::Contains(HasSubstr("spec.environments[1].promotion.windows[1]."
                                                   "duration: is required")));
    // Should such an app be planned anyway, nothing goes in.
    Plan p = plan(app, observe_status(app), utc(2026, 12, 14, 9));
    EXPECT_EQ(action_for(p, "prod"), nullptr);
    EXPECT_THAT(p.status.find_environment("prod")->message,
                HasSubstr("window 1's rule does not parse"));
    // A deny window in a zone the system does not know closes, never silently opens.
    app.spec.environments[1].promotion.windows = {{"FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24",
                                                   api::Duration("72h"), api::WindowKind::deny,
                                                   "Europe/Pariss", false}};
    p = plan(app, observe_status(app), utc(2026, 12, 14, 9));
    EXPECT_EQ(action_for(p, "prod"), nullptr);
    EXPECT_THAT(p.status.find_environment("prod")->message,
                HasSubstr("window 1's timezone: \"Europe/Pariss\" is not a time zone"));
}

TEST_F(WindowsTest, WindowsAndTheirStatusSurviveEncodeAndDecode) {
    Plan p = plan(app, observe_status(app), utc(2026, 12, 11, 10));
    app.status = p.status;
    std::vector<api::FieldError> errors;
    api::PoetryApp back = api::decode_poetryapp(api::encode_poetryapp(app), errors);
    ASSERT_TRUE(errors.empty()) << api::join_errors(errors);
    const auto& w = back.spec.environments[1].promotion.windows;
    ASSERT_EQ(w.size(), 2u);
    EXPECT_EQ(w[0].rrule, app.spec.environments[1].promotion.windows[0].rrule);
    EXPECT_EQ(w[1].kind, api::WindowKind::deny);
    EXPECT_EQ(w[1].timezone, "Europe/Paris");
    EXPECT_EQ(w[1].duration.text, "72h");
    EXPECT_EQ(back.status.find_environment("prod")->window,
              app.status.find_environment("prod")->window);
}

}  // namespace
}  // namespace poetryops::promote

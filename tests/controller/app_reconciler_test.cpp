#include <poetryops/controller/app_reconciler.hpp>

#include <poetryops/api/codec.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace poetryops;
using nlohmann::json;

namespace {

json app_object(std::int64_t generation = 1) {
    return json::parse(R"({
      "apiVersion": "poetryops.io/v1alpha1", "kind": "PoetryApp",
      "metadata": {"name": "billing", "namespace": "team-a", "generation": 1, "resourceVersion": "7"},
      "spec": {"image": {"repository": "registry.example.com/acme/billing"},
               "gitops": {"repoURL": "https://git.example.com/acme/deploy.git"},
               "environments": [{"name": "dev", "path": "envs/dev"}, {"name": "prod", "path": "envs/prod"}]}
    })")
        .patch(json::parse(R"([{"op": "replace", "path": "/metadata/generation", "value": )" +
                           std::to_string(generation) + "}]"));
}

const auto t0 = std::chrono::sys_days{std::chrono::year{2026} / 1 / 1} + std::chrono::hours(1);

}  // namespace

TEST(DecideStatus, ValidAppIsReadyWithObservedGeneration) {
    auto d = controller::decide_status(app_object(3), t0);
    EXPECT_TRUE(d.errors.empty());
    EXPECT_TRUE(d.changed);
    const api::Condition* ready = api::find_condition(d.status.conditions, "Ready");
    ASSERT_NE(ready, nullptr);
    EXPECT_EQ(ready->status, "True");
    EXPECT_EQ(ready->reason, "SpecValid");
    EXPECT_EQ(ready->observed_generation, 3);
    EXPECT_EQ(ready->last_transition_time, t0);
    EXPECT_EQ(d.status.observed_generation, 3);
    EXPECT_EQ(d.status.summary, "dev=- prod=-");
}

TEST(DecideStatus, InvalidAppCarriesTheFieldPath) {
    json obj = app_object();
    obj["spec"]["environments"][1]["promotion"] = {{"from", "qa"}};
    auto d = controller::decide_status(obj, t0);
    ASSERT_EQ(d.errors.size(), 1u);
    const api::Condition* ready = api::find_condition(d.status.conditions, "Ready");
    ASSERT_NE(ready, nullptr);
    EXPECT_EQ(ready->status, "False");
    EXPECT_EQ(ready->reason, "InvalidSpec");
    EXPECT_THAT(ready->message, testing::StartsWith("spec.environments[1].promotion.from: "));
    EXPECT_TRUE(d.ready_changed);
}

TEST(DecideStatus, RecomputingAWrittenStatusChangesNothing) {
    json obj = app_object();
    auto first = controller::decide_status(obj, t0);
    obj["status"] = api::encode_status(first.status);
    auto second = controller::decide_status(obj, t0 + std::chrono::minutes(5));
    EXPECT_FALSE(second.changed);
    EXPECT_FALSE(second.ready_changed);
}

TEST(DecideStatus, GenerationBumpUpdatesButKeepsTransitionTime) {
    json obj = app_object(1);
    auto first = controller::decide_status(obj, t0);
    obj["status"] = api::encode_status(first.status);
    obj["metadata"]["generation"] = 2;
    auto second = controller::decide_status(obj, t0 + std::chrono::minutes(5));
    EXPECT_TRUE(second.changed);
    EXPECT_EQ(second.status.observed_generation, 2);
    EXPECT_EQ(second.status.conditions[0].observed_generation, 2);
    EXPECT_EQ(second.status.conditions[0].last_transition_time, t0);  // still True: no transition
}

TEST(DecideStatus, KeepsPromotionFieldsAndOtherConditions) {
    json obj = app_object();
    obj["status"] = json::parse(R"({
      "observedGeneration": 1,
      "conditions": [{"type": "Degraded", "status": "True", "observedGeneration": 1,
                      "lastTransitionTime": "2026-01-01T00:00:00Z", "reason": "RegistryUnavailable", "message": "x"}],
      "environments": [{"name": "dev", "version": "1.4.2", "phase": "Healthy"},
                       {"name": "prod", "version": "1.3.0", "phase": "Held", "held": true}],
      "history": [{"environment": "dev", "kind": "Promote", "version": "1.4.2"}]
    })");
    auto d = controller::decide_status(obj, t0);
    EXPECT_EQ(d.status.conditions.size(), 2u);
    EXPECT_NE(api::find_condition(d.status.conditions, "Degraded"), nullptr);
    EXPECT_EQ(d.status.environments.size(), 2u);
    EXPECT_EQ(d.status.history.size(), 1u);
    EXPECT_EQ(d.status.summary, "dev=1.4.2 prod=1.3.0(held)");
}

TEST(DecideStatus, SecretsInInvalidValuesAreRedacted) {
    json obj = app_object();
    obj["spec"]["environments"][0]["name"] = "token=ghp_abcdefghijklmnopqrstuvwxyz0123456789";
    auto d = controller::decide_status(obj, t0);
    ASSERT_FALSE(d.errors.empty());
    EXPECT_THAT(d.status.conditions[0].message,
                testing::Not(testing::HasSubstr("ghp_abcdefghijklmnopqrstuvwxyz")));
}

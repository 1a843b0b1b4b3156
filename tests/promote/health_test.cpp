#include <poetryops/promote/health.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace poetryops::promote {
namespace {

using nlohmann::json;

const std::string kOurs = "1111111111111111111111111111111111111111";
const std::string kLater = "2222222222222222222222222222222222222222";
const std::string kOlder = "0000000000000000000000000000000000000000";
const std::string kDigest = "sha256:" + std::string(64, 'a');

ContainsCommit contains() {
    return [](const std::string& rev) { return rev == kOurs || rev == kLater; };
}

json argo(const std::string& rev, const std::string& sync, const std::string& health) {
    return json{
        {"metadata", {{"name", "billing-staging"}}},
        {"status",
         {{"sync", {{"revision", rev}, {"status", sync}}}, {"health", {{"status", health}}}}}};
}

TEST(ArgoCdHealth, NeedsOurCommitOrADescendantSyncedAndHealthy) {
    EXPECT_EQ(argocd_health(argo(kOurs, "Synced", "Healthy"), contains()).state,
              HealthState::healthy);
    EXPECT_EQ(argocd_health(argo(kLater, "Synced", "Healthy"), contains()).state,
              HealthState::healthy);
    auto older = argocd_health(argo(kOlder, "Synced", "Healthy"), contains());
    EXPECT_EQ(older.state, HealthState::unknown);
    EXPECT_NE(older.message.find("not yet our commit"), std::string::npos);
    EXPECT_EQ(argocd_health(argo(kOurs, "OutOfSync", "Healthy"), contains()).state,
              HealthState::progressing);
    EXPECT_EQ(argocd_health(argo(kOurs, "Synced", "Progressing"), contains()).state,
              HealthState::progressing);
    EXPECT_EQ(argocd_health(argo(kOurs, "Synced", "Degraded"), contains()).state,
              HealthState::degraded);
    json multi = argo("", "Synced", "Healthy");
    multi["status"]["sync"].erase("revision");
    multi["status"]["sync"]["revisions"] = {kOlder, kOurs};
    EXPECT_EQ(argocd_health(multi, contains()).state, HealthState::healthy);
    EXPECT_EQ(argocd_health(json::object(), contains()).state, HealthState::unknown);
}

json flux(const std::string& rev, const std::string& ready, const std::string& reason) {
    return json{
        {"metadata", {{"name", "billing"}}},
        {"status",
         {{"lastAppliedRevision", rev},
          {"conditions",
           {{{"type", "Ready"}, {"status", ready}, {"reason", reason}, {"message", "m"}}}}}}};
}

TEST(FluxHealth, AppliedAtOrAfterOurCommitAndReady) {
    EXPECT_EQ(flux_revision_commit("main@sha1:" + kOurs), kOurs);
    EXPECT_EQ(flux_revision_commit("main/" + kOurs), kOurs);
    EXPECT_EQ(flux_revision_commit("latest@sha256:abc"), "");
    EXPECT_EQ(flux_health(flux("main@sha1:" + kOurs, "True", "ReconciliationSucceeded"), contains())
                  .state,
              HealthState::healthy);
    EXPECT_EQ(
        flux_health(flux("main/" + kLater, "True", "ReconciliationSucceeded"), contains()).state,
        HealthState::healthy);
    EXPECT_EQ(
        flux_health(flux("main@sha1:" + kOlder, "True", "ReconciliationSucceeded"), contains())
            .state,
        HealthState::unknown);
    EXPECT_EQ(flux_health(flux("main@sha1:" + kOurs, "Unknown", "Progressing"), contains()).state,
              HealthState::progressing);
    EXPECT_EQ(
        flux_health(flux("main@sha1:" + kOurs, "False", "HealthCheckFailed"), contains()).state,
        HealthState::degraded);
    EXPECT_EQ(
        flux_health(flux("main@sha1:" + kOurs, "False", "DependencyNotReady"), contains()).state,
        HealthState::progressing);
}

json deployment(const std::string& image, int generation, int observed, int updated, int ready,
                int available) {
    return json{{"metadata", {{"name", "billing"}, {"generation", generation}}},
                {"spec",
                 {{"replicas", 3},
                  {"template",
                   {{"spec",
                     {{"containers",
                       {{{"name", "app"}, {"image", image}},
                        {{"name", "sidecar"}, {"image", "envoy:1.30"}}}}}}}}}},
                {"status",
                 {{"observedGeneration", observed},
                  {"replicas", 3},
                  {"updatedReplicas", updated},
                  {"readyReplicas", ready},
                  {"availableReplicas", available}}}};
}

TEST(DeploymentHealth, RunsTheDigestAndRolloutComplete) {
    const std::string repo = "localhost:5000/acme/billing";
    const std::string image = repo + ":1.4.2@" + kDigest;
    EXPECT_EQ(deployment_health(deployment(image, 2, 2, 3, 3, 3), repo, kDigest).state,
              HealthState::healthy);
    EXPECT_EQ(deployment_health(deployment(image, 3, 2, 3, 3, 3), repo, kDigest).state,
              HealthState::progressing);
    EXPECT_EQ(deployment_health(deployment(image, 2, 2, 2, 3, 3), repo, kDigest).state,
              HealthState::progressing);
    EXPECT_EQ(deployment_health(deployment(image, 2, 2, 3, 3, 2), repo, kDigest).state,
              HealthState::progressing);
    auto other = deployment_health(deployment(repo + ":1.4.1", 2, 2, 3, 3, 3), repo, kDigest);
    EXPECT_EQ(other.state, HealthState::unknown);
    EXPECT_EQ(deployment_health(deployment(image, 2, 2, 3, 3, 3), "other/repo", kDigest).state,
              HealthState::unknown);
    json stuck = deployment(image, 2, 2, 1, 1, 1);
    stuck["status"]["conditions"] = {{{"type", "Progressing"},
                                      {"status", "False"},
                                      {"reason", "ProgressDeadlineExceeded"},
                                      {"message", "too slow"}}};
    EXPECT_EQ(deployment_health(stuck, repo, kDigest).state, HealthState::degraded);
}

}  // namespace
}  // namespace poetryops::promote

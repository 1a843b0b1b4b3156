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

/// What a real object carries besides what the readers look at.
json with_clutter(json o) {
    o["apiVersion"] = "x/v1";
    o["metadata"]["namespace"] = "team";
    o["metadata"]["resourceVersion"] = "42";
    o["metadata"]["annotations"] = {
        {"kubectl.kubernetes.io/last-applied-configuration", std::string(4096, 'x')}};
    o["metadata"]["managedFields"] = json::array({{{"manager", "kubectl"}}});
    o["metadata"]["labels"] = {{"app", "billing"}};
    o["spec"]["source"] = {{"repoURL", "https://git.example/deploy"},
                           {"helm", {{"values", std::string(2048, 'v')}}}};
    o["spec"]["selector"] = {{"matchLabels", {{"app", "billing"}}}};
    if (o.contains("/spec/template/spec/containers"_json_pointer)) {
        for (auto& c : o["spec"]["template"]["spec"]["containers"]) {
            c["env"] = json::array({{{"name", "A"}, {"value", "1"}}});
            c["resources"] = {{"limits", {{"cpu", "1"}}}};
        }
        o["spec"]["template"]["metadata"] = {{"labels", {{"app", "billing"}}}};
    }
    o["status"]["resources"] = json::array();
    for (int i = 0; i < 50; ++i)
        o["status"]["resources"].push_back({{"kind", "ConfigMap"}, {"name", std::to_string(i)}});
    o["status"]["history"] = json::array({{{"revision", kOlder}, {"id", 1}}});
    o["status"]["operationState"] = {{"phase", "Succeeded"}, {"syncResult", {{"revision", kOurs}}}};
    if (o.contains("/status/sync"_json_pointer))
        o["status"]["sync"]["comparedTo"] = {{"source", {{"repoURL", "https://git.example"}}}};
    return o;
}

TEST(TrimForHealth, EveryReaderAnswersTheSameOnTheTrimmedObject) {
    const std::string repo = "localhost:5000/acme/billing";
    const std::string image = repo + ":1.4.2@" + kDigest;
    std::vector<json> argos = {argo(kOurs, "Synced", "Healthy"), argo(kOlder, "Synced", "Healthy"),
                               argo(kOurs, "OutOfSync", "Healthy"),
                               argo(kOurs, "Synced", "Degraded")};
    argos.back()["status"]["health"]["message"] = "pod crashloop";
    std::vector<json> fluxes = {flux("main@sha1:" + kOurs, "True", "ReconciliationSucceeded"),
                                flux("main@sha1:" + kOurs, "False", "HealthCheckFailed"),
                                flux("main@sha1:" + kOlder, "True", "ReconciliationSucceeded")};
    std::vector<json> deployments = {deployment(image, 2, 2, 3, 3, 3),
                                     deployment(image, 3, 2, 3, 3, 3),
                                     deployment(repo + ":1.4.1", 2, 2, 3, 3, 3)};
    json stuck = deployment(image, 2, 2, 1, 1, 1);
    stuck["status"]["conditions"] = {{{"type", "Progressing"},
                                      {"status", "False"},
                                      {"reason", "ProgressDeadlineExceeded"},
                                      {"message", "too slow"}}};
    deployments.push_back(stuck);

    auto same = [](const HealthObservation& a, const HealthObservation& b) {
        return a.state == b.state && a.message == b.message;
    };
    auto trimmed = [](json o) {
        trim_for_health(o);
        return o;
    };
    for (const auto& base : argos) {
        json full = with_clutter(base);
        json small = trimmed(full);
        EXPECT_TRUE(same(argocd_health(full, contains()), argocd_health(small, contains())))
            << full.dump();
        EXPECT_LT(small.dump().size() * 10, full.dump().size()) << small.dump();
        EXPECT_FALSE(small.contains("/status/resources"_json_pointer));
        EXPECT_FALSE(small.contains("/metadata/annotations"_json_pointer));
    }
    for (const auto& base : fluxes) {
        json full = with_clutter(base);
        EXPECT_TRUE(same(flux_health(full, contains()), flux_health(trimmed(full), contains())))
            << full.dump();
    }
    for (const auto& base : deployments) {
        json full = with_clutter(base);
        json small = trimmed(full);
        EXPECT_TRUE(
            same(deployment_health(full, repo, kDigest), deployment_health(small, repo, kDigest)))
            << full.dump();
        EXPECT_FALSE(small.contains("/spec/template/spec/containers/0/env"_json_pointer));
        EXPECT_EQ(small["metadata"]["resourceVersion"], "42");
    }
    json not_an_object = "text";
    trim_for_health(not_an_object);
    EXPECT_EQ(not_an_object, "text");
}

}  // namespace
}  // namespace poetryops::promote

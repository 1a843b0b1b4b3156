// The node lane: Pods that really run on node1 (containerd + runc + kubelet,
// tests/support/kube/node.hpp), read back through our RestClient. Skips with the lane's reason
// where no node can run (POETRYOPS_REQUIRE_KUBE_LANE=1: fails).
#include "support/kube/cluster.hpp"
#include "support/kube/crds.hpp"
#include "support/kube/node.hpp"

#include <poetryops/kube/client.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/promote/health.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>
#include <support/support.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace poetryops::test::kube {
namespace {

using nlohmann::json;
using poetryops::kube::ResourceRef;
using poetryops::kube::RestClient;
using promote::HealthState;
using Clock = std::chrono::steady_clock;

const ResourceRef kPods{"", "v1", "pods"};
const ResourceRef kJobs{"batch", "v1", "jobs"};
const ResourceRef kDeployments{"apps", "v1", "deployments"};

double since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

const char* name_of(HealthState s) {
    switch (s) {
        case HealthState::unknown: return "Unknown";
        case HealthState::progressing: return "Progressing";
        case HealthState::healthy: return "Healthy";
        case HealthState::degraded: return "Degraded";
    }
    return "?";
}

/// Polls `done` every 200 ms until it returns true or `timeout` passes.
bool poll(const std::function<bool()>& done, std::chrono::seconds timeout) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
        if (done()) return true;
        if (Clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

class NodeLane : public ::testing::Test {
protected:
    void SetUp() override {
        auto node = shared_node();
        if (!node && node.error().reason == "Skip") GTEST_SKIP() << node.error().message;
        ASSERT_TRUE(node) << node.error().message;
        node_ = *node;
        auto cluster = shared_cluster();
        ASSERT_TRUE(cluster) << cluster.error().message;
        auto cfg = (*cluster)->admin();
        ASSERT_TRUE(cfg) << cfg.error().message;
        auto client = RestClient::create(*cfg, {.request_timeout = std::chrono::seconds(10)});
        ASSERT_TRUE(client) << client.error().message;
        client_ = std::move(client).value();
        ns_ = "node-" + std::to_string(::getpid()) + "-" +
              std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 1000000);
        auto created = client_->create(
            poetryops::kube::resources::namespaces(),
            {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns_}}}});
        ASSERT_TRUE(created) << created.error().message;
        // Pods are admitted once the namespace's default ServiceAccount exists
        // (kube-controller-manager makes it).
        ASSERT_TRUE(poll(
            [&] {
                return bool(client_->get(
                    ResourceRef("", "v1", "serviceaccounts").in(ns_).named("default")));
            },
            std::chrono::seconds(60)))
            << "no default ServiceAccount in " << ns_;
    }
    void TearDown() override {
        // The kubelet tears the Pods down in the background; kube_node_down deletes whatever is
        // left.
        if (client_ && !ns_.empty())
            (void)client_->remove(poetryops::kube::resources::namespaces().named(ns_));
    }

    std::vector<json> pods(const std::string& selector) {
        auto list = client_->list(kPods.in(ns_), {.label_selector = selector});
        EXPECT_TRUE(list) << list.error().message;
        return list ? list->items : std::vector<json>{};
    }

    /// Pod phase and container states, for failure messages.
    std::string describe_pods(const std::string& selector) {
        std::string out;
        for (const auto& p : pods(selector)) {
            out += "\n  " + p.value("/metadata/name"_json_pointer, std::string()) + " " +
                   p.value("/status/phase"_json_pointer, std::string()) + " " +
                   p.value("/status/containerStatuses"_json_pointer, json::array()).dump() + " " +
                   p.value("/status/conditions"_json_pointer, json::array()).dump();
        }
        return out;
    }

    const NodeInfo* node_ = nullptr;
    std::unique_ptr<RestClient> client_;
    std::string ns_;
};

TEST_F(NodeLane, JobRunsToCompletionAndItsTerminationMessageIsReadBack) {
    auto t0 = Clock::now();
    const std::string token =
        "t" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
    json container = {
        {"name", "main"},
        {"image", node_->busybox_image},
        {"imagePullPolicy", "Never"},
        {"env", json::array({{{"name", "TOKEN"}, {"value", token}}})},
        // Written by the container, read by the kubelet when it exits, published in the Pod status.
        {"terminationMessagePath", "/tmp/poetryops-result"},
        {"command", json::array({"sh", "-c",
                                 "printf 'token=%s uid=%s' \"$TOKEN\" \"$(id -u)\" "
                                 "> /tmp/poetryops-result"})}};
    json job = {{"apiVersion", "batch/v1"},
                {"kind", "Job"},
                {"metadata", {{"name", "report"}, {"namespace", ns_}}},
                {"spec",
                 {{"backoffLimit", 0},
                  {"template",
                   {{"spec",
                     {{"restartPolicy", "Never"},
                      {"terminationGracePeriodSeconds", 1},
                      {"containers", json::array({container})}}}}}}}};
    auto created = client_->create(kJobs.in(ns_), job);
    ASSERT_TRUE(created) << created.error().message;

    std::string state;
    bool finished = poll(
        [&] {
            auto j = client_->get(kJobs.in(ns_).named("report"));
            if (!j) return false;
            for (const auto& c : j->value("/status/conditions"_json_pointer, json::array())) {
                if (c.value("status", "") == "True" &&
                    (c.value("type", "") == "Complete" || c.value("type", "") == "Failed")) {
                    state = c.value("type", "");
                    return true;
                }
            }
            return false;
        },
        std::chrono::seconds(120));
    ASSERT_TRUE(finished) << "Job not finished in 120 s; its Pods:"
                          << describe_pods("job-name=report");
    ASSERT_EQ(state, "Complete") << describe_pods("job-name=report");
    const double completed = since(t0);

    auto list = pods("job-name=report");
    ASSERT_EQ(list.size(), 1u) << describe_pods("job-name=report");
    const json& pod = list.front();
    EXPECT_EQ(pod.value("/spec/nodeName"_json_pointer, std::string()), node_->node_name);
    EXPECT_EQ(pod.value("/status/phase"_json_pointer, std::string()), "Succeeded");
    const json terminated =
        pod.value("/status/containerStatuses/0/state/terminated"_json_pointer, json::object());
    EXPECT_EQ(terminated.value("exitCode", -1), 0) << terminated.dump();
    EXPECT_EQ(terminated.value("reason", ""), "Completed") << terminated.dump();
    EXPECT_EQ(terminated.value("message", ""), "token=" + token + " uid=0") << terminated.dump();
    std::printf("[ timing ] Job created -> Complete in %.1f s; Pod %s ran on %s (Pod IP %s)\n",
                completed, pod.value("/metadata/name"_json_pointer, std::string()).c_str(),
                pod.value("/spec/nodeName"_json_pointer, std::string()).c_str(),
                pod.value("/status/podIP"_json_pointer, std::string("-")).c_str());
}

TEST_F(NodeLane, DeploymentPinnedByDigestRollsOutToASecondDigestAndTheHealthGateSeesIt) {
    auto t0 = Clock::now();
    // Two images built here, different by one file: two digests of one repository.
    const std::string repo = "localhost/poetryops-test/app";
    auto busybox = busybox_layer();
    ASSERT_TRUE(busybox) << busybox.error().message;
    auto version_layer = [](const std::string& v) {
        return std::vector<ImageEntry>{{"version", ImageEntry::Type::file, v + "\n", 0644}};
    };
    TempDir tmp("poetryops-node-images");
    auto built = write_image_archive({{.repository = repo,
                                       .tag = "v1",
                                       .layers = {*busybox, version_layer("v1")},
                                       .cmd = {"/bin/sh"}},
                                      {.repository = repo,
                                       .tag = "v2",
                                       .layers = {*busybox, version_layer("v2")},
                                       .cmd = {"/bin/sh"}}},
                                     tmp.path() / "app.tar");
    ASSERT_TRUE(built) << built.error().message;
    auto imported = import_images(*node_, tmp.path() / "app.tar");
    ASSERT_TRUE(imported) << imported.error().message;
    const BuiltImage v1 = (*built)[0], v2 = (*built)[1];
    ASSERT_NE(v1.digest, v2.digest);
    std::printf("[ timing ] two images built and imported in %.1f s: %s, %s\n", since(t0),
                v1.by_digest().c_str(), v2.by_digest().c_str());

    json deployment = {
        {"apiVersion", "apps/v1"},
        {"kind", "Deployment"},
        {"metadata", {{"name", "app"}, {"namespace", ns_}}},
        {"spec",
         {{"replicas", 2},
          {"selector", {{"matchLabels", {{"app", "app"}}}}},
          {"template",
           {{"metadata", {{"labels", {{"app", "app"}}}}},
            {"spec",
             {{"terminationGracePeriodSeconds", 1},
              {"containers",
               json::array({{{"name", "app"},
                             {"image", v1.by_digest()},
                             {"imagePullPolicy", "Never"},
                             {"command", json::array({"sh", "-c",
                                                      "cat /version; exec sleep 3600"})}}})}}}}}}}};
    auto t1 = Clock::now();
    auto created = client_->create(kDeployments.in(ns_), deployment);
    ASSERT_TRUE(created) << created.error().message;
    EXPECT_EQ(promote::deployment_health(*created, repo, v1.digest).state,
              HealthState::progressing);

    const ResourceRef app = kDeployments.in(ns_).named("app");
    json current;
    auto healthy_at = [&](const std::string& digest) {
        auto d = client_->get(app);
        if (!d) return false;
        current = *d;
        return promote::deployment_health(current, repo, digest).state == HealthState::healthy;
    };
    ASSERT_TRUE(poll([&] { return healthy_at(v1.digest); }, std::chrono::seconds(120)))
        << promote::deployment_health(current, repo, v1.digest).message << describe_pods("app=app");
    const double first_rollout = since(t1);
    // The gate of the second digest does not take the first one's rollout for its own.
    EXPECT_EQ(promote::deployment_health(current, repo, v2.digest).state, HealthState::unknown);

    // Every running Pod of the Deployment runs `digest` (the container's imageID, as containerd
    // reports it).
    auto pods_run = [&](const BuiltImage& image, std::string& seen) {
        auto list = pods("app=app");
        seen.clear();
        int matching = 0;
        for (const auto& p : list) {
            std::string id =
                p.value("/status/containerStatuses/0/imageID"_json_pointer, std::string());
            seen += " " + p.value("/metadata/name"_json_pointer, std::string()) + "=" +
                    (id.empty() ? "-" : id);
            if (id == image.by_digest()) ++matching;
        }
        return list.size() == 2 && matching == 2;
    };
    std::string seen;
    ASSERT_TRUE(poll([&] { return pods_run(v1, seen); }, std::chrono::seconds(30)))
        << "Pods:" << seen;

    // Change to the second digest: the API server's answer is a new generation not yet observed.
    auto t2 = Clock::now();
    json patch = {
        {"spec",
         {{"template",
           {{"spec",
             {{"containers", json::array({{{"name", "app"}, {"image", v2.by_digest()}}})}}}}}}}};
    auto patched = client_->patch(app, poetryops::kube::PatchType::strategic, patch);
    ASSERT_TRUE(patched) << patched.error().message;
    auto during = promote::deployment_health(*patched, repo, v2.digest);
    EXPECT_EQ(during.state, HealthState::progressing)
        << name_of(during.state) << ": " << during.message;

    ASSERT_TRUE(poll([&] { return healthy_at(v2.digest); }, std::chrono::seconds(120)))
        << promote::deployment_health(current, repo, v2.digest).message << describe_pods("app=app");
    const double second_rollout = since(t2);
    auto after = promote::deployment_health(current, repo, v2.digest);
    EXPECT_EQ(after.state, HealthState::healthy) << after.message;
    EXPECT_EQ(promote::deployment_health(current, repo, v1.digest).state, HealthState::unknown);
    // The old Pods go (grace period 1 s); the two left run the second digest.
    EXPECT_TRUE(poll([&] { return pods_run(v2, seen); }, std::chrono::seconds(60)))
        << "Pods:" << seen;
    std::printf(
        "[ timing ] Deployment Healthy at %s in %.1f s; rolled to %s, Healthy in %.1f s (%s)\n",
        v1.digest.substr(0, 19).c_str(), first_rollout, v2.digest.substr(0, 19).c_str(),
        second_rollout, after.message.c_str());
    std::printf("[ timing ] Pods:%s\n", seen.c_str());
}

// `kubectl poetryops logs APP --build` (docs/kubectl-plugin.md) reads a build Job's log that a
// real kubelet kept: the Job labelled as the controller labels build Jobs, its Pod's `build`
// container, through pods/log.
TEST_F(NodeLane, KubectlPoetryopsLogsBuildPrintsTheBuildContainersLog) {
    auto cluster = shared_cluster();
    ASSERT_TRUE(cluster) << cluster.error().message;
    auto crds =
        apply_crds(*client_, {poetryops::test::source_dir() / "crds/poetryops.io_poetryapps.yaml"});
    ASSERT_TRUE(crds) << crds.error().message;
    json app = {{"apiVersion", "poetryops.io/v1alpha1"},
                {"kind", "PoetryApp"},
                {"metadata", {{"name", "billing"}, {"namespace", ns_}}},
                {"spec",
                 {{"image", {{"repository", "registry.example.com/acme/billing"}}},
                  {"gitops", {{"repoURL", "https://git.example.com/acme/deploy.git"}}},
                  {"environments", json::array({{{"name", "dev"}, {"path", "envs/dev"}}})}}}};
    ASSERT_TRUE(
        client_->create(ResourceRef("poetryops.io", "v1alpha1", "poetryapps").in(ns_), app));
    json labels = {{"poetryops.io/app", "billing"}};
    json container = {{"name", "build"},
                      {"image", node_->busybox_image},
                      {"imagePullPolicy", "Never"},
                      {"command", json::array({"sh", "-c",
                                               "echo '#1 [build 1/3] FROM python:3.12-slim'; "
                                               "echo 'pushed sha256:4f3c'"})}};
    json job = {{"apiVersion", "batch/v1"},
                {"kind", "Job"},
                {"metadata",
                 {{"name", "billing-aaaaaaa-12345678"},
                  {"namespace", ns_},
                  {"labels", labels},
                  {"annotations", {{"poetryops.io/app", ns_ + "/billing"}}}}},
                {"spec",
                 {{"backoffLimit", 0},
                  {"template",
                   {{"metadata", {{"labels", labels}}},
                    {"spec",
                     {{"restartPolicy", "Never"},
                      {"terminationGracePeriodSeconds", 1},
                      {"containers", json::array({container})}}}}}}}};
    ASSERT_TRUE(client_->create(kJobs.in(ns_), job));
    ASSERT_TRUE(poll(
        [&] {
            auto list = pods("poetryops.io/app=billing");
            return !list.empty() &&
                   list.front().value("/status/phase"_json_pointer, std::string()) == "Succeeded";
        },
        std::chrono::seconds(120)))
        << describe_pods("poetryops.io/app=billing");
    auto r = run_process({KUBECTL_POETRYOPS_BIN, "logs", "billing", "--build", "--kubeconfig",
                          (*cluster)->admin_kubeconfig.string(), "-n", ns_});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->exit_code, 0) << r->err;
    EXPECT_EQ(r->out, "#1 [build 1/3] FROM python:3.12-slim\npushed sha256:4f3c\n");
    EXPECT_TRUE(r->err.empty()) << r->err;
}

}  // namespace
}  // namespace poetryops::test::kube

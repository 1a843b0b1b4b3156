// A canary in cluster mode (`canary.mode: cluster`) inside `poetryops controller`, on the real
// Kubernetes lane with the real Gateway API CRD: the canary workload's digest is committed to a
// real git repository, the weights move on the live HTTPRoute step by step (never in git), every
// other field of the route stays as its author applied it, and the canary metrics say so. Weights
// another manager wrote hold the canary and are never overwritten.
#include <poetryops/controller/app_controller.hpp>
#include <poetryops/controller/kube_traffic.hpp>
#include <poetryops/controller/resources.hpp>

#include <poetryops/api/codec.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/util/fs.hpp>
#include <support/support.hpp>

#include "kube/kube_fixture.hpp"
#include "support/git/git_servers.hpp"
#include "support/kube/cluster.hpp"
#include "support/kube/crds.hpp"
#include "support/registry/test_registry.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

using namespace poetryops;
using kube::testenv::KubeServerTest;
using nlohmann::json;
using test::TestRegistry;
using test::TestRegistryOptions;

namespace {

namespace fs = std::filesystem;

std::string deployment(const std::string& name, const std::string& image) {
    return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name +
           "\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n"
           "        image: " +
           image + ":old\n";
}

const char* kGitRoute =
    "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: app\n"
    "spec:\n  rules:\n  - backendRefs:\n    - {name: app, port: 8080, weight: 100}\n"
    "    - {name: app-canary, port: 8080, weight: 0}\n";

/// The live route as its author applied it: a header rule to the canary alone, and the split rule
/// with a timeout.
json live_route(const std::string& ns) {
    json r = json::parse(R"({
      "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
      "metadata": {"name": "app"},
      "spec": {
        "parentRefs": [{"name": "public", "namespace": "gateways"}],
        "rules": [
          {"matches": [{"headers": [{"name": "x-canary", "value": "always"}]}],
           "backendRefs": [{"name": "app-canary", "port": 8080}]},
          {"timeouts": {"request": "10s"},
           "backendRefs": [{"name": "app", "port": 8080, "weight": 100},
                           {"name": "app-canary", "port": 8080, "weight": 0}]}]}})");
    r["metadata"]["namespace"] = ns;
    return r;
}

class ClusterCanaryIt : public KubeServerTest {
protected:
    void SetUp() override {
        KubeServerTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        fs::path shared = test::kube::shared_crds_dir(test::source_dir());
        if (shared.empty()) {
            if (test::kube::lane_required())
                FAIL() << "no ../shared/k8s/crds while POETRYOPS_REQUIRE_KUBE_LANE=1";
            GTEST_SKIP() << "no ../shared/k8s/crds (set POETRYOPS_SHARED_K8S_CRDS)";
        }
        ASSERT_TRUE(test::require_tools({"git", "docker-registry", "skopeo", "umoci"}));
        admin_ = make_client();
        ASSERT_TRUE(admin_);
        auto installed =
            test::kube::apply_crds(*admin_,
                                   {test::source_dir() / "crds/poetryops.io_poetryapps.yaml",
                                    shared / "gateway-api-v1.2.1-httproutes.yaml"},
                                   std::chrono::seconds(60));
        ASSERT_TRUE(installed) << installed.error().message;
        ns_ = fresh_namespace(*admin_);
        routes_ = controller::traffic_route_resource(manifest::TrafficKind::gateway_api).in(ns_);
        auto applied = admin_->apply(routes_.named("app"), live_route(ns_), "kubectl", false);
        ASSERT_TRUE(applied) << applied.error().message;
        applied_ = *applied;

        webhook_port_ = test::free_port();
        TestRegistryOptions ro;
        ro.notify_url = "http://127.0.0.1:" + std::to_string(webhook_port_) + "/webhooks/registry";
        ro.notify_token = "hook-token";
        registry_ = TestRegistry::start(ro);
        ASSERT_TRUE(registry_);

        bare_ = repos_.create("deploy.git");
        repos_.commit_files("deploy.git",
                            {{"envs/prod/deployment.yaml", deployment("app", image()) + "---\n" +
                                                               deployment("app-canary", image())},
                             {"envs/prod/route.yaml", kGitRoute}});
    }

    void TearDown() override {
        if (ctl_) ctl_->stop();
        ctl_.reset();
        registry_.reset();
        KubeServerTest::TearDown();
    }

    std::string image() const { return registry_->host() + "/team/app"; }

    std::string git_file(const std::string& path) {
        return repos_.show("deploy.git", "main:" + path);
    }

    void start_controller() {
        controller::AppControllerConfig cfg;
        cfg.namespaces = {ns_};
        cfg.metrics_bind_address = "127.0.0.1:0";
        cfg.health_probe_bind_address = "127.0.0.1:0";
        controller::ClusterPromotionOptions po;
        po.cache_dir = dir_.path() / "cache";
        po.webhook_address = "127.0.0.1:" + std::to_string(webhook_port_);
        po.webhook.bearer_token = "hook-token";
        po.registry.hosts[registry_->host()].plain_http = true;
        po.committer.window = std::chrono::milliseconds(20);
        cfg.promotion = po;
        auto c = controller::AppController::create(cfg, make_client(), ns_);
        ASSERT_TRUE(c) << c.error().message;
        ctl_ = std::move(*c);
        ASSERT_TRUE(ctl_->start());
    }

    void create_app(const std::string& pause) {
        json app = {
            {"apiVersion", "poetryops.io/v1alpha1"},
            {"kind", "PoetryApp"},
            {"metadata", {{"name", "app"}, {"namespace", ns_}}},
            {"spec",
             {{"image",
               {{"repository", image()},
                {"tagTemplate", "{version}"},
                {"policy", {{"pollInterval", "5m"}}}}},
              {"gitops", {{"repoURL", "file://" + bare_.string()}}},
              {"environments",
               json::array({json{
                   {"name", "prod"},
                   {"path", "envs/prod"},
                   {"update", {{"kind", "manifest"}, {"file", "deployment.yaml"}}},
                   {"canary",
                    {{"mode", "cluster"},
                     {"traffic",
                      {{"kind", "gateway-api"},
                       {"route", "app"},
                       {"stable", "app"},
                       {"canary", "app-canary"}}},
                     {"steps", json::array({json{{"weight", 10}, {"pause", pause}},
                                            json{{"weight", 50}, {"pause", pause}}})}}}}})}}}};
        auto created = admin_->create(controller::poetryapps().in(ns_), app);
        ASSERT_TRUE(created) << created.error().message;
    }

    api::PoetryAppStatus status() {
        auto o = admin_->get(controller::poetryapps().in(ns_).named("app"));
        std::vector<api::FieldError> ignored;
        if (!o || !o->contains("status")) return {};
        return api::decode_status((*o)["status"], ignored);
    }

    const api::EnvironmentStatus* prod(const api::PoetryAppStatus& s) {
        return s.find_environment("prod");
    }

    /// The live route's canary weight (-1 when it cannot be read).
    int live_canary_weight() {
        auto r = admin_->get(routes_.named("app"));
        if (!r) return -1;
        return (*r)["spec"]["rules"][1]["backendRefs"][1].value("weight", -1);
    }

    /// Pushes 1.0.0 (prod takes it straight: nothing to compare a canary with), then returns the
    /// digest of 2.0.0, pushed.
    std::string first_then_second() {
        std::string d1 = registry_->push_image("team/app", "1.0.0", "v1");
        EXPECT_TRUE(test::wait_until(
            [&] { return git_file("envs/prod/deployment.yaml").find(d1) != std::string::npos; },
            std::chrono::seconds(30)))
            << git_file("envs/prod/deployment.yaml");
        return registry_->push_image("team/app", "2.0.0", "v2");
    }

    TempDir dir_{"poetryops-cluster-canary"};
    std::unique_ptr<kube::RestClient> admin_;
    std::string ns_;
    kube::ResourceRef routes_;
    json applied_;
    int webhook_port_ = 0;
    std::unique_ptr<TestRegistry> registry_;
    test::BareRepos repos_;
    fs::path bare_;
    std::unique_ptr<controller::AppController> ctl_;
};

TEST_P(ClusterCanaryIt, TheLiveRouteWalksTheStepsAndGitHoldsOnlyTheDigests) {
    start_controller();
    create_app("2s");
    std::string d2 = first_then_second();
    ASSERT_FALSE(d2.empty());

    // Watch the live weight while the canary runs.
    std::vector<int> seen;
    std::mutex mu;
    std::atomic<bool> stop{false};
    std::thread watcher([&] {
        while (!stop) {
            int w = live_canary_weight();
            {
                std::lock_guard lock(mu);
                if (w >= 0 && (seen.empty() || seen.back() != w)) seen.push_back(w);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    });
    api::PoetryAppStatus s;
    bool done = test::wait_until(
        [&] {
            s = status();
            const auto* p = prod(s);
            return p && p->digest == d2 && p->canary &&
                   p->canary->phase == api::CanaryPhase::succeeded;
        },
        std::chrono::seconds(60));
    stop = true;
    watcher.join();
    ASSERT_TRUE(done) << (prod(s) ? prod(s)->message : "no status");

    EXPECT_EQ(seen, (std::vector<int>{0, 10, 50, 0})) << "the live canary weight, step by step";
    // The author's other fields survived every patch.
    auto now = admin_->get(routes_.named("app"));
    ASSERT_TRUE(now);
    EXPECT_EQ((*now)["spec"]["rules"][0], applied_["spec"]["rules"][0]);
    EXPECT_EQ((*now)["spec"]["rules"][1]["timeouts"]["request"], "10s");
    EXPECT_EQ((*now)["spec"]["parentRefs"], applied_["spec"]["parentRefs"]);

    // git: the route file never changed; the digests did (deploy, then the completion).
    EXPECT_EQ(git_file("envs/prod/route.yaml"), kGitRoute);
    std::string deploy = git_file("envs/prod/deployment.yaml");
    EXPECT_EQ(deploy.find(":1.0.0@"), std::string::npos) << deploy;
    auto log = run_process({"git", "--git-dir", bare_.string(), "log", "--format=%b"});
    ASSERT_TRUE(log);
    EXPECT_THAT(log->out, testing::HasSubstr("action=deploy"));
    EXPECT_THAT(log->out, testing::HasSubstr("action=complete"));
    EXPECT_THAT(log->out, testing::Not(testing::HasSubstr("action=shift")))
        << "a cluster-mode step is a patch of the live route, not a commit";

    // The canary metrics.
    auto metrics = run_process(
        {"curl", "-s",
         "http://127.0.0.1:" + std::to_string(ctl_->manager().metrics_port()) + "/metrics"});
    ASSERT_TRUE(metrics);
    EXPECT_THAT(metrics->out,
                testing::HasSubstr("poetryops_canary_steps_total{result=\"shift\"} 2"));
    EXPECT_THAT(metrics->out,
                testing::HasSubstr("poetryops_canary_steps_total{result=\"complete\"} 1"));
    EXPECT_THAT(metrics->out, testing::HasSubstr("poetryops_canary_weight{app=\"" + ns_ +
                                                 "/app\",env=\"prod\"} 0"));
}

TEST_P(ClusterCanaryIt, WeightsAnotherManagerWroteHoldTheCanaryAndAreNeverOverwritten) {
    start_controller();
    create_app("20s");
    std::string d2 = first_then_second();
    ASSERT_FALSE(d2.empty());
    ASSERT_TRUE(
        test::wait_until([&] { return live_canary_weight() == 10; }, std::chrono::seconds(30)));

    // Another canary controller moves the weights.
    json ops = json::parse(R"([
      {"op": "replace", "path": "/spec/rules/1/backendRefs/0/weight", "value": 50},
      {"op": "replace", "path": "/spec/rules/1/backendRefs/1/weight", "value": 50}])");
    ASSERT_TRUE(admin_->patch(routes_.named("app"), kube::PatchType::json, ops,
                              {.field_manager = "flagger"}));
    // Wake the app (any change to it is reconciled at once).
    json touch = {{"metadata", {{"annotations", {{"example.com/touch", "1"}}}}}};
    ASSERT_TRUE(admin_->patch(controller::poetryapps().in(ns_).named("app"), kube::PatchType::merge,
                              touch, {}));
    api::PoetryAppStatus s;
    ASSERT_TRUE(test::wait_until(
        [&] {
            s = status();
            const auto* p = prod(s);
            return p && p->message.find("changed outside poetryops") != std::string::npos;
        },
        std::chrono::seconds(30)))
        << (prod(s) ? prod(s)->message : "no status");
    EXPECT_THAT(prod(s)->message, testing::HasSubstr("abort@" + d2));
    EXPECT_THAT(prod(s)->message, testing::HasSubstr("the live route gives the canary 50%"));
    // Later reconciles keep off their weights.
    touch["metadata"]["annotations"]["example.com/touch"] = "2";
    ASSERT_TRUE(admin_->patch(controller::poetryapps().in(ns_).named("app"), kube::PatchType::merge,
                              touch, {}));
    std::this_thread::sleep_for(std::chrono::seconds(3));
    EXPECT_EQ(live_canary_weight(), 50);
    EXPECT_THAT(prod(status())->message, testing::HasSubstr("changed outside poetryops"));
}

POETRYOPS_KUBE_REAL_ONLY(ClusterCanaryIt);

}  // namespace

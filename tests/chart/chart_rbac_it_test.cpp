// The chart's controller rules against what the code addresses: every resource the controller's
// client calls (the fixed ones of kube::resources and controller::poetryapps(), the health-gate
// objects health_object() maps each gate kind to, the routes traffic_route_resource() maps each
// canary kind to) is granted by the rendered ClusterRole with the verbs docs/operations.md gives
// it, and the Role granted nothing those do not name. Rendered by Helm, so it needs helm.
#include "support/helm/helm.hpp"

#include <poetryops/api/codec.hpp>
#include <poetryops/controller/kube_traffic.hpp>
#include <poetryops/controller/ports.hpp>
#include <poetryops/controller/resources.hpp>
#include <poetryops/kube/resource.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

using namespace poetryops;
using nlohmann::json;
namespace helm = test::helm;

namespace {

/// (group, resource) the controller's code addresses, and the verbs it needs on each.
struct Used {
    std::string group, resource;
    std::vector<std::string> verbs;
};

std::string resource_name(const kube::ResourceRef& r) {
    return r.subresource.empty() ? r.resource : r.resource + "/" + r.subresource;
}

std::vector<Used> used_by_the_code() {
    std::vector<Used> used;
    auto fixed = [&](const kube::ResourceRef& r, std::vector<std::string> verbs) {
        used.push_back({r.group, resource_name(r), std::move(verbs)});
    };
    fixed(controller::poetryapps(), {"get", "list", "watch"});
    fixed(controller::poetryapps().sub("status"), {"update"});
    fixed(controller::poetryapprovals(), {"get", "list", "watch"});
    fixed(kube::resources::events(), {"create", "patch"});
    fixed(kube::resources::secrets(), {"get"});
    fixed(kube::resources::jobs(), {"create", "delete", "get", "list", "watch", "patch"});
    fixed(kube::resources::pods(), {"get", "list", "watch"});
    fixed(kube::resources::pods().sub("log"), {"get"});
    // Each health gate kind, through the one function that maps a gate to its object.
    for (const json& health :
         {json{{"argocd", {{"application", "a"}}}}, json{{"flux", {{"kustomization", "k"}}}},
          json{{"deployment", {{"name", "d"}}}}}) {
        json app = {
            {"apiVersion", "poetryops.io/v1alpha1"},
            {"kind", "PoetryApp"},
            {"metadata", {{"name", "app"}, {"namespace", "team"}}},
            {"spec",
             {{"image", {{"repository", "registry.example.com/team/app"}}},
              {"gitops", {{"repoURL", "https://git.example.com/deploy.git"}}},
              {"environments",
               json::array({json{{"name", "dev"}, {"path", "envs/dev"}, {"health", health}}})}}}};
        std::vector<api::FieldError> errors;
        api::PoetryApp decoded = api::decode_poetryapp(app, errors);
        EXPECT_THAT(errors, testing::IsEmpty()) << health.dump();
        if (decoded.spec.environments.empty()) continue;
        auto ref = controller::health_object(decoded, decoded.spec.environments.front());
        EXPECT_TRUE(ref) << health.dump();
        if (!ref) continue;
        auto slash = ref->api_version.find('/');
        used.push_back({slash == std::string::npos ? "" : ref->api_version.substr(0, slash),
                        ref->resource,
                        {"get", "list", "watch"}});
    }
    for (auto kind : {manifest::TrafficKind::gateway_api, manifest::TrafficKind::istio,
                      manifest::TrafficKind::nginx, manifest::TrafficKind::smi,
                      manifest::TrafficKind::traefik}) {
        auto r = controller::traffic_route_resource(kind);
        used.push_back({r.group, r.resource, {"get", "patch"}});
    }
    return used;
}

}  // namespace

TEST(ChartRbacIt, TheClusterRoleGrantsWhatTheCodeAddressesAndNothingElse) {
    auto h = helm::binary();
    if (!h && h.error().reason == "Skip") GTEST_SKIP() << h.error().message;
    ASSERT_TRUE(h) << h.error().message;
    auto objs = helm::render({});
    ASSERT_TRUE(objs) << objs.error().message;
    auto roles = helm::objects(*objs, "ClusterRole", "poetryops-system-poetryops");
    ASSERT_EQ(roles.size(), 1u);
    auto granted = helm::permissions(roles[0]["rules"]);
    std::set<std::pair<std::string, std::string>> addressed;
    for (const auto& u : used_by_the_code()) {
        addressed.insert({u.group, u.resource});
        for (const auto& v : u.verbs) {
            helm::Permission p{u.group, u.resource, v};
            EXPECT_TRUE(std::binary_search(granted.begin(), granted.end(), p))
                << "the code needs " << p.str() << ", the chart does not grant it";
        }
    }
    for (const auto& p : granted)
        EXPECT_TRUE(addressed.count({p.group, p.resource}))
            << "the chart grants " << p.str() << " on a resource the code never addresses";
    // The Lease, in its own Role.
    auto le = helm::objects(*objs, "Role", "poetryops-leader-election");
    ASSERT_EQ(le.size(), 1u);
    for (const char* verb : {"get", "create", "update"})
        EXPECT_TRUE(
            std::ranges::binary_search(helm::permissions(le[0]["rules"]),
                                       helm::Permission{kube::resources::leases().group,
                                                        kube::resources::leases().resource, verb}))
            << verb;
}

// Cluster mode traffic against the real Kubernetes lane with the real Gateway API CRDs
// (../shared/k8s/crds): the live HTTPRoute's weights move step by step while every other field
// stays exactly as its author wrote it, a route without the canary backend is refused naming it,
// and another manager's weights are reported as a conflict, never overwritten. The canary Ingress
// of ingress-nginx goes through server-side apply, where the API server itself names the
// conflicting manager.
#include <poetryops/controller/kube_traffic.hpp>

#include <poetryops/api/codec.hpp>
#include <poetryops/kube/resource.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/util/fs.hpp>
#include <support/support.hpp>

#include "kube/kube_fixture.hpp"
#include "support/kube/cluster.hpp"
#include "support/kube/crds.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

using namespace poetryops;
using kube::testenv::KubeServerTest;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The route as a user writes it and applies it (kubectl apply --server-side): a header rule to the
// canary alone, an /admin rule to stable alone with a filter, and the split rule with filters, a
// mirror, timeouts and a per-backend filter.
json user_route(const std::string& ns) {
    json route = json::parse(R"({
      "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
      "metadata": {"name": "billing", "labels": {"app.kubernetes.io/name": "billing"},
                   "annotations": {"team": "payments"}},
      "spec": {
        "parentRefs": [{"name": "public", "namespace": "gateways", "sectionName": "https"}],
        "hostnames": ["billing.example.com"],
        "rules": [
          {"matches": [{"headers": [{"name": "x-canary", "value": "always"}]}],
           "backendRefs": [{"name": "billing-canary", "port": 8080}]},
          {"matches": [{"path": {"type": "PathPrefix", "value": "/admin"}}],
           "filters": [{"type": "RequestHeaderModifier",
                        "requestHeaderModifier": {"add": [{"name": "x-admin", "value": "true"}]}}],
           "backendRefs": [{"name": "billing", "port": 8080}]},
          {"matches": [{"path": {"type": "PathPrefix", "value": "/"}},
                       {"headers": [{"name": "x-region", "value": "eu"}]}],
           "filters": [{"type": "ResponseHeaderModifier",
                        "responseHeaderModifier": {"set": [{"name": "cache-control", "value": "no-store"}]}},
                       {"type": "RequestMirror",
                        "requestMirror": {"backendRef": {"name": "billing-shadow", "port": 8080}}}],
           "timeouts": {"request": "10s", "backendRequest": "2s"},
           "backendRefs": [
             {"name": "billing", "port": 8080, "weight": 100},
             {"name": "billing-canary", "port": 8080, "weight": 0,
              "filters": [{"type": "RequestHeaderModifier",
                           "requestHeaderModifier": {"set": [{"name": "x-track", "value": "canary"}]}}]}]}
        ]}})");
    route["metadata"]["namespace"] = ns;
    return route;
}

api::PoetryApp app_with(const std::string& ns, manifest::TrafficKind kind, const std::string& route,
                        const std::string& stable, const std::string& canary) {
    api::PoetryApp app;
    app.metadata.name = "billing";
    app.metadata.namespace_ = ns;
    api::CanarySpec c;
    c.mode = api::CanaryMode::cluster;
    c.traffic.kind = kind;
    c.traffic.route = route;
    c.traffic.stable = stable;
    c.traffic.canary = canary;
    api::EnvironmentSpec env;
    env.name = "prod";
    env.path = "envs/prod";
    env.canary = c;
    app.spec.environments.push_back(env);
    return app;
}

// The object without metadata, status and the two weights poetryops may change (the split rule's):
// what must stay byte for byte.
json without_split_weights(json o) {
    o.erase("metadata");
    o.erase("status");
    for (auto& ref : o["spec"]["rules"][2]["backendRefs"]) ref.erase("weight");
    return o;
}

// A client through which another writer changes the route just before poetryops' first patch
// lands: the race the JSON patch's resourceVersion test catches.
class RacingClient : public kube::KubeClient {
public:
    RacingClient(kube::KubeClient& inner, std::function<void()> race)
        : inner_(inner), race_(std::move(race)) {}

    Result<json> get(const kube::ResourceRef& ref) override { return inner_.get(ref); }
    Result<kube::ObjectList> list(const kube::ResourceRef& ref,
                                  const kube::ListOptions& options) override {
        return inner_.list(ref, options);
    }
    Result<json> create(const kube::ResourceRef& ref, const json& object) override {
        return inner_.create(ref, object);
    }
    Result<json> update(const kube::ResourceRef& ref, const json& object) override {
        return inner_.update(ref, object);
    }
    Result<json> patch(const kube::ResourceRef& ref, kube::PatchType type, const json& patch,
                       const kube::PatchOptions& options) override {
        if (patches_++ == 0) race_();
        auto r = inner_.patch(ref, type, patch, options);
        if (!r) errors_.push_back(r.error());
        return r;
    }
    Result<void> remove(const kube::ResourceRef& ref, const kube::DeleteOptions& options) override {
        return inner_.remove(ref, options);
    }
    Result<std::unique_ptr<kube::WatchStream>> watch(const kube::ResourceRef& ref,
                                                     const kube::WatchOptions& options) override {
        return inner_.watch(ref, options);
    }

    int patches() const { return patches_; }
    const std::vector<Error>& errors() const { return errors_; }

private:
    kube::KubeClient& inner_;
    std::function<void()> race_;
    int patches_ = 0;
    std::vector<Error> errors_;
};

class KubeTrafficIt : public KubeServerTest {
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
        admin_ = make_client();
        ASSERT_TRUE(admin_);
        auto installed = test::kube::apply_crds(
            *admin_, {shared / "gateway-api-v1.2.1-httproutes.yaml"}, std::chrono::seconds(60));
        ASSERT_TRUE(installed) << installed.error().message;
        ns_ = fresh_namespace(*admin_);
        routes_ = controller::traffic_route_resource(manifest::TrafficKind::gateway_api).in(ns_);
    }

    /// Applies `object` as `manager` (server-side apply), as kubectl apply --server-side or a
    /// GitOps agent would.
    json apply_as(const std::string& manager, const kube::ResourceRef& ref, const json& object,
                  bool force = false) {
        auto r = admin_->apply(ref, object, manager, force);
        EXPECT_TRUE(r) << r.error().message;
        return r ? *r : json();
    }

    json live(const kube::ResourceRef& ref) {
        auto r = admin_->get(ref);
        EXPECT_TRUE(r) << r.error().message;
        return r ? *r : json();
    }

    std::vector<int> weights_of(controller::KubeTrafficPort& port, const api::PoetryApp& app) {
        auto w = port.read(app, *app.spec.environments[0].canary, ns_);
        EXPECT_TRUE(w) << w.error().message;
        std::vector<int> out;
        if (w) {
            for (const auto& b : w->weights) out.push_back(b.weight);
        }
        return out;
    }

    /// The live weights are what poetryops wrote last.
    bool ours(controller::KubeTrafficPort& port, const api::PoetryApp& app) {
        auto w = port.read(app, *app.spec.environments[0].canary, ns_);
        EXPECT_TRUE(w) << w.error().message;
        return w && w->ours;
    }

    std::unique_ptr<kube::RestClient> admin_;
    std::string ns_;
    kube::ResourceRef routes_;
};

TEST_P(KubeTrafficIt, StepsChangeOnlyTheSplitRulesWeightsOfTheUsersRoute) {
    const json created = apply_as("kubectl", routes_.named("billing"), user_route(ns_));
    const json before = without_split_weights(created);
    api::PoetryApp app =
        app_with(ns_, manifest::TrafficKind::gateway_api, "billing", "billing", "billing-canary");
    const api::CanarySpec& canary = *app.spec.environments[0].canary;
    controller::KubeTrafficPort port(*admin_);
    EXPECT_EQ(weights_of(port, app), (std::vector<int>{100, 0}));

    for (int w : {5, 25, 50, 100, 0}) {
        SCOPED_TRACE("canary weight " + std::to_string(w));
        auto set = port.set(app, canary, ns_, w);
        ASSERT_TRUE(set) << set.error().message;
        EXPECT_EQ(weights_of(port, app), (std::vector<int>{100 - w, w}));
        json now = live(routes_.named("billing"));
        // Every other field, the header and /admin rules' backends included, exactly as written.
        EXPECT_EQ(without_split_weights(now), before)
            << json::diff(before, without_split_weights(now));
        EXPECT_EQ(now["metadata"]["labels"], created["metadata"]["labels"]);
        EXPECT_EQ(now["metadata"]["annotations"]["team"], "payments");
        EXPECT_EQ(now["metadata"]["annotations"][std::string(controller::kWeightsAnnotation)],
                  "billing=" + std::to_string(100 - w) + ",billing-canary=" + std::to_string(w));
    }

    // Setting what is already there writes nothing.
    std::string version = live(routes_.named("billing"))["metadata"]["resourceVersion"];
    ASSERT_TRUE(port.set(app, canary, ns_, 0));
    EXPECT_EQ(live(routes_.named("billing"))["metadata"]["resourceVersion"], version);

    // poetryops wrote as itself and as an update, never as a forced apply.
    bool found = false;
    const json managed = live(routes_.named("billing"))["metadata"]["managedFields"];
    for (const auto& m : managed) {
        if (m["manager"] != "poetryops") continue;
        found = true;
        EXPECT_EQ(m["operation"], "Update");
    }
    EXPECT_TRUE(found) << managed.dump();
}

TEST_P(KubeTrafficIt, TheExampleRouteIsAcceptedAndSteps) {
    auto text = read_file(test::source_dir() / "examples/canary-gateway-api/route.yaml");
    ASSERT_TRUE(text);
    auto docs = api::yaml_to_json(*text, "route.yaml");
    ASSERT_TRUE(docs) << docs.error().message;
    json route = docs->front();
    route["metadata"]["namespace"] = ns_;
    apply_as("kubectl", routes_.named("billing"), route);
    api::PoetryApp app =
        app_with(ns_, manifest::TrafficKind::gateway_api, "billing", "billing", "billing-canary");
    controller::KubeTrafficPort port(*admin_);
    ASSERT_TRUE(port.set(app, *app.spec.environments[0].canary, ns_, 25));
    EXPECT_EQ(weights_of(port, app), (std::vector<int>{75, 25}));
    // The header rule still sends testers to the canary alone.
    json now = live(routes_.named("billing"));
    EXPECT_EQ(now["spec"]["rules"][0]["backendRefs"].size(), 1u);
    EXPECT_EQ(now["spec"]["rules"][0]["backendRefs"][0]["weight"], 1);  // the server's default
}

TEST_P(KubeTrafficIt, ARouteInAnotherNamespaceIsRefusedUnlessTheControllerAllowsIt) {
    // Another team's namespace holds the route; the PoetryApp lives in ns_ and names it through
    // canary.traffic.namespace.
    const std::string other = fresh_namespace(*admin_);
    const auto theirs = controller::traffic_route_resource(manifest::TrafficKind::gateway_api)
                            .in(other)
                            .named("billing");
    const json created = apply_as("kubectl", theirs, user_route(other));
    api::PoetryApp app =
        app_with(ns_, manifest::TrafficKind::gateway_api, "billing", "billing", "billing-canary");
    const auto& canary = *app.spec.environments[0].canary;

    controller::KubeTrafficPort port(*admin_);
    auto read = port.read(app, canary, other);
    ASSERT_FALSE(read);
    EXPECT_EQ(read.error().reason, "CrossNamespaceRoute");
    EXPECT_THAT(read.error().message, testing::HasSubstr("HTTPRoute " + other + "/billing"));
    EXPECT_THAT(read.error().message, testing::HasSubstr("--allow-cross-namespace-routes"));
    auto set = port.set(app, canary, other, 50);
    ASSERT_FALSE(set);
    EXPECT_EQ(set.error().reason, "CrossNamespaceRoute");
    EXPECT_EQ(live(theirs)["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"])
        << "nothing was written to the other namespace";

    controller::KubeTrafficPort allowed(*admin_, true);
    ASSERT_TRUE(allowed.set(app, canary, other, 50));
    auto now = allowed.read(app, canary, other);
    ASSERT_TRUE(now) << now.error().message;
    ASSERT_EQ(now->weights.size(), 2u);
    EXPECT_EQ(now->weights[1].weight, 50);
}

TEST_P(KubeTrafficIt, ARouteWithoutTheCanaryBackendIsRefusedNamingIt) {
    json route = user_route(ns_);
    route["spec"]["rules"][0]["backendRefs"][0]["name"] = "billing-next";
    route["spec"]["rules"][2]["backendRefs"][1]["name"] = "billing-next";
    const json created = apply_as("kubectl", routes_.named("billing"), route);
    api::PoetryApp app =
        app_with(ns_, manifest::TrafficKind::gateway_api, "billing", "billing", "billing-canary");
    controller::KubeTrafficPort port(*admin_);
    auto read = port.read(app, *app.spec.environments[0].canary, ns_);
    ASSERT_FALSE(read);
    EXPECT_EQ(read.error().reason, "MissingBackend");
    EXPECT_EQ(read.error().message,
              "HTTPRoute " + ns_ + "/billing: no backend named billing-canary");
    auto set = port.set(app, *app.spec.environments[0].canary, ns_, 10);
    ASSERT_FALSE(set);
    EXPECT_EQ(set.error().reason, "MissingBackend");
    EXPECT_THAT(set.error().message, testing::HasSubstr("billing-canary"));
    // Nothing was written.
    EXPECT_EQ(live(routes_.named("billing"))["metadata"]["resourceVersion"],
              created["metadata"]["resourceVersion"]);

    // A route that does not exist says which.
    app.spec.environments[0].canary->traffic.route = "billing-v2";
    auto missing = port.set(app, *app.spec.environments[0].canary, ns_, 10);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().kind, Error::Kind::not_found);
    EXPECT_THAT(missing.error().message,
                testing::StartsWith("HTTPRoute " + ns_ + "/billing-v2 not found"));
}

TEST_P(KubeTrafficIt, AnotherManagersWeightsAreReportedNeverOverwritten) {
    apply_as("kubectl", routes_.named("billing"), user_route(ns_));
    api::PoetryApp app =
        app_with(ns_, manifest::TrafficKind::gateway_api, "billing", "billing", "billing-canary");
    const api::CanarySpec& canary = *app.spec.environments[0].canary;
    controller::KubeTrafficPort port(*admin_);
    EXPECT_FALSE(ours(port, app));  // the user's own weights
    ASSERT_TRUE(port.set(app, canary, ns_, 10));
    EXPECT_TRUE(ours(port, app));

    // Another canary controller moves the weights with its own patch.
    json ops = json::parse(R"([
      {"op": "replace", "path": "/spec/rules/2/backendRefs/0/weight", "value": 50},
      {"op": "replace", "path": "/spec/rules/2/backendRefs/1/weight", "value": 50}])");
    auto theirs = admin_->patch(routes_.named("billing"), kube::PatchType::json, ops,
                                {.field_manager = "flagger"});
    ASSERT_TRUE(theirs) << theirs.error().message;

    auto set = port.set(app, canary, ns_, 25);
    ASSERT_FALSE(set);
    EXPECT_EQ(set.error().kind, Error::Kind::conflict);
    EXPECT_EQ(set.error().reason, "WeightsConflict");
    EXPECT_THAT(set.error().message, testing::HasSubstr("HTTPRoute " + ns_ + "/billing"));
    EXPECT_THAT(set.error().message, testing::HasSubstr("spec.rules"));
    EXPECT_THAT(set.error().message, testing::HasSubstr("manager flagger (Update"));
    EXPECT_THAT(set.error().message, testing::HasSubstr("billing=90,billing-canary=10"));
    // Their weights stay, and a read no longer calls them poetryops'.
    EXPECT_EQ(weights_of(port, app), (std::vector<int>{50, 50}));
    EXPECT_FALSE(ours(port, app));

    // A GitOps agent re-applying the user's manifest with force takes the list back: the same.
    apply_as("kustomize-controller", routes_.named("billing"), user_route(ns_), true);
    auto again = port.set(app, canary, ns_, 25);
    ASSERT_FALSE(again);
    EXPECT_THAT(again.error().message, testing::HasSubstr("manager kustomize-controller (Apply"));
    EXPECT_EQ(weights_of(port, app), (std::vector<int>{100, 0}));
}

TEST_P(KubeTrafficIt, AnotherChangeToTheRouteIsNotAConflict) {
    apply_as("kubectl", routes_.named("billing"), user_route(ns_));
    api::PoetryApp app =
        app_with(ns_, manifest::TrafficKind::gateway_api, "billing", "billing", "billing-canary");
    const api::CanarySpec& canary = *app.spec.environments[0].canary;
    controller::KubeTrafficPort port(*admin_);
    ASSERT_TRUE(port.set(app, canary, ns_, 10));
    // The user changes a timeout (and so the whole rules list) but not the weights.
    json ops = json::parse(R"([
      {"op": "replace", "path": "/spec/rules/2/timeouts/request", "value": "20s"}])");
    ASSERT_TRUE(admin_->patch(routes_.named("billing"), kube::PatchType::json, ops,
                              {.field_manager = "kubectl-edit"}));
    auto set = port.set(app, canary, ns_, 25);
    ASSERT_TRUE(set) << set.error().message;
    json now = live(routes_.named("billing"));
    EXPECT_EQ(now["spec"]["rules"][2]["timeouts"]["request"], "20s");
    EXPECT_EQ(weights_of(port, app), (std::vector<int>{75, 25}));
}

TEST_P(KubeTrafficIt, ARaceWithAnotherWriterIsReadAgainNotOverwritten) {
    apply_as("kubectl", routes_.named("billing"), user_route(ns_));
    api::PoetryApp app =
        app_with(ns_, manifest::TrafficKind::gateway_api, "billing", "billing", "billing-canary");
    RacingClient racing(*admin_, [&] {
        json ops = json::parse(R"([
          {"op": "replace", "path": "/spec/rules/2/timeouts/request", "value": "30s"}])");
        auto r = admin_->patch(routes_.named("billing"), kube::PatchType::json, ops,
                               {.field_manager = "kubectl-edit"});
        ASSERT_TRUE(r) << r.error().message;
    });
    controller::KubeTrafficPort port(racing);
    auto set = port.set(app, *app.spec.environments[0].canary, ns_, 25);
    ASSERT_TRUE(set) << set.error().message;
    // The first patch failed its resourceVersion test; the second, on a fresh read, landed.
    EXPECT_EQ(racing.patches(), 2);
    ASSERT_EQ(racing.errors().size(), 1u);
    EXPECT_EQ(racing.errors()[0].http_status, 422) << racing.errors()[0].message;
    json now = live(routes_.named("billing"));
    EXPECT_EQ(now["spec"]["rules"][2]["timeouts"]["request"], "30s");  // theirs, kept
    EXPECT_EQ(weights_of(port, app), (std::vector<int>{75, 25}));
}

TEST_P(KubeTrafficIt, NginxCanaryIngressByServerSideApply) {
    kube::ResourceRef ingresses =
        controller::traffic_route_resource(manifest::TrafficKind::nginx).in(ns_);
    json ingress = json::parse(R"({
      "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
      "metadata": {"name": "billing-canary",
                   "annotations": {"nginx.ingress.kubernetes.io/canary": "true",
                                   "nginx.ingress.kubernetes.io/canary-by-header": "x-canary"}},
      "spec": {"ingressClassName": "nginx",
               "rules": [{"host": "billing.example.com", "http": {"paths": [
                 {"path": "/", "pathType": "Prefix",
                  "backend": {"service": {"name": "billing-canary", "port": {"number": 8080}}}}]}}]}})");
    ingress["metadata"]["namespace"] = ns_;
    const json created = apply_as("kubectl", ingresses.named("billing-canary"), ingress);
    api::PoetryApp app =
        app_with(ns_, manifest::TrafficKind::nginx, "billing-canary", "billing", "billing-canary");
    const api::CanarySpec& canary = *app.spec.environments[0].canary;
    controller::KubeTrafficPort port(*admin_);
    EXPECT_EQ(weights_of(port, app), (std::vector<int>{100, 0}));
    for (int w : {10, 40}) {
        auto set = port.set(app, canary, ns_, w);
        ASSERT_TRUE(set) << set.error().message;
        EXPECT_EQ(weights_of(port, app), (std::vector<int>{100 - w, w}));
        EXPECT_TRUE(ours(port, app));
    }
    json now = live(ingresses.named("billing-canary"));
    EXPECT_EQ(now["spec"], created["spec"]);
    EXPECT_EQ(now["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-by-header"],
              "x-canary");

    // The user's manifest gains a canary-weight and is force-applied (as a GitOps agent does):
    // poetryops' next step is the API server's conflict, naming that manager and the field.
    ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] = "0";
    apply_as("kubectl", ingresses.named("billing-canary"), ingress, true);
    auto set = port.set(app, canary, ns_, 50);
    ASSERT_FALSE(set);
    EXPECT_EQ(set.error().kind, Error::Kind::conflict);
    EXPECT_EQ(set.error().reason, "WeightsConflict");
    EXPECT_THAT(set.error().message, testing::HasSubstr("Ingress " + ns_ + "/billing-canary"));
    EXPECT_THAT(set.error().message, testing::HasSubstr("\"kubectl\""));
    EXPECT_THAT(set.error().message, testing::HasSubstr("canary-weight"));
    EXPECT_EQ(weights_of(port, app), (std::vector<int>{100, 0}));
    EXPECT_FALSE(ours(port, app));
}

POETRYOPS_KUBE_REAL_ONLY(KubeTrafficIt);

}  // namespace

#include <poetryops/manifest/edit.hpp>

#include <poetryops/manifest/read.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace poetryops::manifest {
namespace {

std::string weights(const std::string& text, TrafficKind kind, const std::vector<BackendWeight>& w,
                    std::string_view resource = {}) {
    auto out = set_weights(text, kind, w, resource);
    EXPECT_TRUE(out) << out.error().message;
    return out ? out->new_text : "<error>";
}

TEST(Weights, GatewayApiSetsAndInsertsWeights) {
    std::string text =
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: "
        "billing\nspec:\n  rules:\n"
        "  - backendRefs:\n    - name: billing   # stable\n      port: 80\n      weight: 100\n"
        "    - name: billing-canary\n      port: 80\n";
    EXPECT_EQ(weights(text, TrafficKind::gateway_api, {{"billing", 75}, {"billing-canary", 25}}),
              "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: "
              "billing\nspec:\n  rules:\n"
              "  - backendRefs:\n    - name: billing   # stable\n      port: 80\n      weight: 75\n"
              "    - name: billing-canary\n      weight: 25\n      port: 80\n");
}

TEST(Weights, MissingBackendIsAnError) {
    std::string text =
        "kind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules:\n  - backendRefs:\n    - {name: a, "
        "weight: 1}\n";
    auto out = set_weights(text, TrafficKind::gateway_api, {{"a", 50}, {"b", 50}});
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().reason, "MissingBackend");
    EXPECT_EQ(weights(text, TrafficKind::gateway_api, {{"a", 50}}),
              "kind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules:\n  - backendRefs:\n    - "
              "{name: a, weight: 50}\n");
}

TEST(Weights, IstioBySubsetAndFlowInsert) {
    std::string text =
        "kind: VirtualService\nmetadata: {name: vs}\nspec:\n  http:\n  - route:\n"
        "    - destination: {host: billing, subset: stable}\n      weight: 90\n"
        "    - destination: {host: billing, subset: canary}\n      weight: 10\n";
    std::string want = text;
    want.replace(want.find("weight: 90"), 10, "weight: 50");
    want.replace(want.find("weight: 10"), 10, "weight: 50");
    EXPECT_EQ(weights(text, TrafficKind::istio, {{"stable", 50}, {"canary", 50}}), want);
}

TEST(Weights, NginxCanaryAnnotationStaysAString) {
    std::string text =
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: billing\n---\n"
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: billing-canary\n  "
        "annotations:\n"
        "    nginx.ingress.kubernetes.io/canary: \"true\"\n    "
        "nginx.ingress.kubernetes.io/canary-weight: \"5\"\n";
    std::string want = text;
    want.replace(want.find("\"5\""), 3, "\"25\"");
    EXPECT_EQ(weights(text, TrafficKind::nginx, {{"billing", 75}, {"billing-canary", 25}}), want);
    std::string no_weight =
        "kind: Ingress\nmetadata:\n  name: c\n  annotations:\n    "
        "nginx.ingress.kubernetes.io/canary: 'true'\n";
    EXPECT_EQ(weights(no_weight, TrafficKind::nginx, {{"c", 30}}),
              no_weight + "    nginx.ingress.kubernetes.io/canary-weight: \"30\"\n");
}

TEST(Weights, SmiAndTraefik) {
    std::string smi =
        "kind: TrafficSplit\nmetadata: {name: s}\nspec:\n  backends:\n  - service: a\n    weight: "
        "1\n  - service: b\n    weight: 0\n";
    std::string want = smi;
    want.replace(want.find("weight: 1"), 9, "weight: 60");
    want.replace(want.find("weight: 0"), 9, "weight: 40");
    EXPECT_EQ(weights(smi, TrafficKind::smi, {{"a", 60}, {"b", 40}}), want);
    std::string tr =
        "kind: TraefikService\nmetadata: {name: t}\nspec:\n  weighted:\n    services:\n      - "
        "name: a\n        port: 80\n";
    EXPECT_EQ(weights(tr, TrafficKind::traefik, {{"a", 3}}),
              "kind: TraefikService\nmetadata: {name: t}\nspec:\n  weighted:\n    services:\n      "
              "- name: a\n        weight: 3\n        port: 80\n");
}

TEST(Weights, ResourceFilterAndIdempotence) {
    std::string text =
        "kind: TrafficSplit\nmetadata: {name: s}\nspec:\n  backends:\n  - {service: a, weight: "
        "5}\n";
    auto other = set_weights(text, TrafficKind::smi, {{"a", 9}}, "not-s");
    ASSERT_TRUE(other);
    EXPECT_EQ(other->matched, 0u);
    auto same = set_weights(text, TrafficKind::smi, {{"a", 5}});
    ASSERT_TRUE(same);
    EXPECT_FALSE(same->changed());
    EXPECT_EQ(same->matched, 1u);
    EXPECT_FALSE(set_weights(text, TrafficKind::smi, {{"a", -1}}));
}

std::vector<int> read(const std::string& text, TrafficKind kind,
                      const std::vector<std::string>& backends, std::string_view resource = {}) {
    auto r = read_weights(text, kind, backends, resource);
    EXPECT_TRUE(r) << r.error().message;
    if (!r || !*r) return {};
    std::vector<int> out;
    for (std::size_t i = 0; i < (*r)->size(); ++i) {
        EXPECT_EQ((**r)[i].name, backends[i]);
        out.push_back((**r)[i].weight);
    }
    return out;
}

Error read_error(const std::string& text, TrafficKind kind,
                 const std::vector<std::string>& backends, std::string_view resource = {}) {
    auto r = read_weights(text, kind, backends, resource);
    EXPECT_FALSE(r);
    return r ? Error{} : r.error();
}

const std::string kRoute =
    "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: web\nspec:\n"
    "  rules:\n  - backendRefs:\n    - {name: web, port: 80, weight: 90}\n"
    "    - {name: web-canary, port: 80, weight: 10}\n";

TEST(ReadWeights, GatewayApiDefaultsAndNoRoute) {
    EXPECT_EQ(read(kRoute, TrafficKind::gateway_api, {"web", "web-canary"}, "web"),
              (std::vector<int>{90, 10}));
    EXPECT_EQ(read(kRoute, TrafficKind::gateway_api, {"web-canary", "web"}),
              (std::vector<int>{10, 90}));
    // No weight key (or null): the schema's default, 1.
    std::string defaulted =
        "kind: HTTPRoute\nmetadata: {name: web}\nspec:\n  rules:\n  - backendRefs:\n"
        "    - name: web\n    - {name: web-canary, weight: null}\n";
    EXPECT_EQ(read(defaulted, TrafficKind::gateway_api, {"web", "web-canary"}),
              (std::vector<int>{1, 1}));
    // No route of that name, or of that kind: nullopt, not an error.
    for (auto [kind, resource] :
         {std::pair{TrafficKind::gateway_api, "other"}, std::pair{TrafficKind::istio, "web"}}) {
        auto none = read_weights(kRoute, kind, {"web", "web-canary"}, resource);
        ASSERT_TRUE(none) << none.error().message;
        EXPECT_FALSE(*none);
    }
    auto unrelated = read_weights(kRoute, TrafficKind::gateway_api, {"api", "api-canary"});
    ASSERT_TRUE(unrelated);
    EXPECT_FALSE(*unrelated);
}

TEST(ReadWeights, RefusalsNameTheLine) {
    Error missing = read_error(kRoute, TrafficKind::gateway_api, {"web", "web-next"}, "web");
    EXPECT_EQ(missing.reason, "MissingBackend");
    EXPECT_EQ(missing.message, "line 1: HTTPRoute web: no backend named web-next");

    std::string two = kRoute + "---\n" + kRoute;
    Error ambiguous = read_error(two, TrafficKind::gateway_api, {"web", "web-canary"}, "web");
    EXPECT_EQ(ambiguous.reason, "Ambiguous");
    EXPECT_THAT(ambiguous.message, testing::StartsWith("line 11: a second HTTPRoute named web"));
    EXPECT_THAT(ambiguous.message, testing::HasSubstr("the first is at line 1"));
    auto set = set_weights(two, TrafficKind::gateway_api, {{"web", 50}, {"web-canary", 50}}, "web");
    ASSERT_FALSE(set);
    EXPECT_EQ(set.error().reason, "Ambiguous");

    std::string percent = kRoute;
    percent.replace(percent.find("weight: 10"), 10, "weight: 10%");
    Error bad = read_error(percent, TrafficKind::gateway_api, {"web", "web-canary"});
    EXPECT_EQ(bad.reason, "InvalidWeight");
    EXPECT_EQ(bad.message,
              "line 9: spec.rules[0].backendRefs[1].weight: \"10%\" is not an integer weight "
              "(0..1000000)");

    std::string split_apart =
        "kind: HTTPRoute\nmetadata: {name: web}\nspec:\n  rules:\n  - backendRefs: [{name: "
        "web}]\n  - backendRefs: [{name: web-canary}]\n";
    Error apart = read_error(split_apart, TrafficKind::gateway_api, {"web", "web-canary"});
    EXPECT_EQ(apart.reason, "MissingBackend");
    EXPECT_THAT(apart.message, testing::HasSubstr("no rule routes to all of web, web-canary"));
    EXPECT_FALSE(
        set_weights(split_apart, TrafficKind::gateway_api, {{"web", 1}, {"web-canary", 1}}));

    std::string disagree = kRoute +
                           "  - matches: [{path: {value: /v2}}]\n    backendRefs:\n"
                           "    - {name: web, weight: 50}\n    - {name: web-canary, weight: 50}\n";
    Error inconsistent = read_error(disagree, TrafficKind::gateway_api, {"web", "web-canary"});
    EXPECT_EQ(inconsistent.reason, "InconsistentWeights");
    EXPECT_THAT(inconsistent.message,
                testing::HasSubstr("spec.rules[1].backendRefs gives web weight 50 but "
                                   "spec.rules[0].backendRefs gives 90"));
    // set_weights makes them agree again.
    auto fixed = set_weights(disagree, TrafficKind::gateway_api, {{"web", 75}, {"web-canary", 25}});
    ASSERT_TRUE(fixed) << fixed.error().message;
    EXPECT_EQ(read(fixed->new_text, TrafficKind::gateway_api, {"web", "web-canary"}),
              (std::vector<int>{75, 25}));
}

TEST(Weights, GatewayApiTouchesOnlyServiceRefsInRulesListingEveryBackend) {
    std::string text =
        "kind: HTTPRoute\nmetadata: {name: web}\nspec:\n  rules:\n"
        "  - backendRefs: [{name: web-canary, port: 80}]\n"      // header rule
        "  - backendRefs: [{name: web, port: 80, weight: 1}]\n"  // stable only
        "  - backendRefs:\n    - {name: web, port: 80, weight: 100}\n"
        "    - {name: web-canary, port: 80, weight: 0}\n"
        "    - {kind: Bucket, group: storage.example.com, name: web, weight: 3}\n";
    std::string want = text;
    want.replace(want.find("weight: 100"), 11, "weight: 0");
    want.replace(want.find("weight: 0}\n    - {kind"), 9, "weight: 100");
    EXPECT_EQ(weights(text, TrafficKind::gateway_api, {{"web", 0}, {"web-canary", 100}}), want);
}

TEST(Weights, IstioMatchesServiceHostsAndSubsets) {
    std::string hosts =
        "kind: VirtualService\nmetadata: {name: web}\nspec:\n  http:\n  - route:\n"
        "    - destination: {host: web.team-a.svc.cluster.local}\n      weight: 100\n"
        "    - destination: {host: web-canary.team-a}\n"
        "    - destination: {host: web.example.com}\n      weight: 0\n";
    EXPECT_EQ(read(hosts, TrafficKind::istio, {"web", "web-canary"}), (std::vector<int>{100, 0}));
    std::string want = hosts;
    want.replace(want.find("weight: 100"), 11, "weight: 80");
    want.replace(want.find("{host: web-canary.team-a}\n"), 26,
                 "{host: web-canary.team-a}\n      weight: 20\n");
    EXPECT_EQ(weights(hosts, TrafficKind::istio, {{"web", 80}, {"web-canary", 20}}), want);

    // One host, two subsets (a DestinationRule's stable and canary): by subset.
    std::string subsets =
        "kind: VirtualService\nmetadata: {name: web}\nspec:\n  http:\n  - route:\n"
        "    - destination: {host: web, subset: stable}\n      weight: 70\n"
        "    - destination: {host: web, subset: canary}\n      weight: 30\n";
    EXPECT_EQ(read(subsets, TrafficKind::istio, {"stable", "canary"}), (std::vector<int>{70, 30}));
    // A sole destination without a weight takes everything.
    std::string sole =
        "kind: VirtualService\nmetadata: {name: web}\nspec:\n  http:\n  - route:\n"
        "    - destination: {host: web}\n";
    EXPECT_EQ(read(sole, TrafficKind::istio, {"web"}), (std::vector<int>{100}));
}

TEST(Weights, NginxByServiceWithWeightTotal) {
    std::string text =
        "kind: Ingress\nmetadata:\n  name: web-canary-ing\n  annotations:\n"
        "    nginx.ingress.kubernetes.io/canary: \"true\"\n"
        "    nginx.ingress.kubernetes.io/canary-weight-total: \"1000\"\n"
        "    nginx.ingress.kubernetes.io/canary-weight: \"50\"\n"
        "spec:\n  rules:\n  - http:\n      paths:\n      - backend:\n          service: {name: "
        "web-canary, port: {number: 80}}\n";
    // Read: the canary's weight out of the total; the stable gets the rest.
    EXPECT_EQ(read(text, TrafficKind::nginx, {"web", "web-canary"}, "web-canary-ing"),
              (std::vector<int>{950, 50}));
    EXPECT_EQ(read(text, TrafficKind::nginx, {"web", "web-canary"}), (std::vector<int>{950, 50}));
    // Write: 25 of 100 is 250 of 1000.
    std::string want = text;
    want.replace(want.find("\"50\""), 4, "\"250\"");
    EXPECT_EQ(weights(text, TrafficKind::nginx, {{"web", 75}, {"web-canary", 25}}), want);
    // A non-canary Ingress named as the route is refused; a canary routing to neither is missing.
    std::string stable =
        "kind: Ingress\nmetadata: {name: web}\nspec:\n  defaultBackend: {service: {name: web}}\n";
    EXPECT_EQ(read_error(stable, TrafficKind::nginx, {"web", "web-canary"}, "web").reason,
              "NotCanary");
    EXPECT_FALSE(set_weights(stable, TrafficKind::nginx, {{"web", 1}}, "web"));
    EXPECT_EQ(read_error(text, TrafficKind::nginx, {"api", "api-canary"}, "web-canary-ing").reason,
              "MissingBackend");
    // No canary-weight annotation yet: 0.
    std::string fresh =
        "kind: Ingress\nmetadata:\n  name: c\n  annotations:\n"
        "    nginx.ingress.kubernetes.io/canary: \"true\"\nspec:\n  defaultBackend: {service: "
        "{name: web-canary}}\n";
    EXPECT_EQ(read(fresh, TrafficKind::nginx, {"web", "web-canary"}), (std::vector<int>{100, 0}));
}

TEST(Weights, SmiAndTraefikDefaults) {
    std::string smi =
        "kind: TrafficSplit\nmetadata: {name: s}\nspec:\n  backends:\n  - service: a\n"
        "  - {service: b, weight: 5}\n";
    EXPECT_EQ(read(smi, TrafficKind::smi, {"a", "b"}), (std::vector<int>{0, 5}));
    std::string tr =
        "kind: TraefikService\nmetadata: {name: t}\nspec:\n  weighted:\n    services:\n"
        "    - {name: a, port: 80}\n    - {name: b, port: 80, weight: 3}\n";
    EXPECT_EQ(read(tr, TrafficKind::traefik, {"a", "b"}), (std::vector<int>{1, 3}));
}

TEST(Weights, RequestIsChecked) {
    EXPECT_EQ(
        set_weights(kRoute, TrafficKind::gateway_api, {{"web", 1}, {"web", 2}}).error().reason,
        "InvalidRequest");
    EXPECT_EQ(read_error(kRoute, TrafficKind::gateway_api, {}).reason, "InvalidRequest");
}

}  // namespace
}  // namespace poetryops::manifest

#include <poetryops/manifest/edit.hpp>

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

}  // namespace
}  // namespace poetryops::manifest

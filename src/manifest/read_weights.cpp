// Reading back the traffic weights of a route: the other half of set_weights(), with the same idea
// of which entries are a backend's (detail/routes.hpp).
#include <poetryops/manifest/read.hpp>

#include "manifest/detail/routes.hpp"
#include "manifest/detail/session.hpp"

#include <map>

namespace poetryops::manifest {

using detail::NodeKind;
using detail::npos;
using detail::Route;
using detail::RouteEntry;
using detail::RouteGroup;
using detail::Tree;

namespace {

std::string list_names(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

// The weight a backend entry gets when it has no `weight:` key (or `weight: null`):
// - Gateway API: 1 (the HTTPRoute schema's default; the API server writes it in);
// - Istio: 100 when the destination is the only one of its route, else 0 (a proto3 int: unset is
//   0; "if there is only one destination in a rule, it will receive all traffic");
// - SMI: 0 (TrafficSplitBackend.Weight is a plain int; the spec requires it);
// - Traefik: 1 (Traefik's CRD provider defaults a nil weight of a weighted service to 1);
// - NGINX: no canary-weight annotation is 0 for the canary (all traffic to the stable Ingress).
int default_weight(const Tree& t, TrafficKind kind, const RouteGroup& g) {
    switch (kind) {
        case TrafficKind::gateway_api: return 1;
        case TrafficKind::istio:
            return g.node != npos && t.at(g.node).children.size() == 1 ? 100 : 0;
        case TrafficKind::smi: return 0;
        case TrafficKind::traefik: return 1;
        case TrafficKind::nginx: return 0;
    }
    return 0;
}

// An integer weight at node `n` (a `weight:` value or an annotation), or the error naming its line.
Result<int> weight_at(const Tree& t, std::size_t n, const std::string& field, int fallback) {
    if (n == npos) return fallback;
    std::size_t v = detail::deref(t, n);
    if (t.at(v).kind == NodeKind::null) return fallback;
    if (t.at(v).kind == NodeKind::scalar) {
        if (auto w = detail::parse_weight(t.at(v).value)) return *w;
    }
    std::string shown =
        t.at(v).kind == NodeKind::scalar ? "\"" + t.at(v).value + "\"" : "a collection";
    return fail(
        Error::Kind::invalid,
        detail::at_line(t, n) + field + ": " + shown + " is not an integer weight (0..1000000)",
        "InvalidWeight");
}

Result<std::vector<BackendWeight>> nginx_read(const Tree& t, const Route& r,
                                              const std::vector<std::string>& backends) {
    if (!r.nginx_canary) {
        return fail(Error::Kind::invalid,
                    detail::at_line(t, r.root) + "Ingress " + r.name +
                        " is not a canary Ingress (annotation " +
                        std::string(detail::kNginxCanary) + ": \"true\")",
                    "NotCanary");
    }
    std::vector<std::string> canary;
    for (const auto& b : backends) {
        if (detail::nginx_answers_to(r, b)) canary.push_back(b);
    }
    if (canary.empty()) {
        return fail(Error::Kind::not_found,
                    detail::at_line(t, r.root) + "canary Ingress " + r.name +
                        " routes to none of " + list_names(backends) + " (it routes to " +
                        (r.services.empty() ? std::string("no Service") : list_names(r.services)) +
                        ")",
                    "MissingBackend");
    }
    if (canary.size() > 1) {
        return fail(Error::Kind::invalid,
                    detail::at_line(t, r.root) + "canary Ingress " + r.name + " routes to both " +
                        canary[0] + " and " + canary[1] + "; which one is the canary is ambiguous",
                    "Ambiguous");
    }
    const std::string prefix = "metadata.annotations.";
    POETRYOPS_TRY(int total, weight_at(t, t.get(r.annotations, detail::kNginxCanaryWeightTotal),
                                       prefix + std::string(detail::kNginxCanaryWeightTotal), 100));
    POETRYOPS_TRY(int w, weight_at(t, t.get(r.annotations, detail::kNginxCanaryWeight),
                                   prefix + std::string(detail::kNginxCanaryWeight), 0));
    if (w > total) w = total;  // ingress-nginx routes everything to the canary then
    std::vector<BackendWeight> out;
    for (const auto& b : backends) out.push_back({b, b == canary[0] ? w : total - w});
    return out;
}

Result<std::vector<BackendWeight>> route_read(const Tree& t, TrafficKind kind, const Route& r,
                                              const std::vector<std::string>& backends) {
    const char* kind_name = detail::route_kind_name(kind);
    std::vector<const RouteGroup*> covering;
    std::map<std::string, bool> present;
    for (const auto& g : r.groups) {
        std::size_t named = 0;
        for (const auto& b : backends) {
            if (!detail::entries_for(r, g, b).empty()) {
                ++named;
                present[b] = true;
            }
        }
        if (named == backends.size()) covering.push_back(&g);
    }
    if (covering.empty()) {
        for (const auto& b : backends) {
            if (!present[b]) {
                return fail(Error::Kind::not_found,
                            detail::at_line(t, r.root) + kind_name + " " + r.name +
                                ": no backend named " + b,
                            "MissingBackend");
            }
        }
        return fail(Error::Kind::not_found,
                    detail::at_line(t, r.root) + kind_name + " " + r.name +
                        ": no rule routes to all of " + list_names(backends) +
                        " (each names only some of them)",
                    "MissingBackend");
    }
    // Every group that splits traffic between the backends must split it alike: set_weights
    // writes them alike, so a difference is someone else's edit.
    std::vector<BackendWeight> out;
    std::string first_field;
    for (const RouteGroup* g : covering) {
        std::vector<BackendWeight> here;
        for (const auto& b : backends) {
            std::optional<int> weight;
            for (const RouteEntry* e : detail::entries_for(r, *g, b)) {
                std::size_t node = t.get(e->map, "weight");
                POETRYOPS_TRY(
                    int w, weight_at(t, node, e->field + ".weight", default_weight(t, kind, *g)));
                if (weight && *weight != w) {
                    return fail(Error::Kind::invalid,
                                detail::at_line(t, e->map) + kind_name + " " + r.name + ": " +
                                    g->field + " lists " + b +
                                    " twice with different weights; refusing to guess",
                                "Ambiguous");
                }
                weight = w;
            }
            here.push_back({b, *weight});
        }
        if (out.empty()) {
            out = std::move(here);
            first_field = g->field;
            continue;
        }
        for (std::size_t i = 0; i < out.size(); ++i) {
            if (here[i].weight == out[i].weight) continue;
            return fail(Error::Kind::invalid,
                        detail::at_line(t, g->node) + kind_name + " " + r.name + ": " + g->field +
                            " gives " + here[i].name + " weight " + std::to_string(here[i].weight) +
                            " but " + first_field + " gives " + std::to_string(out[i].weight) +
                            " (rules that split traffic between the same backends must agree)",
                        "InconsistentWeights");
        }
    }
    return out;
}

}  // namespace

Result<std::optional<std::vector<BackendWeight>>> read_weights(
    std::string_view text, TrafficKind kind, const std::vector<std::string>& backends,
    std::string_view resource, const Limits& limits) {
    if (backends.empty())
        return fail(Error::Kind::invalid, "no backends to read weights of", "InvalidRequest");
    POETRYOPS_TRY(Tree t, detail::parse_tree(text, limits));
    const char* kind_name = detail::route_kind_name(kind);
    std::vector<Route> routes = detail::find_routes(t, kind, resource);
    if (resource.empty()) {
        // Without a name, the routes that name one of the backends (NGINX: canary Ingresses).
        std::vector<Route> naming;
        for (auto& r : routes) {
            bool names = false;
            for (const auto& b : backends) {
                if (kind == TrafficKind::nginx) {
                    names = names || (r.nginx_canary && detail::nginx_answers_to(r, b));
                    continue;
                }
                for (const auto& g : r.groups)
                    names = names || !detail::entries_for(r, g, b).empty();
            }
            if (names) naming.push_back(std::move(r));
        }
        routes = std::move(naming);
    }
    if (routes.empty()) return std::optional<std::vector<BackendWeight>>{};
    if (routes.size() > 1) {
        std::string what =
            resource.empty() ? "naming " + list_names(backends) : "named " + std::string(resource);
        return fail(Error::Kind::invalid,
                    detail::at_line(t, routes[1].root) + "a second " + kind_name + " " + what +
                        " (the first is at line " + std::to_string(t.line_of(routes[0].root)) +
                        "); refusing to guess",
                    "Ambiguous");
    }
    Result<std::vector<BackendWeight>> weights = kind == TrafficKind::nginx
                                                     ? nginx_read(t, routes[0], backends)
                                                     : route_read(t, kind, routes[0], backends);
    if (!weights) return weights.error();
    return std::optional<std::vector<BackendWeight>>(std::move(*weights));
}

}  // namespace poetryops::manifest

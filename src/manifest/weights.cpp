// Traffic weights: Gateway API, Istio, ingress-nginx canary annotation, SMI and Traefik.
#include <poetryops/manifest/edit.hpp>

#include "manifest/detail/routes.hpp"
#include "manifest/detail/session.hpp"

#include <cmath>
#include <set>

namespace poetryops::manifest {

using detail::NodeKind;
using detail::npos;
using detail::Route;
using detail::RouteEntry;
using detail::RouteGroup;
using detail::Session;
using detail::Tree;

namespace {

// Sets or inserts `weight` in backend entry `e`: an inserted key follows the key of the node that
// names the backend (Istio: the `destination` key).
Result<void> put_weight(Session& s, const RouteEntry& e, int weight) {
    const Tree& t = s.tree();
    std::size_t w = t.get(e.map, "weight");
    std::string value = std::to_string(weight);
    if (w != npos) return s.set_scalar(w, value, e.field + ".weight", false);
    std::size_t name_key = s.key_of(e.name_value);
    if (name_key == npos || t.at(e.name_value).parent != e.map) {
        std::size_t dest = t.get(e.map, "destination");
        name_key = dest == npos ? npos : s.key_of(dest);
    }
    if (name_key == npos) {
        return fail(Error::Kind::invalid,
                    detail::at_line(t, e.map) + e.field + ": cannot place a weight key", "Locate");
    }
    return s.add_key_after(e.map, name_key, "weight", value, e.field + ".weight", false);
}

std::string names_of(const std::vector<BackendWeight>& weights) {
    std::string out;
    for (const auto& bw : weights) out += (out.empty() ? "" : ", ") + bw.name;
    return out;
}

// The canary Ingress of ingress-nginx carries the canary's share as an annotation; the stable
// Ingress has none (it gets the rest). A request's backend answers to the canary Ingress when it is
// one of the Services the Ingress routes to, or the Ingress' own name.
Result<void> nginx_weights(Session& s, const Route& r, const std::vector<BackendWeight>& weights) {
    const Tree& t = s.tree();
    std::vector<const BackendWeight*> canary;
    int others = 0;
    for (const auto& bw : weights) {
        if (detail::nginx_answers_to(r, bw.name)) {
            canary.push_back(&bw);
        } else {
            others += bw.weight;
        }
    }
    if (canary.empty()) return ok();
    if (canary.size() > 1) {
        return fail(Error::Kind::invalid,
                    detail::at_line(t, r.root) + "canary Ingress " + r.name + " routes to both " +
                        canary[0]->name + " and " + canary[1]->name +
                        "; which one is the canary is ambiguous",
                    "Ambiguous");
    }
    int total = 100;
    if (std::size_t n = t.get(r.annotations, detail::kNginxCanaryWeightTotal); n != npos) {
        auto v = detail::parse_weight(t.at(detail::deref(t, n)).value);
        if (!v || *v == 0) {
            return fail(Error::Kind::invalid,
                        detail::at_line(t, n) + "metadata.annotations." +
                            std::string(detail::kNginxCanaryWeightTotal) + ": \"" +
                            t.at(detail::deref(t, n)).value + "\" is not a positive integer",
                        "InvalidWeight");
        }
        total = *v;
    }
    // The weights asked for are relative (as Gateway API's are); the annotation is out of
    // canary-weight-total (default 100). With the canary alone, its weight is written as given.
    int w = canary[0]->weight;
    if (others > 0) {
        double sum = static_cast<double>(w) + others;
        w = static_cast<int>(std::llround(w * static_cast<double>(total) / sum));
    }
    s.count_match();
    std::string field = "metadata.annotations." + std::string(detail::kNginxCanaryWeight);
    std::size_t node = t.get(r.annotations, detail::kNginxCanaryWeight);
    if (node != npos) return s.set_scalar(node, std::to_string(w), field, true);
    std::size_t canary_key = s.key_of(t.get(r.annotations, detail::kNginxCanary));
    return s.add_key_after(r.annotations, canary_key, detail::kNginxCanaryWeight, std::to_string(w),
                           field, true);
}

}  // namespace

Result<TrafficKind> parse_traffic_kind(std::string_view text) {
    if (text == "gateway") return TrafficKind::gateway_api;
    for (std::size_t i = 0; i < kTrafficKindNames.size(); ++i) {
        if (kTrafficKindNames[i] == text) return static_cast<TrafficKind>(i);
    }
    return fail(Error::Kind::invalid,
                "unknown traffic kind \"" + std::string(text) +
                    "\" (expected gateway-api, istio, nginx, smi, traefik)",
                "InvalidKind");
}

Result<EditResult> set_weights(std::string_view text, TrafficKind kind,
                               const std::vector<BackendWeight>& weights, std::string_view resource,
                               const Limits& limits) {
    std::set<std::string> seen;
    for (const auto& bw : weights) {
        if (bw.weight < 0 || bw.weight > 1000000) {
            return fail(Error::Kind::invalid,
                        "weight of " + bw.name + " must be between 0 and 1000000", "InvalidWeight");
        }
        if (bw.name.empty() || !seen.insert(bw.name).second) {
            return fail(Error::Kind::invalid,
                        bw.name.empty() ? "a backend without a name"
                                        : "backend " + bw.name + " is given twice",
                        "InvalidRequest");
        }
    }
    POETRYOPS_TRY(Tree tree, detail::parse_tree(text, limits));
    Session s(text, std::move(tree));
    const Tree& t = s.tree();
    const char* kind_name = detail::route_kind_name(kind);
    std::vector<Route> routes = detail::find_routes(t, kind, resource);
    if (!resource.empty() && routes.size() > 1) {
        return fail(Error::Kind::invalid,
                    detail::at_line(t, routes[1].root) + "a second " + kind_name + " named " +
                        std::string(resource) + " (the first is at line " +
                        std::to_string(t.line_of(routes[0].root)) + "); refusing to guess",
                    "Ambiguous");
    }
    for (const Route& r : routes) {
        if (kind == TrafficKind::nginx) {
            if (!r.nginx_canary) {
                if (resource.empty()) continue;  // the stable Ingress: it gets what is left
                return fail(Error::Kind::invalid,
                            detail::at_line(t, r.root) + "Ingress " + r.name +
                                " is not a canary Ingress (annotation " +
                                std::string(detail::kNginxCanary) + ": \"true\")",
                            "NotCanary");
            }
            POETRYOPS_TRY_VOID(nginx_weights(s, r, weights));
            continue;
        }
        // Only groups that hold every named backend share traffic between them: a rule sending
        // a header match to the canary alone, or /admin to stable alone, is left as it is.
        std::vector<const RouteGroup*> covering;
        std::set<std::string> present;
        for (const auto& g : r.groups) {
            std::size_t named = 0;
            for (const auto& bw : weights) {
                if (!detail::entries_for(r, g, bw.name).empty()) {
                    ++named;
                    present.insert(bw.name);
                }
            }
            if (named == weights.size() && named > 0) covering.push_back(&g);
        }
        if (present.empty()) continue;  // a route for other backends
        if (covering.empty()) {
            for (const auto& bw : weights) {
                if (present.count(bw.name) == 0) {
                    return fail(Error::Kind::not_found,
                                detail::at_line(t, r.root) + kind_name + " " + r.name +
                                    ": no backend named " + bw.name,
                                "MissingBackend");
                }
            }
            return fail(Error::Kind::not_found,
                        detail::at_line(t, r.root) + kind_name + " " + r.name +
                            ": no rule routes to all of " + names_of(weights) +
                            " (each names only some of them)",
                        "MissingBackend");
        }
        for (const RouteGroup* g : covering) {
            for (const auto& bw : weights) {
                for (const RouteEntry* e : detail::entries_for(r, *g, bw.name))
                    POETRYOPS_TRY_VOID(put_weight(s, *e, bw.weight));
            }
        }
        s.count_match();
    }
    return s.finish();
}

}  // namespace poetryops::manifest

// Traffic weights: Gateway API, Istio, ingress-nginx canary annotation, SMI and Traefik.
#include <poetryops/manifest/edit.hpp>

#include "manifest/detail/session.hpp"

#include <map>

namespace poetryops::manifest {

using detail::NodeKind;
using detail::npos;
using detail::Session;
using detail::Tree;

namespace {

constexpr std::string_view kCanaryWeight = "nginx.ingress.kubernetes.io/canary-weight";
constexpr std::string_view kCanary = "nginx.ingress.kubernetes.io/canary";

std::size_t deref(const Tree& t, std::size_t i) {
    return i != npos && t.at(i).kind == NodeKind::alias ? t.anchors[t.at(i).alias_of].node : i;
}

const std::vector<std::size_t>& items_of(const Tree& t, std::size_t seq) {
    static const std::vector<std::size_t> none;
    seq = deref(t, seq);
    return seq != npos && t.at(seq).kind == NodeKind::seq ? t.at(seq).children : none;
}

// A backend entry (a map) and the name it answers to.
struct Backend {
    std::size_t map;
    std::size_t name_value;  // the node holding the name (weight goes after its key when inserted)
    std::string field;       // e.g. "spec.rules[0].backendRefs[1]"
};

std::vector<Backend> backends_of(const Tree& t, std::size_t root, TrafficKind kind) {
    std::vector<Backend> out;
    auto add = [&](std::size_t entry, std::size_t name_node, std::string field) {
        if (name_node != npos && t.at(deref(t, name_node)).kind == NodeKind::scalar) {
            out.push_back({entry, name_node, std::move(field)});
        }
    };
    std::size_t spec = deref(t, t.get(root, "spec"));
    switch (kind) {
        case TrafficKind::gateway_api: {
            const auto& rules = items_of(t, t.get(spec, "rules"));
            for (std::size_t r = 0; r < rules.size(); ++r) {
                const auto& refs = items_of(t, t.get(deref(t, rules[r]), "backendRefs"));
                for (std::size_t b = 0; b < refs.size(); ++b) {
                    std::size_t e = deref(t, refs[b]);
                    add(e, t.get(e, "name"),
                        "spec.rules[" + std::to_string(r) + "].backendRefs[" + std::to_string(b) +
                            "]");
                }
            }
            break;
        }
        case TrafficKind::istio: {
            const auto& http = items_of(t, t.get(spec, "http"));
            for (std::size_t h = 0; h < http.size(); ++h) {
                const auto& routes = items_of(t, t.get(deref(t, http[h]), "route"));
                for (std::size_t r = 0; r < routes.size(); ++r) {
                    std::size_t e = deref(t, routes[r]);
                    std::size_t dest = deref(t, t.get(e, "destination"));
                    std::size_t by = t.get(dest, "subset");
                    if (by == npos) by = t.get(dest, "host");
                    add(e, by,
                        "spec.http[" + std::to_string(h) + "].route[" + std::to_string(r) + "]");
                }
            }
            break;
        }
        case TrafficKind::smi: {
            const auto& list = items_of(t, t.get(spec, "backends"));
            for (std::size_t b = 0; b < list.size(); ++b) {
                std::size_t e = deref(t, list[b]);
                add(e, t.get(e, "service"), "spec.backends[" + std::to_string(b) + "]");
            }
            break;
        }
        case TrafficKind::traefik: {
            const auto& list = items_of(t, t.get(deref(t, t.get(spec, "weighted")), "services"));
            for (std::size_t b = 0; b < list.size(); ++b) {
                std::size_t e = deref(t, list[b]);
                add(e, t.get(e, "name"), "spec.weighted.services[" + std::to_string(b) + "]");
            }
            break;
        }
        case TrafficKind::nginx: break;
    }
    return out;
}

const char* kind_name(TrafficKind k) {
    switch (k) {
        case TrafficKind::gateway_api: return "HTTPRoute";
        case TrafficKind::istio: return "VirtualService";
        case TrafficKind::nginx: return "Ingress";
        case TrafficKind::smi: return "TrafficSplit";
        case TrafficKind::traefik: return "TraefikService";
    }
    return "?";
}

// Sets or inserts `weight` in backend map `entry` (name_value's key is where an inserted weight
// goes after).
Result<void> put_weight(Session& s, std::size_t entry, std::size_t name_value, int weight,
                        const std::string& field) {
    const Tree& t = s.tree();
    std::size_t w = t.get(entry, "weight");
    std::string value = std::to_string(weight);
    if (w != npos) return s.set_scalar(w, value, field + ".weight", false);
    std::size_t name_key = s.key_of(name_value);
    if (name_key == npos || t.at(name_value).parent != entry) {
        // Istio: the name sits in destination; insert after the destination key instead.
        std::size_t dest = t.get(entry, "destination");
        name_key = dest == npos ? npos : s.key_of(dest);
    }
    if (name_key == npos) {
        return fail(Error::Kind::invalid,
                    detail::at_line(t, entry) + field + ": cannot place a weight key", "Locate");
    }
    return s.add_key_after(entry, name_key, "weight", value, field + ".weight", false);
}

Result<void> nginx_weights(Session& s, std::size_t root,
                           const std::vector<BackendWeight>& weights) {
    const Tree& t = s.tree();
    std::size_t meta = deref(t, t.get(root, "metadata"));
    std::string name = t.get_string(meta, "name");
    std::size_t ann = deref(t, t.get(meta, "annotations"));
    if (t.get_string(ann, std::string(kCanary)) != "true") return ok();
    for (const auto& bw : weights) {
        if (bw.name != name) continue;
        s.count_match();
        std::size_t w = t.get(ann, std::string(kCanaryWeight));
        std::string field = "metadata.annotations." + std::string(kCanaryWeight);
        if (w != npos) {
            POETRYOPS_TRY_VOID(s.set_scalar(w, std::to_string(bw.weight), field, true));
        } else {
            std::size_t canary = t.get(ann, std::string(kCanary));
            POETRYOPS_TRY_VOID(s.add_key_after(ann, s.key_of(canary), kCanaryWeight,
                                               std::to_string(bw.weight), field, true));
        }
    }
    return ok();
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
    for (const auto& bw : weights) {
        if (bw.weight < 0 || bw.weight > 1000000) {
            return fail(Error::Kind::invalid,
                        "weight of " + bw.name + " must be between 0 and 1000000", "InvalidWeight");
        }
    }
    POETRYOPS_TRY(Tree tree, detail::parse_tree(text, limits));
    Session s(text, std::move(tree));
    const Tree& t = s.tree();
    for (const auto& d : t.docs) {
        if (d.root == npos || t.at(d.root).kind != NodeKind::map) continue;
        if (t.get_string(d.root, "kind") != kind_name(kind)) continue;
        std::string rname = t.get_string(deref(t, t.get(d.root, "metadata")), "name");
        if (!resource.empty() && rname != resource) continue;
        if (kind == TrafficKind::nginx) {
            POETRYOPS_TRY_VOID(nginx_weights(s, d.root, weights));
            continue;
        }
        std::vector<Backend> backends = backends_of(t, d.root, kind);
        std::map<std::string, int> found;
        for (const Backend& b : backends) {
            const std::string& bname = t.at(deref(t, b.name_value)).value;
            for (const auto& bw : weights) {
                if (bw.name != bname) continue;
                found[bw.name]++;
                POETRYOPS_TRY_VOID(put_weight(s, b.map, b.name_value, bw.weight, b.field));
            }
        }
        if (found.empty()) continue;  // a resource for other backends
        for (const auto& bw : weights) {
            if (found.count(bw.name) == 0) {
                return fail(Error::Kind::not_found,
                            detail::at_line(t, d.root) + kind_name(kind) + " " + rname +
                                ": no backend named " + bw.name,
                            "MissingBackend");
            }
        }
        s.count_match();
    }
    return s.finish();
}

}  // namespace poetryops::manifest

#include "manifest/detail/routes.hpp"

#include <charconv>

namespace poetryops::manifest::detail {
namespace {

const std::vector<std::size_t>& items_of(const Tree& t, std::size_t seq) {
    static const std::vector<std::size_t> none;
    seq = deref(t, seq);
    return seq != npos && t.at(seq).kind == NodeKind::seq ? t.at(seq).children : none;
}

std::string scalar_of(const Tree& t, std::size_t i) {
    i = deref(t, i);
    return i != npos && t.at(i).kind == NodeKind::scalar ? t.at(i).value : std::string();
}

// A Gateway API backendRef names a Service unless its kind or group says otherwise (the API's
// defaults: kind Service, group "" — the core group).
bool is_service_ref(const Tree& t, std::size_t entry) {
    std::size_t kind = t.get(entry, "kind");
    std::size_t group = t.get(entry, "group");
    return (kind == npos || scalar_of(t, kind) == "Service") &&
           (group == npos || scalar_of(t, group).empty());
}

// An in-cluster Istio host for Service `name`: name, name.ns, name.ns.svc, name.ns.svc.<domain>.
bool host_is_service(std::string_view host, std::string_view name) {
    if (host == name) return true;
    if (host.size() <= name.size() || host.substr(0, name.size()) != name ||
        host[name.size()] != '.')
        return false;
    std::string_view rest = host.substr(name.size() + 1);  // ns[.svc[.domain]]
    auto dot = rest.find('.');
    if (dot == std::string_view::npos) return !rest.empty();
    std::string_view after = rest.substr(dot + 1);
    return after == "svc" || after.substr(0, 4) == "svc.";
}

void add_entry(const Tree& t, RouteGroup& g, std::size_t entry, std::size_t name_node,
               std::string field) {
    if (name_node == npos || t.at(deref(t, name_node)).kind != NodeKind::scalar) return;
    RouteEntry e;
    e.map = entry;
    e.name_value = name_node;
    e.name = scalar_of(t, name_node);
    e.field = std::move(field);
    g.entries.push_back(std::move(e));
}

void collect_groups(const Tree& t, Route& r, TrafficKind kind) {
    std::size_t spec = deref(t, t.get(r.root, "spec"));
    switch (kind) {
        case TrafficKind::gateway_api: {
            const auto& rules = items_of(t, t.get(spec, "rules"));
            for (std::size_t i = 0; i < rules.size(); ++i) {
                RouteGroup g;
                g.field = "spec.rules[" + std::to_string(i) + "].backendRefs";
                g.node = deref(t, t.get(deref(t, rules[i]), "backendRefs"));
                const auto& refs = items_of(t, g.node);
                for (std::size_t b = 0; b < refs.size(); ++b) {
                    std::size_t e = deref(t, refs[b]);
                    if (!is_service_ref(t, e)) continue;
                    add_entry(t, g, e, t.get(e, "name"), g.field + "[" + std::to_string(b) + "]");
                }
                r.groups.push_back(std::move(g));
            }
            break;
        }
        case TrafficKind::istio: {
            const auto& http = items_of(t, t.get(spec, "http"));
            for (std::size_t h = 0; h < http.size(); ++h) {
                RouteGroup g;
                g.field = "spec.http[" + std::to_string(h) + "].route";
                g.node = deref(t, t.get(deref(t, http[h]), "route"));
                const auto& routes = items_of(t, g.node);
                for (std::size_t i = 0; i < routes.size(); ++i) {
                    std::size_t e = deref(t, routes[i]);
                    std::size_t dest = deref(t, t.get(e, "destination"));
                    std::size_t host = t.get(dest, "host");
                    std::size_t subset = t.get(dest, "subset");
                    std::size_t by = subset != npos ? subset : host;
                    std::size_t before = g.entries.size();
                    add_entry(t, g, e, by, g.field + "[" + std::to_string(i) + "]");
                    if (g.entries.size() > before) {
                        g.entries.back().host = scalar_of(t, host);
                        g.entries.back().subset = scalar_of(t, subset);
                    }
                }
                r.groups.push_back(std::move(g));
            }
            break;
        }
        case TrafficKind::smi: {
            RouteGroup g;
            g.field = "spec.backends";
            g.node = deref(t, t.get(spec, "backends"));
            const auto& list = items_of(t, g.node);
            for (std::size_t b = 0; b < list.size(); ++b) {
                std::size_t e = deref(t, list[b]);
                add_entry(t, g, e, t.get(e, "service"), g.field + "[" + std::to_string(b) + "]");
            }
            r.groups.push_back(std::move(g));
            break;
        }
        case TrafficKind::traefik: {
            RouteGroup g;
            g.field = "spec.weighted.services";
            g.node = deref(t, t.get(deref(t, t.get(spec, "weighted")), "services"));
            const auto& list = items_of(t, g.node);
            for (std::size_t b = 0; b < list.size(); ++b) {
                std::size_t e = deref(t, list[b]);
                add_entry(t, g, e, t.get(e, "name"), g.field + "[" + std::to_string(b) + "]");
            }
            r.groups.push_back(std::move(g));
            break;
        }
        case TrafficKind::nginx: {
            std::size_t meta = deref(t, t.get(r.root, "metadata"));
            std::size_t ann = deref(t, t.get(meta, "annotations"));
            if (ann != npos && t.at(ann).kind == NodeKind::map) r.annotations = ann;
            r.nginx_canary = t.get_string(ann, kNginxCanary) == "true";
            // networking.k8s.io/v1: backend.service.name; extensions/v1beta1: backend.serviceName.
            auto add_backend = [&](std::size_t backend) {
                backend = deref(t, backend);
                std::string name = scalar_of(t, t.get(deref(t, t.get(backend, "service")), "name"));
                if (name.empty()) name = scalar_of(t, t.get(backend, "serviceName"));
                if (!name.empty()) r.services.push_back(name);
            };
            add_backend(t.get(spec, "defaultBackend"));
            add_backend(t.get(spec, "backend"));
            for (std::size_t rule : items_of(t, t.get(spec, "rules"))) {
                std::size_t http = deref(t, t.get(deref(t, rule), "http"));
                for (std::size_t p : items_of(t, t.get(http, "paths")))
                    add_backend(t.get(deref(t, p), "backend"));
            }
            break;
        }
    }
}

}  // namespace

const char* route_kind_name(TrafficKind kind) {
    switch (kind) {
        case TrafficKind::gateway_api: return "HTTPRoute";
        case TrafficKind::istio: return "VirtualService";
        case TrafficKind::nginx: return "Ingress";
        case TrafficKind::smi: return "TrafficSplit";
        case TrafficKind::traefik: return "TraefikService";
    }
    return "?";
}

std::size_t deref(const Tree& t, std::size_t i) {
    return i != npos && t.at(i).kind == NodeKind::alias ? t.anchors[t.at(i).alias_of].node : i;
}

std::vector<Route> find_routes(const Tree& t, TrafficKind kind, std::string_view resource) {
    std::vector<Route> out;
    for (const auto& d : t.docs) {
        if (d.root == npos || t.at(d.root).kind != NodeKind::map) continue;
        if (t.get_string(d.root, "kind") != route_kind_name(kind)) continue;
        Route r;
        r.root = d.root;
        r.name = t.get_string(deref(t, t.get(d.root, "metadata")), "name");
        if (!resource.empty() && r.name != resource) continue;
        collect_groups(t, r, kind);
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<const RouteEntry*> entries_for(const Route& route, const RouteGroup& group,
                                           std::string_view name) {
    std::vector<const RouteEntry*> out;
    bool by_subset = false;
    for (const auto& g : route.groups) {
        for (const auto& e : g.entries)
            by_subset = by_subset || (!e.subset.empty() && e.subset == name);
    }
    for (const auto& e : group.entries) {
        bool match;
        if (by_subset) {
            match = e.subset == name;
        } else if (!e.host.empty()) {
            match = host_is_service(e.host, name);
        } else {
            match = e.name == name;
        }
        if (match) out.push_back(&e);
    }
    return out;
}

bool nginx_answers_to(const Route& route, std::string_view name) {
    if (route.name == name) return true;
    for (const auto& s : route.services) {
        if (s == name) return true;
    }
    return false;
}

std::optional<int> parse_weight(std::string_view text) {
    if (text.empty() || text.size() > 7) return std::nullopt;
    int value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.front() == '-' ||
        text.front() == '+')
        return std::nullopt;
    if (value > 1000000) return std::nullopt;
    return value;
}

}  // namespace poetryops::manifest::detail

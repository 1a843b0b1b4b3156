#pragma once
// Traffic routes in a parsed text: which documents are routes of a kind, which backend entries they
// hold, and which of those answer to a requested backend name. Shared by set_weights (edit) and
// read_weights (read), so both see the same backends.

#include "manifest/detail/yaml_tree.hpp"

#include <poetryops/manifest/edit.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::manifest::detail {

/// One backend entry (a map) of a route.
struct RouteEntry {
    std::size_t map = npos;         ///< the entry
    std::size_t name_value = npos;  ///< the node naming it (an inserted weight follows its key)
    std::string field;              ///< e.g. "spec.rules[0].backendRefs[1]"
    /// What it answers to: Gateway API, SMI, Traefik: the name; Istio: subset and host.
    std::string name;
    std::string subset;  ///< Istio only
    std::string host;    ///< Istio only
};

/// Entries that share traffic by weight: a Gateway API rule's backendRefs, an Istio http route's
/// destinations, SMI's and Traefik's single list.
struct RouteGroup {
    std::size_t node = npos;  ///< the list
    std::string field;        ///< e.g. "spec.rules[0].backendRefs"
    std::vector<RouteEntry> entries;
};

/// One route document of the kind asked for.
struct Route {
    std::size_t root = npos;
    std::string name;  ///< metadata.name
    std::vector<RouteGroup> groups;
    // NGINX: the Ingress is the route and its canary-weight annotation the one weight.
    bool nginx_canary = false;          ///< nginx.ingress.kubernetes.io/canary: "true"
    std::vector<std::string> services;  ///< nginx: the Services its rules route to
    std::size_t annotations = npos;     ///< nginx: metadata.annotations (a map), if any
};

inline constexpr std::string_view kNginxCanary = "nginx.ingress.kubernetes.io/canary";
inline constexpr std::string_view kNginxCanaryWeight = "nginx.ingress.kubernetes.io/canary-weight";
inline constexpr std::string_view kNginxCanaryWeightTotal =
    "nginx.ingress.kubernetes.io/canary-weight-total";

/// The resource kind of a traffic kind: HTTPRoute, VirtualService, Ingress, TrafficSplit,
/// TraefikService.
const char* route_kind_name(TrafficKind kind);

/// Follows an alias to its anchored node.
std::size_t deref(const Tree& t, std::size_t i);

/// Every document of `kind` (named `resource`, when given), in text order.
std::vector<Route> find_routes(const Tree& t, TrafficKind kind, std::string_view resource);

/// The entries of `group` that answer to `name` in `route`. Istio: by subset when any destination
/// of the route has that subset, else by host (the Service name, or its in-cluster forms
/// name.namespace[.svc[.cluster.local]]).
std::vector<const RouteEntry*> entries_for(const Route& route, const RouteGroup& group,
                                           std::string_view name);

/// True when the NGINX canary Ingress routes to `name` (a Service its rules or default backend
/// name), or is itself named so.
bool nginx_answers_to(const Route& route, std::string_view name);

/// The scalar text of a weight as an integer 0..1000000 (digits only; quoted digits are accepted:
/// NGINX annotations are strings). nullopt otherwise.
std::optional<int> parse_weight(std::string_view text);

}  // namespace poetryops::manifest::detail

#pragma once
/// The kinds of edit the manifest module makes: which traffic-weight resource is edited
/// (TrafficKind). Declared once, here: the PoetryApp API uses this enum for canary.traffic.kind
/// (api/enums.hpp holds its wire spellings), so the editor and the API cannot drift apart.

#include <array>
#include <string_view>

namespace poetryops::manifest {

/// Traffic-weight resources.
enum class TrafficKind {
    gateway_api,  ///< HTTPRoute spec.rules[].backendRefs[] (by name)
    istio,  ///< VirtualService spec.http[].route[] (by destination.subset, else destination.host)
    nginx,  ///< Ingress with canary: "true": nginx.ingress.kubernetes.io/canary-weight (by Ingress
            ///< name)
    smi,    ///< TrafficSplit spec.backends[] (by service)
    traefik,  ///< TraefikService spec.weighted.services[] (by name)
};

/// The spellings of TrafficKind, in declaration order: `manifest set-weights --kind` and the
/// PoetryApp's canary.traffic.kind.
inline constexpr std::array<std::string_view, 5> kTrafficKindNames{"gateway-api", "istio", "nginx",
                                                                   "smi", "traefik"};

}  // namespace poetryops::manifest

#pragma once
/// The kinds of edit the manifest module makes: where an image is set (Kind) and which
/// traffic-weight resource is edited (TrafficKind). They are declared once, here: the PoetryApp API
/// uses these enums for spec.environments[].update.kind and canary.traffic.kind (api/enums.hpp
/// holds its wire spellings), so the editor and the API cannot drift apart.

#include <array>
#include <string_view>

namespace poetryops::manifest {

/// Where a set-image request is applied. The PoetryApp's update.kind is one of kustomize, helm and
/// manifest (= yaml); auto_detect and marker are for the CLI.
enum class Kind {
    auto_detect,  ///< kustomization documents → kustomize; workload documents → yaml; markers
                  ///< always; Helm values when the file holds no Kubernetes objects and its
                  ///< repository path names the image
    kustomize,    ///< `images:` entries of a Kustomization (an entry, and `images:`, are added when
                  ///< missing)
    helm,         ///< dotted paths in a Helm values file
    yaml,         ///< containers[].image / initContainers[].image of workloads
    manifest = yaml,  ///< the PoetryApp's name for yaml (`update.kind: manifest`)
    marker,           ///< lines marked `# poetryops: APP[:ENV][:tag|:name|:digest]` or Flux
                      ///< `{"$imagepolicy": ...}`
};

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

#pragma once
/// Reading back what a manifest pins for an image: the other half of set_image(), so the promotion
/// engine can tell its own pin from a human edit. Pure: text in, value out.

#include <poetryops/manifest/edit.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::manifest {

/// The image a file pins for a request's image name.
struct PinnedImage {
    std::string image;  ///< the full reference as it would be pulled, e.g. "reg/app:1.4.2@sha256:…"
    std::string tag;    ///< "" when pinned by digest only
    std::string digest;  ///< "" when pinned by tag only
    int line = 0;        ///< 1-based line of the (first) scalar that holds it
};

/// Finds what `text` pins for `request.name`, read the same way set_image() with `kind` would edit
/// it: kustomize `images:` entries (newName/newTag/digest over the name), Helm values at the
/// request's paths (a tag value holding "tag@sha256:…" is split), or the first matching container
/// image of a workload (Kind::yaml; only of the workload named `request.workload` when set).
/// Kind::auto_detect tries kustomize, then workloads, then Helm values. nullopt when nothing names
/// the image. Errors: decode for invalid YAML (with the line), invalid past the size limit or for a
/// workload with a kind other than yaml.
Result<std::optional<PinnedImage>> find_pinned_image(std::string_view text,
                                                     const SetImageRequest& request,
                                                     Kind kind = Kind::auto_detect,
                                                     const Limits& limits = {});

/// The current weights of `backends` in the route of `kind` named `resource` (empty: the one route
/// of that kind that names any of the backends), in the order of `backends`: what set_weights()
/// would change. nullopt when the text holds no such route. A backend answers to:
/// - Gateway API HTTPRoute: a backendRef of kind Service (the default) with that `name`;
/// - Istio VirtualService: a destination with that `subset` when any destination of the route has
///   it, else with that `host` (also as name.namespace[.svc[.cluster.local]]);
/// - SMI TrafficSplit: a backend with that `service`; Traefik TraefikService: a weighted service
///   with that `name`;
/// - NGINX: the canary Ingress (annotation nginx.ingress.kubernetes.io/canary: "true") routing to
///   that Service (or so named) has its canary-weight; every other backend reads as
///   canary-weight-total (default 100) minus it.
/// Weights are read from the groups that list every backend (rules, http routes, the list); a
/// missing or null `weight:` reads as the kind's default (Gateway API 1, Istio 100 for a sole
/// destination else 0, SMI 0, Traefik 1, NGINX canary-weight 0).
///
/// Errors, each naming the line: two routes of that name ("Ambiguous"), a backend that is not in
/// the route or no group listing all of them ("MissingBackend"), a weight that is not an integer
/// 0..1000000 ("InvalidWeight"), groups that split differently ("InconsistentWeights"), an NGINX
/// route that is not a canary Ingress ("NotCanary"); invalid YAML.
Result<std::optional<std::vector<BackendWeight>>> read_weights(
    std::string_view text, TrafficKind kind, const std::vector<std::string>& backends,
    std::string_view resource = {}, const Limits& limits = {});

}  // namespace poetryops::manifest

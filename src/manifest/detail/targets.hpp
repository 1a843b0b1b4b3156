#pragma once
// The edit targets of set_image, each applied to one Session.

#include "manifest/detail/session.hpp"

#include <poetryops/manifest/edit.hpp>
#include <poetryops/manifest/image_ref.hpp>

namespace poetryops::manifest::detail {

/// True when `name` (an image name as written in a file) is the request's image or its new name.
bool names_request(const SetImageRequest& req, std::string_view name);
/// The full reference a field holding `current` should get.
std::string compose_ref(const ImageRef& current, const SetImageRequest& req);
/// True when document root `root` is a Kustomization (or Component).
bool is_kustomization(const Tree& tree, std::size_t root);
/// True when document root `root` looks like a Kubernetes object (apiVersion and kind).
bool is_k8s_object(const Tree& tree, std::size_t root);

/// Refuses a request naming a workload for any kind but yaml ("InvalidRequest").
Result<void> check_workload(const SetImageRequest& req, Kind kind);
/// Where the pod spec lives in a workload of `kind` ("spec.template.spec"), or nullptr for a kind
/// that runs no containers.
const char* pod_spec_path(std::string_view kind);

/// Kustomize `images:` entries; adds the entry (and `images:`) when missing.
Result<void> apply_kustomize(Session& s, const SetImageRequest& req);
/// Helm values paths. `require_repository`: only when the repository path names the image (auto
/// mode).
Result<void> apply_helm(Session& s, const SetImageRequest& req, bool require_repository);
/// containers[].image / initContainers[].image of workloads in every document (only of the one
/// named req.workload when set).
Result<void> apply_workloads(Session& s, const SetImageRequest& req);
/// `# poetryops:` and Flux `$imagepolicy` marker comments.
Result<void> apply_markers(Session& s, const SetImageRequest& req);

}  // namespace poetryops::manifest::detail

#pragma once
/// The PoetryApp resource as the Kubernetes client addresses it. Its home is here, where the API
/// types meet the Kubernetes client: `kube` knows no PoetryApp, and `api` knows no Kubernetes
/// client.
///
///   client.get(controller::poetryapps().in("team-a").named("billing"));

#include <poetryops/api/poetryapp.hpp>
#include <poetryops/api/poetryapproval.hpp>
#include <poetryops/kube/resource.hpp>

#include <string>

namespace poetryops::controller {

/// poetryops.io/v1alpha1 poetryapps (namespaced, with a status subresource).
inline kube::ResourceRef poetryapps() {
    return {std::string(api::kGroup), std::string(api::kVersion), std::string(api::kPlural)};
}

/// poetryops.io/v1alpha1 poetryapprovals (namespaced, no status subresource).
inline kube::ResourceRef poetryapprovals() {
    return {std::string(api::kGroup), std::string(api::kVersion),
            std::string(api::kApprovalPlural)};
}

}  // namespace poetryops::controller

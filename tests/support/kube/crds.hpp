#pragma once
/// Installing CustomResourceDefinitions on the real Kubernetes lane: ours (crds/) and the
/// third-party ones the health gates and canaries read (Argo CD Application, Flux Kustomization,
/// Gateway API; ../shared/k8s/crds).

#include <poetryops/kube/client.hpp>
#include <poetryops/util/result.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace poetryops::test::kube {

/// Server-side applies every CustomResourceDefinition in the YAML files (field manager
/// "poetryops-tests", forced) and waits until each is Established. Returns the CRD names. Fails
/// with the API server's own words (a refused schema or CEL rule) and the file.
Result<std::vector<std::string>> apply_crds(
    poetryops::kube::KubeClient& client, const std::vector<std::filesystem::path>& files,
    std::chrono::seconds timeout = std::chrono::seconds(30));

/// Every *.yaml in a folder, sorted.
std::vector<std::filesystem::path> yaml_files(const std::filesystem::path& dir);

/// The folder of third-party CRDs: POETRYOPS_SHARED_K8S_CRDS, else `source_dir`/../shared/k8s/crds.
/// Empty when absent.
std::filesystem::path shared_crds_dir(const std::filesystem::path& source_dir);

}  // namespace poetryops::test::kube

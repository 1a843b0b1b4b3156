#pragma once
/// Helm 3 for the chart tests: the binary comes from helm.xz in POETRYOPS_K8S_BIN_DIR or
/// `source_dir`/../shared/k8s/bin (a plain `helm` there works too) and is unpacked with xz once per
/// build tree (build/helm-bin). Each run gets Helm homes of its own (cache, config, data), so
/// nothing is read from or written to the user's. Where there is no helm the tests skip with one
/// line (reason "Skip"), unless POETRYOPS_REQUIRE_KUBE_LANE=1 (CI), where that is a failure.

#include <poetryops/util/result.hpp>
#include <poetryops/util/subprocess.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace poetryops::test::helm {

/// The unpacked helm binary; fails with reason "Skip" (message: why and how to enable) when there
/// is none and the lane is not required.
Result<std::filesystem::path> binary();

/// Runs `helm ARGS…` (with --kubeconfig when given). Fails only when helm cannot be started.
Result<ProcessResult> run(const std::vector<std::string>& args,
                          const std::filesystem::path& kubeconfig = {});

/// The chart under test: `source_dir`/charts/poetryops.
std::filesystem::path chart_dir();

/// The releases of the chart one test installs on a cluster: each one that installed is
/// uninstalled (`helm uninstall`) when this goes away, a failure to do so is a test failure.
class Releases {
public:
    explicit Releases(std::filesystem::path kubeconfig) : kubeconfig_(std::move(kubeconfig)) {}
    Releases(const Releases&) = delete;
    Releases& operator=(const Releases&) = delete;
    ~Releases() { uninstall(); }

    /// Uninstalls every release installed so far, newest first (before their namespaces go).
    void uninstall();

    /// `helm install RELEASE charts/poetryops --namespace NS --set S… EXTRA…`. Fails only when
    /// helm cannot be started; Helm's refusal is in the result.
    Result<ProcessResult> install(const std::string& release, const std::string& ns,
                                  const std::vector<std::string>& sets,
                                  const std::vector<std::string>& extra = {});

private:
    std::filesystem::path kubeconfig_;
    std::vector<std::pair<std::string, std::string>> installed_;  // release, namespace
};

/// `helm template RELEASE CHART --namespace NS ARGS…`, its documents as JSON objects (empty
/// documents dropped). Fails with Helm's stderr when it refuses.
Result<std::vector<nlohmann::json>> render(const std::vector<std::string>& args = {},
                                           const std::string& release = "poetryops",
                                           const std::string& ns = "poetryops-system");

/// The objects of that kind (and name, when given).
std::vector<nlohmann::json> objects(const std::vector<nlohmann::json>& all, const std::string& kind,
                                    const std::string& name = {});

/// One permission: API group ("" for core), resource (with "/subresource"), verb.
struct Permission {
    std::string group, resource, verb;
    auto operator<=>(const Permission&) const = default;
    std::string str() const;
};

/// Every (group, resource, verb) the RBAC rules grant (resourceNames ignored).
std::vector<Permission> permissions(const nlohmann::json& rules);

/// docs/operations.md's "### Permissions it needs" table, flattened (the rows a ServiceAccount of
/// the controller needs; tests/controller runs the controller under exactly these).
std::vector<Permission> documented_permissions();

}  // namespace poetryops::test::helm

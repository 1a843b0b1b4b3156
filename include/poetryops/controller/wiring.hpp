#pragma once
/// The one place the engine's ports are built, for both runtimes. In the cluster (`kube` set)
/// credentials come from Secrets in the app's namespace and health gates read objects through the
/// Kubernetes API; in local mode (`poetryops run`, the demo) the git credentials are the command
/// line's, the images come from an OCI layout or the registries the specs name, and there is no
/// health source. Everything else — the clone cache, the committers, the registry clients and
/// their tag cache — is the same code.

#include <poetryops/controller/analysis_port.hpp>
#include <poetryops/controller/artifact_port.hpp>
#include <poetryops/controller/git_port.hpp>
#include <poetryops/controller/kube_approvals.hpp>
#include <poetryops/controller/kube_builds.hpp>
#include <poetryops/controller/kube_ports.hpp>
#include <poetryops/controller/kube_traffic.hpp>
#include <poetryops/controller/local_builds.hpp>
#include <poetryops/controller/source_port.hpp>
#include <poetryops/git/remote.hpp>
#include <poetryops/registry/client.hpp>
#include <poetryops/util/clock.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

namespace poetryops::controller {

struct PortsOptions {
    std::filesystem::path cache_dir;  ///< git clones and files written from Secrets ("secrets/")
    std::string git_subdir = "git";   ///< the clone cache under cache_dir
    registry::RegistryClientOptions registry;  ///< per-host settings (plain HTTP, CAs)
    git::CommitterOptions committer;
    const Clock* clock = nullptr;  ///< nullptr: the system clock
    /// Cluster: credentials from Secrets, health objects from the API. Null: local mode.
    kube::KubeClient* kube = nullptr;
    KubeHealthOptions health;  ///< cluster: how health gate objects are read and watched
    /// Cluster: how PoetryApprovals are watched and whose identity is trusted (kube_approvals.hpp).
    KubeApprovalOptions approvals;
    /// Cluster: canary routes in another namespace than the PoetryApp's may be read and patched
    /// (`--allow-cross-namespace-routes`); false refuses them (KubeTrafficPort).
    bool allow_cross_namespace_routes = false;
    /// Local mode: credentials, CA and timeouts applied to every spec.gitops.repoURL.
    git::Remote git;
    /// Local mode: an OCI image layout root (one layout per repository path) instead of the
    /// registries named by spec.image.repository.
    std::filesystem::path layout_dir;
    /// Local mode: run builds here with buildah (spec.build); nullopt: builds are not run.
    std::optional<LocalBuildOptions> local_builds;
    /// Cluster: run builds as Jobs (spec.build); nullopt: builds are not run.
    std::optional<KubeBuildOptions> cluster_builds;
    /// Canary analysis rounds come from here instead of Prometheus (not owned; it must outlive the
    /// Ports): the demo's scripted metrics. Null: PrometheusAnalysisPort.
    AnalysisPort* analysis = nullptr;
};

/// The ports of one engine and what they share. Thread safety: the ports are thread-safe.
class Ports {
public:
    GitRepoPort& gitops() { return *gitops_; }
    RegistryArtifactPort& artifacts() { return *artifacts_; }
    /// Null in local mode (only the `none` health gate passes there). In the cluster it watches the
    /// collections it is asked for; Engine::create routes their changes to health_change triggers.
    HealthPort* health() { return health_.get(); }
    /// Null in local mode (the approve annotation only). In the cluster: PoetryApprovals, whose
    /// changes Engine::create routes to approval_change triggers.
    ApprovalPort* approvals() { return approvals_.get(); }
    /// spec.source (both runtimes).
    GitSourcePort* source() { return source_.get(); }
    /// Where builds run: buildah threads (local mode) or Jobs (cluster); null when builds are off.
    BuildPort* builder() { return builder_.get(); }
    /// Canary analysis rounds over Prometheus (Secrets from the API in the cluster; none locally).
    AnalysisPort& analysis() { return *analysis_in_use_; }
    /// The live routes of `canary.mode: cluster` canaries; null in local mode.
    TrafficPort* traffic() { return traffic_.get(); }

private:
    friend Result<std::unique_ptr<Ports>> make_ports(PortsOptions options);
    Ports() = default;
    /// The registry for an app: one client per image Secret version in the cluster (tokens and
    /// connections reused; a rotated Secret gets a fresh client), one shared client in local mode.
    Result<std::shared_ptr<registry::Registry>> registry_for(const api::PoetryApp& app);

    PortsOptions options_;
    std::unique_ptr<SecretCredentials> credentials_;  // cluster only
    std::unique_ptr<git::RepoCache> cache_;
    std::unique_ptr<GitRepoPort> gitops_;
    std::unique_ptr<RegistryArtifactPort> artifacts_;
    std::unique_ptr<HealthPort> health_;
    std::unique_ptr<ApprovalPort> approvals_;  // cluster only
    std::unique_ptr<GitSourcePort> source_;
    std::unique_ptr<AnalysisPort> analysis_;   // Prometheus, unless PortsOptions::analysis
    AnalysisPort* analysis_in_use_ = nullptr;  // analysis_ or PortsOptions::analysis
    std::unique_ptr<TrafficPort> traffic_;     // cluster only
    std::unique_ptr<BuildPort> builder_;       // destroyed first: its threads use source_
    std::shared_ptr<registry::Registry> shared_registry_;  // local mode
    std::mutex registries_mu_;
    std::map<std::string, std::shared_ptr<registry::Registry>> registries_;  // by secret@version
};

/// Builds the ports. Errors name the directory or flag at fault.
Result<std::unique_ptr<Ports>> make_ports(PortsOptions options);

}  // namespace poetryops::controller

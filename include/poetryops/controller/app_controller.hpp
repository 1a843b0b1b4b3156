#pragma once
/// `poetryops controller` as an object: kube config → REST client → Manager (informers on
/// poetryapps, one per namespace or one for all, leader election, /healthz /readyz /metrics) → the
/// AppReconciler. The CLI only parses flags and calls this; tests and the benchmark run it
/// in-process against the fake API server.

#include <poetryops/controller/admission.hpp>
#include <poetryops/controller/app_reconciler.hpp>
#include <poetryops/controller/engine.hpp>
#include <poetryops/controller/kube_builds.hpp>
#include <poetryops/kube/client.hpp>
#include <poetryops/runtime/manager.hpp>
#include <poetryops/util/result.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace poetryops::controller {

/// The promotion engine in the cluster (`poetryops controller` flags): ports backed by Secrets and
/// the Kubernetes API (make_ports with a client), and the registry webhook receiver.
struct ClusterPromotionOptions {
    std::filesystem::path cache_dir;  ///< git clones and files written from Secrets
    /// Per-host settings (plain HTTP, CAs); credentials come from Secrets.
    registry::RegistryClientOptions registry;
    git::CommitterOptions committer;
    std::string webhook_address;      ///< "host:port" or ":port"; empty: no webhook receiver
    registry::WebhookConfig webhook;  ///< bearer token or HMAC secret for the receiver
    git::SourceWebhookConfig source_webhook;  ///< POST /webhooks/source: the forges' secret
    /// --allow-cross-namespace-routes: canaries may steer routes outside their PoetryApp's
    /// namespace (`canary.traffic.namespace`); refused by default (SECURITY.md).
    bool allow_cross_namespace_routes = false;
    /// Builds of apps with spec.build, as Jobs (kube_builds.hpp); its namespaces are the
    /// controller's. nullopt: such apps are not built (`--no-builds`).
    std::optional<KubeBuildOptions> builds = KubeBuildOptions{};
};

struct AppControllerConfig {
    std::string kubeconfig;  ///< --kubeconfig; empty: $KUBECONFIG, in-cluster, ~/.kube/config
    std::string context;     ///< --context
    std::vector<std::string> namespaces;  ///< --namespace (repeatable); empty: all namespaces
    /// --selector: only PoetryApps whose labels match this label selector (sharding across
    /// several controllers); empty: every PoetryApp
    std::string label_selector;
    bool leader_elect = false;              ///< --leader-elect
    std::string leader_election_namespace;  ///< empty: the kubeconfig context's / service account's
                                            ///< namespace
    /// --leader-pod NAMESPACE/NAME: this replica's Pod, labelled poetryops.io/leader=true while it
    /// leads (a Service selecting the label reaches the leader only); needs leader_elect
    std::string leader_pod;
    std::string metrics_bind_address = ":8080";       ///< "0" disables
    std::string health_probe_bind_address = ":8081";  ///< "0" disables
    int max_concurrent_reconciles = 4;
    std::chrono::milliseconds resync{
        std::chrono::minutes(10)};  ///< periodic re-validation of every app
    /// The promotion engine. nullopt: validation and status only.
    std::optional<ClusterPromotionOptions> promotion;
    /// The PoetryApproval admission webhook (--admission-bind-address): served by every replica,
    /// and the approvals port then trusts spec.approver/spec.groups (source webhook). Set it only
    /// where a MutatingWebhookConfiguration with failurePolicy Fail sends every CREATE of a
    /// PoetryApproval here (the chart's admission.enabled). nullopt: no webhook; identities are the
    /// weak managedFields ones.
    std::optional<AdmissionOptions> admission;
};

/// Thread safety: stop() from any thread (e.g. the signal thread); the rest from the owning thread.
class AppController {
public:
    /// Loads the kube config and builds everything; binds nothing yet. Errors name the flag or file
    /// at fault.
    static Result<std::unique_ptr<AppController>> create(const AppControllerConfig& config);
    /// Same, with an existing client (tests, the benchmark).
    static Result<std::unique_ptr<AppController>> create(const AppControllerConfig& config,
                                                         std::unique_ptr<kube::KubeClient> client,
                                                         std::string default_namespace = "default");
    ~AppController();

    /// Binds the endpoints and starts informers and (once leading and synced) the workers.
    Result<void> start();
    /// Blocks until stop(); returns 0 after a clean stop.
    int run();
    /// Graceful: in-flight reconciles finish, the lease is released, informers stop.
    void stop();

    runtime::Manager& manager() { return *manager_; }
    AppReconciler& reconciler() { return *reconciler_; }
    Engine& engine() { return *engine_; }
    /// The PoetryApp informers (one per --namespace, or one for all namespaces).
    const std::vector<runtime::Informer*>& informers() const { return informers_; }
    /// Reconciles finished so far across the controller's workers.
    std::uint64_t reconciles() const;
    /// The admission webhook's port; 0 when it is not served.
    std::uint16_t admission_port() const { return admission_ ? admission_->port() : 0; }

private:
    AppController() = default;
    // outlives client_, which reports into it
    std::unique_ptr<metrics::MetricsRegistry> client_metrics_;
    std::unique_ptr<kube::KubeClient> client_;
    std::unique_ptr<runtime::Manager> manager_;
    std::vector<runtime::Informer*> informers_;
    // the one reconcile, called by reconciler_; outlives the workers
    std::unique_ptr<Engine> engine_;
    std::unique_ptr<AppReconciler> reconciler_;
    runtime::Controller* controller_ = nullptr;
    std::optional<AdmissionOptions> admission_options_;
    std::unique_ptr<AdmissionServer> admission_;
};

}  // namespace poetryops::controller

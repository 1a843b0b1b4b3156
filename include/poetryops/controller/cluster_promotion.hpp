#pragma once
/// The promotion engine in the cluster: the PromotionReconciler with Kubernetes-backed ports
/// (Secrets for credentials, health objects through the API), plugged into AppReconciler as its
/// ValidAppHook, plus the registry webhook receiver that wakes the apps of a pushed repository at
/// once (polling at the policy's interval is the fallback).

#include <poetryops/controller/artifact_port.hpp>
#include <poetryops/controller/git_port.hpp>
#include <poetryops/controller/kube_ports.hpp>
#include <poetryops/controller/promotion.hpp>
#include <poetryops/kube/events.hpp>
#include <poetryops/registry/client.hpp>
#include <poetryops/registry/webhook.hpp>
#include <poetryops/runtime/controller.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

namespace poetryops::controller::detail {
class WebhookListener;
}

namespace poetryops::controller {

struct ClusterPromotionOptions {
    std::filesystem::path cache_dir;  ///< git clones and files written from Secrets
    /// per-host settings (plain HTTP, CAs); credentials come from Secrets
    registry::RegistryClientOptions registry;
    git::CommitterOptions committer;
    std::string webhook_address;      ///< "host:port" or ":port"; empty: no webhook receiver
    registry::WebhookConfig webhook;  ///< bearer token or HMAC secret for the receiver
};

/// Thread safety: on_valid() runs on several controller workers at once (never twice for one app).
class ClusterPromotion {
public:
    static Result<std::unique_ptr<ClusterPromotion>> create(kube::KubeClient& client,
                                                            kube::EventRecorder* events,
                                                            const Clock& clock,
                                                            ClusterPromotionOptions options);
    ~ClusterPromotion();

    /// AppReconciler's ValidAppHook: observes, plans and commits, replaces `status` with the
    /// result, records events. A dependency failure (registry or git down) sets Degraded=True in
    /// `status` and asks for a rate-limited requeue (exponential per-item backoff), so the
    /// condition is written and the app is retried.
    Result<runtime::ReconcileResult> on_valid(const api::PoetryApp& app,
                                              api::PoetryAppStatus& status);

    /// Starts the webhook receiver (POST /webhooks/registry). For each push, the cached tag list of
    /// the repository is dropped and `wake` is called with "registry/repository" so the caller can
    /// enqueue the apps that use it.
    Result<void> start_webhooks(std::function<void(const std::string& repository)> wake);
    std::uint16_t webhook_port() const;
    void stop();

private:
    ClusterPromotion() = default;
    Result<std::shared_ptr<registry::Registry>> registry_for(const api::PoetryApp& app);

    kube::EventRecorder* events_ = nullptr;
    const Clock* clock_ = nullptr;
    ClusterPromotionOptions options_;
    std::unique_ptr<SecretCredentials> credentials_;
    std::unique_ptr<git::RepoCache> cache_;
    std::unique_ptr<GitRepoPort> gitops_;
    std::unique_ptr<RegistryArtifactPort> artifacts_;
    std::unique_ptr<KubeHealthPort> health_;
    std::unique_ptr<PromotionReconciler> reconciler_;
    std::mutex registries_mu_;
    // by secret ns/name@resourceVersion
    std::map<std::string, std::shared_ptr<registry::Registry>> registries_;
    std::unique_ptr<detail::WebhookListener> webhooks_;
};

}  // namespace poetryops::controller

#pragma once
/// ApprovalPort in the cluster: PoetryApprovals (crds/poetryops.io_poetryapprovals.yaml) listed
/// and watched by an informer per watched namespace (all namespaces when the controller watches
/// all), indexed by the app they name; a created, changed or deleted approval calls on_change
/// with its app's key, so the app is reconciled at once.
///
/// Identity: with `webhook_stamps` (the controller serves the admission webhook and the chart
/// registers it with failurePolicy Fail) spec.approver and spec.groups were stamped by the API
/// server's userInfo and are trusted (source `webhook`). Without it they could have been written
/// by anyone: they are ignored, and the approver is the field manager that created the object
/// (metadata.managedFields; source `managedFields`, a weak identity the status says is one).
///
/// The CRD not installed (404) means there are no approvals: the port answers empty and tries to
/// list again after `retry`. Listing refused (RBAC) or the API server down is an error: the
/// reconcile then promotes nothing into any environment (a rejection must not be missed).
/// Thread safety: safe.

#include <poetryops/controller/ports.hpp>
#include <poetryops/kube/client.hpp>
#include <poetryops/util/clock.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace poetryops::runtime {
class Informer;
}

namespace poetryops::controller {

struct KubeApprovalOptions {
    std::vector<std::string> namespaces;  ///< the controller's --namespace list; empty: all
    /// The admission webhook stamps spec.approver/groups: trust them. AppController sets it when
    /// it serves that webhook (`--admission-bind-address`, which the chart passes together with
    /// the MutatingWebhookConfiguration, failurePolicy Fail); otherwise every identity is the
    /// weak managedFields one. An approval without spec.approver (created before the webhook was
    /// registered) falls back to managedFields either way.
    bool webhook_stamps = false;
    /// How long the first read waits for the informer's cache.
    std::chrono::milliseconds sync_timeout{std::chrono::seconds(30)};
    /// How long before listing again a collection whose CRD was not installed.
    std::chrono::milliseconds retry{std::chrono::minutes(1)};
};

class KubeApprovalPort final : public ApprovalPort {
public:
    KubeApprovalPort(kube::KubeClient& client, KubeApprovalOptions options,
                     const Clock& clock = SystemClock::instance());
    ~KubeApprovalPort() override;  ///< stops the informers
    Result<ByEnvironment> approvals(const api::PoetryApp& app) override;
    void on_change(std::function<void(const std::string& app_key)> fn) override;

private:
    /// Starts the informers on first use (or after `retry` when the CRD was absent); false when
    /// the CRD is not installed.
    Result<bool> ensure_started();
    void changed(const nlohmann::json& approval);

    kube::KubeClient& client_;
    KubeApprovalOptions options_;
    const Clock& clock_;
    std::mutex mu_;        // on_change_
    std::mutex start_mu_;  // informers_, started_, absent_since_
    std::function<void(const std::string&)> on_change_;
    std::vector<std::unique_ptr<runtime::Informer>> informers_;
    bool started_ = false;
    std::optional<Clock::time_point> absent_since_;
};

}  // namespace poetryops::controller

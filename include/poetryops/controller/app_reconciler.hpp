#pragma once
/// The cluster runtime's reconciler, run by `poetryops controller`: for a workqueue key it takes
/// the PoetryApp from the informer's cache, decodes and validates it, runs the Engine's one
/// reconcile (engine.hpp) and writes the status it decided — only when it changed, through the
/// status subresource with optimistic concurrency. An invalid spec also gets a Warning Event
/// (emitted only when the condition changes); the engine's promotion events become Events on the
/// object.
///
/// Seams: a KubeClient (RestClient in the binary, the API server in tests), a cache lookup (the
/// informer's), a Clock, the Engine, and an optional EventRecorder and MetricsRegistry.

#include <poetryops/api/poetryapp.hpp>
#include <poetryops/api/validation.hpp>
#include <poetryops/controller/engine.hpp>
#include <poetryops/kube/client.hpp>
#include <poetryops/runtime/controller.hpp>
#include <poetryops/util/clock.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace poetryops::kube {
class EventRecorder;
}  // namespace poetryops::kube
namespace poetryops::metrics {
class MetricsRegistry;
}  // namespace poetryops::metrics

namespace poetryops::controller {

/// The status a PoetryApp object should have after validation, computed without I/O.
struct StatusDecision {
    api::PoetryApp app;  ///< decoded (defaults applied; durations parsed when valid)
    std::vector<api::FieldError> errors;  ///< empty when the spec is valid
    /// desired status (the stored one with Ready/observedGeneration/summary set)
    api::PoetryAppStatus status;
    bool changed = false;        ///< desired status differs from the stored one
    bool ready_changed = false;  ///< the Ready condition itself changed (status, reason or message)
};

/// Validates `object` and computes its desired status at time `now` (the validation half of
/// Engine::reconcile). Other conditions and the promotion fields of the stored status are kept.
StatusDecision decide_status(const nlohmann::json& object,
                             std::chrono::system_clock::time_point now);

struct AppReconcilerOptions {
    kube::EventRecorder* events = nullptr;        ///< null: no Events
    metrics::MetricsRegistry* metrics = nullptr;  ///< null: no metrics
    /// The one reconcile; null: validation and status only (an engine without ports).
    Engine* engine = nullptr;
};

/// Thread safety: reconcile() may run concurrently for different keys (the controller never runs
/// one key twice).
class AppReconciler final : public runtime::Reconciler {
public:
    /// The current object for a key ("ns/name"), null when it no longer exists (usually
    /// Informer::get).
    using Lookup = std::function<std::shared_ptr<const nlohmann::json>(const std::string& key)>;

    AppReconciler(kube::KubeClient& client, Lookup lookup, const Clock& clock,
                  AppReconcilerOptions options = {});

    /// Validates the app and writes its status when it changed. A 409 on the status write asks for
    /// a rate-limited requeue (the next attempt recomputes from the newer object, so no status is
    /// lost); other API errors are returned as retryable errors.
    Result<runtime::ReconcileResult> reconcile(const std::string& key) override;

    /// Status writes that succeeded / hit a 409.
    std::uint64_t status_writes() const { return status_writes_.load(); }
    std::uint64_t conflicts() const { return conflicts_.load(); }

private:
    kube::KubeClient& client_;
    Lookup lookup_;
    const Clock& clock_;
    AppReconcilerOptions options_;
    std::atomic<std::uint64_t> status_writes_{0};
    std::atomic<std::uint64_t> conflicts_{0};
};

/// Declares the reconciler's metrics (poetryops_status_writes_total{result},
/// poetryops_invalid_specs_total, poetryops_app_condition{app,condition}).
void describe_metrics(metrics::MetricsRegistry& metrics);

}  // namespace poetryops::controller

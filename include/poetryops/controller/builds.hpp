#pragma once
/// The build half of the one reconcile (engine.hpp): from a PoetryApp with spec.build, observe the
/// source (SourcePort), the app's builds (BuildPort) and the registry (ArtifactPort), let the pure
/// build::plan decide, and act: start or cancel builds, resolve tags, verify what a builder pushed.
/// A verified build is a tag in the registry, which the promotion half then promotes into the
/// first environment like any other image. Never waits for a build: a build's change fires the
/// `build_done` trigger and the next reconcile reads it.

#include <poetryops/controller/ports.hpp>
#include <poetryops/promote/plan.hpp>
#include <poetryops/util/clock.hpp>
#include <poetryops/util/metrics.hpp>

#include <chrono>
#include <optional>
#include <vector>

namespace poetryops::controller {

struct BuildOutcome {
    api::PoetryAppStatus status;  ///< status.builds, status.building, the Built condition
    std::vector<promote::Event> events;
    /// Ready as the build sees it (a failed newest build); fold it in after the promotion planner
    /// with build::fold_ready.
    std::optional<api::Condition> ready;
    std::optional<std::chrono::milliseconds> requeue_after;
    std::optional<Error> error;  ///< the source, the registry or the builder failed: retry
};

/// Thread safety: reconcile() runs concurrently for different apps.
class BuildReconciler {
public:
    /// `metrics` (may be null) gets poetryops_builds_total{result} and
    /// poetryops_build_duration_seconds{result}: one count per build that reaches an end
    /// (succeeded, failed, cancelled) in the status this reconcile writes.
    BuildReconciler(SourcePort& source, BuildPort& builds, ArtifactPort& artifacts,
                    const Clock& clock, metrics::MetricsRegistry* metrics = nullptr);
    /// Nothing (the status as it is) without spec.build and spec.source.
    BuildOutcome reconcile(const api::PoetryApp& app);

private:
    SourcePort& source_;
    BuildPort& builds_;
    ArtifactPort& artifacts_;
    const Clock& clock_;
    metrics::MetricsRegistry* metrics_;
};

}  // namespace poetryops::controller

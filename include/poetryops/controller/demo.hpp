#pragma once
/// `poetryops demo`: a self-contained run of local mode on embedded defaults. It creates a bare
/// GitOps repo with dev/staging kustomize overlays and a prod folder for canaries (a stable and a
/// canary Deployment, their Services, an HTTPRoute), an OCI image-layout registry receiving
/// successive versions of a sample app, and a PoetryApp; then walks a scripted timeline
/// (promotions, a soak on a simulated clock, an approval, a human edit that becomes a hold and its
/// release, a canary that completes, a rollback, a canary that aborts by itself) and prints what
/// went where and why, and the GitOps log. The canaries' metrics are scripted inside the demo
/// (injected through LocalOptions::analysis) and judged by the real threshold judge; no
/// Prometheus is queried.

#include <poetryops/util/result.hpp>

#include <filesystem>
#include <ostream>

namespace poetryops::controller {

struct DemoOptions {
    /// Where to create the repos; empty: a temporary directory removed at the end. When given,
    /// everything stays there for inspection (`git -C DIR/gitops.git log`,
    /// DIR/state/status/*.json).
    std::filesystem::path workdir;
};

/// Runs the demo, printing the timeline to `out`. Starts no process that outlives it.
Result<void> run_demo(const DemoOptions& options, std::ostream& out);

}  // namespace poetryops::controller

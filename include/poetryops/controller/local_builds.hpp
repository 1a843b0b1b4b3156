#pragma once
/// BuildPort on this machine (local mode): each build runs buildah (build::buildah_build) on its
/// own thread, from the project exported at the commit, and pushes to the registry that
/// spec.image.repository names or into the OCI layout local mode reads. In the cluster the same
/// build is a Job (build/job.hpp).
///
/// Builds live in memory: after a restart a build that was running is gone, the planner fails it
/// ("the Job disappeared") and the next commit builds.

#include <poetryops/build/buildah.hpp>
#include <poetryops/controller/ports.hpp>
#include <poetryops/dockerfile/generator.hpp>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace poetryops::controller {

/// Writes the project of `app` at `commit` under `dest`; returns the project folder inside it.
using ProjectExporter = std::function<Result<std::filesystem::path>(
    const api::PoetryApp& app, const std::string& commit, const std::filesystem::path& dest)>;

struct LocalBuildOptions {
    build::BuildahOptions buildah;
    /// Build contexts (one folder per build, removed after); empty: $TMPDIR.
    std::filesystem::path work_dir;
    std::filesystem::path layout_dir;  ///< set: push into this OCI layout root (DIR/<repository>)
    std::set<std::string> plain_http;  ///< registry hosts reached over plain HTTP
    std::filesystem::path authfile;    ///< registry credentials (docker config.json); empty: none
    /// Base images and Poetry for generated Dockerfiles where this machine needs them (no PyPI,
    /// local base images); spec.build.python and spec.build.poetry win when set.
    dockerfile::GenerateOptions generate;
    int max_concurrent = 1;  ///< builds at once, over every app (--max-concurrent-builds)
};

/// Thread safety: safe.
class LocalBuildPort final : public BuildPort {
public:
    LocalBuildPort(LocalBuildOptions options, ProjectExporter exporter);
    ~LocalBuildPort() override;  ///< cancels running builds and waits for them

    Result<std::vector<build::JobObservation>> builds(const api::PoetryApp& app) override;
    Result<void> start(const api::PoetryApp& app, const build::Action& start) override;
    Result<void> cancel(const api::PoetryApp& app, const std::string& name) override;
    void on_change(std::function<void(const std::string& app_key)> fn) override;

private:
    struct Build {
        std::string app_key;
        build::JobObservation observed;  // under mu_
        std::atomic<bool> cancel{false};
        std::thread thread;
    };
    void run(std::shared_ptr<Build> b, api::PoetryApp app, build::Action action);
    Result<std::string> build_and_push(Build& b, const api::PoetryApp& app,
                                       const build::Action& action);
    void set_phase(Build& b, build::JobPhase phase, std::string digest = {},
                   std::string reason = {}, std::string message = {});

    LocalBuildOptions options_;
    ProjectExporter exporter_;
    std::mutex mu_;
    std::condition_variable slots_cv_;
    int running_ = 0;                                       // under mu_
    std::map<std::string, std::shared_ptr<Build>> builds_;  // by name
    std::function<void(const std::string&)> on_change_;
};

}  // namespace poetryops::controller

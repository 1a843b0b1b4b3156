#pragma once
/// The buildah engine on this machine: builds a Poetry project's image with `buildah build` and
/// pushes it with `buildah push --digestfile`, reporting each build step as it starts. It serves
/// `poetryops build` and local mode; in the cluster the same commands run inside a Job (job.hpp).
/// It knows images and folders, not PoetryApps.
///
///   build::BuildahJob job{.context = "examples/hello", .dockerfile = files.dockerfile,
///                         .dockerignore = files.dockerignore,
///                         .image = "registry.example/acme/hello:0.1.0-ab12cd3",
///                         .destination = "docker://registry.example/acme/hello:0.1.0-ab12cd3"};
///   job.on_progress = [](const std::string& line) { std::cerr << line << "\n"; };
///   auto out = build::buildah_build({}, job);  // out->digest: "sha256:…"

#include <poetryops/util/result.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace poetryops::build {

/// buildah's storage and isolation.
struct BuildahOptions {
    std::string program = "buildah";
    std::filesystem::path root;     ///< --root; empty: buildah's default storage
    std::filesystem::path runroot;  ///< --runroot; empty: buildah's default
    std::string storage_driver;     ///< --storage-driver (overlay, vfs); empty: buildah's default
    /// --isolation: chroot needs no user namespaces or privileges beyond the container's own, which
    /// is why it is the default (docs/build.md).
    std::string isolation = "chroot";
    std::chrono::milliseconds timeout{std::chrono::minutes(30)};  ///< build and push together
};

/// One step of a build as buildah prints it ("STEP 5/17: RUN …", after "[1/2] " in multi-stage
/// builds), and whether buildah reused its cached layer ("--> Using cache <id>" right after).
struct BuildStep {
    std::string instruction;  ///< the text after "STEP N/M: "
    bool cached = false;
};

/// The steps in buildah's output, in order.
std::vector<BuildStep> parse_build_steps(const std::string& output);

struct BuildahJob {
    std::filesystem::path context;  ///< the project folder (the build context)
    std::string dockerfile;         ///< the Dockerfile's text, written outside the context
    /// The ignore file's text, written outside the context; empty: the context's own
    /// .dockerignore, if any.
    std::string dockerignore;
    std::string image;  ///< the name it is built as, "host/repo:tag"
    /// Where it is pushed: "docker://host/repo:tag" or "oci:/layout/dir:tag"; empty: not pushed.
    std::string destination;
    bool tls_verify = true;          ///< false: a registry over plain HTTP or with an unknown CA
    std::filesystem::path authfile;  ///< registry credentials (a docker config.json); empty: none
    std::vector<std::string> build_args;  ///< "NAME=value"
    /// Progress, one line at a time: "STEP 3/17: COPY …" as each step starts, "pushing …",
    /// "pushed … sha256:…".
    std::function<void(const std::string& line)> on_progress;
    const std::atomic<bool>* cancel = nullptr;  ///< set: the build is killed
};

struct BuildahOutcome {
    std::string digest;  ///< the pushed manifest's digest ("" when not pushed)
    std::vector<BuildStep> steps;
    std::chrono::milliseconds build_time{0};
    std::chrono::milliseconds push_time{0};
};

/// Builds and, when `destination` is set, pushes. Errors (their message is one line plus, for a
/// failed build or push, buildah's last output lines, redacted and at most ~4 KiB):
/// Error::Kind::invalid with reason "BuildFailed" when the Dockerfile or project fails to build,
/// "PushFailed" when the registry refuses the push, "Cancelled" when `cancel` was set;
/// Error::Kind::timeout past `timeout`; not_found when buildah is not installed.
Result<BuildahOutcome> buildah_build(const BuildahOptions& options, const BuildahJob& job);

}  // namespace poetryops::build

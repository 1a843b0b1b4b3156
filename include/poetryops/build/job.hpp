#pragma once
/// Build Jobs: the `batch/v1` Job that builds one source commit of one PoetryApp with one of the
/// three engines, and the reader that turns a Job and its Pods back into what the planner needs.
/// Pure: objects are nlohmann::json in, nlohmann::json out; creating, watching and deleting them
/// is the caller's (docs/build.md "The Job convention").
///
///   auto job = build::make_job(app, {.commit = sha, .version = "1.4.2", .tag = "1.4.2-ab12cd3"},
///                              options);
///   client.create(jobs().in(app.metadata.namespace_), *job);   // AlreadyExists: already started
///   ...
///   build::JobObservation seen = build::read_job(job_json, pods_of_the_job);

#include <poetryops/api/poetryapp.hpp>
#include <poetryops/util/result.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace poetryops::build {

using TimePoint = std::chrono::system_clock::time_point;

/// Labels and annotations every build Job (and its Pods) carries.
inline constexpr std::string_view kAppLabel = "poetryops.io/app";        ///< app_label(name)
inline constexpr std::string_view kCommitLabel = "poetryops.io/commit";  ///< the 40-hex commit
/// Annotations: the app's "namespace/name" (a label value cannot hold it), the tag and version.
inline constexpr std::string_view kAppAnnotation = "poetryops.io/app";
inline constexpr std::string_view kTagAnnotation = "poetryops.io/tag";
inline constexpr std::string_view kVersionAnnotation = "poetryops.io/version";
/// The container names: the builder reports the digest in its termination message.
inline constexpr std::string_view kPrepareContainer = "prepare";
inline constexpr std::string_view kBuildContainer = "build";
/// Where `poetryops build prepare --out /workspace` leaves the build context and the Dockerfile.
inline constexpr std::string_view kWorkspace = "/workspace";
inline constexpr std::string_view kContextDir = "/workspace/context";
inline constexpr std::string_view kDockerfileDir = "/workspace/dockerfile";

/// The deterministic name of the Job building `commit` for the app `namespace_/name`: a
/// DNS-1123 label of at most 63 characters, `<name, cut>-<7 hex of the commit>-<8 hex of
/// sha256(namespace/name@commit)>`, so a restarted controller finds (and never duplicates) the
/// Job of a commit, and two apps whose names cut alike never share one.
std::string job_name(std::string_view namespace_, std::string_view name, std::string_view commit);

/// The value of the `poetryops.io/app` label for an app name: the name when it is a valid label
/// value (at most 63 characters), else its first 54 characters and an 8-hex hash. List an app's
/// Jobs (and Pods) with `poetryops.io/app=<app_label(name)>`.
std::string app_label(std::string_view name);

/// What the Jobs are made of: controller flags (Helm values later), the same for every app.
struct JobOptions {
    /// The poetryops image: its entrypoint runs `poetryops build prepare` in the init container.
    std::string poetryops_image = "ghcr.io/poetryops/poetryops:0.1.0";
    std::string buildkit_image = "docker.io/moby/buildkit:v0.23.2-rootless";
    /// The maintained kaniko fork (github.com/osscontainertools/kaniko).
    std::string kaniko_image = "ghcr.io/osscontainertools/kaniko:v1.27.6";
    std::string buildah_image = "quay.io/buildah/stable:v1.40.1";
    /// `resources` of the builder container (requests/limits); empty: none set.
    nlohmann::json resources = nlohmann::json::object();
    /// `resources` of the prepare init container; empty: none set.
    nlohmann::json prepare_resources = nlohmann::json::object();
    std::map<std::string, std::string> node_selector;
    nlohmann::json tolerations = nlohmann::json::array();  ///< Pod tolerations, as written
    std::string service_account_name;                      ///< empty: the namespace's default
    int ttl_seconds_after_finished = 3600;                 ///< finished Jobs are deleted after this
    /// sizeLimit of the workspace and builder-state emptyDirs ("" : none), e.g. "20Gi".
    std::string workspace_size_limit;
    /// Push to and pull from the image registry over plain HTTP / without TLS verification (a
    /// registry on localhost in tests). Never for production registries.
    bool insecure_registry = false;
};

/// What one Job builds: a plan's start action (build/plan.hpp) carries these.
struct BuildRequest {
    std::string commit;   ///< 40 hex
    std::string version;  ///< PEP 440 text, for the annotation
    std::string tag;      ///< the rendered tag
};

/// The Job building `request` for `app` (engine spec.build.engine): owned by the app (controller
/// ownerReference with its uid), labelled, `backoffLimit: 0`, `activeDeadlineSeconds` from
/// spec.build.timeout, an init container running `poetryops build prepare` with the source Secret
/// mounted read-only, and the builder with the image Secret mounted where that engine reads it.
/// Errors (Kind::invalid) name the field that is missing or wrong: metadata.uid (no owner
/// reference without it), spec.build, spec.source, the commit, the tag.
Result<nlohmann::json> make_job(const api::PoetryApp& app, const BuildRequest& request,
                                const JobOptions& options);

/// A build Job's state, as read from the Job and its Pods.
enum class JobPhase { pending, running, succeeded, failed };

/// What read_job() makes of a Job: the planner's view (build::Observations::jobs).
struct JobObservation {
    std::string name;
    std::string commit;   ///< its poetryops.io/commit label
    std::string tag;      ///< its poetryops.io/tag annotation
    std::string version;  ///< its poetryops.io/version annotation
    JobPhase phase = JobPhase::pending;
    /// succeeded: the builder's termination message when it is a sha256 digest; else empty (and
    /// `reason` is "NoDigest").
    std::string digest;
    /// Why it is pending or failed: the Job's condition reason (DeadlineExceeded,
    /// BackoffLimitExceeded), else the container's (OOMKilled, Error, ImagePullBackOff,
    /// Unschedulable); "NoDigest" for a success without a digest.
    std::string reason;
    /// One human line: which container, its exit code and the tail of its termination message
    /// (the builder's last log lines on failure). Not redacted: pass it through log::redact before
    /// showing it.
    std::string message;
    std::optional<TimePoint> start_time;
    std::optional<TimePoint> completion_time;
    /// failed: the Pod and container whose log explains the failure (empty when no container
    /// failed, e.g. a deadline before it started). with_log() puts that log's tail in `message`.
    std::string failed_pod;
    std::string failed_container;
    std::string
        failure;  ///< failed: `message` without the tail, "build container: Error (exit code 1)"
};

/// Reads a `batch/v1` Job and the Pods it created (others in `pods` are ignored): Complete →
/// succeeded (with the builder container's digest), Failed → failed (the Job's reason, the failing
/// container's reason and message), otherwise running once a Pod runs (its init container
/// included), else pending (with the waiting or scheduling reason, e.g. ImagePullBackOff; a
/// suspended Job waits for a build slot: reason "Queued").
JobObservation read_job(const nlohmann::json& job, std::span<const nlohmann::json> pods);

/// `observed.message` with the tail of `log` (the failed container's log, as the pods/log API
/// returned it) instead of its termination message: the last `max_bytes`, one line with " | "
/// between lines. Unchanged when `log` is blank or nothing failed. Not redacted.
void with_log(JobObservation& observed, std::string_view log, std::size_t max_bytes = 1500);

}  // namespace poetryops::build

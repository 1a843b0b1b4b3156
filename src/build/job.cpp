// Build Jobs (build/job.hpp): the Job of each engine and reading a Job back.
#include <poetryops/build/job.hpp>

#include <poetryops/api/duration.hpp>
#include <poetryops/api/validation.hpp>
#include <poetryops/oci/grammar.hpp>
#include <poetryops/util/clock.hpp>
#include <poetryops/util/json.hpp>
#include <poetryops/util/strings.hpp>

#include <algorithm>
#include <cctype>

namespace poetryops::build {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxName = 63;
constexpr std::size_t kMaxLabel = 63;
/// Bytes of a termination message kept in a message (the kubelet keeps at most 4096).
constexpr std::size_t kMaxTail = 1024;

/// Secret files are readable by the container's user, whatever uid the engine runs as: the
/// volume is mounted into one container only.
constexpr int kSecretMode = 0444;

constexpr std::string_view kSourceSecretDir = "/etc/poetryops/source";
constexpr std::string_view kRegistryConfigDir = "/etc/poetryops/registry";

/// `text` as a DNS-1123 label prefix: lower case, other characters '-', no leading/trailing '-'.
std::string dns_label_prefix(std::string_view text, std::size_t max) {
    std::string out;
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        char l = static_cast<char>(std::tolower(u));
        bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9');
        out += ok ? l : '-';
    }
    if (out.size() > max) out.resize(max);
    while (!out.empty() && out.front() == '-') out.erase(out.begin());
    while (!out.empty() && out.back() == '-') out.pop_back();
    return out;
}

std::string hash8(std::string_view text) { return str::sha256_hex(text).substr(0, 8); }

json secret_volume(const std::string& name, const std::string& secret, json items = nullptr) {
    json s{{"secretName", secret}, {"defaultMode", kSecretMode}};
    if (!items.is_null()) s["items"] = std::move(items);
    return json{{"name", name}, {"secret", std::move(s)}};
}

json empty_dir(const std::string& name, const std::string& size_limit) {
    json e = json::object();
    if (!size_limit.empty()) e["sizeLimit"] = size_limit;
    return json{{"name", name}, {"emptyDir", std::move(e)}};
}

json mount(const std::string& name, std::string_view path, bool read_only) {
    json m{{"name", name}, {"mountPath", std::string(path)}};
    if (read_only) m["readOnly"] = true;
    return m;
}

/// The restricted Pod Security profile's container settings.
json restricted(int uid) {
    return json{{"runAsNonRoot", true},
                {"runAsUser", uid},
                {"runAsGroup", uid},
                {"allowPrivilegeEscalation", false},
                {"readOnlyRootFilesystem", true},
                {"capabilities", {{"drop", json::array({"ALL"})}}},
                {"seccompProfile", {{"type", "RuntimeDefault"}}}};
}

/// The builder container of each engine, without the fields every engine shares.
struct Builder {
    json container;
    json volumes = json::array();
    json pod_annotations = json::object();
};

// buildctl writes the build result's metadata (containerimage.digest among it) to a JSON file; the
// script copies that digest into the termination message. "$@" are buildctl's arguments.
constexpr std::string_view kBuildkitScript = R"(set -eu
buildctl-daemonless.sh "$@"
digest=$(grep -o '"containerimage.digest": *"sha256:[0-9a-f]*"' /tmp/build-metadata.json | grep -o 'sha256:[0-9a-f]*' | head -n 1)
if [ -z "$digest" ]; then echo "buildctl wrote no containerimage.digest to /tmp/build-metadata.json" >&2; exit 1; fi
printf '%s' "$digest" > /dev/termination-log
)";

Builder buildkit(const std::string& ref, const JobOptions& o, bool registry_secret) {
    const std::string repo = ref.substr(0, ref.rfind(':'));
    const std::string insecure = o.insecure_registry ? ",registry.insecure=true" : "";
    json args = json::array(
        {"build", "--frontend", "dockerfile.v0", "--local", "context=" + std::string(kContextDir),
         "--local", "dockerfile=" + std::string(kDockerfileDir), "--output",
         "type=image,name=" + ref + ",push=true" + insecure, "--export-cache",
         "type=registry,ref=" + repo +
             ":buildcache,mode=max,image-manifest=true,oci-mediatypes=true" + insecure,
         "--import-cache", "type=registry,ref=" + repo + ":buildcache" + insecure,
         "--metadata-file", "/tmp/build-metadata.json"});
    json command = json::array({"/bin/sh", "-c", std::string(kBuildkitScript), "build"});
    json env =
        json::array({{{"name", "BUILDKITD_FLAGS"}, {"value", "--oci-worker-no-process-sandbox"}}});
    json mounts = json::array({mount("workspace", kWorkspace, true),
                               mount("buildkit-state", "/home/user/.local/share/buildkit", false)});
    if (registry_secret) {
        env.push_back({{"name", "DOCKER_CONFIG"}, {"value", std::string(kRegistryConfigDir)}});
        mounts.push_back(mount("registry-credentials", kRegistryConfigDir, true));
    }
    Builder b;
    b.container = json{{"name", std::string(kBuildContainer)},
                       {"image", o.buildkit_image},
                       {"command", std::move(command)},
                       {"args", std::move(args)},
                       {"env", std::move(env)},
                       {"volumeMounts", std::move(mounts)},
                       // Rootless BuildKit: uid 1000 of the image; rootlesskit's user namespace
                       // needs the setuid newuidmap (privilege escalation) and unshare/mount
                       // syscalls that the runtime's default seccomp and AppArmor profiles refuse.
                       {"securityContext",
                        {{"runAsNonRoot", true},
                         {"runAsUser", 1000},
                         {"runAsGroup", 1000},
                         {"seccompProfile", {{"type", "Unconfined"}}}}}};
    b.volumes.push_back(empty_dir("buildkit-state", o.workspace_size_limit));
    b.pod_annotations["container.apparmor.security.beta.kubernetes.io/" +
                      std::string(kBuildContainer)] = "unconfined";
    return b;
}

Builder kaniko(const std::string& ref, const JobOptions& o, bool registry_secret) {
    const std::string repo = ref.substr(0, ref.rfind(':'));
    json args = json::array({"--context=dir://" + std::string(kContextDir),
                             "--dockerfile=" + std::string(kDockerfileDir) + "/Dockerfile",
                             "--destination=" + ref, "--digest-file=/dev/termination-log",
                             "--cache=true", "--cache-repo=" + repo + "/cache"});
    if (o.insecure_registry) {
        args.push_back("--insecure");
        args.push_back("--insecure-pull");
    }
    json mounts = json::array({mount("workspace", kWorkspace, true)});
    if (registry_secret) mounts.push_back(mount("registry-credentials", "/kaniko/.docker", true));
    Builder b;
    b.container =
        json{{"name", std::string(kBuildContainer)},
             {"image", o.kaniko_image},
             {"args", std::move(args)},
             {"env", json::array({{{"name", "DOCKER_CONFIG"}, {"value", "/kaniko/.docker"}}})},
             {"volumeMounts", std::move(mounts)},
             // kaniko unpacks the base image into its own root filesystem and runs
             // RUN steps there: it must be root (uid 0) with the default capabilities;
             // nothing else is relaxed.
             {"securityContext",
              {{"runAsUser", 0},
               {"allowPrivilegeEscalation", false},
               {"seccompProfile", {{"type", "RuntimeDefault"}}}}}};
    return b;
}

// buildah builds into a vfs store in an emptyDir and pushes; --digestfile writes the pushed
// manifest's digest. $1 is repository:tag, $2 the --tls-verify value.
constexpr std::string_view kBuildahScript = R"(set -eu
buildah --storage-driver vfs bud --isolation chroot --tls-verify="$2" -f /workspace/dockerfile/Dockerfile -t "$1" /workspace/context
buildah --storage-driver vfs push --tls-verify="$2" --digestfile /dev/termination-log "$1" "docker://$1"
)";

Builder buildah(const std::string& ref, const JobOptions& o, bool registry_secret) {
    json command = json::array({"/bin/sh", "-c", std::string(kBuildahScript), "build", ref,
                                o.insecure_registry ? "false" : "true"});
    json env = json::array({{{"name", "BUILDAH_ISOLATION"}, {"value", "chroot"}},
                            {{"name", "STORAGE_DRIVER"}, {"value", "vfs"}}});
    json mounts = json::array({mount("workspace", kWorkspace, true),
                               mount("containers-storage", "/var/lib/containers", false)});
    if (registry_secret) {
        env.push_back({{"name", "REGISTRY_AUTH_FILE"},
                       {"value", std::string(kRegistryConfigDir) + "/config.json"}});
        mounts.push_back(mount("registry-credentials", kRegistryConfigDir, true));
    }
    Builder b;
    b.container = json{{"name", std::string(kBuildContainer)},
                       {"image", o.buildah_image},
                       {"command", std::move(command)},
                       {"env", std::move(env)},
                       {"volumeMounts", std::move(mounts)},
                       // buildah's chroot isolation runs as root in the container, sets file
                       // capabilities of the layers it writes (SETFCAP) and unshares mount
                       // namespaces for RUN steps, which the default seccomp and AppArmor
                       // profiles refuse. Not privileged.
                       {"securityContext",
                        {{"runAsUser", 0},
                         {"capabilities", {{"add", json::array({"SETFCAP"})}}},
                         {"seccompProfile", {{"type", "Unconfined"}}}}}};
    b.volumes.push_back(empty_dir("containers-storage", o.workspace_size_limit));
    b.pod_annotations["container.apparmor.security.beta.kubernetes.io/" +
                      std::string(kBuildContainer)] = "unconfined";
    return b;
}

std::optional<TimePoint> time_of(const json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_string()) return std::nullopt;
    Clock::time_point t;
    if (!parse_rfc3339(it->get<std::string>(), t)) return std::nullopt;
    return t;
}

using json_util::string_at;

/// The last `max` bytes of `text` on one line (newlines become " | ").
std::string tail(std::string_view text, std::size_t max = kMaxTail) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.remove_suffix(1);
    std::string cut =
        text.size() > max ? "…" + std::string(text.substr(text.size() - max)) : std::string(text);
    return str::replace_all(cut, "\n", " | ");
}

/// A terminated or waiting container's summary: "build: OOMKilled (exit 137): <tail>".
struct ContainerState {
    std::string name;
    std::string reason;
    int exit_code = 0;
    std::string message;
    bool terminated = false;
    bool running = false;
};

std::vector<ContainerState> states(const json& pod) {
    std::vector<ContainerState> out;
    const json& st = pod.contains("status") ? pod["status"] : json::object();
    for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
        auto it = st.find(list);
        if (it == st.end() || !it->is_array()) continue;
        for (const auto& c : *it) {
            ContainerState s;
            s.name = c.value("name", "");
            const json state = c.value("state", json::object());
            if (state.contains("terminated")) {
                const json& t = state["terminated"];
                s.terminated = true;
                s.reason = t.value("reason", "");
                s.exit_code = t.value("exitCode", 0);
                s.message = t.value("message", "");
            } else if (state.contains("waiting")) {
                s.reason = state["waiting"].value("reason", "");
                s.message = state["waiting"].value("message", "");
            } else if (state.contains("running")) {
                s.running = true;
            }
            out.push_back(std::move(s));
        }
    }
    return out;
}

/// The Pods of `job` (by owner uid, or the job-name label), newest first.
std::vector<const json*> pods_of(const json& job, std::span<const json> pods) {
    const std::string uid = string_at(job, {"metadata", "uid"});
    const std::string name = string_at(job, {"metadata", "name"});
    std::vector<const json*> out;
    for (const auto& p : pods) {
        bool has_owners = false, owned = false;
        if (auto m = p.find("metadata"); m != p.end() && m->contains("ownerReferences")) {
            for (const auto& r : (*m)["ownerReferences"]) {
                has_owners = true;
                if (!uid.empty() && r.value("uid", "") == uid) owned = true;
            }
        }
        // A Pod of an earlier Job of the same name (deleted and created again) is not ours.
        bool labelled =
            string_at(p, {"metadata", "labels", "batch.kubernetes.io/job-name"}) == name ||
            string_at(p, {"metadata", "labels", "job-name"}) == name;
        if (owned || (labelled && !has_owners)) out.push_back(&p);
    }
    std::stable_sort(out.begin(), out.end(), [](const json* a, const json* b) {
        return string_at(*a, {"metadata", "creationTimestamp"}) >
               string_at(*b, {"metadata", "creationTimestamp"});
    });
    return out;
}

}  // namespace

std::string job_name(std::string_view namespace_, std::string_view name, std::string_view commit) {
    const std::string short_sha = dns_label_prefix(commit.substr(0, 7), 7);
    const std::string hash =
        hash8(std::string(namespace_) + "/" + std::string(name) + "@" + std::string(commit));
    // <prefix>-<7>-<8>: the prefix gets what is left of 63.
    std::size_t room = kMaxName - 1 - short_sha.size() - 1 - hash.size();
    std::string prefix = dns_label_prefix(name, room);
    std::string out;
    if (!prefix.empty()) out = prefix + "-";
    if (!short_sha.empty()) out += short_sha + "-";
    return out + hash;
}

std::string app_label(std::string_view name) {
    auto valid = [](std::string_view v) {
        if (v.empty() || v.size() > kMaxLabel) return false;
        auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
        if (!alnum(v.front()) || !alnum(v.back())) return false;
        return std::all_of(v.begin(), v.end(),
                           [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
    };
    if (valid(name)) return std::string(name);
    std::string prefix = dns_label_prefix(name, kMaxLabel - 9);
    return (prefix.empty() ? std::string() : prefix + "-") + hash8(name);
}

Result<json> make_job(const api::PoetryApp& app, const BuildRequest& request,
                      const JobOptions& options) {
    auto invalid = [&](const std::string& what) {
        return fail(Error::Kind::invalid,
                    "cannot make the build Job of PoetryApp " + app.key() + ": " + what);
    };
    if (!app.spec.build) return invalid("spec.build is not set");
    if (!app.spec.source) return invalid("spec.source is not set");
    if (app.metadata.name.empty()) return invalid("metadata.name is empty");
    if (app.metadata.uid.empty())
        return invalid("metadata.uid is empty (the Job's ownerReference needs it)");
    if (request.commit.size() != 40 ||
        !std::all_of(request.commit.begin(), request.commit.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }))
        return invalid("commit \"" + request.commit + "\" is not a 40-hex commit id");
    if (!oci::is_valid_tag(request.tag))
        return invalid("tag \"" + request.tag + "\" is not a valid OCI tag");
    const api::BuildSpec& build = *app.spec.build;
    const api::SourceSpec& source = *app.spec.source;
    auto timeout = api::parse_duration(build.timeout.text);
    if (!timeout || timeout->count() <= 0)
        return invalid("spec.build.timeout \"" + build.timeout.text + "\" is not a duration");
    if (build.dockerfile != "generate") {
        if (std::string why = api::check_repo_path(build.dockerfile); !why.empty())
            return invalid("spec.build.dockerfile: " + why);
    }

    const std::string name = job_name(app.metadata.namespace_, app.metadata.name, request.commit);
    const std::string image = app.spec.image.repository + ":" + request.tag;
    const bool registry_secret = app.spec.image.secret_ref.has_value();

    json labels{{std::string(kAppLabel), app_label(app.metadata.name)},
                {std::string(kCommitLabel), request.commit},
                {"app.kubernetes.io/managed-by", "poetryops"},
                {"app.kubernetes.io/component", "build"}};
    json annotations{{std::string(kAppAnnotation), app.key()},
                     {std::string(kTagAnnotation), request.tag},
                     {std::string(kVersionAnnotation), request.version}};

    // The init container: `poetryops build prepare` fetches exactly the commit and writes the
    // build context and Dockerfile into the workspace (docs/build.md).
    json prepare_args =
        json::array({"build", "prepare", "--source", source.repo_url, "--ref", source.ref,
                     "--commit", request.commit, "--path", source.path, "--dockerfile",
                     build.dockerfile, "--out", std::string(kWorkspace)});
    if (!build.python.empty()) {
        prepare_args.push_back("--python");
        prepare_args.push_back(build.python);
    }
    if (!build.poetry.empty()) {
        prepare_args.push_back("--poetry");
        prepare_args.push_back(build.poetry);
    }
    json prepare_mounts =
        json::array({mount("workspace", kWorkspace, false), mount("tmp", "/tmp", false)});
    if (source.secret_ref) {
        prepare_args.push_back("--credentials-dir");
        prepare_args.push_back(std::string(kSourceSecretDir));
        prepare_mounts.push_back(mount("source-credentials", kSourceSecretDir, true));
    }
    json prepare{{"name", std::string(kPrepareContainer)},
                 {"image", options.poetryops_image},
                 {"command", json::array({"poetryops"})},
                 {"args", std::move(prepare_args)},
                 {"env", json::array({{{"name", "HOME"}, {"value", "/tmp"}}})},
                 {"volumeMounts", std::move(prepare_mounts)},
                 {"securityContext", restricted(65532)},
                 {"terminationMessagePolicy", "FallbackToLogsOnError"}};
    if (!options.prepare_resources.empty()) prepare["resources"] = options.prepare_resources;

    Builder builder;
    switch (build.engine) {
        case api::BuildEngine::buildkit: builder = buildkit(image, options, registry_secret); break;
        case api::BuildEngine::kaniko: builder = kaniko(image, options, registry_secret); break;
        case api::BuildEngine::buildah: builder = buildah(image, options, registry_secret); break;
    }
    // The builder writes the digest to /dev/termination-log; when it fails without writing it,
    // the kubelet keeps the tail of its log there instead (the build's last lines for status).
    builder.container["terminationMessagePath"] = "/dev/termination-log";
    builder.container["terminationMessagePolicy"] = "FallbackToLogsOnError";
    if (!options.resources.empty()) builder.container["resources"] = options.resources;

    json volumes =
        json::array({empty_dir("workspace", options.workspace_size_limit), empty_dir("tmp", {})});
    if (source.secret_ref)
        volumes.push_back(secret_volume("source-credentials", source.secret_ref->name));
    if (registry_secret) {
        volumes.push_back(
            secret_volume("registry-credentials", app.spec.image.secret_ref->name,
                          json::array({{{"key", ".dockerconfigjson"}, {"path", "config.json"}}})));
    }
    for (auto& v : builder.volumes) volumes.push_back(std::move(v));

    json pod_spec{{"restartPolicy", "Never"},
                  {"automountServiceAccountToken", false},
                  {"enableServiceLinks", false},
                  {"initContainers", json::array({std::move(prepare)})},
                  {"containers", json::array({std::move(builder.container)})},
                  {"volumes", std::move(volumes)}};
    if (!options.service_account_name.empty())
        pod_spec["serviceAccountName"] = options.service_account_name;
    if (!options.node_selector.empty()) pod_spec["nodeSelector"] = options.node_selector;
    if (!options.tolerations.empty()) pod_spec["tolerations"] = options.tolerations;

    json template_meta{{"labels", labels}};
    if (!builder.pod_annotations.empty()) template_meta["annotations"] = builder.pod_annotations;

    json job{
        {"apiVersion", "batch/v1"},
        {"kind", "Job"},
        {"metadata",
         {{"name", name},
          {"namespace", app.metadata.namespace_},
          {"labels", labels},
          {"annotations", annotations},
          {"ownerReferences", json::array({{{"apiVersion", app.api_version},
                                            {"kind", app.kind},
                                            {"name", app.metadata.name},
                                            {"uid", app.metadata.uid},
                                            {"controller", true},
                                            {"blockOwnerDeletion", true}}})}}},
        {"spec",
         {{"backoffLimit", 0},
          {"activeDeadlineSeconds",
           std::max<std::int64_t>(
               1, std::chrono::duration_cast<std::chrono::seconds>(*timeout).count())},
          {"ttlSecondsAfterFinished", options.ttl_seconds_after_finished},
          {"template", {{"metadata", std::move(template_meta)}, {"spec", std::move(pod_spec)}}}}}};
    if (app.metadata.namespace_.empty()) job["metadata"].erase("namespace");
    return job;
}

JobObservation read_job(const json& job, std::span<const json> pods) {
    JobObservation o;
    o.name = string_at(job, {"metadata", "name"});
    o.commit = string_at(job, {"metadata", "labels", std::string(kCommitLabel).c_str()});
    o.tag = string_at(job, {"metadata", "annotations", std::string(kTagAnnotation).c_str()});
    o.version =
        string_at(job, {"metadata", "annotations", std::string(kVersionAnnotation).c_str()});
    const json status = job.value("status", json::object());
    o.start_time = time_of(status, "startTime");
    o.completion_time = time_of(status, "completionTime");

    std::string job_reason, job_message;
    bool complete = false, failed = false;
    if (auto cs = status.find("conditions"); cs != status.end() && cs->is_array()) {
        for (const auto& c : *cs) {
            if (c.value("status", "") != "True") continue;
            const std::string type = c.value("type", "");
            if (type == "Complete") {
                complete = true;
                if (!o.completion_time) o.completion_time = time_of(c, "lastTransitionTime");
            } else if (type == "Failed") {
                failed = true;
                job_reason = c.value("reason", "");
                job_message = c.value("message", "");
                if (!o.completion_time) o.completion_time = time_of(c, "lastTransitionTime");
            }
        }
    }

    auto mine = pods_of(job, pods);
    const json* pod = mine.empty() ? nullptr : mine.front();
    std::vector<ContainerState> cs = pod ? states(*pod) : std::vector<ContainerState>{};
    auto find_state = [&](std::string_view name) -> const ContainerState* {
        for (const auto& s : cs) {
            if (s.name == name) return &s;
        }
        return nullptr;
    };

    if (complete) {
        o.phase = JobPhase::succeeded;
        const ContainerState* b = find_state(kBuildContainer);
        std::string reported = b ? std::string(str::trim(b->message)) : std::string();
        if (!reported.empty() && reported.starts_with("sha256:") &&
            oci::is_valid_digest(reported)) {
            o.digest = reported;
        } else {
            o.reason = "NoDigest";
            o.message = reported.empty()
                            ? "the build container's termination message is empty"
                            : "the build container's termination message is not a sha256 digest: " +
                                  tail(reported, 120);
        }
        return o;
    }
    if (failed) {
        o.phase = JobPhase::failed;
        o.reason = job_reason;
        // The container that failed says why: the prepare step (bad source, missing file) or the
        // builder (its exit and last log lines).
        const ContainerState* bad = nullptr;
        for (const auto& s : cs) {
            if (s.terminated && (s.exit_code != 0 || s.reason == "OOMKilled")) {
                bad = &s;
                break;
            }
        }
        if (bad) {
            o.failure = bad->name +
                        " container: " + (bad->reason.empty() ? "exited" : bad->reason) +
                        " (exit code " + std::to_string(bad->exit_code) + ")";
            o.failed_pod = string_at(*pod, {"metadata", "name"});
            o.failed_container = bad->name;
            o.message = o.failure;
            if (!bad->message.empty()) o.message += ": " + tail(bad->message);
            if (bad->reason == "OOMKilled") o.reason = "OOMKilled";
        } else {
            o.message = job_message;
        }
        return o;
    }
    o.phase = JobPhase::pending;
    if (!pod && job.contains("spec") && job["spec"].value("suspend", false)) {
        o.reason = "Queued";
        o.message = "waiting for a build slot (--max-concurrent-builds)";
        return o;
    }
    if (!pod) {
        o.message = status.value("active", 0) > 0 ? "its Pod is not visible yet" : "no Pod yet";
        return o;
    }
    const std::string pod_phase = string_at(*pod, {"status", "phase"});
    bool started = pod_phase == "Running";
    for (const auto& s : cs) {
        if (s.running || s.terminated) started = true;
    }
    if (started) {
        o.phase = JobPhase::running;
        return o;
    }
    // Why it waits: a container's waiting reason (ErrImagePull, ImagePullBackOff,
    // CreateContainerConfigError for a missing Secret) or the scheduler's (Unschedulable).
    for (const auto& s : cs) {
        if (!s.reason.empty() && s.reason != "PodInitializing" && s.reason != "ContainerCreating") {
            o.reason = s.reason;
            o.message = s.name + " container: " + s.reason +
                        (s.message.empty() ? "" : ": " + tail(s.message, 300));
            return o;
        }
    }
    if (auto conds = pod->find("status"); conds != pod->end() && conds->contains("conditions")) {
        for (const auto& c : (*conds)["conditions"]) {
            if (c.value("type", "") == "PodScheduled" && c.value("status", "") == "False") {
                o.reason = c.value("reason", "Unschedulable");
                o.message = "not scheduled: " + tail(c.value("message", ""), 300);
                return o;
            }
        }
    }
    return o;
}

void with_log(JobObservation& observed, std::string_view log, std::size_t max_bytes) {
    if (observed.phase != JobPhase::failed || observed.failure.empty()) return;
    if (str::trim(log).empty()) return;
    observed.message = observed.failure + ": " + tail(log, max_bytes);
}

}  // namespace poetryops::build

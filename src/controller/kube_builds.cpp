#include <poetryops/controller/kube_builds.hpp>

#include <poetryops/kube/status.hpp>
#include <poetryops/runtime/informer.hpp>
#include <poetryops/util/json.hpp>
#include <poetryops/util/log.hpp>

#include <algorithm>
#include <set>

namespace poetryops::controller {

using nlohmann::json;

namespace {

constexpr const char* kByApp = "app";  // Jobs by their poetryops.io/app annotation (ns/name)
constexpr const char* kByJob = "job";  // Pods by "namespace/<their Job's name>"
constexpr std::size_t kMaxLogs = 256;  // failure logs remembered (one per failed Job)

std::string app_of(const json& job) {
    return json_util::string_at(job, {"metadata", "annotations", build::kAppAnnotation.data()});
}

std::string job_of(const json& pod) {
    std::string name =
        json_util::string_at(pod, {"metadata", "labels", "batch.kubernetes.io/job-name"});
    if (name.empty()) name = json_util::string_at(pod, {"metadata", "labels", "job-name"});
    return name;
}

bool suspended(const json& job) {
    auto spec = job.find("spec");
    return spec != job.end() && spec->is_object() && spec->value("suspend", false);
}

bool finished(const json& job) {
    auto status = job.find("status");
    if (status == job.end() || !status->is_object()) return false;
    auto conds = status->find("conditions");
    if (conds == status->end() || !conds->is_array()) return false;
    for (const auto& c : *conds) {
        const std::string type = c.value("type", "");
        if ((type == "Complete" || type == "Failed") && c.value("status", "") == "True")
            return true;
    }
    return false;
}

/// What read_job and the queue read of a Job: metadata, status, spec.suspend. The Pod template
/// (the bulk of a build Job) is dropped.
void trim_job(json& job) {
    runtime::strip_managed_fields(job);
    if (auto spec = job.find("spec"); spec != job.end() && spec->is_object()) {
        json kept = json::object();
        if (spec->contains("suspend")) kept["suspend"] = (*spec)["suspend"];
        *spec = std::move(kept);
    }
}

/// What read_job reads of a Pod: its identity, owners and status.
void trim_pod(json& pod) {
    json meta = json::object();
    if (auto m = pod.find("metadata"); m != pod.end() && m->is_object()) {
        for (const char* k :
             {"name", "namespace", "uid", "labels", "ownerReferences", "creationTimestamp"}) {
            if (m->contains(k)) meta[k] = (*m)[k];
        }
    }
    json out{{"metadata", std::move(meta)}};
    if (auto s = pod.find("status"); s != pod.end()) out["status"] = std::move(*s);
    pod = std::move(out);
}

}  // namespace

KubeBuildPort::KubeBuildPort(kube::KubeClient& client, KubeBuildOptions options, const Clock& clock)
    : client_(client), options_(std::move(options)), clock_(clock) {}

KubeBuildPort::~KubeBuildPort() {
    {
        std::lock_guard lock(mu_);
        on_change_ = nullptr;
    }
    for (auto& w : watches_) {
        if (w.pods) w.pods->stop();
        if (w.jobs) w.jobs->stop();
    }
}

void KubeBuildPort::on_change(std::function<void(const std::string&)> fn) {
    std::lock_guard lock(mu_);
    on_change_ = std::move(fn);
}

Result<void> KubeBuildPort::ensure_started() {
    std::lock_guard start_lock(start_mu_);
    if (!started_) {
        std::vector<std::string> spaces = options_.namespaces;
        if (spaces.empty()) spaces.push_back("");
        const std::string selector(build::kAppLabel);
        // One small list of each says whether we may list them; an informer on a collection we
        // cannot list would only back off forever while every build looks vanished.
        for (const auto& ns : spaces) {
            for (const auto& ref : {kube::resources::jobs(), kube::resources::pods()}) {
                kube::ListOptions probe;
                probe.limit = 1;
                probe.label_selector = selector;
                if (auto listed = client_.list(ref.in(ns), probe); !listed) {
                    Error e = listed.error();
                    e.message = "cannot list " + ref.resource +
                                (ns.empty() ? " in all namespaces" : " in namespace " + ns) +
                                " (the controller's RBAC needs list and watch): " + e.message;
                    return e;
                }
            }
        }
        watches_.reserve(spaces.size());
        for (const auto& ns : spaces) {
            Watch& w = watches_.emplace_back();
            w.namespace_ = ns;
            runtime::InformerOptions jo;
            jo.resource = kube::resources::jobs().in(ns);
            jo.label_selector = selector;
            jo.transform = trim_job;
            w.jobs = std::make_unique<runtime::Informer>(client_, std::move(jo), clock_);
            w.jobs->add_index(kByApp, [](const json& job) -> std::vector<std::string> {
                std::string app = app_of(job);
                if (app.empty()) return {};
                return {app};
            });
            w.jobs->add_handler({.on_add = [this](const json& job) { changed_job(job); },
                                 .on_update =
                                     [this](const json& old, const json& now) {
                                         if (finished(now) && !finished(old)) slot_freed_ = true;
                                         if (old.value("status", json()) !=
                                                 now.value("status", json()) ||
                                             suspended(old) != suspended(now))
                                             changed_job(now);
                                     },
                                 .on_delete =
                                     [this](const json& job) {
                                         slot_freed_ = true;
                                         changed_job(job);
                                     }});
            runtime::InformerOptions po;
            po.resource = kube::resources::pods().in(ns);
            po.label_selector = selector;
            po.transform = trim_pod;
            w.pods = std::make_unique<runtime::Informer>(client_, std::move(po), clock_);
            w.pods->add_index(kByJob, [](const json& pod) -> std::vector<std::string> {
                std::string job = job_of(pod);
                if (job.empty()) return {};
                return {json_util::string_at(pod, {"metadata", "namespace"}) + "/" + job};
            });
            Watch* self = &w;
            w.pods->add_handler(
                {.on_add = [this, self](const json& pod) { changed_pod(*self, pod); },
                 .on_update =
                     [this, self](const json& old, const json& now) {
                         if (old.value("status", json()) != now.value("status", json()))
                             changed_pod(*self, now);
                     },
                 .on_delete = [this, self](const json& pod) { changed_pod(*self, pod); }});
        }
        for (auto& w : watches_) {
            w.jobs->start();
            w.pods->start();
        }
        started_ = true;
        POETRYOPS_LOG(info, "watching build Jobs and their Pods",
                      {{"namespaces", options_.namespaces.empty()
                                          ? std::string("all")
                                          : std::to_string(options_.namespaces.size())},
                       {"max_concurrent_builds", std::to_string(options_.max_concurrent)}});
    }
    for (auto& w : watches_) {
        if (!w.jobs->wait_for_sync(options_.sync_timeout) ||
            !w.pods->wait_for_sync(options_.sync_timeout)) {
            return fail(Error::make(
                Error::Kind::timeout,
                "the build Jobs and Pods" +
                    (w.namespace_.empty() ? std::string() : " of namespace " + w.namespace_) +
                    " are not listed yet",
                "BuilderUnavailable"));
        }
    }
    return ok();
}

KubeBuildPort::Watch* KubeBuildPort::watch_for(const std::string& namespace_) {
    for (auto& w : watches_) {
        if (w.namespace_.empty() || w.namespace_ == namespace_) return &w;
    }
    return nullptr;
}

void KubeBuildPort::changed_job(const json& job) {
    std::function<void(const std::string&)> fn;
    {
        std::lock_guard lock(mu_);
        created_.erase(runtime::key_of(job));
        fn = on_change_;
    }
    const std::string app = app_of(job);
    if (fn && !app.empty()) fn(app);
}

void KubeBuildPort::changed_pod(const Watch& w, const json& pod) {
    const std::string job_name = job_of(pod);
    if (job_name.empty()) return;
    auto job = w.jobs->get(json_util::string_at(pod, {"metadata", "namespace"}) + "/" + job_name);
    if (!job) return;  // its Job is gone: the Job's own delete event said so
    std::function<void(const std::string&)> fn;
    {
        std::lock_guard lock(mu_);
        fn = on_change_;
    }
    const std::string app = app_of(*job);
    if (fn && !app.empty()) fn(app);
}

Result<std::vector<build::JobObservation>> KubeBuildPort::builds(const api::PoetryApp& app) {
    POETRYOPS_TRY_VOID(ensure_started());
    Watch* w = watch_for(app.metadata.namespace_);
    if (!w) {
        return fail(Error::Kind::invalid, "namespace " + app.metadata.namespace_ +
                                              " is not one of the controller's --namespace");
    }
    std::vector<build::JobObservation> out;
    for (const auto& key : w->jobs->index_keys(kByApp, app.key())) {
        auto job = w->jobs->get(key);
        if (!job) continue;
        std::vector<json> pods;
        for (const auto& pk : w->pods->index_keys(kByJob, key)) {
            if (auto pod = w->pods->get(pk)) pods.push_back(*pod);
        }
        build::JobObservation seen = build::read_job(*job, pods);
        if (seen.phase == build::JobPhase::failed && !seen.failed_pod.empty()) {
            build::with_log(seen,
                            failure_log(app.metadata.namespace_,
                                        json_util::string_at(*job, {"metadata", "uid"}), seen));
        }
        seen.message = log::redact(seen.message);
        out.push_back(std::move(seen));
    }
    resume_queued();
    return out;
}

std::string KubeBuildPort::failure_log(const std::string& namespace_, const std::string& job_uid,
                                       const build::JobObservation& observed) {
    {
        std::lock_guard lock(mu_);
        if (auto it = logs_.find(job_uid); it != logs_.end()) return it->second;
    }
    kube::LogOptions lo;
    lo.container = observed.failed_container;
    lo.tail_lines = options_.log_tail_lines;
    lo.limit_bytes = options_.log_limit_bytes;
    auto log = client_.logs(kube::resources::pods().in(namespace_).named(observed.failed_pod), lo);
    std::string text;
    if (log) {
        text = log::redact(*log);
    } else {
        // The termination message (FallbackToLogsOnError) still carries the kubelet's tail.
        POETRYOPS_LOG(info, "cannot read the log of a failed build; using its termination message",
                      {{"job", observed.name}, {"error", log::redact(log.error().message)}});
    }
    std::lock_guard lock(mu_);
    if (logs_.size() >= kMaxLogs) logs_.clear();
    logs_[job_uid] = text;
    return text;
}

Result<void> KubeBuildPort::start(const api::PoetryApp& app, const build::Action& action) {
    POETRYOPS_TRY_VOID(ensure_started());
    POETRYOPS_TRY(json job,
                  build::make_job(app, {action.commit, action.version, action.tag}, options_.job));
    const std::string key = app.metadata.namespace_ + "/" + action.job_name;
    bool queue = false;
    if (options_.max_concurrent > 0) {
        int running = 0;
        for (auto& w : watches_) {
            w.jobs->for_each([&](const json& j) {
                if (!finished(j) && !suspended(j)) ++running;
            });
        }
        std::lock_guard lock(mu_);
        running += static_cast<int>(created_.size());
        queue = running >= options_.max_concurrent;
    }
    if (queue) {
        job["spec"]["suspend"] = true;
    } else {
        // Counted as running until the informer has it (its add event erases it).
        std::lock_guard lock(mu_);
        created_.insert(key);
    }
    auto created = client_.create(kube::resources::jobs().in(app.metadata.namespace_), job);
    if (!created) {
        {
            std::lock_guard lock(mu_);
            created_.erase(key);
        }
        if (kube::is_already_exists(created.error())) return ok();  // started before a restart
        Error e = created.error();
        e.message = "cannot create build Job " + key + ": " + e.message;
        return e;
    }
    POETRYOPS_LOG(info, queue ? "build queued" : "build started",
                  {{"app", app.key()}, {"job", action.job_name}, {"tag", action.tag}});
    return ok();
}

Result<void> KubeBuildPort::cancel(const api::PoetryApp& app, const std::string& name) {
    kube::DeleteOptions d;
    d.propagation_policy = "Background";
    auto r = client_.remove(kube::resources::jobs().in(app.metadata.namespace_).named(name), d);
    if (!r && !kube::is_not_found(r.error())) {
        Error e = r.error();
        e.message =
            "cannot delete build Job " + app.metadata.namespace_ + "/" + name + ": " + e.message;
        return e;
    }
    return ok();
}

void KubeBuildPort::resume_queued() {
    if (options_.max_concurrent <= 0) return;
    // Only after a build ended (or at the first call): every reconcile of a building app reads
    // the builds, and a scan decodes every cached Job.
    if (!slot_freed_.exchange(false)) return;
    std::lock_guard resume_lock(resume_mu_);
    int running = 0;
    std::vector<std::pair<std::string, std::string>> queued;  // (creationTimestamp, ns/name)
    std::set<std::string> still_suspended;                    // resumed_ the cache lags behind
    for (auto& w : watches_) {
        w.jobs->for_each([&](const json& j) {
            if (finished(j)) return;
            const std::string key = runtime::key_of(j);
            if (!suspended(j)) {
                ++running;
            } else if (resumed_.count(key)) {
                still_suspended.insert(key);
            } else {
                queued.emplace_back(json_util::string_at(j, {"metadata", "creationTimestamp"}),
                                    key);
            }
        });
    }
    // A resumed Job the cache shows resumed, finished or gone is counted above or not at all.
    resumed_ = std::move(still_suspended);
    {
        std::lock_guard lock(mu_);
        running += static_cast<int>(created_.size());
    }
    running += static_cast<int>(resumed_.size());
    std::sort(queued.begin(), queued.end());
    for (const auto& [created, key] : queued) {
        if (running >= options_.max_concurrent) break;
        auto k = kube::ObjectKey::parse(key);
        auto r = client_.patch(kube::resources::jobs().in(k.namespace_).named(k.name),
                               kube::PatchType::merge, json{{"spec", {{"suspend", false}}}});
        if (!r) {
            if (!kube::is_not_found(r.error())) {
                slot_freed_ = true;  // try again at the next read of the builds
                POETRYOPS_LOG(warn, "cannot resume a queued build Job",
                              {{"job", key}, {"error", log::redact(r.error().message)}});
            }
            continue;
        }
        resumed_.insert(key);
        ++running;
        POETRYOPS_LOG(info, "build resumed", {{"job", key}});
    }
}

}  // namespace poetryops::controller

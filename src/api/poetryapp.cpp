#include <poetryops/api/poetryapp.hpp>

#include <poetryops/util/strings.hpp>

#include <algorithm>

namespace poetryops::api {

bool EnvironmentSpec::needs_approval() const {
    return promotion.approval.required || !promotion.auto_promote;
}

bool NotificationSpec::wants(NotificationEvent e) const {
    return std::find(events.begin(), events.end(), e) != events.end();
}

std::vector<NotificationEvent> NotificationSpec::all_notification_events() {
    return {NotificationEvent::promoted,       NotificationEvent::waiting_for_approval,
            NotificationEvent::held,           NotificationEvent::build_failed,
            NotificationEvent::canary_aborted, NotificationEvent::rolled_back};
}

bool EnvironmentStatus::rejected(std::string_view digest) const {
    return std::find(rejected_digests.begin(), rejected_digests.end(), digest) !=
           rejected_digests.end();
}

std::string ApprovalRecord::who() const {
    // A user name is the API server's (or a manager's) string: anything that would break a
    // trailer line becomes '?'.
    std::string user = approver.empty() ? "unknown" : approver;
    for (char& c : user) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    }
    return user + " (" + std::string(to_string(source)) + ")";
}

std::string PoetryApp::annotation(std::string_view prefix, std::string_view env) const {
    auto it = metadata.annotations.find(std::string(prefix) + std::string(env));
    return it == metadata.annotations.end() ? std::string() : std::string(str::trim(it->second));
}

std::string UpdateSpec::effective_file() const {
    if (!file.empty()) return file;
    switch (kind) {
        case UpdateKind::kustomize: return "kustomization.yaml";
        case UpdateKind::helm: return "values.yaml";
        case UpdateKind::manifest: return "";
        case UpdateKind::auto_detect:  // not API values (enums.hpp)
        case UpdateKind::marker: return "";
    }
    return "";
}

std::string UpdateSpec::effective_tag_path() const { return tag.empty() ? "image.tag" : tag; }

MetricDirection MetricSpec::effective_direction() const {
    if (direction) return *direction;
    if (name == "success-rate") return MetricDirection::lower_is_worse;
    if (name == "latency-p99-ms") return MetricDirection::higher_is_worse;
    return MetricDirection::either;
}

std::string CanarySpec::effective_workload() const {
    return workload.empty() ? traffic.canary : workload;
}

HealthKind HealthSpec::kind() const {
    if (argocd) return HealthKind::argocd;
    if (flux) return HealthKind::flux;
    if (deployment) return HealthKind::deployment;
    return HealthKind::none;
}

std::optional<std::string> PoetryAppSpec::upstream_of(std::size_t i) const {
    if (i >= environments.size() || i == 0) return std::nullopt;
    const auto& from = environments[i].promotion.from;
    if (!from.empty()) return from;
    return environments[i - 1].name;
}

const EnvironmentSpec* PoetryAppSpec::find_environment(std::string_view name) const {
    for (const auto& e : environments) {
        if (e.name == name) return &e;
    }
    return nullptr;
}

EnvironmentStatus* PoetryAppStatus::find_environment(std::string_view name) {
    for (auto& e : environments) {
        if (e.name == name) return &e;
    }
    return nullptr;
}

const EnvironmentStatus* PoetryAppStatus::find_environment(std::string_view name) const {
    for (const auto& e : environments) {
        if (e.name == name) return &e;
    }
    return nullptr;
}

std::string PoetryApp::key() const {
    if (metadata.namespace_.empty()) return metadata.name;
    return metadata.namespace_ + "/" + metadata.name;
}

namespace {

// The canary the summary shows: one that runs (Progressing or Paused), else none.
const CanaryStatus* running_canary(const EnvironmentStatus* st) {
    if (!st || !st->canary) return nullptr;
    CanaryPhase phase = st->canary->phase;
    return phase == CanaryPhase::progressing || phase == CanaryPhase::paused ? &*st->canary
                                                                             : nullptr;
}

}  // namespace

std::string make_summary(const PoetryAppSpec& spec, const PoetryAppStatus& status) {
    std::string out;
    for (const auto& env : spec.environments) {
        if (!out.empty()) out += ' ';
        out += env.name;
        out += '=';
        const EnvironmentStatus* st = status.find_environment(env.name);
        const CanaryStatus* canary = running_canary(st);
        if (canary) {
            if (!canary->version.empty()) {
                out += canary->version;
            } else {
                out += canary->tag.empty() ? "-" : canary->tag;
            }
            out += "(canary " + std::to_string(canary->weight) + "%)";
        } else {
            out += (st && !st->version.empty()) ? st->version : "-";
        }
        if (st && st->phase == Phase::held) out += "(held)";
        if (st && st->phase == Phase::failed) out += "(failed)";
    }
    return out;
}

void record_history(PoetryAppStatus& status, HistoryEntry entry, int limit) {
    status.history.insert(status.history.begin(), std::move(entry));
    if (limit < 0) limit = 0;
    if (status.history.size() > static_cast<std::size_t>(limit))
        status.history.resize(static_cast<std::size_t>(limit));
}

}  // namespace poetryops::api

#include <poetryops/promote/health.hpp>

#include <nlohmann/json.hpp>

namespace poetryops::promote {

namespace {

using nlohmann::json;

std::string str_at(const json& j, const json::json_pointer& p) {
    if (!j.contains(p)) return {};
    const json& v = j.at(p);
    return v.is_string() ? v.get<std::string>() : std::string();
}

std::string short_sha(const std::string& s) { return s.substr(0, 12); }

const json* find_condition(const json& obj, const std::string& type) {
    auto p = json::json_pointer("/status/conditions");
    if (!obj.contains(p) || !obj.at(p).is_array()) return nullptr;
    for (const auto& c : obj.at(p)) {
        if (c.is_object() && c.value("type", "") == type) return &c;
    }
    return nullptr;
}

std::int64_t int_at(const json& j, const json::json_pointer& p, std::int64_t fallback) {
    if (!j.contains(p) || !j.at(p).is_number_integer()) return fallback;
    return j.at(p).get<std::int64_t>();
}

}  // namespace

HealthObservation argocd_health(const json& app, const ContainsCommit& contains) {
    std::string name = str_at(app, "/metadata/name"_json_pointer);
    std::vector<std::string> revisions;
    if (auto r = str_at(app, "/status/sync/revision"_json_pointer); !r.empty())
        revisions.push_back(r);
    auto multi = "/status/sync/revisions"_json_pointer;
    if (app.contains(multi) && app.at(multi).is_array()) {
        for (const auto& r : app.at(multi)) {
            if (r.is_string()) revisions.push_back(r.get<std::string>());
        }
    }
    std::string sync = str_at(app, "/status/sync/status"_json_pointer);
    std::string health = str_at(app, "/status/health/status"_json_pointer);
    std::string prefix = "Argo CD application " + name + ": ";
    bool ours = false;
    for (const auto& r : revisions) ours = ours || contains(r);
    if (!ours) {
        return {HealthState::unknown,
                prefix + (revisions.empty() ? std::string("no synced revision yet")
                                            : "synced to " + short_sha(revisions.front()) +
                                                  ", not yet our commit")};
    }
    if (health == "Degraded") {
        std::string msg = str_at(app, "/status/health/message"_json_pointer);
        return {HealthState::degraded, prefix + "Degraded" + (msg.empty() ? "" : ": " + msg)};
    }
    if (sync == "Synced" && health == "Healthy")
        return {HealthState::healthy, prefix + "Synced and Healthy"};
    return {HealthState::progressing, prefix + (sync.empty() ? "Unknown" : sync) + "/" +
                                          (health.empty() ? "Unknown" : health)};
}

std::string flux_revision_commit(const std::string& revision) {
    auto at = revision.find("@sha1:");
    if (at != std::string::npos) return revision.substr(at + 6);
    if (revision.rfind("sha1:", 0) == 0) return revision.substr(5);
    if (revision.find("sha256:") != std::string::npos) return {};
    auto slash = revision.rfind('/');
    return slash == std::string::npos ? revision : revision.substr(slash + 1);
}

HealthObservation flux_health(const json& ks, const ContainsCommit& contains) {
    std::string name = str_at(ks, "/metadata/name"_json_pointer);
    std::string prefix = "Flux Kustomization " + name + ": ";
    std::string applied = str_at(ks, "/status/lastAppliedRevision"_json_pointer);
    std::string commit = flux_revision_commit(applied);
    if (commit.empty() || !contains(commit)) {
        return {HealthState::unknown,
                prefix + (applied.empty() ? std::string("nothing applied yet")
                                          : "applied " + applied + ", not yet our commit")};
    }
    const json* ready = find_condition(ks, "Ready");
    std::string status = ready ? ready->value("status", "") : "";
    std::string reason = ready ? ready->value("reason", "") : "";
    std::string message = ready ? ready->value("message", "") : "";
    if (status == "True") return {HealthState::healthy, prefix + "Ready"};
    if (status == "False" && (reason == "HealthCheckFailed" || reason == "ReconciliationFailed" ||
                              reason == "BuildFailed")) {
        return {HealthState::degraded, prefix + reason + (message.empty() ? "" : ": " + message)};
    }
    return {HealthState::progressing,
            prefix + (reason.empty() ? std::string("not Ready yet") : reason)};
}

HealthObservation deployment_health(const json& d, const std::string& repository,
                                    const std::string& digest) {
    std::string name = str_at(d, "/metadata/name"_json_pointer);
    std::string prefix = "Deployment " + name + ": ";
    auto containers = "/spec/template/spec/containers"_json_pointer;
    int matching = 0;
    if (d.contains(containers) && d.at(containers).is_array()) {
        for (const auto& c : d.at(containers)) {
            std::string image = c.value("image", "");
            std::string repo = image.substr(0, image.find('@'));
            // Drop a tag (a ':' after the last '/'), keep a registry port.
            auto slash = repo.rfind('/');
            auto colon = repo.rfind(':');
            if (colon != std::string::npos && (slash == std::string::npos || colon > slash))
                repo.resize(colon);
            if (repo != repository) continue;
            ++matching;
            if (image.find("@" + digest) == std::string::npos) {
                return {HealthState::unknown,
                        prefix + "container " + c.value("name", "") + " runs " + image};
            }
        }
    }
    if (matching == 0) return {HealthState::unknown, prefix + "no container runs " + repository};
    std::int64_t generation = int_at(d, "/metadata/generation"_json_pointer, 0);
    std::int64_t observed = int_at(d, "/status/observedGeneration"_json_pointer, -1);
    std::int64_t desired = int_at(d, "/spec/replicas"_json_pointer, 1);
    std::int64_t updated = int_at(d, "/status/updatedReplicas"_json_pointer, 0);
    std::int64_t ready = int_at(d, "/status/readyReplicas"_json_pointer, 0);
    std::int64_t available = int_at(d, "/status/availableReplicas"_json_pointer, 0);
    std::int64_t total = int_at(d, "/status/replicas"_json_pointer, 0);
    if (observed < generation)
        return {HealthState::progressing, prefix + "new generation not observed yet"};
    if (const json* p = find_condition(d, "Progressing");
        p && p->value("status", "") == "False" &&
        p->value("reason", "") == "ProgressDeadlineExceeded") {
        return {HealthState::degraded,
                prefix + "ProgressDeadlineExceeded: " + p->value("message", "")};
    }
    if (updated == desired && ready == desired && available == desired && total == desired) {
        return {HealthState::healthy, prefix + std::to_string(desired) + "/" +
                                          std::to_string(desired) +
                                          " replicas updated and available"};
    }
    return {HealthState::progressing, prefix + std::to_string(updated) + " updated, " +
                                          std::to_string(available) + " available of " +
                                          std::to_string(desired)};
}

void trim_for_health(json& object) {
    if (!object.is_object()) return;
    auto keep = [](const json& from, std::initializer_list<const char*> keys) {
        json out = json::object();
        if (!from.is_object()) return out;
        for (const char* k : keys) {
            if (auto it = from.find(k); it != from.end()) out[k] = *it;
        }
        return out;
    };
    json trimmed = keep(object, {"apiVersion", "kind"});
    if (auto m = object.find("metadata"); m != object.end()) {
        trimmed["metadata"] =
            keep(*m, {"name", "namespace", "generation", "resourceVersion", "uid"});
    }
    if (auto s = object.find("spec"); s != object.end() && s->is_object()) {
        json spec = keep(*s, {"replicas"});
        auto containers = "/template/spec/containers"_json_pointer;
        if (s->contains(containers) && s->at(containers).is_array()) {
            json cs = json::array();
            for (const auto& c : s->at(containers)) cs.push_back(keep(c, {"name", "image"}));
            spec["template"]["spec"]["containers"] = std::move(cs);
        }
        trimmed["spec"] = std::move(spec);
    }
    if (auto st = object.find("status"); st != object.end() && st->is_object()) {
        json status = keep(
            *st, {"health", "conditions", "lastAppliedRevision", "observedGeneration", "replicas",
                  "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"});
        if (auto sync = st->find("sync"); sync != st->end()) {
            status["sync"] = keep(*sync, {"status", "revision", "revisions"});
        }
        trimmed["status"] = std::move(status);
    }
    object = std::move(trimmed);
}

}  // namespace poetryops::promote

#include <poetryops/kube/events.hpp>

#include <poetryops/kube/status.hpp>
#include <poetryops/util/log.hpp>
#include <poetryops/util/strings.hpp>

#include <unistd.h>

#include <cstdio>
#include <random>

namespace poetryops::kube {
namespace {

std::string meta(const nlohmann::json& o, const char* key) {
    auto md = o.find("metadata");
    if (md == o.end() || !md->is_object()) return {};
    auto it = md->find(key);
    return it != md->end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string field(const nlohmann::json& o, const char* key) {
    auto it = o.find(key);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string unique_suffix() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    char buf[24];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
    return buf;
}

}  // namespace

EventRecorder::EventRecorder(KubeClient& client, EventRecorderOptions options, const Clock& clock)
    : client_(client), options_(std::move(options)), clock_(clock) {
    if (options_.instance.empty()) {
        char host[256] = {0};
        if (gethostname(host, sizeof host - 1) == 0) options_.instance = host;
    }
}

std::uint64_t EventRecorder::created() const {
    std::lock_guard lock(mu_);
    return created_;
}

std::uint64_t EventRecorder::patched() const {
    std::lock_guard lock(mu_);
    return patched_;
}

bool EventRecorder::create(const nlohmann::json& object, EventType type, const std::string& reason,
                           const std::string& message, Entry& entry) {
    std::string ns = meta(object, "namespace");
    if (ns.empty()) ns = "default";  // events about cluster-scoped objects live in "default"
    std::string now = format_rfc3339(clock_.now());
    std::string name = meta(object, "name") + "." + unique_suffix();
    nlohmann::json ev = {
        {"apiVersion", "v1"},
        {"kind", "Event"},
        {"metadata", {{"name", name}, {"namespace", ns}}},
        {"involvedObject",
         {{"apiVersion", field(object, "apiVersion")},
          {"kind", field(object, "kind")},
          {"name", meta(object, "name")},
          {"namespace", meta(object, "namespace")},
          {"uid", meta(object, "uid")},
          {"resourceVersion", meta(object, "resourceVersion")}}},
        {"reason", reason},
        {"message", message},
        {"type", type == EventType::warning ? "Warning" : "Normal"},
        {"count", 1},
        {"firstTimestamp", now},
        {"lastTimestamp", now},
        {"source", {{"component", options_.component}}},
        {"reportingComponent", options_.component},
        {"reportingInstance", options_.instance},
    };
    auto r = client_.create(resources::events().in(ns), ev);
    if (!r) {
        POETRYOPS_LOG(
            warn, "could not record an event",
            {{"object", key_string(object)}, {"reason", reason}, {"error", r.error().message}});
        return false;
    }
    entry.event_name = name;
    entry.event_namespace = ns;
    entry.count = 1;
    return true;
}

std::string EventRecorder::key_string(const nlohmann::json& object) {
    std::string ns = meta(object, "namespace");
    return (ns.empty() ? "" : ns + "/") + meta(object, "name");
}

void EventRecorder::record(const nlohmann::json& object, EventType type, const std::string& reason,
                           const std::string& raw_message) {
    std::string message = log::redact(raw_message);
    if (message.size() > 1024) message = message.substr(0, 1021) + "...";
    std::string uid = meta(object, "uid");
    std::string key = field(object, "kind") + "\x1f" + key_string(object) + "\x1f" + uid + "\x1f" +
                      (type == EventType::warning ? "W" : "N") + "\x1f" + reason + "\x1f" + message;
    std::lock_guard lock(mu_);  // one event at a time keeps the count exact; events are rare
    auto it = cache_.find(key);
    if (it != cache_.end()) {
        Entry& e = it->second;
        lru_.splice(lru_.begin(), lru_, e.lru);
        nlohmann::json patch = {{"count", e.count + 1},
                                {"lastTimestamp", format_rfc3339(clock_.now())}};
        auto r = client_.patch(resources::events().in(e.event_namespace).named(e.event_name),
                               PatchType::merge, patch);
        if (r) {
            ++e.count;
            ++patched_;
            return;
        }
        if (!is_not_found(r.error())) {
            POETRYOPS_LOG(
                warn, "could not update an event",
                {{"object", key_string(object)}, {"reason", reason}, {"error", r.error().message}});
            return;
        }
        // The Event expired (events have a TTL): start a new one.
        if (create(object, type, reason, message, e)) ++created_;
        return;
    }
    Entry e;
    if (!create(object, type, reason, message, e)) return;
    ++created_;
    lru_.push_front(key);
    e.lru = lru_.begin();
    cache_.emplace(key, std::move(e));
    while (cache_.size() > options_.cache_size && !lru_.empty()) {
        cache_.erase(lru_.back());
        lru_.pop_back();
    }
}

}  // namespace poetryops::kube

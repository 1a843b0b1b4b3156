#pragma once
/// Kubernetes Events (core/v1) for what the controller decides, deduplicated like client-go's
/// EventCorrelator: the same object + type + reason + message within the cache's lifetime patches
/// the existing Event's `count` and `lastTimestamp` instead of creating a new one.
///
///   kube::EventRecorder events(client, {.component = "poetryops"});
///   events.record(app, kube::EventType::warning, "InvalidSpec",
///                 "spec.environments[1].promotion.from: ...");
///
/// Recording never fails the caller: API errors are logged (an Event is advisory).

#include <poetryops/kube/client.hpp>
#include <poetryops/util/clock.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

namespace poetryops::kube {

enum class EventType { normal, warning };

struct EventRecorderOptions {
    std::string component = "poetryops";  ///< source.component and reportingComponent
    std::string instance{};         ///< reportingInstance (e.g. the pod name); default: host name
    std::size_t cache_size = 4096;  ///< distinct events remembered for deduplication (LRU)
};

/// Thread safety: safe.
class EventRecorder {
public:
    EventRecorder(KubeClient& client, EventRecorderOptions options = {},
                  const Clock& clock = SystemClock::instance());

    /// Records an event about `object` (any object with apiVersion, kind and metadata). The message
    /// is redacted.
    void record(const nlohmann::json& object, EventType type, const std::string& reason,
                const std::string& message);

    /// Events created / patched so far (for tests and metrics).
    std::uint64_t created() const;
    std::uint64_t patched() const;

private:
    struct Entry {
        std::string event_name;
        std::string event_namespace;
        std::int64_t count = 0;
        std::list<std::string>::iterator lru;
    };

    static std::string key_string(const nlohmann::json& object);
    bool create(const nlohmann::json& object, EventType type, const std::string& reason,
                const std::string& message, Entry& entry);

    KubeClient& client_;
    EventRecorderOptions options_;
    const Clock& clock_;
    mutable std::mutex mu_;
    std::unordered_map<std::string, Entry> cache_;
    std::list<std::string> lru_;
    std::uint64_t created_ = 0, patched_ = 0;
};

}  // namespace poetryops::kube

#pragma once
/// Informer: a reflector (list, then watch from the list's resourceVersion, resume on reconnect, relist on
/// 410/Expired or garbage, backoff with jitter) feeding a cache keyed `namespace/name`, and event handlers.
///
///   kube::Informer apps(client, {.resource = kube::resources::poetryapps()});
///   apps.add_handler({.on_add = [&](const nlohmann::json& o) { queue.add(kube::key_of(o)); }, ...});
///   apps.start();
///   apps.wait_for_sync(std::chrono::seconds(30));
///   auto app = apps.get("team-a/billing");   // shared, immutable snapshot; null when absent
///
/// Handlers are called one at a time (never concurrently), from the reflector thread or the resync timer, after the
/// cache was updated. They must be quick (enqueue a key) and must not call stop().

#include <poetryops/kube/client.hpp>
#include <poetryops/util/clock.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace poetryops::kube {

/// "namespace/name" (or "name" for cluster-scoped objects) from an object's metadata; "" when it has no name.
std::string key_of(const nlohmann::json& object);

struct ResourceEventHandler {
    std::function<void(const nlohmann::json& object)> on_add;
    /// Also called by resync with old == new.
    std::function<void(const nlohmann::json& old_object, const nlohmann::json& new_object)> on_update;
    /// With the last state known (from the DELETED event, or from the cache when a relist found it gone).
    std::function<void(const nlohmann::json& object)> on_delete;
};

struct InformerOptions {
    ResourceRef resource;                      ///< collection; namespace_ empty: all namespaces
    std::string label_selector;
    std::string field_selector;
    /// Every `resync`, on_update(o, o) for every cached object (0: never).
    std::chrono::milliseconds resync{0};
    std::int64_t page_size = 500;              ///< list page size (limit/continue)
    int watch_timeout_seconds = 0;             ///< 0: random 300–600 s per watch
    std::chrono::milliseconds idle_timeout{std::chrono::seconds(150)};  ///< half-open watch detection
    std::chrono::milliseconds backoff_base{800};
    std::chrono::milliseconds backoff_max{std::chrono::seconds(30)};
};

/// Thread safety: safe. The cache returns immutable shared snapshots.
class Informer {
public:
    using ObjectPtr = std::shared_ptr<const nlohmann::json>;

    Informer(KubeClient& client, InformerOptions options, const Clock& clock = SystemClock::instance());
    ~Informer();  ///< stop()
    Informer(const Informer&) = delete;
    Informer& operator=(const Informer&) = delete;

    /// Registers handlers. A handler added after objects are cached first receives on_add for each of them.
    void add_handler(ResourceEventHandler handler);
    /// Starts the reflector thread (idempotent).
    void start();
    /// Stops the reflector (cancels an open watch) and joins it. Idempotent.
    void stop();

    /// True once the first list has been stored and its handlers called.
    bool has_synced() const { return synced_.load(); }
    /// Waits until has_synced() or the timeout (real time).
    bool wait_for_sync(std::chrono::milliseconds timeout) const;

    ObjectPtr get(const std::string& key) const;
    std::vector<ObjectPtr> list() const;
    std::size_t size() const;
    /// The resourceVersion the next watch resumes from.
    std::string resource_version() const;

    /// Full lists performed (1 after the initial sync; more after 410 or garbage).
    std::uint64_t lists() const { return lists_.load(); }
    /// Watches opened.
    std::uint64_t watches() const { return watches_.load(); }
    const InformerOptions& options() const { return options_; }

private:
    void run();
    bool relist();
    void watch_once(bool& need_list, bool& backoff);
    void apply_event(WatchEvent&& ev);
    bool sleep_for(std::chrono::milliseconds d);
    void resync_loop();
    void dispatch(const std::function<void(const ResourceEventHandler&)>& f);

    KubeClient& client_;
    InformerOptions options_;
    const Clock& clock_;

    mutable std::mutex mu_;  // store, rv
    std::unordered_map<std::string, ObjectPtr> store_;
    std::string rv_;

    std::mutex handlers_mu_;  // serialises handler calls and the handler list
    std::vector<ResourceEventHandler> handlers_;

    mutable std::mutex state_mu_;  // stop flag, current watch, condition variable
    mutable std::condition_variable cv_;
    bool stopping_ = false;
    WatchStream* current_watch_ = nullptr;
    std::atomic<bool> synced_{false};
    std::atomic<std::uint64_t> lists_{0}, watches_{0};
    std::thread thread_;
    std::thread resync_thread_;
};

}  // namespace poetryops::kube

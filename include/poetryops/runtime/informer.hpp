#pragma once
/// Informer: a reflector (list, then watch from the list's resourceVersion, resume on reconnect,
/// relist on 410/Expired or garbage, backoff with jitter) feeding a cache keyed `namespace/name`,
/// and event handlers.
///
///   runtime::Informer apps(client, {.resource = kube::resources::configmaps()});
///   apps.add_handler({.on_add = [&](const nlohmann::json& o) { queue.add(runtime::key_of(o)); },
///                     ...});
///   apps.start();
///   apps.wait_for_sync(std::chrono::seconds(30));
///   auto app = apps.get("team-a/billing");  // shared, immutable snapshot; null when absent
///
/// Handlers are called one at a time (never concurrently), from the reflector thread or the resync
/// timer, after the cache was updated. They must be quick (enqueue a key) and must not call stop().
///
/// Memory: the cache keeps each object compact (MessagePack bytes, after
/// `InformerOptions::transform`, which by default drops metadata.managedFields), not as a JSON DOM:
/// ~0.9 KiB instead of ~8.7 KiB for a PoetryApp. get() decodes one object per call; for_each()
/// decodes one object at a time; list() decodes everything at once. The initial list is consumed
/// page by page (KubeClient::list_pages), so only one page is ever held as DOMs.

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
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace poetryops::runtime {

/// "namespace/name" (or "name" for cluster-scoped objects) from an object's metadata; "" when it
/// has no name.
std::string key_of(const nlohmann::json& object);

/// Removes metadata.managedFields (client-go's TransformStripManagedFields). API servers add them
/// for server-side apply bookkeeping; controllers rarely read them and they are often the largest
/// part of an object.
void strip_managed_fields(nlohmann::json& object);

/// Rewrites an object before the informer caches it and before handlers see it (client-go's
/// SetTransform).
using TransformFunc = std::function<void(nlohmann::json& object)>;
/// The values an object is indexed under (client-go's IndexFunc); empty: not indexed.
using IndexFunc = std::function<std::vector<std::string>(const nlohmann::json& object)>;

struct ResourceEventHandler {
    std::function<void(const nlohmann::json& object)> on_add;
    /// Also called by resync with old == new.
    std::function<void(const nlohmann::json& old_object, const nlohmann::json& new_object)>
        on_update;
    /// With the last state known (from the DELETED event, or from the cache when a relist found it
    /// gone).
    std::function<void(const nlohmann::json& object)> on_delete;
};

struct InformerOptions {
    kube::ResourceRef resource;  ///< collection; namespace_ empty: all namespaces
    std::string label_selector{};
    std::string field_selector{};
    /// Every `resync`, on_update(o, o) for every cached object (0: never).
    std::chrono::milliseconds resync{0};
    std::int64_t page_size = 500;   ///< list page size (limit/continue)
    int watch_timeout_seconds = 0;  ///< 0: random 300–600 s per watch
    std::chrono::milliseconds idle_timeout{
        std::chrono::seconds(150)};  ///< half-open watch detection
    std::chrono::milliseconds backoff_base{800};
    std::chrono::milliseconds backoff_max{std::chrono::seconds(30)};
    /// Applied to every listed and watched object (also deleted ones) before it is cached and
    /// before handlers see it. Default: strip_managed_fields. Null: cache objects exactly as the
    /// server sent them. An exception thrown by the transform is logged and the object is cached as
    /// it is at that point.
    TransformFunc transform = strip_managed_fields;
};

/// Thread safety: safe. The cache returns immutable shared snapshots.
class Informer {
public:
    using ObjectPtr = std::shared_ptr<const nlohmann::json>;

    Informer(kube::KubeClient& client, InformerOptions options,
             const Clock& clock = SystemClock::instance());
    ~Informer();  ///< stop()
    Informer(const Informer&) = delete;
    Informer& operator=(const Informer&) = delete;

    /// Registers handlers. A handler added after objects are cached first receives on_add for each
    /// of them.
    void add_handler(ResourceEventHandler handler);
    /// Starts the reflector thread (idempotent).
    void start();
    /// Stops the reflector (cancels an open watch) and joins it. Idempotent.
    void stop();

    /// True once the first list has been stored and its handlers called.
    bool has_synced() const { return synced_.load(); }
    /// Waits until has_synced() or the timeout (real time).
    bool wait_for_sync(std::chrono::milliseconds timeout) const;

    /// Adds a secondary index (client-go's Indexers) so lookups by a field need no decoding of the
    /// cache. Only before start(); false (and nothing changes) once started or when `name` is
    /// taken.
    bool add_index(const std::string& name, IndexFunc index);
    /// Keys of the cached objects that `name`'s IndexFunc mapped to `value` (sorted; empty for an
    /// unknown index).
    std::vector<std::string> index_keys(const std::string& name, const std::string& value) const;
    /// Every value of index `name` that at least one cached object has (sorted).
    std::vector<std::string> index_values(const std::string& name) const;

    /// The cached object, decoded into a fresh immutable DOM (one decode per call, ~8 µs and ~8 KiB
    /// for a PoetryApp; the pointer is the caller's to keep); null when absent.
    ObjectPtr get(const std::string& key) const;
    /// Every cached object decoded at once: n DOMs alive together, ~10x the cache's own memory.
    /// Prefer for_each() (one DOM at a time), keys() or an index.
    std::vector<ObjectPtr> list() const;
    /// Calls `fn` for every object cached when the call starts, decoding one at a time. `fn` runs
    /// without the cache lock (it may call get()); objects changed meanwhile are seen as they were
    /// at the start.
    void for_each(const std::function<void(const nlohmann::json& object)>& fn) const;
    /// Keys of every cached object (no decoding).
    std::vector<std::string> keys() const;
    std::size_t size() const;
    /// The resourceVersion the next watch resumes from.
    std::string resource_version() const;

    /// Full lists performed (1 after the initial sync; more after 410 or garbage).
    std::uint64_t lists() const { return lists_.load(); }
    /// Watches opened.
    std::uint64_t watches() const { return watches_.load(); }
    const InformerOptions& options() const { return options_; }

private:
    struct Entry;
    using EntryPtr = std::shared_ptr<const Entry>;
    using Store = std::unordered_map<std::string, EntryPtr>;
    struct Index {
        std::string name;
        IndexFunc fn;
        std::unordered_map<std::string, std::set<std::string>> keys_by_value;  // guarded by mu_
    };

    void run();
    bool relist();
    void watch_once(bool& need_list, bool& backoff);
    /// A failed list or watch: logged once per distinct error (a missing CRD, an API server that is
    /// down), repeats at debug, so a failure that lasts hours is one line, not one per backoff
    /// step.
    void report_failure(std::string_view what, const Error& error);
    void report_recovery();
    void apply_event(kube::WatchEvent&& ev);
    bool sleep_for(std::chrono::milliseconds d);
    void resync_loop();
    void dispatch(const std::function<void(const ResourceEventHandler&)>& f);
    void call_handlers(
        const std::function<void(const ResourceEventHandler&)>& f);  // handlers_mu_ held
    void transform(nlohmann::json& object) const;
    EntryPtr make_entry(const nlohmann::json& object) const;
    std::vector<EntryPtr> snapshot() const;
    void index_add(const std::string& key, const Entry& entry);     // mu_ held
    void index_remove(const std::string& key, const Entry& entry);  // mu_ held

    kube::KubeClient& client_;
    InformerOptions options_;
    const Clock& clock_;

    mutable std::mutex mu_;  // store, rv, index contents
    Store store_;
    std::string rv_;
    std::vector<Index> indexes_;  // the list is fixed once started

    std::mutex handlers_mu_;  // serialises handler calls and the handler list
    std::vector<ResourceEventHandler> handlers_;

    mutable std::mutex state_mu_;  // stop flag, current watch, condition variable
    mutable std::condition_variable cv_;
    bool stopping_ = false;
    kube::WatchStream* current_watch_ = nullptr;
    std::atomic<bool> synced_{false};
    std::atomic<std::uint64_t> lists_{0}, watches_{0};
    std::string last_failure_;    // informer thread only
    std::uint64_t failures_ = 0;  // repeats of last_failure_
    std::thread thread_;
    std::thread resync_thread_;
};

}  // namespace poetryops::runtime

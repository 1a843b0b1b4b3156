#pragma once
/// The fake API server's in-memory store: objects, the resourceVersion counter, the watch history
/// and the write semantics (see fake_apiserver.hpp). Private to tests/kube.

#include "kube/fake_apiserver.hpp"

#include <poetryops/kube/label_selector.hpp>

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace poetryops::kube::fake {

/// An HTTP status and a JSON body (the object, a list, or a Status).
struct StoreResult {
    int status = 200;
    nlohmann::json body;
};

/// A Status body, as the API server sends it.
nlohmann::json status_body(int code, const std::string& reason, const std::string& message);
StoreResult error_result(int code, const std::string& reason, const std::string& message);

struct HistoryEvent {
    std::int64_t rv = 0;
    std::string type_key;
    std::string ns;
    std::string type;  ///< ADDED, MODIFIED, DELETED
    std::shared_ptr<const nlohmann::json> object;
    std::string line;  ///< the serialized watch event, with '\n'
};

struct Selectors {
    LabelSelector labels;
    std::string field_name;       ///< metadata.name=
    std::string field_namespace;  ///< metadata.namespace=
    bool matches(const nlohmann::json& object) const;
};
Result<Selectors> parse_selectors(const std::string& label_selector,
                                  const std::string& field_selector);

class Store {
public:
    explicit Store(std::size_t history);

    void register_type(ResourceType type);
    /// By group and plural (any version).
    std::optional<ResourceType> find_type(const std::string& group,
                                          const std::string& plural) const;
    static std::string type_key(const ResourceType& t) {
        return t.gvr.group + "/" + t.gvr.resource;
    }

    StoreResult get(const ResourceType& t, const std::string& ns, const std::string& name) const;
    StoreResult list(const ResourceType& t, const std::string& ns, const Selectors& sel,
                     std::int64_t limit, const std::string& continue_token) const;
    StoreResult create(const ResourceType& t, const std::string& ns, nlohmann::json body);
    /// PUT. `status_only`: the status subresource.
    StoreResult update(const ResourceType& t, const std::string& ns, const std::string& name,
                       nlohmann::json body, bool status_only);
    StoreResult patch(const ResourceType& t, const std::string& ns, const std::string& name,
                      const std::string& content_type, const std::string& body,
                      const std::string& field_manager, bool status_only);
    StoreResult remove(const ResourceType& t, const std::string& ns, const std::string& name,
                       const std::string& precondition_rv);

    // Watch support. Lock mu() around these.
    std::mutex& mu() const { return mu_; }
    std::condition_variable& cv() const { return cv_; }
    std::int64_t rv_locked() const { return rv_; }
    /// The oldest resourceVersion a watch may resume from (older → 410).
    std::int64_t oldest_rv_locked() const { return oldest_rv_; }
    /// History events with rv > after, for a type and namespace ("" = all).
    std::vector<std::shared_ptr<const HistoryEvent>> events_after_locked(
        std::int64_t after, const std::string& key, const std::string& ns) const;
    /// Current objects of a type in a namespace ("" = all), sorted by key.
    std::vector<std::shared_ptr<const nlohmann::json>> snapshot_locked(const std::string& key,
                                                                       const std::string& ns) const;
    /// Forget the history: everything up to the current version is too old.
    void expire();
    std::int64_t rv() const;
    std::size_t count(const std::string& key) const;

private:
    StoreResult write_locked(const ResourceType& t, const std::string& ns, const std::string& name,
                             nlohmann::json next, const nlohmann::json* prev, bool status_only);
    void record_locked(const ResourceType& t, const std::string& ns, const char* type,
                       nlohmann::json object);
    bool namespace_exists_locked(const std::string& ns) const;
    void on_crd_locked(const nlohmann::json& crd);

    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    std::map<std::string, ResourceType> types_;
    std::map<std::string, std::map<std::string, std::shared_ptr<const nlohmann::json>>> objects_;
    std::deque<std::shared_ptr<const HistoryEvent>> history_;
    std::size_t history_limit_;
    std::int64_t rv_ = 1;
    std::int64_t oldest_rv_ = 1;
    std::uint64_t uid_seq_ = 0;
};

}  // namespace poetryops::kube::fake

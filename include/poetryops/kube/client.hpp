#pragma once
/// The Kubernetes API client: `KubeClient` is the seam (the controller runtime and poetryops use
/// only it), `RestClient` the implementation over poetryops::http.
///
/// Objects stay `nlohmann::json`: we never type (and so never drop fields of) objects we do not
/// own. Write them with merge patches, JSON patches or server-side apply rather than whole updates.
///
///   POETRYOPS_TRY(auto cfg, kube::load_config({.kubeconfig = path}));
///   POETRYOPS_TRY(auto client, kube::RestClient::create(cfg, {.metrics = &registry}));
///   auto app = client->get(kube::resources::configmaps().in("team-a").named("billing"));
///   if (!app && kube::is_not_found(app.error())) ...
///
/// Errors are mapped from the API's Status (see status.hpp); transport failures keep http's kinds.

#include <poetryops/kube/config.hpp>
#include <poetryops/kube/resource.hpp>
#include <poetryops/kube/watch_decoder.hpp>
#include <poetryops/util/clock.hpp>
#include <poetryops/util/result.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace poetryops::metrics {
class MetricsRegistry;
}  // namespace poetryops::metrics

namespace poetryops::kube {

struct ListOptions {
    std::string label_selector{};
    std::string field_selector{};
    std::int64_t limit = 0;          ///< page size; 0: the server's choice (everything)
    std::string continue_token{};    ///< from the previous page's ObjectList::continue_token
    std::string resource_version{};  ///< "" (most recent, quorum read) or "0" (any cached version)
};

struct ObjectList {
    std::vector<nlohmann::json> items;
    std::string resource_version{};  ///< of the list: start a watch here
    std::string continue_token{};    ///< non-empty when more pages follow
};

enum class PatchType {
    merge,      ///< application/merge-patch+json (RFC 7386)
    json,       ///< application/json-patch+json (RFC 6902), body is an array of operations
    strategic,  ///< application/strategic-merge-patch+json (built-in types only)
    apply,      ///< application/apply-patch+yaml: server-side apply; needs a field manager
};

struct PatchOptions {
    std::string field_manager;  ///< required for apply
    bool force = false;         ///< apply: take ownership of conflicting fields
};

struct DeleteOptions {
    /// "Foreground", "Background", "Orphan" or "" (server default)
    std::string propagation_policy;
    std::string precondition_resource_version{};
};

/// GET pods/NAME/log: the tail of one container's log.
struct LogOptions {
    std::string container;         ///< required when the Pod has more than one container
    std::int64_t tail_lines = 0;   ///< 0: the whole log
    std::int64_t limit_bytes = 0;  ///< 0: no limit (the server stops at this many bytes)
    bool previous = false;         ///< the previous, terminated instance of the container
};

struct WatchOptions {
    /// resume after this version ("" : start with the current state)
    std::string resource_version{};
    std::string label_selector{};
    std::string field_selector{};
    int timeout_seconds = 0;  ///< server-side end of the watch; 0: random in [300, 600] (client-go)
    bool allow_bookmarks = true;
    /// No byte for this long → the connection is considered half-open and the watch fails with
    /// Kind::timeout. Servers send BOOKMARKs about every minute when bookmarks are allowed.
    std::chrono::milliseconds idle_timeout{std::chrono::seconds(150)};
};

/// An open watch. Thread safety: next() from one thread; cancel() from any thread.
class WatchStream {
public:
    virtual ~WatchStream() = default;
    /// Blocks for the next event. nullopt: the server ended the watch normally (resume from the
    /// last resourceVersion seen). An ERROR event in the stream is returned as the Error it carries
    /// (a 410 Expired → is_gone()); undecodable bytes → Kind::decode (relist); a silent connection
    /// → Kind::timeout.
    virtual Result<std::optional<WatchEvent>> next() = 0;
    /// Ends the watch promptly from another thread; next() then fails with reason "Cancelled".
    virtual void cancel() = 0;
};

/// The Kubernetes API as the controller runtime needs it. `ref` addresses a collection (name empty)
/// or an object; `ref.subresource = "status"` targets the status subresource. Thread safety:
/// implementations are safe.
class KubeClient {
public:
    virtual ~KubeClient() = default;
    virtual Result<nlohmann::json> get(const ResourceRef& ref) = 0;
    /// One page. `ref.namespace_` empty lists across namespaces. Every item carries apiVersion and
    /// kind (filled in from the list where the server leaves them out, as a real one does for
    /// built-in types).
    virtual Result<ObjectList> list(const ResourceRef& ref, const ListOptions& options = {}) = 0;
    /// POST to the collection of `ref` (its name is ignored; the object's metadata.name is used).
    virtual Result<nlohmann::json> create(const ResourceRef& ref, const nlohmann::json& object) = 0;
    /// PUT: optimistic concurrency through metadata.resourceVersion (409 Conflict when stale).
    virtual Result<nlohmann::json> update(const ResourceRef& ref, const nlohmann::json& object) = 0;
    /// PATCH with the given content type. For PatchType::json `patch` is an array of operations.
    virtual Result<nlohmann::json> patch(const ResourceRef& ref, PatchType type,
                                         const nlohmann::json& patch,
                                         const PatchOptions& options = {}) = 0;
    virtual Result<void> remove(const ResourceRef& ref, const DeleteOptions& options = {}) = 0;
    virtual Result<std::unique_ptr<WatchStream>> watch(const ResourceRef& ref,
                                                       const WatchOptions& options) = 0;
    /// The log of a container of the Pod `pod` (pods/log; needs `get` on pods/log). The default
    /// fails (Kind::internal, reason "Unsupported"): test doubles that never read logs need not
    /// implement it.
    virtual Result<std::string> logs(const ResourceRef& pod, const LogOptions& options);

    /// PUT to the status subresource.
    Result<nlohmann::json> update_status(const ResourceRef& ref, const nlohmann::json& object);
    /// Server-side apply of `object` (apiVersion, kind, metadata.name set) as `field_manager`.
    Result<nlohmann::json> apply(const ResourceRef& ref, const nlohmann::json& object,
                                 const std::string& field_manager, bool force = false);
    /// Every page of a list (following continue tokens); the result's resource_version is the last
    /// page's. Holds every item at once; to consume a large list page by page use list_pages().
    Result<ObjectList> list_all(const ResourceRef& ref, ListOptions options = {});
    /// Fetches a list one page at a time (`options.limit` per page, following continue tokens) and
    /// hands each page to `on_page` before the next is requested, so a caller that converts or
    /// drops the items holds one page at most. `on_page` may move the items out. Stops at the first
    /// error (a failed request or `on_page`'s error). Returns the last page's resourceVersion
    /// (start a watch there).
    Result<std::string> list_pages(const ResourceRef& ref, ListOptions options,
                                   const std::function<Result<void>(ObjectList& page)>& on_page);
};

struct RestClientOptions {
    metrics::MetricsRegistry* metrics = nullptr;  ///< rest_client_requests_total{code,method,host}
    const Clock* clock = nullptr;                 ///< token-file refresh; null: SystemClock
    std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
    std::string user_agent = "poetryops/0.1";
};

/// KubeClient over HTTP(S). Thread safety: safe.
class RestClient final : public KubeClient {
public:
    /// Fails when the TLS material in `config` does not load (the message names it).
    static Result<std::unique_ptr<RestClient>> create(const KubeConfig& config,
                                                      RestClientOptions options = {});
    ~RestClient() override;

    Result<nlohmann::json> get(const ResourceRef& ref) override;
    Result<ObjectList> list(const ResourceRef& ref, const ListOptions& options = {}) override;
    Result<nlohmann::json> create(const ResourceRef& ref, const nlohmann::json& object) override;
    Result<nlohmann::json> update(const ResourceRef& ref, const nlohmann::json& object) override;
    Result<nlohmann::json> patch(const ResourceRef& ref, PatchType type,
                                 const nlohmann::json& patch,
                                 const PatchOptions& options = {}) override;
    Result<void> remove(const ResourceRef& ref, const DeleteOptions& options = {}) override;
    Result<std::unique_ptr<WatchStream>> watch(const ResourceRef& ref,
                                               const WatchOptions& options) override;
    Result<std::string> logs(const ResourceRef& pod, const LogOptions& options) override;

    /// A raw request against the API server (path + query); returns the body of a 2xx response,
    /// else the Status error. For endpoints the typed calls do not cover (e.g. /version, /readyz).
    Result<std::string> raw(const std::string& method, const std::string& path_and_query,
                            const std::string& body = {}, const std::string& content_type = {});

    const KubeConfig& config() const;

    struct Impl;

private:
    explicit RestClient(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

/// Content-Type for a patch type.
const char* content_type(PatchType type);

}  // namespace poetryops::kube

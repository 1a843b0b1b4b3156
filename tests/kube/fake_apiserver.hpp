#pragma once
/// A fake Kubernetes API server, kept ONLY for what a real one cannot be made to do on demand: a
/// watch cut mid-event, a 410 or a 409 at a chosen moment, a 429/500 storm, a stalled response,
/// garbage in a stream, a token that stops being accepted. Everything else runs against the real
/// Kubernetes lane (a real kube-apiserver, etcd and kube-controller-manager:
/// tests/support/kube/cluster.hpp); a test that merely needs "an API server" must not use this. The
/// fault switches are fail_next(), stall_next(), drop_watches(), expire_history(),
/// garbage_in_watches() and set_token(). It also serves benchmarks that need a server without
/// etcd's cost as their floor.
///
/// HTTP(S) on 127.0.0.1, backed by an in-memory store that honours the documented API semantics the
/// kube module relies on:
///
/// * one global resourceVersion counter; every write bumps it; a no-op update does not
/// * PUT with a stale metadata.resourceVersion → 409 Conflict; POST of an existing name → 409
/// AlreadyExists;
///   missing object → 404 NotFound; namespaced writes into a missing namespace → 404 (namespace
///   "default" exists)
/// * metadata.generation starts at 1 and is bumped only when the spec (anything outside metadata
/// and status) changes
/// * status subresource (per resource type): PUT/PATCH …/status changes only status; a
/// main-resource write keeps
///   the stored status; create drops status
/// * list with labelSelector, fieldSelector (metadata.name, metadata.namespace), limit and continue
/// (the continue
///   token resumes after the last key; a token older than the retained history → 410 Expired)
/// * watch with resourceVersion ("" or "0": synthetic ADDED events first), allowWatchBookmarks (a
/// BOOKMARK every
///   bookmark_interval), timeoutSeconds, label selectors (applied to each event's object); a
///   resourceVersion older than the bounded history → 410 (as an ERROR event in a 200 stream, like
///   kube-apiserver, or as an HTTP 410)
/// * PATCH: merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge patch (treated as a
/// merge patch), and
///   server-side apply (application/apply-patch+yaml, JSON body): create-or-merge-patch; requires
///   fieldManager; never reports field conflicts (an approximation: no managedFields)
/// * DELETE: objects with finalizers get deletionTimestamp (and go when the last finalizer is
/// removed); no garbage
///   collection of owned objects, no namespace cascade
/// * built-in resources: namespaces, events, configmaps, secrets, pods, services, serviceaccounts,
///   coordination.k8s.io leases, events.k8s.io events, batch jobs (status subresource), apps
///   deployments (status), apiextensions.k8s.io customresourcedefinitions. Creating a CRD registers
///   its resources (plural, kind, scope, status subresource) so CRs work like on a real server.
///   OpenAPI schema validation is *not* done (the real lane covers it: tests/api/crd_it_test.cpp).
/// * list items carry no apiVersion/kind, like a real server's built-in lists (the client fills
/// them in)
/// * `Status` error bodies with reason, message and code.
///
/// Fault switches let tests break things on purpose: fail the next N requests with 409/429/500,
/// stall responses, drop open watches, expire resourceVersions (410 as HTTP or as an ERROR event),
/// write garbage into watch streams, require a bearer token (a changed token makes the old one
/// "expired": 401).

#include <poetryops/kube/config.hpp>
#include <poetryops/kube/resource.hpp>
#include <poetryops/util/result.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace poetryops::kube::fake {

struct FakeApiServerOptions {
    std::string token;            ///< non-empty: require "Authorization: Bearer <token>"
    std::string tls_cert_file{};  ///< serve HTTPS with this certificate (and key)
    std::string tls_key_file{};
    std::string ca_file{};  ///< put into config()/kubeconfig as the cluster CA
    /// watch events retained; older resourceVersions are "too old" (410)
    std::size_t history = 10000;
    std::chrono::milliseconds bookmark_interval{std::chrono::seconds(1)};
    std::size_t worker_threads = 24;  ///< each open watch holds one
};

/// How a resource type behaves.
struct ResourceType {
    ResourceRef gvr;  ///< group, version, resource (plural), cluster_scoped
    std::string kind;
    bool status_subresource = false;
};

/// Thread safety: safe; fault switches may be flipped while requests are in flight.
class FakeApiServer {
public:
    FakeApiServer();
    ~FakeApiServer();
    FakeApiServer(const FakeApiServer&) = delete;
    FakeApiServer& operator=(const FakeApiServer&) = delete;

    /// Listens on 127.0.0.1 (free port). Idempotent per instance.
    Result<void> start(FakeApiServerOptions options = {});
    void stop();

    /// "http://127.0.0.1:PORT" or https.
    std::string url() const;
    /// A KubeConfig pointing at this server (token and CA filled in), namespace "default".
    KubeConfig config() const;
    /// Writes a kubeconfig file for this server (context "fake").
    Result<void> write_kubeconfig(const std::filesystem::path& path) const;

    void register_type(ResourceType type);
    /// Creates a namespace (no-op when it exists).
    void ensure_namespace(const std::string& name);

    // Direct store access (bypasses HTTP, same semantics and watch events).
    /// Create or update `object` as a client PUT/POST would (no resourceVersion check when it has
    /// none).
    Result<nlohmann::json> put(const ResourceRef& gvr, const nlohmann::json& object);
    std::optional<nlohmann::json> get(const ResourceRef& ref) const;
    std::size_t count(const ResourceRef& gvr) const;
    std::int64_t resource_version() const;

    // Fault switches.
    /// The next `n` requests (of `method`, or any method when empty; watches included) fail with
    /// `status` and a Status body (reason from the code: Conflict, TooManyRequests, InternalError,
    /// …).
    void fail_next(int n, int status, std::string method = {});
    /// The next `n` requests wait `delay` before being answered.
    void stall_next(int n, std::chrono::milliseconds delay);
    /// Ends every open watch stream now.
    void drop_watches();
    /// Forgets the watch history: every resourceVersion up to now becomes too old. Open watches
    /// receive an ERROR event (code 410, reason Expired) and end; new watches from an old version
    /// get 410 (as HTTP when `gone_as_http`, else as an ERROR event in a 200 stream).
    void expire_history(bool gone_as_http = false);
    /// Writes a line of garbage into every open watch stream.
    void garbage_in_watches();
    /// Replaces the accepted bearer token (the old one now gets 401 Unauthorized).
    void set_token(std::string token);

    // Counters.
    std::uint64_t requests() const;
    std::uint64_t lists() const;    ///< list requests (pages count one each)
    std::uint64_t watches() const;  ///< watch requests
    /// Watch streams currently open.
    int open_watches() const;

    class Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace poetryops::kube::fake

#pragma once
// The transport under RegistryClient: per-registry HTTP clients (TLS settings per host),
// authentication (basic, bearer-token challenge with a token cache), redirects followed by hand,
// retries on 429/5xx and the request budget. Operations (resolve, tags, …) are in client.cpp.

#include <poetryops/http/client.hpp>
#include <poetryops/http/url.hpp>
#include <poetryops/registry/client.hpp>

#include "token_bucket.hpp"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace poetryops::registry::detail {

/// One call against a registry.
struct Call {
    std::string registry;  ///< normalised host, the key for configuration and credentials
    std::string method = "GET";
    std::string target;  ///< "/v2/…" (path and query) on the registry
    /// absolute URL instead of target (pagination links); same origin as the registry
    std::string url;
    http::Headers headers;
    std::string body;
    std::string scope;  ///< token scope, e.g. "repository:demo/app:pull"
};

class Session {
public:
    explicit Session(RegistryClientOptions options);

    /// Sends with authentication, redirects and retries; returns the final response (any status).
    Result<http::Response> send(const Call& call);
    /// "https://host" or "http://host" for a registry.
    std::string base_url(const std::string& registry) const;

    const RegistryClientOptions& options() const { return options_; }
    std::uint64_t requests() const { return requests_.load(); }
    std::uint64_t connections() const;

private:
    struct HostState {
        std::string realm, service;  // learned from a Bearer challenge
        bool basic = false;          // learned from a Basic challenge
    };

    const RegistryHostConfig& host_config(const std::string& registry) const;
    std::optional<Credentials> credentials(const std::string& registry) const;
    Result<http::Client*> client_for(const http::Url& url, const std::string& registry);
    Result<http::Response> round_trip(http::Request req, const std::string& registry);
    Result<http::Response> follow(http::Request req, const std::string& registry);
    std::optional<std::string> cached_authorization(const Call& call);
    Result<std::string> fetch_token(const std::string& registry, const std::string& realm,
                                    const std::string& service, const std::string& scope);
    TokenBucket& bucket(const std::string& registry);
    void sleep(std::chrono::milliseconds d) const;
    std::string token_key(const std::string& registry, const std::string& scope) const;

    RegistryClientOptions options_;
    const Clock& clock_;
    TokenCache tokens_;
    RegistryHostConfig default_host_;
    mutable std::mutex mu_;
    std::map<std::string, std::unique_ptr<http::Client>> clients_;  // by TLS settings
    std::map<std::string, HostState> hosts_;
    std::map<std::string, std::unique_ptr<TokenBucket>> buckets_;
    std::atomic<std::uint64_t> requests_{0};
};

/// An Error for a registry response, with the distribution error code (MANIFEST_UNKNOWN…) as
/// reason.
Error registry_error(const http::Response& response, std::string_view context);

/// The media type of a Content-Type value (parameters dropped, lower case).
std::string media_type_of(std::string_view content_type);

}  // namespace poetryops::registry::detail

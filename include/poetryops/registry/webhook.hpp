#pragma once
/// Registry webhooks: payloads from distribution notifications, Docker Hub, GitHub Packages,
/// Harbor, Quay and a generic CloudEvents form, mapped to push events (registry, repository, tag,
/// digest); authentication by bearer token or HMAC-SHA256 signature; a transport-neutral handler
/// the HTTP server calls (http_webhook.hpp adapts it).

#include <poetryops/util/crypto.hpp>
#include <poetryops/util/result.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace poetryops::registry {

/// One pushed manifest. `tag` is empty for a push by digest; `digest` is empty for sources that do
/// not send one (Docker Hub, Quay): the receiver resolves the tag itself.
struct PushEvent {
    std::string registry;    ///< normalised host ("docker.io", "127.0.0.1:5000")
    std::string repository;  ///< "acme/billing"
    std::string tag;
    std::string digest;
    std::string media_type;  ///< when the source says
    std::string source;  ///< "distribution", "dockerhub", "github", "harbor", "quay", "cloudevents"
    bool operator==(const PushEvent&) const = default;
};

enum class WebhookFormat {
    auto_detect,
    distribution,
    docker_hub,
    github,
    harbor,
    quay,
    cloudevents
};

/// The CloudEvents `type` poetryops accepts (structured mode, JSON; data: {registry, repository,
/// tag, digest} or {image: "host/repo:tag@sha256:…"}).
inline constexpr std::string_view cloudevent_push_type = "io.poetryops.image.pushed";

/// Maps a payload to push events. Events that are not pushes of a manifest (distribution `pull`
/// events, blob pushes, non-container GitHub packages, other Harbor event types) are dropped, so
/// the result may be empty. Error::Kind::decode for malformed JSON or a payload of no known form;
/// Error::Kind::invalid for a push whose repository or digest is malformed (the whole payload is
/// refused).
Result<std::vector<PushEvent>> parse_webhook(std::string_view body,
                                             WebhookFormat format = WebhookFormat::auto_detect);

using crypto::constant_time_equal;  // util/crypto.hpp, shared with the source webhooks (git)
using crypto::hmac_sha256_hex;

struct WebhookConfig {
    std::string bearer_token{};  ///< accept `Authorization: Bearer <token>` (also the bare token,
                                 ///< as Harbor sends it)
    std::string hmac_secret{};   ///< accept `<signature_header>: sha256=<hex HMAC of the body>`
    std::string signature_header = "X-Hub-Signature-256";
    bool allow_unauthenticated = false;  ///< only for tests and loopback demos
    std::size_t max_body_bytes = 1024 * 1024;
    WebhookFormat format = WebhookFormat::auto_detect;
};

/// A request as the HTTP server hands it over. Header lookup is case-insensitive.
struct WebhookRequest {
    std::string method = "POST";
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string header(std::string_view name) const;
};

struct WebhookResponse {
    int status = 202;
    std::string body;  ///< small JSON: {"accepted":N} or {"error":"…"}
};

/// Authenticates, limits, parses and delivers. 405 not POST, 413 too large, 415 not JSON, 401 bad
/// or missing credentials (nothing delivered), 400 malformed (nothing delivered), 202 with the
/// events passed to `sink` (not called when there are none). Thread safety: handle() is safe to
/// call concurrently if `sink` is.
class WebhookHandler {
public:
    using Sink = std::function<void(std::vector<PushEvent>)>;
    /// Error::Kind::invalid when neither a token nor a secret is configured and unauthenticated use
    /// was not asked for.
    static Result<WebhookHandler> create(WebhookConfig config, Sink sink);
    WebhookResponse handle(const WebhookRequest& request) const;

private:
    WebhookHandler(WebhookConfig config, Sink sink)
        : config_(std::move(config)), sink_(std::move(sink)) {}
    bool authenticated(const WebhookRequest& request) const;
    WebhookConfig config_;
    Sink sink_;
};

}  // namespace poetryops::registry

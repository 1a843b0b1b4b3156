#pragma once
// The engine's webhook receiver (local mode and the in-cluster controller alike): an HTTP server
// on --webhook-bind-address answering POST /webhooks/registry (registry pushes, through
// registry::WebhookHandler) and POST /webhooks/source (source pushes from GitHub, GitLab,
// Gitea/Forgejo, through git::parse_source_webhook). A route without credentials answers 404.

#include <poetryops/git/webhook.hpp>
#include <poetryops/http/server.hpp>
#include <poetryops/registry/webhook.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace poetryops::controller::detail {

using SourcePushSink = std::function<void(const git::PushEvent& push)>;

class WebhookListener {
public:
    /// Binds `address` ("host:port" or ":port" for all interfaces). The registry route is served
    /// when `registry` has a token or secret, the source route when `source` has a secret; at
    /// least one must. Errors name the flag and what is wrong.
    static Result<std::unique_ptr<WebhookListener>> start(const std::string& address,
                                                          registry::WebhookConfig registry,
                                                          registry::WebhookHandler::Sink sink,
                                                          git::SourceWebhookConfig source,
                                                          SourcePushSink source_sink);
    ~WebhookListener() { stop(); }
    std::uint16_t port() const { return server_.port(); }
    void stop() { server_.stop(); }

private:
    WebhookListener() = default;
    http::Response on_source(const http::Request& r) const;

    std::optional<registry::WebhookHandler> handler_;
    git::SourceWebhookConfig source_;
    SourcePushSink source_sink_;
    http::Server server_;
};

}  // namespace poetryops::controller::detail

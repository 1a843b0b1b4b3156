#pragma once
// The engine's registry webhook receiver (local mode and the in-cluster controller alike): an HTTP
// server on --webhook-bind-address answering POST /webhooks/registry through
// registry::WebhookHandler.

#include <poetryops/http/server.hpp>
#include <poetryops/registry/webhook.hpp>

#include <memory>
#include <optional>
#include <string>

namespace poetryops::controller::detail {

class WebhookListener {
public:
    /// Binds `address` ("host:port" or ":port" for all interfaces). Errors name the flag and what
    /// is wrong.
    static Result<std::unique_ptr<WebhookListener>> start(const std::string& address,
                                                          registry::WebhookConfig config,
                                                          registry::WebhookHandler::Sink sink);
    ~WebhookListener() { stop(); }
    std::uint16_t port() const { return server_.port(); }
    void stop() { server_.stop(); }

private:
    WebhookListener() = default;
    std::optional<registry::WebhookHandler> handler_;
    http::Server server_;
};

}  // namespace poetryops::controller::detail

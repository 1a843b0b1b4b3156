#include "controller/detail/webhook_listener.hpp"

#include <poetryops/http/url.hpp>
#include <poetryops/registry/webhook_http.hpp>

namespace poetryops::controller::detail {

Result<std::unique_ptr<WebhookListener>> WebhookListener::start(
    const std::string& address, registry::WebhookConfig config,
    registry::WebhookHandler::Sink sink) {
    auto colon = address.rfind(':');
    if (colon == std::string::npos) {
        return fail(Error::Kind::invalid,
                    "--webhook-bind-address " + address + ": expected HOST:PORT or :PORT");
    }
    http::ServerOptions so;
    std::string host = address.substr(0, colon);
    so.address = host.empty() ? "0.0.0.0" : host;
    try {
        so.port = static_cast<std::uint16_t>(std::stoul(address.substr(colon + 1)));
    } catch (...) {
        return fail(Error::Kind::invalid, "--webhook-bind-address " + address + ": bad port");
    }
    so.max_body_bytes = config.max_body_bytes;
    POETRYOPS_TRY(auto handler,
                  registry::WebhookHandler::create(std::move(config), std::move(sink)));
    std::unique_ptr<WebhookListener> l(new WebhookListener());
    l->handler_.emplace(std::move(handler));
    WebhookListener* self = l.get();
    POETRYOPS_TRY(auto port, l->server_.start(so, [self](const http::Request& r) {
        if (http::split_target(r.url).first != "/webhooks/registry")
            return http::Response::make(404, "not found\n");
        return registry::handle_webhook(*self->handler_, r);
    }));
    (void)port;
    return l;
}

}  // namespace poetryops::controller::detail

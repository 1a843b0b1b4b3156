#include "controller/detail/webhook_listener.hpp"

#include <poetryops/http/url.hpp>
#include <poetryops/registry/webhook_http.hpp>
#include <poetryops/util/log.hpp>

namespace poetryops::controller::detail {

Result<std::unique_ptr<WebhookListener>> WebhookListener::start(const std::string& address,
                                                                registry::WebhookConfig registry,
                                                                registry::WebhookHandler::Sink sink,
                                                                git::SourceWebhookConfig source,
                                                                SourcePushSink source_sink) {
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
    const bool registry_on = !registry.bearer_token.empty() || !registry.hmac_secret.empty() ||
                             registry.allow_unauthenticated;
    const bool source_on = !source.secret.empty() && source_sink;
    if (!registry_on && !source_on) {
        return fail(Error::Kind::invalid,
                    "--webhook-bind-address " + address +
                        ": no webhook credentials (set $POETRYOPS_WEBHOOK_TOKEN or "
                        "$POETRYOPS_WEBHOOK_HMAC_SECRET for registry pushes, "
                        "$POETRYOPS_SOURCE_WEBHOOK_SECRET for source pushes)");
    }
    // The larger limit: each route applies its own.
    so.max_body_bytes = std::max(registry.max_body_bytes, source.max_body_bytes);
    std::unique_ptr<WebhookListener> l(new WebhookListener());
    if (registry_on) {
        POETRYOPS_TRY(auto handler,
                      registry::WebhookHandler::create(std::move(registry), std::move(sink)));
        l->handler_.emplace(std::move(handler));
    }
    if (source_on) {
        l->source_ = std::move(source);
        l->source_sink_ = std::move(source_sink);
    }
    WebhookListener* self = l.get();
    POETRYOPS_TRY(auto port, l->server_.start(so, [self](const http::Request& r) {
        const std::string path = http::split_target(r.url).first;
        if (path == "/webhooks/registry" && self->handler_)
            return registry::handle_webhook(*self->handler_, r);
        if (path == "/webhooks/source" && self->source_sink_) return self->on_source(r);
        return http::Response::make(404, "not found\n");
    }));
    (void)port;
    return l;
}

http::Response WebhookListener::on_source(const http::Request& r) const {
    if (r.method != "POST") return http::Response::make(405, "POST only\n");
    std::vector<std::pair<std::string, std::string>> headers(r.headers.begin(), r.headers.end());
    auto parsed = git::parse_source_webhook(headers, r.body, source_);
    if (!parsed) {
        // The message names the forge and header or field, never the secret or the body.
        int status = parsed.error().http_status ? parsed.error().http_status : 400;
        POETRYOPS_LOG(info, "source webhook not taken",
                      {{"remote", r.remote},
                       {"status", std::to_string(status)},
                       {"error", parsed.error().message}});
        return http::Response::make(status, parsed.error().message + "\n");
    }
    if (parsed->push) source_sink_(*parsed->push);
    return http::Response::make(202, "accepted\n");
}

}  // namespace poetryops::controller::detail

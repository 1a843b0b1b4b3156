#include <poetryops/registry/webhook_http.hpp>

namespace poetryops::registry {

http::Response handle_webhook(const WebhookHandler& handler, const http::Request& request) {
    WebhookRequest req;
    req.method = request.method;
    req.body = request.body;
    req.headers.assign(request.headers.begin(), request.headers.end());
    auto out = handler.handle(req);
    return http::Response::make(out.status, out.body, "application/json");
}

}  // namespace poetryops::registry

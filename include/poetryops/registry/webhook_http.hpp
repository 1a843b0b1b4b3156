#pragma once
/// Glue between WebhookHandler and the http::Server: route a request to the handler and answer with
/// its response.

#include <poetryops/http/message.hpp>
#include <poetryops/registry/webhook.hpp>

namespace poetryops::registry {

/// Converts the server's request, calls `handler`, converts the answer (JSON body).
http::Response handle_webhook(const WebhookHandler& handler, const http::Request& request);

}  // namespace poetryops::registry

#include <poetryops/registry/webhook.hpp>

#include <poetryops/util/crypto.hpp>
#include <poetryops/util/log.hpp>
#include <poetryops/util/strings.hpp>

#include <nlohmann/json.hpp>

namespace poetryops::registry {

std::string WebhookRequest::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (str::iequals(k, name)) return v;
    }
    return {};
}

Result<WebhookHandler> WebhookHandler::create(WebhookConfig config, Sink sink) {
    if (config.bearer_token.empty() && config.hmac_secret.empty() &&
        !config.allow_unauthenticated) {
        return fail(
            Error::Kind::invalid,
            "webhook receiver needs a bearer token or an HMAC secret (or allow_unauthenticated)");
    }
    if (!sink) return fail(Error::Kind::invalid, "webhook receiver has no event sink");
    return WebhookHandler(std::move(config), std::move(sink));
}

bool WebhookHandler::authenticated(const WebhookRequest& request) const {
    if (config_.allow_unauthenticated && config_.bearer_token.empty() &&
        config_.hmac_secret.empty())
        return true;
    if (!config_.bearer_token.empty()) {
        auto auth = std::string(str::trim(request.header("Authorization")));
        std::string_view presented = auth;
        if (presented.size() > 7 && str::iequals(presented.substr(0, 7), "Bearer ")) {
            presented = str::trim(presented.substr(7));
        }
        if (!presented.empty() && constant_time_equal(presented, config_.bearer_token)) return true;
    }
    if (!config_.hmac_secret.empty()) {
        auto sig = std::string(str::trim(request.header(config_.signature_header)));
        if (sig.rfind("sha256=", 0) == 0) {
            auto expected = hmac_sha256_hex(config_.hmac_secret, request.body);
            if (constant_time_equal(str::to_lower(sig.substr(7)), expected)) return true;
        }
    }
    return false;
}

WebhookResponse WebhookHandler::handle(const WebhookRequest& request) const {
    auto error = [](int status, std::string_view msg) {
        return WebhookResponse{status, nlohmann::json{{"error", msg}}.dump()};
    };
    if (request.method != "POST") return error(405, "webhooks must be POSTed");
    if (request.body.size() > config_.max_body_bytes) {
        return error(413, "webhook body of " + std::to_string(request.body.size()) +
                              " bytes exceeds the limit of " +
                              std::to_string(config_.max_body_bytes));
    }
    // Authenticate before looking at the body: an unauthenticated caller learns nothing about
    // parsing.
    if (!authenticated(request)) {
        POETRYOPS_LOG(warn, "webhook rejected: bad or missing credentials");
        return error(401, "bad or missing webhook credentials");
    }
    auto content_type = str::to_lower(request.header("Content-Type"));
    if (!content_type.empty() && content_type.find("json") == std::string::npos) {
        return error(415, "webhook content type '" + content_type + "' is not JSON");
    }
    auto events = parse_webhook(request.body, config_.format);
    if (!events) {
        POETRYOPS_LOG(warn, "webhook rejected", {{"error", events.error().message}});
        return error(400, events.error().message);
    }
    auto n = events->size();
    if (n > 0) sink_(std::move(events).value());
    return WebhookResponse{202, nlohmann::json{{"accepted", n}}.dump()};
}

}  // namespace poetryops::registry

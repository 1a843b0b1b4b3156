#include <poetryops/kube/status.hpp>

#include <poetryops/util/log.hpp>

#include <nlohmann/json.hpp>

namespace poetryops::kube {
namespace {

std::string default_reason(int code) {
    switch (code) {
        case 400: return "BadRequest";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "NotFound";
        case 405: return "MethodNotAllowed";
        case 409: return "Conflict";
        case 410: return "Gone";
        case 415: return "UnsupportedMediaType";
        case 422: return "Invalid";
        case 429: return "TooManyRequests";
        case 500: return "InternalError";
        case 503: return "ServiceUnavailable";
        case 504: return "Timeout";
        default: return code >= 500 ? "InternalError" : "Unknown";
    }
}

Error build(int code, std::string reason, std::string server_message, std::string_view request) {
    if (reason.empty()) reason = default_reason(code);
    Error e;
    e.http_status = code;
    e.reason = reason;
    if (reason == "NotFound" || (code == 404 && reason == "Unknown")) {
        e.kind = Error::Kind::not_found;
    } else if (reason == "AlreadyExists" || reason == "Conflict" || code == 409) {
        e.kind = Error::Kind::conflict;
    } else if (reason == "Gone" || reason == "Expired" || code == 410) {
        e.kind = Error::Kind::gone;
    } else if (reason == "Invalid" || reason == "BadRequest" || code == 422 || code == 400) {
        e.kind = Error::Kind::invalid;
        e.terminal = true;
    } else if (reason == "Forbidden" || reason == "Unauthorized" || code == 401 || code == 403) {
        e.kind = Error::Kind::unauthorized;
    } else if (reason == "Timeout" || reason == "ServerTimeout" || code == 504) {
        e.kind = Error::Kind::timeout;
    } else {
        e.kind = Error::Kind::http;
    }
    std::string msg(request);
    msg += ": " + std::to_string(code) + " " + reason;
    if (!server_message.empty()) msg += ": " + server_message;
    if (code == 401) {
        msg +=
            " (the API server rejected the credentials: the token may be expired or revoked, or "
            "the client "
            "certificate is not trusted)";
    }
    e.message = log::redact(msg);
    return e;
}

/// Pulls reason/message/code from a Status object; false when `j` is not one.
bool read_status(const nlohmann::json& j, int& code, std::string& reason, std::string& message) {
    if (!j.is_object()) return false;
    auto kind = j.find("kind");
    if (kind == j.end() || !kind->is_string() || kind->get_ref<const std::string&>() != "Status")
        return false;
    if (auto it = j.find("reason"); it != j.end() && it->is_string())
        reason = it->get<std::string>();
    if (auto it = j.find("message"); it != j.end() && it->is_string())
        message = it->get<std::string>();
    if (auto it = j.find("code"); it != j.end() && it->is_number_integer()) code = it->get<int>();
    return true;
}

}  // namespace

Error status_error(int http_status, std::string_view body, std::string_view request) {
    std::string reason, message;
    int code = http_status;
    auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!read_status(j, code, reason, message)) {
        // Not a Status (a proxy's HTML page, an empty body): keep one short line of it.
        std::string snippet(body.substr(0, 200));
        for (char& c : snippet) {
            if (c == '\n' || c == '\r') c = ' ';
        }
        message = snippet;
        code = http_status;
    }
    if (code == 0) code = http_status;
    return build(http_status != 0 ? http_status : code, reason, message, request);
}

Error status_object_error(const std::string& status_json_text, std::string_view request) {
    auto j = nlohmann::json::parse(status_json_text, nullptr, false);
    std::string reason, message;
    int code = 500;
    if (!read_status(j, code, reason, message)) {
        return Error::make(Error::Kind::decode,
                           std::string(request) + ": watch ERROR event without a Status object",
                           "BadWatchEvent");
    }
    return build(code, reason, message, request);
}

bool is_not_found(const Error& e) { return e.kind == Error::Kind::not_found; }
bool is_already_exists(const Error& e) { return e.reason == "AlreadyExists"; }
bool is_conflict(const Error& e) {
    return e.kind == Error::Kind::conflict && e.reason != "AlreadyExists";
}
bool is_gone(const Error& e) { return e.kind == Error::Kind::gone; }
bool is_invalid(const Error& e) { return e.kind == Error::Kind::invalid; }
bool is_forbidden(const Error& e) { return e.reason == "Forbidden" || e.http_status == 403; }
bool is_unauthorized(const Error& e) { return e.reason == "Unauthorized" || e.http_status == 401; }
bool is_too_many_requests(const Error& e) {
    return e.reason == "TooManyRequests" || e.http_status == 429;
}

}  // namespace poetryops::kube

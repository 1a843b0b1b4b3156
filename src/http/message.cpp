#include <poetryops/http/message.hpp>

#include <poetryops/util/log.hpp>
#include <poetryops/util/strings.hpp>

#include <algorithm>

namespace poetryops::http {

Headers::Headers(std::initializer_list<Field> fields) : fields_(fields) {}

void Headers::add(std::string name, std::string value) {
    fields_.emplace_back(std::move(name), std::move(value));
}

void Headers::set(std::string name, std::string value) {
    remove(name);
    add(std::move(name), std::move(value));
}

void Headers::remove(std::string_view name) {
    fields_.erase(std::remove_if(fields_.begin(), fields_.end(),
                                 [&](const Field& f) { return str::iequals(f.first, name); }),
                  fields_.end());
}

std::optional<std::string> Headers::get(std::string_view name) const {
    for (const auto& f : fields_) {
        if (str::iequals(f.first, name)) return f.second;
    }
    return std::nullopt;
}

std::string Headers::get_or(std::string_view name, std::string fallback) const {
    auto v = get(name);
    return v ? *v : std::move(fallback);
}

std::vector<std::string> Headers::get_all(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& f : fields_) {
        if (str::iequals(f.first, name)) out.push_back(f.second);
    }
    return out;
}

bool Headers::has(std::string_view name) const { return get(name).has_value(); }

Response Response::make(int status, std::string body, std::string content_type) {
    Response r;
    r.status = status;
    r.reason = std::string(reason_phrase(status));
    if (!content_type.empty()) r.headers.set("Content-Type", std::move(content_type));
    r.body = std::move(body);
    return r;
}

Error status_error(const Response& response, std::string_view context) {
    Error::Kind kind = Error::Kind::http;
    switch (response.status) {
        case 401:
        case 403: kind = Error::Kind::unauthorized; break;
        case 404: kind = Error::Kind::not_found; break;
        case 409: kind = Error::Kind::conflict; break;
        case 410: kind = Error::Kind::gone; break;
        default: break;
    }
    std::string snippet = response.body.substr(0, 200);
    for (char& c : snippet) {
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    snippet = std::string(str::trim(snippet));
    std::string msg = std::string(context) + ": HTTP " + std::to_string(response.status);
    if (!response.reason.empty()) msg += " " + response.reason;
    if (!snippet.empty()) msg += ": " + log::redact(snippet);
    Error e = Error::make(kind, std::move(msg), std::string(reason_phrase(response.status)));
    e.http_status = response.status;
    e.terminal = response.status >= 400 && response.status < 500 && response.status != 408 &&
                 response.status != 429;
    return e;
}

std::string_view reason_phrase(int status) {
    switch (status) {
        case 100: return "Continue";
        case 101: return "Switching Protocols";
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 204: return "No Content";
        case 206: return "Partial Content";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 303: return "See Other";
        case 304: return "Not Modified";
        case 307: return "Temporary Redirect";
        case 308: return "Permanent Redirect";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 406: return "Not Acceptable";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 410: return "Gone";
        case 411: return "Length Required";
        case 412: return "Precondition Failed";
        case 413: return "Content Too Large";
        case 415: return "Unsupported Media Type";
        case 416: return "Range Not Satisfiable";
        case 422: return "Unprocessable Content";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        default: return "Unknown";
    }
}

}  // namespace poetryops::http

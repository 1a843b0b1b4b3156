#pragma once
/// HTTP messages as plain values, shared by the Client and the Server. No Beast/Asio in this
/// header.

#include <poetryops/util/result.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace poetryops::http {

/// Header fields in order; names compare case-insensitively. Repeated names are kept (e.g.
/// Set-Cookie, Link).
class Headers {
public:
    using Field = std::pair<std::string, std::string>;

    Headers() = default;
    Headers(std::initializer_list<Field> fields);

    /// Appends a field (keeps existing ones with the same name).
    void add(std::string name, std::string value);
    /// Replaces every field named `name` with one field.
    void set(std::string name, std::string value);
    /// Removes every field named `name`.
    void remove(std::string_view name);
    /// First value of `name`.
    std::optional<std::string> get(std::string_view name) const;
    /// First value of `name`, or `fallback`.
    std::string get_or(std::string_view name, std::string fallback = {}) const;
    /// Every value of `name`, in order.
    std::vector<std::string> get_all(std::string_view name) const;
    bool has(std::string_view name) const;

    const std::vector<Field>& fields() const { return fields_; }
    std::vector<Field>::const_iterator begin() const { return fields_.begin(); }
    std::vector<Field>::const_iterator end() const { return fields_.end(); }
    std::size_t size() const { return fields_.size(); }
    bool empty() const { return fields_.empty(); }

private:
    std::vector<Field> fields_;
};

/// A request.
/// Client side: `url` is an absolute http(s) URL; Host, User-Agent and Content-Length are filled
/// in. Server side: `url` is the request target as received ("/apis/x?watch=true"); see
/// split_target()/parse_query().
struct Request {
    std::string method = "GET";
    std::string url{};
    Headers headers{};
    std::string body{};
    /// Client: overrides ClientOptions::read_timeout for this request when non-zero.
    std::chrono::milliseconds timeout{0};
    /// Client: the request only reads (a git upload-pack POST), so it may be sent again on a fresh
    /// connection when a reused one was closed before any byte of the answer, as the idempotent
    /// methods are.
    bool safe_to_retry = false;
    /// Server: the peer's address ("127.0.0.1:53422"), for logs.
    std::string remote{};
};

class ResponseWriter;

/// A response.
struct Response {
    int status = 0;
    /// reason phrase as received; the server fills the standard one when empty
    std::string reason{};
    Headers headers{};
    std::string body{};

    /// Server only: when set, the server sends status and headers with `Transfer-Encoding: chunked`
    /// and calls this on a worker thread to write the body piece by piece (watch streams); `body`
    /// is ignored.
    std::function<void(ResponseWriter&)> stream{};

    /// A response with a body and a Content-Type.
    static Response make(int status, std::string body = {},
                         std::string content_type = "text/plain; charset=utf-8");
};

/// Writes a streamed (chunked) response body from a server handler.
/// Thread safety: used by the one worker thread running the Response::stream callback;
/// `cancelled()` is safe anywhere.
class ResponseWriter {
public:
    virtual ~ResponseWriter() = default;
    /// Sends one chunk and waits until it has been handed to the socket (bounded by the server's
    /// write timeout). Returns false when the client has gone, the write timed out or the server is
    /// stopping: return promptly then.
    virtual bool write(std::string_view data) = 0;
    /// True once the client disconnected, a write failed or Server::stop() began.
    virtual bool cancelled() const = 0;
    /// Sleeps up to `d`, waking early on cancellation. Returns cancelled(). Use between events of a
    /// long watch.
    virtual bool wait_cancelled(std::chrono::milliseconds d) = 0;
};

/// Maps a non-success response to an Error: 401/403 → unauthorized, 404 → not_found, 409 →
/// conflict, 410 → gone, other → http; `terminal` for 4xx other than 408 and 429. `context` names
/// what was asked ("GET https://h/v2/"), the message includes the status and up to 200 bytes of the
/// body (redacted). Never includes request headers.
Error status_error(const Response& response, std::string_view context);

/// Standard reason phrase for a status code ("Not Found"); "Unknown" when none.
std::string_view reason_phrase(int status);

}  // namespace poetryops::http

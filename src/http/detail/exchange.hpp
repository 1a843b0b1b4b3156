#pragma once
// Private: the coroutines that connect and exchange one request/response on a Connection.

#include "http/detail/client_impl.hpp"

namespace poetryops::http::detail {

struct Timeouts {
    std::chrono::milliseconds connect;
    std::chrono::milliseconds handshake;
    std::chrono::milliseconds write;
    std::chrono::milliseconds read;
};

/// Resolves, connects and (for https) handshakes. Errors name host:port and the phase.
asio::awaitable<Result<void>> connect(std::shared_ptr<Connection> conn, Timeouts timeouts,
                                      bool insecure, std::string server_name);

/// What happened to one exchange, beyond its Result.
struct ExchangeOutcome {
    Result<Response> response;
    bool got_response_bytes = false;  ///< some response bytes arrived (never retry then)
    /// whole body read and keep-alive: the connection may go back to the pool
    bool reusable = false;
};

using BeastRequest = bhttp::request<bhttp::string_body>;

/// Rejects a method or header that would corrupt the request on the wire. Messages never include
/// header values.
Result<void> validate_request(const Request& request);

/// The Beast request for `request` sent to `url`: Host, User-Agent (unless set) and Content-Length
/// filled in.
std::shared_ptr<BeastRequest> build_request(const Request& request, const Url& url,
                                            const std::string& user_agent);

/// Writes the request and reads the whole response with a body limit.
asio::awaitable<ExchangeOutcome> exchange(std::shared_ptr<Connection> conn,
                                          std::shared_ptr<BeastRequest> request, Timeouts timeouts,
                                          std::size_t max_body, std::size_t max_header);

/// Parser for a streamed body.
using StreamParser = bhttp::response_parser<bhttp::buffer_body>;

/// Writes the request and reads only the response header into `parser`.
asio::awaitable<ExchangeOutcome> exchange_head(std::shared_ptr<Connection> conn,
                                               std::shared_ptr<BeastRequest> request,
                                               std::shared_ptr<StreamParser> parser,
                                               Timeouts timeouts, std::size_t max_header);

/// Message for a failed step: "connecting to h:p timed out after 10 s", "TLS handshake with h:p
/// failed: …".
Error step_error(const Connection& conn, const char* phase, const error_code& ec,
                 std::chrono::milliseconds limit);

}  // namespace poetryops::http::detail

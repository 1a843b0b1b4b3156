#include "http/detail/exchange.hpp"

#include <poetryops/util/log.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <optional>

namespace poetryops::http::detail {

Connection::Connection(asio::io_context& io, ssl::context* tls_context, const Url& u) : url(u) {
    url.target = "/";
    key = url.scheme + "://" + url.host_port();
    if (tls_context != nullptr) {
        tls = std::make_unique<TlsStream>(io, *tls_context);
    } else {
        plain = std::make_unique<PlainStream>(io);
    }
}

void Connection::close() {
    error_code ec;
    auto& s = lowest();
    s.socket().shutdown(tcp::socket::shutdown_both, ec);
    s.close();
}

bool Connection::unusable() {
    auto& sock = lowest().socket();
    if (!sock.is_open()) return true;
    char byte = 0;
    ssize_t n = ::recv(sock.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return true;                            // orderly shutdown by the peer
    if (n > 0) return true;                             // unsolicited bytes: protocol state unknown
    return !(errno == EAGAIN || errno == EWOULDBLOCK);  // reset or other error
}

static bool is_token_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Checks the parts of a request that would otherwise corrupt the wire format. Messages never
// include values.
Result<void> validate_request(const Request& req) {
    if (req.method.empty() || !std::all_of(req.method.begin(), req.method.end(), is_token_char)) {
        return fail(Error::Kind::invalid, "invalid HTTP method \"" + log::redact(req.method) + "\"",
                    "InvalidRequest");
    }
    for (const auto& [name, value] : req.headers) {
        if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char)) {
            return fail(Error::Kind::invalid,
                        "invalid HTTP header name \"" + log::redact(name) + "\"", "InvalidRequest");
        }
        if (value.find_first_of("\r\n") != std::string::npos ||
            value.find('\0') != std::string::npos) {
            return fail(Error::Kind::invalid, "HTTP header " + name + " contains a line break",
                        "InvalidRequest");
        }
    }
    return ok();
}

std::shared_ptr<BeastRequest> build_request(const Request& req, const Url& url,
                                            const std::string& user_agent) {
    auto out = std::make_shared<BeastRequest>();
    bhttp::verb verb = bhttp::string_to_verb(req.method);
    if (verb == bhttp::verb::unknown) {
        out->method_string(req.method);
    } else {
        out->method(verb);
    }
    out->target(url.target);
    out->version(11);
    for (const auto& [name, value] : req.headers) out->insert(name, value);
    if (!req.headers.has("Host")) out->set(bhttp::field::host, url.authority());
    if (!req.headers.has("User-Agent") && !user_agent.empty()) {
        out->set(bhttp::field::user_agent, user_agent);
    }
    out->body() = req.body;
    if (!req.body.empty() || verb == bhttp::verb::post || verb == bhttp::verb::put ||
        verb == bhttp::verb::patch) {
        out->prepare_payload();
    }
    return out;
}

Error step_error(const Connection& conn, const char* phase, const error_code& ec,
                 std::chrono::milliseconds limit) {
    std::string where = conn.url.host_port();
    std::string p = phase;
    if (ec == beast::error::timeout) {
        return Error::make(Error::Kind::timeout,
                           p + " " + where + " timed out after " + format_duration(limit),
                           "Timeout");
    }
    if (p == "TLS handshake with" && !conn.tls_failure->empty()) {
        Error e = Error::make(Error::Kind::transport,
                              p + " " + where + " failed: " + *conn.tls_failure, "TLSVerify");
        e.terminal = true;
        return e;
    }
    if (ec == bhttp::error::body_limit) {
        Error e = Error::make(Error::Kind::invalid,
                              "response from " + where + " exceeds the size limit", "TooLarge");
        e.terminal = true;
        return e;
    }
    if (ec == bhttp::error::header_limit) {
        Error e =
            Error::make(Error::Kind::invalid,
                        "response header from " + where + " exceeds the size limit", "TooLarge");
        e.terminal = true;
        return e;
    }
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof) {
        return Error::make(Error::Kind::transport,
                           p + " " + where + " failed: connection closed by the server",
                           "ConnectionClosed");
    }
    return Error::make(Error::Kind::transport, p + " " + where + " failed: " + describe(ec),
                       "Transport");
}

asio::awaitable<Result<void>> connect(std::shared_ptr<Connection> conn, Timeouts timeouts,
                                      bool insecure, std::string server_name) {
    error_code ec;
    auto& lowest = conn->lowest();
    tcp::resolver::results_type endpoints;
    auto address = asio::ip::make_address(conn->url.host, ec);
    if (!ec) {
        endpoints = tcp::resolver::results_type::create(
            tcp::endpoint(address, conn->url.port), conn->url.host, std::to_string(conn->url.port));
    } else {
        conn->phase = "resolving";
        tcp::resolver resolver(co_await asio::this_coro::executor);
        ec = {};
        endpoints = co_await resolver.async_resolve(conn->url.host, std::to_string(conn->url.port),
                                                    with_ec(ec));
        if (ec) {
            co_return fail(Error::Kind::transport,
                           "cannot resolve " + conn->url.host + ": " + ec.message(), "Resolve");
        }
    }
    if (conn->abandoned) co_return fail(Error::Kind::timeout, "abandoned", "Timeout");
    conn->phase = "connecting to";
    lowest.expires_after(timeouts.connect);
    co_await lowest.async_connect(endpoints, with_ec(ec));
    if (ec) co_return fail(step_error(*conn, "connecting to", ec, timeouts.connect));
    lowest.socket().set_option(tcp::no_delay(true), ec);
    if (conn->tls) {
        conn->phase = "TLS handshake with";
        std::string name = server_name.empty() ? conn->url.host : server_name;
        error_code not_ip;
        (void)asio::ip::make_address(name, not_ip);
        bool ip_literal = !not_ip;
        if (!prepare_client_stream(*conn->tls, name, ip_literal, insecure, conn->tls_failure)) {
            co_return fail(
                Error::Kind::transport,
                "TLS setup for " + conn->url.host_port() + " failed: " + *conn->tls_failure,
                "TLSSetup");
        }
        lowest.expires_after(timeouts.handshake);
        co_await conn->tls->async_handshake(ssl::stream_base::client, with_ec(ec));
        if (ec) co_return fail(step_error(*conn, "TLS handshake with", ec, timeouts.handshake));
    }
    lowest.expires_never();
    co_return ok();
}

namespace {

/// Writes the request; then the connection is in its reading phase with the read timeout armed.
/// Returns the failure when the write failed.
asio::awaitable<std::optional<ExchangeOutcome>> send_request(std::shared_ptr<Connection> conn,
                                                             std::shared_ptr<BeastRequest> request,
                                                             Timeouts timeouts) {
    error_code ec;
    conn->phase = "sending the request to";
    conn->lowest().expires_after(timeouts.write);
    co_await conn->with_stream(
        [&](auto& s) { return bhttp::async_write(s, *request, with_ec(ec)); });
    if (ec) {
        co_return ExchangeOutcome{
            fail(step_error(*conn, "sending the request to", ec, timeouts.write))};
    }
    conn->phase = "reading the response from";
    conn->lowest().expires_after(timeouts.read);
    co_return std::nullopt;
}

/// A failed read of the response; `got_bytes` tells the caller whether a retry on a fresh
/// connection is safe.
ExchangeOutcome read_failure(const Connection& conn, const error_code& ec, const Timeouts& timeouts,
                             bool got_bytes) {
    ExchangeOutcome out{fail(step_error(conn, "reading the response from", ec, timeouts.read))};
    out.got_response_bytes = got_bytes;
    return out;
}

/// Status, reason and headers of a received response (no body).
template <class Header>
Response response_head(const Header& header) {
    Response resp;
    resp.status = static_cast<int>(header.result_int());
    resp.reason = std::string(header.reason());
    resp.headers = to_headers(header);
    return resp;
}

}  // namespace

asio::awaitable<ExchangeOutcome> exchange(std::shared_ptr<Connection> conn,
                                          std::shared_ptr<BeastRequest> request, Timeouts timeouts,
                                          std::size_t max_body, std::size_t max_header) {
    if (auto failed = co_await send_request(conn, request, timeouts)) co_return std::move(*failed);
    error_code ec;
    auto parser = std::make_shared<bhttp::response_parser<bhttp::string_body>>();
    parser->body_limit(max_body);
    parser->header_limit(static_cast<std::uint32_t>(max_header));
    if (request->method() == bhttp::verb::head) parser->skip(true);
    // Check a declared Content-Length ourselves before reading the body: Beast 1.74's async_read
    // was seen to let a Content-Length body past body_limit. body_limit still bounds chunked
    // bodies; the size is checked again below.
    co_await conn->with_stream(
        [&](auto& s) { return bhttp::async_read_header(s, conn->buffer, *parser, with_ec(ec)); });
    if (!ec) {
        auto declared = parser->content_length();
        if (declared && *declared > max_body && request->method() != bhttp::verb::head) {
            ec = bhttp::error::body_limit;
        }
    }
    if (!ec && !parser->is_done()) {
        co_await conn->with_stream(
            [&](auto& s) { return bhttp::async_read(s, conn->buffer, *parser, with_ec(ec)); });
    }
    if (!ec && parser->get().body().size() > max_body) ec = bhttp::error::body_limit;
    conn->lowest().expires_never();
    if (ec) co_return read_failure(*conn, ec, timeouts, parser->got_some());
    auto& msg = parser->get();
    Response resp = response_head(msg.base());
    resp.body = std::move(msg.body());
    ExchangeOutcome out{std::move(resp)};
    out.got_response_bytes = true;
    out.reusable = msg.keep_alive() && parser->is_done();
    co_return out;
}

asio::awaitable<ExchangeOutcome> exchange_head(std::shared_ptr<Connection> conn,
                                               std::shared_ptr<BeastRequest> request,
                                               std::shared_ptr<StreamParser> parser,
                                               Timeouts timeouts, std::size_t max_header) {
    if (auto failed = co_await send_request(conn, request, timeouts)) co_return std::move(*failed);
    error_code ec;
    // No limit here (Stream enforces its own); not boost::none: Beast 1.74 then refuses any
    // Content-Length body.
    parser->body_limit(std::numeric_limits<std::uint64_t>::max());
    parser->header_limit(static_cast<std::uint32_t>(max_header));
    if (request->method() == bhttp::verb::head) parser->skip(true);
    co_await conn->with_stream(
        [&](auto& s) { return bhttp::async_read_header(s, conn->buffer, *parser, with_ec(ec)); });
    conn->lowest().expires_never();
    if (ec) co_return read_failure(*conn, ec, timeouts, parser->got_some());
    ExchangeOutcome out{response_head(parser->get().base())};
    out.got_response_bytes = true;
    co_return out;
}

}  // namespace poetryops::http::detail

#pragma once
// Private to the http module: Boost.Asio/Beast includes, aliases and small helpers shared by client
// and server.

#include <poetryops/http/message.hpp>
#include <poetryops/util/result.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <chrono>
#include <string>

// Coroutine rules for this module (each one a crash or a wrong result seen here with GCC 12 +
// Boost 1.74):
// - Never put a lambda with non-trivial captures (or its conversion to std::function) inside a
// co_await
//   full-expression: GCC 12 destroys such temporaries twice. Build it in its own statement, then
//   co_await. Lambdas capturing only references ([&]) are fine, e.g. the with_stream() helpers.
// - Never hand boost::none to a Beast 1.74 parser's body_limit(): it then refuses every
// Content-Length body. Use
//   the maximum value for "unlimited", and check a declared Content-Length against our own limit
//   explicitly.
// - Don't co_spawn a lambda coroutine onto another executor to run blocking work: post to the
// worker pool and
//   resume through a timer on the I/O thread (server_session.cpp, WorkerCall).

namespace poetryops::http::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

/// Completion token for awaitables that report errors in `ec` instead of throwing.
inline auto with_ec(error_code& ec) { return asio::redirect_error(asio::use_awaitable, ec); }

/// std::string_view → Beast's (boost) string_view in 1.74.
inline beast::string_view bsv(std::string_view s) { return beast::string_view(s.data(), s.size()); }

/// "1500 ms" / "10 s" for messages.
std::string format_duration(std::chrono::milliseconds d);

/// Human-readable error text; for TLS errors includes OpenSSL's reason ("certificate verify
/// failed").
std::string describe(const error_code& ec);

/// Copies fields from a Beast message header into Headers (in order).
template <class Fields>
Headers to_headers(const Fields& fields) {
    Headers out;
    for (const auto& f : fields) out.add(std::string(f.name_string()), std::string(f.value()));
    return out;
}

}  // namespace poetryops::http::detail

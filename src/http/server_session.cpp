// One server connection: request loop, handler dispatch to workers, streamed responses.
#include "http/detail/server_impl.hpp"

#include <poetryops/util/log.hpp>

#include <future>

namespace poetryops::http::detail {
namespace {

constexpr std::size_t kDrainLimit = 16u << 20;
constexpr std::chrono::milliseconds kDrainTime{2000};

Response call_safely(const Handler& handler, const Request& request) {
    try {
        return handler(request);
    } catch (const std::exception& e) {
        POETRYOPS_LOG(error, "http handler threw",
                      {{"method", request.method}, {"error", e.what()}});
    } catch (...) {
        POETRYOPS_LOG(error, "http handler threw a non-exception", {{"method", request.method}});
    }
    return Response::make(500, "internal error\n");
}

std::string_view reason_for(const Response& r) {
    return r.reason.empty() ? reason_phrase(r.status) : std::string_view(r.reason);
}

}  // namespace

Session::Session(Server::Impl& srv, tcp::socket socket) : server(srv) {
    error_code ec;
    auto ep = socket.remote_endpoint(ec);
    if (!ec) {
        remote = ep.address().is_v6()
                     ? "[" + ep.address().to_string() + "]:" + std::to_string(ep.port())
                     : ep.address().to_string() + ":" + std::to_string(ep.port());
    }
    socket.set_option(tcp::no_delay(true), ec);
    if (srv.tls) {
        tls_context = srv.tls;
        tls = std::make_unique<TlsStream>(std::move(socket), *tls_context);
    } else {
        plain = std::make_unique<PlainStream>(std::move(socket));
    }
}

void Session::close() {
    error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
}

void Session::request_stop() {
    if (writer) writer->cancel();
    if (idle) close();
}

template <class Op>
asio::awaitable<void> Session::read_before(asio::steady_timer::time_point deadline, error_code& ec,
                                           Op& op) {
    struct Deadline {
        bool done = false, expired = false;
    };
    auto state = std::make_shared<Deadline>();
    asio::steady_timer timer(server.io, deadline);
    // Everything runs on the one I/O thread: a timer that fired after the read ended sees `done`.
    timer.async_wait([self = shared_from_this(), state](error_code e) {
        if (e || state->done) return;
        state->expired = true;
        self->lowest().cancel();
    });
    lowest().expires_never();
    co_await with_stream(op);
    state->done = true;
    timer.cancel();
    if (state->expired) ec = beast::error::timeout;
}

asio::awaitable<void> Session::send_simple(int status, std::string body) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), 11};
    res.reason(bsv(reason_phrase(status)));
    res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
    res.keep_alive(false);
    res.body() = std::move(body);
    res.prepare_payload();
    error_code ec;
    lowest().expires_after(server.options.write_timeout);
    co_await with_stream([&](auto& s) { return bhttp::async_write(s, res, with_ec(ec)); });
}

asio::awaitable<void> Session::drain() {
    // Read (and drop) what the client is still sending so that it can finish its write and read our
    // answer, instead of seeing a reset. Bounded in bytes and time.
    std::vector<char> buf(16 * 1024);
    std::size_t total = 0;
    lowest().expires_after(kDrainTime);
    while (total < kDrainLimit) {
        error_code ec;
        std::size_t n = co_await with_stream(
            [&](auto& s) { return s.async_read_some(asio::buffer(buf), with_ec(ec)); });
        if (ec) break;
        total += n;
    }
}

std::shared_ptr<WorkerCall> Session::start_on_worker(std::function<void()> fn) {
    auto call = std::make_shared<WorkerCall>(server.io);
    asio::io_context* io = &server.io;
    asio::post(*server.workers, [call, io, fn = std::move(fn)] {
        fn();
        asio::post(*io, [call] {
            call->done = true;
            call->timer.cancel();
        });
    });
    return call;
}

asio::awaitable<void> Session::wait(std::shared_ptr<WorkerCall> call) {
    // Both the wait and the completion run on the one I/O thread, so `done` cannot change between
    // check and wait.
    while (!call->done) {
        error_code ec;
        co_await call->timer.async_wait(with_ec(ec));
    }
}

asio::awaitable<Response> Session::call_handler(Request request) {
    auto result = std::make_shared<Response>();
    auto req = std::make_shared<Request>(std::move(request));
    const Handler* handler = &server.handler;
    // GCC 12 destroys lambda temporaries inside a co_await full-expression twice: keep them in
    // their own statement.
    auto call = start_on_worker([result, req, handler] { *result = call_safely(*handler, *req); });
    co_await wait(call);
    co_return std::move(*result);
}

asio::awaitable<void> Session::run() {
    auto self = shared_from_this();
    const auto& o = server.options;
    error_code ec;
    if (tls) {
        lowest().expires_after(o.read_timeout);
        co_await tls->async_handshake(ssl::stream_base::server, with_ec(ec));
        if (ec)
            POETRYOPS_LOG(debug, "TLS handshake failed",
                          {{"peer", remote}, {"error", describe(ec)}});
    }
    while (!ec && !server.stopping) {
        idle = true;
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(o.max_header_bytes));
        parser.body_limit(o.max_body_bytes);
        // One whole request within read_timeout; a client that sent part of it by then is answered
        // 408, an idle keep-alive connection is closed.
        const auto deadline = asio::steady_timer::clock_type::now() + o.read_timeout;
        auto read_header = [&](auto& s) {
            return bhttp::async_read_header(s, buffer, parser, with_ec(ec));
        };
        co_await read_before(deadline, ec, read_header);
        idle = false;
        if (ec) {
            if (ec ==
                bhttp::error::body_limit) {  // Content-Length above the limit, seen with the header
                co_await send_simple(413, "request body larger than " +
                                              std::to_string(o.max_body_bytes) + " bytes\n");
                co_await drain();
            } else if (ec == bhttp::error::header_limit) {
                co_await send_simple(431, "request header too large\n");
            } else if (ec == beast::error::timeout && (parser.got_some() || buffer.size() > 0)) {
                co_await send_simple(408, "request timeout\n");
            }
            break;
        }
        auto declared = parser.content_length();
        if (declared && *declared > o.max_body_bytes) {
            co_await send_simple(
                413, "request body larger than " + std::to_string(o.max_body_bytes) + " bytes\n");
            co_await drain();
            break;
        }
        if (bhttp::token_list(parser.get()[bhttp::field::expect]).exists("100-continue")) {
            static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            lowest().expires_after(o.write_timeout);
            co_await with_stream([&](auto& s) {
                return asio::async_write(s, asio::buffer(kContinue), with_ec(ec));
            });
            if (ec) break;
        }
        auto read_body = [&](auto& s) { return bhttp::async_read(s, buffer, parser, with_ec(ec)); };
        co_await read_before(deadline, ec, read_body);
        if (ec) {
            if (ec == bhttp::error::body_limit) {
                co_await send_simple(413, "request body larger than " +
                                              std::to_string(o.max_body_bytes) + " bytes\n");
                co_await drain();
            } else if (ec == beast::error::timeout) {
                co_await send_simple(408, "request timeout\n");
            }
            break;
        }
        lowest().expires_never();
        auto& msg = parser.get();
        Request req;
        req.method = std::string(msg.method_string());
        req.url = std::string(msg.target());
        req.headers = to_headers(msg.base());
        req.body = std::move(msg.body());
        req.remote = remote;
        bool head = msg.method() == bhttp::verb::head;
        bool keep_alive = msg.keep_alive();
        Response resp = co_await call_handler(std::move(req));
        ++server.handled;
        if (resp.stream) {
            co_await stream_response(resp);
            break;
        }
        keep_alive = keep_alive && !server.stopping;
        bhttp::response<bhttp::string_body> res;
        res.version(11);
        res.result(static_cast<unsigned>(resp.status));
        res.reason(bsv(reason_for(resp)));
        for (const auto& [name, value] : resp.headers) res.insert(name, value);
        res.body() = std::move(resp.body);
        res.prepare_payload();
        if (head) {
            auto length = res.body().size();
            res.body().clear();
            res.content_length(length);
        }
        res.keep_alive(keep_alive);
        lowest().expires_after(o.write_timeout);
        co_await with_stream([&](auto& s) { return bhttp::async_write(s, res, with_ec(ec)); });
        if (!keep_alive) break;
    }
    // Half-close so the client reads everything we sent, then close.
    error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    close();
    server.session_ended(self);
}

asio::awaitable<void> Session::monitor(std::shared_ptr<StreamWriter> w) {
    // A client of a streamed response sends nothing more; any completion (EOF, reset, data) ends
    // the stream.
    char byte = 0;
    error_code ec;
    co_await with_stream(
        [&](auto& s) { return s.async_read_some(asio::buffer(&byte, 1), with_ec(ec)); });
    w->cancel();
}

asio::awaitable<void> Session::stream_response(Response& resp) {
    bhttp::response<bhttp::empty_body> res;
    res.version(11);
    res.result(static_cast<unsigned>(resp.status));
    res.reason(bsv(reason_for(resp)));
    for (const auto& [name, value] : resp.headers) res.insert(name, value);
    res.keep_alive(false);
    res.chunked(true);
    bhttp::response_serializer<bhttp::empty_body> sr{res};
    error_code ec;
    lowest().expires_after(server.options.write_timeout);
    co_await with_stream([&](auto& s) { return bhttp::async_write_header(s, sr, with_ec(ec)); });
    if (ec) co_return;
    // From here on the worker bounds each write itself: the stream's timer would also cut the
    // monitor read.
    lowest().expires_never();
    auto w = std::make_shared<StreamWriter>(shared_from_this(), server.options.write_timeout);
    writer = w;
    if (server.stopping) w->cancel();
    asio::co_spawn(server.io, monitor(w), asio::detached);
    auto body = std::make_shared<std::function<void(ResponseWriter&)>>(std::move(resp.stream));
    auto call = start_on_worker([w, body] {
        try {
            (*body)(*w);
        } catch (const std::exception& e) {
            POETRYOPS_LOG(error, "http stream handler threw", {{"error", e.what()}});
            w->cancel();
        } catch (...) {
            w->cancel();
        }
    });
    co_await wait(call);
    writer.reset();
    if (!w->cancelled()) {
        lowest().expires_after(server.options.write_timeout);
        co_await with_stream(
            [&](auto& s) { return asio::async_write(s, bhttp::make_chunk_last(), with_ec(ec)); });
    }
}

asio::awaitable<void> Session::write_chunk(std::shared_ptr<std::string> chunk,
                                           std::shared_ptr<std::promise<bool>> done) {
    error_code ec;
    co_await with_stream([&](auto& s) {
        return asio::async_write(s, bhttp::make_chunk(asio::buffer(*chunk)), with_ec(ec));
    });
    done->set_value(!ec);
}

bool StreamWriter::write(std::string_view data) {
    if (cancelled_) return false;
    if (data.empty()) return true;  // an empty chunk would end the body
    auto chunk = std::make_shared<std::string>(data);
    auto done = std::make_shared<std::promise<bool>>();
    auto result = done->get_future();
    auto session = session_;
    asio::co_spawn(session->server.io, session->write_chunk(std::move(chunk), done),
                   asio::detached);
    if (result.wait_for(write_timeout_) != std::future_status::ready || !result.get()) {
        cancel();
        return false;
    }
    return !cancelled_;
}

bool StreamWriter::wait_cancelled(std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, d, [&] { return cancelled_.load(); });
    return cancelled_;
}

void StreamWriter::cancel() {
    {
        std::lock_guard lock(mu_);
        if (cancelled_.exchange(true)) return;
    }
    cv_.notify_all();
    auto session = session_;
    asio::post(session->server.io, [session] { session->close(); });
}

}  // namespace poetryops::http::detail

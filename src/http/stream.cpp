// Streamed responses: Client::open(), Client::stream() and Stream.
#include <poetryops/http/client.hpp>

#include "http/detail/client_impl.hpp"
#include "http/detail/exchange.hpp"

#include <poetryops/util/log.hpp>

namespace poetryops::http {

using namespace detail;

namespace {

constexpr std::size_t kReadBuffer = 64 * 1024;

/// Reads until at least one body byte arrived or the body ended ("" then). The idle deadline is
/// re-armed per call.
asio::awaitable<Result<std::string>> read_step(std::shared_ptr<Connection> conn,
                                               std::shared_ptr<StreamParser> parser,
                                               std::chrono::milliseconds idle) {
    std::string out;
    if (parser->is_done()) co_return out;
    std::vector<char> buf(kReadBuffer);
    conn->phase = "waiting for data from";
    conn->lowest().expires_after(idle);
    for (;;) {
        parser->get().body().data = buf.data();
        parser->get().body().size = buf.size();
        error_code ec;
        co_await conn->with_stream(
            [&](auto& s) { return bhttp::async_read_some(s, conn->buffer, *parser, with_ec(ec)); });
        if (ec == bhttp::error::need_buffer) ec = {};
        std::size_t n = buf.size() - parser->get().body().size;
        if (n > 0) {
            out.assign(buf.data(), n);
            break;
        }
        if (ec) {
            conn->lowest().expires_never();
            co_return fail(step_error(*conn, "waiting for data from", ec, idle));
        }
        if (parser->is_done()) break;
    }
    conn->lowest().expires_never();
    co_return out;
}

}  // namespace

class Stream::Impl {
public:
    std::shared_ptr<Client::Impl> client;  // declared first: destroyed after the connection
    std::shared_ptr<Connection> conn;
    std::shared_ptr<StreamParser> parser;
    Response response;
    std::chrono::milliseconds idle{0};
    std::size_t max_body = 0;
    std::size_t total = 0;
    std::atomic<bool> done{false};
    std::atomic<bool> cancelled{false};
    std::mutex mu;  // guards conn against cancel() racing the end of the stream

    Error cancelled_error() const {
        return Error::make(Error::Kind::transport, "stream from " + conn_name + " was cancelled",
                           "Cancelled");
    }
    std::string conn_name;

    void finish(bool reusable) {
        done = true;
        std::shared_ptr<Connection> c;
        {
            std::lock_guard lock(mu);
            c = std::move(conn);
        }
        if (!c) return;
        if (reusable && !cancelled) {
            client->release(std::move(c));
        } else {
            client->discard(std::move(c));
        }
    }
};

Stream::Stream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Stream::~Stream() {
    if (impl_) impl_->finish(false);
}

const Response& Stream::response() const { return impl_->response; }

bool Stream::done() const { return impl_->done; }

void Stream::cancel() {
    impl_->cancelled = true;
    std::shared_ptr<Connection> c;
    {
        std::lock_guard lock(impl_->mu);
        c = impl_->conn;
    }
    if (c && !impl_->client->stopped) {
        asio::post(impl_->client->io_, [c] { c->close(); });
    }
}

Result<std::size_t> Stream::read_some(std::string& out) {
    auto& s = *impl_;
    if (s.cancelled) {
        s.finish(false);
        return fail(s.cancelled_error());
    }
    if (s.done) return std::size_t{0};
    std::shared_ptr<Connection> conn;
    {
        std::lock_guard lock(s.mu);
        conn = s.conn;
    }
    if (!conn || s.client->stopped) {
        s.finish(false);
        return fail(Error::Kind::transport, "stream from " + s.conn_name + " is closed", "Closed");
    }
    auto parser = s.parser;
    auto idle = s.idle;
    auto r = s.client->run<Result<std::string>>(
        [conn, parser, idle] { return read_step(conn, parser, idle); }, idle + kWaitSlack);
    if (!r) {
        conn->abandoned = true;
        s.finish(false);
        if (s.cancelled) return fail(s.cancelled_error());
        return fail(s.client->timeout_error(*conn, idle));
    }
    if (!*r) {
        s.finish(false);
        if (s.cancelled) return fail(s.cancelled_error());
        return fail(std::move(*r).error());
    }
    std::string& data = r->value();
    if (data.empty()) {
        s.finish(parser->get().keep_alive());
        return std::size_t{0};
    }
    s.total += data.size();
    if (s.max_body != 0 && s.total > s.max_body) {
        s.finish(false);
        Error e = Error::make(Error::Kind::invalid,
                              "response from " + s.conn_name + " exceeds the size limit of " +
                                  std::to_string(s.max_body) + " bytes",
                              "TooLarge");
        e.terminal = true;
        return fail(std::move(e));
    }
    out += data;
    return data.size();
}

Result<std::unique_ptr<Stream>> Client::open(const Request& req, StreamOptions stream_options) {
    POETRYOPS_TRY(Url url, parse_url(req.url));
    POETRYOPS_TRY_VOID(validate_request(req));
    const auto& o = impl_->options;
    auto breq = build_request(req, url, o.user_agent);
    std::string context = req.method + " " + url.origin() + url.path();
    Timeouts t{o.connect_timeout, o.handshake_timeout, o.write_timeout,
               req.timeout.count() > 0 ? req.timeout : o.read_timeout};
    std::size_t max_header = o.max_header_bytes;
    for (int attempt = 0;; ++attempt) {
        bool reused = false;
        auto conn_r = impl_->acquire(url, attempt == 0, reused);
        if (!conn_r) {
            Error e = std::move(conn_r).error();
            e.message = context + ": " + e.message;
            return fail(std::move(e));
        }
        auto conn = std::move(conn_r).value();
        auto parser = std::make_shared<StreamParser>();
        auto out = impl_->run<ExchangeOutcome>(
            [conn, breq, parser, t, max_header] {
                return exchange_head(conn, breq, parser, t, max_header);
            },
            t.write + t.read + kWaitSlack);
        if (!out) {
            conn->abandoned = true;
            impl_->discard(conn);
            Error e = impl_->timeout_error(*conn, t.read);
            e.message = context + ": " + e.message;
            return fail(std::move(e));
        }
        if (!out->response) {
            impl_->discard(std::move(conn));
            if (attempt == 0 && reused && !out->got_response_bytes && is_idempotent(req.method))
                continue;
            Error e = std::move(out->response).error();
            e.message = context + ": " + e.message;
            return fail(std::move(e));
        }
        auto impl = std::make_unique<Stream::Impl>();
        impl->client = impl_;
        impl->conn_name = conn->url.host_port();
        impl->conn = std::move(conn);
        impl->parser = std::move(parser);
        impl->response = std::move(out->response).value();
        impl->idle =
            stream_options.idle_timeout.count() > 0 ? stream_options.idle_timeout : o.read_timeout;
        impl->max_body = stream_options.max_body_bytes;
        return std::make_unique<Stream>(std::move(impl));
    }
}

Result<Response> Client::stream(const Request& req,
                                const std::function<bool(std::string_view)>& on_data,
                                StreamOptions options) {
    POETRYOPS_TRY(auto s, open(req, options));
    std::string buf;
    for (;;) {
        buf.clear();
        POETRYOPS_TRY(std::size_t n, s->read_some(buf));
        if (n == 0) break;
        if (!on_data(buf)) break;
    }
    return s->response();
}

}  // namespace poetryops::http

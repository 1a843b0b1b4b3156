#include <poetryops/http/client.hpp>

#include "http/detail/client_impl.hpp"
#include "http/detail/exchange.hpp"

#include <poetryops/util/log.hpp>
#include <poetryops/util/strings.hpp>

namespace poetryops::http {

using namespace detail;

namespace {

/// "GET https://host:port/path" — no query string (it may carry tokens).
std::string context_of(const Request& req, const Url& url) {
    return req.method + " " + url.origin() + url.path();
}

Error with_context(Error e, const std::string& context) {
    e.message = context + ": " + e.message;
    return e;
}

}  // namespace

bool is_idempotent(std::string_view method) {
    return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
           method == "OPTIONS" || method == "TRACE";
}

Client::Impl::Impl(ClientOptions opts, std::shared_ptr<ssl::context> tls)
    : options(std::move(opts)), tls_context(std::move(tls)) {
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] {
        for (;;) {
            try {
                io_.run();
                return;
            } catch (const std::exception& e) {
                // Handlers do not throw by design; if one does, log and keep the I/O thread alive.
                POETRYOPS_LOG(error, "http client I/O thread caught an exception",
                              {{"error", e.what()}});
            }
        }
    });
}

Client::Impl::~Impl() { shutdown(); }

void Client::Impl::shutdown() {
    if (stopped.exchange(true)) return;
    close_idle();
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
}

Result<std::shared_ptr<Connection>> Client::Impl::acquire(const Url& url, bool allow_reuse,
                                                          bool& reused) {
    reused = false;
    if (stopped) return fail(Error::Kind::internal, "http client is shut down", "Shutdown");
    std::string key = url.scheme + "://" + url.host_port();
    if (allow_reuse) {
        std::vector<std::shared_ptr<Connection>> stale;
        std::shared_ptr<Connection> found;
        {
            std::lock_guard lock(mu_);
            auto it = idle_.find(key);
            auto now = std::chrono::steady_clock::now();
            while (it != idle_.end() && !it->second.empty()) {
                auto conn = std::move(it->second.back());
                it->second.pop_back();
                if (now - conn->idle_since > options.idle_keepalive || conn->unusable()) {
                    stale.push_back(std::move(conn));
                    continue;
                }
                found = std::move(conn);
                break;
            }
        }
        for (auto& c : stale) discard(std::move(c));
        if (found) {
            reused = true;
            return found;
        }
    }
    auto conn = std::make_shared<Connection>(io_, url.tls() ? tls_context.get() : nullptr, url);
    ++opened;
    Timeouts t{options.connect_timeout, options.handshake_timeout, options.write_timeout,
               options.read_timeout};
    bool insecure = options.tls.insecure_skip_verify;
    std::string server_name = options.tls.server_name;
    auto limit = options.connect_timeout + options.handshake_timeout + kWaitSlack;
    auto r =
        run<Result<void>>([conn, t, insecure,
                           server_name] { return detail::connect(conn, t, insecure, server_name); },
                          limit);
    if (!r) {
        conn->abandoned = true;
        discard(conn);
        return fail(timeout_error(*conn, options.connect_timeout));
    }
    if (!*r) {
        discard(conn);
        return fail(std::move(*r).error());
    }
    return conn;
}

void Client::Impl::release(std::shared_ptr<Connection> conn) {
    conn->idle_since = std::chrono::steady_clock::now();
    std::shared_ptr<Connection> evicted;
    {
        std::lock_guard lock(mu_);
        if (!stopped) {
            auto& list = idle_[conn->key];
            list.push_back(std::move(conn));
            if (list.size() > options.max_idle_per_host) {
                evicted = std::move(list.front());
                list.erase(list.begin());
            }
        } else {
            evicted = std::move(conn);
        }
    }
    if (evicted) discard(std::move(evicted));
}

void Client::Impl::discard(std::shared_ptr<Connection> conn) {
    if (!conn) return;
    if (stopped) {
        conn->close();
        return;
    }
    asio::post(io_, [conn = std::move(conn)] { conn->close(); });
}

void Client::Impl::close_idle() {
    std::map<std::string, std::vector<std::shared_ptr<Connection>>> idle;
    {
        std::lock_guard lock(mu_);
        idle.swap(idle_);
    }
    for (auto& [key, list] : idle) {
        for (auto& c : list) c->close();  // idle: no operation pending, safe from this thread
    }
}

Error Client::Impl::timeout_error(const Connection& conn, std::chrono::milliseconds limit) const {
    return Error::make(Error::Kind::timeout,
                       std::string(conn.phase.load()) + " " + conn.url.host_port() +
                           " timed out after " + format_duration(limit),
                       "Timeout");
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() {
    if (impl_) impl_->shutdown();
}

Result<std::unique_ptr<Client>> Client::create(ClientOptions options) {
    POETRYOPS_TRY(auto tls, make_client_context(options.tls));
    auto impl = std::make_unique<Impl>(std::move(options), std::move(tls));
    return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Result<Response> Client::request(const Request& req) {
    POETRYOPS_TRY(Url url, parse_url(req.url));
    POETRYOPS_TRY_VOID(validate_request(req));
    const auto& o = impl_->options;
    auto breq = build_request(req, url, o.user_agent);
    std::string context = context_of(req, url);
    Timeouts t{o.connect_timeout, o.handshake_timeout, o.write_timeout,
               req.timeout.count() > 0 ? req.timeout : o.read_timeout};
    std::size_t max_body = o.max_response_bytes;
    std::size_t max_header = o.max_header_bytes;
    for (int attempt = 0;; ++attempt) {
        bool reused = false;
        auto conn_r = impl_->acquire(url, attempt == 0, reused);
        if (!conn_r) return fail(with_context(std::move(conn_r).error(), context));
        auto conn = std::move(conn_r).value();
        auto out = impl_->run<ExchangeOutcome>(
            [conn, breq, t, max_body, max_header] {
                return exchange(conn, breq, t, max_body, max_header);
            },
            t.write + t.read + kWaitSlack);
        if (!out) {
            conn->abandoned = true;
            impl_->discard(conn);
            return fail(with_context(impl_->timeout_error(*conn, t.read), context));
        }
        if (out->response) {
            if (out->reusable) {
                impl_->release(std::move(conn));
            } else {
                impl_->discard(std::move(conn));
            }
            return std::move(out->response);
        }
        impl_->discard(std::move(conn));
        if (attempt == 0 && reused && !out->got_response_bytes &&
            (is_idempotent(req.method) || req.safe_to_retry)) {
            POETRYOPS_LOG(debug, "retrying on a fresh connection after a reused one failed",
                          {{"request", context}, {"error", out->response.error().message}});
            continue;
        }
        return fail(with_context(std::move(out->response).error(), context));
    }
}

void Client::close_idle() { impl_->close_idle(); }

std::uint64_t Client::connections_opened() const { return impl_->opened.load(); }

}  // namespace poetryops::http

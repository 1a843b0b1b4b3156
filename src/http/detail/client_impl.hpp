#pragma once
// Private: the Client's implementation, shared by client.cpp and stream.cpp.

#include "http/detail/asio.hpp"
#include "http/detail/tls.hpp"

#include <poetryops/http/client.hpp>
#include <poetryops/http/url.hpp>

#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace poetryops::http::detail {

/// One HTTP/1.1 connection (plain or TLS). Its stream is only touched on the client's I/O thread,
/// except while it sits idle in the pool (no operation pending).
struct Connection {
    Connection(asio::io_context& io, ssl::context* tls_context, const Url& url);

    Url url;          ///< scheme/host/port this connection talks to (target unused)
    std::string key;  ///< pool key: scheme://host:port
    std::unique_ptr<PlainStream> plain;
    std::unique_ptr<TlsStream> tls;
    beast::flat_buffer buffer;
    std::shared_ptr<std::string> tls_failure = std::make_shared<std::string>();
    std::chrono::steady_clock::time_point idle_since{};
    std::atomic<const char*> phase{"connect"};  ///< for timeout messages
    std::atomic<bool> abandoned{false};  ///< the caller gave up waiting: stop at the next step

    PlainStream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
    /// Closes socket and timers. I/O thread only (or when no operation is pending).
    void close();
    /// True when the peer already closed or sent unexpected bytes (non-blocking peek). Idle
    /// connections only.
    bool unusable();

    template <class F>
    auto with_stream(F&& f) {
        return tls ? f(*tls) : f(*plain);
    }
};

}  // namespace poetryops::http::detail

namespace poetryops::http {

class Client::Impl : public std::enable_shared_from_this<Client::Impl> {
public:
    Impl(ClientOptions options, std::shared_ptr<detail::ssl::context> tls);
    ~Impl();
    void shutdown();

    /// A pooled (reused = true) or newly connected connection for `url`.
    Result<std::shared_ptr<detail::Connection>> acquire(const Url& url, bool allow_reuse,
                                                        bool& reused);
    /// Puts a connection whose last exchange ended cleanly with keep-alive back into the pool.
    void release(std::shared_ptr<detail::Connection> conn);
    /// Closes a connection on the I/O thread.
    void discard(std::shared_ptr<detail::Connection> conn);
    void close_idle();

    /// Runs `fn` (returning awaitable<T>) on the I/O thread and waits at most `limit` for its
    /// result. nullopt when the wait timed out (the coroutine keeps running until its own deadlines
    /// end it).
    template <class T, class Fn>
    std::optional<T> run(Fn fn, std::chrono::milliseconds limit) {
        auto promise = std::make_shared<std::promise<T>>();
        auto future = promise->get_future();
        // fn() only creates the (lazily started) coroutine here; it runs on the I/O thread.
        detail::asio::co_spawn(io_, deliver<T>(fn(), promise), detail::asio::detached);
        if (future.wait_for(limit) != std::future_status::ready) return std::nullopt;
        return future.get();
    }

    template <class T>
    static detail::asio::awaitable<void> deliver(detail::asio::awaitable<T> op,
                                                 std::shared_ptr<std::promise<T>> promise) {
        try {
            promise->set_value(co_await std::move(op));
        } catch (const std::exception& e) {
            // Braces, not T(...): for the aggregate ExchangeOutcome, parenthesised aggregate
            // initialisation (P0960) is C++20 that g++ 12 has and clang 14 lacks (the fuzz build).
            promise->set_value(
                T{Error::make(Error::Kind::internal, std::string("http client: ") + e.what())});
        }
    }

    Error timeout_error(const detail::Connection& conn, std::chrono::milliseconds limit) const;

    ClientOptions options;
    std::shared_ptr<detail::ssl::context> tls_context;
    detail::asio::io_context io_;
    std::atomic<std::uint64_t> opened{0};
    std::atomic<bool> stopped{false};

private:
    std::optional<detail::asio::executor_work_guard<detail::asio::io_context::executor_type>> work_;
    std::thread thread_;
    std::mutex mu_;
    std::map<std::string, std::vector<std::shared_ptr<detail::Connection>>> idle_;
};

/// Slack added to a caller's wait beyond the operation's own deadline, so the I/O thread's timer
/// normally wins.
inline constexpr std::chrono::milliseconds kWaitSlack{2000};

}  // namespace poetryops::http

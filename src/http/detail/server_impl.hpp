#pragma once
// Private: the Server's implementation, shared by server.cpp and server_session.cpp.

#include "http/detail/asio.hpp"

#include <poetryops/http/server.hpp>

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace poetryops::http::detail {

class Session;

/// A function running on a worker thread; `timer` is cancelled on the I/O thread when it returned.
struct WorkerCall {
    explicit WorkerCall(asio::io_context& io) : timer(io, asio::steady_timer::time_point::max()) {}
    asio::steady_timer timer;
    bool done = false;  ///< I/O thread only
};

/// ResponseWriter for Response::stream: each write() is handed to the I/O thread and waited for.
class StreamWriter final : public ResponseWriter {
public:
    StreamWriter(std::shared_ptr<Session> session, std::chrono::milliseconds write_timeout)
        : session_(std::move(session)), write_timeout_(write_timeout) {}
    bool write(std::string_view data) override;
    bool cancelled() const override { return cancelled_; }
    bool wait_cancelled(std::chrono::milliseconds d) override;
    /// Marks the stream cancelled, wakes wait_cancelled() and closes the connection. Any thread.
    void cancel();

private:
    std::shared_ptr<Session> session_;
    std::chrono::milliseconds write_timeout_;
    std::atomic<bool> cancelled_{false};
    std::mutex mu_;
    std::condition_variable cv_;
};

}  // namespace poetryops::http::detail

namespace poetryops::http {

class Server::Impl {
public:
    ServerOptions options;
    Handler handler;
    std::shared_ptr<detail::ssl::context> tls;
    detail::asio::io_context io;
    std::optional<detail::asio::executor_work_guard<detail::asio::io_context::executor_type>> work;
    std::unique_ptr<detail::asio::thread_pool> workers;
    std::thread io_thread;
    std::unique_ptr<detail::tcp::acceptor> acceptor;
    std::uint16_t port = 0;
    bool started = false;
    bool stopped = false;
    std::atomic<bool> stopping{false};
    std::atomic<std::uint64_t> accepted{0};
    std::atomic<std::uint64_t> handled{0};
    std::atomic<std::size_t> active{0};                   ///< sessions not yet finished
    std::set<std::shared_ptr<detail::Session>> sessions;  ///< I/O thread only

    detail::asio::awaitable<void> accept_loop();
    /// Runs on the I/O thread when a session ends.
    void session_ended(const std::shared_ptr<detail::Session>& s);
};

}  // namespace poetryops::http

namespace poetryops::http::detail {

/// One accepted connection: reads requests one at a time, runs the handler on a worker, writes the
/// response.
class Session : public std::enable_shared_from_this<Session> {
public:
    Session(Server::Impl& server, tcp::socket socket);
    asio::awaitable<void> run();
    /// Closes the socket (cancelling pending operations). I/O thread only.
    void close();
    /// Asks the session to end: closes it when it is idle between requests, cancels a stream. I/O
    /// thread only.
    void request_stop();

    Server::Impl& server;
    std::unique_ptr<PlainStream> plain;
    std::shared_ptr<ssl::context> tls_context;  ///< the context `tls` was made with (reload_tls)
    std::unique_ptr<TlsStream> tls;
    beast::flat_buffer buffer;
    std::string remote;
    bool idle = true;                      ///< waiting for the next request (I/O thread)
    std::shared_ptr<StreamWriter> writer;  ///< set while a streamed response runs (I/O thread)

    PlainStream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
    template <class F>
    auto with_stream(F&& f) {
        return tls ? f(*tls) : f(*plain);
    }

private:
    /// Runs the read `op(stream)` until `deadline`. Then the read is cancelled and `ec` is
    /// beast::error::timeout, but the connection stays open (the stream's own expiry would close
    /// it), so that a request that came too slowly can still be answered 408.
    template <class Op>
    asio::awaitable<void> read_before(asio::steady_timer::time_point deadline, error_code& ec,
                                      Op& op);
    asio::awaitable<void> send_simple(int status, std::string body);
    asio::awaitable<void> drain();
    asio::awaitable<Response> call_handler(Request request);
    /// Runs `fn` on a worker thread; wait() resumes the calling coroutine on the I/O thread once it
    /// returned.
    std::shared_ptr<WorkerCall> start_on_worker(std::function<void()> fn);
    asio::awaitable<void> wait(std::shared_ptr<WorkerCall> call);
    asio::awaitable<void> stream_response(Response& response);
    asio::awaitable<void> write_chunk(std::shared_ptr<std::string> chunk,
                                      std::shared_ptr<std::promise<bool>> done);
    friend class StreamWriter;
    asio::awaitable<void> monitor(std::shared_ptr<StreamWriter> writer);
};

}  // namespace poetryops::http::detail

#include <poetryops/http/server.hpp>

#include "http/detail/server_impl.hpp"
#include "http/detail/tls.hpp"

#include <poetryops/util/log.hpp>

#include <future>

namespace poetryops::http {

using namespace detail;

asio::awaitable<void> Server::Impl::accept_loop() {
    for (;;) {
        error_code ec;
        tcp::socket socket = co_await acceptor->async_accept(with_ec(ec));
        if (stopping) co_return;
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
            // e.g. EMFILE: back off briefly instead of spinning.
            POETRYOPS_LOG(warn, "http server accept failed", {{"error", ec.message()}});
            asio::steady_timer timer(io, std::chrono::milliseconds(100));
            co_await timer.async_wait(with_ec(ec));
            continue;
        }
        ++accepted;
        auto session = std::make_shared<Session>(*this, std::move(socket));
        sessions.insert(session);
        ++active;
        asio::co_spawn(
            io, [session] { return session->run(); }, asio::detached);
    }
}

void Server::Impl::session_ended(const std::shared_ptr<Session>& s) {
    sessions.erase(s);
    --active;
}

Server::Server() : impl_(std::make_unique<Impl>()) {}

Server::~Server() { stop(); }

Result<std::uint16_t> Server::start(ServerOptions options, Handler handler) {
    auto& s = *impl_;
    if (s.started)
        return fail(Error::Kind::internal, "http server already started", "AlreadyStarted");
    if (!handler) return fail(Error::Kind::invalid, "http server needs a handler", "NoHandler");
    error_code ec;
    auto address = asio::ip::make_address(options.address, ec);
    if (ec) {
        return fail(Error::Kind::invalid,
                    "http server: \"" + options.address + "\" is not an IP address to listen on",
                    "BadAddress");
    }
    if (!options.tls_cert_file.empty() || !options.tls_cert_pem.empty()) {
        POETRYOPS_TRY(auto ctx, make_server_context(options));
        s.tls = std::move(ctx);
    }
    std::string where = (address.is_v6() ? "[" + options.address + "]" : options.address) + ":" +
                        std::to_string(options.port);
    auto acceptor = std::make_unique<tcp::acceptor>(s.io);
    tcp::endpoint endpoint(address, options.port);
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        return fail(Error::Kind::transport,
                    "http server cannot listen on " + where + ": " + ec.message(), "Listen");
    s.port = acceptor->local_endpoint().port();
    s.acceptor = std::move(acceptor);
    s.options = std::move(options);
    s.handler = std::move(handler);
    s.workers =
        std::make_unique<asio::thread_pool>(std::max<std::size_t>(1, s.options.worker_threads));
    s.work.emplace(s.io.get_executor());
    asio::co_spawn(
        s.io, [impl = impl_.get()] { return impl->accept_loop(); }, asio::detached);
    s.io_thread = std::thread([impl = impl_.get()] {
        for (;;) {
            try {
                impl->io.run();
                return;
            } catch (const std::exception& e) {
                POETRYOPS_LOG(error, "http server I/O thread caught an exception",
                              {{"error", e.what()}});
            }
        }
    });
    s.started = true;
    return s.port;
}

void Server::stop() {
    auto& s = *impl_;
    if (!s.started || s.stopped) return;
    s.stopped = true;
    s.stopping = true;
    auto wait_idle = [&](std::chrono::milliseconds limit) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (s.active.load() > 0 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    };
    // Each step runs on the I/O thread and is waited for: io.stop() below may drop handlers still
    // queued, and a dropped acceptor close would leave the port listening until this Server is
    // destroyed.
    auto on_io = [&s](auto step) {
        std::promise<void> done;
        asio::post(s.io, [&] {
            step();
            done.set_value();
        });
        done.get_future().wait();
    };
    on_io([&s] {
        error_code ec;
        s.acceptor->close(ec);
        for (const auto& session : s.sessions) session->request_stop();
    });
    wait_idle(s.options.stop_grace);
    on_io([&s] {
        for (const auto& session : s.sessions) {
            if (session->writer) session->writer->cancel();
            session->close();
        }
    });
    s.workers->join();  // handlers must return; streams have been cancelled
    wait_idle(std::chrono::milliseconds(1000));
    s.work.reset();
    s.io.stop();
    if (s.io_thread.joinable()) s.io_thread.join();
    s.sessions.clear();
}

Result<void> Server::reload_tls() {
    auto& s = *impl_;
    const bool https = !s.options.tls_cert_file.empty() || !s.options.tls_cert_pem.empty();
    if (!s.started || s.stopped || !https)
        return fail(Error::Kind::invalid, "http server: reload_tls needs a running HTTPS server",
                    "NotTls");
    POETRYOPS_TRY(auto ctx, make_server_context(s.options));
    // Sessions are made on the I/O thread from s.tls and each keeps its own reference.
    std::promise<void> done;
    asio::post(s.io, [&s, &done, ctx = std::move(ctx)]() mutable {
        s.tls = std::move(ctx);
        done.set_value();
    });
    done.get_future().wait();
    return {};
}

std::uint16_t Server::port() const { return impl_->port; }

std::string Server::base_url() const {
    const auto& o = impl_->options;
    bool v6 = o.address.find(':') != std::string::npos;
    const bool https = !o.tls_cert_file.empty() || !o.tls_cert_pem.empty();
    return std::string(https ? "https" : "http") + "://" +
           (v6 ? "[" + o.address + "]" : o.address) + ":" + std::to_string(impl_->port);
}

std::uint64_t Server::connections_accepted() const { return impl_->accepted.load(); }

std::uint64_t Server::requests_handled() const { return impl_->handled.load(); }

}  // namespace poetryops::http

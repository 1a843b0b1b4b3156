#pragma once
/// A small HTTP/1.1 server (plain or TLS) for probes, metrics, webhooks and test fakes (e.g. a fake
/// Kubernetes API).
///
///   http::Server server;
///   auto port = server.start({.port = 0}, [](const http::Request& r) {
///       return http::Response::make(200, "ok");
///   });
///   ... server.port() ...;
///   server.stop();
///
/// - Handlers run on a pool of worker threads, never on the I/O thread; an exception from a handler
/// becomes a 500.
/// - A request body larger than `max_body_bytes` is answered 413 and the connection closed, without
/// calling the
///   handler; a request that is not complete within `read_timeout` closes the connection (408 when
///   nothing of it was answered yet).
/// - Keep-alive as the client asks (HTTP/1.1 default on); one request at a time per connection.
/// - Streamed responses: set Response::stream (see message.hpp); the callback runs on a worker and
/// writes chunks
///   until it returns or the ResponseWriter reports cancelled (client gone, write timeout, stop()).
///   Each running stream holds one worker thread: size `worker_threads` for the number of
///   concurrent watches plus a few. The connection is closed after a streamed response.
/// - stop(): stops accepting, closes idle connections, lets in-flight handlers finish for up to
/// `stop_grace`,
///   cancels streams, then closes everything and joins its threads. The destructor calls stop().

#include <poetryops/http/message.hpp>
#include <poetryops/util/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace poetryops::http {

struct ServerOptions {
    std::string address = "127.0.0.1";  ///< IPv4 or IPv6 literal to bind
    std::uint16_t port = 0;             ///< 0: any free port; see Server::port()
    std::size_t max_body_bytes = 8u << 20;
    std::size_t max_header_bytes = 64u << 10;
    std::chrono::milliseconds read_timeout{
        30'000};  ///< to receive one whole request; also the keep-alive idle limit
    std::chrono::milliseconds write_timeout{
        30'000};  ///< per write (a response, or one chunk of a stream)
    std::chrono::milliseconds stop_grace{
        5'000};                      ///< stop(): how long in-flight handlers may still finish
    std::size_t worker_threads = 4;  ///< handlers running at once (streams each hold one)
    /// TLS: serve HTTPS when a certificate is set (file or PEM text; key likewise).
    std::string tls_cert_file{};
    std::string tls_cert_pem{};
    std::string tls_key_file{};
    std::string tls_key_pem{};
    /// Mutual TLS: when set, clients must present a certificate issued by this CA (file or PEM).
    std::string client_ca_file{};
    std::string client_ca_pem{};
};

using Handler = std::function<Response(const Request&)>;

/// Thread safety: start()/stop() from one owning thread; port() and connections_accepted()
/// anywhere.
class Server {
public:
    Server();
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Binds, listens and starts serving. Returns the bound port. Fails (Kind::invalid or
    /// transport) when the address cannot be bound or the TLS material does not load; the message
    /// names the address or file.
    Result<std::uint16_t> start(ServerOptions options, Handler handler);
    /// Graceful stop (see above). Idempotent.
    void stop();
    /// HTTPS only: loads the certificate and key again (from the files, or the PEM text, of the
    /// options given to start(); a renewed certificate) and serves new connections with them;
    /// connections already open keep theirs. On failure (Kind::invalid, naming the file) the
    /// server keeps serving with what it had. Thread safety: any thread, after start().
    Result<void> reload_tls();

    /// Bound port (0 before start()).
    std::uint16_t port() const;
    /// "http://127.0.0.1:PORT" or "https://…", IPv6 bracketed.
    std::string base_url() const;
    /// TCP connections accepted so far (for keep-alive tests and metrics).
    std::uint64_t connections_accepted() const;
    /// Requests whose handler was called so far.
    std::uint64_t requests_handled() const;

    class Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace poetryops::http

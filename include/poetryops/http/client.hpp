#pragma once
/// HTTP/1.1 client over plain TCP or TLS, with a keep-alive pool, per-operation timeouts and
/// streamed bodies.
///
///   POETRYOPS_TRY(auto client, http::Client::create({.tls = {.ca_file = "ca.crt"}}));
///   POETRYOPS_TRY(auto resp, client->request({.method = "GET",
///                                             .url = "https://127.0.0.1:8443/healthz"}));
///   if (resp.status != 200) return fail(http::status_error(resp, "GET /healthz"));
///
/// Behaviour a caller can rely on:
/// - Every phase has its own deadline (connect incl. name resolution, TLS handshake, write, read);
/// when one passes the
///   request fails with Error::Kind::timeout and a message naming host:port and the phase.
/// - Connections are pooled per scheme+host+port; one request in flight per connection; a
/// connection goes back to the
///   pool only after its whole body was read and the server allowed keep-alive. A request that
///   fails on a *reused* connection before any response byte arrived is retried once on a fresh
///   connection if its method is idempotent (GET, HEAD, PUT, DELETE, OPTIONS).
/// - Redirects are not followed: a 3xx is returned like any other response (see resolve_redirect()
/// in url.hpp).
/// - Any HTTP status is a successful Result; use status_error() to turn an unexpected one into an
/// Error.
/// - Errors never contain header values (Authorization) or URL credentials.
///
/// TLS: the peer certificate chain and the host name (DNS or IP SAN) are always verified unless
/// `insecure_skip_verify`; SNI is sent for host names, not for IP literals. Trust comes from
/// `ca_file`/`ca_pem` when either is set (then *only* those CAs are trusted), else from OpenSSL's
/// default verify paths — which honour the SSL_CERT_FILE / SSL_CERT_DIR environment variables (this
/// machine sets SSL_CERT_FILE).

#include <poetryops/http/message.hpp>
#include <poetryops/util/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace poetryops::http {

/// Client-side TLS settings. A `_file` and the matching `_pem` are alternatives; `_pem` wins when
/// both are set.
struct TlsOptions {
    std::string ca_file{};  ///< PEM bundle of trusted CAs (replaces the system trust store)
    /// same, as PEM text (e.g. kubeconfig certificate-authority-data, decoded)
    std::string ca_pem{};
    std::string cert_file{};  ///< client certificate chain (PEM) for mutual TLS, e.g. Kubernetes
                              ///< client-cert auth
    std::string cert_pem{};
    /// client private key (PEM); required when a client certificate is set
    std::string key_file{};
    std::string key_pem{};
    /// Name to send as SNI and to verify instead of the URL's host (kubeconfig `tls-server-name`).
    /// Empty: URL host.
    std::string server_name{};
    /// Skips certificate and host-name verification. For explicit user opt-in only (kubeconfig
    /// insecure-skip-tls-verify, registry "insecure"); never a default.
    bool insecure_skip_verify = false;
};

struct ClientOptions {
    TlsOptions tls{};
    std::chrono::milliseconds connect_timeout{10'000};    ///< name resolution + TCP connect
    std::chrono::milliseconds handshake_timeout{10'000};  ///< TLS handshake
    std::chrono::milliseconds write_timeout{30'000};      ///< sending the whole request
    /// request(): from the end of the write until the whole response was read. Streams: idle time
    /// allowed between two reads (re-armed per read) unless open() is given another idle timeout.
    std::chrono::milliseconds read_timeout{60'000};
    std::size_t max_response_bytes = 64u
                                     << 20;  ///< request(): a larger body fails with Kind::invalid
    std::size_t max_header_bytes = 64u << 10;
    std::size_t max_idle_per_host = 4;  ///< idle keep-alive connections kept per scheme+host+port
    std::chrono::milliseconds idle_keepalive{
        50'000};  ///< pooled connections idle longer than this are closed
    std::string user_agent = "poetryops/0.1";  ///< sent unless the request sets User-Agent
};

/// An open streamed response: status and headers have arrived, the body is read piece by piece.
/// Used for Kubernetes watches (chunked JSON lines for minutes) and large blob downloads.
/// Thread safety: read_some() from one thread at a time; cancel() from any thread.
class Stream {
public:
    class Impl;
    explicit Stream(std::unique_ptr<Impl> impl);
    ~Stream();  ///< closes the connection unless the body was read to its end with keep-alive (then
                ///< it is pooled)
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    /// Status, reason and headers (body empty).
    const Response& response() const;
    /// Waits for the next body bytes and appends them to `out`. Returns the number appended; 0
    /// means the body ended (cleanly). Fails with Kind::timeout when nothing arrived within the
    /// idle timeout, Kind::transport on reset, reason "Cancelled" after cancel(), Kind::invalid
    /// when the body exceeded the stream's byte limit. Chunk boundaries are not preserved: split
    /// records (e.g. on '\n') yourself.
    Result<std::size_t> read_some(std::string& out);
    /// Ends the stream from any thread; a blocked read_some() returns promptly with reason
    /// "Cancelled".
    void cancel();
    /// True after the body ended, failed or was cancelled.
    bool done() const;

private:
    std::unique_ptr<Impl> impl_;
};

/// Per-stream settings for Client::open().
struct StreamOptions {
    std::chrono::milliseconds idle_timeout{0};  ///< 0: ClientOptions::read_timeout
    std::size_t max_body_bytes = 0;             ///< 0: unlimited (a watch runs for minutes)
};

/// Thread safety: safe; any number of threads may issue requests concurrently. One internal I/O
/// thread.
class Client {
public:
    /// Builds the TLS context (reads CA/cert/key). Fails with Kind::invalid naming the file that
    /// does not load.
    static Result<std::unique_ptr<Client>> create(ClientOptions options = {});
    ~Client();  ///< closes pooled connections; requests still in flight in other threads must have
                ///< returned
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    /// Sends the request and reads the whole response (up to max_response_bytes).
    Result<Response> request(const Request& request);

    /// Sends the request and returns once status and headers arrived; read the body from the
    /// Stream. A non-2xx status is still a successful open: check stream->response().status.
    Result<std::unique_ptr<Stream>> open(const Request& request, StreamOptions options = {});

    /// Convenience over open(): calls `on_data` with each piece of the body as it arrives;
    /// `on_data` returning false stops early (not an error). Returns status and headers (body
    /// empty).
    Result<Response> stream(const Request& request,
                            const std::function<bool(std::string_view)>& on_data,
                            StreamOptions options = {});

    /// Closes every idle pooled connection.
    void close_idle();
    /// Number of TCP connections this client has opened so far (for tests and metrics).
    std::uint64_t connections_opened() const;

    class Impl;

private:
    explicit Client(std::unique_ptr<Impl> impl);
    std::shared_ptr<Impl> impl_;
};

/// True for GET, HEAD, PUT, DELETE, OPTIONS, TRACE (RFC 9110 §9.2.2): safe to retry on a fresh
/// connection.
bool is_idempotent(std::string_view method);

}  // namespace poetryops::http

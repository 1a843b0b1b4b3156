#pragma once
/// A client of the Prometheus HTTP API for instant queries (`/api/v1/query`), over the project's
/// HTTP client: per-query timeout, TLS with a custom CA, kept-alive connections, bearer or basic
/// auth. It knows PromQL and the API's JSON, nothing of the apps it measures.
///
///   POETRYOPS_TRY(auto prom, prometheus::Client::create({.address = "http://prom:9090"}));
///   POETRYOPS_TRY(auto v, prom->query_value("sum(rate(http_requests_total[1m]))"));
///   if (!v.ok()) …v.message…;          // empty, NaN/Inf, several series, not a number
///   … v.value …
///
/// Errors (Result): `is_unavailable(e)` when Prometheus could not answer (unreachable, timed out,
/// 502/503/504, its own timeout/unavailable errors) — the caller holds and asks again later;
/// Kind::invalid with reason "bad_data" or "execution" when Prometheus refused the query (the
/// message carries Prometheus' own error text, e.g. "1:10: parse error: unclosed left
/// parenthesis"); Kind::unauthorized for 401/403. Messages name the address and never contain the
/// token, the password or any header.

#include <poetryops/prometheus/response.hpp>
#include <poetryops/util/clock.hpp>
#include <poetryops/util/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace poetryops::prometheus {

struct BasicAuth {
    std::string username;
    std::string password;
};

struct ClientOptions {
    /// "http(s)://host:port", optionally with a path prefix ("https://h/prometheus" for
    /// --web.route-prefix or a proxy). No credentials in it (refused), no query string.
    std::string address{};
    /// Sent as "Authorization: Bearer …" (an auth proxy in front of Prometheus, a managed
    /// Prometheus). At most one of bearer_token and basic_auth.
    std::string bearer_token{};
    /// Sent as "Authorization: Basic …" (Prometheus' own --web.config.file basic_auth_users).
    std::optional<BasicAuth> basic_auth{};
    /// PEM bundle of the CAs to trust for https (replaces the system trust store); `ca_pem` is the
    /// same as text (e.g. from a Secret) and wins when both are set.
    std::string ca_file{};
    std::string ca_pem{};
    /// Skips certificate and host-name checks. Explicit opt-in only.
    bool insecure_skip_verify = false;
    /// Per query: connecting, the TLS handshake, sending, and reading the whole answer each get
    /// this long; it is also sent as the query's `timeout` so Prometheus stops evaluating too.
    std::chrono::milliseconds timeout{10'000};
    /// GET (default; retried once on a fresh connection when a kept-alive one was closed under it)
    /// or POST with a form body (for queries too long for a URL; also retried once on a
    /// connection error, since evaluating a query changes nothing).
    enum class Method { get, post };
    Method method = Method::get;
    std::size_t max_response_bytes = 16u << 20;
};

/// Thread safety: safe; queries from any number of threads share the kept-alive connections.
class Client {
public:
    /// Checks the options (address, auth) and loads the CA. Fails with Kind::invalid naming the
    /// field or file.
    static Result<std::unique_ptr<Client>> create(ClientOptions options);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    /// Evaluates `promql` at `at` (the `time` parameter; default: Prometheus' now).
    Result<QueryResult> query(std::string_view promql,
                              std::optional<Clock::time_point> at = std::nullopt);

    /// query() reduced to its one number (single_value()): an Error only when there is no result
    /// at all; a result that is not one finite number is a SingleValue with its problem.
    Result<SingleValue> query_value(std::string_view promql,
                                    std::optional<Clock::time_point> at = std::nullopt);

    /// The address queries go to, as given (for messages).
    const std::string& address() const;
    /// TCP connections opened so far (connection reuse, in tests).
    std::uint64_t connections_opened() const;

    class Impl;

private:
    explicit Client(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

/// The `time` parameter's form: Unix seconds with milliseconds, "1767225600.250".
std::string format_time(Clock::time_point t);

}  // namespace poetryops::prometheus

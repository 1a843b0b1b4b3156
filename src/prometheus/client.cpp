#include <poetryops/prometheus/client.hpp>

#include <poetryops/http/client.hpp>
#include <poetryops/http/url.hpp>
#include <poetryops/util/log.hpp>
#include <poetryops/util/strings.hpp>

#include <cstdio>

namespace poetryops::prometheus {

class Client::Impl {
public:
    ClientOptions options;
    std::string endpoint;  // origin + prefix + "/api/v1/query"
    std::string context;   // "Prometheus http://prom:9090"
    std::unique_ptr<http::Client> http;

    std::string form(std::string_view promql, std::optional<Clock::time_point> at) const {
        std::string f = "query=" + str::url_encode(promql);
        if (at) f += "&time=" + str::url_encode(format_time(*at));
        // Prometheus wants a Go duration; whole milliseconds always are one.
        f += "&timeout=" + std::to_string(options.timeout.count()) + "ms";
        return f;
    }

    http::Request build(std::string_view promql, std::optional<Clock::time_point> at) const {
        http::Request req;
        req.headers.set("Accept", "application/json");
        if (!options.bearer_token.empty()) {
            req.headers.set("Authorization", "Bearer " + options.bearer_token);
        } else if (options.basic_auth) {
            req.headers.set("Authorization",
                            "Basic " + str::base64_encode(options.basic_auth->username + ":" +
                                                          options.basic_auth->password));
        }
        req.timeout = options.timeout;
        if (options.method == ClientOptions::Method::post) {
            req.method = "POST";
            req.url = endpoint;
            req.headers.set("Content-Type", "application/x-www-form-urlencoded");
            req.body = form(promql, at);
        } else {
            req.method = "GET";
            req.url = endpoint + "?" + form(promql, at);
        }
        return req;
    }

    /// A failure of the HTTP exchange itself (no answer): unavailable unless retrying cannot
    /// help (a certificate that does not verify, an answer over the size limit).
    Error transport_error(Error e) const {
        if (!e.terminal) e.reason = std::string(kUnavailable);
        e.message = log::redact(context + (e.terminal ? ": " : " is unavailable: ") + e.message);
        return e;
    }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::create(ClientOptions options) {
    if (options.address.empty()) {
        return fail(Error::Kind::invalid, "Prometheus address is empty", "InvalidAddress");
    }
    // parse_url refuses user:password@ without echoing it back.
    auto url = http::parse_url(options.address);
    if (!url) {
        return fail(Error::Kind::invalid, "Prometheus address: " + url.error().message,
                    "InvalidAddress");
    }
    if (!url->query().empty()) {
        return fail(
            Error::Kind::invalid,
            "Prometheus address " + url->origin() + url->path() + " must not have a query string",
            "InvalidAddress");
    }
    if (!options.bearer_token.empty() && options.basic_auth) {
        return fail(
            Error::Kind::invalid,
            "Prometheus " + url->origin() + ": set either a bearer token or basic auth, not both",
            "InvalidAuth");
    }
    if (options.basic_auth && options.basic_auth->username.empty()) {
        return fail(Error::Kind::invalid,
                    "Prometheus " + url->origin() + ": basic auth needs a username", "InvalidAuth");
    }
    if (options.timeout.count() <= 0) {
        return fail(Error::Kind::invalid, "Prometheus " + url->origin() + ": timeout must be > 0",
                    "InvalidTimeout");
    }
    auto impl = std::make_unique<Impl>();
    std::string prefix = url->path();
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    impl->endpoint = url->origin() + prefix + "/api/v1/query";
    impl->context = "Prometheus " + url->origin() + prefix;

    http::ClientOptions ho;
    ho.tls.ca_file = options.ca_file;
    ho.tls.ca_pem = options.ca_pem;
    ho.tls.insecure_skip_verify = options.insecure_skip_verify;
    ho.connect_timeout = ho.handshake_timeout = ho.write_timeout = ho.read_timeout =
        options.timeout;
    ho.max_response_bytes = options.max_response_bytes;
    ho.max_idle_per_host = 2;
    auto http = http::Client::create(ho);
    if (!http) {
        Error e = std::move(http).error();
        e.message = impl->context + ": " + e.message;
        return fail(std::move(e));
    }
    impl->http = std::move(http).value();
    impl->options = std::move(options);
    return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Result<QueryResult> Client::query(std::string_view promql, std::optional<Clock::time_point> at) {
    const auto req = impl_->build(promql, at);
    auto resp = impl_->http->request(req);
    // GET is retried by the HTTP client when a kept-alive connection was closed under it; a POST
    // query is just as safe to send again (evaluating a query changes nothing).
    if (!resp && req.method == "POST" && resp.error().kind == Error::Kind::transport &&
        !resp.error().terminal) {
        resp = impl_->http->request(req);
    }
    if (!resp) return fail(impl_->transport_error(std::move(resp).error()));
    return parse_query_response(resp->status, resp->body, impl_->context);
}

Result<SingleValue> Client::query_value(std::string_view promql,
                                        std::optional<Clock::time_point> at) {
    POETRYOPS_TRY(auto result, query(promql, at));
    return single_value(result);
}

const std::string& Client::address() const { return impl_->options.address; }

std::uint64_t Client::connections_opened() const { return impl_->http->connections_opened(); }

std::string format_time(Clock::time_point t) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    auto secs = ms / 1000;
    auto frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        secs -= 1;
    }
    char buf[40];
    std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(secs),
                  static_cast<long long>(frac));
    return buf;
}

}  // namespace poetryops::prometheus

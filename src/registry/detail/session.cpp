#include "session.hpp"

#include <poetryops/util/backoff.hpp>
#include <poetryops/util/log.hpp>
#include <poetryops/util/strings.hpp>

#include <nlohmann/json.hpp>

#include <set>
#include <thread>

namespace poetryops::registry::detail {

std::string media_type_of(std::string_view content_type) {
    return str::to_lower(str::trim(content_type.substr(0, content_type.find(';'))));
}

Error registry_error(const http::Response& response, std::string_view context) {
    Error e = http::status_error(response, context);
    try {
        auto j = nlohmann::json::parse(response.body);
        if (j.contains("errors") && j["errors"].is_array() && !j["errors"].empty() &&
            j["errors"][0].contains("code") && j["errors"][0]["code"].is_string()) {
            e.reason = j["errors"][0]["code"].get<std::string>();
        }
    } catch (const std::exception&) {
    }
    return e;
}

Session::Session(RegistryClientOptions options)
    : options_(std::move(options)),
      clock_(options_.clock ? *options_.clock : static_cast<const Clock&>(SystemClock::instance())),
      tokens_(clock_) {
    std::map<std::string, RegistryHostConfig> normalised;
    for (auto& [host, cfg] : options_.hosts) normalised[normalize_registry_host(host)] = cfg;
    options_.hosts = std::move(normalised);
}

const RegistryHostConfig& Session::host_config(const std::string& registry) const {
    auto it = options_.hosts.find(normalize_registry_host(registry));
    return it == options_.hosts.end() ? default_host_ : it->second;
}

std::optional<Credentials> Session::credentials(const std::string& registry) const {
    const auto& cfg = host_config(registry);
    if (cfg.credentials && !cfg.credentials->empty()) return cfg.credentials;
    return options_.docker_config.find(registry);
}

std::string Session::base_url(const std::string& registry) const {
    Reference r;
    r.registry = registry;
    return std::string(host_config(registry).plain_http ? "http://" : "https://") + r.api_host();
}

std::uint64_t Session::connections() const {
    std::lock_guard lock(mu_);
    std::uint64_t n = 0;
    for (const auto& [key, c] : clients_) n += c->connections_opened();
    return n;
}

Result<http::Client*> Session::client_for(const http::Url& url, const std::string& registry) {
    // TLS settings: the registry's own when the URL is on the registry's host (any port: token
    // realms often are), those of another configured registry on that host:port, else the defaults
    // (system trust store).
    const RegistryHostConfig* cfg = &default_host_;
    if (auto it = options_.hosts.find(normalize_registry_host(url.host_port()));
        it != options_.hosts.end()) {
        cfg = &it->second;
    } else {
        if (auto parsed = http::parse_url(base_url(registry)); parsed && parsed->host == url.host) {
            cfg = &host_config(registry);
        }
    }
    std::string key = cfg->ca_file + "|" + (cfg->insecure_skip_verify ? "1" : "0");
    std::lock_guard lock(mu_);
    auto& slot = clients_[key];
    if (!slot) {
        http::ClientOptions o;
        o.tls.ca_file = cfg->ca_file;
        o.tls.insecure_skip_verify = cfg->insecure_skip_verify;
        o.connect_timeout = o.handshake_timeout = o.write_timeout = o.read_timeout =
            options_.timeout;
        o.max_response_bytes = std::max(options_.max_response_bytes, options_.max_manifest_bytes);
        auto c = http::Client::create(o);
        if (!c) {
            clients_.erase(key);
            return fail(std::move(c).error());
        }
        slot = std::move(c).value();
    }
    return slot.get();
}

TokenBucket& Session::bucket(const std::string& registry) {
    std::lock_guard lock(mu_);
    auto& b = buckets_[registry];
    if (!b) b = std::make_unique<TokenBucket>(clock_, options_.requests_per_second, options_.burst);
    return *b;
}

void Session::sleep(std::chrono::milliseconds d) const {
    if (d <= std::chrono::milliseconds(0)) return;
    if (options_.sleep) {
        options_.sleep(d);
    } else {
        std::this_thread::sleep_for(d);
    }
}

Result<http::Response> Session::round_trip(http::Request req, const std::string& registry) {
    POETRYOPS_TRY(auto url, http::parse_url(req.url));
    POETRYOPS_TRY(http::Client * client, client_for(url, registry));
    Backoff backoff(options_.backoff_base, std::chrono::seconds(10));
    const bool idempotent = http::is_idempotent(req.method);
    for (int attempt = 1;; ++attempt) {
        auto& budget = bucket(registry);
        auto waited = std::chrono::milliseconds(0);
        for (auto wait = budget.try_take(); wait.count() > 0; wait = budget.try_take()) {
            if (waited + wait > options_.max_budget_wait) {
                return fail(Error::Kind::timeout,
                            "request budget for registry " + registry + " exhausted (" +
                                std::to_string(options_.requests_per_second) + " requests/s)",
                            "RateLimited");
            }
            sleep(wait);
            waited += wait;
        }
        ++requests_;
        auto resp = client->request(req);
        const bool last = attempt >= options_.max_attempts;
        if (!resp) {
            auto kind = resp.error().kind;
            if (!last && idempotent &&
                (kind == Error::Kind::transport || kind == Error::Kind::timeout)) {
                POETRYOPS_LOG(debug, "registry request failed, retrying",
                              {{"error", resp.error().message}});
                sleep(backoff.next());
                continue;
            }
            return resp;
        }
        int status = resp->status;
        if (status == 429) {
            auto retry_after = parse_retry_after(resp->headers.get_or("Retry-After"), clock_.now());
            if (retry_after && *retry_after > options_.max_retry_after) {
                Error e = registry_error(*resp, req.method + " " + url.origin() + url.path());
                e.message += " (Retry-After " + std::to_string(retry_after->count() / 1000) +
                             " s is too long)";
                return fail(std::move(e));
            }
            if (last) return resp;
            sleep(retry_after ? *retry_after : backoff.next());
            continue;
        }
        if (!last && idempotent &&
            (status == 500 || status == 502 || status == 503 || status == 504)) {
            // A 503 may say when the registry expects to be back (RFC 9110 §10.2.3): wait that
            // long, within the same bound as a 429's.
            std::optional<std::chrono::milliseconds> retry_after;
            if (status == 503)
                retry_after = parse_retry_after(resp->headers.get_or("Retry-After"), clock_.now());
            if (retry_after && *retry_after > options_.max_retry_after) return resp;
            sleep(retry_after ? std::max(*retry_after, backoff.next()) : backoff.next());
            continue;
        }
        return resp;
    }
}

Result<http::Response> Session::follow(http::Request req, const std::string& registry) {
    std::set<std::string> visited{req.url};
    for (int hop = 0;; ++hop) {
        POETRYOPS_TRY(auto resp, round_trip(req, registry));
        if (!http::is_redirect_status(resp.status)) return resp;
        POETRYOPS_TRY(auto from, http::parse_url(req.url));
        auto location = resp.headers.get("Location");
        if (!location) {
            return fail(Error::Kind::http, req.method + " " + from.origin() + from.path() +
                                               ": redirect " + std::to_string(resp.status) +
                                               " without a Location header");
        }
        POETRYOPS_TRY(auto to, http::resolve_redirect(from, *location));
        if (from.tls() && !to.tls()) {
            return fail(Error::Kind::invalid, "registry " + registry +
                                                  " redirected from https to plain http (" +
                                                  to.host_port() + "); refusing the downgrade");
        }
        if (!visited.insert(to.str()).second) {
            return fail(
                Error::Kind::invalid,
                "redirect loop at " + to.origin() + to.path() + " (registry " + registry + ")",
                "RedirectLoop");
        }
        if (hop + 1 > options_.max_redirects) {
            return fail(Error::Kind::invalid, "more than " +
                                                  std::to_string(options_.max_redirects) +
                                                  " redirects for " + from.origin() + from.path());
        }
        if (!http::same_origin(from, to)) {
            // Blob/manifest storage (S3, a CDN) must never see the registry's credentials.
            req.headers.remove("Authorization");
        }
        if (resp.status == 303) {
            req.method = req.method == "HEAD" ? "HEAD" : "GET";
            req.body.clear();
            req.headers.remove("Content-Type");
        }
        req.url = to.str();
    }
}

std::string Session::token_key(const std::string& registry, const std::string& scope) const {
    auto creds = credentials(registry);
    return registry + "|" + scope + "|" + (creds ? creds->username : std::string());
}

std::optional<std::string> Session::cached_authorization(const Call& call) {
    HostState state;
    {
        std::lock_guard lock(mu_);
        auto it = hosts_.find(call.registry);
        if (it == hosts_.end()) return std::nullopt;
        state = it->second;
    }
    if (!state.realm.empty()) {
        if (auto token = tokens_.get(token_key(call.registry, call.scope)))
            return "Bearer " + *token;
        // A known token service: fetch the token for this scope up front and save the 401 round
        // trip.
        auto token = fetch_token(call.registry, state.realm, state.service, call.scope);
        if (token) return "Bearer " + *token;
        return std::nullopt;
    }
    if (state.basic) {
        if (auto creds = credentials(call.registry)) {
            return "Basic " + str::base64_encode(creds->username + ":" + creds->password);
        }
    }
    return std::nullopt;
}

Result<std::string> Session::fetch_token(const std::string& registry, const std::string& realm,
                                         const std::string& service, const std::string& scope) {
    auto realm_url = http::parse_url(realm);
    if (!realm_url) {
        return fail(
            Error::Kind::invalid,
            "registry " + registry + " names an invalid token realm: " + realm_url.error().message);
    }
    std::string target = realm_url->target;
    target += target.find('?') == std::string::npos ? "?" : "&";
    if (!service.empty()) target += "service=" + str::url_encode(service) + "&";
    target += "scope=" + str::url_encode(scope);
    http::Request req;
    req.method = "GET";
    req.url = realm_url->origin() + target;
    auto creds = credentials(registry);
    if (creds)
        req.headers.set("Authorization",
                        "Basic " + str::base64_encode(creds->username + ":" + creds->password));
    POETRYOPS_TRY(auto resp, follow(std::move(req), registry));
    if (resp.status != 200) {
        Error e =
            registry_error(resp, "token request to " + realm_url->origin() + realm_url->path());
        e.message += creds ? " (credentials for " + registry + " refused)"
                           : " (anonymous; no credentials for " + registry + ")";
        return fail(std::move(e));
    }
    POETRYOPS_TRY(auto token, parse_token_response(resp.body, clock_));
    auto value = token.token;
    tokens_.put(token_key(registry, scope), std::move(token));
    return value;
}

Result<http::Response> Session::send(const Call& call) {
    http::Request req;
    req.method = call.method;
    req.url = call.url.empty() ? base_url(call.registry) + call.target : call.url;
    req.headers = call.headers;
    req.body = call.body;
    if (auto auth = cached_authorization(call)) req.headers.set("Authorization", *auth);
    POETRYOPS_TRY(auto resp, follow(req, call.registry));
    if (resp.status != 401) return resp;

    // One challenge round: learn the scheme, authenticate, retry once.
    Challenge bearer, basic;
    for (const auto& v : resp.headers.get_all("WWW-Authenticate")) {
        for (auto& ch : parse_www_authenticate(v)) {
            if (ch.scheme == "bearer" && bearer.scheme.empty()) bearer = ch;
            if (ch.scheme == "basic" && basic.scheme.empty()) basic = ch;
        }
    }
    if (!bearer.scheme.empty() && !bearer.param("realm").empty()) {
        {
            std::lock_guard lock(mu_);
            hosts_[call.registry] =
                HostState{bearer.param("realm"), bearer.param("service"), false};
        }
        auto scope = call.scope.empty() ? bearer.param("scope") : call.scope;
        POETRYOPS_TRY(auto token, fetch_token(call.registry, bearer.param("realm"),
                                              bearer.param("service"), scope));
        req.headers.set("Authorization", "Bearer " + token);
    } else if (!basic.scheme.empty()) {
        auto creds = credentials(call.registry);
        if (!creds) return resp;  // caller reports 401: no credentials configured
        {
            std::lock_guard lock(mu_);
            hosts_[call.registry] = HostState{{}, {}, true};
        }
        req.headers.set("Authorization",
                        "Basic " + str::base64_encode(creds->username + ":" + creds->password));
    } else {
        return resp;
    }
    return follow(req, call.registry);
}

}  // namespace poetryops::registry::detail

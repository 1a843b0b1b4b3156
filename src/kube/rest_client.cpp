#include <poetryops/kube/client.hpp>

#include <poetryops/http/client.hpp>
#include <poetryops/http/url.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/util/log.hpp>
#include <poetryops/util/metrics.hpp>
#include <poetryops/util/strings.hpp>

#include <deque>
#include <random>

namespace poetryops::kube {

struct RestClient::Impl {
    KubeConfig config;
    RestClientOptions options;
    std::unique_ptr<http::Client> http;
    std::unique_ptr<TokenSource> tokens;
    std::string host;  // for metrics labels

    void count(const std::string& method, const std::string& code) {
        if (options.metrics != nullptr) {
            options.metrics->inc("rest_client_requests_total",
                                 {{"code", code}, {"method", method}, {"host", host}});
        }
    }

    void authorize(http::Headers& h) {
        std::string token = tokens->token();
        if (!token.empty()) {
            h.set("Authorization", "Bearer " + token);
        } else if (!config.username.empty()) {
            h.set("Authorization",
                  "Basic " + str::base64_encode(config.username + ":" + config.password));
        }
    }

    /// Sends one request; 2xx → body, otherwise the mapped Status error.
    Result<std::string> send(const std::string& method, const std::string& target,
                             const std::string& body, const std::string& ctype) {
        http::Request req;
        req.method = method;
        req.url = config.server + target;
        req.headers.set("Accept", "application/json");
        if (!ctype.empty()) req.headers.set("Content-Type", ctype);
        authorize(req.headers);
        req.body = body;
        req.timeout = options.request_timeout;
        std::string what = method + " " + http::split_target(target).first;
        auto resp = http->request(req);
        if (resp && resp->status == 401 && tokens->reload_after_unauthorized()) {
            // The token file holds a newer token (rotated, or re-issued for a re-created
            // ServiceAccount): once more.
            count(method, "401");
            authorize(req.headers);
            resp = http->request(req);
        }
        if (!resp) {
            count(method, "<error>");
            Error e = std::move(resp).error();
            e.message = what + ": " + e.message;
            return fail(std::move(e));
        }
        count(method, std::to_string(resp->status));
        if (resp->status >= 200 && resp->status < 300) return std::move(resp->body);
        return fail(status_error(resp->status, resp->body, what));
    }

    Result<nlohmann::json> send_json(const std::string& method, const std::string& target,
                                     const std::string& body, const std::string& ctype) {
        POETRYOPS_TRY(auto text, send(method, target, body, ctype));
        auto j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_discarded()) {
            return fail(Error::make(
                Error::Kind::decode,
                method + " " + http::split_target(target).first + ": response is not JSON",
                "BadResponse"));
        }
        return j;
    }
};

namespace {

void add_param(std::string& q, const char* name, const std::string& value) {
    if (value.empty()) return;
    q += q.empty() ? "?" : "&";
    q += name;
    q += "=";
    q += str::url_encode(value);
}

int random_watch_timeout() {
    thread_local std::mt19937 rng{std::random_device{}()};
    return std::uniform_int_distribution<int>(300, 600)(rng);
}

std::string object_name(const ResourceRef& ref, const nlohmann::json& object) {
    if (!ref.name.empty()) return ref.name;
    if (object.is_object() && object.contains("metadata") && object["metadata"].is_object()) {
        auto it = object["metadata"].find("name");
        if (it != object["metadata"].end() && it->is_string()) return it->get<std::string>();
    }
    return {};
}

class RestWatchStream final : public WatchStream {
public:
    RestWatchStream(std::unique_ptr<http::Stream> stream, std::string what)
        : stream_(std::move(stream)), what_(std::move(what)) {}

    Result<std::optional<WatchEvent>> next() override {
        auto sink = [this](WatchEvent&& ev) { pending_.push_back(std::move(ev)); };
        for (;;) {
            if (!pending_.empty()) {
                WatchEvent ev = std::move(pending_.front());
                pending_.pop_front();
                if (ev.type == WatchEventType::error)
                    return fail(status_object_error(ev.object.dump(), what_));
                return std::optional<WatchEvent>(std::move(ev));
            }
            // Events decoded before a failure are delivered first, then the failure.
            if (deferred_) return fail(*deferred_);
            if (ended_) return std::optional<WatchEvent>();
            buf_.clear();
            auto n = stream_->read_some(buf_);
            if (!n) {
                Error e = std::move(n).error();
                e.message = what_ + ": " + e.message;
                deferred_ = e;
                continue;
            }
            if (*n == 0) {
                ended_ = true;
                if (auto r = decoder_.finish(sink); !r) {
                    // A connection cut mid-event is a dropped connection, not garbage: resume, do
                    // not relist.
                    deferred_ = Error::make(Error::Kind::transport,
                                            what_ + ": " + r.error().message, r.error().reason);
                }
                continue;
            }
            if (auto r = decoder_.feed(buf_, sink); !r) {
                Error e = std::move(r).error();
                e.message = what_ + ": " + e.message;
                deferred_ = e;
            }
        }
    }

    void cancel() override { stream_->cancel(); }

private:
    std::unique_ptr<http::Stream> stream_;
    std::string what_;
    WatchDecoder decoder_;
    std::deque<WatchEvent> pending_;
    std::string buf_;
    bool ended_ = false;
    std::optional<Error> deferred_;
};

}  // namespace

RestClient::RestClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RestClient::~RestClient() = default;

const KubeConfig& RestClient::config() const { return impl_->config; }

Result<std::unique_ptr<RestClient>> RestClient::create(const KubeConfig& config,
                                                       RestClientOptions options) {
    auto url = http::parse_url(config.server);
    if (!url)
        return fail(Error::make(Error::Kind::invalid, "Kubernetes server " + url.error().message,
                                "BadServer"));
    http::ClientOptions ho;
    ho.tls.ca_pem = config.ca_pem;
    ho.tls.cert_pem = config.client_cert_pem;
    ho.tls.key_pem = config.client_key_pem;
    ho.tls.server_name = config.tls_server_name;
    ho.tls.insecure_skip_verify = config.insecure_skip_tls_verify;
    ho.read_timeout = options.request_timeout;
    ho.connect_timeout = options.connect_timeout;
    ho.user_agent = options.user_agent;
    ho.max_idle_per_host = 16;
    auto client = http::Client::create(ho);
    if (!client) {
        Error e = std::move(client).error();
        e.message =
            "Kubernetes client for " + config.server + " (" + config.source + "): " + e.message;
        return fail(std::move(e));
    }
    auto impl = std::make_unique<Impl>();
    impl->config = config;
    impl->options = options;
    impl->http = std::move(client).value();
    impl->tokens = std::make_unique<TokenSource>(
        config, options.clock != nullptr ? *options.clock
                                         : static_cast<const Clock&>(SystemClock::instance()));
    impl->host = url->authority();
    if (options.metrics != nullptr) {
        options.metrics->describe(
            "rest_client_requests_total", metrics::MetricType::counter,
            "Number of HTTP requests, partitioned by status code, method, and host.");
    }
    return std::unique_ptr<RestClient>(new RestClient(std::move(impl)));
}

Result<nlohmann::json> RestClient::get(const ResourceRef& ref) {
    return impl_->send_json("GET", ref.path(), {}, {});
}

Result<ObjectList> RestClient::list(const ResourceRef& ref, const ListOptions& options) {
    std::string q;
    add_param(q, "labelSelector", options.label_selector);
    add_param(q, "fieldSelector", options.field_selector);
    if (options.limit > 0) add_param(q, "limit", std::to_string(options.limit));
    add_param(q, "continue", options.continue_token);
    add_param(q, "resourceVersion", options.resource_version);
    POETRYOPS_TRY(auto j,
                  impl_->send_json("GET", ref.collection().in(ref.namespace_).path() + q, {}, {}));
    ObjectList out;
    try {
        if (auto md = j.find("metadata"); md != j.end() && md->is_object()) {
            out.resource_version = md->value("resourceVersion", "");
            out.continue_token = md->value("continue", "");
        }
        if (auto items = j.find("items"); items != j.end() && items->is_array()) {
            // A real API server leaves apiVersion and kind out of the items of built-in lists
            // (watch events carry them); fill them in from the list, as client-go's decoder does,
            // so every object has one shape.
            std::string kind = j.value("kind", "");
            if (kind.size() > 4 && kind.compare(kind.size() - 4, 4, "List") == 0)
                kind.resize(kind.size() - 4);
            std::string api_version = j.value("apiVersion", ref.api_version());
            out.items.reserve(items->size());
            for (auto& item : *items) {
                if (item.is_object()) {
                    if (!item.contains("apiVersion")) item["apiVersion"] = api_version;
                    if (!item.contains("kind") && !kind.empty()) item["kind"] = kind;
                }
                out.items.push_back(std::move(item));
            }
        }
    } catch (const nlohmann::json::exception& e) {
        return fail(Error::make(Error::Kind::decode,
                                "list " + ref.describe() + ": unexpected list shape: " + e.what(),
                                "BadResponse"));
    }
    return out;
}

Result<nlohmann::json> RestClient::create(const ResourceRef& ref, const nlohmann::json& object) {
    ResourceRef coll = ref;
    coll.name.clear();
    coll.subresource.clear();
    return impl_->send_json("POST", coll.path(), object.dump(), "application/json");
}

Result<nlohmann::json> RestClient::update(const ResourceRef& ref, const nlohmann::json& object) {
    ResourceRef r = ref;
    r.name = object_name(ref, object);
    if (r.name.empty())
        return fail(Error::make(Error::Kind::invalid, "update " + ref.describe() + ": no name"));
    return impl_->send_json("PUT", r.path(), object.dump(), "application/json");
}

Result<nlohmann::json> RestClient::patch(const ResourceRef& ref, PatchType type,
                                         const nlohmann::json& patch, const PatchOptions& options) {
    ResourceRef r = ref;
    r.name = object_name(ref, patch);
    if (r.name.empty())
        return fail(Error::make(Error::Kind::invalid, "patch " + ref.describe() + ": no name"));
    std::string q;
    if (type == PatchType::apply && options.field_manager.empty()) {
        return fail(Error::make(Error::Kind::invalid,
                                "apply " + ref.describe() + ": a field manager is required"));
    }
    add_param(q, "fieldManager", options.field_manager);
    if (type == PatchType::apply && options.force) add_param(q, "force", "true");
    return impl_->send_json("PATCH", r.path() + q, patch.dump(), content_type(type));
}

Result<void> RestClient::remove(const ResourceRef& ref, const DeleteOptions& options) {
    nlohmann::json body = nlohmann::json::object();
    body["apiVersion"] = "v1";
    body["kind"] = "DeleteOptions";
    if (!options.propagation_policy.empty()) body["propagationPolicy"] = options.propagation_policy;
    if (!options.precondition_resource_version.empty()) {
        body["preconditions"] = {{"resourceVersion", options.precondition_resource_version}};
    }
    POETRYOPS_TRY(auto text, impl_->send("DELETE", ref.path(), body.dump(), "application/json"));
    (void)text;
    return ok();
}

Result<std::unique_ptr<WatchStream>> RestClient::watch(const ResourceRef& ref,
                                                       const WatchOptions& options) {
    std::string q = "?watch=true";
    if (options.allow_bookmarks) q += "&allowWatchBookmarks=true";
    int timeout = options.timeout_seconds > 0 ? options.timeout_seconds : random_watch_timeout();
    q += "&timeoutSeconds=" + std::to_string(timeout);
    auto add = [&](const char* n, const std::string& v) {
        if (!v.empty()) q += std::string("&") + n + "=" + str::url_encode(v);
    };
    add("resourceVersion", options.resource_version);
    add("labelSelector", options.label_selector);
    add("fieldSelector", options.field_selector);
    ResourceRef coll = ref.collection().in(ref.namespace_);
    http::Request req;
    req.method = "GET";
    req.url = impl_->config.server + coll.path() + q;
    req.headers.set("Accept", "application/json");
    impl_->authorize(req.headers);
    std::string what = "WATCH " + coll.path();
    http::StreamOptions so;
    so.idle_timeout = options.idle_timeout;
    // A watch runs for minutes; bound it far above anything real instead of relying on 0 =
    // unlimited.
    so.max_body_bytes = std::size_t(1) << 40;
    auto stream = impl_->http->open(req, so);
    if (!stream) {
        impl_->count("GET", "<error>");
        Error e = std::move(stream).error();
        e.message = what + ": " + e.message;
        return fail(std::move(e));
    }
    int status = (*stream)->response().status;
    impl_->count("GET", std::to_string(status));
    // A rotated token: the next attempt (the informer retries) reads the file again.
    if (status == 401) impl_->tokens->reload_after_unauthorized();
    if (status < 200 || status >= 300) {
        std::string body;
        while (body.size() < 64 * 1024) {
            auto n = (*stream)->read_some(body);
            if (!n || *n == 0) break;
        }
        return fail(status_error(status, body, what));
    }
    return std::unique_ptr<WatchStream>(new RestWatchStream(std::move(stream).value(), what));
}

Result<std::string> RestClient::logs(const ResourceRef& pod, const LogOptions& options) {
    if (pod.name.empty())
        return fail(Error::make(Error::Kind::invalid, "logs " + pod.describe() + ": no Pod name"));
    std::string q;
    add_param(q, "container", options.container);
    if (options.tail_lines > 0) add_param(q, "tailLines", std::to_string(options.tail_lines));
    if (options.limit_bytes > 0) add_param(q, "limitBytes", std::to_string(options.limit_bytes));
    if (options.previous) add_param(q, "previous", "true");
    ResourceRef r = pod;
    r.subresource = "log";
    return impl_->send("GET", r.path() + q, {}, {});
}

Result<std::string> RestClient::raw(const std::string& method, const std::string& path_and_query,
                                    const std::string& body, const std::string& content_type) {
    return impl_->send(method, path_and_query, body, content_type);
}

}  // namespace poetryops::kube

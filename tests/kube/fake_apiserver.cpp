#include "kube/fake_apiserver.hpp"

#include "kube/fake_store.hpp"

#include <poetryops/http/server.hpp>
#include <poetryops/http/url.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/strings.hpp>

#include <atomic>
#include <thread>

namespace poetryops::kube::fake {

class FakeApiServer::Impl {
public:
    FakeApiServerOptions options;
    Store store{10000};
    http::Server server;
    bool started = false;

    std::mutex fault_mu;
    int fail_n = 0;
    int fail_status = 0;
    std::string fail_method;
    int stall_n = 0;
    std::chrono::milliseconds stall_delay{0};
    std::string token;
    bool gone_as_http = false;
    // Generation counters: an open watch acts when one moves past the value it saw at its start.
    std::atomic<std::uint64_t> drop_gen{0}, expire_gen{0}, garbage_gen{0};

    std::atomic<std::uint64_t> requests{0}, lists{0}, watches{0};
    std::atomic<int> open_watches{0};

    http::Response json_response(const StoreResult& r) {
        return http::Response::make(r.status, r.body.dump(), "application/json");
    }
    http::Response error(int code, const std::string& reason, const std::string& message) {
        return json_response(error_result(code, reason, message));
    }

    http::Response handle(const http::Request& req);
    http::Response watch(const ResourceType& t, const std::string& ns,
                         const std::map<std::string, std::string>& q);
};

namespace {

std::string reason_for(int code) {
    switch (code) {
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "NotFound";
        case 409: return "Conflict";
        case 410: return "Gone";
        case 422: return "Invalid";
        case 429: return "TooManyRequests";
        case 503: return "ServiceUnavailable";
        case 504: return "Timeout";
        default: return code >= 500 ? "InternalError" : "BadRequest";
    }
}

std::string bookmark_line(const ResourceType& t, std::int64_t rv) {
    nlohmann::json b = {{"type", "BOOKMARK"},
                        {"object",
                         {{"apiVersion", t.gvr.api_version()},
                          {"kind", t.kind},
                          {"metadata",
                           {{"resourceVersion", std::to_string(rv)},
                            {"annotations", {{"k8s.io/initial-events-end", "true"}}}}}}}};
    return b.dump() + "\n";
}

std::string error_line(int code, const std::string& reason, const std::string& message) {
    return nlohmann::json{{"type", "ERROR"}, {"object", status_body(code, reason, message)}}
               .dump() +
           "\n";
}

}  // namespace

http::Response FakeApiServer::Impl::handle(const http::Request& req) {
    ++requests;
    auto [path, query] = http::split_target(req.url);
    std::map<std::string, std::string> q;
    for (auto& [k, v] : http::parse_query(query)) q[k] = v;
    bool is_watch = q.count("watch") != 0 && (q["watch"] == "true" || q["watch"] == "1");
    {
        std::unique_lock lock(fault_mu);
        if (!token.empty() && req.headers.get_or("Authorization") != "Bearer " + token) {
            return error(401, "Unauthorized", "Unauthorized");
        }
        if (stall_n > 0) {
            --stall_n;
            auto d = stall_delay;
            lock.unlock();
            std::this_thread::sleep_for(d);
            lock.lock();
        }
        if (fail_n > 0 && (fail_method.empty() || fail_method == req.method)) {
            --fail_n;
            int code = fail_status;
            return error(code, reason_for(code), "injected failure (fake API server fault switch)");
        }
    }
    if (path == "/healthz" || path == "/readyz" || path == "/livez")
        return http::Response::make(200, "ok");
    if (path == "/version") {
        return http::Response::make(
            200, R"({"major":"1","minor":"30","gitVersion":"v1.30.0-poetryops-fake"})",
            "application/json");
    }
    auto seg = str::split_nonempty(path, '/');
    for (auto& s : seg) s = http::percent_decode(s);
    std::string group, version;
    std::size_t i = 0;
    if (seg.size() >= 2 && seg[0] == "api") {
        version = seg[1];
        i = 2;
    } else if (seg.size() >= 3 && seg[0] == "apis") {
        group = seg[1];
        version = seg[2];
        i = 3;
    } else {
        return error(404, "NotFound", "the server could not find the requested resource");
    }
    std::vector<std::string> rest(seg.begin() + static_cast<long>(i), seg.end());
    std::string ns, plural, name, sub;
    if (rest.size() >= 3 && rest[0] == "namespaces" &&
        !(rest.size() == 3 && (rest[2] == "status" || rest[2] == "finalize"))) {
        ns = rest[1];
        plural = rest[2];
        if (rest.size() >= 4) name = rest[3];
        if (rest.size() >= 5) sub = rest[4];
        if (rest.size() > 5)
            return error(404, "NotFound", "the server could not find the requested resource");
    } else if (!rest.empty()) {
        plural = rest[0];
        if (rest.size() >= 2) name = rest[1];
        if (rest.size() >= 3) sub = rest[2];
        if (rest.size() > 3)
            return error(404, "NotFound", "the server could not find the requested resource");
    } else {
        return error(404, "NotFound", "the server could not find the requested resource");
    }
    auto type = store.find_type(group, plural);
    if (!type || type->gvr.version != version) {
        return error(404, "NotFound", "the server could not find the requested resource");
    }
    if (type->gvr.cluster_scoped) ns.clear();
    if (!sub.empty() && !(sub == "status" && type->status_subresource)) {
        return error(404, "NotFound", "the server could not find the requested resource");
    }
    bool status_only = sub == "status";
    const std::string& m = req.method;
    if (m == "GET" && name.empty()) {
        auto sel = parse_selectors(q["labelSelector"], q["fieldSelector"]);
        if (!sel) return error(400, "BadRequest", sel.error().message);
        if (is_watch) return watch(*type, ns, q);
        ++lists;
        std::int64_t limit = 0;
        if (!q["limit"].empty()) limit = std::atoll(q["limit"].c_str());
        return json_response(store.list(*type, ns, *sel, limit, q["continue"]));
    }
    if (m == "GET") return json_response(store.get(*type, ns, name));
    auto parse_body = [&](nlohmann::json& out) {
        out = nlohmann::json::parse(req.body, nullptr, false);
        return !out.is_discarded();
    };
    nlohmann::json body;
    if (m == "POST" && name.empty()) {
        if (!parse_body(body)) return error(400, "BadRequest", "the request body is not JSON");
        return json_response(store.create(*type, ns, std::move(body)));
    }
    if (m == "PUT" && !name.empty()) {
        if (!parse_body(body)) return error(400, "BadRequest", "the request body is not JSON");
        return json_response(store.update(*type, ns, name, std::move(body), status_only));
    }
    if (m == "PATCH" && !name.empty()) {
        bool force = q["force"] == "true";
        (void)force;  // no field ownership is tracked, so there is nothing to force
        return json_response(store.patch(*type, ns, name, req.headers.get_or("Content-Type"),
                                         req.body, q["fieldManager"], status_only));
    }
    if (m == "DELETE" && !name.empty()) {
        std::string precondition;
        if (!req.body.empty() && parse_body(body) && body.contains("preconditions")) {
            precondition = body["preconditions"].value("resourceVersion", "");
        }
        return json_response(store.remove(*type, ns, name, precondition));
    }
    return error(405, "MethodNotAllowed",
                 "the server does not allow this method on the requested resource");
}

http::Response FakeApiServer::Impl::watch(const ResourceType& t, const std::string& ns,
                                          const std::map<std::string, std::string>& q) {
    ++watches;
    auto get = [&](const char* k) {
        auto it = q.find(k);
        return it == q.end() ? std::string() : it->second;
    };
    std::string rv_param = get("resourceVersion");
    bool bookmarks = get("allowWatchBookmarks") == "true";
    int timeout = get("timeoutSeconds").empty() ? 1800 : std::atoi(get("timeoutSeconds").c_str());
    auto sel = parse_selectors(get("labelSelector"), get("fieldSelector")).value();
    std::int64_t from = 0;
    bool initial = rv_param.empty() || rv_param == "0";
    if (!initial) {
        from = std::atoll(rv_param.c_str());
        std::lock_guard lock(store.mu());
        if (from < store.oldest_rv_locked()) {
            bool as_http;
            {
                std::lock_guard fl(fault_mu);
                as_http = gone_as_http;
            }
            std::string msg = "too old resource version: " + rv_param + " (" +
                              std::to_string(store.oldest_rv_locked()) + ")";
            if (as_http) return error(410, "Expired", msg);
            http::Response r = http::Response::make(200, {}, "application/json");
            r.stream = [msg](http::ResponseWriter& w) { w.write(error_line(410, "Expired", msg)); };
            return r;
        }
    }
    http::Response r = http::Response::make(200, {}, "application/json");
    std::uint64_t drop0 = drop_gen, expire0 = expire_gen, garbage0 = garbage_gen;
    auto interval = options.bookmark_interval;
    std::string key = Store::type_key(t);
    r.stream = [this, t, ns, sel, from, initial, bookmarks, timeout, drop0, expire0, garbage0,
                interval, key](http::ResponseWriter& w) mutable {
        ++open_watches;
        struct Guard {
            std::atomic<int>& n;
            ~Guard() { --n; }
        } guard{open_watches};
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout);
        auto next_bookmark = std::chrono::steady_clock::now() + interval;
        std::int64_t cursor = from;
        std::uint64_t garbage_seen = garbage0;
        if (initial) {
            std::string batch;
            {
                std::lock_guard lock(store.mu());
                cursor = store.rv_locked();
                for (const auto& o : store.snapshot_locked(key, ns)) {
                    if (sel.matches(*o))
                        batch += nlohmann::json{{"type", "ADDED"}, {"object", *o}}.dump() + "\n";
                }
            }
            if (!batch.empty() && !w.write(batch)) return;
        }
        while (!w.cancelled()) {
            if (drop_gen != drop0) return;
            if (expire_gen != expire0) {
                w.write(error_line(410, "Expired",
                                   "too old resource version: " + std::to_string(cursor)));
                return;
            }
            if (garbage_gen != garbage_seen) {
                garbage_seen = garbage_gen;
                if (!w.write("{\"type\":\"MODIFIED\",\"object\":{\"oops\" this is not json\n"))
                    return;
            }
            std::string batch;
            std::int64_t current;
            {
                std::unique_lock lock(store.mu());
                auto events = store.events_after_locked(cursor, key, ns);
                if (events.empty()) {
                    store.cv().wait_for(lock, std::chrono::milliseconds(50));
                    events = store.events_after_locked(cursor, key, ns);
                }
                for (const auto& e : events) {
                    if (sel.matches(*e->object)) batch += e->line;
                    cursor = e->rv;
                }
                current = store.rv_locked();
            }
            // A fault switched while we waited applies before anything more is sent.
            if (drop_gen != drop0 || expire_gen != expire0) continue;
            if (!batch.empty() && !w.write(batch)) return;
            auto now = std::chrono::steady_clock::now();
            if (now >= deadline) return;
            if (bookmarks && now >= next_bookmark) {
                // Every event up to `current` for this watch has been sent (or filtered out).
                std::int64_t rv = std::max(cursor, current);
                {
                    std::lock_guard lock(store.mu());
                    if (!store.events_after_locked(cursor, key, ns).empty()) rv = cursor;
                }
                if (!w.write(bookmark_line(t, rv))) return;
                next_bookmark = now + interval;
            }
        }
    };
    return r;
}

FakeApiServer::FakeApiServer() : impl_(std::make_unique<Impl>()) {}
FakeApiServer::~FakeApiServer() { stop(); }

Result<void> FakeApiServer::start(FakeApiServerOptions options) {
    if (impl_->started) return ok();
    impl_->options = options;
    impl_->token = options.token;
    http::ServerOptions so;
    so.address = "127.0.0.1";
    so.port = 0;
    so.worker_threads = options.worker_threads;
    so.max_body_bytes = 16u << 20;
    so.stop_grace = std::chrono::milliseconds(500);
    so.tls_cert_file = options.tls_cert_file;
    so.tls_key_file = options.tls_key_file;
    auto port =
        impl_->server.start(so, [this](const http::Request& req) { return impl_->handle(req); });
    if (!port) return fail(std::move(port).error());
    impl_->started = true;
    return ok();
}

void FakeApiServer::stop() {
    if (!impl_->started) return;
    impl_->drop_gen++;
    impl_->server.stop();
    impl_->started = false;
}

std::string FakeApiServer::url() const { return impl_->server.base_url(); }

KubeConfig FakeApiServer::config() const {
    KubeConfig c;
    c.server = url();
    {
        std::lock_guard lock(impl_->fault_mu);
        c.token = impl_->token;
    }
    if (!impl_->options.ca_file.empty()) {
        auto ca = read_file(impl_->options.ca_file);
        if (ca) c.ca_pem = *ca;
    }
    c.context = "fake";
    c.source = "fake API server";
    return c;
}

Result<void> FakeApiServer::write_kubeconfig(const std::filesystem::path& path) const {
    KubeConfig c = config();
    std::string y = "apiVersion: v1\nkind: Config\ncurrent-context: fake\n";
    y += "clusters:\n- name: fake\n  cluster:\n    server: " + c.server + "\n";
    if (!impl_->options.ca_file.empty())
        y += "    certificate-authority: " + impl_->options.ca_file + "\n";
    y += "users:\n- name: fake\n  user:\n";
    y += c.token.empty() ? "    {}\n" : "    token: " + c.token + "\n";
    y += "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: "
         "default\n";
    return write_file_atomic(path, y, 0600);
}

void FakeApiServer::register_type(ResourceType type) {
    impl_->store.register_type(std::move(type));
}

void FakeApiServer::ensure_namespace(const std::string& name) {
    auto t = *impl_->store.find_type("", "namespaces");
    (void)impl_->store.create(
        t, "", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}});
}

Result<nlohmann::json> FakeApiServer::put(const ResourceRef& gvr, const nlohmann::json& object) {
    auto t = impl_->store.find_type(gvr.group, gvr.resource);
    if (!t) return fail(Error::make(Error::Kind::not_found, "unknown resource " + gvr.describe()));
    std::string ns =
        t->gvr.cluster_scoped ? "" : object["metadata"].value("namespace", gvr.namespace_);
    std::string name = object["metadata"].value("name", "");
    StoreResult r = impl_->store.update(*t, ns, name, object, false);
    if (r.status == 404) r = impl_->store.create(*t, ns, object);
    if (r.status >= 300) {
        return fail(Error::make(Error::Kind::http, r.body.value("message", "store write failed"),
                                r.body.value("reason", "")));
    }
    return r.body;
}

std::optional<nlohmann::json> FakeApiServer::get(const ResourceRef& ref) const {
    auto t = impl_->store.find_type(ref.group, ref.resource);
    if (!t) return std::nullopt;
    StoreResult r = impl_->store.get(*t, t->gvr.cluster_scoped ? "" : ref.namespace_, ref.name);
    if (r.status != 200) return std::nullopt;
    return r.body;
}

std::size_t FakeApiServer::count(const ResourceRef& gvr) const {
    return impl_->store.count(gvr.group + "/" + gvr.resource);
}

std::int64_t FakeApiServer::resource_version() const { return impl_->store.rv(); }

void FakeApiServer::fail_next(int n, int status, std::string method) {
    std::lock_guard lock(impl_->fault_mu);
    impl_->fail_n = n;
    impl_->fail_status = status;
    impl_->fail_method = std::move(method);
}

void FakeApiServer::stall_next(int n, std::chrono::milliseconds delay) {
    std::lock_guard lock(impl_->fault_mu);
    impl_->stall_n = n;
    impl_->stall_delay = delay;
}

void FakeApiServer::drop_watches() { impl_->drop_gen++; }

void FakeApiServer::expire_history(bool gone_as_http) {
    {
        std::lock_guard lock(impl_->fault_mu);
        impl_->gone_as_http = gone_as_http;
    }
    impl_->store.expire();
    impl_->expire_gen++;
}

void FakeApiServer::garbage_in_watches() { impl_->garbage_gen++; }

void FakeApiServer::set_token(std::string token) {
    std::lock_guard lock(impl_->fault_mu);
    impl_->token = std::move(token);
}

std::uint64_t FakeApiServer::requests() const { return impl_->requests; }
std::uint64_t FakeApiServer::lists() const { return impl_->lists; }
std::uint64_t FakeApiServer::watches() const { return impl_->watches; }
int FakeApiServer::open_watches() const { return impl_->open_watches; }

}  // namespace poetryops::kube::fake

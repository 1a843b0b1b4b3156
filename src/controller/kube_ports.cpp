#include <poetryops/controller/kube_ports.hpp>

#include <poetryops/kube/resource.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/promote/health.hpp>
#include <poetryops/runtime/informer.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/log.hpp>
#include <poetryops/util/strings.hpp>

#include <sys/stat.h>

#include <atomic>

namespace poetryops::controller {

namespace fs = std::filesystem;

std::optional<std::string> secret_value(const nlohmann::json& secret, const std::string& key) {
    auto data = secret.find("data");
    if (data == secret.end() || !data->is_object()) return std::nullopt;
    auto it = data->find(key);
    if (it == data->end() || !it->is_string()) return std::nullopt;
    std::string out;
    if (!str::base64_decode(it->get<std::string>(), out)) return std::nullopt;
    return out;
}

namespace {

kube::ResourceRef collection_ref(const HealthObjectRef& o) {
    std::string group, version = o.api_version;
    if (auto slash = o.api_version.find('/'); slash != std::string::npos) {
        group = o.api_version.substr(0, slash);
        version = o.api_version.substr(slash + 1);
    }
    return kube::ResourceRef(group, version, o.resource).in(o.namespace_);
}

std::string collection_key(const HealthObjectRef& o) {
    return o.group_resource() + "/" + o.namespace_;
}

}  // namespace

struct KubeHealthPort::Collection {
    std::atomic<runtime::Informer*> started{nullptr};  // informer.get() once started
    std::mutex mu;  // one probe at a time; guards the members below
    std::unique_ptr<runtime::Informer> informer;
    std::chrono::steady_clock::time_point next_try{};
    bool told = false;  // the "cannot watch" line was logged
};

KubeHealthPort::KubeHealthPort(kube::KubeClient& client, KubeHealthOptions options,
                               const Clock& clock)
    : client_(client), options_(options), clock_(clock) {}

KubeHealthPort::~KubeHealthPort() {
    std::map<std::string, std::shared_ptr<Collection>> all;
    {
        std::lock_guard lock(mu_);
        all.swap(collections_);
    }
    for (auto& [key, c] : all) {
        std::lock_guard lock(c->mu);
        if (c->informer) c->informer->stop();
    }
}

void KubeHealthPort::on_change(ChangeFn fn) {
    std::lock_guard lock(mu_);
    on_change_ = std::move(fn);
}

std::vector<std::string> KubeHealthPort::watched() const {
    std::vector<std::pair<std::string, std::shared_ptr<Collection>>> all;
    {
        std::lock_guard lock(mu_);
        all.assign(collections_.begin(), collections_.end());
    }
    std::vector<std::string> out;
    for (auto& [key, c] : all) {
        std::lock_guard lock(c->mu);
        if (c->informer) out.push_back(key);
    }
    return out;
}

std::shared_ptr<KubeHealthPort::Collection> KubeHealthPort::collection(
    const HealthObjectRef& object) {
    std::lock_guard lock(mu_);
    auto& c = collections_[collection_key(object)];
    if (!c) c = std::make_shared<Collection>();
    return c;
}

void KubeHealthPort::changed(const HealthObjectRef& collection, const nlohmann::json& object) {
    HealthObjectRef ref = collection;
    ref.name = object.value("/metadata/name"_json_pointer, std::string());
    ChangeFn fn;
    {
        std::lock_guard lock(mu_);
        fn = on_change_;
    }
    if (fn && !ref.name.empty()) fn(ref.key());
}

void KubeHealthPort::maybe_watch(Collection& c, const HealthObjectRef& object) {
    std::unique_lock lock(c.mu, std::try_to_lock);
    if (!lock.owns_lock()) return;  // another reconcile is probing it
    if (c.informer) return;
    auto now = std::chrono::steady_clock::now();
    if (now < c.next_try) return;
    // One small list says whether the collection is served and we may list it; a watch of a
    // collection we cannot list would only fail and back off forever.
    kube::ListOptions probe;
    probe.limit = 1;
    auto listed = client_.list(collection_ref(object), probe);
    if (!listed) {
        c.next_try = now + options_.retry;
        if (!c.told) {
            c.told = true;
            POETRYOPS_LOG(info, "health gate objects are read on each reconcile, not watched",
                          {{"collection", collection_key(object)},
                           {"error", log::redact(listed.error().message)}});
        }
        return;
    }
    runtime::InformerOptions io;
    io.resource = collection_ref(object);
    io.transform = [](nlohmann::json& o) { promote::trim_for_health(o); };
    c.informer = std::make_unique<runtime::Informer>(client_, std::move(io), clock_);
    HealthObjectRef coll = object;
    coll.name.clear();
    // Spec or status (what the readers look at) moved: the apps gated on it look again.
    c.informer->add_handler(
        {.on_add = [this, coll](const nlohmann::json& o) { changed(coll, o); },
         .on_update =
             [this, coll](const nlohmann::json& old, const nlohmann::json& now) {
                 if (old.value("spec", nlohmann::json()) != now.value("spec", nlohmann::json()) ||
                     old.value("status", nlohmann::json()) !=
                         now.value("status", nlohmann::json()) ||
                     old.value("/metadata/generation"_json_pointer, 0) !=
                         now.value("/metadata/generation"_json_pointer, 0)) {
                     changed(coll, now);
                 }
             },
         .on_delete = [this, coll](const nlohmann::json& o) { changed(coll, o); }});
    c.informer->start();
    c.started = c.informer.get();
    POETRYOPS_LOG(info, "watching health gate objects", {{"collection", collection_key(object)}});
}

Result<std::optional<nlohmann::json>> KubeHealthPort::get(const HealthObjectRef& object) {
    if (options_.watch) {
        auto c = collection(object);
        runtime::Informer* synced = c->started.load();
        if (synced && synced->has_synced()) {
            // The informer lives until this port is destroyed; its cache is current up to the
            // last event, and a change of this object re-triggers the app.
            auto o = synced->get(object.namespace_ + "/" + object.name);
            if (!o) return std::optional<nlohmann::json>{};
            return std::optional<nlohmann::json>(*o);
        }
        if (!synced) maybe_watch(*c, object);
    }
    auto obj = client_.get(collection_ref(object).named(object.name));
    if (!obj) {
        if (kube::is_not_found(obj.error())) return std::optional<nlohmann::json>{};
        return obj.error();
    }
    return std::optional<nlohmann::json>(std::move(obj).value());
}

SecretCredentials::SecretCredentials(kube::KubeClient& client, fs::path private_dir)
    : client_(client), dir_(std::move(private_dir)) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    ::chmod(dir_.c_str(), 0700);
}

Result<nlohmann::json> SecretCredentials::secret(const std::string& ns, const std::string& name,
                                                 const std::string& field_path) {
    auto s = client_.get(kube::resources::secrets().in(ns).named(name));
    if (!s) {
        Error e = s.error();
        e.message = field_path + ": Secret " + ns + "/" + name + ": " + e.message;
        return e;
    }
    return std::move(s).value();
}

Result<fs::path> SecretCredentials::write_private(const std::string& ns, const std::string& name,
                                                  const std::string& rv, const std::string& file,
                                                  const std::string& content) {
    std::lock_guard lock(mu_);
    fs::path d = dir_ / ns / name / (rv.empty() ? std::string("0") : rv);
    std::error_code ec;
    fs::create_directories(d, ec);
    if (ec) return fail(Error::Kind::internal, "cannot create " + d.string() + ": " + ec.message());
    fs::path p = d / file;
    auto old = read_file(p);
    if (old && *old == content) return p;
    POETRYOPS_TRY_VOID(write_file_atomic(p, content, 0600));
    return p;
}

Result<git::Remote> SecretCredentials::git_remote(const api::PoetryApp& app) {
    return remote(app, app.spec.gitops.repo_url, app.spec.gitops.secret_ref, "spec.gitops");
}

Result<git::Remote> SecretCredentials::source_remote(const api::PoetryApp& app) {
    if (!app.spec.source) return fail(Error::Kind::invalid, "spec.source: not set");
    return remote(app, app.spec.source->repo_url, app.spec.source->secret_ref, "spec.source");
}

Result<git::Remote> SecretCredentials::remote(const api::PoetryApp& app, const std::string& url,
                                              const std::optional<api::SecretRef>& secret_ref,
                                              const std::string& field) {
    git::Remote r;
    r.url = url;
    if (!secret_ref) return r;
    const std::string& ns = app.metadata.namespace_;
    const std::string& name = secret_ref->name;
    POETRYOPS_TRY(nlohmann::json s, secret(ns, name, field + ".secretRef"));
    std::string rv = s.value("/metadata/resourceVersion"_json_pointer, std::string());
    auto missing = [&](const std::string& key) {
        return fail(Error::Kind::invalid,
                    field + ".secretRef: Secret " + ns + "/" + name + " has no data key " + key,
                    "SecretIncomplete");
    };
    if (auto u = secret_value(s, "username")) r.username = *u;
    if (auto p = secret_value(s, "password")) {
        r.password = *p;
    } else if (auto t = secret_value(s, "token")) {
        r.password = *t;
    }
    auto key = secret_value(s, "ssh-privatekey");
    if (!key) key = secret_value(s, "identity");
    bool ssh = r.url.rfind("ssh://", 0) == 0 ||
               (r.url.find("://") == std::string::npos && r.url.find('@') != std::string::npos);
    if (ssh) {
        if (!key) return missing("ssh-privatekey");
        auto kh = secret_value(s, "known_hosts");
        if (!kh) return missing("known_hosts");
        POETRYOPS_TRY(r.ssh_key, write_private(ns, name, rv, "identity", *key));
        POETRYOPS_TRY(r.known_hosts, write_private(ns, name, rv, "known_hosts", *kh));
    }
    if (auto ca = secret_value(s, "ca.crt")) {
        POETRYOPS_TRY(r.ca_file, write_private(ns, name, rv, "ca.crt", *ca));
    }
    POETRYOPS_TRY_VOID(git::validate_remote(r));
    return r;
}

Result<std::pair<registry::DockerConfig, std::string>> SecretCredentials::docker_config(
    const api::PoetryApp& app) {
    if (!app.spec.image.secret_ref) return std::pair<registry::DockerConfig, std::string>{};
    const std::string& ns = app.metadata.namespace_;
    const std::string& name = app.spec.image.secret_ref->name;
    POETRYOPS_TRY(nlohmann::json s, secret(ns, name, "spec.image.secretRef"));
    std::string rv = s.value("/metadata/resourceVersion"_json_pointer, std::string());
    auto text = secret_value(s, ".dockerconfigjson");
    if (!text) text = secret_value(s, ".dockercfg");
    if (!text) {
        return fail(Error::Kind::invalid,
                    "spec.image.secretRef: Secret " + ns + "/" + name +
                        " has no .dockerconfigjson or .dockercfg key",
                    "SecretIncomplete");
    }
    POETRYOPS_TRY(registry::DockerConfig cfg,
                  registry::DockerConfig::parse(*text, "Secret " + ns + "/" + name));
    return std::pair<registry::DockerConfig, std::string>{std::move(cfg), rv};
}

}  // namespace poetryops::controller

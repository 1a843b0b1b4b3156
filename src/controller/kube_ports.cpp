#include <poetryops/controller/kube_ports.hpp>

#include <poetryops/kube/resource.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/strings.hpp>

#include <sys/stat.h>

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

Result<std::optional<nlohmann::json>> KubeHealthPort::get(const std::string& api_version,
                                                          const std::string& resource,
                                                          const std::string& ns,
                                                          const std::string& name) {
    std::string group, version = api_version;
    if (auto slash = api_version.find('/'); slash != std::string::npos) {
        group = api_version.substr(0, slash);
        version = api_version.substr(slash + 1);
    }
    kube::ResourceRef ref(group, version, resource);
    auto obj = client_.get(ref.in(ns).named(name));
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
    git::Remote r;
    r.url = app.spec.gitops.repo_url;
    if (!app.spec.gitops.secret_ref) return r;
    const std::string& ns = app.metadata.namespace_;
    const std::string& name = app.spec.gitops.secret_ref->name;
    POETRYOPS_TRY(nlohmann::json s, secret(ns, name, "spec.gitops.secretRef"));
    std::string rv = s.value("/metadata/resourceVersion"_json_pointer, std::string());
    auto missing = [&](const std::string& key) {
        return fail(Error::Kind::invalid,
                    "spec.gitops.secretRef: Secret " + ns + "/" + name + " has no data key " + key,
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

#include <poetryops/kube/config.hpp>

#include <poetryops/util/fs.hpp>
#include <poetryops/util/log.hpp>
#include <poetryops/util/strings.hpp>

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <vector>

namespace poetryops::kube {
namespace {

struct Ctx {
    std::string origin;
    std::filesystem::path base_dir;
    Error err(std::string_view field, std::string_view what,
              Error::Kind kind = Error::Kind::invalid) const {
        std::string msg = "kubeconfig " + origin + ": ";
        if (!field.empty()) msg += std::string(field) + ": ";
        msg += what;
        return Error::make(kind, std::move(msg), "BadKubeconfig");
    }
};

std::string scalar(const YAML::Node& n, const char* key) {
    if (!n || !n.IsMap()) return {};
    auto v = n[key];
    if (!v || !v.IsScalar()) return {};
    return v.as<std::string>();
}

bool boolean(const YAML::Node& n, const char* key) {
    std::string s = str::to_lower(scalar(n, key));
    return s == "true" || s == "yes" || s == "1";
}

/// Finds `name` in a list of {name, <inner>} entries; returns the inner map, nullopt when absent.
std::optional<YAML::Node> find_named(const YAML::Node& list, const std::string& name,
                                     const char* inner) {
    if (!list || !list.IsSequence()) return std::nullopt;
    for (const auto& item : list) {
        if (item.IsMap() && scalar(item, "name") == name) {
            YAML::Node n = item[inner];
            return n && n.IsMap() ? n : YAML::Node(YAML::NodeType::Map);
        }
    }
    return std::nullopt;
}

std::string names_of(const YAML::Node& list) {
    std::vector<std::string> names;
    if (list && list.IsSequence()) {
        for (const auto& item : list) names.push_back(scalar(item, "name"));
    }
    return names.empty() ? "none" : str::join(names, ", ");
}

/// `<field>-data` (base64) or `<field>` (a file path); empty when neither is set.
Result<std::string> data_or_file(const Ctx& ctx, const YAML::Node& node, const std::string& prefix,
                                 const std::string& field) {
    std::string data = scalar(node, (field + "-data").c_str());
    if (!data.empty()) {
        std::string out;
        if (!str::base64_decode(data, out))
            return fail(ctx.err(prefix + field + "-data", "is not valid base64"));
        return out;
    }
    std::string file = scalar(node, field.c_str());
    if (file.empty()) return std::string();
    std::filesystem::path p(file);
    if (p.is_relative()) p = ctx.base_dir / p;
    auto content = read_file(p, 1024 * 1024);
    if (!content) {
        return fail(ctx.err(prefix + field,
                            "cannot read " + p.string() + ": " + content.error().message,
                            Error::Kind::not_found));
    }
    return std::move(content).value();
}

}  // namespace

std::string KubeConfig::describe() const {
    std::string auth = !client_cert_pem.empty() ? "client certificate"
                       : !token.empty()         ? "bearer token"
                       : !token_file.empty()    ? "token file " + token_file
                       : !username.empty()      ? "basic auth"
                                                : "anonymous";
    std::string d = server + " from " + source + ", " + auth;
    if (insecure_skip_tls_verify) d += ", TLS verification DISABLED";
    return d;
}

EnvLookup process_env() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        if (v == nullptr) return std::nullopt;
        return std::string(v);
    };
}

Result<KubeConfig> parse_kubeconfig(std::string_view yaml_text, std::string_view origin,
                                    const std::filesystem::path& base_dir,
                                    std::string_view context) {
    Ctx ctx{std::string(origin), base_dir};
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml_text));
    } catch (const YAML::Exception& e) {
        return fail(
            ctx.err("", "not valid YAML: line " + std::to_string(e.mark.line + 1) + ": " + e.msg,
                    Error::Kind::decode));
    }
    try {
        if (!root || !root.IsMap())
            return fail(ctx.err("", "not a kubeconfig (expected a YAML mapping)"));
        KubeConfig cfg;
        cfg.context = context.empty() ? scalar(root, "current-context") : std::string(context);
        if (cfg.context.empty()) {
            return fail(
                ctx.err("current-context", "is not set and no --context was given (contexts: " +
                                               names_of(root["contexts"]) + ")"));
        }
        auto found_context = find_named(root["contexts"], cfg.context, "context");
        if (!found_context) {
            return fail(ctx.err(
                "contexts", "context \"" + cfg.context +
                                "\" not found (available: " + names_of(root["contexts"]) + ")"));
        }
        YAML::Node c = *found_context;
        std::string cluster_name = scalar(c, "cluster");
        std::string user_name = scalar(c, "user");
        std::string cprefix = "contexts[" + cfg.context + "].context.";
        if (cluster_name.empty()) return fail(ctx.err(cprefix + "cluster", "is missing"));
        if (auto ns = scalar(c, "namespace"); !ns.empty()) cfg.namespace_ = ns;

        auto found_cluster = find_named(root["clusters"], cluster_name, "cluster");
        if (!found_cluster) {
            return fail(ctx.err(
                cprefix + "cluster",
                "names cluster \"" + cluster_name +
                    "\" which is not in clusters (available: " + names_of(root["clusters"]) + ")"));
        }
        YAML::Node cl = *found_cluster;
        std::string clprefix = "clusters[" + cluster_name + "].cluster.";
        cfg.server = scalar(cl, "server");
        if (cfg.server.empty()) return fail(ctx.err(clprefix + "server", "is missing"));
        if (cfg.server.rfind("https://", 0) != 0 && cfg.server.rfind("http://", 0) != 0) {
            return fail(ctx.err(clprefix + "server",
                                "must be an http:// or https:// URL, got \"" + cfg.server + "\""));
        }
        while (!cfg.server.empty() && cfg.server.back() == '/') cfg.server.pop_back();
        POETRYOPS_TRY(cfg.ca_pem, data_or_file(ctx, cl, clprefix, "certificate-authority"));
        cfg.insecure_skip_tls_verify = boolean(cl, "insecure-skip-tls-verify");
        cfg.tls_server_name = scalar(cl, "tls-server-name");
        if (cfg.insecure_skip_tls_verify && !cfg.ca_pem.empty()) {
            return fail(ctx.err(clprefix + "insecure-skip-tls-verify",
                                "cannot be combined with certificate-authority (choose one)"));
        }

        if (!user_name.empty()) {
            auto found_user = find_named(root["users"], user_name, "user");
            if (!found_user) {
                return fail(ctx.err(cprefix + "user", "names user \"" + user_name +
                                                          "\" which is not in users (available: " +
                                                          names_of(root["users"]) + ")"));
            }
            YAML::Node u = *found_user;
            std::string uprefix = "users[" + user_name + "].user.";
            if (u["exec"])
                return fail(ctx.err(uprefix + "exec",
                                    "exec credential plugins are not supported; use a "
                                    "token, tokenFile or client certificate"));
            if (u["auth-provider"])
                return fail(ctx.err(uprefix + "auth-provider", "auth providers are not supported"));
            POETRYOPS_TRY(cfg.client_cert_pem, data_or_file(ctx, u, uprefix, "client-certificate"));
            POETRYOPS_TRY(cfg.client_key_pem, data_or_file(ctx, u, uprefix, "client-key"));
            if (!cfg.client_cert_pem.empty() && cfg.client_key_pem.empty()) {
                return fail(
                    ctx.err(uprefix + "client-key", "is missing (client-certificate is set)"));
            }
            if (cfg.client_cert_pem.empty() && !cfg.client_key_pem.empty()) {
                return fail(
                    ctx.err(uprefix + "client-certificate", "is missing (client-key is set)"));
            }
            cfg.token = scalar(u, "token");
            std::string token_file = scalar(u, "tokenFile");
            if (!token_file.empty()) {
                std::filesystem::path p(token_file);
                if (p.is_relative()) p = base_dir / p;
                auto t = read_file(p, 64 * 1024);
                if (!t) {
                    return fail(ctx.err(uprefix + "tokenFile",
                                        "cannot read " + p.string() + ": " + t.error().message,
                                        Error::Kind::not_found));
                }
                cfg.token_file = p.string();
            }
            cfg.username = scalar(u, "username");
            cfg.password = scalar(u, "password");
        }
        cfg.source = "kubeconfig " + ctx.origin + " (context " + cfg.context + ")";
        if (cfg.insecure_skip_tls_verify) {
            POETRYOPS_LOG(
                warn,
                "TLS VERIFICATION IS DISABLED for the Kubernetes API: insecure-skip-tls-verify is "
                "set; anyone on the network path can impersonate the API server and read the "
                "credentials",
                {{"server", cfg.server}, {"source", cfg.source}});
        }
        return cfg;
    } catch (const YAML::Exception& e) {
        return fail(ctx.err(
            "", "unexpected structure: line " + std::to_string(e.mark.line + 1) + ": " + e.msg,
            Error::Kind::decode));
    }
}

Result<KubeConfig> load_kubeconfig(const std::filesystem::path& path, std::string_view context) {
    auto text = read_file(path, 16 * 1024 * 1024);
    if (!text) {
        return fail(
            Error::make(text.error().kind,
                        "kubeconfig " + path.string() + ": cannot read: " + text.error().message,
                        "BadKubeconfig"));
    }
    return parse_kubeconfig(*text, path.string(), path.parent_path(), context);
}

Result<KubeConfig> load_in_cluster(const EnvLookup& env, const InClusterPaths& paths) {
    auto host = env("KUBERNETES_SERVICE_HOST");
    auto port = env("KUBERNETES_SERVICE_PORT");
    if (!host || host->empty() || !port || port->empty()) {
        return fail(Error::make(
            Error::Kind::invalid,
            "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set "
            "(not running in a pod?)",
            "NotInCluster"));
    }
    KubeConfig cfg;
    std::string h = *host;
    if (h.find(':') != std::string::npos && h.front() != '[') h = "[" + h + "]";  // IPv6 literal
    cfg.server = "https://" + h + ":" + *port;
    auto token = read_file(paths.token, 64 * 1024);
    if (!token) {
        return fail(Error::make(Error::Kind::not_found,
                                "in-cluster config: cannot read the service-account token " +
                                    paths.token.string() + ": " + token.error().message,
                                "NotInCluster"));
    }
    cfg.token_file = paths.token.string();
    auto ca = read_file(paths.ca, 1024 * 1024);
    if (!ca) {
        return fail(Error::make(Error::Kind::not_found,
                                "in-cluster config: cannot read the cluster CA " +
                                    paths.ca.string() + ": " + ca.error().message,
                                "NotInCluster"));
    }
    cfg.ca_pem = std::move(ca).value();
    if (auto ns = read_file(paths.namespace_file, 4096)) {
        std::string n(str::trim(*ns));
        if (!n.empty()) cfg.namespace_ = n;
    }
    cfg.source = "in-cluster";
    return cfg;
}

Result<KubeConfig> load_config(const ConfigOptions& options) {
    if (!options.kubeconfig.empty()) return load_kubeconfig(options.kubeconfig, options.context);
    if (auto kc = options.env("KUBECONFIG"); kc && !kc->empty()) {
        for (const auto& p : str::split_nonempty(*kc, ':')) {
            std::error_code ec;
            if (std::filesystem::exists(p, ec)) return load_kubeconfig(p, options.context);
        }
        return fail(Error::make(Error::Kind::not_found,
                                "KUBECONFIG=" + *kc + ": none of its files exists",
                                "BadKubeconfig"));
    }
    if (auto host = options.env("KUBERNETES_SERVICE_HOST");
        host && !host->empty() && options.context.empty()) {
        return load_in_cluster(options.env, options.in_cluster);
    }
    auto home = options.env("HOME");
    if (home && !home->empty()) {
        std::filesystem::path p = std::filesystem::path(*home) / ".kube" / "config";
        std::error_code ec;
        if (std::filesystem::exists(p, ec)) return load_kubeconfig(p, options.context);
    }
    return fail(Error::make(
        Error::Kind::not_found,
        "no Kubernetes configuration: pass --kubeconfig, set KUBECONFIG, run in a pod, or create "
        "~/.kube/config",
        "NoKubeconfig"));
}

TokenSource::TokenSource(const KubeConfig& config, const Clock& clock, std::chrono::seconds refresh)
    : clock_(clock),
      token_(config.token),
      file_(config.token.empty() ? config.token_file : ""),
      refresh_(refresh) {}

bool TokenSource::reload_after_unauthorized() {
    std::string before;
    {
        std::lock_guard lock(mu_);
        if (file_.empty()) return false;
        before = token_;
        read_at_.reset();
    }
    return token() != before;
}

std::string TokenSource::token() {
    std::lock_guard lock(mu_);
    if (file_.empty()) return token_;
    auto now = clock_.steady_now();
    if (read_at_ && now - *read_at_ < refresh_) return token_;
    read_at_ = now;
    auto t = read_file(file_, 64 * 1024);
    if (!t) {
        POETRYOPS_LOG(warn, "cannot re-read the bearer token file; keeping the previous token",
                      {{"file", file_}, {"error", t.error().message}});
        return token_;
    }
    token_ = std::string(str::trim(*t));
    return token_;
}

}  // namespace poetryops::kube

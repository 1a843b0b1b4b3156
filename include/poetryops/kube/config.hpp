#pragma once
/// How to reach and authenticate to the API server: kubeconfig files and in-cluster service-account
/// config.
///
/// Resolution order of load_config() (controller-runtime's): an explicit --kubeconfig path, then
/// $KUBECONFIG (the first existing file of a ':'-separated list; files are not merged), then
/// in-cluster config when KUBERNETES_SERVICE_HOST is set, then ~/.kube/config.
///
/// Supported kubeconfig fields: clusters[].cluster.{server, certificate-authority[-data],
/// insecure-skip-tls-verify, tls-server-name}, users[].user.{client-certificate[-data],
/// client-key[-data], token, tokenFile, username, password}, contexts[].context.{cluster, user,
/// namespace}, current-context. `exec` and `auth-provider` users are refused with an error naming
/// the field. Relative paths are relative to the kubeconfig file's folder.

#include <poetryops/util/clock.hpp>
#include <poetryops/util/result.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace poetryops::kube {

/// Resolved connection settings. Holds secrets: never log it; use describe().
struct KubeConfig {
    std::string server;           ///< base URL, e.g. "https://10.0.0.1:443"
    std::string ca_pem;           ///< CA bundle for the server; empty: system roots
    std::string client_cert_pem;  ///< client certificate (PEM), with client_key_pem
    std::string client_key_pem;
    std::string token;  ///< static bearer token
    /// bearer token file, re-read about every minute (wins when token is empty)
    std::string token_file;
    std::string username, password;         ///< basic auth (rare; only when no token)
    bool insecure_skip_tls_verify = false;  ///< logged loudly as a warning when loaded
    std::string tls_server_name;            ///< overrides SNI / the verified host name
    std::string namespace_ = "default";     ///< the context's namespace, or the service account's
    std::string context;                    ///< the kubeconfig context used ("" in-cluster)
    std::string source;                     ///< "kubeconfig /path (context c)" or "in-cluster"

    /// One line without secrets: server, source, auth kind.
    std::string describe() const;
};

/// Environment seam: returns nullopt for an unset variable.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
/// The process environment.
EnvLookup process_env();

/// Where the service-account files are (injectable for tests).
struct InClusterPaths {
    std::filesystem::path token = "/var/run/secrets/kubernetes.io/serviceaccount/token";
    std::filesystem::path ca = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
    std::filesystem::path namespace_file =
        "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
};

/// Parses kubeconfig text. `origin` names the file in messages; `base_dir` resolves relative paths.
/// `context` empty means current-context. Errors (Kind::invalid / not_found) name the file and the
/// missing field or unreadable file, e.g. `kubeconfig /home/u/.kube/config:
/// users[dev].user.client-key: cannot read /x/key.pem: ...`.
Result<KubeConfig> parse_kubeconfig(std::string_view yaml_text, std::string_view origin,
                                    const std::filesystem::path& base_dir,
                                    std::string_view context = {});

/// Reads and parses a kubeconfig file.
Result<KubeConfig> load_kubeconfig(const std::filesystem::path& path,
                                   std::string_view context = {});

/// In-cluster config from KUBERNETES_SERVICE_HOST/PORT and the service-account files.
Result<KubeConfig> load_in_cluster(const EnvLookup& env = process_env(),
                                   const InClusterPaths& paths = {});

struct ConfigOptions {
    std::filesystem::path kubeconfig;  ///< --kubeconfig; empty: resolve
    std::string context;               ///< --context; empty: current-context
    EnvLookup env = process_env();
    InClusterPaths in_cluster;
};

/// --kubeconfig, $KUBECONFIG, in-cluster, ~/.kube/config, in that order.
Result<KubeConfig> load_config(const ConfigOptions& options = {});

/// The bearer token to send, re-reading a token file at most every `refresh` (projected
/// service-account tokens rotate). A failed re-read keeps the previous token and logs a warning.
/// Thread safety: safe.
class TokenSource {
public:
    TokenSource(const KubeConfig& config, const Clock& clock = SystemClock::instance(),
                std::chrono::seconds refresh = std::chrono::seconds(60));
    /// The current token; empty when the config has none.
    std::string token();
    /// After a 401: re-read the token file now (a rotated or re-issued token must not wait for
    /// `refresh`). Returns true when that gave a different token, i.e. the request is worth sending
    /// again. False without a token file.
    bool reload_after_unauthorized();

private:
    std::mutex mu_;
    const Clock& clock_;
    std::string token_;
    std::string file_;
    std::chrono::seconds refresh_;
    std::optional<std::chrono::steady_clock::time_point> read_at_;
};

}  // namespace poetryops::kube

#pragma once
/// The promotion reconciler's ports in the cluster: health objects read through the Kubernetes API,
/// and git and registry credentials read from Secrets in the PoetryApp's namespace.

#include <poetryops/controller/ports.hpp>
#include <poetryops/git/remote.hpp>
#include <poetryops/kube/client.hpp>
#include <poetryops/registry/auth.hpp>

#include <filesystem>
#include <mutex>

namespace poetryops::controller {

/// HealthPort over the Kubernetes API (a missing object is nullopt, not an error). Thread safety:
/// safe.
class KubeHealthPort final : public HealthPort {
public:
    explicit KubeHealthPort(kube::KubeClient& client) : client_(client) {}
    Result<std::optional<nlohmann::json>> get(const std::string& api_version,
                                              const std::string& resource, const std::string& ns,
                                              const std::string& name) override;

private:
    kube::KubeClient& client_;
};

/// Credentials from Secrets. Thread safety: safe.
class SecretCredentials {
public:
    /// `private_dir` (created 0700) holds ssh keys, known_hosts and CA files written from Secrets
    /// (0600).
    SecretCredentials(kube::KubeClient& client, std::filesystem::path private_dir);

    /// spec.gitops as a git::Remote. The Secret named by secretRef may hold `username` and
    /// `password` (or `token`) for HTTPS, `ssh-privatekey` (type kubernetes.io/ssh-auth, or
    /// `identity` as Flux names it) and `known_hosts` for ssh, and `ca.crt` for a private CA.
    /// Errors name the Secret and the missing key, never a value.
    Result<git::Remote> git_remote(const api::PoetryApp& app);

    /// spec.image.secretRef's `.dockerconfigjson` (or `.dockercfg`), empty when there is no
    /// secretRef; also returns the Secret's resourceVersion ("" when none) so callers can cache
    /// clients per version.
    Result<std::pair<registry::DockerConfig, std::string>> docker_config(const api::PoetryApp& app);

private:
    Result<nlohmann::json> secret(const std::string& ns, const std::string& name,
                                  const std::string& field_path);
    Result<std::filesystem::path> write_private(const std::string& ns, const std::string& name,
                                                const std::string& rv, const std::string& file,
                                                const std::string& content);

    kube::KubeClient& client_;
    std::filesystem::path dir_;
    std::mutex mu_;
};

/// The decoded value of `data[key]` of a Secret object, nullopt when absent or not base64.
std::optional<std::string> secret_value(const nlohmann::json& secret, const std::string& key);

}  // namespace poetryops::controller

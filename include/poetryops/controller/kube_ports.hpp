#pragma once
/// The promotion reconciler's ports in the cluster: health objects read through the Kubernetes API,
/// and git and registry credentials read from Secrets in the PoetryApp's namespace.

#include <poetryops/controller/ports.hpp>
#include <poetryops/git/remote.hpp>
#include <poetryops/kube/client.hpp>
#include <poetryops/registry/auth.hpp>
#include <poetryops/util/clock.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace poetryops::controller {

struct KubeHealthOptions {
    /// Watch the collections asked for (list + watch) instead of a GET per read.
    bool watch = true;
    /// How long to wait before asking again to list a collection that could not be listed (its
    /// CRD is not installed, or list/watch is not granted).
    std::chrono::milliseconds retry{std::chrono::minutes(1)};
};

/// HealthPort over the Kubernetes API (a missing object is nullopt, not an error).
///
/// The first read in a collection — a resource in one namespace, e.g. Argo CD Applications in
/// `argocd` — starts an informer on it (objects trimmed by promote::trim_for_health), and every
/// change of an object there calls the ChangeFn: a health gate is noticed when its object
/// changes, not at the next poll. Until the informer has synced, and for a collection that cannot
/// be listed (a CRD that is not installed: Argo CD or Flux absent; list or watch not granted),
/// reads are GETs, and listing is tried again after `retry`. Nothing waits for these informers:
/// the PoetryApp controller starts whatever they do. Thread safety: safe.
class KubeHealthPort final : public HealthPort {
public:
    explicit KubeHealthPort(kube::KubeClient& client, KubeHealthOptions options = {},
                            const Clock& clock = SystemClock::instance());
    ~KubeHealthPort() override;  ///< stops the informers
    Result<std::optional<nlohmann::json>> get(const HealthObjectRef& object) override;
    void on_change(ChangeFn fn) override;
    /// The collections watched now, "applications.argoproj.io/argocd" (sorted).
    std::vector<std::string> watched() const;

private:
    struct Collection;
    std::shared_ptr<Collection> collection(const HealthObjectRef& object);
    void maybe_watch(Collection& c, const HealthObjectRef& object);
    void changed(const HealthObjectRef& collection, const nlohmann::json& object);

    kube::KubeClient& client_;
    KubeHealthOptions options_;
    const Clock& clock_;
    mutable std::mutex mu_;
    std::map<std::string, std::shared_ptr<Collection>> collections_;  // by group_resource/ns
    ChangeFn on_change_;
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
    /// spec.source as a git::Remote, from spec.source.secretRef the same way.
    Result<git::Remote> source_remote(const api::PoetryApp& app);

    /// spec.image.secretRef's `.dockerconfigjson` (or `.dockercfg`), empty when there is no
    /// secretRef; also returns the Secret's resourceVersion ("" when none) so callers can cache
    /// clients per version.
    Result<std::pair<registry::DockerConfig, std::string>> docker_config(const api::PoetryApp& app);

private:
    Result<git::Remote> remote(const api::PoetryApp& app, const std::string& url,
                               const std::optional<api::SecretRef>& secret_ref,
                               const std::string& field);
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

#pragma once
/// The real Kubernetes lane: etcd + kube-apiserver + kube-controller-manager (v1.28.7 from
/// ../shared/k8s, etcd from Debian) started on free loopback ports in one directory, with PKI made
/// at start by openssl.
///
/// One cluster serves a whole ctest run: the fixture test `kube_cluster_up` runs
/// `poetryops-test-cluster up DIR`, which starts a small supervisor that owns the servers and
/// writes DIR/cluster.json once /readyz answers; every test of a kube-facing binary reads that file
/// (POETRYOPS_TEST_KUBE_CLUSTER) and uses its own namespaces; the fixture test `kube_cluster_down`
/// stops exactly the processes the supervisor started. A test binary run by hand, outside ctest,
/// starts a cluster of its own for its process instead (shared_cluster()).
///
/// Where the binaries are: POETRYOPS_TEST_K8S_BIN (scripts/test.sh unpacks ../shared/k8s/bin, or
/// POETRYOPS_K8S_BIN_DIR, into build/k8s-bin and ctest points here); etcd from PATH or
/// POETRYOPS_TEST_ETCD. Without them the lane is skipped with lane_skip_reason(), unless
/// POETRYOPS_REQUIRE_KUBE_LANE=1 (CI), where a missing lane is a failure.

#include <poetryops/kube/client.hpp>
#include <poetryops/kube/config.hpp>
#include <poetryops/util/result.hpp>
#include <poetryops/util/subprocess.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace poetryops::test::kube {

/// What a running cluster offers its tests (DIR/cluster.json).
struct ClusterInfo {
    std::string server;             ///< https://127.0.0.1:PORT
    std::filesystem::path dir;      ///< the cluster's folder: pki/, logs, kubeconfigs
    std::filesystem::path ca_cert;  ///< the cluster CA (signs the serving and client certificates)
    std::filesystem::path admin_kubeconfig;  ///< system:masters through a client certificate
    /// an unprivileged user (static token, no groups): RBAC tests
    std::filesystem::path user_kubeconfig;
    std::string user_name;                 ///< that user's name, for RoleBindings
    std::filesystem::path sa_signing_key;  ///< service-account signing key (TokenRequest works)
    /// GC, Job/Deployment controllers and default ServiceAccounts run
    bool controller_manager = false;
    int supervisor_pid = 0;  ///< 0 when the cluster belongs to this process
    std::vector<int> pids;   ///< every server process started, for `down`

    /// The admin identity as a KubeConfig (reads the kubeconfig file).
    Result<poetryops::kube::KubeConfig> admin() const;
    /// The unprivileged identity.
    Result<poetryops::kube::KubeConfig> user() const;
};

/// Empty when the lane can run here, else one line saying why not and how to enable it.
std::string lane_skip_reason();
/// True when POETRYOPS_REQUIRE_KUBE_LANE=1: a lane that cannot run is a failure, never a skip (CI).
bool lane_required();

struct ClusterOptions {
    bool controller_manager = true;
    /// Progress lines ("etcd listening", "kube-apiserver ready in 5.1 s") go here; null: silent.
    std::FILE* progress = nullptr;
};

/// A cluster this process owns; the destructor stops what start() started (also after a failed
/// start).
class Cluster {
public:
    Cluster() = default;
    Cluster(const Cluster&) = delete;
    Cluster& operator=(const Cluster&) = delete;
    ~Cluster() { stop(); }

    /// Starts the servers in `dir` (created; its previous content is removed) and waits until they
    /// are ready.
    Result<void> start(const std::filesystem::path& dir, const ClusterOptions& options = {});
    void stop();
    const ClusterInfo& info() const { return info_; }

    /// Fault injection on a cluster of one's own: kill one server ("etcd", "kube-apiserver",
    /// "kube-controller-manager") with SIGKILL, and start it again with the same arguments and
    /// data.
    Result<void> kill_server(const std::string& name);
    Result<void> restart_server(const std::string& name);

private:
    struct Server {
        std::string name;
        std::vector<std::string> argv;
        std::filesystem::path log;
        ChildProcess process;
    };
    Result<void> spawn(const std::string& name, std::vector<std::string> argv);
    Result<void> start_controller_manager(const ClusterOptions& options);

    ClusterInfo info_;
    std::vector<Server> procs_;  // started order; stopped in reverse
};

/// Writes / reads DIR/cluster.json.
Result<void> write_info(const ClusterInfo& info, const std::filesystem::path& file);
Result<ClusterInfo> read_info(const std::filesystem::path& file);

/// Creates a namespace unique across the run's processes, named PREFIX-<pid>-<clock>-<n> (pids are
/// reused within a run, hence the clock), and returns its name; a failure fails the calling test.
std::string create_namespace(poetryops::kube::RestClient& admin, const std::string& prefix);

/// A bound token for a ServiceAccount through the TokenRequest API (like `kubectl create token`).
Result<std::string> request_token(poetryops::kube::RestClient& admin, const std::string& ns,
                                  const std::string& sa, int expiration_seconds = 3600);

/// A KubeConfig for the cluster that authenticates with `token` (or, when `token_file` is set,
/// re-reads that file).
poetryops::kube::KubeConfig config_with_token(const ClusterInfo& info, const std::string& token,
                                              const std::string& token_file = {});

/// Writes a kubeconfig file for the cluster that authenticates with `token` (a ServiceAccount's,
/// from request_token), its context's namespace `ns`: for programs run as a user or a controller
/// would run them (`--kubeconfig FILE`).
Result<void> write_token_kubeconfig(const ClusterInfo& info, const std::string& token,
                                    const std::string& ns, const std::filesystem::path& file);

/// The cluster for this test process: the one named by POETRYOPS_TEST_KUBE_CLUSTER when that file
/// exists (ctest's fixture), else one started for this process and stopped at exit. Fails with
/// reason "Skip" and lane_skip_reason() when the lane cannot run (and is not required).
Result<const ClusterInfo*> shared_cluster();

}  // namespace poetryops::test::kube

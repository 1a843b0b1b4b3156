#pragma once
/// The controller a release of the chart deploys, run the way its Deployment runs it but as a host
/// process (the lane's node, when there is one, has no image of it): the real `poetryops` binary
/// with the Deployment's container args — the bind addresses moved to free loopback ports, the
/// cache into the test's folder, `$(VAR)` expanded from the container's env — under a token of the
/// Deployment's own ServiceAccount, so it has the chart's RBAC and nothing more. It stands in for a
/// Pod of the Deployment (POD_NAME), which the API server has but no node runs. Stopped by PID when
/// it goes away.

#include "support/kube/cluster.hpp"

#include <poetryops/kube/client.hpp>
#include <poetryops/util/result.hpp>
#include <poetryops/util/subprocess.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace poetryops::test::helm {

struct ChartControllerOptions {
    std::filesystem::path binary{};  ///< the `poetryops` binary under test
    std::filesystem::path dir{};     ///< its kubeconfig, cache and log go here
    /// The --webhook-bind-address port when the chart enables the webhook (0: a free one). Chosen
    /// by the caller when a registry must be told where to send its notifications first.
    int webhook_port = 0;
    /// Environment on top of the container's (whose Secret references are read as admin).
    std::map<std::string, std::string> env{};
};

class ChartController {
public:
    /// Reads Deployment `ns`/`deployment`, requests a token for its ServiceAccount, writes a
    /// kubeconfig with it (its context's namespace `ns`) and starts the binary with the
    /// container's args plus `--kubeconfig`. Fails when the Deployment, the token or the process
    /// cannot be had.
    static Result<std::unique_ptr<ChartController>> start(poetryops::kube::RestClient& admin,
                                                          const kube::ClusterInfo& cluster,
                                                          const std::string& ns,
                                                          const std::string& deployment,
                                                          ChartControllerOptions options);
    ChartController(const ChartController&) = delete;
    ChartController& operator=(const ChartController&) = delete;
    ~ChartController() { stop(); }

    /// The argv it runs: the Deployment's args as changed above.
    const std::vector<std::string>& argv() const { return argv_; }
    /// The ServiceAccount it runs as, and a kubeconfig of its token.
    const std::string& service_account() const { return service_account_; }
    const std::filesystem::path& kubeconfig() const { return kubeconfig_; }
    /// The Deployment's Pod it stands in for (its name is the container's POD_NAME).
    const std::string& pod() const { return pod_; }
    int metrics_port() const { return metrics_port_; }
    int health_port() const { return health_port_; }
    int webhook_port() const { return webhook_port_; }
    /// Its stdout and stderr so far.
    std::string log() const;
    bool running() { return child_.running(); }
    /// SIGTERM, then SIGKILL after `grace`; its exit code (or -signal). Once; later calls return
    /// the first result.
    int stop(std::chrono::milliseconds grace = std::chrono::seconds(20));

private:
    ChartController() = default;
    ChildProcess child_;
    std::vector<std::string> argv_;
    std::string service_account_, pod_;
    std::filesystem::path kubeconfig_, log_;
    int metrics_port_ = 0, health_port_ = 0, webhook_port_ = 0;
    std::optional<int> exit_code_;
};

}  // namespace poetryops::test::helm

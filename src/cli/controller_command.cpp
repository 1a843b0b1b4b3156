// `poetryops controller`: parses flags and runs controller::AppController until SIGTERM/SIGINT.
// Exit codes: 0 after a graceful stop, 2 for bad flags or configuration (one line naming the flag or file),
// 1 when the controller fails at run time (e.g. the lease is lost).
#include <poetryops/cli/commands.hpp>

#include <poetryops/controller/app_controller.hpp>
#include <poetryops/kube/manager.hpp>
#include <poetryops/util/log.hpp>

#include <iostream>
#include <memory>

namespace poetryops::cli {

namespace {

int config_error(const std::string& message) {
    std::string msg = log::redact(message);
    for (char& c : msg) {
        if (c == '\n' || c == '\r') c = ' ';
    }
    std::cerr << "poetryops controller: " << msg << '\n';
    return 2;
}

int run_controller(const controller::AppControllerConfig& config) {
    // Block SIGTERM/SIGINT before any thread starts so that only the signal thread sees them.
    kube::ShutdownSignals signals;
    auto created = controller::AppController::create(config);
    if (!created) return config_error(created.error().message);
    auto& ctl = **created;
    signals.on_signal([&ctl] {
        POETRYOPS_LOG(info, "shutdown signal received, finishing in-flight reconciles");
        ctl.stop();
    });
    auto started = ctl.start();
    if (!started) return config_error(started.error().message);
    POETRYOPS_LOG(info, "controller started",
                  {{"namespaces", config.namespaces.empty() ? std::string("(all)") : [&] {
                        std::string s;
                        for (const auto& n : config.namespaces) s += (s.empty() ? "" : ",") + n;
                        return s;
                    }()},
                   {"metrics", std::to_string(ctl.manager().metrics_port())},
                   {"health", std::to_string(ctl.manager().health_port())},
                   {"leaderElection", config.leader_elect ? "on" : "off"}});
    int rc = ctl.run();
    POETRYOPS_LOG(info, "controller stopped", {{"exitCode", std::to_string(rc)}});
    return rc;
}

}  // namespace

void add_controller_command(CLI::App& app, Context& ctx) {
    auto config = std::make_shared<controller::AppControllerConfig>();
    CLI::App* cmd = app.add_subcommand("controller", "Run the PoetryApp controller against a Kubernetes API server");
    cmd->add_option("--kubeconfig", config->kubeconfig,
                    "kubeconfig file (default: $KUBECONFIG, in-cluster config, ~/.kube/config)");
    cmd->add_option("--context", config->context, "kubeconfig context (default: current-context)");
    cmd->add_option("--namespace", config->namespaces, "watch only this namespace (repeatable; default: all)")
        ->allow_extra_args(false);
    cmd->add_flag("--leader-elect", config->leader_elect, "elect a leader through a coordination.k8s.io Lease");
    cmd->add_option("--leader-election-namespace", config->leader_election_namespace,
                    "namespace of the Lease (default: the kubeconfig context's or service account's namespace)");
    cmd->add_option("--metrics-bind-address", config->metrics_bind_address,
                    "host:port for /metrics (\"0\" disables)")
        ->capture_default_str();
    cmd->add_option("--health-probe-bind-address", config->health_probe_bind_address,
                    "host:port for /healthz and /readyz (\"0\" disables)")
        ->capture_default_str();
    cmd->add_option("--max-concurrent-reconciles", config->max_concurrent_reconciles,
                    "PoetryApps reconciled in parallel")
        ->capture_default_str()
        ->check(CLI::Range(1, 256));
    cmd->callback([config, &ctx] { ctx.exit_code = run_controller(*config); });
}

}  // namespace poetryops::cli

// `poetryops controller`: parses flags and runs controller::AppController until SIGTERM/SIGINT.
// Exit codes (cli/errors.hpp): 0 after a graceful stop, 2 for bad flags or configuration (one line
// naming the flag or file), 1 when the controller fails at run time (e.g. the lease is lost).
#include <poetryops/cli/commands.hpp>

#include <poetryops/controller/app_controller.hpp>
#include <poetryops/runtime/manager.hpp>
#include <poetryops/util/log.hpp>

#include <poetryops/registry/reference.hpp>

#include <cstdlib>
#include <memory>

namespace poetryops::cli {

namespace {

constexpr std::string_view kController = "controller";

/// Whatever stops the controller before it runs is its configuration: a flag, the kubeconfig, a
/// bind address, the cache dir (2, docs/operations.md "Exit codes"). An API server that is not
/// there yet is waited for, not an error.
Exit config_error(const Error& e) { return report(kController, e, Exit::bad_input); }

struct PromotionFlags {
    bool disabled = false;
    std::string cache_dir = "/tmp/poetryops-cache";
    std::string webhook_address;
    std::vector<std::string> plain_http;
    std::vector<std::string> ca_files;  // HOST=FILE
};

/// Fills config.promotion from the flags; the webhook secret comes from the environment, never
/// argv.
std::string apply_promotion_flags(const PromotionFlags& f,
                                  controller::AppControllerConfig& config) {
    if (f.disabled) return {};
    controller::ClusterPromotionOptions o;
    o.cache_dir = f.cache_dir;
    o.webhook_address = f.webhook_address;
    if (const char* t = std::getenv("POETRYOPS_WEBHOOK_TOKEN"); t && *t) o.webhook.bearer_token = t;
    if (const char* h = std::getenv("POETRYOPS_WEBHOOK_HMAC_SECRET"); h && *h)
        o.webhook.hmac_secret = h;
    if (const char* s = std::getenv("POETRYOPS_SOURCE_WEBHOOK_SECRET"); s && *s)
        o.source_webhook.secret = s;
    if (!o.webhook_address.empty() && o.webhook.bearer_token.empty() &&
        o.webhook.hmac_secret.empty() && o.source_webhook.secret.empty()) {
        return "--webhook-bind-address needs $POETRYOPS_WEBHOOK_TOKEN or "
               "$POETRYOPS_WEBHOOK_HMAC_SECRET (registry pushes), or "
               "$POETRYOPS_SOURCE_WEBHOOK_SECRET (source pushes)";
    }
    for (const auto& host : f.plain_http)
        o.registry.hosts[registry::normalize_registry_host(host)].plain_http = true;
    for (const auto& hf : f.ca_files) {
        auto eq = hf.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == hf.size())
            return "--registry-ca-file " + hf + ": expected HOST=FILE";
        o.registry.hosts[registry::normalize_registry_host(hf.substr(0, eq))].ca_file =
            hf.substr(eq + 1);
    }
    config.promotion = std::move(o);
    return {};
}

Exit run_controller(const controller::AppControllerConfig& config) {
    // Block SIGTERM/SIGINT before any thread starts so that only the signal thread sees them.
    runtime::ShutdownSignals signals;
    auto created = controller::AppController::create(config);
    if (!created) return config_error(created.error());
    auto& ctl = **created;
    signals.on_signal([&ctl] {
        POETRYOPS_LOG(info, "shutdown signal received, finishing in-flight reconciles");
        ctl.stop();
    });
    auto started = ctl.start();
    if (!started) return config_error(started.error());
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
    return rc == 0 ? Exit::ok : rc == to_int(Exit::bad_input) ? Exit::bad_input : Exit::failure;
}

}  // namespace

void add_controller_command(CLI::App& app, Context& ctx) {
    auto config = std::make_shared<controller::AppControllerConfig>();
    auto promotion = std::make_shared<PromotionFlags>();
    CLI::App* cmd = app.add_subcommand(
        "controller", "Run the PoetryApp controller against a Kubernetes API server");
    cmd->add_option("--kubeconfig", config->kubeconfig,
                    "kubeconfig file (default: $KUBECONFIG, in-cluster config, ~/.kube/config)");
    cmd->add_option("--context", config->context, "kubeconfig context (default: current-context)");
    cmd->add_option("--namespace", config->namespaces,
                    "watch only this namespace (repeatable; default: all)")
        ->allow_extra_args(false);
    cmd->add_flag("--leader-elect", config->leader_elect,
                  "elect a leader through a coordination.k8s.io Lease");
    cmd->add_option("--leader-election-namespace", config->leader_election_namespace,
                    "namespace of the Lease (default: the kubeconfig context's or service "
                    "account's namespace)");
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
    cmd->add_flag("--no-promotion", promotion->disabled,
                  "only validate PoetryApps and write their status");
    cmd->add_option("--cache-dir", promotion->cache_dir,
                    "GitOps clones and files written from Secrets")
        ->capture_default_str();
    cmd->add_option(
        "--webhook-bind-address", promotion->webhook_address,
        "accept registry push webhooks at POST /webhooks/registry on host:port (token from "
        "$POETRYOPS_WEBHOOK_TOKEN or HMAC secret from $POETRYOPS_WEBHOOK_HMAC_SECRET) and source "
        "push webhooks at POST /webhooks/source (secret from $POETRYOPS_SOURCE_WEBHOOK_SECRET)");
    cmd->add_option("--plain-http", promotion->plain_http,
                    "registry hosts to reach over plain HTTP");
    cmd->add_option("--registry-ca-file", promotion->ca_files,
                    "HOST=FILE: trust only this CA for that registry");
    cmd->callback([config, promotion, &ctx] {
        if (auto err = apply_promotion_flags(*promotion, *config); !err.empty()) {
            ctx.exit = report_bad_input(kController, err);
            return;
        }
        ctx.exit = run_controller(*config);
    });
}

}  // namespace poetryops::cli

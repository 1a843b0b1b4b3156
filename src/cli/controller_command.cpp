// `poetryops controller`: parses flags and runs controller::AppController until SIGTERM/SIGINT.
// Exit codes (cli/errors.hpp): 0 after a graceful stop, 2 for bad flags or configuration (one line
// naming the flag or file), 1 when the controller fails at run time (e.g. the lease is lost).
#include <poetryops/cli/commands.hpp>

#include "cli/detail/shared_flags.hpp"

#include <poetryops/build/job.hpp>
#include <poetryops/controller/app_controller.hpp>
#include <poetryops/kube/label_selector.hpp>
#include <poetryops/notify/notifier.hpp>
#include <poetryops/runtime/manager.hpp>
#include <poetryops/util/log.hpp>

#include <poetryops/registry/reference.hpp>

#include <nlohmann/json.hpp>

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
    bool allow_cross_namespace_routes = false;
};

/// The build Jobs' flags (Helm values: charts/poetryops `builds:`).
struct BuildFlags {
    bool disabled = false;
    int max_concurrent = 4;
    build::JobOptions job;
    std::string resources, prepare_resources, tolerations;  // JSON, as written
    std::vector<std::string> node_selector;                 // KEY=VALUE
};

/// Fills config.promotion->builds; "" or the one line naming the flag at fault.
std::string apply_build_flags(const BuildFlags& f, controller::AppControllerConfig& config) {
    if (!config.promotion) return {};
    if (f.disabled) {
        config.promotion->builds.reset();
        return {};
    }
    if (f.max_concurrent < 0) return "--max-concurrent-builds must be 0 (no limit) or more";
    controller::KubeBuildOptions o;
    o.job = f.job;
    o.max_concurrent = f.max_concurrent;
    auto parse = [](const std::string& flag, const std::string& text, bool array,
                    nlohmann::json& into) -> std::string {
        if (text.empty()) return {};
        auto j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_discarded() || (array ? !j.is_array() : !j.is_object()))
            return flag + ": expected a JSON " + (array ? "array" : "object") + ", got " + text;
        into = std::move(j);
        return {};
    };
    if (auto e = parse("--build-resources", f.resources, false, o.job.resources); !e.empty())
        return e;
    if (auto e =
            parse("--build-prepare-resources", f.prepare_resources, false, o.job.prepare_resources);
        !e.empty())
        return e;
    if (auto e = parse("--build-tolerations", f.tolerations, true, o.job.tolerations); !e.empty())
        return e;
    for (const auto& kv : f.node_selector) {
        auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0)
            return "--build-node-selector " + kv + ": expected KEY=VALUE";
        o.job.node_selector[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    if (o.job.ttl_seconds_after_finished < 0) return "--build-ttl-seconds must be 0 or more";
    config.promotion->builds = std::move(o);
    return {};
}

/// The admission webhook's flags (Helm values: charts/poetryops `admission:`).
struct AdmissionFlags {
    std::string address;
    std::string cert_file;
    std::string key_file;
};

/// Fills config.admission; "" or the one line naming the flag at fault.
std::string apply_admission_flags(const AdmissionFlags& f,
                                  controller::AppControllerConfig& config) {
    if (f.address.empty()) {
        if (!f.cert_file.empty() || !f.key_file.empty())
            return "--admission-tls-cert-file/--admission-tls-key-file need "
                   "--admission-bind-address";
        return {};
    }
    if (f.cert_file.empty() || f.key_file.empty())
        return "--admission-bind-address needs --admission-tls-cert-file and "
               "--admission-tls-key-file: the API server calls admission webhooks over HTTPS only";
    auto port_of = [](const std::string& address) {
        auto colon = address.rfind(':');
        return colon == std::string::npos ? address : address.substr(colon + 1);
    };
    const std::string port = port_of(f.address);
    std::vector<std::pair<std::string, std::string>> others{
        {"--metrics-bind-address", config.metrics_bind_address},
        {"--health-probe-bind-address", config.health_probe_bind_address}};
    if (config.promotion)
        others.emplace_back("--webhook-bind-address", config.promotion->webhook_address);
    for (const auto& [flag, address] : others) {
        if (!address.empty() && address != "0" && port != "0" && port_of(address) == port)
            return "--admission-bind-address " + f.address + " and " + flag + " " + address +
                   " name the same port: admission is served on its own HTTPS listener";
    }
    controller::AdmissionOptions o;
    o.address = f.address;
    o.tls_cert_file = f.cert_file;
    o.tls_key_file = f.key_file;
    config.admission = std::move(o);
    return {};
}

/// Fills config.promotion from the flags; the webhook secret comes from the environment, never
/// argv.
std::string apply_promotion_flags(const PromotionFlags& f,
                                  controller::AppControllerConfig& config) {
    if (f.disabled) return {};
    controller::ClusterPromotionOptions o;
    o.cache_dir = f.cache_dir;
    o.webhook_address = f.webhook_address;
    o.allow_cross_namespace_routes = f.allow_cross_namespace_routes;
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
    // The webhook listener faces the registries and forges (often through an Ingress); metrics and
    // probes stay inside the cluster. One port for both would expose /metrics to the internet.
    auto port_of = [](const std::string& address) {
        auto colon = address.rfind(':');
        return colon == std::string::npos ? address : address.substr(colon + 1);
    };
    if (!o.webhook_address.empty()) {
        const std::string port = port_of(o.webhook_address);
        for (const auto& [flag, address] :
             {std::pair{"--metrics-bind-address", config.metrics_bind_address},
              std::pair{"--health-probe-bind-address", config.health_probe_bind_address}}) {
            if (address != "0" && port != "0" && port_of(address) == port) {
                return "--webhook-bind-address " + o.webhook_address + " and " + flag + " " +
                       address + " name the same port: webhooks are served on their own listener";
            }
        }
    }
    if (auto bad = cli::detail::apply_registry_host_flags(f.plain_http, f.ca_files, o.registry);
        !bad.empty())
        return bad;
    config.promotion = std::move(o);
    return {};
}

Exit run_controller(const controller::AppControllerConfig& config) {
    // Block SIGTERM/SIGINT before any thread starts so that only the signal thread sees them.
    runtime::ShutdownSignals signals;
    auto created = controller::AppController::create(config);
    if (!created) return config_error(created.error());
    auto& ctl = **created;
    // spec.notifications: one notifier for every app; its outcomes go back to the engine.
    std::unique_ptr<notify::Notifier> notifier;
    if (config.promotion) {
        notify::NotifierOptions no;
        no.metrics = &ctl.manager().metrics();
        auto made = notify::Notifier::create(
            std::move(no), [&ctl](const notify::Outcome& o) { ctl.engine().notification_done(o); });
        if (!made) return config_error(made.error());
        notifier = std::move(made).value();
        ctl.engine().set_notifier(notifier.get());
    }
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
                   {"leaderElection", config.leader_elect ? "on" : "off"},
                   {"admission", config.admission ? std::to_string(ctl.admission_port())
                                                  : std::string("off")}});
    int rc = ctl.run();
    if (notifier) {
        notifier->stop();  // queued deliveries are re-derived from status by the next controller
        ctl.engine().set_notifier(nullptr);
    }
    POETRYOPS_LOG(info, "controller stopped", {{"exitCode", std::to_string(rc)}});
    return rc == 0 ? Exit::ok : rc == to_int(Exit::bad_input) ? Exit::bad_input : Exit::failure;
}

}  // namespace

void add_controller_command(CLI::App& app, Context& ctx) {
    auto config = std::make_shared<controller::AppControllerConfig>();
    auto promotion = std::make_shared<PromotionFlags>();
    auto admission = std::make_shared<AdmissionFlags>();
    CLI::App* cmd = app.add_subcommand(
        "controller", "Run the PoetryApp controller against a Kubernetes API server");
    cmd->add_option("--kubeconfig", config->kubeconfig,
                    "kubeconfig file (default: $KUBECONFIG, in-cluster config, ~/.kube/config)");
    cmd->add_option("--context", config->context, "kubeconfig context (default: current-context)");
    cmd->add_option("--namespace", config->namespaces,
                    "watch only this namespace (repeatable; default: all)")
        ->allow_extra_args(false);
    cmd->add_option("--selector", config->label_selector,
                    "watch only PoetryApps whose labels match this selector, e.g. "
                    "poetryops.io/shard=a (sharding; default: all)");
    cmd->add_flag("--leader-elect", config->leader_elect,
                  "elect a leader through a coordination.k8s.io Lease");
    cmd->add_option("--leader-election-namespace", config->leader_election_namespace,
                    "namespace of the Lease (default: the kubeconfig context's or service "
                    "account's namespace)");
    cmd->add_option("--leader-pod", config->leader_pod,
                    "NAMESPACE/NAME of this replica's Pod: labelled poetryops.io/leader=true while "
                    "it leads, so that a Service selecting the label (the chart's webhook "
                    "Service) reaches the leader only; needs --leader-elect");
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
    cmd->add_option("--admission-bind-address", admission->address,
                    "serve the PoetryApproval admission webhook (POST /admission/poetryapprovals, "
                    "HTTPS) on host:port: it stamps spec.approver/spec.groups from the API "
                    "server's userInfo, and approvals are then trusted by that identity. Only with "
                    "a MutatingWebhookConfiguration (failurePolicy Fail) pointing here");
    cmd->add_option("--admission-tls-cert-file", admission->cert_file,
                    "the admission webhook's serving certificate (PEM)");
    cmd->add_option("--admission-tls-key-file", admission->key_file,
                    "the admission webhook's private key (PEM)");
    cmd->add_option("--plain-http", promotion->plain_http,
                    "registry hosts to reach over plain HTTP");
    cmd->add_flag("--allow-cross-namespace-routes", promotion->allow_cross_namespace_routes,
                  "let canaries steer routes outside their PoetryApp's namespace "
                  "(canary.traffic.namespace); refused by default");
    cmd->add_option("--registry-ca-file", promotion->ca_files,
                    "HOST=FILE: trust only this CA for that registry");
    auto builds = std::make_shared<BuildFlags>();
    build::JobOptions& job = builds->job;
    cmd->add_flag("--no-builds", builds->disabled,
                  "do not build PoetryApps with spec.build (their images come from elsewhere)");
    cmd->add_option("--max-concurrent-builds", builds->max_concurrent,
                    "build Jobs running at once over every app; more wait suspended (0: no limit)")
        ->capture_default_str();
    cmd->add_option("--poetryops-image", job.poetryops_image,
                    "image of the build Jobs' prepare step (this program)")
        ->capture_default_str();
    cmd->add_option("--buildkit-image", job.buildkit_image, "rootless BuildKit image")
        ->capture_default_str();
    cmd->add_option("--kaniko-image", job.kaniko_image, "kaniko executor image")
        ->capture_default_str();
    cmd->add_option("--buildah-image", job.buildah_image, "buildah image")->capture_default_str();
    cmd->add_option("--build-service-account", job.service_account_name,
                    "ServiceAccount of the build Pods (default: the namespace's default)");
    cmd->add_option("--build-resources", builds->resources,
                    "resources of the builder container, JSON: "
                    "'{\"requests\":{\"cpu\":\"1\",\"memory\":\"2Gi\"}}'");
    cmd->add_option("--build-prepare-resources", builds->prepare_resources,
                    "resources of the prepare init container, JSON");
    cmd->add_option("--build-node-selector", builds->node_selector,
                    "KEY=VALUE: build Pods run only on nodes with this label (repeatable)");
    cmd->add_option("--build-tolerations", builds->tolerations,
                    "tolerations of the build Pods, a JSON array");
    cmd->add_option("--build-ttl-seconds", job.ttl_seconds_after_finished,
                    "finished build Jobs are deleted after this many seconds")
        ->capture_default_str();
    cmd->add_option("--build-workspace-size-limit", job.workspace_size_limit,
                    "size limit of the build Pods' scratch volumes, e.g. 20Gi (default: none)");
    cmd->add_flag("--build-insecure-registry", job.insecure_registry,
                  "builders push to and pull from the image registry over plain HTTP (test "
                  "registries only)");
    cmd->callback([config, promotion, builds, admission, &ctx] {
        // Before the kubeconfig is read: a selector that cannot work is the flag's fault.
        if (auto sel = kube::LabelSelector::parse(config->label_selector); !sel) {
            ctx.exit = report_bad_input(
                kController, "--selector " + config->label_selector + ": " + sel.error().message);
            return;
        }
        if (auto err = apply_promotion_flags(*promotion, *config); !err.empty()) {
            ctx.exit = report_bad_input(kController, err);
            return;
        }
        if (auto err = apply_build_flags(*builds, *config); !err.empty()) {
            ctx.exit = report_bad_input(kController, err);
            return;
        }
        if (auto err = apply_admission_flags(*admission, *config); !err.empty()) {
            ctx.exit = report_bad_input(kController, err);
            return;
        }
        ctx.exit = run_controller(*config);
    });
}

}  // namespace poetryops::cli

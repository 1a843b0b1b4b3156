// poetryops run (local mode) and poetryops demo. Exit codes (cli/errors.hpp): 0 done; 1 when
// `--once` saw a registry or git failure; 2 bad input at start (flags, files, specs).
#include <poetryops/cli/commands.hpp>

#include <poetryops/api/duration.hpp>
#include <poetryops/controller/demo.hpp>
#include <poetryops/controller/local.hpp>
#include <poetryops/notify/notifier.hpp>
#include <poetryops/registry/auth.hpp>
#include <poetryops/registry/reference.hpp>
#include <poetryops/util/log.hpp>
#include "cli/detail/shared_flags.hpp"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>

namespace poetryops::cli {

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int) { g_stop = true; }

struct RunArgs {
    std::vector<std::string> inputs;
    std::string state_dir = ".poetryops";
    bool once = false;
    std::string layout_dir;
    std::vector<std::string> plain_http;
    std::vector<std::string> ca_files;  // HOST=FILE
    std::string registry_config;
    std::string git_username;
    std::string git_ssh_key;
    std::string git_known_hosts;
    std::string git_ca_file;
    std::string webhook_address;
    // Builds (spec.build) with buildah on this machine.
    std::string buildah_root;
    std::string buildah_runroot;
    std::string storage_driver;
    std::string build_image;
    std::string runtime_image;
    std::string poetry;
    int max_concurrent_builds = 1;
    // spec.notifications
    std::string secrets_dir;
    std::string notification_wait = "30s";
};

constexpr std::string_view kRun = "run";

Exit run_local(const RunArgs& a) {
    controller::LocalOptions o;
    for (const auto& i : a.inputs) o.inputs.emplace_back(i);
    o.state_dir = a.state_dir;
    o.layout_dir = a.layout_dir;
    if (auto bad = detail::apply_registry_host_flags(a.plain_http, a.ca_files, o.registry);
        !bad.empty())
        return report_bad_input(kRun, bad);
    if (!a.registry_config.empty()) {
        auto cfg = registry::DockerConfig::load(a.registry_config);
        if (!cfg) return report(kRun, cfg.error());
        o.registry.docker_config = std::move(cfg).value();
    }
    o.git.username = a.git_username;
    // The git password or token never appears in argv: it comes from the environment.
    if (const char* p = std::getenv("POETRYOPS_GIT_PASSWORD"); p && *p) o.git.password = p;
    o.git.ssh_key = a.git_ssh_key;
    o.git.known_hosts = a.git_known_hosts;
    o.git.ca_file = a.git_ca_file;
    o.webhook_address = a.webhook_address;
    // Webhook credentials never appear in argv either.
    if (const char* t = std::getenv("POETRYOPS_WEBHOOK_TOKEN"); t && *t) o.webhook.bearer_token = t;
    if (const char* h = std::getenv("POETRYOPS_WEBHOOK_HMAC_SECRET"); h && *h)
        o.webhook.hmac_secret = h;
    if (const char* s = std::getenv("POETRYOPS_SOURCE_WEBHOOK_SECRET"); s && *s)
        o.source_webhook.secret = s;
    if (a.max_concurrent_builds < 1) {
        return report_bad_input(kRun, "--max-concurrent-builds must be at least 1");
    }
    controller::LocalBuildOptions b;
    b.buildah.root = a.buildah_root;
    b.buildah.runroot = a.buildah_runroot;
    b.buildah.storage_driver = a.storage_driver;
    b.layout_dir = a.layout_dir;
    for (const auto& host : a.plain_http)
        b.plain_http.insert(registry::normalize_registry_host(host));
    b.authfile = a.registry_config;
    b.generate.build_image = a.build_image;
    b.generate.runtime_image = a.runtime_image;
    if (!a.poetry.empty()) b.generate.poetry = a.poetry;
    b.max_concurrent = a.max_concurrent_builds;
    b.work_dir = std::filesystem::path(a.state_dir) / "builds";
    o.builds = std::move(b);
    o.on_event = [](const api::PoetryApp& app, const promote::Event& e) {
        if (e.warning) {
            POETRYOPS_LOG(warn, e.message, {{"app", app.key()}, {"reason", e.reason}});
        } else {
            POETRYOPS_LOG(info, e.message, {{"app", app.key()}, {"reason", e.reason}});
        }
    };
    auto wait = api::parse_duration(a.notification_wait);
    if (!wait) {
        return report_bad_input(kRun, "--notification-wait \"" + a.notification_wait +
                                          "\" is not a duration (examples: \"30s\", \"2m\")");
    }
    o.secrets_dir = a.secrets_dir;
    auto runner = controller::LocalRunner::create(std::move(o));
    if (!runner) return report(kRun, runner.error());
    // spec.notifications: one notifier for every app; its outcomes go back to the runner. Declared
    // after the runner, so it stops (and stops calling it) first.
    controller::LocalRunner* raw = runner->get();
    auto notifier = notify::Notifier::create(
        {}, [raw](const notify::Outcome& out) { raw->notification_done(out); });
    if (!notifier) return report(kRun, notifier.error());
    raw->set_notifier(notifier->get());
    if (a.once) {
        auto r = (*runner)->run_until_settled();
        if (!r) return report(kRun, r.error());
        // Deliveries get --notification-wait; then their keys go into the status files.
        if (auto done = raw->finish_notifications(*wait); !done) return report(kRun, done.error());
        (*notifier)->stop();
        for (const auto& e : r->errors) say(kRun, e);
        std::cout << "reconciled " << r->apps << " app(s), " << r->commits
                  << " promotion(s) committed\n";
        // Each error is a registry or git failure a reconcile reported (bad input stops at start).
        return r->errors.empty() ? Exit::ok : Exit::failure;
    }
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    auto r = (*runner)->run(g_stop);
    (*notifier)->stop();
    if (!r) return report(kRun, r.error());
    return Exit::ok;
}

}  // namespace

void add_run_command(CLI::App& app, Context& ctx) {
    auto args = std::make_shared<RunArgs>();
    CLI::App* run = app.add_subcommand("run",
                                       "Local mode: reconcile PoetryApp files against a GitOps "
                                       "repo and a registry, without a cluster");
    run->add_option("-f,--filename", args->inputs, "PoetryApp YAML files or folders")->required();
    run->add_option("--state", args->state_dir, "Directory for status files and the git cache")
        ->capture_default_str();
    run->add_flag("--once", args->once,
                  "Reconcile until nothing more can happen now, then exit (for CI jobs)");
    run->add_option(
        "--registry-layout", args->layout_dir,
        "Serve every image repository from this OCI image-layout root (DIR/<repository path>)");
    run->add_option("--plain-http", args->plain_http, "Registry hosts to reach over plain HTTP");
    run->add_option("--registry-ca-file", args->ca_files,
                    "HOST=FILE: trust only this CA bundle for that registry");
    // The spelling of the first releases, kept working but no longer shown (`controller` says
    // --registry-ca-file).
    run->add_option("--ca-file", args->ca_files, "")->group("");
    run->add_option("--registry-config", args->registry_config,
                    "Docker config.json with registry credentials");
    run->add_option(
        "--git-username", args->git_username,
        "HTTPS user name for the GitOps repos (password or token from $POETRYOPS_GIT_PASSWORD)");
    run->add_option("--git-ssh-key", args->git_ssh_key, "Private key for ssh:// GitOps repos");
    run->add_option("--git-known-hosts", args->git_known_hosts,
                    "known_hosts for ssh:// GitOps repos (enforced)");
    run->add_option("--git-ca-file", args->git_ca_file, "CA bundle for https:// GitOps repos");
    run->add_option("--buildah-root", args->buildah_root,
                    "buildah's image store for builds (spec.build; default: buildah's own)");
    run->add_option("--buildah-runroot", args->buildah_runroot, "buildah's run root for builds");
    run->add_option("--storage-driver", args->storage_driver,
                    "buildah storage driver for builds (overlay, vfs; default: buildah's own)");
    run->add_option("--build-image", args->build_image,
                    "Build stage base image of generated Dockerfiles (default: python:X.Y-slim)");
    run->add_option("--runtime-image", args->runtime_image,
                    "Runtime stage base image of generated Dockerfiles (default: python:X.Y-slim)");
    run->add_option(
        "--poetry", args->poetry,
        "Poetry version for generated Dockerfiles, or 'preinstalled' (spec.build.poetry "
        "wins when set)");
    run->add_option("--max-concurrent-builds", args->max_concurrent_builds,
                    "Builds at once over every app")
        ->capture_default_str();
    run->add_option(
        "--webhook-bind-address", args->webhook_address,
        "Accept registry push webhooks at POST /webhooks/registry on HOST:PORT (token from "
        "$POETRYOPS_WEBHOOK_TOKEN or HMAC secret from $POETRYOPS_WEBHOOK_HMAC_SECRET), and source "
        "pushes at POST /webhooks/source (secret from $POETRYOPS_SOURCE_WEBHOOK_SECRET)");
    run->add_option("--secrets-dir", args->secrets_dir,
                    "Secrets of spec.notifications (urlFrom, hmacKeyFrom): key KEY of Secret NAME "
                    "in namespace NS is the file DIR/NS/NAME/KEY");
    run->add_option(
           "--notification-wait", args->notification_wait,
           "With --once: how long to wait for notifications in flight before exiting "
           "(their keys are then recorded in status; unsent ones are sent by the next run)")
        ->capture_default_str();
    run->callback([args, &ctx] { ctx.exit = run_local(*args); });
}

void add_demo_command(CLI::App& app, Context& ctx) {
    auto workdir = std::make_shared<std::string>();
    CLI::App* demo = app.add_subcommand(
        "demo", "Promote a sample app dev -> staging -> prod on embedded defaults");
    demo->add_option("--workdir", *workdir,
                     "Keep the GitOps repo, registry and state here for inspection");
    demo->callback([workdir, &ctx] {
        // The timeline is the demo's output; routine log lines would only interleave with it.
        if (log::level() == log::Level::info) log::set_level(log::Level::warn);
        controller::DemoOptions o;
        o.workdir = *workdir;
        auto r = controller::run_demo(o, std::cout);
        ctx.exit = r ? Exit::ok : report("demo", r.error());
    });
}

}  // namespace poetryops::cli

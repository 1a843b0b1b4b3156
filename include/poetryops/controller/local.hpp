#pragma once
/// Local mode (`poetryops run`): the promotion reconciler with PoetryApp YAML files as the object
/// store, status kept as JSON files in a state directory, an OCI image-layout directory or any
/// registry as the image source, and any git remote (file:// included) as the GitOps repository.
/// For CI pipelines and for trying poetryops without a cluster.

#include <poetryops/api/poetryapp.hpp>
#include <poetryops/controller/analysis_port.hpp>
#include <poetryops/controller/local_builds.hpp>
#include <poetryops/controller/promotion.hpp>
#include <poetryops/git/committer.hpp>
#include <poetryops/git/remote.hpp>
#include <poetryops/git/webhook.hpp>
#include <poetryops/notify/notifier.hpp>
#include <poetryops/registry/client.hpp>
#include <poetryops/registry/webhook.hpp>
#include <poetryops/util/clock.hpp>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace poetryops::controller {

struct LocalOptions {
    /// PoetryApp YAML files or folders of them (*.yaml, *.yml)
    std::vector<std::filesystem::path> inputs;
    std::filesystem::path state_dir;  ///< status/<namespace>.<name>.json and the git clone cache
    /// OCI image layout root (one layout per repository path); empty:
    std::filesystem::path layout_dir;
    ///< talk to the registries named by spec.image.repository
    registry::RegistryClientOptions registry;  ///< for real registries
    git::Remote git;  ///< credentials, CA, timeouts applied to every spec.gitops.repoURL
    git::CommitterOptions committer;
    /// Apps reconciled at once in a pass; their commits to a shared GitOps repo are batched by the
    /// committer.
    int concurrency = 32;
    const Clock* clock = nullptr;  ///< nullptr: the system clock
    /// Registry webhooks: when set ("127.0.0.1:9090", ":9090"), an HTTP server accepts push
    /// notifications at POST /webhooks/registry (authenticated per `webhook`) and each one wakes
    /// run() at once instead of waiting for the next poll.
    std::string webhook_address;
    registry::WebhookConfig webhook;
    /// POST /webhooks/source on the same address (GitHub, GitLab, Gitea/Forgejo pushes): the
    /// forges' secret; empty: not served.
    git::SourceWebhookConfig source_webhook;
    /// Builds (spec.build) with buildah on this machine; nullopt: apps with spec.build are
    /// promoted from what is in the registry, nothing is built.
    std::optional<LocalBuildOptions> builds;
    /// Canary analysis rounds (not owned; it must outlive the runner); nullptr: Prometheus, at each
    /// environment's analysis.prometheus.address (PrometheusAnalysisPort). The demo injects its
    /// scripted metrics here.
    AnalysisPort* analysis = nullptr;
    /// spec.notifications[].urlFrom / hmacKeyFrom: key `key` of Secret `name` is the file
    /// <secrets_dir>/<namespace>/<name>/<key> (local_secret_source); empty: such targets fail with
    /// a NotificationFailed event naming the flag.
    std::filesystem::path secrets_dir;
    /// Called for every event, in order per app (calls are serialised; the CLI prints them, the
    /// demo builds its timeline from them).
    std::function<void(const api::PoetryApp& app, const promote::Event& event)> on_event;
};

struct PassResult {
    std::size_t apps = 0;
    std::size_t commits = 0;  ///< promotions that reached git in this pass
    /// per-app dependency failures ("team-a/billing: registry …")
    std::vector<std::string> errors;
    std::optional<std::chrono::milliseconds> requeue_after;  ///< the earliest timer among the apps
    std::size_t building = 0;  ///< apps with a build pending or running (status.building)
};

/// Thread safety: one thread drives a runner.
class LocalRunner {
public:
    static Result<std::unique_ptr<LocalRunner>> create(LocalOptions options);
    ~LocalRunner();

    /// Loads every input, reconciles each app once through the Engine (the pass's edits to one
    /// repository become one commit), waits for the commits, writes changed status files. A file
    /// that does not parse or validate fails the pass with an error naming the file, line and
    /// field; nothing is done for any app then.
    Result<PassResult> run_pass();
    /// `--once`: passes until one commits nothing and no build is running (at most `max_passes`
    /// that commit; while builds run it waits for them, each build's change waking the next pass),
    /// for CI jobs.
    Result<PassResult> run_until_settled(int max_passes = 20);
    /// Passes until `stop` is set: after each, waits for the earliest timer, bounded by `max_wait`.
    /// A first pass that fails (bad input at start) is returned at once; later failed passes are
    /// logged and retried with backoff.
    Result<void> run(const std::atomic<bool>& stop,
                     std::chrono::seconds max_wait = std::chrono::seconds(30));

    /// The status last written for "namespace/name" (nullopt when unknown).
    std::optional<api::PoetryAppStatus> status_of(const std::string& key) const;
    /// Committer statistics over every GitOps repository.
    git::CommitterStats commit_stats() const;
    /// Makes run() start its next pass now (a webhook, a signal). Safe from any thread.
    void wake();
    /// The bound webhook port (0 when webhooks are off).
    std::uint16_t webhook_port() const;

    /// Sends spec.notifications through `notifier` (Engine::set_notifier); before the first pass.
    void set_notifier(notify::Notifier* notifier);
    /// The notifier's callback (Engine::notification_done); wakes run().
    void notification_done(const notify::Outcome& outcome);
    /// `--once`'s end: waits at most `timeout` for the notifications in flight, then (when any
    /// was sent) one more pass records their keys in the status files, so the next run does not
    /// send them again. A receiver that does not answer in time is left to the notifier (abandoned
    /// when the process ends; the next run sends it again).
    Result<void> finish_notifications(std::chrono::milliseconds timeout);

private:
    struct Impl;
    explicit LocalRunner(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

/// Decoded files by path, with the text they were decoded from: a file whose text did not change
/// since the last pass is not parsed again (1,000 apps in one file: ~0.2 s of YAML per pass).
using LocalAppCache =
    std::map<std::filesystem::path, std::pair<std::string, std::vector<api::PoetryApp>>>;

/// Every PoetryApp in the inputs, decoded and validated (errors name file, line and field).
/// Namespace defaults to "default" and generation to 1. `cache` (optional) is read and updated.
Result<std::vector<api::PoetryApp>> load_local_apps(
    const std::vector<std::filesystem::path>& inputs, LocalAppCache* cache = nullptr);

}  // namespace poetryops::controller

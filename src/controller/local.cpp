#include <poetryops/controller/local.hpp>

#include <poetryops/api/codec.hpp>
#include <poetryops/controller/artifact_port.hpp>
#include <poetryops/controller/git_port.hpp>
#include <poetryops/controller/promotion.hpp>
#include <poetryops/git/edit.hpp>
#include <poetryops/registry/layout.hpp>

#include <poetryops/util/backoff.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/log.hpp>
#include "controller/detail/webhook_listener.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace poetryops::controller {

namespace fs = std::filesystem;

Result<std::vector<api::PoetryApp>> load_local_apps(const std::vector<fs::path>& inputs) {
    std::vector<fs::path> files;
    for (const auto& in : inputs) {
        std::error_code ec;
        if (fs::is_directory(in, ec)) {
            std::vector<fs::path> found;
            for (auto it = fs::recursive_directory_iterator(in, ec);
                 !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
                auto ext = it->path().extension();
                if (it->is_regular_file() && (ext == ".yaml" || ext == ".yml"))
                    found.push_back(it->path());
            }
            if (ec) return fail(Error::Kind::internal, in.string() + ": " + ec.message());
            std::sort(found.begin(), found.end());
            files.insert(files.end(), found.begin(), found.end());
        } else if (fs::exists(in, ec)) {
            files.push_back(in);
        } else {
            return fail(Error::Kind::not_found, in.string() + ": no such file or directory");
        }
    }
    std::vector<api::PoetryApp> apps;
    std::map<std::string, std::string> seen;  // key -> file
    for (const auto& f : files) {
        POETRYOPS_TRY(std::string text, read_file(f));
        POETRYOPS_TRY(auto loaded, api::load_poetryapps_yaml(text, f.string()));
        for (auto& app : loaded) {
            if (app.metadata.namespace_.empty()) app.metadata.namespace_ = "default";
            if (app.metadata.generation == 0) app.metadata.generation = 1;
            auto [it, inserted] = seen.emplace(app.key(), f.string());
            if (!inserted) {
                return fail(Error::Kind::invalid, f.string() + ": PoetryApp " + app.key() +
                                                      " is also defined in " + it->second);
            }
            apps.push_back(std::move(app));
        }
    }
    return apps;
}

struct LocalRunner::Impl {
    LocalOptions options;
    const Clock* clock = nullptr;
    std::unique_ptr<git::RepoCache> cache;
    std::unique_ptr<GitRepoPort> gitops;
    std::shared_ptr<registry::Registry> registry;
    std::unique_ptr<RegistryArtifactPort> artifacts;
    std::unique_ptr<PromotionReconciler> reconciler;
    std::map<std::string, api::PoetryAppStatus> statuses;
    std::mutex wake_mu;
    std::condition_variable wake_cv;
    bool woken = false;
    bool prefetched = false;  ///< prefetch() ran (first pass)
    std::unique_ptr<detail::WebhookListener> webhooks;

    void wake() {
        {
            std::lock_guard lock(wake_mu);
            woken = true;
        }
        wake_cv.notify_all();
    }

    Result<void> start_webhooks() {
        if (options.webhook_address.empty()) return ok();
        POETRYOPS_TRY(webhooks,
                      detail::WebhookListener::start(
                          options.webhook_address, options.webhook,
                          [this](std::vector<registry::PushEvent> events) {
                              for (const auto& e : events) {
                                  artifacts->hint_push(e.registry + "/" + e.repository, e.tag);
                                  POETRYOPS_LOG(info, "registry push",
                                                {{"repository", e.registry + "/" + e.repository},
                                                 {"tag", e.tag}});
                              }
                              wake();
                          }));
        return ok();
    }

    fs::path status_path(const api::PoetryApp& app) const {
        return options.state_dir / "status" /
               (app.metadata.namespace_ + "." + app.metadata.name + ".json");
    }

    void load_status(api::PoetryApp& app) {
        auto text = read_file(status_path(app));
        if (!text) return;  // first run
        auto j = nlohmann::json::parse(*text, nullptr, false);
        if (j.is_discarded()) {
            POETRYOPS_LOG(warn, "ignoring unreadable status file",
                          {{"file", status_path(app).string()}});
            return;
        }
        std::vector<api::FieldError> errors;
        app.status = api::decode_status(j, errors);
    }

    /// Reads the environment files of every app of one repository and branch in one request before
    /// the workers start: on a cold clone (the first pass, a restart) their blobs then come in one
    /// fetch instead of one per round of workers, and each app's own read finds them in memory.
    /// Repositories in parallel, as the workers would. Best effort: the apps read again and report
    /// their own errors (a bad path fails this whole read, not theirs).
    void prefetch(const std::vector<api::PoetryApp>& apps) {
        std::map<std::pair<std::string, std::string>,
                 std::pair<const api::PoetryApp*, std::set<std::string>>>
            groups;
        for (const auto& app : apps) {
            auto& g = groups[{app.spec.gitops.repo_url, app.spec.gitops.branch}];
            if (!g.first) g.first = &app;
            for (const auto& env : app.spec.environments) {
                std::string path = environment_file(env);
                if (git::validate_repo_path(path)) g.second.insert(std::move(path));
            }
        }
        std::vector<std::pair<const api::PoetryApp*, std::vector<std::string>>> work;
        for (auto& [key, g] : groups) {
            if (g.second.size() < 2) continue;  // nothing to batch
            work.emplace_back(g.first, std::vector<std::string>(g.second.begin(), g.second.end()));
        }
        std::atomic<std::size_t> next{0};
        auto run = [&] {
            for (std::size_t i = next++; i < work.size(); i = next++) {
                auto r = gitops->read_files(*work[i].first, work[i].second);
                if (!r)
                    POETRYOPS_LOG(debug, "prefetch of environment files failed",
                                  {{"error", r.error().message}});
            }
        };
        std::size_t threads = std::min<std::size_t>(work.size(), std::max(1, options.concurrency));
        std::vector<std::thread> pool;
        for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(run);
        run();
        for (auto& t : pool) t.join();
    }

    Result<void> save_status(const api::PoetryApp& app, const api::PoetryAppStatus& status) {
        std::string text = api::encode_status(status).dump(2) + "\n";
        auto path = status_path(app);
        auto old = read_file(path);
        if (old && *old == text) return ok();
        return write_file_atomic(path, text);
    }
};

LocalRunner::LocalRunner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LocalRunner::~LocalRunner() {
    if (impl_ && impl_->webhooks) impl_->webhooks->stop();
}

Result<std::unique_ptr<LocalRunner>> LocalRunner::create(LocalOptions options) {
    if (options.state_dir.empty())
        return fail(Error::Kind::invalid, "--state: a state directory is required");
    std::error_code ec;
    fs::create_directories(options.state_dir / "status", ec);
    if (ec)
        return fail(
            Error::Kind::internal,
            "cannot create " + (options.state_dir / "status").string() + ": " + ec.message());
    auto impl = std::make_unique<Impl>();
    impl->clock = options.clock ? options.clock : &SystemClock::instance();
    POETRYOPS_TRY(impl->cache, git::RepoCache::create(options.state_dir / "git-cache"));
    git::Remote tmpl = options.git;
    impl->gitops = std::make_unique<GitRepoPort>(
        *impl->cache,
        [tmpl](const api::PoetryApp& app) -> Result<git::Remote> {
            git::Remote r = tmpl;
            r.url = app.spec.gitops.repo_url;
            POETRYOPS_TRY_VOID(git::validate_remote(r));
            return r;
        },
        options.committer);
    if (!options.layout_dir.empty()) {
        registry::LayoutOptions lo;
        lo.repository_subdirs = true;
        impl->registry = std::make_shared<registry::LayoutRegistry>(options.layout_dir, lo);
    } else {
        POETRYOPS_TRY(auto client, registry::RegistryClient::create(options.registry));
        impl->registry = std::shared_ptr<registry::Registry>(std::move(client));
    }
    auto reg = impl->registry;
    impl->artifacts = std::make_unique<RegistryArtifactPort>(
        [reg](const api::PoetryApp&) -> Result<std::shared_ptr<registry::Registry>> { return reg; },
        *impl->clock);
    impl->reconciler = std::make_unique<PromotionReconciler>(*impl->gitops, *impl->artifacts,
                                                             nullptr, *impl->clock);
    impl->options = std::move(options);
    POETRYOPS_TRY_VOID(impl->start_webhooks());
    return std::unique_ptr<LocalRunner>(new LocalRunner(std::move(impl)));
}

Result<PassResult> LocalRunner::run_pass() {
    POETRYOPS_LOG(debug, "local pass starts");
    POETRYOPS_TRY(auto apps, load_local_apps(impl_->options.inputs));
    if (!impl_->prefetched) {
        // The first pass (a fresh cache or a restart) reads every app's files; later passes find
        // them in memory, and a prefetch there measured slower (bench_promote_burst), so it happens
        // once.
        impl_->prefetch(apps);
        impl_->prefetched = true;
    }
    PassResult result;
    std::optional<Error> failure;
    std::mutex mu;
    std::atomic<std::size_t> next{0};
    // Apps are independent: reconcile several at once so that their commits to a shared repo batch
    // together.
    auto work = [&] {
        for (std::size_t i = next++; i < apps.size(); i = next++) {
            api::PoetryApp& app = apps[i];
            impl_->load_status(app);
            // Local mode polls: a tag list is never older than one pass.
            impl_->artifacts->invalidate(app.spec.image.repository);
            PromotionOutcome out = impl_->reconciler->reconcile(app);
            auto saved = impl_->save_status(app, out.status);
            std::lock_guard lock(mu);
            ++result.apps;
            result.commits += out.committed.size();
            if (out.error)
                result.errors.push_back(app.key() + ": " + log::redact(out.error->message));
            if (out.requeue_after &&
                (!result.requeue_after || *out.requeue_after < *result.requeue_after)) {
                result.requeue_after = out.requeue_after;
            }
            for (const auto& e : out.events) {
                if (impl_->options.on_event) impl_->options.on_event(app, e);
            }
            if (!saved && !failure) failure = saved.error();
            impl_->statuses[app.key()] = out.status;
        }
    };
    std::size_t threads =
        std::min<std::size_t>(apps.size(), std::max(1, impl_->options.concurrency));
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (failure) return *failure;
    std::sort(result.errors.begin(), result.errors.end());
    return result;
}

Result<PassResult> LocalRunner::run_until_settled(int max_passes) {
    PassResult total;
    for (int i = 0; i < max_passes; ++i) {
        POETRYOPS_TRY(PassResult pass, run_pass());
        total.apps = pass.apps;
        total.commits += pass.commits;
        total.errors = pass.errors;
        total.requeue_after = pass.requeue_after;
        if (pass.commits == 0) break;
    }
    return total;
}

Result<void> LocalRunner::run(const std::atomic<bool>& stop, std::chrono::seconds max_wait) {
    // A failed pass (or an app whose registry or repository failed) is retried with backoff, not
    // after max_wait: a registry answers 404 for a tag it already lists while the push that woke us
    // is still linking it.
    Backoff retry(std::chrono::milliseconds(10), std::chrono::milliseconds(max_wait));
    bool first = true;
    while (!stop) {
        auto pass = run_pass();
        std::chrono::milliseconds wait = max_wait;
        // Bad input at start (a missing file, invalid YAML or spec, an unwritable state dir) is the
        // caller's to fix: return it now instead of logging it every few seconds forever. Once
        // running, a file that goes bad is reported and retried, so an editor's half-saved file
        // does not stop the runner.
        if (!pass && first) return pass.error();
        first = false;
        if (!pass) {
            POETRYOPS_LOG(error, pass.error().message);
            wait = retry.next();
        } else {
            for (const auto& e : pass->errors) POETRYOPS_LOG(warn, e);
            if (pass->errors.empty()) {
                retry.reset();
            } else {
                wait = std::min(wait, retry.next());
            }
            if (pass->commits > 0) wait = std::chrono::milliseconds(0);
            if (pass->requeue_after && *pass->requeue_after < wait) wait = *pass->requeue_after;
        }
        auto until = std::chrono::steady_clock::now() + wait;
        std::unique_lock lock(impl_->wake_mu);
        // Short slices so a stop flag set from a signal handler is seen without a notify; never
        // past `until` (a 10 ms retry must not become a 100 ms one).
        for (auto now = std::chrono::steady_clock::now(); !stop && !impl_->woken && now < until;
             now = std::chrono::steady_clock::now()) {
            impl_->wake_cv.wait_for(lock, std::min<std::chrono::steady_clock::duration>(
                                              until - now, std::chrono::milliseconds(100)));
        }
        impl_->woken = false;
    }
    return ok();
}

void LocalRunner::wake() { impl_->wake(); }

std::uint16_t LocalRunner::webhook_port() const {
    return impl_->webhooks ? impl_->webhooks->port() : 0;
}

std::optional<api::PoetryAppStatus> LocalRunner::status_of(const std::string& key) const {
    auto it = impl_->statuses.find(key);
    if (it == impl_->statuses.end()) return std::nullopt;
    return it->second;
}

git::CommitterStats LocalRunner::commit_stats() const { return impl_->gitops->stats(); }

}  // namespace poetryops::controller

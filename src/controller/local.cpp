#include <poetryops/controller/local.hpp>

#include <poetryops/api/codec.hpp>
#include <poetryops/api/duration.hpp>
#include <poetryops/controller/engine.hpp>
#include <poetryops/git/edit.hpp>
#include <poetryops/util/backoff.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/log.hpp>
#include <poetryops/util/stale.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace poetryops::controller {

namespace fs = std::filesystem;

Result<std::vector<api::PoetryApp>> load_local_apps(const std::vector<fs::path>& inputs,
                                                    LocalAppCache* cache) {
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
        const std::vector<api::PoetryApp>* unchanged = nullptr;
        if (cache) {
            auto it = cache->find(f);
            if (it != cache->end() && it->second.first == text) unchanged = &it->second.second;
        }
        std::vector<api::PoetryApp> loaded;
        if (unchanged) {
            loaded = *unchanged;
        } else {
            POETRYOPS_TRY(loaded, api::load_poetryapps_yaml(text, f.string()));
            if (cache) (*cache)[f] = {std::move(text), loaded};
        }
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

namespace {

/// Runs fn(0..n-1) on up to `threads` threads (the caller's included).
void for_each_parallel(std::size_t n, int threads, const std::function<void(std::size_t)>& fn) {
    std::atomic<std::size_t> next{0};
    auto run = [&] {
        for (std::size_t i = next++; i < n; i = next++) fn(i);
    };
    std::size_t count = std::min<std::size_t>(n, static_cast<std::size_t>(std::max(1, threads)));
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < count; ++t) pool.emplace_back(run);
    run();
    for (auto& t : pool) t.join();
}

}  // namespace

struct LocalRunner::Impl {
    LocalOptions options;
    const Clock* clock = nullptr;
    std::unique_ptr<Engine> engine;
    std::map<std::string, api::PoetryAppStatus> statuses;
    LocalAppCache decoded;  ///< the inputs as last decoded
    std::mutex wake_mu;
    std::condition_variable wake_cv;
    bool woken = false;
    bool prefetched = false;  ///< prefetch() ran (first pass)
    bool notifying = false;   ///< a notifier is set
    /// Engine::notification_outcomes() when the last pass started: outcomes after it are in no
    /// status file yet.
    std::size_t outcomes_recorded = 0;

    void wake() {
        {
            std::lock_guard lock(wake_mu);
            woken = true;
        }
        wake_cv.notify_all();
    }

    GitRepoPort& gitops() const { return engine->ports()->gitops(); }

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
        for_each_parallel(work.size(), options.concurrency, [&](std::size_t i) {
            auto r = gitops().read_files(*work[i].first, work[i].second);
            if (!r) {
                POETRYOPS_LOG(debug, "prefetch of environment files failed",
                              {{"error", r.error().message}});
            }
        });
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
    if (impl_ && impl_->engine) {
        impl_->engine->set_sink(nullptr);
        impl_->engine->stop();
    }
}

Result<std::unique_ptr<LocalRunner>> LocalRunner::create(LocalOptions options) {
    if (options.state_dir.empty()) {
        return fail(Error::Kind::invalid, "--state: a state directory is required");
    }
    std::error_code ec;
    fs::create_directories(options.state_dir / "status", ec);
    if (ec) {
        return fail(
            Error::Kind::internal,
            "cannot create " + (options.state_dir / "status").string() + ": " + ec.message());
    }
    // Status files a killed run was writing (the git cache cleans its own).
    remove_stale_temps(options.state_dir / "status", {".tmp-"});
    auto impl = std::make_unique<Impl>();
    impl->clock = options.clock ? options.clock : &SystemClock::instance();
    EngineOptions eo;
    PortsOptions ports;
    ports.cache_dir = options.state_dir;
    ports.git_subdir = "git-cache";
    ports.registry = options.registry;
    ports.committer = options.committer;
    ports.clock = impl->clock;
    ports.git = options.git;
    ports.layout_dir = options.layout_dir;
    ports.local_builds = options.builds;
    ports.analysis = options.analysis;
    eo.ports = std::move(ports);
    eo.webhook_address = options.webhook_address;
    eo.webhook = options.webhook;
    eo.source_webhook = options.source_webhook;
    eo.secrets = local_secret_source(options.secrets_dir);
    POETRYOPS_TRY(impl->engine, Engine::create(std::move(eo), *impl->clock));
    impl->options = std::move(options);
    // Local mode has one queue, the next pass: every trigger (a registry push, a commit outcome)
    // wakes it.
    Impl* raw = impl.get();
    impl->engine->set_sink([raw](const Trigger&) { raw->wake(); });
    POETRYOPS_TRY_VOID(impl->engine->start());
    return std::unique_ptr<LocalRunner>(new LocalRunner(std::move(impl)));
}

Result<PassResult> LocalRunner::run_pass() {
    POETRYOPS_LOG(debug, "local pass starts");
    impl_->outcomes_recorded = impl_->engine->notification_outcomes();
    POETRYOPS_TRY(auto apps, load_local_apps(impl_->options.inputs, &impl_->decoded));
    if (!impl_->prefetched) {
        // The first pass (a fresh cache or a restart) reads every app's files; later passes find
        // them in memory, and a prefetch there measured slower (bench_promote_burst), so it happens
        // once.
        impl_->prefetch(apps);
        impl_->prefetched = true;
    }
    PassResult result;
    std::optional<Error> failure;
    // Local mode polls: a source tip is never older than one pass (within it, one ls-refs per
    // repository serves every app).
    if (Ports* ports = impl_->engine->ports()) ports->source()->invalidate_all();
    std::mutex mu;
    auto record = [&](const api::PoetryApp& app, EngineOutcome& out, bool final) {
        // Status files are written in parallel; the rest (and every on_event call) serially.
        Result<void> saved = final ? impl_->save_status(app, out.status) : ok();
        std::lock_guard lock(mu);
        for (const auto& e : out.events) {
            if (impl_->options.on_event) impl_->options.on_event(app, e);
        }
        if (!final) return;
        ++result.apps;
        result.commits += out.committed.size();
        if (out.error) result.errors.push_back(app.key() + ": " + log::redact(out.error->message));
        if (out.timer && (!result.requeue_after || *out.timer < *result.requeue_after)) {
            result.requeue_after = out.timer;
        }
        if (!out.status.building.empty()) ++result.building;
        if (!saved && !failure) failure = saved.error();
        impl_->statuses[app.key()] = out.status;
    };
    // Every app is reconciled without waiting for git: the committers are held while the pass
    // submits, so all of its edits to one repository become one commit and no read waits behind a
    // push. Then the pass waits for the outcomes and records them, so a pass still ends with its
    // promotions in git and in status.
    Engine& engine = *impl_->engine;
    std::vector<char> in_flight(apps.size(), 0);
    struct Held {
        GitRepoPort& port;
        explicit Held(GitRepoPort& p) : port(p) { port.hold(); }
        ~Held() { port.release(); }
    };
    std::optional<Held> held;
    held.emplace(impl_->gitops());
    for_each_parallel(apps.size(), impl_->options.concurrency, [&](std::size_t i) {
        api::PoetryApp& app = apps[i];
        impl_->load_status(app);
        // Local mode polls: a tag list is never older than one pass.
        engine.ports()->artifacts().invalidate(app.spec.image.repository);
        EngineOutcome out = engine.reconcile(app, {});
        if (out.commits_in_flight) {
            app.status = out.status;  // planned: phase Promoting
            in_flight[i] = 1;
        }
        record(app, out, !out.commits_in_flight);
    });
    held.reset();
    engine.wait_for_commits();
    for_each_parallel(apps.size(), impl_->options.concurrency, [&](std::size_t i) {
        if (!in_flight[i]) return;
        EngineOutcome out = engine.reconcile(apps[i], {});
        record(apps[i], out, true);
    });
    if (failure) return *failure;
    std::sort(result.errors.begin(), result.errors.end());
    return result;
}

Result<PassResult> LocalRunner::run_until_settled(int max_passes) {
    PassResult total;
    for (int i = 0; i < max_passes;) {
        {
            std::lock_guard lock(impl_->wake_mu);
            impl_->woken = false;
        }
        POETRYOPS_TRY(PassResult pass, run_pass());
        total.apps = pass.apps;
        total.commits += pass.commits;
        total.errors = pass.errors;
        total.requeue_after = pass.requeue_after;
        total.building = pass.building;
        if (pass.commits > 0) {
            ++i;
            continue;
        }
        if (pass.building == 0) break;
        // A build is running: its end (or any other trigger) wakes the next pass; a pass a minute
        // at the latest, in case a wake-up was missed.
        std::unique_lock lock(impl_->wake_mu);
        impl_->wake_cv.wait_for(lock, std::chrono::minutes(1), [&] { return impl_->woken; });
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

void LocalRunner::set_notifier(notify::Notifier* notifier) {
    impl_->engine->set_notifier(notifier);
    impl_->notifying = notifier != nullptr;
}

void LocalRunner::notification_done(const notify::Outcome& outcome) {
    impl_->engine->notification_done(outcome);  // fires notification_done: wakes run()
}

Result<void> LocalRunner::finish_notifications(std::chrono::milliseconds timeout) {
    if (!impl_->notifying) return ok();
    if (!impl_->engine->wait_for_notifications(timeout)) {
        POETRYOPS_LOG(warn,
                      "notifications still in flight at the end of the run; the next run "
                      "sends them again",
                      {{"waited", api::format_duration(timeout)}});
    }
    // Outcomes are recorded by a reconcile; none came (no app has targets, or nothing to send):
    // no pass needed.
    if (impl_->engine->notification_outcomes() == impl_->outcomes_recorded) return ok();
    POETRYOPS_TRY(PassResult pass, run_pass());
    (void)pass;
    return ok();
}

std::uint16_t LocalRunner::webhook_port() const { return impl_->engine->webhook_port(); }

std::optional<api::PoetryAppStatus> LocalRunner::status_of(const std::string& key) const {
    auto it = impl_->statuses.find(key);
    if (it == impl_->statuses.end()) return std::nullopt;
    return it->second;
}

git::CommitterStats LocalRunner::commit_stats() const { return impl_->gitops().stats(); }

}  // namespace poetryops::controller

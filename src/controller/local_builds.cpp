#include <poetryops/controller/local_builds.hpp>

#include <poetryops/python/project.hpp>
#include <poetryops/registry/reference.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/log.hpp>

namespace poetryops::controller {

namespace fs = std::filesystem;

namespace {

/// Finished builds kept per app (the planner reads the ones status.builds names).
constexpr std::size_t kKeepFinished = 20;

bool finished(build::JobPhase p) {
    return p == build::JobPhase::succeeded || p == build::JobPhase::failed;
}

}  // namespace

LocalBuildPort::LocalBuildPort(LocalBuildOptions options, ProjectExporter exporter)
    : options_(std::move(options)), exporter_(std::move(exporter)) {
    if (options_.max_concurrent < 1) options_.max_concurrent = 1;
}

LocalBuildPort::~LocalBuildPort() {
    std::map<std::string, std::shared_ptr<Build>> all;
    {
        std::lock_guard lock(mu_);
        on_change_ = nullptr;
        all = builds_;
        for (auto& [name, b] : all) b->cancel = true;
    }
    slots_cv_.notify_all();
    for (auto& [name, b] : all)
        if (b->thread.joinable()) b->thread.join();
}

void LocalBuildPort::on_change(std::function<void(const std::string&)> fn) {
    std::lock_guard lock(mu_);
    on_change_ = std::move(fn);
}

Result<std::vector<build::JobObservation>> LocalBuildPort::builds(const api::PoetryApp& app) {
    std::vector<build::JobObservation> out;
    std::lock_guard lock(mu_);
    for (const auto& [name, b] : builds_) {
        if (b->app_key == app.key()) out.push_back(b->observed);
    }
    return out;
}

Result<void> LocalBuildPort::start(const api::PoetryApp& app, const build::Action& action) {
    std::lock_guard lock(mu_);
    if (builds_.count(action.job_name)) return ok();  // already started: not twice
    // Forget the oldest finished builds of this app beyond what status can still name.
    std::vector<std::string> done;
    for (const auto& [name, b] : builds_) {
        if (b->app_key == app.key() && finished(b->observed.phase)) done.push_back(name);
    }
    if (done.size() > kKeepFinished) {
        std::sort(done.begin(), done.end(), [&](const std::string& a, const std::string& b) {
            return builds_[a]->observed.completion_time < builds_[b]->observed.completion_time;
        });
        for (std::size_t i = 0; i + kKeepFinished < done.size(); ++i) {
            auto& b = builds_[done[i]];
            if (b->thread.joinable()) b->thread.join();  // finished: returns at once
            builds_.erase(done[i]);
        }
    }
    auto b = std::make_shared<Build>();
    b->app_key = app.key();
    b->observed.name = action.job_name;
    b->observed.commit = action.commit;
    b->observed.tag = action.tag;
    b->observed.version = action.version;
    b->observed.phase = build::JobPhase::pending;
    b->observed.start_time = std::chrono::system_clock::now();
    builds_[action.job_name] = b;
    b->thread = std::thread([this, b, app, action] { run(b, app, action); });
    return ok();
}

Result<void> LocalBuildPort::cancel(const api::PoetryApp&, const std::string& name) {
    {
        std::lock_guard lock(mu_);
        auto it = builds_.find(name);
        if (it == builds_.end()) return ok();
        it->second->cancel = true;
    }
    slots_cv_.notify_all();
    return ok();
}

void LocalBuildPort::set_phase(Build& b, build::JobPhase phase, std::string digest,
                               std::string reason, std::string message) {
    std::function<void(const std::string&)> fn;
    {
        std::lock_guard lock(mu_);
        b.observed.phase = phase;
        b.observed.digest = std::move(digest);
        b.observed.reason = std::move(reason);
        b.observed.message = log::redact(message);
        if (finished(phase)) b.observed.completion_time = std::chrono::system_clock::now();
        fn = on_change_;
    }
    if (fn) fn(b.app_key);
}

void LocalBuildPort::run(std::shared_ptr<Build> b, api::PoetryApp app, build::Action action) {
    {
        // One slot of --max-concurrent-builds; a build cancelled while it waits never starts.
        std::unique_lock lock(mu_);
        slots_cv_.wait(lock, [&] { return b->cancel || running_ < options_.max_concurrent; });
        if (b->cancel) {
            lock.unlock();
            set_phase(*b, build::JobPhase::failed, {}, "Cancelled", "cancelled before it started");
            return;
        }
        ++running_;
    }
    set_phase(*b, build::JobPhase::running);
    auto digest = build_and_push(*b, app, action);
    {
        std::lock_guard lock(mu_);
        --running_;
    }
    slots_cv_.notify_one();
    if (digest) {
        POETRYOPS_LOG(info, "build succeeded",
                      {{"app", b->app_key}, {"tag", action.tag}, {"digest", *digest}});
        set_phase(*b, build::JobPhase::succeeded, *digest);
    } else {
        POETRYOPS_LOG(
            warn, "build failed",
            {{"app", b->app_key}, {"tag", action.tag}, {"error", digest.error().message}});
        set_phase(*b, build::JobPhase::failed, {},
                  digest.error().reason.empty() ? "BuildFailed" : digest.error().reason,
                  digest.error().message);
    }
}

Result<std::string> LocalBuildPort::build_and_push(Build& b, const api::PoetryApp& app,
                                                   const build::Action& action) {
    std::error_code ec;
    if (!options_.work_dir.empty()) fs::create_directories(options_.work_dir, ec);
    // TempDir puts a relative prefix under $TMPDIR; an absolute one stands on its own.
    TempDir scratch(options_.work_dir.empty()
                        ? std::string("poetryops-build")
                        : (fs::absolute(options_.work_dir, ec) / "build").string());
    POETRYOPS_TRY(fs::path project_dir, exporter_(app, action.commit, scratch.path() / "src"));
    POETRYOPS_TRY(python::Project project, python::load_project(project_dir));

    build::BuildahJob job;
    job.context = project_dir;
    const api::BuildSpec& spec = *app.spec.build;
    if (spec.dockerfile == "generate") {
        dockerfile::GenerateOptions g = options_.generate;
        if (!spec.python.empty()) g.python = spec.python;
        if (!spec.poetry.empty()) g.poetry = spec.poetry;
        POETRYOPS_TRY(auto files, dockerfile::generate(project, g));
        job.dockerfile = std::move(files.dockerfile);
        job.dockerignore = std::move(files.dockerignore);
    } else {
        // Validation keeps spec.build.dockerfile relative and inside the project; check again on
        // the exported files (a symlink must not lead out).
        fs::path path = fs::weakly_canonical(project_dir / spec.dockerfile, ec);
        fs::path root = fs::weakly_canonical(project_dir, ec);
        auto rel = path.lexically_relative(root);
        if (ec || rel.empty() || *rel.begin() == "..") {
            return fail(Error::Kind::invalid,
                        "spec.build.dockerfile: " + spec.dockerfile + " is outside the project",
                        "InvalidDockerfile");
        }
        auto text = read_file(path);
        if (!text) {
            return fail(Error::Kind::invalid,
                        "spec.build.dockerfile: " + spec.dockerfile + ": " + text.error().message,
                        "InvalidDockerfile");
        }
        job.dockerfile = std::move(text).value();
    }
    POETRYOPS_TRY(registry::Reference ref, registry::parse_repository(app.spec.image.repository));
    job.image = ref.name() + ":" + action.tag;
    if (!options_.layout_dir.empty()) {
        job.destination =
            "oci:" + (options_.layout_dir / ref.repository).string() + ":" + action.tag;
        fs::create_directories(options_.layout_dir / ref.repository, ec);
    } else {
        job.destination = "docker://" + job.image;
        job.tls_verify = !options_.plain_http.count(ref.registry);
    }
    job.authfile = options_.authfile;
    job.cancel = &b.cancel;
    std::string app_key = b.app_key;
    job.on_progress = [app_key, tag = action.tag](const std::string& line) {
        POETRYOPS_LOG(info, "build", {{"app", app_key}, {"tag", tag}, {"step", line}});
    };
    POETRYOPS_TRY(build::BuildahOutcome built, build::buildah_build(options_.buildah, job));
    return built.digest;
}

}  // namespace poetryops::controller

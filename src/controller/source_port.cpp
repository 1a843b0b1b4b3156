#include <poetryops/controller/source_port.hpp>

#include <poetryops/python/project.hpp>
#include <poetryops/util/strings.hpp>

#include <algorithm>

namespace poetryops::controller {

namespace {

std::string join(const std::string& dir, const std::string& file) {
    return dir.empty() ? file : dir + "/" + file;
}

/// "a/./b/../c" → "a/c"; nullopt when it climbs out of the repository.
std::optional<std::string> normalize(const std::string& path) {
    std::vector<std::string> parts;
    for (const auto& p : str::split(path, '/')) {
        if (p.empty() || p == ".") continue;
        if (p == "..") {
            if (parts.empty()) return std::nullopt;
            parts.pop_back();
            continue;
        }
        parts.push_back(p);
    }
    return str::join(parts, "/");
}

}  // namespace

std::string source_dir(const api::SourceSpec& source) {
    return normalize(source.path).value_or(std::string());
}

std::vector<std::string> project_prefixes(const std::string& dir,
                                          const std::vector<python::PathDependency>& deps) {
    std::vector<std::string> out = {dir};
    for (const auto& d : deps) {
        if (auto p = normalize(join(dir, d.path))) out.push_back(*p);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

GitSourcePort::GitSourcePort(git::RepoCache& cache, RemoteResolver resolver,
                             std::chrono::milliseconds tips_ttl)
    : cache_(cache), resolver_(std::move(resolver)), tips_ttl_(tips_ttl) {}

Result<std::shared_ptr<git::Repo>> GitSourcePort::repo_for(const api::PoetryApp& app) {
    POETRYOPS_TRY(git::Remote remote, resolver_(app));
    std::string id = git::remote_identity(remote);
    {
        std::lock_guard lock(mu_);
        if (auto it = repos_.find(id); it != repos_.end()) return it->second;
    }
    POETRYOPS_TRY(std::shared_ptr<git::Repo> repo, cache_.open(remote));
    std::lock_guard lock(mu_);
    return repos_.try_emplace(id, repo).first->second;
}

Result<std::string> GitSourcePort::tip(const std::shared_ptr<git::Repo>& repo,
                                       const std::string& ref) {
    const std::string key = git::remote_identity(repo->remote()) + "\n" + ref;
    const auto now = std::chrono::steady_clock::now();
    std::map<std::string, std::string> tips;
    bool fresh = false;
    {
        std::lock_guard lock(mu_);
        if (auto it = tips_.find(key); it != tips_.end() && now - it->second.at < tips_ttl_) {
            tips = it->second.tips;
            fresh = true;
        }
    }
    if (!fresh) {
        POETRYOPS_TRY(tips, repo->remote_tips({"refs/heads/" + ref, "refs/tags/" + ref}));
        std::lock_guard lock(mu_);
        tips_[key] = Tips{now, tips};
    }
    for (const char* kind : {"refs/heads/", "refs/tags/"}) {
        if (auto it = tips.find(kind + ref); it != tips.end()) return it->second;
    }
    return fail(Error::Kind::not_found,
                "spec.source.ref: " + repo->remote().url + " has no branch or tag " + ref,
                "RefNotFound");
}

void GitSourcePort::invalidate(const std::vector<std::string>& urls) {
    std::lock_guard lock(mu_);
    for (const auto& [id, repo] : repos_) {
        if (!git::names_repository(urls, repo->remote().url)) continue;
        std::erase_if(tips_, [&](const auto& kv) { return kv.first.rfind(id + "\n", 0) == 0; });
    }
}

void GitSourcePort::invalidate_all() {
    std::lock_guard lock(mu_);
    tips_.clear();
}

Result<SourceObservation> GitSourcePort::observe(const api::PoetryApp& app,
                                                 const std::string& since) {
    if (!app.spec.source) return fail(Error::Kind::invalid, "spec.source: not set");
    const api::SourceSpec& source = *app.spec.source;
    POETRYOPS_TRY(auto repo, repo_for(app));
    SourceObservation obs;
    POETRYOPS_TRY(obs.head.sha, tip(repo, source.ref));
    POETRYOPS_TRY_VOID(repo->fetch_commit(obs.head.sha));
    const std::string dir = source_dir(source);
    const std::string pyproject_path = join(dir, "pyproject.toml");
    POETRYOPS_TRY(auto files,
                  repo->read_files(obs.head.sha, {pyproject_path, join(dir, "poetry.lock")}));
    std::vector<python::PathDependency> deps;
    if (!files[0]) {
        obs.project.pyproject_found = false;
    } else {
        std::optional<std::string_view> lock;
        if (files[1]) lock = *files[1];
        auto project = python::parse_project(*files[0], lock, dir.empty() ? "." : dir);
        if (!project) {
            obs.project.pyproject_problem = project.error().message;
        } else {
            obs.project.version = project->version_text;
            obs.project.requires_python = project->requires_python;
            deps = project->path_dependencies;
            const std::string poetry = app.spec.build ? app.spec.build->poetry : std::string();
            if (auto fresh = python::check_lock_fresh(*project, poetry); !fresh) {
                obs.project.lock_problem = fresh.error().message;
            }
        }
    }
    // The monorepo rule: a commit counts when it changed the project or what it depends on since
    // the last commit built. A `since` the server no longer has (a force push) counts as changed.
    if (!since.empty() && since != obs.head.sha && repo->fetch_commit(since)) {
        auto changed = repo->changed_paths(since, obs.head.sha, project_prefixes(dir, deps));
        if (changed) obs.head.touches_project = !changed->empty();
    }
    return obs;
}

Result<std::filesystem::path> GitSourcePort::export_project(const api::PoetryApp& app,
                                                            const std::string& commit,
                                                            const std::filesystem::path& dest) {
    if (!app.spec.source) return fail(Error::Kind::invalid, "spec.source: not set");
    POETRYOPS_TRY(auto repo, repo_for(app));
    POETRYOPS_TRY_VOID(repo->fetch_commit(commit));
    const std::string dir = source_dir(*app.spec.source);
    const std::string pyproject_path = join(dir, "pyproject.toml");
    POETRYOPS_TRY(auto files, repo->read_files(commit, {pyproject_path}));
    if (!files[0]) {
        return fail(Error::Kind::not_found,
                    pyproject_path + ": no such file at commit " + commit.substr(0, 12),
                    "ProjectNotFound");
    }
    POETRYOPS_TRY(python::Project project, python::parse_pyproject(*files[0], pyproject_path));
    // Each folder once: one below another comes with it.
    std::vector<std::string> prefixes = project_prefixes(dir, project.path_dependencies);
    std::vector<std::string> roots;
    for (const auto& p : prefixes) {
        bool covered = std::any_of(roots.begin(), roots.end(), [&](const std::string& r) {
            return r.empty() || p == r || p.rfind(r + "/", 0) == 0;
        });
        if (!covered) roots.push_back(p);
    }
    for (const auto& r : roots) {
        auto exported = repo->export_tree(commit, r, r.empty() ? dest : dest / r);
        if (!exported) return exported.error();
    }
    return dir.empty() ? dest : dest / dir;
}

}  // namespace poetryops::controller

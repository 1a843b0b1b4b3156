#include <poetryops/controller/git_port.hpp>

#include <poetryops/promote/trailers.hpp>

namespace poetryops::controller {

GitRepoPort::GitRepoPort(git::RepoCache& cache, RemoteResolver resolver,
                         git::CommitterOptions options)
    : cache_(cache), resolver_(std::move(resolver)), options_(std::move(options)) {}

GitRepoPort::~GitRepoPort() {
    // Committers finish their queued requests before the clones go away.
    std::lock_guard lock(mu_);
    for (auto& [id, e] : entries_) e.committers.clear();
}

Result<std::shared_ptr<git::Repo>> GitRepoPort::repo_for(const api::PoetryApp& app) {
    POETRYOPS_TRY(git::Remote remote, resolver_(app));
    std::string id = git::remote_identity(remote);
    {
        std::lock_guard lock(mu_);
        if (auto it = entries_.find(id); it != entries_.end()) return it->second.repo;
    }
    POETRYOPS_TRY(std::shared_ptr<git::Repo> repo, cache_.open(remote));
    std::lock_guard lock(mu_);
    auto [it, inserted] = entries_.try_emplace(id);
    if (inserted) it->second.repo = repo;
    return it->second.repo;
}

Result<std::string> GitRepoPort::fetch_shared(const std::shared_ptr<git::Repo>& repo,
                                              const std::string& branch) {
    std::shared_ptr<FetchState> st;
    {
        std::lock_guard lock(mu_);
        auto& slot = fetches_[git::remote_identity(repo->remote()) + "\n" + branch];
        if (!slot) slot = std::make_shared<FetchState>();
        st = slot;
    }
    auto arrived = fresh_since();
    std::unique_lock lk(st->mu);
    for (;;) {
        if (st->has_result && st->started >= arrived) return st->result;
        if (!st->running) break;
        st->cv.wait(lk);
    }
    st->running = true;
    auto started = std::chrono::steady_clock::now();
    lk.unlock();
    auto r = repo->fetch(branch);
    lk.lock();
    st->running = false;
    st->has_result = true;
    st->started = started;
    st->result = r;
    st->cv.notify_all();
    return r;
}

Result<GitSnapshot> GitRepoPort::read_files(const api::PoetryApp& app,
                                            const std::vector<std::string>& paths) {
    const api::GitOpsSpec& gitops = app.spec.gitops;
    POETRYOPS_TRY(auto repo, repo_for(app));
    GitSnapshot snap;
    POETRYOPS_TRY(snap.commit, fetch_shared(repo, gitops.branch));
    POETRYOPS_TRY(snap.files, repo->read_files(snap.commit, paths));
    return snap;
}

Result<std::string> GitRepoPort::find_promotion(const api::PoetryApp& app,
                                                const std::string& trailer) {
    const api::GitOpsSpec& gitops = app.spec.gitops;
    POETRYOPS_TRY(auto repo, repo_for(app));
    POETRYOPS_TRY(auto found,
                  repo->find_commits_by_trailer(
                      gitops.branch, std::string(promote::kPromotionTrailer), trailer, 500));
    return found.empty() ? std::string() : found.front().sha;
}

Result<std::optional<git::FoundCommit>> GitRepoPort::find_trailer(const api::PoetryApp& app,
                                                                  std::string_view key,
                                                                  const std::string& prefix) {
    const api::GitOpsSpec& gitops = app.spec.gitops;
    POETRYOPS_TRY(auto repo, repo_for(app));
    POETRYOPS_TRY(auto found, repo->find_commits_by_trailer(gitops.branch, std::string(key), prefix,
                                                            500, git::Repo::TrailerMatch::prefix));
    if (found.empty()) return std::optional<git::FoundCommit>();
    return std::optional<git::FoundCommit>(std::move(found.front()));
}

Result<bool> GitRepoPort::contains(const api::PoetryApp& app, const std::string& commit,
                                   const std::string& revision) {
    if (commit == revision) return true;
    const api::GitOpsSpec& gitops = app.spec.gitops;
    POETRYOPS_TRY(auto repo, repo_for(app));
    auto known = repo->is_ancestor(commit, revision);
    if (known || known.error().kind != Error::Kind::not_found) return known;
    // A revision the clone has not seen yet (the cluster synced something newer): fetch and ask
    // once more.
    POETRYOPS_TRY_VOID(repo->fetch(gitops.branch));
    auto again = repo->is_ancestor(commit, revision);
    if (!again && again.error().kind == Error::Kind::not_found) return false;
    return again;
}

std::future<Result<git::EditOutcome>> GitRepoPort::submit(const api::PoetryApp& app,
                                                          git::EditRequest request) {
    const api::GitOpsSpec& gitops = app.spec.gitops;
    auto repo = repo_for(app);
    if (!repo) {
        std::promise<Result<git::EditOutcome>> p;
        p.set_value(repo.error());
        if (request.on_done) request.on_done();
        return p.get_future();
    }
    git::Committer* committer = nullptr;
    {
        std::lock_guard lock(mu_);
        std::string id = git::remote_identity((*repo)->remote());
        Entry& e = entries_[id];
        auto& c = e.committers[gitops.branch];
        if (!c) {
            git::CommitterOptions o = options_;
            o.branch = gitops.branch;
            c = std::make_unique<git::Committer>(*repo, o);
            for (int i = 0; i < holds_; ++i) c->hold();
        }
        committer = c.get();
    }
    return committer->submit(std::move(request));
}

std::chrono::steady_clock::time_point GitRepoPort::fresh_since() const {
    std::lock_guard lock(mu_);
    return holds_ > 0 ? held_since_ : std::chrono::steady_clock::now();
}

void GitRepoPort::hold() {
    std::lock_guard lock(mu_);
    if (holds_++ == 0) held_since_ = std::chrono::steady_clock::now();
    for (auto& [id, e] : entries_) {
        for (auto& [branch, c] : e.committers) c->hold();
    }
}

void GitRepoPort::release() {
    std::lock_guard lock(mu_);
    if (holds_ == 0) return;
    --holds_;
    for (auto& [id, e] : entries_) {
        for (auto& [branch, c] : e.committers) c->release();
    }
}

git::CommitterStats GitRepoPort::stats() const {
    std::lock_guard lock(mu_);
    git::CommitterStats total;
    for (const auto& [id, e] : entries_) {
        for (const auto& [branch, c] : e.committers) {
            auto s = c->stats();
            total.batches += s.batches;
            total.commits += s.commits;
            total.pushes += s.pushes;
            total.conflicts += s.conflicts;
        }
    }
    return total;
}

}  // namespace poetryops::controller

#include <poetryops/git/repo.hpp>

#include "git/detail/blob_batcher.hpp"
#include "git/detail/cat_file.hpp"
#include "git/detail/objects.hpp"
#include "git/detail/runner.hpp"
#include "git/detail/smart_http.hpp"

#include <poetryops/util/fs.hpp>
#include <poetryops/util/log.hpp>
#include <poetryops/util/strings.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <set>

namespace poetryops::git {

using detail::Tree;
using detail::TreeEntry;

RepoLock::RepoLock(Repo& repo) : repo_(&repo) {
    repo.mu_.lock();
    if (repo.lock_depth_++ == 0) {
        repo.lock_fd_ = ::open(repo.lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (repo.lock_fd_ >= 0) {
            while (::flock(repo.lock_fd_, LOCK_EX) != 0 && errno == EINTR) {
            }
        } else {
            POETRYOPS_LOG(warn, "cannot open git cache lock file; relying on the in-process lock",
                          {{"path", repo.lock_path_.string()}});
        }
    }
}

RepoLock::RepoLock(RepoLock&& other) noexcept : repo_(other.repo_) { other.repo_ = nullptr; }

RepoLock::~RepoLock() {
    if (!repo_) return;
    if (--repo_->lock_depth_ == 0 && repo_->lock_fd_ >= 0) {
        ::flock(repo_->lock_fd_, LOCK_UN);
        ::close(repo_->lock_fd_);
        repo_->lock_fd_ = -1;
    }
    repo_->mu_.unlock();
}

Repo::Repo(Remote remote, std::filesystem::path git_dir, std::filesystem::path lock_path,
           std::shared_ptr<TempDir> private_dir)
    : remote_(std::move(remote)),
      display_url_(display_url(remote_.url)),
      git_dir_(std::move(git_dir)),
      lock_path_(std::move(lock_path)),
      private_dir_(std::move(private_dir)),
      runner_(std::make_unique<detail::Runner>(remote_, git_dir_, private_dir_->path())),
      objects_(std::make_unique<detail::ObjectCache>()),
      cat_file_(std::make_unique<detail::CatFile>(*runner_)),
      batcher_(std::make_unique<detail::BlobBatcher>()) {}

Repo::~Repo() = default;

RepoLock Repo::lock() { return RepoLock(*this); }

std::size_t Repo::git_calls() const { return runner_->calls(); }
long long Repo::git_ms() const { return runner_->total_ms(); }
long long Repo::push_ms() const { return runner_->push_ms(); }

Result<void> Repo::ensure_initialized() {
    auto guard = lock();
    // RepoCache::open() calls this for every caller; once is enough for one handle (a controller's
    // first pass opens the clone from every worker at once, and each check used to start git under
    // the lock).
    if (initialized_) return ok();
    std::error_code ec;
    if (std::filesystem::exists(git_dir_ / "poetryops-ready", ec)) {
        POETRYOPS_TRY(ProcessResult fmt,
                      runner_->run_ok("inspect clone of", {"rev-parse", "--show-object-format"}));
        hash_size_ = str::trim(fmt.out) == "sha256" ? 32 : 20;
        start_fast_path();
        initialized_ = true;
        return ok();
    }
    // A half-initialised clone (a crash during init) is thrown away and made again.
    std::filesystem::remove_all(git_dir_, ec);
    detail::Runner init(remote_, {}, private_dir_->path());
    POETRYOPS_TRY_VOID(init.run_ok("create clone of", {"-c", "init.defaultBranch=main", "init",
                                                       "--bare", "-q", git_dir_.string()}));
    const std::vector<std::pair<std::string, std::string>> settings = {
        {"core.repositoryformatversion", "1"},
        {"extensions.partialClone", "origin"},
        {"remote.origin.url", remote_.url},
        {"remote.origin.promisor", "true"},
        {"remote.origin.partialclonefilter", "blob:none"},
        {"gc.autoDetach", "false"},
        {"core.logAllRefUpdates", "false"},
    };
    for (const auto& [k, v] : settings) {
        POETRYOPS_TRY_VOID(runner_->run_ok("configure clone of", {"config", k, v}));
    }
    POETRYOPS_TRY_VOID(write_file_atomic(git_dir_ / "poetryops-ready", "1\n"));
    hash_size_ = 20;
    start_fast_path();
    initialized_ = true;
    return ok();
}

void Repo::start_fast_path() {
    if (smart_ || hash_size_ != 20 || !detail::SmartHttp::applies(remote_)) return;
    auto s = detail::SmartHttp::create(remote_);
    if (!s) {
        POETRYOPS_LOG(warn,
                      "in-process git transport unavailable; using git for every fetch and push",
                      {{"repo", display_url_}, {"error", runner_->scrub(s.error().message)}});
        return;
    }
    smart_ = std::move(s).value();
}

Result<std::string> Repo::fetch(const std::string& branch) {
    if (!valid_branch_name(branch)) {
        return fail(Error::Kind::invalid,
                    "git " + display_url_ + ": invalid branch name '" + branch + "'",
                    "InvalidBranch");
    }
    auto guard = lock();
    if (smart_) {
        // The common case of an event-driven pass: nothing moved since our last fetch or push. One
        // small request instead of a fetch; when the branch moved (or the server cannot say), git
        // fetches as usual. (Asked under the lock: asked before it, the answer often predates a
        // push of ours and costs a needless fetch — measured.)
        auto t0 = std::chrono::steady_clock::now();
        auto remote_tip = smart_->branch_tip(branch);
        POETRYOPS_LOG(debug, "git ref check",
                      {{"repo", display_url_},
                       {"branch", branch},
                       {"ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 std::chrono::steady_clock::now() - t0)
                                                 .count())}});
        if (remote_tip && *remote_tip) {
            auto mine = local_tip(branch);
            if (mine && *mine == **remote_tip) {
                ++fast_fetches_;
                return *mine;
            }
        }
    }
    POETRYOPS_TRY_VOID(
        runner_->run_ok("fetch branch '" + branch + "' from",
                        {"fetch", "--no-tags", "--no-write-fetch-head", "--filter=blob:none",
                         "origin", "+refs/heads/" + branch + ":refs/remotes/origin/" + branch}));
    return local_tip(branch);
}

Result<std::string> Repo::local_tip(const std::string& branch) {
    if (!valid_branch_name(branch)) {
        return fail(Error::Kind::invalid,
                    "git " + display_url_ + ": invalid branch name '" + branch + "'",
                    "InvalidBranch");
    }
    auto guard = lock();
    // Read in-process (a loose ref wins over packed-refs, as in git): the remote-tracking refs of
    // this clone are only ever written by fetch, by push and by set_tracking_ref(), all under the
    // repo lock.
    const std::string ref = "refs/remotes/origin/" + branch;
    std::string sha;
    if (auto loose = read_file(git_dir_ / ref); loose) {
        sha = std::string(str::trim(*loose));
    } else if (auto packed = read_file(git_dir_ / "packed-refs"); packed) {
        for (const auto& line : str::split(*packed, '\n')) {
            std::string_view l = str::trim(line);
            auto sp = l.find(' ');
            if (sp != std::string_view::npos && l.substr(sp + 1) == ref) {
                sha = std::string(l.substr(0, sp));
                break;
            }
        }
    }
    if (!detail::is_object_id(sha)) {
        return fail(Error::Kind::not_found,
                    "git " + display_url_ + ": branch '" + branch + "' has not been fetched",
                    "BranchNotFound");
    }
    return sha;
}

Result<void> Repo::set_tracking_ref(const std::string& branch, const std::string& commit) {
    auto guard = lock();
    const std::string ref = "refs/remotes/origin/" + branch;
    auto path = git_dir_ / ref;
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    // git's protocol: create REF.lock exclusively, write, rename over REF. A leftover lock (a
    // crashed git) is git's business: let `git update-ref` report it.
    std::string lock_path = path.string() + ".lock";
    int fd = ::open(lock_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
        std::string line = commit + "\n";
        bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
        ::close(fd);
        if (written && ::rename(lock_path.c_str(), path.c_str()) == 0) return ok();
        ::unlink(lock_path.c_str());
    }
    POETRYOPS_TRY_VOID(
        runner_->run_ok("record pushed commit in clone of", {"update-ref", ref, commit}));
    return ok();
}

namespace {

struct Resolved {
    std::vector<std::string> dirs;   ///< "" (root), "a", "a/b" for "a/b/c"
    std::string name;                ///< "c"
    std::optional<TreeEntry> entry;  ///< the file's entry when it exists
};

std::vector<std::string> dir_prefixes(const std::string& path) {
    std::vector<std::string> dirs = {""};
    for (std::size_t p = path.find('/'); p != std::string::npos; p = path.find('/', p + 1)) {
        dirs.push_back(path.substr(0, p));
    }
    return dirs;
}

/// Walks `path` through the loaded trees: refuses symlinks and non-directories on the way, and a
/// final entry that is not a regular file.
Result<Resolved> resolve(const std::map<std::string, detail::SharedTree>& trees,
                         const std::string& path, const std::string& repo) {
    Resolved r;
    r.dirs = dir_prefixes(path);
    r.name = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
    auto bad = [&](const std::string& what) {
        return fail(Error::Kind::invalid, "git " + repo + ": path '" + path + "': " + what,
                    "InvalidPath");
    };
    for (std::size_t i = 0; i < r.dirs.size(); ++i) {
        auto t = trees.find(r.dirs[i]);
        if (t == trees.end())
            return r;  // this directory does not exist yet: a new file in new folders
        std::string child = i + 1 < r.dirs.size() ? r.dirs[i + 1] : path;
        std::string child_name = child.substr(r.dirs[i].empty() ? 0 : r.dirs[i].size() + 1);
        auto e = t->second->find(child_name);
        if (e == t->second->end()) return r;
        bool last = i + 1 == r.dirs.size();
        if (e->second.is_symlink()) {
            return bad("'" + child +
                       "' is a symbolic link; paths through or to symlinks are refused");
        }
        if (e->second.is_gitlink()) return bad("'" + child + "' is a submodule");
        if (!last && !e->second.is_tree()) return bad("'" + child + "' is a file, not a directory");
        if (last) {
            if (e->second.is_tree()) return bad("it is a directory");
            r.entry = e->second;
        }
    }
    return r;
}

}  // namespace

Result<std::map<std::string, detail::SharedTree>> Repo::load_trees(
    const std::string& commit, const std::vector<std::string>& paths) {
    // Level by level from the root, each tree by its id: from the object cache (a commit this
    // process wrote or read before), else one cat-file request per level for all the trees missing
    // at that level. Never "COMMIT:PATH": when PATH is a symlink git would look for the link's
    // blob, which a partial clone does not hold.
    std::vector<std::set<std::string>> levels(1, std::set<std::string>{""});
    for (const auto& p : paths) {
        auto dirs = dir_prefixes(p);
        if (levels.size() < dirs.size()) levels.resize(dirs.size());
        for (std::size_t depth = 1; depth < dirs.size(); ++depth)
            levels[depth].insert(std::move(dirs[depth]));
    }
    std::map<std::string, detail::SharedTree> trees;
    // The parsed tree of `oid` whose raw bytes are `raw`: parsed once, then shared.
    auto parsed = [&](const std::string& oid,
                      const std::string& raw) -> Result<detail::SharedTree> {
        if (auto t = objects_->parsed_tree(oid)) return t;
        POETRYOPS_TRY(Tree t, detail::parse_tree(raw, hash_size_));
        auto shared = std::make_shared<const Tree>(std::move(t));
        objects_->put_parsed_tree(oid, shared);
        return detail::SharedTree(shared);
    };
    auto root = objects_->tree_of(commit);
    if (!root) {
        std::vector<detail::BatchObject> answer;
        POETRYOPS_TRY_VOID(cat_file({commit + "^{tree}"}, answer));
        if (answer.front().missing || answer.front().type != "tree") {
            return fail(Error::Kind::not_found,
                        "git " + display_url_ + ": commit " + commit + " not found in the clone",
                        "CommitNotFound");
        }
        objects_->put_tree_of(commit, answer.front().oid);
        objects_->put(answer.front().oid, answer.front().content);
        POETRYOPS_TRY(auto t, parsed(answer.front().oid, answer.front().content));
        trees.emplace("", std::move(t));
        root = answer.front().oid;
    }
    for (std::size_t depth = 0; depth < levels.size(); ++depth) {
        std::vector<std::pair<std::string, std::string>> wanted;  // (dir, tree id) not in the cache
        for (const auto& d : levels[depth]) {
            if (trees.count(d)) continue;
            std::string oid;
            if (d.empty()) {
                oid = *root;
            } else {
                auto slash = d.rfind('/');
                std::string parent =
                    slash == std::string::npos ? std::string() : d.substr(0, slash);
                auto pt = trees.find(parent);
                if (pt == trees.end())
                    continue;  // the parent does not exist, so neither does this one
                auto e = pt->second->find(d.substr(slash == std::string::npos ? 0 : slash + 1));
                if (e == pt->second->end() || !e->second.is_tree())
                    continue;  // resolve() judges what it is
                oid = e->second.oid;
            }
            if (const std::string* raw = objects_->get(oid)) {
                POETRYOPS_TRY(auto t, parsed(oid, *raw));
                trees.emplace(d, std::move(t));
            } else {
                wanted.emplace_back(d, oid);
            }
        }
        if (wanted.empty()) continue;
        std::vector<std::string> names;
        for (const auto& w : wanted) names.push_back(w.second);
        std::vector<detail::BatchObject> objects;
        POETRYOPS_TRY_VOID(cat_file(names, objects));
        for (std::size_t k = 0; k < wanted.size(); ++k) {
            if (objects[k].missing || objects[k].type != "tree") {
                return fail(Error::Kind::internal,
                            "git " + display_url_ + ": tree of '" + wanted[k].first + "' at " +
                                commit + " is not in the clone",
                            "MissingTree");
            }
            objects_->put(wanted[k].second, objects[k].content);
            POETRYOPS_TRY(auto t, parsed(wanted[k].second, objects[k].content));
            trees.emplace(wanted[k].first, std::move(t));
        }
    }
    return trees;
}

Result<std::map<std::string, Tree>> Repo::load_dirs(const std::string& commit,
                                                    const std::vector<std::string>& paths) {
    POETRYOPS_TRY(auto shared, load_trees(commit, paths));
    std::map<std::string, Tree> trees;
    for (auto& [dir, tree] : shared) trees.emplace(dir, *tree);
    return trees;
}

Result<std::vector<std::string>> Repo::ensure_blobs(const std::vector<std::string>& oids) {
    std::vector<std::string> wanted;
    for (const auto& o : oids) {
        if (!present_blobs_.count(o)) wanted.push_back(o);
    }
    if (wanted.empty()) return oids;
    // Objects already present are found locally and nothing goes over the network; missing ones
    // come in one request (what git's own lazy fetch does, but for all of them at once instead of
    // one round trip each).
    std::string input;
    for (const auto& o : wanted) input += o + "\n";
    POETRYOPS_TRY_VOID(runner_->run_ok(
        "fetch files from",
        {"-c", "fetch.negotiationAlgorithm=noop", "fetch", "origin", "--no-tags",
         "--no-write-fetch-head", "--recurse-submodules=no", "--filter=blob:none", "--stdin"},
        input));
    if (present_blobs_.size() > 100000) present_blobs_.clear();
    present_blobs_.insert(wanted.begin(), wanted.end());
    return oids;
}

Result<void> Repo::cat_file(const std::vector<std::string>& names,
                            std::vector<detail::BatchObject>& answers) {
    auto guard = lock();
    auto r = cat_file_->batch(names, answers);
    // Killed or crashed (or, for a blob id, git refusing to fetch it lazily): ask a fresh process
    // once more, from the first unanswered name on. A timeout or a git that cannot start is final.
    if (r || r.error().kind != Error::Kind::internal || answers.size() >= names.size()) return r;
    POETRYOPS_LOG(debug, "git cat-file exited; starting another",
                  {{"repo", display_url_}, {"error", r.error().message}});
    std::vector<std::string> rest(names.begin() + static_cast<std::ptrdiff_t>(answers.size()),
                                  names.end());
    std::vector<detail::BatchObject> more;
    auto again = cat_file_->batch(rest, more);
    for (auto& o : more) answers.push_back(std::move(o));
    return again;
}

Result<std::vector<std::string>> Repo::read_blobs(const std::vector<std::string>& oids,
                                                  const std::vector<std::string>& paths) {
    auto guard = lock();
    std::vector<std::string> out(oids.size());
    std::vector<std::size_t> todo;
    for (std::size_t k = 0; k < oids.size(); ++k) {
        if (const std::string* cached = objects_->get(oids[k])) {
            out[k] = *cached;
        } else {
            todo.push_back(k);
        }
    }
    auto missing_blob = [&](std::size_t k) {
        present_blobs_
            .clear();  // e.g. pruned by gc since we saw it: ask the server again next time
        return fail(Error::Kind::internal,
                    "git " + display_url_ + ": file '" + paths[k] + "' could not be fetched",
                    "MissingBlob");
    };
    for (int attempt = 0; !todo.empty(); ++attempt) {
        std::vector<std::string> names;
        for (auto k : todo) names.push_back(oids[k]);
        std::vector<detail::BatchObject> answers;
        auto r = cat_file(names, answers);
        for (std::size_t a = 0; a < answers.size(); ++a) {
            std::size_t k = todo[a];
            if (answers[a].missing || answers[a].type != "blob") return missing_blob(k);
            objects_->put(oids[k], answers[a].content);
            out[k] = std::move(answers[a].content);
        }
        if (r) break;
        if (r.error().kind != Error::Kind::internal) return fail(std::move(r).error());
        todo.erase(todo.begin(), todo.begin() + static_cast<std::ptrdiff_t>(answers.size()));
        // Twice in a row git exited at the same blob: it is not in the clone after all. Fetch it
        // once more.
        if (attempt > 0) return missing_blob(todo.front());
        for (auto k : todo) present_blobs_.erase(oids[k]);
        std::vector<std::string> again;
        for (auto k : todo) again.push_back(oids[k]);
        POETRYOPS_TRY_VOID(ensure_blobs(again));
    }
    return out;
}

Result<std::vector<std::optional<std::string>>> Repo::read_files(
    const std::string& commit, const std::vector<std::string>& paths) {
    if (!detail::is_object_id(commit)) {
        return fail(Error::Kind::invalid, "git " + display_url_ + ": not a commit id: " + commit,
                    "InvalidCommit");
    }
    for (const auto& p : paths) {
        if (auto v = validate_repo_path(p); !v) {
            Error e = std::move(v).error();
            e.message = "git " + display_url_ + ": " + e.message;
            return fail(std::move(e));
        }
    }
    std::vector<std::optional<std::string>> out(paths.size());
    if (paths.empty()) return out;
    // Until it knows which blobs it misses, this reader holds back a blob fetch another reader is
    // about to start.
    detail::BlobBatcher::Reading reading(*batcher_);
    std::vector<std::string> oids, oid_paths;
    std::vector<std::size_t> index;
    std::shared_ptr<detail::BlobBatcher::Batch> batch;
    {
        auto guard = lock();
        // A caller already holding the lock (a committer, read_file_at_branch) cannot wait for
        // another thread's fetch, which needs the lock: it fetches what it misses itself.
        const bool nested = lock_depth_ > 1;
        POETRYOPS_TRY(auto trees, load_trees(commit, paths));
        for (std::size_t i = 0; i < paths.size(); ++i) {
            POETRYOPS_TRY(Resolved r, resolve(trees, paths[i], display_url_));
            if (r.entry) {
                oids.push_back(r.entry->oid);
                oid_paths.push_back(paths[i]);
                index.push_back(i);
            }
        }
        // Blobs this process already holds (it wrote or read them) or knows to be in the clone need
        // no fetch.
        std::vector<std::string> missing;
        for (const auto& o : oids) {
            if (!objects_->get(o) && !present_blobs_.count(o)) missing.push_back(o);
        }
        if (!missing.empty() && nested) {
            POETRYOPS_TRY_VOID(ensure_blobs(missing));
            missing.clear();
        }
        if (missing.empty()) {
            POETRYOPS_TRY(auto contents, read_blobs(oids, oid_paths));
            for (std::size_t k = 0; k < oids.size(); ++k) out[index[k]] = std::move(contents[k]);
            return out;
        }
        batch = batcher_->join(missing);
    }
    reading.done();
    // One `git fetch --stdin` for every reader that registered by the time the leader holds the
    // lock.
    POETRYOPS_TRY_VOID(
        batcher_->wait(batch, [this](const detail::BlobBatcher::Collect& collect) -> Result<void> {
            auto guard = lock();
            POETRYOPS_TRY_VOID(ensure_blobs(collect()));
            return ok();
        }));
    POETRYOPS_TRY(auto contents, read_blobs(oids, oid_paths));
    for (std::size_t k = 0; k < oids.size(); ++k) out[index[k]] = std::move(contents[k]);
    return out;
}

Result<std::optional<std::string>> Repo::read_file_at_branch(const std::string& branch,
                                                             const std::string& path) {
    auto guard = lock();
    POETRYOPS_TRY(std::string tip, fetch(branch));
    POETRYOPS_TRY(auto files, read_files(tip, {path}));
    return std::move(files.front());
}

}  // namespace poetryops::git

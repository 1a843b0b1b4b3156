#include <poetryops/git/repo.hpp>

#include "git/detail/objects.hpp"
#include "git/detail/runner.hpp"

#include <poetryops/util/fs.hpp>
#include <poetryops/util/log.hpp>
#include <poetryops/util/strings.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
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
      runner_(std::make_unique<detail::Runner>(remote_, git_dir_, private_dir_->path())) {}

Repo::~Repo() = default;

RepoLock Repo::lock() { return RepoLock(*this); }

std::size_t Repo::git_calls() const { return runner_->calls(); }
long long Repo::git_ms() const { return runner_->total_ms(); }
long long Repo::push_ms() const { return runner_->push_ms(); }

Result<void> Repo::ensure_initialized() {
    auto guard = lock();
    std::error_code ec;
    if (std::filesystem::exists(git_dir_ / "poetryops-ready", ec)) {
        POETRYOPS_TRY(ProcessResult fmt, runner_->run_ok("inspect clone of", {"rev-parse", "--show-object-format"}));
        hash_size_ = str::trim(fmt.out) == "sha256" ? 32 : 20;
        return ok();
    }
    // A half-initialised clone (a crash during init) is thrown away and made again.
    std::filesystem::remove_all(git_dir_, ec);
    detail::Runner init(remote_, {}, private_dir_->path());
    POETRYOPS_TRY_VOID(init.run_ok("create clone of", {"-c", "init.defaultBranch=main", "init", "--bare", "-q",
                                                       git_dir_.string()}));
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
    return ok();
}

Result<std::string> Repo::fetch(const std::string& branch) {
    if (!valid_branch_name(branch)) {
        return fail(Error::Kind::invalid, "git " + display_url_ + ": invalid branch name '" + branch + "'",
                    "InvalidBranch");
    }
    auto guard = lock();
    POETRYOPS_TRY_VOID(runner_->run_ok("fetch branch '" + branch + "' from",
                                       {"fetch", "--no-tags", "--no-write-fetch-head", "--filter=blob:none", "origin",
                                        "+refs/heads/" + branch + ":refs/remotes/origin/" + branch}));
    return local_tip(branch);
}

Result<std::string> Repo::local_tip(const std::string& branch) {
    auto guard = lock();
    POETRYOPS_TRY(ProcessResult r, runner_->run({"rev-parse", "-q", "--verify",
                                                 "refs/remotes/origin/" + branch + "^{commit}"}));
    std::string sha(str::trim(r.out));
    if (!r.ok() || !detail::is_object_id(sha)) {
        return fail(Error::Kind::not_found, "git " + display_url_ + ": branch '" + branch + "' has not been fetched",
                    "BranchNotFound");
    }
    return sha;
}

namespace {

struct Resolved {
    std::vector<std::string> dirs;  ///< "" (root), "a", "a/b" for "a/b/c"
    std::string name;               ///< "c"
    std::optional<TreeEntry> entry; ///< the file's entry when it exists
};

std::vector<std::string> dir_prefixes(const std::string& path) {
    std::vector<std::string> dirs = {""};
    for (std::size_t p = path.find('/'); p != std::string::npos; p = path.find('/', p + 1)) {
        dirs.push_back(path.substr(0, p));
    }
    return dirs;
}

/// Walks `path` through the loaded trees: refuses symlinks and non-directories on the way, and a final entry that is
/// not a regular file.
Result<Resolved> resolve(const std::map<std::string, Tree>& trees, const std::string& path, const std::string& repo) {
    Resolved r;
    r.dirs = dir_prefixes(path);
    r.name = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
    auto bad = [&](const std::string& what) {
        return fail(Error::Kind::invalid, "git " + repo + ": path '" + path + "': " + what, "InvalidPath");
    };
    for (std::size_t i = 0; i < r.dirs.size(); ++i) {
        auto t = trees.find(r.dirs[i]);
        if (t == trees.end()) return r;  // this directory does not exist yet: a new file in new folders
        std::string child = i + 1 < r.dirs.size() ? r.dirs[i + 1] : path;
        std::string child_name = child.substr(r.dirs[i].empty() ? 0 : r.dirs[i].size() + 1);
        auto e = t->second.find(child_name);
        if (e == t->second.end()) return r;
        bool last = i + 1 == r.dirs.size();
        if (e->second.is_symlink()) {
            return bad("'" + child + "' is a symbolic link; paths through or to symlinks are refused");
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

/// Loads the trees of every directory on `paths` at `commit` with one `git cat-file --batch`.
static Result<std::map<std::string, Tree>> load_dirs(const detail::Runner& runner, const std::string& commit,
                                                     const std::vector<std::string>& paths, std::size_t hash_size) {
    std::set<std::string> dirs;
    for (const auto& p : paths) {
        for (auto& d : dir_prefixes(p)) dirs.insert(std::move(d));
    }
    std::vector<std::string> order(dirs.begin(), dirs.end());
    std::string input;
    for (const auto& d : order) input += d.empty() ? commit + "^{tree}\n" : commit + ":" + d + "\n";
    POETRYOPS_TRY(ProcessResult r, runner.run_ok("read trees of", {"cat-file", "--batch"}, input));
    POETRYOPS_TRY(auto objects, detail::parse_batch_output(r.out, order.size()));
    std::map<std::string, Tree> trees;
    for (std::size_t i = 0; i < order.size(); ++i) {
        if (objects[i].missing || objects[i].type != "tree") continue;
        POETRYOPS_TRY(Tree t, detail::parse_tree(objects[i].content, hash_size));
        trees.emplace(order[i], std::move(t));
    }
    if (!trees.count("")) {
        return fail(Error::Kind::not_found, "git " + runner.url() + ": commit " + commit + " not found in the clone",
                    "CommitNotFound");
    }
    return trees;
}

Result<std::vector<std::string>> Repo::ensure_blobs(const std::vector<std::string>& oids) {
    std::vector<std::string> wanted;
    for (const auto& o : oids) {
        if (!present_blobs_.count(o)) wanted.push_back(o);
    }
    if (wanted.empty()) return oids;
    // Objects already present are found locally and nothing goes over the network; missing ones come in one request
    // (what git's own lazy fetch does, but for all of them at once instead of one round trip each).
    std::string input;
    for (const auto& o : wanted) input += o + "\n";
    POETRYOPS_TRY_VOID(runner_->run_ok("fetch files from",
                                       {"-c", "fetch.negotiationAlgorithm=noop", "fetch", "origin", "--no-tags",
                                        "--no-write-fetch-head", "--recurse-submodules=no", "--filter=blob:none",
                                        "--stdin"},
                                       input));
    if (present_blobs_.size() > 100000) present_blobs_.clear();
    present_blobs_.insert(wanted.begin(), wanted.end());
    return oids;
}

Result<std::vector<std::optional<std::string>>> Repo::read_files(const std::string& commit,
                                                                 const std::vector<std::string>& paths) {
    if (!detail::is_object_id(commit)) {
        return fail(Error::Kind::invalid, "git " + display_url_ + ": not a commit id: " + commit, "InvalidCommit");
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
    auto guard = lock();
    POETRYOPS_TRY(auto trees, load_dirs(*runner_, commit, paths, hash_size_));
    std::vector<std::string> oids;
    std::vector<std::size_t> index;
    for (std::size_t i = 0; i < paths.size(); ++i) {
        POETRYOPS_TRY(Resolved r, resolve(trees, paths[i], display_url_));
        if (r.entry) {
            oids.push_back(r.entry->oid);
            index.push_back(i);
        }
    }
    if (oids.empty()) return out;
    POETRYOPS_TRY_VOID(ensure_blobs(oids));
    std::string input;
    for (const auto& o : oids) input += o + "\n";
    POETRYOPS_TRY(ProcessResult r, runner_->run_ok("read files of", {"cat-file", "--batch"}, input));
    POETRYOPS_TRY(auto objects, detail::parse_batch_output(r.out, oids.size()));
    for (std::size_t k = 0; k < oids.size(); ++k) {
        if (objects[k].missing) {
            present_blobs_.clear();  // e.g. pruned by gc since we saw it: ask the server again next time
            return fail(Error::Kind::internal,
                        "git " + display_url_ + ": file '" + paths[index[k]] + "' could not be fetched", "MissingBlob");
        }
        out[index[k]] = std::move(objects[k].content);
    }
    return out;
}

Result<std::optional<std::string>> Repo::read_file_at_branch(const std::string& branch, const std::string& path) {
    auto guard = lock();
    POETRYOPS_TRY(std::string tip, fetch(branch));
    POETRYOPS_TRY(auto files, read_files(tip, {path}));
    return std::move(files.front());
}

}  // namespace poetryops::git

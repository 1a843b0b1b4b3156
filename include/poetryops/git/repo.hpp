#pragma once
/// A cache of partial bare clones (one per remote URL and credential identity) and the
/// worktree-less operations on one of them: fetch a branch, read files, write a commit with
/// plumbing, push without force, find commits by trailer.
///
/// Cost: a commit reads only the trees on the edited paths and the blobs being edited (fetched on
/// demand from the promisor remote), so it is O(depth x directory size) and does not grow with the
/// number of files in the repo.

#include <poetryops/git/edit.hpp>
#include <poetryops/git/remote.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/result.hpp>

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace poetryops::git {

namespace detail {
class Runner;
class SmartHttp;
class ObjectCache;
class CatFile;
class BlobBatcher;
struct TreeEntry;
struct BatchObject;
}  // namespace detail

/// Held while a sequence of operations must not interleave with other users of the same clone: an
/// in-process mutex plus an flock(2) on a lock file next to the clone (other processes sharing the
/// cache dir).
class RepoLock {
public:
    RepoLock(RepoLock&&) noexcept;
    RepoLock& operator=(RepoLock&&) = delete;
    RepoLock(const RepoLock&) = delete;
    ~RepoLock();

private:
    friend class Repo;
    explicit RepoLock(class Repo& repo);
    class Repo* repo_;
};

/// One commit found by its trailer.
struct FoundCommit {
    std::string sha;
    std::string trailer_value;
};

/// What Repo::export_tree() wrote.
struct ExportStats {
    std::size_t files = 0;  ///< regular files
    std::size_t bytes = 0;  ///< their total size
    std::size_t symlinks = 0;
    std::size_t directories = 0;  ///< including empty folders made for submodules
};

/// A partial bare clone of one remote. Every method takes the repo lock itself (re-entrantly), so
/// callers that need several steps to be atomic hold lock() around them. Thread safety: safe.
class Repo {
public:
    ~Repo();
    Repo(const Repo&) = delete;
    Repo& operator=(const Repo&) = delete;

    const Remote& remote() const { return remote_; }
    /// The URL safe to show.
    const std::string& url() const { return display_url_; }
    const std::filesystem::path& git_dir() const { return git_dir_; }

    RepoLock lock();

    /// Fetches `branch` (blobs stay on the server until needed) and returns its tip. not_found when
    /// the branch does not exist on the remote.
    Result<std::string> fetch(const std::string& branch);
    /// The tip of `branch` as last fetched or pushed; not_found when never fetched.
    Result<std::string> local_tip(const std::string& branch);

    /// Reads files at `commit`: nullopt for a missing file. invalid for a bad path, a path through
    /// a symlink or a non-directory, or a path that names a directory or a symlink.
    Result<std::vector<std::optional<std::string>>> read_files(
        const std::string& commit, const std::vector<std::string>& paths);
    /// Fetches `branch` and reads one file at its tip (so the engine can tell a human edit from its
    /// own).
    Result<std::optional<std::string>> read_file_at_branch(const std::string& branch,
                                                           const std::string& path);

    /// The tips of `refs` on the remote, in one exchange and without fetching: "refs/heads/main",
    /// "refs/tags/v1" (a name without "refs/" means refs/heads/NAME; the answer uses full names).
    /// Over HTTP(S) one in-process protocol-v2 ls-refs request (its size does not grow with the
    /// number of refs on the server), else or when the server cannot answer it one `git
    /// ls-remote`. Refs the remote lacks are absent; an annotated tag gives its commit. For
    /// polling: one call per repository serves every app that builds from it.
    Result<std::map<std::string, std::string>> remote_tips(const std::vector<std::string>& refs);

    /// Makes `commit` readable (read_files, changed_paths): nothing when the clone has it, else
    /// one `git fetch` of that commit with its history's commits and trees (blobs stay on the
    /// server until read). For a commit named by a webhook, which may no longer be a branch tip.
    /// not_found (CommitNotFound) when the server does not have it.
    Result<void> fetch_commit(const std::string& commit);

    /// The paths that differ between the trees of `from` and `to` (files added, removed or changed
    /// in content or mode, symlinks, submodules; a file replaced by a directory gives both) under
    /// any of `prefixes` ("services/api" matches itself and everything below it; "" matches
    /// everything). `from` empty or all zeros: the empty tree (a created branch). Sorted. Computed
    /// in-process from trees (no checkout, no blob): only directories on a prefix whose tree ids
    /// differ are read, so the cost follows the change, not the repository. Both commits must be
    /// in the clone (fetch or fetch_commit first): not_found (CommitNotFound) otherwise.
    Result<std::vector<std::string>> changed_paths(const std::string& from, const std::string& to,
                                                   const std::vector<std::string>& prefixes);

    /// Materialises the folder `path` ("" or "." for the whole tree) of `commit` into `dest`, so
    /// that `dest` holds what `path` holds: regular files with git's mode (0644, or 0755 when
    /// executable), directories, symbolic links as links (their target as committed, as `git
    /// checkout` makes them) and submodules as empty folders. No work tree, index or checkout:
    /// the trees are read in-process (one cat-file request per level) and every blob the clone
    /// lacks comes in one `git fetch`. `commit` must be in the clone (fetch or fetch_commit
    /// first). `dest` is created; it must not exist or be an empty folder, and nothing outside it
    /// is written. Errors: invalid (InvalidPath) for a bad `path`, one through a symlink or a
    /// file, a `dest` that is not empty, or a tree entry git itself would not check out ('..',
    /// '.git', a '/' in a name); not_found (CommitNotFound, PathNotFound) when the commit or the
    /// folder is not there; internal for a file that cannot be written.
    Result<ExportStats> export_tree(const std::string& commit, const std::string& path,
                                    const std::filesystem::path& dest);

    /// Writes a commit whose tree is `parent`'s with `changes` (path → new content) applied,
    /// without a working tree or a full index. Returns the new commit sha.
    Result<std::string> write_commit(const std::string& parent,
                                     const std::map<std::string, std::string>& changes,
                                     const std::string& message, const Identity& identity);

    /// Pushes `commit` to refs/heads/`branch`, never forced. conflict when the remote moved on
    /// (non-fast-forward); other refusals (a pre-receive hook) are invalid and carry the server's
    /// "remote:" lines.
    Result<void> push(const std::string& commit, const std::string& branch);

    /// True when `ancestor` is `descendant` or one of its ancestors, as far as the clone knows.
    /// not_found when either commit is not in the clone (fetch, then ask again).
    Result<bool> is_ancestor(const std::string& ancestor, const std::string& descendant);

    /// Commits on `branch` (newest first, at most `max_count` walked) carrying trailer `key` with
    /// exactly `value` (empty value: any), or with a value starting with `value` (`prefix`), and
    /// the first such value of each. Fetches first.
    enum class TrailerMatch { exact, prefix };
    Result<std::vector<FoundCommit>> find_commits_by_trailer(
        const std::string& branch, const std::string& key, const std::string& value,
        int max_count = 500, TrailerMatch match = TrailerMatch::exact);

    /// Counts git child processes started for this repo (for tests and benchmarks).
    std::size_t git_calls() const;
    /// Fetches answered by an in-process ref check instead of `git fetch` (the branch had not
    /// moved), and pushes sent in-process instead of `git push` (HTTP(S) remotes; see docs/git.md
    /// "In-process fast path").
    std::size_t fast_fetches() const { return fast_fetches_; }
    std::size_t fast_pushes() const { return fast_pushes_; }
    /// Wall time spent in git child processes so far, all of them and `git push` alone (which
    /// includes the server's receive-pack work), in ms (for benchmarks).
    long long git_ms() const;
    long long push_ms() const;

private:
    friend class RepoCache;
    friend class RepoLock;
    Repo(Remote remote, std::filesystem::path git_dir, std::filesystem::path lock_path,
         std::shared_ptr<TempDir> private_dir);
    Result<void> ensure_initialized();
    void start_fast_path();
    Result<std::vector<std::string>> ensure_blobs(const std::vector<std::string>& oids);
    /// The contents of blobs known to be in the clone (`paths` name them in errors), from the
    /// object cache or the cat-file process; a blob git cannot find after all is fetched once more,
    /// then MissingBlob.
    Result<std::vector<std::string>> read_blobs(const std::vector<std::string>& oids,
                                                const std::vector<std::string>& paths);
    /// One request to the cat-file process, retried once on a fresh process when git exited
    /// (killed, crashed).
    Result<void> cat_file(const std::vector<std::string>& names,
                          std::vector<detail::BatchObject>& answers);
    /// The trees of every directory on `paths` at `commit` that exists (key "" is the root), level
    /// by level by id: from the object cache (parsed once, shared), else one request per level to
    /// the cat-file process.
    Result<std::map<std::string, std::shared_ptr<const std::map<std::string, detail::TreeEntry>>>>
    load_trees(const std::string& commit, const std::vector<std::string>& paths);
    /// One tree by id, parsed (from the object cache or the cat-file process).
    /// A folder of the repository as git names it: "./a/b/" → "a/b", "." or "" → "" (the root);
    /// invalid (naming the remote) for a path validate_repo_path refuses.
    Result<std::string> folder_path(std::string path) const;
    /// The root tree id of `commit` (object cache, else one cat-file request); not_found
    /// (CommitNotFound) when the clone does not have the commit. Call with the repo lock held.
    Result<std::string> root_tree(const std::string& commit);
    Result<std::shared_ptr<const std::map<std::string, detail::TreeEntry>>> tree_by_id(
        const std::string& oid, const std::string& path);
    /// load_trees() as copies, for a caller that edits them (a commit).
    Result<std::map<std::string, std::map<std::string, detail::TreeEntry>>> load_dirs(
        const std::string& commit, const std::vector<std::string>& paths);
    /// Points refs/remotes/origin/`branch` at `commit` (in-process, with git's lock-file protocol).
    Result<void> set_tracking_ref(const std::string& branch, const std::string& commit);
    /// The in-process push of a commit this Repo wrote; nullopt: not applicable or not answered,
    /// use `git push`.
    std::optional<Result<void>> push_fast(const std::string& commit, const std::string& branch);

    /// The objects of a commit written by write_commit() and not pushed yet (what a push must
    /// send).
    struct Unpushed {
        std::string parent;
        /// (type, body), the commit last
        std::vector<std::pair<std::string, std::string>> objects;
    };

    Remote remote_;
    std::string display_url_;
    std::filesystem::path git_dir_, lock_path_;
    // askpass helper and empty config; outlives the cache while a Repo lives
    std::shared_ptr<TempDir> private_dir_;
    std::unique_ptr<detail::Runner> runner_;
    std::recursive_mutex mu_;
    int lock_depth_ = 0;
    int lock_fd_ = -1;
    std::size_t hash_size_ = 20;
    bool initialized_ = false;  ///< ensure_initialized() succeeded for this handle
    /// Blobs known to be in the clone (fetched or written by this process): no fetch process is
    /// needed for them.
    std::set<std::string> present_blobs_;
    std::unique_ptr<detail::ObjectCache> objects_;
    /// `git cat-file --batch` kept running (started on first read)
    std::unique_ptr<detail::CatFile> cat_file_;
    /// coalesces the blob fetches of concurrent read_files()
    std::unique_ptr<detail::BlobBatcher> batcher_;
    std::unique_ptr<detail::SmartHttp> smart_;  ///< null: not an HTTP(S) remote, or SHA-256
    std::map<std::string, Unpushed> unpushed_;
    std::atomic<std::size_t> fast_fetches_{0}, fast_pushes_{0};
};

/// The cache of clones under one directory. Safe to share between threads, and between processes on
/// the same dir.
class RepoCache {
public:
    /// `dir` is created when missing. A private 0700 temp dir holds the askpass helper and an empty
    /// git config.
    static Result<std::unique_ptr<RepoCache>> create(std::filesystem::path dir);
    ~RepoCache();

    /// The clone for this remote (created and initialised on first use; the first fetch is the cold
    /// clone).
    Result<std::shared_ptr<Repo>> open(const Remote& remote);

private:
    RepoCache(std::filesystem::path dir, std::shared_ptr<TempDir> private_dir);
    std::filesystem::path dir_;
    std::shared_ptr<TempDir> private_dir_;
    std::mutex mu_;
    std::map<std::string, std::weak_ptr<Repo>> repos_;
};

}  // namespace poetryops::git

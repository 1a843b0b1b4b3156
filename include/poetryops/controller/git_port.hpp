#pragma once
/// GitOpsPort over the git module: one partial clone per (URL, credentials) in a RepoCache and one
/// Committer per (clone, branch), shared by every app that writes to the same repository.

#include <poetryops/controller/ports.hpp>
#include <poetryops/git/repo.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

namespace poetryops::controller {

/// Turns an app's spec.gitops (URL, secretRef in the app's namespace) into a git::Remote with
/// credentials. In the cluster it reads the Secret (kube_ports.hpp); in local mode it uses the
/// credentials given on the command line.
using RemoteResolver = std::function<Result<git::Remote>(const api::PoetryApp& app)>;

/// Thread safety: safe.
class GitRepoPort final : public GitOpsPort {
public:
    GitRepoPort(git::RepoCache& cache, RemoteResolver resolver, git::CommitterOptions options = {});
    ~GitRepoPort() override;

    Result<GitSnapshot> read_files(const api::PoetryApp& app,
                                   const std::vector<std::string>& paths) override;
    Result<std::string> find_promotion(const api::PoetryApp& app,
                                       const std::string& trailer) override;
    Result<std::optional<git::FoundCommit>> find_trailer(const api::PoetryApp& app,
                                                         std::string_view key,
                                                         const std::string& prefix) override;
    Result<bool> contains(const api::PoetryApp& app, const std::string& commit,
                          const std::string& revision) override;
    std::future<Result<git::EditOutcome>> submit(const api::PoetryApp& app,
                                                 git::EditRequest request) override;

    /// Committer statistics summed over every repository (for benchmarks and the demo).
    git::CommitterStats stats() const;

    /// A pass over many apps (local mode): holds every committer, also those created while held
    /// (git::Committer::hold), so edits queue until the matching release() and the pass's edits to
    /// one repository become one commit; and reads while held need the remote as of the first
    /// hold, not as of their own arrival, so one fetch per repository serves the whole pass.
    void hold();
    void release();

private:
    struct Entry {
        std::shared_ptr<git::Repo> repo;
        std::map<std::string, std::unique_ptr<git::Committer>> committers;  // by branch
    };
    Result<std::shared_ptr<git::Repo>> repo_for(const api::PoetryApp& app);
    /// One fetch shared by every caller that arrives while none newer than its arrival has
    /// finished: many apps on one repo cost one round trip, and each caller still sees the remote
    /// as of at least its own arrival.
    Result<std::string> fetch_shared(const std::shared_ptr<git::Repo>& repo,
                                     const std::string& branch);
    /// When a read needs the remote to be as of: now, or while held the start of the hold.
    std::chrono::steady_clock::time_point fresh_since() const;
    struct FetchState {
        std::mutex mu;
        std::condition_variable cv;
        bool running = false;
        bool has_result = false;
        std::chrono::steady_clock::time_point started;  // of the last finished fetch
        Result<std::string> result = std::string();
    };
    // by repo identity + branch, under mu_
    std::map<std::string, std::shared_ptr<FetchState>> fetches_;

    git::RepoCache& cache_;
    RemoteResolver resolver_;
    git::CommitterOptions options_;
    mutable std::mutex mu_;
    std::map<std::string, Entry> entries_;              // by remote identity
    int holds_ = 0;                                     // under mu_
    std::chrono::steady_clock::time_point held_since_;  // under mu_, while holds_ > 0
};

}  // namespace poetryops::controller

#pragma once
/// The committer for one (repository, branch): edit requests arriving within a short window become
/// one commit and one push. Each requester learns its own outcome: the commit that carries its
/// change, "unchanged" when its edits were no-ops, or its own error (a failing edit fails only its
/// requester and is left out of the commit).
///
/// A non-fast-forward push is answered by fetching, re-applying every edit to the new tip and
/// pushing again, with bounded, jittered retries. Never a force push: commits by others are
/// preserved.

#include <poetryops/git/edit.hpp>
#include <poetryops/git/repo.hpp>
#include <poetryops/util/result.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace poetryops::git {

struct CommitterOptions {
    std::string branch = "main";
    /// Extra time the first request of a batch waits for others to join it. Batching does not need
    /// it: requests that arrive while a commit is being pushed join the next one (group commit), so
    /// an idle committer starts at once and a busy one batches everything that queued meanwhile.
    std::chrono::milliseconds window{0};
    /// A batch is cut when it reaches this many requests.
    std::size_t max_batch = 2000;
    /// Push attempts per batch (the first one included) before the requests fail with
    /// Error::Kind::conflict.
    int max_attempts = 8;
    std::chrono::milliseconds backoff_base{50};
    std::chrono::milliseconds backoff_max{2000};
    Identity identity;
};

/// One caller's request: its edits (applied in order) and its part of the commit message.
struct EditRequest {
    std::vector<FileEdit> edits;
    CommitMessage message;
    /// Empty: commit to the committer's branch. Otherwise push to this branch instead (e.g.
    /// side_branch_name(app, env)), created from the committer's branch tip when missing, for
    /// environments that need a pull request.
    std::string target_branch;
    /// Called right after the outcome is set (on the committer's thread, or on the caller's for a
    /// request refused by submit()); must not block. Lets a caller that does not wait on the
    /// future learn that it can collect it.
    std::function<void()> on_done;
};

struct EditOutcome {
    /// false: every edit was a no-op, nothing was committed for this request
    bool changed = false;
    std::string commit;  ///< the commit holding the change; when unchanged, the tip the edits were
                         ///< checked against
    std::string branch;  ///< the branch pushed (or checked)
    int attempts = 0;    ///< push attempts the batch needed
    std::size_t batch_size = 0;  ///< requests in the same commit
};

struct CommitterStats {
    std::size_t batches = 0, commits = 0, pushes = 0, conflicts = 0;
};

/// Thread safety: submit() and stats() are safe from any thread. The destructor finishes queued
/// requests.
class Committer {
public:
    Committer(std::shared_ptr<Repo> repo, CommitterOptions options);
    ~Committer();
    Committer(const Committer&) = delete;
    Committer& operator=(const Committer&) = delete;

    /// Queues a request; the future resolves when its batch is pushed (or failed). Bad paths fail
    /// at once.
    std::future<Result<EditOutcome>> submit(EditRequest request);

    CommitterStats stats() const;
    const CommitterOptions& options() const { return options_; }
    /// While held (hold() more often than release()), requests queue and no batch starts; the
    /// last release() lets everything queued go as one batch (up to max_batch). For a caller that
    /// knows a burst of requests is coming (local mode's pass). A stopping committer ignores holds.
    void hold();
    void release();

private:
    struct Pending {
        EditRequest request;
        std::promise<Result<EditOutcome>> promise;
        void resolve(Result<EditOutcome> outcome) {
            promise.set_value(std::move(outcome));
            if (request.on_done) request.on_done();
        }
    };
    void run();
    void process_batch(std::vector<Pending>& batch);
    void process_group(const std::string& branch, std::vector<Pending*>& group);

    std::shared_ptr<Repo> repo_;
    CommitterOptions options_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Pending> queue_;
    bool stopping_ = false;
    int holds_ = 0;
    CommitterStats stats_;
    std::thread worker_;
};

}  // namespace poetryops::git

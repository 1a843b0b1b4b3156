#pragma once
/// One `git cat-file --batch` kept running per clone, so that reading a tree or a file costs a pipe
/// round trip instead of starting git (about 1,000 times cheaper on a loaded machine).
///
/// It runs with the clone's Runner environment plus GIT_NO_LAZY_FETCH=1: an object missing from the
/// partial clone is never fetched behind our back. git answers "NAME missing" for a name it cannot
/// resolve (an unknown commit, a path that does not exist) but exits ("could not fetch ... from
/// promisor remote") when asked for the id of a blob the promisor remote holds: batch() then
/// reports the answers before it as answered and an error for the rest, and the next call starts a
/// new process. A pack added by another process (fetch, gc) needs no restart: git re-scans the pack
/// directory when an object is not found.

#include "git/detail/coprocess.hpp"
#include "git/detail/objects.hpp"

#include <memory>
#include <string>
#include <vector>

namespace poetryops::git::detail {

class Runner;

/// Thread safety: none (the Repo lock guards it).
class CatFile {
public:
    explicit CatFile(const Runner& runner);
    ~CatFile();

    /// Answers `names` in order (object ids, "COMMIT^{tree}", "COMMIT:PATH"; no newlines), starting
    /// git when none is running. On error (git could not start, exited, or did not answer within
    /// the remote's timeout) `answers` holds the answers received before it, in order; the message
    /// is "read objects of URL: ..." with git's last words.
    Result<void> batch(const std::vector<std::string>& names, std::vector<BatchObject>& answers);

    /// The running process, -1 when none (for tests).
    int pid() const { return proc_ ? proc_->pid() : -1; }
    /// How many processes were started so far.
    std::size_t starts() const { return starts_; }
    /// Stops the running process (the next batch() starts another).
    void stop() { proc_.reset(); }

private:
    const Runner& runner_;
    std::unique_ptr<Coprocess> proc_;
    std::size_t starts_ = 0;
};

/// How many complete answers `out` holds from position `pos` on (at most `want`), for incremental
/// parsing of `git cat-file --batch` output: advances `pos` past them and adds them to `count`.
void count_batch_answers(std::string_view out, std::size_t& pos, std::size_t& count,
                         std::size_t want);

}  // namespace poetryops::git::detail

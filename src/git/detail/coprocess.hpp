#pragma once
/// A long-lived child process spoken to through pipes (stdin, stdout, stderr): a request is written
/// and its answer read back with a deadline, one exchange at a time. util's run_process() and
/// ChildProcess are one-shot or fire-and-forget; this is the bidirectional case (`git cat-file
/// --batch` kept running).

#include <poetryops/util/result.hpp>
#include <poetryops/util/subprocess.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::git::detail {

/// Thread safety: none (one exchange at a time; the owner serialises).
class Coprocess {
public:
    /// Starts argv (argv[0] searched in options' PATH) in its own process group with options.env
    /// (and the inherited environment when options.inherit_env) and options.cwd; every pipe end is
    /// O_CLOEXEC. Fails when it cannot start.
    static Result<std::unique_ptr<Coprocess>> start(const std::vector<std::string>& argv,
                                                    const ProcessOptions& options);
    /// Closes its stdin, kills its process group and reaps it.
    ~Coprocess();
    Coprocess(const Coprocess&) = delete;
    Coprocess& operator=(const Coprocess&) = delete;

    int pid() const { return pid_; }
    /// False once an exchange failed (timeout, exit, broken pipe): the process is gone or killed,
    /// start another.
    bool usable() const { return usable_; }

    /// Writes `input` and reads stdout into `out` until `complete(out)` is true, while draining
    /// stderr (its tail is kept for error messages). Never blocks past `timeout`. Errors: timeout
    /// when no complete answer came in time; internal when the process exited or closed its output
    /// first (`out` keeps what it answered). After an error the process is killed and usable() is
    /// false.
    Result<void> exchange(std::string_view input, std::string& out,
                          const std::function<bool(std::string_view)>& complete,
                          std::chrono::milliseconds timeout);

    /// The last bytes the process wrote to stderr (up to 4 KiB).
    const std::string& stderr_tail() const { return err_tail_; }

    /// Kills the process group and reaps the process (idempotent).
    void kill();

private:
    Coprocess() = default;
    void append_stderr(const char* data, std::size_t n);

    int pid_ = -1;
    int in_fd_ = -1, out_fd_ = -1, err_fd_ = -1;
    bool usable_ = true;
    bool reaped_ = false;
    std::string err_tail_;
};

}  // namespace poetryops::git::detail

#pragma once
/// Runs a program: argv only (never a shell), optional stdin, environment control, a timeout that
/// kills the whole process group, stdout/stderr captured up to a size limit.

#include <poetryops/util/result.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops {

struct ProcessOptions {
    std::string cwd{};                         ///< empty: inherit
    std::optional<std::string> stdin_data{};   ///< written then closed; nullopt: /dev/null
    bool inherit_env = true;                   ///< start from this process's environment
    std::map<std::string, std::string> env{};  ///< set (overrides inherited)
    std::vector<std::string> unset_env{};      ///< removed from the inherited environment
    std::chrono::milliseconds timeout{std::chrono::minutes(5)};  ///< 0: none
    /// per stream; the rest is discarded, `*_truncated` set
    std::size_t max_output = 16 * 1024 * 1024;
    /// Called with each line of stdout and stderr as it arrives (without the newline; a last line
    /// without one at the end), on the calling thread. For progress; the output is still collected.
    std::function<void(std::string_view line)> on_line{};
    /// Set (from any thread) to kill the process group, as a timeout does; `cancelled` is set.
    const std::atomic<bool>* cancel = nullptr;
};

struct ProcessResult {
    int exit_code = -1;      ///< exit status, or -1 when killed by a signal
    int signal = 0;          ///< the signal that ended it, 0 if it exited
    bool timed_out = false;  ///< killed because the timeout passed
    bool cancelled = false;  ///< killed because ProcessOptions::cancel was set
    std::string out;
    std::string err;
    bool out_truncated = false;
    bool err_truncated = false;
    std::chrono::milliseconds elapsed{0};
    bool ok() const { return exit_code == 0 && !timed_out && !cancelled; }
};

/// Runs argv[0] (searched in PATH when it has no '/'). Fails (Error::Kind::internal, not_found)
/// only when the process cannot be started; a non-zero exit or a timeout is reported in
/// ProcessResult. Thread safety: safe; each call owns its child.
Result<ProcessResult> run_process(const std::vector<std::string>& argv,
                                  const ProcessOptions& options = {});

/// A started background process (a test server). Its destructor kills its process group and reaps
/// it.
class ChildProcess {
public:
    ChildProcess() = default;
    ChildProcess(ChildProcess&& other) noexcept;
    ChildProcess& operator=(ChildProcess&& other) noexcept;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess();

    /// Starts argv in its own process group; stdout and stderr go to `log_path` (appended) or
    /// /dev/null when empty.
    static Result<ChildProcess> spawn(const std::vector<std::string>& argv,
                                      const ProcessOptions& options = {},
                                      const std::string& log_path = {});
    int pid() const { return pid_; }
    bool running();
    /// SIGTERM the group, wait up to `grace`, then SIGKILL. Returns the exit code (or -signal).
    int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

private:
    int pid_ = -1;
    int status_ = 0;
    bool reaped_ = false;
};

/// Shell-quotes argv for display in messages and logs (never executed).
std::string format_argv(const std::vector<std::string>& argv);

}  // namespace poetryops

#pragma once
/// Runs git for one repository with an environment built from scratch: no system or global config,
/// no prompt, the caller's CA variables ignored, secrets only in the child's environment (read back
/// by an askpass helper).

#include <poetryops/git/remote.hpp>
#include <poetryops/util/result.hpp>
#include <poetryops/util/subprocess.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::git::detail {

class Coprocess;

/// Writes `dir`/askpass (0700): answers git's "Username for ..." from $POETRYOPS_GIT_USERNAME and
/// anything else from $POETRYOPS_GIT_PASSWORD, and `dir`/home/.gitconfig (empty), the controlled
/// global config.
Result<void> write_private_files(const std::filesystem::path& dir);

class Runner {
public:
    /// `git_dir` empty: no GIT_DIR (for `git init`).
    Runner(Remote remote, std::filesystem::path git_dir, std::filesystem::path private_dir);

    /// Runs `git <config options> <args>`. A non-zero exit is returned in the ProcessResult; only a
    /// failure to start git is an error.
    Result<ProcessResult> run(const std::vector<std::string>& args,
                              std::optional<std::string> input = std::nullopt,
                              const std::map<std::string, std::string>& extra_env = {}) const;

    /// Starts `git <config options> <args>` as a long-lived process with this runner's environment
    /// plus `extra_env` (counted in calls()); the caller speaks to it through pipes. Fails only
    /// when git cannot be started.
    Result<std::unique_ptr<Coprocess>> start(
        const std::vector<std::string>& args,
        const std::map<std::string, std::string>& extra_env = {}) const;

    /// Runs and turns a non-zero exit into an Error (see failure()).
    Result<ProcessResult> run_ok(std::string_view what, const std::vector<std::string>& args,
                                 std::optional<std::string> input = std::nullopt,
                                 const std::map<std::string, std::string>& extra_env = {}) const;

    /// The Error for a failed git call: kind from git's output (auth, host key, TLS, missing
    /// branch, non-fast-forward, hook refusal, unreachable, timeout), message "WHAT URL: first
    /// useful lines of git's output", secrets removed.
    Error failure(std::string_view what, const ProcessResult& result) const;

    /// Removes secrets from text: log::redact plus every occurrence of this remote's password.
    std::string scrub(std::string_view text) const;

    std::size_t calls() const { return calls_.load(); }
    /// Wall time spent in `git push` / in every git call so far, in ms.
    long long push_ms() const { return push_ms_.load(); }
    long long total_ms() const { return total_ms_.load(); }
    const std::string& url() const { return display_url_; }
    /// How long one git call may take (the remote's timeout).
    std::chrono::milliseconds timeout() const { return base_.timeout; }

private:
    /// argv for `git <config options> <args>` and its options (the clean environment plus
    /// `extra_env`); counts a call.
    std::vector<std::string> command(const std::vector<std::string>& args, ProcessOptions& opts,
                                     const std::map<std::string, std::string>& extra_env) const;

    Remote remote_;
    std::string display_url_;
    std::filesystem::path git_dir_, private_dir_;
    ProcessOptions base_;
    std::vector<std::string> config_args_;
    mutable std::atomic<std::size_t> calls_{0};
    mutable std::atomic<long long> push_ms_{0}, total_ms_{0};
};

/// The lines of git's stderr/stdout worth showing: "remote:", "fatal:", "error:", rejected refs;
/// else the first lines.
std::string useful_lines(std::string_view err, std::string_view out);

}  // namespace poetryops::git::detail

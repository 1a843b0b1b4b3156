#include <poetryops/util/subprocess.hpp>

#include <poetryops/util/strings.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <tuple>

extern char** environ;

namespace poetryops {

namespace {

using Clock = std::chrono::steady_clock;

void ignore_sigpipe_once() {
    static std::once_flag once;
    // Writing to a child's stdin after it exited must be an EPIPE error, not the death of this
    // process.
    std::call_once(once, [] { ::signal(SIGPIPE, SIG_IGN); });
}

/// Everything the child needs, built before fork() so the child only calls async-signal-safe
/// functions.
struct ExecPlan {
    std::string program;
    std::vector<std::string> argv_store, env_store;
    std::vector<char*> argv, envp;
};

std::string lookup_path(const std::string& name,
                        const std::map<std::string, std::string>& env_override, bool inherit) {
    if (name.find('/') != std::string::npos) return name;
    std::string path;
    if (auto it = env_override.find("PATH"); it != env_override.end()) {
        path = it->second;
    } else if (const char* p = inherit ? std::getenv("PATH") : nullptr) {
        path = p;
    } else {
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    }
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t end = path.find(':', start);
        if (end == std::string::npos) end = path.size();
        std::string dir = path.substr(start, end - start);
        if (dir.empty()) dir = ".";
        std::string candidate = dir + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
        start = end + 1;
    }
    return {};
}

Result<ExecPlan> make_plan(const std::vector<std::string>& argv, const ProcessOptions& o) {
    if (argv.empty() || argv[0].empty())
        return fail(Error::Kind::invalid, "run_process: empty argv");
    ExecPlan plan;
    plan.program = lookup_path(argv[0], o.env, o.inherit_env);
    if (plan.program.empty()) {
        return fail(Error::Kind::not_found, "cannot run " + argv[0] + ": not found in PATH",
                    "ExecutableNotFound");
    }
    plan.argv_store = argv;
    std::map<std::string, std::string> env;
    if (o.inherit_env) {
        for (char** e = environ; e && *e; ++e) {
            std::string_view kv(*e);
            auto eq = kv.find('=');
            if (eq == std::string_view::npos) continue;
            env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
        }
    }
    for (const auto& name : o.unset_env) env.erase(name);
    for (const auto& [k, v] : o.env) env[k] = v;
    for (const auto& [k, v] : env) plan.env_store.push_back(k + "=" + v);
    for (auto& s : plan.argv_store) plan.argv.push_back(s.data());
    plan.argv.push_back(nullptr);
    for (auto& s : plan.env_store) plan.envp.push_back(s.data());
    plan.envp.push_back(nullptr);
    return plan;
}

/// In the child after fork(): own process group, default signals, fds 0-2 set up, everything else
/// closed.
[[noreturn]] void exec_child(const ExecPlan& plan, const std::string& cwd, int in_fd, int out_fd,
                             int err_fd) {
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    if (in_fd >= 0) ::dup2(in_fd, 0);
    if (out_fd >= 0) ::dup2(out_fd, 1);
    if (err_fd >= 0) ::dup2(err_fd, 2);
#ifdef SYS_close_range
    ::syscall(SYS_close_range, 3U, ~0U, 0U);
#else
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
#endif
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
        const char msg[] = "run_process: cannot chdir to the working directory\n";
        [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
        ::_exit(127);
    }
    ::execve(plan.program.c_str(), plan.argv.data(), plan.envp.data());
    const char msg[] = "run_process: exec failed\n";
    [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
    ::_exit(127);
}

void decode_status(int status, ProcessResult& r) {
    if (WIFEXITED(status)) {
        r.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        r.exit_code = -1;
        r.signal = WTERMSIG(status);
    }
}

}  // namespace

Result<ProcessResult> run_process(const std::vector<std::string>& argv,
                                  const ProcessOptions& options) {
    ignore_sigpipe_once();
    POETRYOPS_TRY(ExecPlan plan, make_plan(argv, options));
    int in_pipe[2] = {-1, -1}, out_pipe[2], err_pipe[2];
    if (options.stdin_data && ::pipe2(in_pipe, O_CLOEXEC) != 0)
        return fail(Error::Kind::internal, std::string("pipe: ") + std::strerror(errno));
    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0)
        return fail(Error::Kind::internal, std::string("pipe: ") + std::strerror(errno));
    int devnull = -1;
    if (!options.stdin_data) devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);

    auto start = Clock::now();
    pid_t pid = ::fork();
    if (pid < 0) {
        int e = errno;
        for (int fd :
             {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1], devnull})
            if (fd >= 0) ::close(fd);
        return fail(Error::Kind::internal, std::string("fork: ") + std::strerror(e));
    }
    if (pid == 0)
        exec_child(plan, options.cwd, options.stdin_data ? in_pipe[0] : devnull, out_pipe[1],
                   err_pipe[1]);
    ::setpgid(pid,
              pid);  // also in the parent, so kill(-pid) works even before the child ran setpgid

    if (in_pipe[0] >= 0) ::close(in_pipe[0]);
    if (devnull >= 0) ::close(devnull);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    int in_fd = in_pipe[1];
    if (in_fd >= 0) ::fcntl(in_fd, F_SETFL, O_NONBLOCK);

    ProcessResult r;
    std::size_t in_off = 0;
    const std::string empty;
    const std::string& input = options.stdin_data ? *options.stdin_data : empty;
    if (in_fd >= 0 && input.empty()) {
        ::close(in_fd);
        in_fd = -1;
    }
    int out_fd = out_pipe[0], err_fd = err_pipe[0];
    bool exited = false;
    int status = 0;
    std::optional<Clock::time_point> exited_at;
    // A flag and a plain time point rather than an optional (GCC warned it maybe-uninitialized).
    const bool has_deadline = options.timeout.count() > 0;
    const Clock::time_point deadline = has_deadline ? start + options.timeout : start;
    char buf[65536];

    // Partial lines per stream, for on_line.
    std::string pending[2];
    auto lines = [&](int stream, const char* data, std::size_t n) {
        if (!options.on_line) return;
        std::string& p = pending[stream];
        p.append(data, n);
        std::size_t start = 0;
        for (std::size_t nl; (nl = p.find('\n', start)) != std::string::npos; start = nl + 1) {
            options.on_line(std::string_view(p).substr(start, nl - start));
        }
        p.erase(0, start);
        if (p.size() > 64 * 1024) {  // a "line" that never ends: pass it on in pieces
            options.on_line(p);
            p.clear();
        }
    };
    auto append = [&](std::string& dst, bool& truncated, const char* data, std::size_t n) {
        std::size_t room = options.max_output > dst.size() ? options.max_output - dst.size() : 0;
        if (n > room) {
            truncated = true;
            n = room;
        }
        dst.append(data, n);
    };

    while (out_fd >= 0 || err_fd >= 0 || !exited) {
        if (!exited) {
            pid_t w = ::waitpid(pid, &status, WNOHANG);
            if (w == pid) {
                exited = true;
                exited_at = Clock::now();
            }
        }
        auto now = Clock::now();
        if (has_deadline && now >= deadline && !r.timed_out && !exited) {
            r.timed_out = true;
            ::kill(-pid, SIGKILL);
        }
        if (options.cancel && options.cancel->load() && !r.cancelled && !exited) {
            r.cancelled = true;
            ::kill(-pid, SIGKILL);
        }
        // A grandchild that keeps our pipes open must not hang us once the child itself is gone.
        if (exited && now - *exited_at > std::chrono::milliseconds(500)) break;
        if (exited && out_fd < 0 && err_fd < 0) break;
        pollfd fds[3];
        int nfds = 0;
        int idx_in = -1, idx_out = -1, idx_err = -1;
        if (in_fd >= 0) {
            idx_in = nfds;
            fds[nfds++] = {in_fd, POLLOUT, 0};
        }
        if (out_fd >= 0) {
            idx_out = nfds;
            fds[nfds++] = {out_fd, POLLIN, 0};
        }
        if (err_fd >= 0) {
            idx_err = nfds;
            fds[nfds++] = {err_fd, POLLIN, 0};
        }
        int wait_ms = 20;
        if (nfds == 0) {
            if (r.timed_out || r.cancelled || exited) {
                ::waitpid(pid, &status, 0);
                exited = true;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
            continue;
        }
        int pr = ::poll(fds, static_cast<nfds_t>(nfds), wait_ms);
        if (pr < 0 && errno != EINTR) break;
        if (pr <= 0) continue;
        if (idx_in >= 0 && (fds[idx_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t n = ::write(in_fd, input.data() + in_off, input.size() - in_off);
            if (n > 0) in_off += static_cast<std::size_t>(n);
            if (n < 0 && errno != EAGAIN && errno != EINTR) in_off = input.size();
            if (in_off >= input.size()) {
                ::close(in_fd);
                in_fd = -1;
            }
        }
        for (auto [idx, fdp, dst, trunc, stream] :
             {std::tuple{idx_out, &out_fd, &r.out, &r.out_truncated, 0},
              std::tuple{idx_err, &err_fd, &r.err, &r.err_truncated, 1}}) {
            if (idx < 0 || !(fds[idx].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = ::read(*fdp, buf, sizeof buf);
            if (n > 0) {
                append(*dst, *trunc, buf, static_cast<std::size_t>(n));
                lines(stream, buf, static_cast<std::size_t>(n));
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                ::close(*fdp);
                *fdp = -1;
            }
        }
    }
    for (int fd : {in_fd, out_fd, err_fd})
        if (fd >= 0) ::close(fd);
    if (options.on_line) {
        for (const auto& p : pending)
            if (!p.empty()) options.on_line(p);
    }
    if (!exited) {
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    decode_status(status, r);
    r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    return r;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_), status_(other.status_), reaped_(other.reaped_) {
    other.pid_ = -1;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
    if (this != &other) {
        if (pid_ > 0) stop();
        pid_ = other.pid_;
        status_ = other.status_;
        reaped_ = other.reaped_;
        other.pid_ = -1;
    }
    return *this;
}

ChildProcess::~ChildProcess() {
    if (pid_ > 0) stop();
}

Result<ChildProcess> ChildProcess::spawn(const std::vector<std::string>& argv,
                                         const ProcessOptions& options,
                                         const std::string& log_path) {
    ignore_sigpipe_once();
    POETRYOPS_TRY(ExecPlan plan, make_plan(argv, options));
    int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    int log_fd = devnull;
    if (!log_path.empty()) {
        log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd < 0) {
            int e = errno;
            ::close(devnull);
            return fail(Error::Kind::internal,
                        "cannot open log " + log_path + ": " + std::strerror(e));
        }
    }
    pid_t pid = ::fork();
    if (pid < 0) {
        int e = errno;
        ::close(devnull);
        if (log_fd != devnull) ::close(log_fd);
        return fail(Error::Kind::internal, std::string("fork: ") + std::strerror(e));
    }
    if (pid == 0) exec_child(plan, options.cwd, devnull, log_fd, log_fd);
    ::setpgid(pid, pid);
    ::close(devnull);
    if (log_fd != devnull) ::close(log_fd);
    ChildProcess c;
    c.pid_ = pid;
    return c;
}

bool ChildProcess::running() {
    if (pid_ <= 0 || reaped_) return false;
    pid_t w = ::waitpid(pid_, &status_, WNOHANG);
    if (w == pid_) reaped_ = true;
    return !reaped_;
}

int ChildProcess::stop(std::chrono::milliseconds grace) {
    if (pid_ <= 0) return -1;
    if (!reaped_) {
        ::kill(-pid_, SIGTERM);
        auto deadline = Clock::now() + grace;
        while (Clock::now() < deadline) {
            pid_t w = ::waitpid(pid_, &status_, WNOHANG);
            if (w == pid_) {
                reaped_ = true;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        if (!reaped_) {
            ::kill(-pid_, SIGKILL);
            while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
            }
            reaped_ = true;
        }
    }
    // Whatever else the group started (a CGI child, a forked worker) goes too.
    ::kill(-pid_, SIGKILL);
    pid_ = -1;
    if (WIFEXITED(status_)) return WEXITSTATUS(status_);
    if (WIFSIGNALED(status_)) return -WTERMSIG(status_);
    return -1;
}

std::string format_argv(const std::vector<std::string>& argv) {
    std::string out;
    for (std::size_t i = 0; i < argv.size(); ++i) {
        if (i) out += ' ';
        const std::string& a = argv[i];
        bool plain =
            !a.empty() && a.find_first_not_of(
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                              "-_./:=@,+%") == std::string::npos;
        if (plain) {
            out += a;
        } else {
            out += str::shell_quote(a);
        }
    }
    return out;
}

}  // namespace poetryops

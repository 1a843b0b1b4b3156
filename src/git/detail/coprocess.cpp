#include "git/detail/coprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

extern char** environ;

namespace poetryops::git::detail {

namespace {

using Clock = std::chrono::steady_clock;

void ignore_sigpipe_once() {
    static std::once_flag once;
    // Writing to a child that died must be EPIPE, not the death of this process (util's run_process
    // does the same).
    std::call_once(once, [] { ::signal(SIGPIPE, SIG_IGN); });
}

std::string lookup_path(const std::string& name, const std::string& path) {
    if (name.find('/') != std::string::npos) return name;
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t end = path.find(':', start);
        if (end == std::string::npos) end = path.size();
        std::string dir = path.substr(start, end - start);
        std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
        start = end + 1;
    }
    return {};
}

void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

}  // namespace

Result<std::unique_ptr<Coprocess>> Coprocess::start(const std::vector<std::string>& argv,
                                                    const ProcessOptions& options) {
    ignore_sigpipe_once();
    if (argv.empty() || argv[0].empty()) return fail(Error::Kind::invalid, "coprocess: empty argv");
    // Everything the child needs is built before fork(): after it, the child only calls
    // async-signal-safe functions.
    std::map<std::string, std::string> env;
    if (options.inherit_env) {
        for (char** e = environ; e && *e; ++e) {
            std::string_view kv(*e);
            auto eq = kv.find('=');
            if (eq != std::string_view::npos)
                env[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
        }
    }
    for (const auto& name : options.unset_env) env.erase(name);
    for (const auto& [k, v] : options.env) env[k] = v;
    auto path_it = env.find("PATH");
    std::string program = lookup_path(
        argv[0], path_it != env.end() ? path_it->second : "/usr/local/bin:/usr/bin:/bin");
    if (program.empty()) {
        return fail(Error::Kind::not_found, "cannot run " + argv[0] + ": not found in PATH",
                    "ExecutableNotFound");
    }
    std::vector<std::string> argv_store = argv, env_store;
    for (const auto& [k, v] : env) env_store.push_back(k + "=" + v);
    std::vector<char*> argv_ptrs, env_ptrs;
    for (auto& s : argv_store) argv_ptrs.push_back(s.data());
    argv_ptrs.push_back(nullptr);
    for (auto& s : env_store) env_ptrs.push_back(s.data());
    env_ptrs.push_back(nullptr);

    int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    auto close_all = [&] {
        for (int* p : {in_pipe, out_pipe, err_pipe}) {
            close_fd(p[0]);
            close_fd(p[1]);
        }
    };
    if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 ||
        ::pipe2(err_pipe, O_CLOEXEC) != 0) {
        int e = errno;
        close_all();
        return fail(Error::Kind::internal, std::string("pipe: ") + std::strerror(e));
    }
    pid_t pid = ::fork();
    if (pid < 0) {
        int e = errno;
        close_all();
        return fail(Error::Kind::internal, std::string("fork: ") + std::strerror(e));
    }
    if (pid == 0) {
        ::setpgid(0, 0);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGPIPE, SIG_DFL);
        ::dup2(in_pipe[0], 0);
        ::dup2(out_pipe[1], 1);
        ::dup2(err_pipe[1], 2);
#ifdef SYS_close_range
        ::syscall(SYS_close_range, 3U, ~0U, 0U);
#else
        for (int fd = 3; fd < 1024; ++fd) ::close(fd);
#endif
        if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) ::_exit(127);
        ::execve(program.c_str(), argv_ptrs.data(), env_ptrs.data());
        const char msg[] = "coprocess: exec failed\n";
        [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
        ::_exit(127);
    }
    ::setpgid(pid, pid);  // also here, so kill(-pid) works before the child ran setpgid
    close_fd(in_pipe[0]);
    close_fd(out_pipe[1]);
    close_fd(err_pipe[1]);
    std::unique_ptr<Coprocess> c(new Coprocess());
    c->pid_ = pid;
    c->in_fd_ = in_pipe[1];
    c->out_fd_ = out_pipe[0];
    c->err_fd_ = err_pipe[0];
    for (int fd : {c->in_fd_, c->out_fd_, c->err_fd_})
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return c;
}

Coprocess::~Coprocess() { kill(); }

void Coprocess::kill() {
    usable_ = false;
    close_fd(in_fd_);
    close_fd(out_fd_);
    close_fd(err_fd_);
    if (pid_ > 0 && !reaped_) {
        // The pid cannot be reused before we reap it, so the group kill cannot hit a stranger.
        ::kill(-pid_, SIGKILL);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        reaped_ = true;
    }
}

void Coprocess::append_stderr(const char* data, std::size_t n) {
    err_tail_.append(data, n);
    if (err_tail_.size() > 4096) err_tail_.erase(0, err_tail_.size() - 4096);
}

Result<void> Coprocess::exchange(std::string_view input, std::string& out,
                                 const std::function<bool(std::string_view)>& complete,
                                 std::chrono::milliseconds timeout) {
    if (!usable_) return fail(Error::Kind::internal, "the process is no longer running");
    auto deadline = Clock::now() + timeout;
    std::size_t in_off = 0;
    char buf[65536];
    auto broken = [&](Error::Kind kind, std::string what) -> Result<void> {
        // Collect what it said on the way out (git's "fatal: ..." line), for a little while only.
        auto until = std::min(deadline, Clock::now() + std::chrono::milliseconds(200));
        while (err_fd_ >= 0 && Clock::now() < until) {
            pollfd p{err_fd_, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            ssize_t n = ::read(err_fd_, buf, sizeof buf);
            if (n > 0) {
                append_stderr(buf, static_cast<std::size_t>(n));
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                close_fd(err_fd_);
            }
        }
        kill();
        return fail(kind, std::move(what));
    };
    for (;;) {
        if (in_off == input.size() && complete(out)) return ok();
        auto now = Clock::now();
        if (now >= deadline) {
            return broken(Error::Kind::timeout,
                          "no answer within " + std::to_string(timeout.count()) + " ms");
        }
        pollfd fds[3];
        nfds_t n = 0;
        int idx_in = -1, idx_out = -1, idx_err = -1;
        if (in_off < input.size()) {
            idx_in = static_cast<int>(n);
            fds[n++] = {in_fd_, POLLOUT, 0};
        }
        idx_out = static_cast<int>(n);
        fds[n++] = {out_fd_, POLLIN, 0};
        if (err_fd_ >= 0) {
            idx_err = static_cast<int>(n);
            fds[n++] = {err_fd_, POLLIN, 0};
        }
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
        int pr = ::poll(fds, n, static_cast<int>(std::min<long long>(left, 1000)));
        if (pr < 0 && errno != EINTR)
            return broken(Error::Kind::internal, std::string("poll: ") + strerror(errno));
        if (pr <= 0) continue;
        if (idx_in >= 0 && (fds[idx_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = ::write(in_fd_, input.data() + in_off, input.size() - in_off);
            if (w > 0) {
                in_off += static_cast<std::size_t>(w);
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                return broken(Error::Kind::internal, "it stopped reading its input (exited)");
            }
        }
        if (idx_err >= 0 && (fds[idx_err].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = ::read(err_fd_, buf, sizeof buf);
            if (r > 0) {
                append_stderr(buf, static_cast<std::size_t>(r));
            } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                close_fd(err_fd_);
            }
        }
        if (fds[idx_out].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = ::read(out_fd_, buf, sizeof buf);
            if (r > 0) {
                out.append(buf, static_cast<std::size_t>(r));
            } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                return broken(Error::Kind::internal, "it exited before answering");
            }
        }
    }
}

}  // namespace poetryops::git::detail

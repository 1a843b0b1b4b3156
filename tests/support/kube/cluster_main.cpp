// poetryops-test-cluster: the ctest fixture of the real Kubernetes lane
// (tests/support/kube/cluster.hpp).
//
//   poetryops-test-cluster up DIR     # starts a supervisor that owns etcd, kube-apiserver and
//                                     # kube-controller-manager; returns once DIR/cluster.json is
//                                     written
//   poetryops-test-cluster down DIR   # stops the supervisor, which stops exactly what it started
//
// The supervisor stops its servers on SIGTERM, when the process that ran `up` (ctest) is gone, or
// after 3 hours, so an interrupted run does not leave a cluster behind. Exit codes: 0 ok (also:
// lane skipped, one line says why), 1 failure (also: lane missing while
// POETRYOPS_REQUIRE_KUBE_LANE=1), 2 usage.
#include "support/kube/cluster.hpp"
#include "support/kube/harness.hpp"

#include <poetryops/util/fs.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

namespace fs = std::filesystem;
using namespace poetryops;
using namespace poetryops::test::kube;

namespace {

using poetryops::test::kube::harness::alive;
using poetryops::test::kube::harness::exe_of;

volatile std::sig_atomic_t g_stop = 0;
void on_term(int) { g_stop = 1; }

[[noreturn]] void supervise(const fs::path& dir, int watch_pid, int ready_fd) {
    ::setsid();
    int log =
        ::open((dir / "supervisor.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0) ::dup2(devnull, 0);
    if (log >= 0) {
        ::dup2(log, 1);
        ::dup2(log, 2);
    }
    std::signal(SIGTERM, on_term);
    std::signal(SIGINT, on_term);
    std::signal(SIGHUP, SIG_IGN);
    std::signal(SIGPIPE, SIG_IGN);
    auto report = [&](const std::string& line) {
        std::string l = line + "\n";
        if (ready_fd >= 0) (void)!::write(ready_fd, l.data(), l.size());
        std::fputs(l.c_str(), stderr);
    };
    Cluster cluster;
    // Progress goes to the log and, line by line, to `up` (which prints it for ctest's output).
    FILE* progress = ready_fd >= 0 ? ::fdopen(::dup(ready_fd), "w") : nullptr;
    auto started =
        cluster.start(dir / "cluster", {.controller_manager = true, .progress = progress});
    if (!started) {
        report("FAILED " + started.error().message);
        cluster.stop();
        std::_Exit(1);
    }
    ClusterInfo info = cluster.info();
    info.supervisor_pid = ::getpid();
    auto w = write_info(info, dir / "cluster.json");
    if (!w) {
        report("FAILED " + w.error().message);
        cluster.stop();
        std::_Exit(1);
    }
    report("READY");
    if (progress != nullptr) std::fclose(progress);
    ::close(ready_fd);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::hours(3);
    while (!g_stop && alive(watch_pid) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    std::fprintf(
        stderr, "supervisor: stopping (%s)\n",
        g_stop ? "asked to"
               : (alive(watch_pid) ? "3 hours passed" : "the process that started it is gone"));
    cluster.stop();
    std::error_code ec;
    fs::remove(dir / "cluster.json", ec);
    std::_Exit(0);
}

int up(const fs::path& dir) {
    std::string why = lane_skip_reason();
    if (!why.empty()) {
        std::printf("%s\n", why.c_str());
        if (lane_required()) {
            std::printf("POETRYOPS_REQUIRE_KUBE_LANE=1: the real Kubernetes lane must run here\n");
            return 1;
        }
        return 0;
    }
    std::error_code ec;
    if (fs::exists(dir / "cluster.json", ec)) {
        // A previous run's supervisor: stop it first (it is ours only if it runs this very
        // program).
        auto old = read_info(dir / "cluster.json");
        if (old && alive(old->supervisor_pid) &&
            exe_of(old->supervisor_pid) == exe_of(::getpid())) {
            ::kill(old->supervisor_pid, SIGTERM);
            for (int i = 0; i < 200 && alive(old->supervisor_pid); ++i) {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        }
    }
    fs::remove_all(dir, ec);
    fs::create_directories(dir, ec);
    if (ec) {
        std::printf("cannot create %s: %s\n", dir.c_str(), ec.message().c_str());
        return 1;
    }
    int fds[2];
    if (::pipe(fds) != 0) return 1;
    int watch = ::getppid();
    std::fflush(stdout);
    pid_t pid = ::fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        ::close(fds[0]);
        // Double fork: the supervisor is not our child, so `up` can return while it runs.
        pid_t inner = ::fork();
        if (inner != 0) std::_Exit(inner < 0 ? 1 : 0);
        supervise(dir, watch, fds[1]);
    }
    ::close(fds[1]);
    int st = 0;
    ::waitpid(pid, &st, 0);
    // Relay the supervisor's lines until READY/FAILED or EOF.
    std::string buf;
    char chunk[512];
    bool ready = false;
    for (;;) {
        ssize_t n = ::read(fds[0], chunk, sizeof chunk);
        if (n <= 0) break;
        buf.append(chunk, static_cast<std::size_t>(n));
        std::size_t nl;
        while ((nl = buf.find('\n')) != std::string::npos) {
            std::string line = buf.substr(0, nl);
            buf.erase(0, nl + 1);
            if (line == "READY") ready = true;
            std::printf("%s\n", line.c_str());
            std::fflush(stdout);
        }
    }
    ::close(fds[0]);
    if (!ready) {
        std::printf("the real Kubernetes lane did not start; see %s\n",
                    (dir / "supervisor.log").c_str());
        return 1;
    }
    return 0;
}

int down(const fs::path& dir) {
    std::error_code ec;
    auto info = read_info(dir / "cluster.json");
    if (!info) {
        std::printf("no cluster in %s: nothing to stop\n", dir.c_str());
        return 0;
    }
    int sup = info->supervisor_pid;
    if (alive(sup) && exe_of(sup) == exe_of(::getpid())) {
        ::kill(sup, SIGTERM);
        for (int i = 0; i < 300 && alive(sup); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    // Whatever survived (a supervisor killed hard): the servers it recorded, if they still run
    // their binaries.
    int left = 0;
    for (int pid : info->pids) {
        std::string exe = exe_of(pid);
        bool ours = exe.find("etcd") != std::string::npos || exe.find("kube-") != std::string::npos;
        if (alive(pid) && ours) {
            ::kill(-pid, SIGKILL);
            ::kill(pid, SIGKILL);
            ++left;
        }
    }
    fs::remove(dir / "cluster.json", ec);
    std::printf(
        "kube lane: cluster in %s stopped%s\n", dir.c_str(),
        left ? (" (" + std::to_string(left) + " server(s) killed after the supervisor)").c_str()
             : "");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3 || (std::strcmp(argv[1], "up") != 0 && std::strcmp(argv[1], "down") != 0)) {
        std::fprintf(stderr, "usage: poetryops-test-cluster up|down DIR\n");
        return 2;
    }
    fs::path dir = fs::absolute(argv[2]);
    return std::strcmp(argv[1], "up") == 0 ? up(dir) : down(dir);
}

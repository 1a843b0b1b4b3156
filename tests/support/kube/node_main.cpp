// poetryops-test-node: the ctest fixture of the node lane (tests/support/kube/node.hpp).
//
//   poetryops-test-node up DIR [CLUSTER_JSON]   # starts a supervisor that owns containerd, kubelet
//   and
//                                               # kube-scheduler; returns once node1 is Ready
//                                               (DIR/node.json)
//   poetryops-test-node down DIR                # stops the supervisor and undoes every host change
//   recorded in
//                                               # DIR/node.json (also after a crash)
//
// CLUSTER_JSON defaults to $POETRYOPS_TEST_KUBE_CLUSTER, else the build's
// kube-cluster/cluster.json. The supervisor stops the node on SIGTERM, when the process that ran
// `up` (ctest) or the cluster's supervisor is gone, or after 3 hours. Exit codes: 0 ok (also: lane
// skipped, one line says why), 1 failure (also: lane missing while POETRYOPS_REQUIRE_KUBE_LANE=1,
// or host state that `down` could not restore), 2 usage.
#include "support/kube/harness.hpp"
#include "support/kube/node.hpp"

#include <poetryops/util/fs.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
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

fs::path cluster_file(int argc, char** argv) {
    if (argc >= 4) return fs::absolute(argv[3]);
    const char* env = std::getenv("POETRYOPS_TEST_KUBE_CLUSTER");
    return env != nullptr && *env != '\0' ? fs::path(env)
                                          : fs::path(POETRYOPS_DEFAULT_KUBE_CLUSTER);
}

/// Stops a previous supervisor recorded in DIR/node.json (only if it runs this very program), then
/// undoes what its node recorded. Returns false when host state could not be restored.
bool stop_previous(const fs::path& dir, bool verbose) {
    const fs::path state = dir / "node.json";
    auto info = read_node_info(state);
    if (!info) {
        if (verbose) std::printf("kube node: no node in %s: nothing to stop\n", dir.c_str());
        return true;
    }
    int sup = info->supervisor_pid;
    if (alive(sup) && exe_of(sup) == exe_of(::getpid())) {
        ::kill(sup, SIGTERM);
        // It deletes the node's Pods, stops its processes and undoes its host changes: give it
        // time.
        for (int i = 0; i < 1500 && alive(sup); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (alive(sup)) {
            std::printf("kube node: supervisor pid %d did not stop in 150 s: killed\n", sup);
            ::kill(sup, SIGKILL);
        }
        if (auto after = read_node_info(state))
            info = std::move(after);  // what it undid is cleared there
    }
    // Whatever the supervisor did not undo (it was killed, or crashed).
    UndoReport r = undo_node(*info);
    for (const auto& l : r.done) std::printf("kube node: %s\n", l.c_str());
    for (const auto& l : r.problems) std::printf("kube node: LEFT BEHIND: %s\n", l.c_str());
    if (verbose && !info->peak_rss_kib.empty()) {
        std::string mem;
        for (const auto& [name, kib] : info->peak_rss_kib) {
            mem += (mem.empty() ? "" : ", ") + name + " " + std::to_string(kib / 1024) + " MiB";
        }
        std::printf("kube node: peak RSS %s\n", mem.c_str());
    }
    info->stopped = r.problems.empty();
    info->supervisor_pid = 0;
    if (r.problems.empty()) {
        std::error_code ec;
        fs::remove(state, ec);
    } else {
        (void)write_node_info(*info, state);  // a later `down` tries again
    }
    return r.problems.empty();
}

[[noreturn]] void supervise(const fs::path& dir, const ClusterInfo& cluster, int watch_pid,
                            int ready_fd) {
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
    // Progress goes line by line to `up` (which prints it for ctest's output) while starting, then
    // to the log.
    FILE* progress = ready_fd >= 0 ? ::fdopen(::dup(ready_fd), "w") : nullptr;
    Node node;
    auto started = node.start(
        dir / "node", cluster,
        {.state_file = dir / "node.json", .supervisor_pid = ::getpid(), .progress = progress});
    if (!started) {
        report("FAILED " + started.error().message);
        node.stop();
        std::_Exit(1);
    }
    report("READY");
    node.set_progress(stderr);  // from here on: the log
    if (progress != nullptr) std::fclose(progress);
    ::close(ready_fd);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::hours(3);
    while (!g_stop && alive(watch_pid) && alive(cluster.supervisor_pid) &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    std::fprintf(stderr, "supervisor: stopping (%s)\n",
                 g_stop                           ? "asked to"
                 : !alive(watch_pid)              ? "the process that started it is gone"
                 : !alive(cluster.supervisor_pid) ? "the cluster's supervisor is gone"
                                                  : "3 hours passed");
    node.stop();
    std::_Exit(0);
}

int up(const fs::path& dir, const fs::path& cluster_json) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        std::printf("cannot create %s: %s\n", dir.c_str(), ec.message().c_str());
        return 1;
    }
    // A previous run's node (its supervisor, or what a crashed one left on the host) goes first: a
    // kubelet it left running would otherwise make the lane look unavailable.
    if (!stop_previous(dir, false)) {
        std::printf(
            "kube node: the previous node in %s left host state behind (above); not starting\n",
            dir.c_str());
        return 1;
    }
    std::string why = node_skip_reason();
    if (!why.empty()) {
        std::printf("%s\n", why.c_str());
        if (lane_required()) {
            std::printf("POETRYOPS_REQUIRE_KUBE_LANE=1: the node lane must run here\n");
            return 1;
        }
        return 0;
    }
    auto cluster = read_info(cluster_json);
    if (!cluster || !alive(cluster->supervisor_pid)) {
        std::printf(
            "kube node: no running cluster at %s (%s); the fixture kube_cluster starts it\n",
            cluster_json.c_str(),
            cluster ? "its supervisor is gone" : cluster.error().message.c_str());
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
        supervise(dir, *cluster, watch, fds[1]);
    }
    ::close(fds[1]);
    int st = 0;
    ::waitpid(pid, &st, 0);
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
        std::printf("the node lane did not start; see %s and %s\n",
                    (dir / "supervisor.log").c_str(), (dir / "node" / "logs").c_str());
        return 1;
    }
    return 0;
}

int down(const fs::path& dir) {
    bool clean = stop_previous(dir, true);
    std::printf("kube node: node in %s %s\n", dir.c_str(),
                clean ? "stopped" : "stopped, with host state LEFT BEHIND");
    return clean ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3 || argc > 4 ||
        (std::strcmp(argv[1], "up") != 0 && std::strcmp(argv[1], "down") != 0) ||
        (argc == 4 && std::strcmp(argv[1], "up") != 0)) {
        std::fprintf(stderr, "usage: poetryops-test-node up DIR [CLUSTER_JSON] | down DIR\n");
        return 2;
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    fs::path dir = fs::absolute(argv[2]);
    return std::strcmp(argv[1], "up") == 0 ? up(dir, cluster_file(argc, argv)) : down(dir);
}

// bench_controller_startup: 10,000 PoetryApps in the fake API server; the real `poetryops controller --no-promotion`
// binary runs as a child process against it. Measured: time from spawn to caches synced (/readyz 200) and to every app reconciled
// once (poetryops_status_writes_total{result="written"} == N: each app's first reconcile writes its status), peak RSS
// (VmHWM) and steady RSS (VmRSS once the reconcile counter stops moving) of the child. Baselines in the same run:
// a plain paginated list (limit 500) of the same objects, and the floor of the work itself (that list plus N status
// PUTs from 8 threads, in-process, no informer or queue), and the child's RSS watching an empty namespace.
//
//   bench_controller_startup [--apps 10000] [--namespaces 10] [--workers 8] [--binary PATH]
#include "kube/fake_apiserver.hpp"

#include <poetryops/api/codec.hpp>
#include <poetryops/kube/client.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>
#include <support/support.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>

using namespace poetryops;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

std::string g_log_level = "warn";

double seconds_since(SteadyClock::time_point t) { return std::chrono::duration<double>(SteadyClock::now() - t).count(); }

/// GET http://127.0.0.1:port/path with a plain socket; returns "" on any failure, else status line + body.
std::string http_get(int port, const std::string& path) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return "";
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string out;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        if (::send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size())) {
            char buf[65536];
            ssize_t n;
            while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    return out;
}

/// Sum of every sample line of a metric family in Prometheus text (optionally only lines containing `filter`).
double metric_sum(const std::string& text, const std::string& name, const std::string& filter = {}) {
    double sum = 0;
    std::size_t pos = 0;
    while ((pos = text.find(name, pos)) != std::string::npos) {
        bool line_start = pos == 0 || text[pos - 1] == '\n';
        auto eol = text.find('\n', pos);
        std::string line = text.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
        pos = eol == std::string::npos ? text.size() : eol;
        if (!line_start || line.size() <= name.size()) continue;
        char next = line[name.size()];
        if (next != ' ' && next != '{') continue;
        if (!filter.empty() && line.find(filter) == std::string::npos) continue;
        sum += std::atof(line.substr(line.rfind(' ') + 1).c_str());
    }
    return sum;
}

/// VmHWM / VmRSS of a process in MiB (-1 when unreadable).
double proc_mib(int pid, const std::string& field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(field + ":", 0) == 0) return std::atof(line.substr(field.size() + 1).c_str()) / 1024.0;
    }
    return -1;
}

json make_app(int i, const std::string& ns) {
    std::string name = "app-" + std::to_string(i);
    json envs = json::array();
    envs.push_back({{"name", "dev"}, {"path", "apps/" + name + "/dev"}});
    envs.push_back({{"name", "staging"}, {"path", "apps/" + name + "/staging"}, {"promotion", {{"soak", "10m"}}},
                    {"health", {{"argocd", {{"application", name + "-staging"}}}}}});
    envs.push_back({{"name", "prod"},
                    {"path", "apps/" + name + "/prod"},
                    {"promotion", {{"approval", "required"}}},
                    {"canary",
                     {{"traffic", {{"route", name}, {"stable", name}, {"canary", name + "-canary"}}},
                      {"steps", json::array({json{{"weight", 5}, {"pause", "5m"}}, json{{"weight", 50}}})}}}});
    json spec{{"source", {{"repoURL", "https://git.example.com/acme/" + name + ".git"}}},
              {"image", {{"repository", "registry.example.com/acme/" + name}}},
              {"build", json::object()},
              {"gitops", {{"repoURL", "https://git.example.com/acme/deploy.git"}}},
              {"environments", envs}};
    // One app in twenty is invalid, so both status paths (Ready and InvalidSpec + Event) are exercised.
    if (i % 20 == 0) spec["environments"][1]["path"] = "../outside";
    return {{"apiVersion", "poetryops.io/v1alpha1"},
            {"kind", "PoetryApp"},
            {"metadata", {{"name", name}, {"namespace", ns}, {"labels", {{"team", ns}}}}},
            {"spec", spec}};
}

struct ChildRun {
    double ready_s = -1, reconciled_s = -1, peak_mib = -1, steady_mib = -1;
    double reconciles = 0, writes = 0;
    int exit_code = -1;
    bool ok = false;
};

ChildRun run_child(const std::string& binary, const std::string& kubeconfig, const std::vector<std::string>& extra,
                   int expect_writes, const std::string& log) {
    ChildRun r;
    int mport = test::free_port(), hport = test::free_port();
    std::vector<std::string> argv{binary, "--log-level", g_log_level, "controller", "--kubeconfig", kubeconfig,
                                  "--metrics-bind-address", "127.0.0.1:" + std::to_string(mport),
                                  "--health-probe-bind-address", "127.0.0.1:" + std::to_string(hport),
                                  // Validation and status only: the promotion engine would contact the apps'
                                  // (fictional) registries and git servers, which is not what this measures.
                                  "--no-promotion"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto t0 = SteadyClock::now();
    ProcessOptions po;
    if (const char* arenas = std::getenv("BENCH_MALLOC_ARENA_MAX")) po.env["MALLOC_ARENA_MAX"] = arenas;
    auto child = ChildProcess::spawn(argv, po, log);
    if (!child) {
        std::cerr << "cannot start " << binary << ": " << child.error().message << "\n";
        return r;
    }
    auto deadline = t0 + std::chrono::seconds(120);
    while (SteadyClock::now() < deadline && child->running()) {
        if (r.ready_s < 0 && http_get(hport, "/readyz").rfind("HTTP/1.1 200", 0) == 0) r.ready_s = seconds_since(t0);
        if (r.ready_s >= 0) {
            std::string m = http_get(mport, "/metrics");
            r.writes = metric_sum(m, "poetryops_status_writes_total", "result=\"written\"");
            if (r.writes >= expect_writes) {
                r.reconciled_s = seconds_since(t0);
                break;
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    // Steady state: wait until the reconcile counter stops moving (our own status writes come back as watch events
    // and are reconciled once more, without writing), then sample RSS.
    double last = -1;
    for (int i = 0; i < 600 && child->running(); ++i) {
        std::string m = http_get(mport, "/metrics");
        double now = metric_sum(m, "controller_runtime_reconcile_total");
        if (now == last) break;
        last = now;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    r.reconciles = last;
    r.steady_mib = proc_mib(child->pid(), "VmRSS");
    r.peak_mib = proc_mib(child->pid(), "VmHWM");
    r.exit_code = child->stop(std::chrono::seconds(10));  // SIGTERM: graceful, expect 0
    r.ok = r.reconciled_s >= 0 && r.exit_code == 0;
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    int apps = 10000, namespaces = 10, workers = 8;
    std::string binary;
    bool keep = false;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--apps") apps = std::atoi(argv[i + 1]);
        else if (a == "--namespaces") namespaces = std::atoi(argv[i + 1]);
        else if (a == "--workers") workers = std::atoi(argv[i + 1]);
        else if (a == "--binary") binary = argv[i + 1];
        else if (a == "--keep") keep = std::string(argv[i + 1]) == "true";
        else if (a == "--log-level") g_log_level = argv[i + 1];
        else {
            std::cerr << "unknown flag " << a << "\n";
            return 2;
        }
    }
    if (binary.empty()) {
        // bench/bench_controller_startup → ../poetryops in the same build tree.
        binary = (std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path() / "poetryops").string();
    }
    if (!std::filesystem::exists(binary)) {
        std::cerr << "poetryops binary not found at " << binary << " (build target `poetryops` or pass --binary)\n";
        return 2;
    }

    kube::fake::FakeApiServer server;
    kube::fake::FakeApiServerOptions so;
    so.history = static_cast<std::size_t>(apps) * 4 + 1000;
    if (auto s = server.start(so); !s) {
        std::cerr << "fake API server: " << s.error().message << "\n";
        return 1;
    }
    auto gvr = kube::resources::poetryapps();
    server.register_type({gvr, "PoetryApp", true});
    for (int n = 0; n < namespaces; ++n) server.ensure_namespace("team-" + std::to_string(n));
    server.ensure_namespace("empty");
    auto fill0 = SteadyClock::now();
    for (int i = 0; i < apps; ++i) {
        auto put = server.put(gvr, make_app(i, "team-" + std::to_string(i % namespaces)));
        if (!put) {
            std::cerr << "put: " << put.error().message << "\n";
            return 1;
        }
    }
    double fill_s = seconds_since(fill0);
    TempDir dir("bench-controller");
    if (keep) {
        dir.keep();
        std::cerr << "keeping " << dir.path() << "\n";
    }
    auto kubeconfig = dir.path() / "kubeconfig";
    if (auto w = server.write_kubeconfig(kubeconfig); !w) {
        std::cerr << w.error().message << "\n";
        return 1;
    }

    // Baseline 1: a plain paginated list of the same objects (what any client must at least do).
    auto client = kube::RestClient::create(server.config());
    if (!client) {
        std::cerr << client.error().message << "\n";
        return 1;
    }
    kube::ListOptions lo;
    lo.limit = 500;
    auto l0 = SteadyClock::now();
    auto listed = (*client)->list_all(gvr, lo);
    double list_s = seconds_since(l0);
    if (!listed || static_cast<int>(listed->items.size()) != apps) {
        std::cerr << "baseline list failed\n";
        return 1;
    }

    // The controller binary (the measured run) — before baseline 2 so it starts from status-less objects.
    auto run = run_child(binary, kubeconfig.string(), {"--max-concurrent-reconciles", std::to_string(workers)}, apps,
                         (dir.path() / "controller.log").string());
    // Idle RSS: the same binary watching an empty namespace.
    auto idle = run_child(binary, kubeconfig.string(), {"--namespace", "empty"}, 0,
                          (dir.path() / "idle.log").string());

    // Baseline 2: the floor of the work — list + one status PUT per app from `workers` threads, no informer/queue.
    for (auto& item : listed->items) item["status"] = json{{"observedGeneration", 0}, {"summary", "floor"}};
    std::atomic<std::size_t> next{0};
    std::atomic<int> put_errors{0};
    auto p0 = SteadyClock::now();
    auto relisted = (*client)->list_all(gvr, lo);
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
        threads.emplace_back([&] {
            auto c = kube::RestClient::create(server.config());
            if (!c) return;
            for (std::size_t i; (i = next++) < relisted->items.size();) {
                json obj = relisted->items[i];
                obj["status"]["summary"] = "floor";
                auto ref = gvr.in(obj["metadata"]["namespace"].get<std::string>())
                               .named(obj["metadata"]["name"].get<std::string>())
                               .sub("status");
                if (!(*c)->update_status(ref, obj)) ++put_errors;
            }
        });
    }
    for (auto& t : threads) t.join();
    double floor_s = seconds_since(p0);

    json out{{"benchmark", "controller_startup"},
             {"apps", apps},
             {"namespaces", namespaces},
             {"max_concurrent_reconciles", workers},
             {"measured", "child process: the real poetryops controller binary"},
             {"fill_store_s", fill_s},
             {"controller",
              {{"caches_synced_s", run.ready_s},
               {"all_reconciled_s", run.reconciled_s},
               {"status_writes", run.writes},
               {"reconciles_until_steady", run.reconciles},
               {"peak_rss_mib", run.peak_mib},
               {"steady_rss_mib", run.steady_mib},
               {"exit_code_after_sigterm", run.exit_code}}},
             {"idle_controller", {{"peak_rss_mib", idle.peak_mib}, {"steady_rss_mib", idle.steady_mib}}},
             {"baseline",
              {{"paginated_list_s", list_s},
               {"list_plus_status_puts_s", floor_s},
               {"put_errors", put_errors.load()}}},
             {"ratios",
              {{"all_reconciled_vs_list", list_s > 0 ? run.reconciled_s / list_s : 0},
               {"all_reconciled_vs_floor", floor_s > 0 ? run.reconciled_s / floor_s : 0}}},
             {"targets",
              {{"all_reconciled_le_3s", run.reconciled_s >= 0 && run.reconciled_s <= 3.0},
               {"peak_rss_le_64mib", run.peak_mib >= 0 && run.peak_mib <= 64.0}}}};
    std::cout << out.dump(2) << std::endl;
    return run.ok ? 0 : 1;
}

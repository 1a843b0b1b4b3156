// bench_controller_startup: 10,000 PoetryApps in an API server; the real `poetryops controller
// --no-promotion` binary runs as a child process against it. Measured: time from spawn to caches
// synced (/readyz 200) and to every app reconciled once
// (poetryops_status_writes_total{result="written"} == N: each app's first reconcile writes its
// status), peak RSS (VmHWM) and steady RSS (VmRSS once the reconcile counter stops moving) of the
// child. Baselines in the same run: a plain paginated list (limit 500) of the same objects, and the
// floor of the work itself (that list plus N status PUTs from 8 threads, in-process, no informer or
// queue), and the child's RSS watching an empty namespace.
//
// --server fake (default): the in-repo fake API server (tests/kube/fake_apiserver.hpp) inside this
// process, filled directly. --server real: etcd + kube-apiserver v1.28
// (tests/support/kube/cluster.hpp, no controller manager) in a temp dir, our CRD installed, the
// apps created through kube::RestClient from --workers threads (fill_store_s); the servers' own RSS
// and CPU are reported too. Needs POETRYOPS_TEST_K8S_BIN (scripts/kube-lane.sh) and etcd.
//
//   bench_controller_startup [--apps 10000] [--namespaces 10] [--workers 8] [--server fake|real]
//   [--binary PATH]
#include <poetryops/controller/resources.hpp>
#include "bench_support.hpp"
#include "kube/fake_apiserver.hpp"
#include "support/kube/cluster.hpp"
#include "support/kube/crds.hpp"

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
#include <iterator>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

using namespace poetryops;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

using poetryops::bench::seconds_since;

std::string g_log_level = "warn";

/// GET http://127.0.0.1:port/path with a plain socket; returns "" on any failure, else status line
/// + body.
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
        std::string req =
            "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        if (::send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size())) {
            char buf[65536];
            ssize_t n;
            while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0)
                out.append(buf, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    return out;
}

/// Sum of every sample line of a metric family in Prometheus text (optionally only lines containing
/// `filter`).
double metric_sum(const std::string& text, const std::string& name,
                  const std::string& filter = {}) {
    double sum = 0;
    std::size_t pos = 0;
    while ((pos = text.find(name, pos)) != std::string::npos) {
        bool line_start = pos == 0 || text[pos - 1] == '\n';
        auto eol = text.find('\n', pos);
        std::string line =
            text.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
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
        if (line.rfind(field + ":", 0) == 0)
            return std::atof(line.substr(field.size() + 1).c_str()) / 1024.0;
    }
    return -1;
}

/// User + system CPU seconds a process has used so far (-1 when unreadable).
double proc_cpu_s(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto close = stat.rfind(')');
    if (close == std::string::npos) return -1;
    std::istringstream fields(stat.substr(close + 2));  // field 3 (state) onwards
    std::string f;
    double utime = -1, stime = -1;
    for (int n = 3; fields >> f; ++n) {
        if (n == 14) utime = std::atof(f.c_str());
        if (n == 15) {
            stime = std::atof(f.c_str());
            break;
        }
    }
    if (utime < 0 || stime < 0) return -1;
    return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

json make_app(int i, const std::string& ns) {
    std::string name = "app-" + std::to_string(i);
    json envs = json::array();
    envs.push_back({{"name", "dev"}, {"path", "apps/" + name + "/dev"}});
    envs.push_back({{"name", "staging"},
                    {"path", "apps/" + name + "/staging"},
                    {"promotion", {{"soak", "10m"}}},
                    {"health", {{"argocd", {{"application", name + "-staging"}}}}}});
    envs.push_back(
        {{"name", "prod"},
         {"path", "apps/" + name + "/prod"},
         {"promotion", {{"approval", {{"required", true}}}}},
         {"canary",
          {{"traffic", {{"route", name}, {"stable", name}, {"canary", name + "-canary"}}},
           {"steps", json::array({json{{"weight", 5}, {"pause", "5m"}}, json{{"weight", 50}}})}}}});
    json spec{{"source", {{"repoURL", "https://git.example.com/acme/" + name + ".git"}}},
              {"image", {{"repository", "registry.example.com/acme/" + name}}},
              {"build", json::object()},
              {"gitops", {{"repoURL", "https://git.example.com/acme/deploy.git"}}},
              {"environments", envs}};
    // One app in twenty is invalid, so both status paths (Ready and InvalidSpec + Event) are
    // exercised.
    if (i % 20 == 0) spec["environments"][1]["path"] = "../outside";
    return {{"apiVersion", "poetryops.io/v1alpha1"},
            {"kind", "PoetryApp"},
            {"metadata", {{"name", name}, {"namespace", ns}, {"labels", {{"team", ns}}}}},
            {"spec", spec}};
}

struct ChildRun {
    double ready_s = -1, reconciled_s = -1, peak_mib = -1, steady_mib = -1;
    double reconciles = 0, writes = 0, cpu_s = -1;
    int exit_code = -1;
    bool ok = false;
};

ChildRun run_child(const std::string& binary, const std::string& kubeconfig,
                   const std::vector<std::string>& extra, int expect_writes, const std::string& log,
                   std::chrono::seconds limit = std::chrono::seconds(120),
                   std::chrono::milliseconds poll = std::chrono::milliseconds(5)) {
    ChildRun r;
    int mport = test::free_port(), hport = test::free_port();
    std::vector<std::string> argv{
        binary, "--log-level", g_log_level, "controller", "--kubeconfig", kubeconfig,
        "--metrics-bind-address", "127.0.0.1:" + std::to_string(mport),
        "--health-probe-bind-address", "127.0.0.1:" + std::to_string(hport),
        // Validation and status only: the promotion engine would contact the apps'
        // (fictional) registries and git servers, which is not what this measures.
        "--no-promotion"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto t0 = SteadyClock::now();
    ProcessOptions po;
    if (const char* arenas = std::getenv("BENCH_MALLOC_ARENA_MAX"))
        po.env["MALLOC_ARENA_MAX"] = arenas;
    auto child = ChildProcess::spawn(argv, po, log);
    if (!child) {
        std::cerr << "cannot start " << binary << ": " << child.error().message << "\n";
        return r;
    }
    auto deadline = t0 + limit;
    while (SteadyClock::now() < deadline && child->running()) {
        if (r.ready_s < 0 && http_get(hport, "/readyz").rfind("HTTP/1.1 200", 0) == 0)
            r.ready_s = seconds_since(t0);
        if (r.ready_s >= 0) {
            std::string m = http_get(mport, "/metrics");
            r.writes = metric_sum(m, "poetryops_status_writes_total", "result=\"written\"");
            if (r.writes >= expect_writes) {
                r.reconciled_s = seconds_since(t0);
                break;
            }
        }
        std::this_thread::sleep_for(poll);
    }
    // Steady state: wait until the reconcile counter stops moving (our own status writes come back
    // as watch events and are reconciled once more, without writing), then sample RSS.
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
    r.cpu_s = proc_cpu_s(child->pid());
    r.exit_code = child->stop(std::chrono::seconds(10));  // SIGTERM: graceful, expect 0
    r.ok = r.reconciled_s >= 0 && r.exit_code == 0;
    return r;
}

/// Per-request figures of a histogram family in the API server's /metrics, for lines that mention
/// poetryapps: key "VERB[/subresource]" (apiserver_request_duration_seconds) or "operation"
/// (etcd_request_duration_seconds) → {count, sum_s}.
std::map<std::string, std::pair<double, double>> server_histogram(
    const std::string& text, const std::string& family, const std::string& key_label,
    const std::string& second_label = {}) {
    std::map<std::string, std::pair<double, double>> out;
    auto label = [](const std::string& labels, const std::string& name) {
        auto p = labels.find(name + "=\"");
        if (p == std::string::npos) return std::string();
        p += name.size() + 2;
        return labels.substr(p, labels.find('"', p) - p);
    };
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        bool is_sum = line.rfind(family + "_sum{", 0) == 0,
             is_count = line.rfind(family + "_count{", 0) == 0;
        if (!is_sum && !is_count) continue;
        if (line.find("poetryapps") == std::string::npos) continue;
        if (line.find("verb=\"WATCH\"") != std::string::npos)
            continue;  // its duration is the watch's lifetime
        auto open = line.find('{'), close = line.rfind('}');
        std::string labels = line.substr(open + 1, close - open - 1);
        std::string key = label(labels, key_label);
        if (!second_label.empty() && !label(labels, second_label).empty())
            key += "/" + label(labels, second_label);
        double v = std::atof(line.substr(close + 2).c_str());
        (is_count ? out[key].first : out[key].second) += v;
    }
    return out;
}

/// The difference of two server_histogram snapshots as {key: {requests, mean_ms, total_s}}.
json histogram_delta(const std::map<std::string, std::pair<double, double>>& before,
                     const std::map<std::string, std::pair<double, double>>& after) {
    json out = json::object();
    for (const auto& [key, v] : after) {
        auto b = before.count(key) ? before.at(key) : std::pair<double, double>{0, 0};
        double n = v.first - b.first, sum = v.second - b.second;
        if (n <= 0) continue;
        out[key] = {{"requests", n}, {"mean_ms", sum / n * 1000.0}, {"total_s", sum}};
    }
    return out;
}

/// RSS (VmHWM / VmRSS) and CPU of one server process of the real cluster.
json server_process(int pid, double cpu_before_controller, double cpu_after_controller) {
    return {{"pid", pid},
            {"peak_rss_mib", proc_mib(pid, "VmHWM")},
            {"rss_mib", proc_mib(pid, "VmRSS")},
            {"cpu_s_total", proc_cpu_s(pid)},
            {"cpu_s_during_controller_run", cpu_before_controller >= 0 && cpu_after_controller >= 0
                                                ? cpu_after_controller - cpu_before_controller
                                                : -1.0}};
}

}  // namespace

int main(int argc, char** argv) {
    int apps = 10000, namespaces = 10, workers = 8;
    std::string binary, server_kind = "fake";
    bool keep = false;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--apps")
            apps = std::atoi(argv[i + 1]);
        else if (a == "--namespaces")
            namespaces = std::atoi(argv[i + 1]);
        else if (a == "--workers")
            workers = std::atoi(argv[i + 1]);
        else if (a == "--binary")
            binary = argv[i + 1];
        else if (a == "--keep")
            keep = std::string(argv[i + 1]) == "true";
        else if (a == "--log-level")
            g_log_level = argv[i + 1];
        else if (a == "--server")
            server_kind = argv[i + 1];
        else {
            std::cerr << "unknown flag " << a << "\n";
            return 2;
        }
    }
    if (server_kind != "fake" && server_kind != "real") {
        std::cerr << "--server: fake or real\n";
        return 2;
    }
    const bool real = server_kind == "real";
    if (binary.empty()) {
        // bench/bench_controller_startup → ../poetryops in the same build tree.
        binary = (std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path() /
                  "poetryops")
                     .string();
    }
    if (!std::filesystem::exists(binary)) {
        std::cerr << "poetryops binary not found at " << binary
                  << " (build target `poetryops` or pass --binary)\n";
        return 2;
    }
    if (real) {
        if (auto why = test::kube::lane_skip_reason(); !why.empty()) {
            std::cerr << "--server real: " << why << "\n";
            return 2;
        }
    }

    // Declared before the servers so that they stop before the folder (the real cluster's data) is
    // removed.
    TempDir dir("bench-controller");
    if (keep) {
        dir.keep();
        std::cerr << "keeping " << dir.path() << "\n";
    }
    auto kubeconfig = dir.path() / "kubeconfig";
    auto gvr = controller::poetryapps();
    kube::fake::FakeApiServer server;
    test::kube::Cluster cluster;
    kube::KubeConfig config;
    double fill_s = 0, crd_s = 0, cluster_start_s = 0;
    if (!real) {
        kube::fake::FakeApiServerOptions so;
        so.history = static_cast<std::size_t>(apps) * 4 + 1000;
        if (auto s = server.start(so); !s) {
            std::cerr << "fake API server: " << s.error().message << "\n";
            return 1;
        }
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
        fill_s = seconds_since(fill0);
        if (auto w = server.write_kubeconfig(kubeconfig); !w) {
            std::cerr << w.error().message << "\n";
            return 1;
        }
        config = server.config();
    } else {
        auto c0 = SteadyClock::now();
        if (auto st = cluster.start(dir.path() / "cluster",
                                    {.controller_manager = false, .progress = stderr});
            !st) {
            std::cerr << "cluster: " << st.error().message << "\n";
            return 1;
        }
        cluster_start_s = seconds_since(c0);
        kubeconfig = cluster.info().admin_kubeconfig;
        auto admin = cluster.info().admin();
        if (!admin) {
            std::cerr << admin.error().message << "\n";
            return 1;
        }
        config = *admin;
        auto setup = kube::RestClient::create(config);
        if (!setup) {
            std::cerr << setup.error().message << "\n";
            return 1;
        }
        auto k0 = SteadyClock::now();
        if (auto crds = test::kube::apply_crds(**setup,
                                               test::kube::yaml_files(test::source_dir() / "crds"));
            !crds) {
            std::cerr << "CRD: " << crds.error().message << "\n";
            return 1;
        }
        crd_s = seconds_since(k0);
        std::vector<std::string> nss;
        for (int n = 0; n < namespaces; ++n) nss.push_back("team-" + std::to_string(n));
        nss.push_back("empty");
        for (const auto& ns : nss) {
            json obj{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}};
            if (auto c = (*setup)->create(kube::resources::namespaces(), obj); !c) {
                std::cerr << "namespace " << ns << ": " << c.error().message << "\n";
                return 1;
            }
        }
        // The apps: parallel creates (POST) from `workers` threads, one client (connection) each.
        std::atomic<int> next_app{0}, create_errors{0};
        std::mutex err_mu;
        std::string first_error;
        auto fill0 = SteadyClock::now();
        std::vector<std::thread> fillers;
        for (int w = 0; w < workers; ++w) {
            fillers.emplace_back([&] {
                auto c = kube::RestClient::create(config);
                if (!c) {
                    ++create_errors;
                    return;
                }
                for (int i; (i = next_app++) < apps;) {
                    std::string ns = "team-" + std::to_string(i % namespaces);
                    auto created = (*c)->create(gvr.in(ns), make_app(i, ns));
                    if (!created) {
                        ++create_errors;
                        std::lock_guard lock(err_mu);
                        if (first_error.empty()) first_error = created.error().message;
                    }
                }
            });
        }
        for (auto& t : fillers) t.join();
        fill_s = seconds_since(fill0);
        std::cerr << "bench: " << apps << " PoetryApps created in " << fill_s << " s\n";
        if (create_errors > 0) {
            std::cerr << create_errors.load() << " creates failed, first: " << first_error << "\n";
            return 1;
        }
    }

    // Baseline 1: a plain paginated list of the same objects (what any client must at least do).
    auto client = kube::RestClient::create(config);
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
    std::size_t listed_bytes = 0;
    for (const auto& item : listed->items) listed_bytes += item.dump().size();
    listed->items.clear();

    // The real servers' CPU up to here (fill, list), to tell what the controller run itself costs
    // them.
    const int etcd_pid = real ? cluster.info().pids.at(0) : 0;
    const int apiserver_pid = real ? cluster.info().pids.at(1) : 0;
    double etcd_cpu0 = real ? proc_cpu_s(etcd_pid) : -1,
           api_cpu0 = real ? proc_cpu_s(apiserver_pid) : -1;
    auto server_metrics = [&]() -> std::string {
        if (!real) return {};
        auto m = (*client)->raw("GET", "/metrics");
        return m ? *m : std::string();
    };
    std::string metrics0 = server_metrics();
    double api_rss_after_fill = real ? proc_mib(apiserver_pid, "VmRSS") : -1;
    double etcd_rss_after_fill = real ? proc_mib(etcd_pid, "VmRSS") : -1;

    // The controller binary (the measured run) — before baseline 2 so it starts from status-less
    // objects. A real API server is given more time than the in-process fake (writes go through
    // admission and etcd), and the child's /metrics is polled every 50 ms instead of 5 ms: over a
    // run of minutes, scraping 200 times a second cost the controller ~0.1 CPU-second per second
    // (measured), CPU the API server needs on this machine.
    auto run = run_child(
        binary, kubeconfig.string(), {"--max-concurrent-reconciles", std::to_string(workers)}, apps,
        (dir.path() / "controller.log").string(), std::chrono::seconds(real ? 900 : 120),
        std::chrono::milliseconds(real ? 50 : 5));
    double etcd_cpu1 = real ? proc_cpu_s(etcd_pid) : -1,
           api_cpu1 = real ? proc_cpu_s(apiserver_pid) : -1;
    std::string metrics1 = server_metrics();
    if (real)
        std::cerr << "bench: controller run done, every app reconciled after " << run.reconciled_s
                  << " s\n";
    // Idle RSS: the same binary watching an empty namespace.
    auto idle = run_child(binary, kubeconfig.string(), {"--namespace", "empty"}, 0,
                          (dir.path() / "idle.log").string());

    // Baseline 2: the floor of the work — list + one status PUT per app from `workers` threads, no
    // informer/queue.
    std::atomic<std::size_t> next{0};
    std::atomic<int> put_errors{0};
    auto p0 = SteadyClock::now();
    auto relisted = (*client)->list_all(gvr, lo);
    if (!relisted) {
        std::cerr << "baseline relist failed: " << relisted.error().message << "\n";
        return 1;
    }
    double obj_bytes = 0, obj_bytes_no_mf = 0;
    for (const auto& item : relisted->items) {
        obj_bytes += static_cast<double>(item.dump().size());
        json copy = item;
        copy["metadata"].erase("managedFields");
        obj_bytes_no_mf += static_cast<double>(copy.dump().size());
    }
    const double n_items =
        relisted->items.empty() ? 1.0 : static_cast<double>(relisted->items.size());
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
        threads.emplace_back([&] {
            auto c = kube::RestClient::create(config);
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

    json out{
        {"benchmark", "controller_startup"},
        {"server", server_kind},
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
          {"cpu_s", run.cpu_s},
          {"exit_code_after_sigterm", run.exit_code}}},
        {"idle_controller", {{"peak_rss_mib", idle.peak_mib}, {"steady_rss_mib", idle.steady_mib}}},
        {"baseline",
         {{"paginated_list_s", list_s},
          {"listed_json_mib", static_cast<double>(listed_bytes) / (1024.0 * 1024.0)},
          {"object_json_bytes_with_status", obj_bytes / n_items},
          {"object_json_bytes_with_status_no_managed_fields", obj_bytes_no_mf / n_items},
          {"list_plus_status_puts_s", floor_s},
          {"put_errors", put_errors.load()}}},
        {"ratios",
         {{"all_reconciled_vs_list", list_s > 0 ? run.reconciled_s / list_s : 0},
          {"all_reconciled_vs_floor", floor_s > 0 ? run.reconciled_s / floor_s : 0}}},
        {"targets",
         {{"all_reconciled_le_3s", run.reconciled_s >= 0 && run.reconciled_s <= 3.0},
          {"peak_rss_le_64mib", run.peak_mib >= 0 && run.peak_mib <= 64.0}}}};
    if (real) {
        // After everything (fill, lists, the controller runs, the floor's 10,000 PUTs): what the
        // server itself costs.
        std::error_code ec;
        auto db = std::filesystem::file_size(cluster.info().dir / "etcd/member/snap/db", ec);
        out["real_server"] = {
            {"version", "kube-apiserver v1.28.7 + etcd (Debian)"},
            {"cluster_start_s", cluster_start_s},
            {"crd_established_s", crd_s},
            {"kube_apiserver", server_process(apiserver_pid, api_cpu0, api_cpu1)},
            {"etcd", server_process(etcd_pid, etcd_cpu0, etcd_cpu1)},
            {"rss_after_fill_mib",
             {{"kube_apiserver", api_rss_after_fill}, {"etcd", etcd_rss_after_fill}}},
            {"etcd_db_mib", ec ? -1.0 : static_cast<double>(db) / (1024.0 * 1024.0)},
            // Server-side time per poetryapps request while the controller ran (its list, watch,
            // status PUTs).
            {"during_controller_run",
             {{"apiserver_request_duration",
               histogram_delta(server_histogram(metrics0, "apiserver_request_duration_seconds",
                                                "verb", "subresource"),
                               server_histogram(metrics1, "apiserver_request_duration_seconds",
                                                "verb", "subresource"))},
              {"etcd_request_duration",
               histogram_delta(
                   server_histogram(metrics0, "etcd_request_duration_seconds", "operation"),
                   server_histogram(metrics1, "etcd_request_duration_seconds", "operation"))}}}};
    }
    std::cout << out.dump(2) << std::endl;
    return run.ok ? 0 : 1;
}

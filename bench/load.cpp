// bench_load: issue #15 "Load". `poetryops controller` (the AppController in-process: informer,
// workqueue, promotion engine, registry webhook) against a real kube-apiserver holding N
// PoetryApps (default 10,000), each following its own repository on a real docker-registry whose
// push notifications go to the controller's webhook, each pinning its image in its own overlay of
// one GitOps repository on a real git server (lighttpd + git-http-backend, basic auth from a
// Secret). After the first sync, a new version of one app (round robin) is pushed every
// --interval-ms for --seconds: t0 = its manifest PUT returned, t1 = a commit on the branch carries
// its Poetryops-Promotion trailer (the branch is polled every 20 ms). Reports push → commit
// latency percentiles, the process RSS (before the controller, after the first sync, peak under
// load: RSS ≤ 64 MiB + O(apps) is the goal) and the peak workqueue depth (sampled every 100 ms).
// The floor, measured in the same run: one `git push` of a one-line change to the same server plus
// one registry HEAD. Prints one JSON object.
//
//   bench_load [--apps 10000] [--interval-ms 10] [--seconds 300] [--window-ms W] [--workers 4]
//              [--registry-rps R]
//
// --workers is `poetryops controller --max-concurrent-reconciles` (default 4); --registry-rps the
// registry client's request budget per registry (default 50/s, burst 100).
//
// Needs the real Kubernetes lane (../shared/k8s or POETRYOPS_K8S_BIN_DIR; scripts/kube-lane.sh).
#include <poetryops/controller/app_controller.hpp>
#include <poetryops/controller/resources.hpp>
#include <poetryops/http/client.hpp>
#include <poetryops/kube/client.hpp>
#include <poetryops/registry/client.hpp>
#include <poetryops/registry/reference.hpp>
#include <poetryops/runtime/manager.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/log.hpp>
#include <poetryops/util/metrics.hpp>
#include <poetryops/util/strings.hpp>

#include "bench_support.hpp"
#include "support/git/git_servers.hpp"
#include "support/kube/cluster.hpp"
#include "support/kube/crds.hpp"
#include "support/registry/test_registry.hpp"

#include <support/support.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace poetryops;
using Steady = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

using poetryops::bench::ms_between;
using poetryops::bench::percentile;
using poetryops::bench::proc_mib;
using poetryops::bench::read_tip;

/// VmRSS of this process in MiB.

std::string app_name(int i) { return "app" + std::to_string(i); }

}  // namespace

int main(int argc, char** argv) {
    int apps = 10000, interval_ms = 10, seconds = 300, window_ms = -1, workers = 4,
        registry_rps = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        int v = std::atoi(argv[i + 1]);
        if (a == "--apps")
            apps = v;
        else if (a == "--interval-ms")
            interval_ms = v;
        else if (a == "--seconds")
            seconds = v;
        else if (a == "--window-ms")
            window_ms = v;
    }
    log::set_level(std::getenv("POETRYOPS_BENCH_DEBUG") ? log::Level::debug : log::Level::error);
    if (auto why = test::kube::lane_skip_reason(); !why.empty()) {
        std::cerr << "bench_load needs the real Kubernetes lane: " << why << "\n";
        return 2;
    }
    if (!test::require_tools({"git", "lighttpd", "docker-registry", "skopeo", "umoci"})) return 2;
    const auto started = Steady::now();
    auto progress = [&](const std::string& what) {
        std::cerr << "bench_load: " << static_cast<int>(ms_between(started, Steady::now()) / 1000)
                  << " s: " << what << "\n";
    };
    const double rss_start = proc_mib("VmRSS");

    // The GitOps repository: one overlay per app.
    test::TestCa ca;
    test::BareRepos repos;
    const fs::path bare = repos.create("gitops.git");
    repos.create("floor.git");
    test::HttpGitServer git_server(repos, ca);
    if (!git_server.started()) {
        std::cerr << "git server: " << git_server.error_log() << "\n";
        return 2;
    }
    const int webhook_port = test::free_port();
    const std::string token = "bench-load-token";
    auto reg = test::TestRegistry::start(
        {.notify_url = "http://127.0.0.1:" + std::to_string(webhook_port) + "/webhooks/registry",
         .notify_token = token});
    if (!reg) return 2;
    auto image = [&](int i) { return reg->host() + "/load/" + app_name(i); };
    {
        std::map<std::string, std::string> files;
        for (int i = 0; i < apps; ++i)
            files["apps/" + app_name(i) + "/kustomization.yaml"] =
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                "resources: []\nimages:\n- name: " +
                image(i) + "\n  newTag: old\n";
        repos.commit_files("gitops.git", files);
        repos.commit_files("floor.git", {{"notes.txt", "0\n"}});
    }
    progress("git server and registry up, " + std::to_string(apps) + " overlays committed");

    // One base image through skopeo; every app's repository gets its blobs by cross-repository
    // mount, and each version is a distinct manifest over them (an annotation names the version).
    if (reg->push_image("load/base", "base", "load payload").empty()) return 2;
    registry::RegistryClientOptions ro;
    ro.hosts[reg->host()].plain_http = true;
    auto pusher = registry::RegistryClient::create(ro).value();
    auto base =
        pusher->get_manifest(registry::parse_reference(reg->host() + "/load/base:base").value());
    if (!base) {
        std::cerr << "base manifest: " << base.error().message << "\n";
        return 2;
    }
    const nlohmann::json base_manifest = nlohmann::json::parse(base->bytes);
    std::vector<std::string> blobs{base_manifest["config"]["digest"].get<std::string>()};
    for (const auto& l : base_manifest["layers"]) blobs.push_back(l["digest"].get<std::string>());
    auto http = http::Client::create({}).value();
    for (int i = 0; i < apps; ++i) {
        for (const auto& blob : blobs) {
            http::Request req;
            req.method = "POST";
            req.url = "http://" + reg->host() + "/v2/load/" + app_name(i) +
                      "/blobs/uploads/?mount=" + blob + "&from=load/base";
            auto r = http->request(req);
            if (!r || r->status != 201) {
                std::cerr << "blob mount into " << app_name(i) << ": "
                          << (r ? std::to_string(r->status) : r.error().message) << "\n";
                return 2;
            }
        }
    }
    auto push_version = [&](int i, const std::string& version) -> std::string {
        nlohmann::json m = base_manifest;
        m["annotations"]["org.opencontainers.image.version"] = version;
        m["annotations"]["org.opencontainers.image.title"] = app_name(i);
        auto d = pusher->put_manifest(registry::parse_repository(image(i)).value(), version,
                                      m.dump(), base->media_type);
        return d ? d->digest : "";
    };
    progress("blobs mounted into " + std::to_string(apps) + " repositories");

    // The real API server with the CRD, a namespace, the git Secret and N PoetryApps.
    TempDir work("poetryops-bench-load");
    test::kube::Cluster cluster;
    if (auto st = cluster.start(work.path() / "cluster", {.controller_manager = false}); !st) {
        std::cerr << "cluster: " << st.error().message << "\n";
        return 2;
    }
    auto admin = cluster.info().admin();
    if (!admin) return 2;
    auto setup = kube::RestClient::create(*admin).value();
    if (auto crds =
            test::kube::apply_crds(*setup, test::kube::yaml_files(test::source_dir() / "crds"));
        !crds) {
        std::cerr << "CRD: " << crds.error().message << "\n";
        return 2;
    }
    const auto gvr = controller::poetryapps();
    nlohmann::json ns = {
        {"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "load"}}}};
    nlohmann::json secret = {{"apiVersion", "v1"},
                             {"kind", "Secret"},
                             {"metadata", {{"name", "gitops-push"}, {"namespace", "load"}}},
                             {"data",
                              {{"username", str::base64_encode(git_server.user())},
                               {"password", str::base64_encode(git_server.password())}}}};
    if (!setup->create(kube::resources::namespaces(), ns) ||
        !setup->create(kube::resources::secrets().in("load"), secret))
        return 2;
    for (int i = 0; i < apps; ++i) {
        nlohmann::json app = {
            {"apiVersion", "poetryops.io/v1alpha1"},
            {"kind", "PoetryApp"},
            {"metadata", {{"name", app_name(i)}, {"namespace", "load"}}},
            {"spec",
             // Webhook-driven: the registry notifies every push. The 5-minute default poll of
             // 10,000 apps alone would be 33 registry reads/s.
             {{"image",
               {{"repository", image(i)},
                {"tagTemplate", "{version}"},
                {"policy", {{"pollInterval", "1h"}}}}},
              {"gitops",
               {{"repoURL", git_server.http_url("gitops.git")},
                {"secretRef", {{"name", "gitops-push"}}}}},
              {"environments",
               nlohmann::json::array({{{"name", "dev"}, {"path", "apps/" + app_name(i)}}})}}}};
        if (auto c = setup->create(gvr.in("load"), app); !c) {
            std::cerr << "create " << app_name(i) << ": " << c.error().message << "\n";
            return 2;
        }
        if ((i + 1) % 2000 == 0) progress(std::to_string(i + 1) + " PoetryApps created");
    }
    const double rss_before_controller = proc_mib("VmRSS");

    controller::AppControllerConfig cfg;
    cfg.namespaces = {"load"};
    cfg.max_concurrent_reconciles = workers;
    cfg.metrics_bind_address = "127.0.0.1:0";
    cfg.health_probe_bind_address = "127.0.0.1:0";
    controller::ClusterPromotionOptions po;
    po.cache_dir = work.path() / "cache";
    po.webhook_address = "127.0.0.1:" + std::to_string(webhook_port);
    po.webhook.bearer_token = token;
    po.registry.hosts[reg->host()].plain_http = true;
    if (registry_rps > 0) {
        po.registry.requests_per_second = registry_rps;
        po.registry.burst = 2.0 * registry_rps;
    }
    po.builds.reset();
    if (window_ms >= 0) po.committer.window = std::chrono::milliseconds(window_ms);
    cfg.promotion = po;
    auto ctl =
        controller::AppController::create(cfg, kube::RestClient::create(*admin).value(), "load");
    if (!ctl) {
        std::cerr << "controller: " << ctl.error().message << "\n";
        return 2;
    }
    auto sync_t0 = Steady::now();
    if (auto st = (*ctl)->start(); !st) {
        std::cerr << "controller start: " << st.error().message << "\n";
        return 2;
    }
    auto& metrics = (*ctl)->manager().metrics();
    // The first sync: every app reconciled once (progress every 10 s).
    for (auto report = Steady::now(); (*ctl)->reconciles() < static_cast<std::uint64_t>(apps);) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        if (Steady::now() - report > std::chrono::seconds(10)) {
            report = Steady::now();
            progress("first sync: " + std::to_string((*ctl)->reconciles()) + " reconciles, queue " +
                     std::to_string(static_cast<int>(metrics.total("workqueue_depth"))));
        }
        if (ms_between(sync_t0, Steady::now()) > 30 * 60 * 1000.0) {
            std::cerr << "first sync not done in 30 min: " << (*ctl)->reconciles()
                      << " reconciles\n";
            return 1;
        }
    }
    const double first_sync_s = ms_between(sync_t0, Steady::now()) / 1000;
    const double rss_after_sync = proc_mib("VmRSS");
    progress("first sync of " + std::to_string(apps) + " apps in " + std::to_string(first_sync_s) +
             " s; pushing one version every " + std::to_string(interval_ms) + " ms for " +
             std::to_string(seconds) + " s");

    // Load: pushes, a watcher of the branch, a sampler of RSS and queue depth. A push is served
    // when a commit pins it or a newer version of the same app (a newer push supersedes it: the
    // engine promotes the newest, never each version in turn); its latency runs until then.
    std::mutex mu;
    std::vector<std::deque<std::pair<std::string, Steady::time_point>>> pending(
        static_cast<std::size_t>(apps));  // per app: (digest, t0), oldest first
    std::size_t outstanding = 0, superseded = 0;
    std::vector<double> latencies;
    std::atomic<bool> stop_watch{false}, stop_sample{false};
    double peak_rss = rss_after_sync, peak_depth = 0;
    const std::uint64_t reconciles_before = (*ctl)->reconciles();
    std::thread sampler([&] {
        while (!stop_sample) {
            peak_rss = std::max(peak_rss, proc_mib("VmRSS"));
            peak_depth = std::max(peak_depth, metrics.total("workqueue_depth"));
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });
    std::string tip_before_load = read_tip(bare);
    std::thread watcher([&] {
        std::string tip = tip_before_load;
        while (!stop_watch) {
            std::string now_tip = read_tip(bare);
            if (!now_tip.empty() && now_tip != tip) {
                const auto seen = Steady::now();
                auto log =
                    test::plain_git({"--git-dir", bare.string(), "log", tip + ".." + now_tip,
                                     "--format=%(trailers:key=Poetryops-Promotion,valueonly)"});
                std::istringstream in(log.out);
                std::lock_guard lock(mu);
                // namespace/app/env/digest
                for (std::string line; std::getline(in, line);) {
                    auto parts = str::split(line, '/');
                    if (parts.size() != 4 || parts[1].rfind("app", 0) != 0) continue;
                    const auto i = static_cast<std::size_t>(std::atoi(parts[1].c_str() + 3));
                    if (i >= pending.size()) continue;
                    auto& q = pending[i];
                    auto hit = std::find_if(q.begin(), q.end(),
                                            [&](const auto& p) { return p.first == parts[3]; });
                    if (hit == q.end()) continue;
                    for (auto it = q.begin(); it != std::next(hit); ++it) {
                        latencies.push_back(ms_between(it->second, seen));
                        if (it != hit) ++superseded;
                        --outstanding;
                    }
                    q.erase(q.begin(), std::next(hit));
                }
                tip = now_tip;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    });
    // Pushers: each PUT takes a few ms, so four threads keep the pace, each taking every fourth
    // slot of the schedule.
    constexpr int kPushers = 4;
    std::atomic<int> pushes{0}, push_failures{0};
    const auto load_t0 = Steady::now();
    const auto load_end = load_t0 + std::chrono::seconds(seconds);
    std::vector<std::thread> pushers;
    for (int k = 0; k < kPushers; ++k) {
        pushers.emplace_back([&, k] {
            for (long slot = k;; slot += kPushers) {
                const auto at = load_t0 + std::chrono::milliseconds(slot * interval_ms);
                if (at >= load_end) return;
                std::this_thread::sleep_until(at);
                const int i = static_cast<int>(slot % apps);
                const std::string digest =
                    push_version(i, "1." + std::to_string(slot / apps + 1) + ".0");
                const auto t0 = Steady::now();
                if (digest.empty()) {
                    ++push_failures;
                    continue;
                }
                {
                    std::lock_guard lock(mu);
                    pending[static_cast<std::size_t>(i)].emplace_back(digest, t0);
                    ++outstanding;
                }
                if (++pushes % 5000 == 0) {
                    std::lock_guard lock(mu);
                    progress(std::to_string(pushes.load()) + " pushes, " +
                             std::to_string(latencies.size()) + " served, queue " +
                             std::to_string(static_cast<int>(metrics.total("workqueue_depth"))));
                }
            }
        });
    }
    for (auto& t : pushers) t.join();
    const double push_seconds = ms_between(load_t0, Steady::now()) / 1000;
    progress("pushes done; draining");
    // Drain: up to 300 s for what is still in flight.
    for (auto deadline = Steady::now() + std::chrono::seconds(300); Steady::now() < deadline;) {
        {
            std::lock_guard lock(mu);
            if (outstanding == 0) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const double drain_seconds = ms_between(load_t0, Steady::now()) / 1000 - push_seconds;
    stop_watch = true;
    watcher.join();
    stop_sample = true;
    sampler.join();
    std::size_t not_promoted = 0;
    {
        std::lock_guard lock(mu);
        not_promoted = outstanding;
    }
    const std::uint64_t load_reconciles = (*ctl)->reconciles() - reconciles_before;
    const int commits = [&] {
        auto r = test::plain_git(
            {"--git-dir", bare.string(), "rev-list", "--count", tip_before_load + "..main"});
        return r.ok() ? std::atoi(r.out.c_str()) : -1;
    }();

    // The floor: a bare git push of a one-line change, and one registry HEAD.
    std::vector<double> floor_ms;
    {
        TempDir clone_dir("poetryops-bench-load-floor");
        const std::string url = "http://" + git_server.user() + ":" + git_server.password() + "@" +
                                git_server.http_url("floor.git").substr(7);
        test::plain_git({"clone", "-q", url, (clone_dir.path() / "c").string()});
        for (int k = 0; k < 20; ++k) {
            std::ofstream(clone_dir.path() / "c/notes.txt") << k << "\n";
            test::plain_git({"-c", "user.name=f", "-c", "user.email=f@x", "commit", "-qam", "f"},
                            clone_dir.path() / "c");
            auto t0 = Steady::now();
            test::plain_git({"push", "-q", "origin", "HEAD:main"}, clone_dir.path() / "c");
            (void)pusher->resolve(registry::parse_reference(image(k % apps) + ":1.1.0").value());
            floor_ms.push_back(ms_between(t0, Steady::now()));
        }
    }
    const double floor_p50 = percentile(floor_ms, 50);
    (*ctl)->stop();

    nlohmann::json out = {
        {"bench", "load"},
        {"apps", apps},
        {"interval_ms", interval_ms},
        {"workers", workers},
        {"registry_requests_per_second",
         registry_rps > 0 ? static_cast<double>(registry_rps)
                          : registry::RegistryClientOptions{}.requests_per_second},
        {"seconds", seconds},
        {"pushes", pushes.load()},
        {"push_failures", push_failures.load()},
        {"pushes_per_second", pushes.load() / push_seconds},
        {"served", latencies.size()},
        {"served_by_a_newer_version", superseded},
        {"not_served_300s_after", not_promoted},
        {"drain_s", drain_seconds},
        {"reconciles_under_load", load_reconciles},
        {"commits_under_load", commits},
        {"push_to_commit_ms",
         {{"p50", percentile(latencies, 50)},
          {"p90", percentile(latencies, 90)},
          {"p99", percentile(latencies, 99)},
          {"max", latencies.empty() ? 0 : *std::max_element(latencies.begin(), latencies.end())}}},
        {"floor_git_push_plus_head_ms_p50", floor_p50},
        {"ratio_p50_to_floor", floor_p50 > 0 ? percentile(latencies, 50) / floor_p50 : 0},
        {"ratio_p99_to_floor", floor_p50 > 0 ? percentile(latencies, 99) / floor_p50 : 0},
        {"first_sync_s", first_sync_s},
        {"rss_mib",
         {{"process_start", rss_start},
          {"before_controller", rss_before_controller},
          {"after_first_sync", rss_after_sync},
          {"peak_under_load", peak_rss},
          {"controller_after_sync", rss_after_sync - rss_before_controller},
          {"controller_peak", peak_rss - rss_before_controller},
          {"kib_per_app_after_sync", (rss_after_sync - rss_before_controller) * 1024 / apps}}},
        {"peak_workqueue_depth", peak_depth}};
    std::cout << out.dump(2) << std::endl;
    return not_promoted == 0 ? 0 : 1;
}

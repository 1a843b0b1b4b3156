// bench_canary_decision: canary analysis in local mode against a real Prometheus (Debian's, from
// tests/support/prometheus, scraping every second) and a real git server (lighttpd +
// git-http-backend, HTTP with basic auth), issue #13. Two parts, one JSON object.
//
// (a) Decision latency. One PoetryApp, one canary environment (stable + canary Deployment and an
// HTTPRoute, docs/canary.md), steps of weight 10, 20, … 90 pausing one interval, and the built-in
// success-rate (min 0.9) judged every --interval-s seconds. LocalRunner::run() runs on its own
// thread, as `poetryops run` does; images come from an OCI layout and each new one wakes the runner
// (as a webhook would). A round is one analysis that passes and shifts the route (or completes):
//   t_end      the analysis interval ends, as the controller defines it: the step's start as
//              status records it (status.environments[].canary.stepStarted, read from the status
//              file once the step's commit is in it) + the interval;
//   t_wake     the runner's pass that asked for the analysis started (its "local pass starts"
//              debug line, the last one before t_visible);
//   t_visible  the shift's commit is at the tip of the bare repository's main (the bench waits on
//              inotify for the ref's update, then reads it).
// Floor, same run, after the rounds: a bare `git push` of a same-size edit (a copy of route.yaml
// with other weights) to the same server, and one instant query of the same PromQL through
// prometheus::Client over a warm connection. ratio = median(t_visible - t_end) / median(push +
// query); also the part after the runner woke, median(t_visible - t_wake) / the same floor.
//
// (b) Controller cost. --apps PoetryApps (one file, one GitOps repository, a folder and an image
// repository each), every one with a canary at step 1 of 2 (weight 10, pause 1h): each analysis
// round passes and the decision is "stay", which commits nothing. The canary Services share
// --services scrape jobs (one target, scraped under that many `service` labels), so the queries
// are what costs, not the series. The bench drives LocalRunner::run_pass() itself: a round is one
// pass when every app's analysis is due (each app: its query, the verdict, status written); an
// idle pass (nothing due) is measured between rounds. CPU = getrusage(RUSAGE_SELF) user + system
// over the pass; RSS = VmHWM/VmRSS of /proc/self/status (the peak reset before part b). Floor:
// the same number of bare instant queries (the same rendered PromQL per app) from this process
// through one prometheus::Client on as many threads as the runner uses (32).
//
// The load on the metrics targets (stable 90 %, canary 10 %) runs in a child process forked
// before any thread, so its CPU is not the controller's.
//
//   bench_canary_decision [--part latency|cost|both] [--rounds 12] [--interval-s 5] [--pause-s 5]
//                         [--floor-samples 20] [--apps 1000] [--services 10] [--cost-rounds 5]
//                         [--cost-interval-s 10] [--verbose]
#include <poetryops/controller/local.hpp>
#include <poetryops/prometheus/client.hpp>
#include <poetryops/prometheus/query_template.hpp>
#include <poetryops/registry/layout.hpp>
#include <poetryops/registry/reference.hpp>
#include <poetryops/util/clock.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/log.hpp>

#include <nlohmann/json.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "support/git/git_servers.hpp"
#include "support/prometheus/load_generator.hpp"
#include "support/prometheus/metrics_target.hpp"
#include "support/prometheus/test_prometheus.hpp"
#include "support/support.hpp"

using namespace poetryops;
using Steady = std::chrono::steady_clock;
using System = std::chrono::system_clock;
namespace fs = std::filesystem;

namespace {

using poetryops::bench::ms_between;
using poetryops::bench::percentile;
using poetryops::bench::proc_mib;
using poetryops::bench::read_tip;

/// A failed run: thrown, so that the runner and the servers are stopped on the way out of main().
struct Failed {
    std::string message;
};
[[noreturn]] void die(const std::string& message) { throw Failed{message}; }

/// Nearest-rank percentile of a copy of `v`.

nlohmann::json summary(const std::vector<double>& v) {
    return {{"n", v.size()},
            {"p50", percentile(v, 50)},
            {"p90", percentile(v, 90)},
            {"min", v.empty() ? 0 : *std::min_element(v.begin(), v.end())},
            {"max", v.empty() ? 0 : *std::max_element(v.begin(), v.end())}};
}

double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/// A field of /proc/self/status in MiB ("VmRSS", "VmHWM").

/// The tip of `branch` of a bare repo read from disk (loose ref, else packed-refs).

/// An image in the layout under `tag` whose manifest is unique to `seed`.
std::string push_image(registry::LayoutRegistry& reg, const std::string& image,
                       const std::string& tag, const std::string& seed) {
    auto repo = registry::parse_repository(image);
    if (!repo) die("bad image " + image);
    auto config = reg.put_blob(*repo, R"({"seed":")" + seed + R"("})");
    if (!config) die("put_blob: " + config.error().message);
    nlohmann::json m = {{"schemaVersion", 2},
                        {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                        {"config",
                         {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                          {"digest", *config},
                          {"size", 11 + seed.size()}}},
                        {"layers", nlohmann::json::array()}};
    auto d = reg.put_manifest(*repo, tag, m.dump(), "application/vnd.oci.image.manifest.v1+json");
    if (!d) die("put_manifest: " + d.error().message);
    return d->digest;
}

std::string deployment(const std::string& name, const std::string& track,
                       const std::string& image) {
    return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name +
           "\nspec:\n  template:\n    metadata:\n      labels: {track: " + track +
           "}\n    spec:\n      containers:\n      - name: app\n        image: " + image +
           ":old  # pinned by poetryops\n";
}

std::string route(const std::string& name, const std::string& stable, const std::string& canary,
                  int canary_weight = 0) {
    return "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: " + name +
           "\nspec:\n  rules:\n  - timeouts: {request: 10s}\n    backendRefs:\n    - {name: " +
           stable + ", port: 8080, weight: " + std::to_string(100 - canary_weight) +
           "}\n    - {name: " + canary + ", port: 8080, weight: " + std::to_string(canary_weight) +
           "}\n";
}

/// The PoetryApp of one canary environment analysed by Prometheus at `prom`.
std::string poetry_app(const std::string& ns, const std::string& name, const std::string& image,
                       const std::string& repo_url, const std::string& path,
                       const std::string& stable, const std::string& canary,
                       const std::string& steps, int interval_s, const std::string& prom) {
    return "---\napiVersion: poetryops.io/v1alpha1\nkind: PoetryApp\nmetadata: {name: " + name +
           ", namespace: " + ns + "}\nspec:\n  image: {repository: " + image +
           ", tagTemplate: \"{version}\"}\n  gitops: {repoURL: \"" + repo_url +
           "\"}\n  environments:\n  - name: prod\n    path: " + path +
           "\n    update: {kind: manifest, file: deployment.yaml}\n    canary:\n"
           "      traffic: {kind: gateway-api, route: " +
           name + ", stable: " + stable + ", canary: " + canary +
           ", file: route.yaml}\n      steps: " + steps +
           "\n      analysis:\n        prometheus: {address: \"" + prom +
           "\"}\n        interval: " + std::to_string(interval_s) +
           "s\n        metrics: [{name: success-rate, min: 0.9}]\n";
}

/// The load on the two metrics targets, in a child process forked before any thread exists (its
/// CPU is not the controller's). Stopped by PID.
class Traffic {
public:
    void start(double rate) {
        int ports[2], stop[2];
        if (pipe(ports) != 0 || pipe(stop) != 0) die("pipe failed");
        pid_ = fork();
        if (pid_ < 0) die("fork failed");
        if (pid_ == 0) {
            ::close(ports[0]);
            ::close(stop[1]);
            test::MetricsTarget stable, canary;
            if (!stable.start() || !canary.start()) _exit(3);
            std::string line =
                std::to_string(stable.port()) + " " + std::to_string(canary.port()) + "\n";
            if (::write(ports[1], line.data(), line.size()) < 0) _exit(3);
            ::close(ports[1]);
            test::LoadGenerator load({{stable.url(), 90}, {canary.url(), 10}});
            load.start(rate, 2);
            char c;
            while (::read(stop[0], &c, 1) > 0) {
            }  // EOF: the parent is done (or gone)
            load.stop();
            _exit(0);
        }
        ::close(ports[1]);
        ::close(stop[0]);
        stop_fd_ = stop[1];
        char buf[64] = {};
        std::size_t got = 0;
        while (got < sizeof buf - 1) {
            auto n = ::read(ports[0], buf + got, sizeof buf - 1 - got);
            if (n <= 0) break;
            got += static_cast<std::size_t>(n);
            if (std::string_view(buf, got).find('\n') != std::string_view::npos) break;
        }
        ::close(ports[0]);
        if (std::sscanf(buf, "%d %d", &stable_port_, &canary_port_) != 2)
            die("the traffic process did not start its targets");
    }
    ~Traffic() {
        if (pid_ <= 0) return;
        ::close(stop_fd_);
        for (int i = 0; i < 100; ++i) {
            if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        ::kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    int stable_port() const { return stable_port_; }
    int canary_port() const { return canary_port_; }

private:
    pid_t pid_ = -1;
    int stop_fd_ = -1;
    int stable_port_ = 0, canary_port_ = 0;
};

/// Waits on inotify for updates of a bare repository's refs.
class RefWatch {
public:
    explicit RefWatch(const fs::path& bare) : bare_(bare), fd_(inotify_init1(IN_CLOEXEC)) {
        if (fd_ < 0 ||
            inotify_add_watch(fd_, (bare / "refs/heads").c_str(),
                              IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE) < 0 ||
            inotify_add_watch(fd_, bare.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
            die("inotify on " + bare.string() + " failed");
    }
    ~RefWatch() { ::close(fd_); }
    /// The next tip other than `tip` and when it was seen; nullopt after `limit`.
    std::optional<std::pair<std::string, Steady::time_point>> next(const std::string& tip,
                                                                   std::chrono::seconds limit) {
        auto deadline = Steady::now() + limit;
        while (Steady::now() < deadline) {
            std::string now_tip = read_tip(bare_);
            if (!now_tip.empty() && now_tip != tip) return std::pair{now_tip, Steady::now()};
            pollfd pfd{fd_, POLLIN, 0};
            if (::poll(&pfd, 1, 100) > 0) {
                char buf[4096];
                (void)!::read(fd_, buf, sizeof buf);
            }
        }
        return std::nullopt;
    }

private:
    fs::path bare_;
    int fd_;
};

/// Lines of the runner's debug log: when each pass started.
struct PassLog {
    std::mutex mu;
    std::vector<Steady::time_point> starts;
    bool echo = false;
    Steady::time_point origin = Steady::now();

    void attach() {
        log::set_level(log::Level::debug);
        log::set_sink([this](std::string_view line) {
            auto now = Steady::now();
            if (line.find("local pass starts") != std::string_view::npos) {
                std::lock_guard lock(mu);
                starts.push_back(now);
            }
            if (echo) {
                std::fprintf(stderr, "%9.1f %.*s\n", ms_between(origin, now),
                             static_cast<int>(line.size()), line.data());
            }
        });
    }
    std::optional<Steady::time_point> last_before(Steady::time_point t) {
        std::lock_guard lock(mu);
        std::optional<Steady::time_point> best;
        for (auto s : starts)
            if (s <= t) best = s;
        return best;
    }
};

/// The canary status of environment prod in a status file, when its commit is `commit`.
std::optional<nlohmann::json> canary_status(const fs::path& file, const std::string& commit) {
    auto text = read_file(file);
    if (!text) return std::nullopt;
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    const nlohmann::json* envs = nullptr;
    for (const auto* root : {&j, j.contains("status") ? &j["status"] : nullptr}) {
        if (root && root->contains("environments")) envs = &(*root)["environments"];
    }
    if (!envs || !envs->is_array()) return std::nullopt;
    for (const auto& e : *envs) {
        if (e.value("name", "") != "prod" || !e.contains("canary")) continue;
        const auto& c = e["canary"];
        if (c.value("commit", "") == commit) return c;
    }
    return std::nullopt;
}

/// "verdict=pass" etc. from a commit's Poetryops-Canary trailer; "" when it has none.
std::string trailer_field(const std::string& message, const std::string& key) {
    auto t = message.find("Poetryops-Canary:");
    if (t == std::string::npos) return "";
    auto eol = message.find('\n', t);
    std::string line = message.substr(t, eol == std::string::npos ? std::string::npos : eol - t);
    auto k = line.find(" " + key + "=");
    if (k == std::string::npos) return "";
    auto v = k + key.size() + 2;
    return line.substr(v, line.find(' ', v) - v);
}

// ---------------------------------------------------------------------------------------------
// (a) decision latency

nlohmann::json decision_latency(test::BareRepos& repos, test::HttpGitServer& git_server,
                                test::TestPrometheus& prom, int rounds, int interval_s, int pause_s,
                                int floor_samples, bool verbose) {
    // Weights 10 … 90, each step's pause one interval (--pause-s): every round that passes
    // shifts. With a pause shorter than the interval (--pause-s 0) a step could shift on the
    // previous step's round, before its own interval ended (status keeps whole seconds, and
    // passed_here took lastAnalysis == stepStarted as this step's; fixed by 774f57e): counted as
    // shifts_before_interval_end.
    const int steps = 9;
    std::string steps_yaml = "[";
    for (int s = 1; s <= steps; ++s)
        steps_yaml += (s > 1 ? ", " : "") + std::string("{weight: ") + std::to_string(10 * s) +
                      ", pause: " + std::to_string(pause_s) + "s}";
    steps_yaml += "]";
    const std::string image = "registry.local/bench/app";
    fs::path bare = repos.create("latency.git");
    std::string stable_route = route("app", "app", "app-canary");
    std::string seed_tip = repos.commit_files(
        "latency.git",
        {{"envs/prod/deployment.yaml",
          deployment("app", "stable", image) + "---\n" + deployment("app-canary", "canary", image)},
         {"envs/prod/route.yaml", stable_route},
         {"floor/route.yaml", stable_route}});
    TempDir work("poetryops-bench-canary-latency");
    fs::create_directories(work.path() / "apps");
    if (!write_file_atomic(
            work.path() / "apps/app.yaml",
            poetry_app("bench", "app", image, git_server.http_url("latency.git"), "envs/prod",
                       "app", "app-canary", steps_yaml, interval_s, prom.url())))
        die("cannot write the PoetryApp");
    registry::LayoutOptions layout_options;
    layout_options.repository_subdirs = true;
    registry::LayoutRegistry layout(work.path() / "layout", layout_options);
    std::string stable_digest = push_image(layout, image, "1.0.0", "stable");

    PassLog passes;
    passes.echo = verbose;
    passes.attach();
    controller::LocalOptions lo;
    lo.inputs = {work.path() / "apps"};
    lo.state_dir = work.path() / "state";
    lo.layout_dir = work.path() / "layout";
    lo.git.username = git_server.user();
    lo.git.password = git_server.password();
    auto created = controller::LocalRunner::create(lo);
    if (!created) die("runner: " + created.error().message);
    auto runner = std::move(created).value();
    const fs::path status_file = lo.state_dir / "status" / "bench.app.json";
    RefWatch refs(bare);
    std::atomic<bool> stop{false};
    std::thread loop([&] {
        auto r = runner->run(stop, std::chrono::seconds(30));
        if (!r) std::cerr << "run: " << r.error().message << "\n";
    });
    struct Join {
        std::atomic<bool>& stop;
        controller::LocalRunner& runner;
        std::thread& loop;
        ~Join() {
            if (!loop.joinable()) return;  // stopped below
            stop = true;
            runner.wake();
            if (loop.joinable()) loop.join();
        }
    } join{stop, *runner, loop};

    auto message_of = [&](const std::string& commit) {
        auto r = test::plain_git({"--git-dir", bare.string(), "log", "-1", "--format=%B", commit});
        return r.ok() ? r.out : std::string();
    };
    // The first image goes straight in (nothing stable to compare with).
    std::string tip = seed_tip;
    auto first = refs.next(tip, std::chrono::seconds(60));
    if (!first) die("the first image was never pinned");
    tip = first->first;

    std::vector<double> latency, after_wake, slack;
    int excluded = 0, no_round = 0, canaries = 0;
    std::vector<nlohmann::json> per_round;
    while (static_cast<int>(latency.size()) < rounds) {
        // A new image: the canary deploys, shifts to 10 %, then one analysis round per step.
        ++canaries;
        push_image(layout, image, std::to_string(canaries + 1) + ".0.0",
                   "canary " + std::to_string(canaries));
        runner->wake();
        std::optional<Steady::time_point> step_end;  // t_end of the round now running
        while (true) {
            auto seen = refs.next(tip, std::chrono::seconds(5L * interval_s + 60));
            if (!seen) die("no canary commit within " + std::to_string(5 * interval_s + 60) + " s");
            tip = seen->first;
            std::string message = message_of(tip);
            std::string verdict = trailer_field(message, "verdict");
            std::string weight = trailer_field(message, "weight");
            if (verdict == "pass" && step_end) {
                double l = ms_between(*step_end, seen->second);
                auto wake = passes.last_before(seen->second);
                nlohmann::json r = {{"latency_ms", l}, {"weight", weight}};
                if (l < 0) {
                    ++no_round;  // shifted on the previous step's round (see above)
                    r["excluded"] = "shifted before its interval ended";
                } else if (l > 1000.0 * interval_s) {
                    ++excluded;  // more than one round at this step (an inconclusive one)
                    r["excluded"] = "more than one round";
                } else {
                    latency.push_back(l);
                    if (wake) {
                        after_wake.push_back(ms_between(*wake, seen->second));
                        slack.push_back(ms_between(*step_end, *wake));
                        r["wake_after_interval_end_ms"] = slack.back();
                    }
                }
                per_round.push_back(std::move(r));
            } else if (verdict == "fail" || verdict == "unavailable") {
                die("the canary aborted: " + message);
            }
            // The step's start as status records it, once the commit is in the status file.
            std::optional<nlohmann::json> c;
            auto deadline = Steady::now() + std::chrono::seconds(10);
            while (!(c = canary_status(status_file, tip)) && Steady::now() < deadline)
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
            if (!c) die("the status file never recorded commit " + tip);
            if (c->value("phase", "") != "Progressing") break;  // completed
            System::time_point started;
            if (!parse_rfc3339(c->value("stepStarted", ""), started))
                die("no stepStarted in status: " + c->dump());
            auto end_wall = started + std::chrono::seconds(interval_s);
            step_end = Steady::now() +
                       std::chrono::duration_cast<Steady::duration>(end_wall - System::now());
        }
    }
    stop = true;
    runner->wake();
    loop.join();
    runner.reset();
    log::set_level(log::Level::warn);
    log::set_sink(nullptr);

    // The floor: a bare git push of a same-size edit, and one instant query of the same PromQL.
    TempDir floor_dir("poetryops-bench-canary-floor");
    std::string auth_url = git_server.http_url("latency.git");
    auth_url.insert(auth_url.find("://") + 3,
                    git_server.user() + ":" + git_server.password() + "@");
    fs::path clone = floor_dir.path() / "clone";
    if (auto cl = test::plain_git({"clone", "-q", auth_url, clone.string()}); !cl.ok())
        die("clone failed: " + cl.err);
    auto client = prometheus::Client::create({.address = prom.url()});
    if (!client) die("prometheus client: " + client.error().message);
    prometheus::QueryVars vars{.namespace_name = "bench",
                               .canary = "app-canary",
                               .stable = "app",
                               .interval = std::to_string(interval_s) + "s"};
    auto promql = prometheus::render_query(*prometheus::builtin_query("success-rate"), vars);
    if (!promql) die(promql.error().message);
    if (!(*client)->query_value(*promql)) die("the floor's query failed");  // warm connection
    std::vector<double> floor_push, floor_query, floor_total;
    for (int i = 0; i < floor_samples; ++i) {
        int w = 10 * (1 + i % steps);
        if (!write_file_atomic(clone / "floor/route.yaml", route("app", "app", "app-canary", w)))
            die("cannot write the floor's file");
        auto c = test::plain_git({"-C", clone.string(), "-c", "user.name=bench", "-c",
                                  "user.email=bench@x", "commit", "-qam", "floor"});
        if (!c.ok()) die("commit failed: " + c.err);
        auto p0 = Steady::now();
        auto p = test::plain_git({"-C", clone.string(), "push", "-q", "origin", "HEAD:main"});
        auto p1 = Steady::now();
        if (!p.ok()) die("floor push failed: " + p.err);
        auto q = (*client)->query_value(*promql);
        auto q1 = Steady::now();
        if (!q) die("floor query failed: " + q.error().message);
        floor_push.push_back(ms_between(p0, p1));
        floor_query.push_back(ms_between(p1, q1));
        floor_total.push_back(ms_between(p0, q1));
    }
    double f50 = percentile(floor_total, 50);
    return {{"interval_s", interval_s},
            {"steps_per_canary", steps},
            {"pause_s", pause_s},
            {"canaries", canaries},
            {"rounds_measured", latency.size()},
            {"rounds_excluded_not_first_round", excluded},
            {"shifts_before_interval_end", no_round},
            {"interval_end_to_visible_ms", summary(latency)},
            {"interval_end_to_runner_wake_ms", summary(slack)},
            {"runner_wake_to_visible_ms", summary(after_wake)},
            {"floor_ms",
             {{"git_push_plus_query", summary(floor_total)},
              {"git_push", summary(floor_push)},
              {"instant_query", summary(floor_query)}}},
            {"ratio_p50", f50 > 0 ? percentile(latency, 50) / f50 : 0},
            {"ratio_p90", f50 > 0 ? percentile(latency, 90) / percentile(floor_total, 90) : 0},
            {"ratio_after_wake_p50", f50 > 0 ? percentile(after_wake, 50) / f50 : 0},
            {"rounds", per_round}};
}

// ---------------------------------------------------------------------------------------------
// (b) controller cost with many canaries in flight

nlohmann::json controller_cost(test::BareRepos& repos, test::HttpGitServer& git_server,
                               test::TestPrometheus& prom, int apps, int services, int rounds,
                               int interval_s) {
    // Part (a)'s peak is not part b's: reset VmHWM (Linux >= 4.0).
    { std::ofstream("/proc/self/clear_refs") << "5"; }
    const double rss_start = proc_mib("VmRSS");
    auto image = [](int i) { return "registry.local/cost/app" + std::to_string(i); };
    auto service = [](int i, int services) { return "s" + std::to_string(i % services); };
    fs::path bare = repos.create("cost.git");
    std::map<std::string, std::string> files;
    std::string yaml;
    for (int i = 0; i < apps; ++i) {
        std::string dir = "apps/app" + std::to_string(i);
        std::string s = service(i, services);
        files[dir + "/deployment.yaml"] = deployment(s, "stable", image(i)) + "---\n" +
                                          deployment(s + "-canary", "canary", image(i));
        files[dir + "/route.yaml"] = route("app" + std::to_string(i), s, s + "-canary");
        yaml +=
            poetry_app("cost", "app" + std::to_string(i), image(i), git_server.http_url("cost.git"),
                       dir, s, s + "-canary", "[{weight: 10, pause: 1h}, {weight: 50, pause: 1h}]",
                       interval_s, prom.url());
    }
    repos.commit_files("cost.git", files);
    TempDir work("poetryops-bench-canary-cost");
    fs::create_directories(work.path() / "apps");
    if (!write_file_atomic(work.path() / "apps/apps.yaml", yaml)) die("cannot write the apps");
    registry::LayoutOptions layout_options;
    layout_options.repository_subdirs = true;
    registry::LayoutRegistry layout(work.path() / "layout", layout_options);
    for (int i = 0; i < apps; ++i)
        push_image(layout, image(i), "1.0.0", "stable " + std::to_string(i));

    controller::LocalOptions lo;
    lo.inputs = {work.path() / "apps"};
    lo.state_dir = work.path() / "state";
    lo.layout_dir = work.path() / "layout";
    lo.git.username = git_server.user();
    lo.git.password = git_server.password();
    const int concurrency = lo.concurrency;
    auto created = controller::LocalRunner::create(lo);
    if (!created) die("runner: " + created.error().message);
    auto runner = std::move(created).value();

    auto count = [&](auto&& pred) {
        int n = 0;
        for (int i = 0; i < apps; ++i) {
            auto s = runner->status_of("cost/app" + std::to_string(i));
            const api::EnvironmentStatus* e = s ? s->find_environment("prod") : nullptr;
            if (e && pred(*e)) ++n;
        }
        return n;
    };
    auto pass = [&]() {
        auto p = runner->run_pass();
        if (!p) die("pass: " + p.error().message);
        if (!p->errors.empty()) die("pass: " + p->errors.front());
        return *p;
    };
    auto passes_until = [&](const std::string& what, auto&& done) {
        auto t0 = Steady::now();
        int n = 0;
        while (!done()) {
            pass();
            if (++n > 50) die(what + ": not reached after 50 passes");
        }
        return std::chrono::duration<double>(Steady::now() - t0).count();
    };
    // 1.0.0 everywhere (straight in), then 2.0.0: deploy and the shift to step 1 (10 %).
    double stable_s = passes_until("1.0.0 pinned", [&] {
        return count([](const api::EnvironmentStatus& e) { return !e.digest.empty(); }) == apps;
    });
    for (int i = 0; i < apps; ++i)
        push_image(layout, image(i), "2.0.0", "canary " + std::to_string(i));
    double start_s = passes_until("every canary at 10 %", [&] {
        return count([](const api::EnvironmentStatus& e) {
                   return e.canary && e.canary->phase == api::CanaryPhase::progressing &&
                          e.canary->weight == 10;
               }) == apps;
    });
    const double rss_in_flight = proc_mib("VmRSS");

    auto last_analysis = [&](int i) {
        auto s = runner->status_of("cost/app" + std::to_string(i));
        const api::EnvironmentStatus* e = s ? s->find_environment("prod") : nullptr;
        return e && e->canary && e->canary->last_analysis ? *e->canary->last_analysis
                                                          : System::time_point{};
    };
    std::cerr << "bench_canary_decision: " << apps << " canaries at 10 %, rounds start"
              << std::endl;
    // Status files written per pass (write_file_atomic renames each into place).
    int status_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (status_fd < 0 ||
        inotify_add_watch(status_fd, (lo.state_dir / "status").c_str(), IN_MOVED_TO) < 0)
        die("inotify on the status folder failed");
    auto status_writes = [&] {
        int n = 0;
        alignas(inotify_event) char buf[65536];
        for (ssize_t got; (got = ::read(status_fd, buf, sizeof buf)) > 0;) {
            for (char* p = buf; p < buf + got;) {
                auto* e = reinterpret_cast<inotify_event*>(p);
                if (e->len > 0 && std::string_view(e->name).ends_with(".json")) ++n;
                p += sizeof(inotify_event) + e->len;
            }
        }
        return n;
    };
    std::vector<double> round_cpu, round_wall, idle_cpu, idle_wall;
    std::vector<int> round_status_writes, idle_status_writes;
    std::vector<int> analysed;
    int commits = 0, passed = 0;
    std::vector<System::time_point> before(static_cast<std::size_t>(apps));
    for (int r = 0; r < rounds; ++r) {
        // Everyone is due: the interval since the last round (or the step's start), plus the
        // second status keeps of it.
        std::this_thread::sleep_for(std::chrono::seconds(interval_s) +
                                    std::chrono::milliseconds(1200));
        for (int i = 0; i < apps; ++i) before[static_cast<std::size_t>(i)] = last_analysis(i);
        status_writes();
        double c0 = cpu_seconds();
        auto w0 = Steady::now();
        controller::PassResult p = pass();
        round_wall.push_back(std::chrono::duration<double>(Steady::now() - w0).count());
        round_cpu.push_back(cpu_seconds() - c0);
        commits += static_cast<int>(p.commits);
        int n = 0;
        for (int i = 0; i < apps; ++i) n += last_analysis(i) != before[static_cast<std::size_t>(i)];
        analysed.push_back(n);
        round_status_writes.push_back(status_writes());
        passed += count([](const api::EnvironmentStatus& e) {
            return e.canary && !e.canary->analysis.empty() &&
                   e.canary->analysis.front().verdict == api::AnalysisVerdict::pass;
        });
        // An idle pass: nothing is due.
        c0 = cpu_seconds();
        w0 = Steady::now();
        p = pass();
        idle_wall.push_back(std::chrono::duration<double>(Steady::now() - w0).count());
        idle_cpu.push_back(cpu_seconds() - c0);
        idle_status_writes.push_back(status_writes());
        commits += static_cast<int>(p.commits);
    }
    ::close(status_fd);
    const double rss_peak = proc_mib("VmHWM"), rss_end = proc_mib("VmRSS");
    runner.reset();
    std::cerr << "bench_canary_decision: rounds done, floor starts" << std::endl;

    // The floor: as many bare instant queries, the same PromQL per app, on `concurrency` threads.
    auto client = prometheus::Client::create({.address = prom.url()});
    if (!client) die("prometheus client: " + client.error().message);
    std::vector<std::string> queries;
    for (int i = 0; i < apps; ++i) {
        prometheus::QueryVars vars{.namespace_name = "cost",
                                   .canary = service(i, services) + "-canary",
                                   .stable = service(i, services),
                                   .interval = std::to_string(interval_s) + "s"};
        auto q = prometheus::render_query(*prometheus::builtin_query("success-rate"), vars);
        if (!q) die(q.error().message);
        queries.push_back(*q);
    }
    std::vector<double> floor_cpu, floor_wall;
    std::atomic<int> floor_errors{0};
    for (int r = 0; r < rounds; ++r) {
        std::atomic<int> next{0};
        double c0 = cpu_seconds();
        auto w0 = Steady::now();
        std::vector<std::thread> threads;
        auto at = System::now();
        for (int t = 0; t < concurrency; ++t) {
            threads.emplace_back([&] {
                for (int i = next++; i < apps; i = next++) {
                    auto v = (*client)->query_value(queries[static_cast<std::size_t>(i)], at);
                    if (!v || !v->ok()) ++floor_errors;
                }
            });
        }
        for (auto& t : threads) t.join();
        floor_wall.push_back(std::chrono::duration<double>(Steady::now() - w0).count());
        floor_cpu.push_back(cpu_seconds() - c0);
    }
    double fc = percentile(floor_cpu, 50);
    return {{"apps", apps},
            {"scrape_services", services},
            {"interval_s", interval_s},
            {"runner_concurrency", concurrency},
            {"setup_s", {{"stable_pinned", stable_s}, {"canaries_at_10_percent", start_s}}},
            {"rounds", rounds},
            {"apps_analysed_per_round", analysed},
            {"apps_last_verdict_pass_summed_over_rounds", passed},
            {"commits_during_rounds", commits},
            {"round_cpu_s", summary(round_cpu)},
            {"round_wall_s", summary(round_wall)},
            {"idle_pass_cpu_s", summary(idle_cpu)},
            {"status_files_written_per_round", round_status_writes},
            {"status_files_written_per_idle_pass", idle_status_writes},
            {"idle_pass_wall_s", summary(idle_wall)},
            {"floor_queries_per_round", apps},
            {"floor_cpu_s", summary(floor_cpu)},
            {"floor_wall_s", summary(floor_wall)},
            {"floor_errors", floor_errors.load()},
            {"ratio_cpu_round_to_floor", fc > 0 ? percentile(round_cpu, 50) / fc : 0},
            {"ratio_cpu_round_minus_idle_to_floor",
             fc > 0 ? (percentile(round_cpu, 50) - percentile(idle_cpu, 50)) / fc : 0},
            {"cpu_ms_per_app_per_round", 1000 * percentile(round_cpu, 50) / apps},
            {"rss_mib",
             {{"before_runner", rss_start},
              {"canaries_in_flight", rss_in_flight},
              {"after_rounds", rss_end},
              {"peak_part_b", rss_peak}}}};
}

}  // namespace

int main(int argc, char** argv) {
    std::string part = "both";
    int rounds = 12, interval_s = 5, pause_s = -1, floor_samples = 20, apps = 1000, services = 10,
        cost_rounds = 5, cost_interval_s = 10;
    bool verbose = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--verbose") {
            verbose = true;
            continue;
        }
        if (i + 1 >= argc) break;
        std::string v = argv[++i];
        if (a == "--part")
            part = v;
        else if (a == "--rounds")
            rounds = std::atoi(v.c_str());
        else if (a == "--interval-s")
            interval_s = std::atoi(v.c_str());
        else if (a == "--pause-s")
            pause_s = std::atoi(v.c_str());
        else if (a == "--floor-samples")
            floor_samples = std::atoi(v.c_str());
        else if (a == "--apps")
            apps = std::atoi(v.c_str());
        else if (a == "--services")
            services = std::atoi(v.c_str());
        else if (a == "--cost-rounds")
            cost_rounds = std::atoi(v.c_str());
        else if (a == "--cost-interval-s")
            cost_interval_s = std::atoi(v.c_str());
    }
    if (pause_s < 0) pause_s = interval_s;
    if (part != "latency" && part != "cost" && part != "both") {
        std::cerr << "--part: latency, cost or both\n";
        return 2;
    }
    // Before any thread: the load runs in a child of its own.
    Traffic traffic;
    try {
        traffic.start(40);
        log::set_level(log::Level::warn);
        if (!test::require_tools({"git", "lighttpd", "prometheus"})) return 2;
        test::TestCa ca;
        test::BareRepos repos;
        test::HttpGitServer git_server(repos, ca);
        if (!git_server.started()) die("git server did not start: " + git_server.error_log());
        // Part a's Services (namespace bench), and part b's: --services canary Services in
        // namespace cost, all scraping the one canary target.
        std::vector<test::ScrapeTarget> targets = {
            {.job = "app",
             .port = traffic.stable_port(),
             .labels = {{"namespace", "bench"}, {"service", "app"}}},
            {.job = "app-canary",
             .port = traffic.canary_port(),
             .labels = {{"namespace", "bench"}, {"service", "app-canary"}}}};
        for (int s = 0; s < services; ++s) {
            std::string name = "s" + std::to_string(s) + "-canary";
            targets.push_back({.job = name,
                               .port = traffic.canary_port(),
                               .labels = {{"namespace", "cost"}, {"service", name}}});
        }
        auto prom = test::TestPrometheus::start({.targets = targets});
        if (!prom) die("prometheus did not start");
        // A whole interval of traffic on the canaries before the first round.
        int longest = std::max(interval_s, cost_interval_s);
        std::string ready = R"(sum(increase(http_requests_total{service="app-canary"}[)" +
                            std::to_string(longest) + "s]))";
        if (!prom->wait_for(
                ready, [](double v) { return v > 0; }, std::chrono::seconds(60)))
            die("no traffic in Prometheus");
        std::this_thread::sleep_for(std::chrono::seconds(longest));

        nlohmann::json out = {{"bench", "canary_decision"}};
        double load0[3];
        getloadavg(load0, 3);
        out["load_average_start"] = load0[0];
        if (part != "cost")
            out["decision_latency"] = decision_latency(repos, git_server, *prom, rounds, interval_s,
                                                       pause_s, floor_samples, verbose);
        if (part != "latency")
            out["controller_cost"] = controller_cost(repos, git_server, *prom, apps, services,
                                                     cost_rounds, cost_interval_s);
        double load1[3];
        getloadavg(load1, 3);
        out["load_average_end"] = load1[0];
        std::cout << out.dump(2) << std::endl;
        return 0;
    } catch (const Failed& f) {
        std::cerr << "bench_canary_decision: " << f.message << "\n";
        return 1;
    }
}

// bench_promote_latency: push-to-promotion latency end to end. A real docker-registry sends push
// notifications to the webhook of the promoter under test, in-process: `--mode local` (default)
// LocalRunner::run() on its own thread, as `poetryops run` does; `--mode cluster` the AppController
// of `poetryops controller` (informer, workqueue, promotion engine, webhook) against the in-repo
// fake API server. It promotes the new digest with a commit on a real git server (lighttpd +
// git-http-backend, HTTP with basic auth). For each of N pushes (versions 1.0.0, 1.0.1, …, each a
// distinct manifest): t0 = the manifest PUT returned, t1 = the new digest is in the overlay at the
// tip of the bare repo's main branch (polled on disk). In the same run, the floor: one `git push`
// of a one-line change to the same server plus one registry HEAD of a manifest. Prints one JSON
// object.
//
//   bench_promote_latency [--mode local|cluster] [--server fake|real] [--pushes 100]
//   [--floor-samples 20] [--window-ms W] [--verbose]
//
// --window-ms sets the committer's batching window; without it the committer default is used (what
// `poetryops run` uses). --verbose logs the runner at debug level on stderr (with timestamps) to
// see where a slow push spent its time.
#include <poetryops/controller/app_controller.hpp>
#include <poetryops/controller/local.hpp>
#include <poetryops/controller/resources.hpp>
#include <poetryops/kube/client.hpp>
#include <poetryops/registry/client.hpp>
#include <poetryops/registry/reference.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/log.hpp>
#include <poetryops/util/strings.hpp>

#include "bench_support.hpp"
#include "kube/fake_apiserver.hpp"
#include "support/git/git_servers.hpp"
#include "support/kube/cluster.hpp"
#include "support/kube/crds.hpp"
#include "support/registry/test_registry.hpp"

#include <support/support.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace poetryops;
using Steady = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

using poetryops::bench::ms_between;
using poetryops::bench::percentile;
using poetryops::bench::read_tip;

/// Nearest-rank percentile of a copy of `v`.

nlohmann::json summary(const std::vector<double>& v) {
    return {{"n", v.size()},
            {"p50_ms", percentile(v, 50)},
            {"p90_ms", percentile(v, 90)},
            {"p99_ms", percentile(v, 99)},
            {"max_ms", v.empty() ? 0 : *std::max_element(v.begin(), v.end())}};
}

/// The tip of `branch` of a bare repo read from disk (loose ref, else packed-refs). Cheap enough to
/// poll every ms.

std::string show(const fs::path& bare, const std::string& rev_path) {
    auto r = test::plain_git({"--git-dir", bare.string(), "show", rev_path});
    return r.ok() ? r.out : "";
}

int count_commits(const fs::path& bare, const std::string& range) {
    auto r = test::plain_git({"--git-dir", bare.string(), "rev-list", "--count", range});
    return r.ok() ? std::atoi(r.out.c_str()) : -1;
}

/// What the promoter under test needs to know.
struct Setup {
    std::string image, repo_url, git_user, git_password, registry_host;
    int webhook_port = 0;
    std::string webhook_token;
    int window_ms = -1;
    bool real_server = false;  ///< --mode cluster: a real kube-apiserver instead of the fake
};

/// A running promoter; the destructor stops it.
class Promoter {
public:
    virtual ~Promoter() = default;
    /// The committer's counters, when the promoter exposes them.
    virtual std::optional<git::CommitterStats> stats() = 0;
};

/// `poetryops run`: LocalRunner::run() on its own thread, PoetryApp YAML files as the object store.
class LocalPromoter : public Promoter {
public:
    explicit LocalPromoter(std::unique_ptr<controller::LocalRunner> runner)
        : runner_(std::move(runner)) {
        loop_ = std::thread([this] {
            auto r = runner_->run(stop_, std::chrono::seconds(30));
            if (!r) std::cerr << "run: " << r.error().message << "\n";
        });
    }
    ~LocalPromoter() override {
        stop_ = true;
        runner_->wake();
        if (loop_.joinable()) loop_.join();
    }
    std::optional<git::CommitterStats> stats() override { return runner_->commit_stats(); }

private:
    std::unique_ptr<controller::LocalRunner> runner_;
    std::atomic<bool> stop_{false};
    std::thread loop_;
};

std::unique_ptr<Promoter> start_local(const Setup& s, TempDir& work) {
    fs::create_directories(work.path() / "apps");
    std::string yaml =
        "apiVersion: poetryops.io/v1alpha1\nkind: PoetryApp\nmetadata: {name: app, namespace: "
        "bench}\n"
        "spec:\n  image: {repository: \"" +
        s.image +
        "\", tagTemplate: \"{version}\"}\n"
        "  gitops: {repoURL: \"" +
        s.repo_url +
        "\"}\n"
        "  environments:\n  - {name: dev, path: apps/app}\n";
    if (!write_file_atomic(work.path() / "apps/app.yaml", yaml)) return nullptr;
    controller::LocalOptions lo;
    lo.inputs = {work.path() / "apps"};
    lo.state_dir = work.path() / "state";
    lo.registry.hosts[s.registry_host].plain_http = true;
    lo.git.username = s.git_user;
    lo.git.password = s.git_password;
    if (s.window_ms >= 0) lo.committer.window = std::chrono::milliseconds(s.window_ms);
    lo.webhook_address = "127.0.0.1:" + std::to_string(s.webhook_port);
    lo.webhook.bearer_token = s.webhook_token;
    auto created = controller::LocalRunner::create(lo);
    if (!created) {
        std::cerr << "runner: " << created.error().message << "\n";
        return nullptr;
    }
    return std::make_unique<LocalPromoter>(std::move(created).value());
}

/// `poetryops controller`: the AppController (informer, workqueue, the promotion engine, its
/// webhook) against the in-repo fake API server or a real kube-apiserver; git credentials come from
/// a Secret named by spec.gitops.secretRef, as in a cluster.
class ClusterPromoter : public Promoter {
public:
    ~ClusterPromoter() override {
        if (ctl) ctl->stop();
        ctl.reset();
        cluster.stop();
    }
    std::optional<git::CommitterStats> stats() override { return std::nullopt; }

    test::kube::Cluster cluster;  // --server real
    kube::fake::FakeApiServer server;
    std::unique_ptr<controller::AppController> ctl;
};

std::unique_ptr<Promoter> start_cluster(const Setup& s, TempDir& work) {
    auto p = std::make_unique<ClusterPromoter>();
    auto gvr = controller::poetryapps();
    nlohmann::json secret = {{"apiVersion", "v1"},
                             {"kind", "Secret"},
                             {"metadata", {{"name", "gitops-push"}, {"namespace", "bench"}}},
                             {"data",
                              {{"username", str::base64_encode(s.git_user)},
                               {"password", str::base64_encode(s.git_password)}}}};
    nlohmann::json app = {
        {"apiVersion", "poetryops.io/v1alpha1"},
        {"kind", "PoetryApp"},
        {"metadata", {{"name", "app"}, {"namespace", "bench"}}},
        {"spec",
         {{"image", {{"repository", s.image}, {"tagTemplate", "{version}"}}},
          {"gitops", {{"repoURL", s.repo_url}, {"secretRef", {{"name", "gitops-push"}}}}},
          {"environments", nlohmann::json::array({{{"name", "dev"}, {"path", "apps/app"}}})}}}};
    kube::KubeConfig config;
    if (!s.real_server) {
        if (auto st = p->server.start(); !st) {
            std::cerr << "fake API server: " << st.error().message << "\n";
            return nullptr;
        }
        p->server.register_type({gvr, "PoetryApp", true});
        p->server.ensure_namespace("bench");
        for (const auto& [ref, obj] :
             {std::pair{kube::resources::secrets(), secret}, std::pair{gvr, app}}) {
            if (auto put = p->server.put(ref, obj); !put) {
                std::cerr << "fake API server put: " << put.error().message << "\n";
                return nullptr;
            }
        }
        config = p->server.config();
    } else {
        if (auto why = test::kube::lane_skip_reason(); !why.empty()) {
            std::cerr << "--server real: " << why << "\n";
            return nullptr;
        }
        if (auto st = p->cluster.start(work.path() / "cluster",
                                       {.controller_manager = false, .progress = stderr});
            !st) {
            std::cerr << "cluster: " << st.error().message << "\n";
            return nullptr;
        }
        auto admin = p->cluster.info().admin();
        if (!admin) {
            std::cerr << admin.error().message << "\n";
            return nullptr;
        }
        config = *admin;
        auto setup = kube::RestClient::create(config);
        if (!setup) {
            std::cerr << "kube client: " << setup.error().message << "\n";
            return nullptr;
        }
        if (auto crds = test::kube::apply_crds(**setup,
                                               test::kube::yaml_files(test::source_dir() / "crds"));
            !crds) {
            std::cerr << "CRD: " << crds.error().message << "\n";
            return nullptr;
        }
        nlohmann::json ns = {
            {"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "bench"}}}};
        for (const auto& [ref, obj] : {std::pair{kube::resources::namespaces(), ns},
                                       std::pair{kube::resources::secrets().in("bench"), secret},
                                       std::pair{gvr.in("bench"), app}}) {
            if (auto created = (*setup)->create(ref, obj); !created) {
                std::cerr << "create " << obj["kind"].get<std::string>() << ": "
                          << created.error().message << "\n";
                return nullptr;
            }
        }
    }
    controller::AppControllerConfig cfg;
    cfg.namespaces = {"bench"};
    cfg.metrics_bind_address = "127.0.0.1:0";
    cfg.health_probe_bind_address = "127.0.0.1:0";
    controller::ClusterPromotionOptions po;
    po.cache_dir = work.path() / "cache";
    po.webhook_address = "127.0.0.1:" + std::to_string(s.webhook_port);
    po.webhook.bearer_token = s.webhook_token;
    po.registry.hosts[s.registry_host].plain_http = true;
    if (s.window_ms >= 0) po.committer.window = std::chrono::milliseconds(s.window_ms);
    cfg.promotion = po;
    auto client = kube::RestClient::create(config);
    if (!client) {
        std::cerr << "kube client: " << client.error().message << "\n";
        return nullptr;
    }
    auto ctl = controller::AppController::create(cfg, std::move(client).value(), "bench");
    if (!ctl) {
        std::cerr << "controller: " << ctl.error().message << "\n";
        return nullptr;
    }
    p->ctl = std::move(ctl).value();
    if (auto st = p->ctl->start(); !st) {
        std::cerr << "controller start: " << st.error().message << "\n";
        return nullptr;
    }
    return p;
}
}  // namespace

int main(int argc, char** argv) {
    int pushes = 100, floor_samples = 20, window_ms = -1;
    bool verbose = false;
    std::string mode = "local", server_kind = "fake";
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--verbose") {
            verbose = true;
            continue;
        }
        if (i + 1 >= argc) break;
        int v = std::atoi(argv[++i]);
        if (a == "--mode") {
            mode = argv[i];
            continue;
        }
        if (a == "--server") {
            server_kind = argv[i];
            continue;
        }
        if (a == "--pushes")
            pushes = v;
        else if (a == "--floor-samples")
            floor_samples = v;
        else if (a == "--window-ms")
            window_ms = v;
    }
    log::set_level(verbose ? log::Level::debug : log::Level::warn);
    if (mode != "local" && mode != "cluster") {
        std::cerr << "--mode: local or cluster\n";
        return 2;
    }
    if (server_kind != "fake" && server_kind != "real") {
        std::cerr << "--server: fake or real\n";
        return 2;
    }
    if (server_kind == "real" && mode != "cluster") {
        std::cerr << "--server real needs --mode cluster\n";
        return 2;
    }
    if (!test::require_tools({"git", "lighttpd", "docker-registry", "skopeo", "umoci"})) return 2;

    // The GitOps repo on lighttpd + git-http-backend (basic auth).
    test::TestCa ca;
    test::BareRepos repos;
    fs::path bare = repos.create("gitops.git");
    test::HttpGitServer git_server(repos, ca);
    if (!git_server.started()) {
        std::cerr << "git server did not start: " << git_server.error_log() << "\n";
        return 2;
    }

    // docker-registry whose notifications go to the runner's webhook (port chosen before either
    // starts).
    int webhook_port = test::free_port();
    const std::string token = "bench-webhook-token";
    auto reg = test::TestRegistry::start(
        {.notify_url = "http://127.0.0.1:" + std::to_string(webhook_port) + "/webhooks/registry",
         .notify_token = token});
    if (!reg) return 2;
    const std::string image = reg->host() + "/bench/app";
    repos.commit_files("gitops.git",
                       {{"apps/app/kustomization.yaml",
                         "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                         "resources: []\nimages:\n- name: " +
                             image + "\n  newTag: old\n"},
                        {"floor/notes.txt", "0\n"}});

    // The promoter under test: one PoetryApp, one kustomize environment, its webhook on
    // `webhook_port`.
    Setup setup{image,
                git_server.http_url("gitops.git"),
                git_server.user(),
                git_server.password(),
                reg->host(),
                webhook_port,
                token,
                window_ms,
                server_kind == "real"};
    TempDir work("poetryops-bench-latency");
    auto promoter = mode == "cluster" ? start_cluster(setup, work) : start_local(setup, work);
    if (!promoter) return 2;

    // One base image through skopeo (config and layer blobs), pushed once the runner's webhook
    // listens: docker-registry delivers notifications in order and backs off on a refused one, so
    // an event sent before the listener was up would hold back the first measured pushes. Each
    // version is a distinct manifest over the same blobs (an annotation names the version), pushed
    // by API so that t0 is exactly when the PUT returned.
    if (reg->push_image("bench/app", "base", "bench payload").empty()) return 2;
    registry::RegistryClientOptions ro;
    ro.hosts[reg->host()].plain_http = true;
    auto pusher = registry::RegistryClient::create(ro).value();
    auto repo_ref = registry::parse_repository(image).value();
    auto base = pusher->get_manifest(registry::parse_reference(image + ":base").value());
    if (!base) {
        std::cerr << "cannot read base manifest: " << base.error().message << "\n";
        return 2;
    }
    nlohmann::json base_manifest = nlohmann::json::parse(base->bytes);
    auto push_version = [&](const std::string& version) -> std::string {
        nlohmann::json m = base_manifest;
        m["annotations"]["org.opencontainers.image.version"] = version;
        auto d = pusher->put_manifest(repo_ref, version, m.dump(), base->media_type);
        if (!d) {
            std::cerr << "push " << version << " failed: " << d.error().message << "\n";
            return "";
        }
        return d->digest;
    };

    const std::string path = "main:apps/app/kustomization.yaml";
    auto wait_for_digest = [&](const std::string& digest, const std::string& since_tip,
                               std::chrono::seconds limit) -> std::optional<Steady::time_point> {
        auto deadline = Steady::now() + limit;
        std::string checked = since_tip;
        while (Steady::now() < deadline) {
            std::string tip = read_tip(bare);
            if (!tip.empty() && tip != checked) {
                auto seen = Steady::now();
                if (show(bare, tip + ":apps/app/kustomization.yaml").find(digest) !=
                    std::string::npos)
                    return seen;
                checked = tip;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return std::nullopt;
    };

    // Warm-up (not counted): the first pass clones the repo and opens the registry connection.
    std::string tip = read_tip(bare);
    auto warm_t0 = Steady::now();
    std::string warm = push_version("0.9.0");
    if (warm.empty()) return 2;
    auto warm_seen = wait_for_digest(warm, tip, std::chrono::seconds(60));
    if (!warm_seen) {
        std::cerr << "warm-up push 0.9.0 was never promoted\n" << show(bare, path) << "\n";
        return 1;
    }
    double warm_ms = ms_between(warm_t0, *warm_seen);
    // Let the pass that follows a commit finish before measuring.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    tip = read_tip(bare);
    std::string first_tip = tip;
    auto stats_before = promoter->stats();

    std::vector<double> latencies;
    int one_commit_each = 0, timeouts = 0;
    std::vector<int> commits_per_push;
    for (int i = 0; i < pushes; ++i) {
        std::string version = "1.0." + std::to_string(i);
        std::string digest = push_version(version);
        auto t0 = Steady::now();
        POETRYOPS_LOG(debug, "bench: manifest PUT returned", {{"version", version}});
        if (digest.empty()) return 2;
        auto t1 = wait_for_digest(digest, tip, std::chrono::seconds(60));
        if (!t1) {
            ++timeouts;
            std::cerr << "push " << version << " not promoted within 60 s\n";
            continue;
        }
        latencies.push_back(ms_between(t0, *t1));
        std::string new_tip = read_tip(bare);
        int n = count_commits(bare, tip + ".." + new_tip);
        commits_per_push.push_back(n);
        if (n == 1) ++one_commit_each;
        tip = new_tip;
    }
    // Anything still to come (a second commit for the last push) would show here.
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    auto stats_after = promoter->stats();
    int total_commits = count_commits(bare, first_tip + "..main");
    promoter.reset();

    // The floor: one git push of a one-line change to the same server, plus one registry HEAD.
    TempDir floor_dir("poetryops-bench-floor");
    std::string auth_url = git_server.http_url("gitops.git");
    auth_url.insert(auth_url.find("://") + 3,
                    git_server.user() + ":" + git_server.password() + "@");
    fs::path clone = floor_dir.path() / "clone";
    auto cl = test::plain_git({"clone", "-q", auth_url, clone.string()});
    if (!cl.ok()) {
        std::cerr << "clone failed: " << cl.err << "\n";
        return 2;
    }
    registry::RegistryClientOptions ho;
    ho.hosts[reg->host()].plain_http = true;
    auto head_client = registry::RegistryClient::create(ho).value();
    auto head_ref = registry::parse_reference(image + ":1.0.0").value();
    if (!head_client->resolve(head_ref))
        return 2;  // open the connection once, like the runner's warm client
    std::vector<double> floor_push, floor_head, floor_total;
    for (int i = 0; i < floor_samples; ++i) {
        if (!write_file_atomic(clone / "floor/notes.txt", std::to_string(i + 1) + "\n")) return 2;
        auto c =
            test::plain_git({"-C", clone.string(), "-c", "user.name=bench", "-c",
                             "user.email=bench@x", "commit", "-qam", "floor " + std::to_string(i)});
        if (!c.ok()) {
            std::cerr << "commit failed: " << c.err << "\n";
            return 2;
        }
        auto p0 = Steady::now();
        auto p = test::plain_git({"-C", clone.string(), "push", "-q", "origin", "HEAD:main"});
        auto p1 = Steady::now();
        if (!p.ok()) {
            std::cerr << "floor push failed: " << p.err << "\n";
            return 2;
        }
        auto h = head_client->resolve(head_ref);
        auto h1 = Steady::now();
        if (!h) return 2;
        floor_push.push_back(ms_between(p0, p1));
        floor_head.push_back(ms_between(p1, h1));
        floor_total.push_back(ms_between(p0, h1));
    }

    double p50 = percentile(latencies, 50), p99 = percentile(latencies, 99);
    double f50 = percentile(floor_total, 50), f99 = percentile(floor_total, 99);
    nlohmann::json out = {
        {"bench", "promote_latency"},
        {"pushes", pushes},
        {"mode", mode},
        {"server", mode == "cluster" ? server_kind : "none"},
        {"committer_window_ms",
         window_ms >= 0 ? window_ms : git::CommitterOptions{}.window.count()},
        {"warmup_ms", warm_ms},
        {"latency", summary(latencies)},
        {"latencies_ms", latencies},
        {"timeouts", timeouts},
        {"floor",
         {{"push_plus_head", summary(floor_total)},
          {"git_push", summary(floor_push)},
          {"registry_head", summary(floor_head)}}},
        {"ratio_p50", f50 > 0 ? p50 / f50 : 0},
        {"ratio_p99", f99 > 0 ? p99 / f99 : 0},
        {"target_p50_ratio", 1.5},
        {"target_p99_ratio", 3.0},
        {"targets_met", timeouts == 0 && f50 > 0 && p50 / f50 <= 1.5 && p99 / f99 <= 3.0},
        {"commits_on_remote", total_commits},
        {"committer",
         stats_before && stats_after
             ? nlohmann::json{{"commits", stats_after->commits - stats_before->commits},
                              {"pushes", stats_after->pushes - stats_before->pushes},
                              {"batches", stats_after->batches - stats_before->batches},
                              {"conflicts", stats_after->conflicts - stats_before->conflicts}}
             : nlohmann::json("not exposed by the controller")},
        {"pushes_with_exactly_one_commit", one_commit_each},
        {"every_push_one_commit", one_commit_each == pushes && total_commits == pushes},
    };
    std::cout << out.dump(2) << std::endl;
    return 0;
}

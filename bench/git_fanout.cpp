// bench_git_fanout: 1,000 apps promoted at once through the batching committer vs the naive loop
// (clone, edit, commit, push per app), both against the same lighttpd + git-http-backend server
// with basic auth.
//
//   bench_git_fanout [--apps 1000] [--naive-sample 50] [--window-ms 200] [--threads 8]
//
// The naive loop is timed on a sample of apps and extrapolated linearly (each iteration is
// independent and the same size); the JSON says so.
#include <poetryops/git/committer.hpp>

#include "bench_support.hpp"
#include "support/git/git_servers.hpp"

#include <poetryops/util/log.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <set>
#include <thread>

using namespace poetryops;
using Clock = std::chrono::steady_clock;

namespace {

using poetryops::bench::seconds_since;

std::string kustomization(int i, const std::string& tag) {
    return "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- "
           "deployment.yaml\n"
           "images:\n- name: registry.example.com/app" +
           std::to_string(i) + "\n  newTag: \"" + tag + "\"\n";
}

/// A string edit of the newTag line (the YAML editor lives in another module; the cost here is
/// git's).
git::FileEdit set_tag(int i, const std::string& tag) {
    git::FileEdit e;
    e.path = "apps/app" + std::to_string(i) + "/kustomization.yaml";
    e.apply = [tag](std::optional<std::string_view> cur) -> Result<std::optional<std::string>> {
        if (!cur) return fail(Error::Kind::not_found, "missing kustomization.yaml");
        std::string s(*cur);
        auto p = s.find("newTag: \"");
        if (p == std::string::npos) return fail(Error::Kind::invalid, "no newTag");
        auto q = s.find('"', p + 9);
        std::string next = s.substr(0, p + 9) + tag + s.substr(q);
        if (next == s) return std::optional<std::string>();
        return std::optional<std::string>(next);
    };
    return e;
}

}  // namespace

int main(int argc, char** argv) {
    int apps = 1000, sample = 50, window_ms = 200, threads = 8;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        int v = std::atoi(argv[i + 1]);
        if (a == "--apps")
            apps = v;
        else if (a == "--naive-sample")
            sample = v;
        else if (a == "--window-ms")
            window_ms = v;
        else if (a == "--threads")
            threads = v;
        else {
            std::cerr << "unknown flag " << a << "\n";
            return 2;
        }
    }
    sample = std::min(sample, apps);
    poetryops::log::set_level(std::getenv("POETRYOPS_BENCH_DEBUG") ? poetryops::log::Level::debug
                                                                   : poetryops::log::Level::warn);

    test::BareRepos repos;
    repos.create("gitops.git");
    std::map<std::string, std::string> files;
    for (int i = 0; i < apps; ++i) {
        files["apps/app" + std::to_string(i) + "/kustomization.yaml"] = kustomization(i, "1.0.0");
        files["apps/app" + std::to_string(i) + "/deployment.yaml"] = "kind: Deployment\n";
    }
    std::string base = repos.commit_files("gitops.git", files);
    test::TestCa ca;
    test::HttpGitServer server(repos, ca);
    if (!server.started()) return 1;

    // --- the committer: all apps at once, from several threads ---
    TempDir cache_dir("poetryops-bench-cache");
    auto cache = git::RepoCache::create(cache_dir.path());
    git::Remote remote;
    remote.url = server.http_url("gitops.git");
    remote.username = server.user();
    remote.password = server.password();
    auto t0 = Clock::now();
    auto repo = (*cache)->open(remote);
    if (!repo) {
        std::cerr << repo.error().message << "\n";
        return 1;
    }
    git::CommitterOptions opts;
    opts.window = std::chrono::milliseconds(window_ms);
    opts.max_batch = static_cast<std::size_t>(apps) + 1;
    std::size_t ok_count = 0, changed = 0;
    std::set<std::string> shas;
    {
        git::Committer committer(*repo, opts);
        std::vector<std::future<Result<git::EditOutcome>>> futures(apps);
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t) {
            pool.emplace_back([&, t] {
                for (int i = t; i < apps; i += threads) {
                    git::EditRequest r;
                    r.edits = {set_tag(i, "2.0.0")};
                    r.message.app = "app" + std::to_string(i);
                    r.message.env = "prod";
                    r.message.version = "2.0.0";
                    r.message.trailers = {
                        {"Poetryops-Promotion", "bench/" + r.message.app + "/prod/sha256:00"}};
                    futures[i] = committer.submit(std::move(r));
                }
            });
        }
        for (auto& p : pool) p.join();
        for (auto& f : futures) {
            auto r = f.get();
            if (!r) {
                std::cerr << r.error().message << "\n";
                continue;
            }
            ++ok_count;
            changed += r->changed ? 1 : 0;
            shas.insert(r->commit);
        }
    }
    double committer_s = seconds_since(t0);
    auto count = test::plain_git(
        {"--git-dir", repos.path("gitops.git").string(), "rev-list", "--count", base + "..main"});
    int commits = std::atoi(count.out.c_str());
    bool all_set =
        repos.show("gitops.git", "main:apps/app" + std::to_string(apps - 1) + "/kustomization.yaml")
            .find("2.0.0") != std::string::npos;

    // --- the naive loop: clone, edit, commit, push per app ---
    TempDir naive_dir("poetryops-bench-naive");
    auto askpass = naive_dir.path() / "askpass";
    (void)write_file_atomic(askpass, "#!/bin/sh\necho \"$NAIVE_PW\"\n", 0700);
    ProcessOptions po;
    po.env = {{"GIT_CONFIG_NOSYSTEM", "1"},
              {"GIT_CONFIG_GLOBAL", "/dev/null"},
              {"GIT_TERMINAL_PROMPT", "0"},
              {"GIT_ASKPASS", askpass.string()},
              {"NAIVE_PW", server.password()}};
    std::string user_url = "http://" + server.user() +
                           "@127.0.0.1:" + std::to_string(server.http_port()) + "/git/gitops.git";
    auto n0 = Clock::now();
    int naive_ok = 0;
    for (int i = 0; i < sample; ++i) {
        auto w = naive_dir.path() / ("w" + std::to_string(i));
        auto git = [&](std::vector<std::string> args) {
            std::vector<std::string> argv = {"git", "-c", "user.name=naive", "-c",
                                             "user.email=naive@x"};
            argv.insert(argv.end(), args.begin(), args.end());
            auto r = run_process(argv, po);
            return r && r->ok();
        };
        if (!git({"clone", "-q", user_url, w.string()})) continue;
        auto f = w / ("apps/app" + std::to_string(i) + "/kustomization.yaml");
        auto content = read_file(f);
        auto edited = set_tag(i, "3.0.0").apply(std::string_view(*content));
        if (!edited || !*edited) continue;
        (void)write_file_atomic(f, **edited);
        if (git({"-C", w.string(), "commit", "-qam", "promote app" + std::to_string(i)}) &&
            git({"-C", w.string(), "push", "-q", "origin", "HEAD:main"})) {
            ++naive_ok;
        }
        std::filesystem::remove_all(w);
    }
    double naive_sample_s = seconds_since(n0);
    double naive_per_app = naive_sample_s / std::max(1, sample);
    double naive_total = naive_per_app * apps;

    nlohmann::json out = {{"bench", "git_fanout"},
                          {"apps", apps},
                          {"server", "lighttpd + git-http-backend, HTTP basic auth, 127.0.0.1"},
                          {"committer",
                           {{"seconds", committer_s},
                            {"requests_ok", ok_count},
                            {"changed", changed},
                            {"commits", commits},
                            {"distinct_commit_shas", shas.size()},
                            {"window_ms", window_ms},
                            {"all_tags_set", all_set},
                            {"git_calls", (*repo)->git_calls()}}},
                          {"naive",
                           {{"sampled_apps", sample},
                            {"sample_seconds", naive_sample_s},
                            {"pushed_ok", naive_ok},
                            {"seconds_per_app", naive_per_app},
                            {"extrapolated_seconds_for_all", naive_total},
                            {"extrapolated", sample < apps},
                            {"commits_for_all", apps}}},
                          {"speedup", naive_total / committer_s},
                          {"targets", {{"speedup_min", 20}, {"commits_max", 3}}},
                          {"pass", naive_total / committer_s >= 20 && commits <= 3 &&
                                       ok_count == static_cast<std::size_t>(apps)}};
    std::cout << out.dump(2) << std::endl;
    return 0;
}

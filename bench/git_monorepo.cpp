// bench_git_monorepo: one promotion on a warm cache of a large repo (100,000 files, 10,000 commits,
// generated with git fast-import) vs the same promotion on a 10-file repo, both over lighttpd +
// git-http-backend. Also reports the cold first fetch of each.
//
//   bench_git_monorepo [--files 100000] [--commits 10000] [--runs 15]
#include <poetryops/git/committer.hpp>

#include "bench_support.hpp"
#include "support/git/git_servers.hpp"

#include <poetryops/util/log.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <set>

using namespace poetryops;
using Clock = std::chrono::steady_clock;

namespace {

using poetryops::bench::seconds_since;

/// Path of file i: 100 teams x 10 apps x N files per app folder, like a big GitOps monorepo.
std::string file_path(int i, int files) {
    int per_app = std::max(1, files / 1000);
    int app = i / per_app;
    return "team" + std::to_string(app / 10) + "/app" + std::to_string(app % 10) + "/f" +
           std::to_string(i % per_app) + ".yaml";
}

/// Generates the repo with one fast-import stream: a first commit with every file, then small
/// commits.
bool generate(const std::filesystem::path& bare, int files, int commits) {
    std::string s;
    s.reserve(static_cast<std::size_t>(files) * 120 + static_cast<std::size_t>(commits) * 200);
    auto data = [&](const std::string& d) {
        s += "data " + std::to_string(d.size()) + "\n" + d + "\n";
    };
    long t = 1700000000;
    s += "commit refs/heads/main\ncommitter Gen <gen@x> " + std::to_string(t) + " +0000\n";
    data("initial");
    for (int i = 0; i < files; ++i) {
        s += "M 100644 inline " + file_path(i, files) + "\n";
        data("kind: ConfigMap\nmetadata:\n  name: cm" + std::to_string(i) +
             "\ndata:\n  v: \"0\"\n");
    }
    s += "M 100644 inline deploy/prod/web/kustomization.yaml\n";
    data("images:\n- name: web\n  newTag: \"0\"\n");
    for (int c = 1; c < commits; ++c) {
        s += "commit refs/heads/main\ncommitter Gen <gen@x> " + std::to_string(t + c) + " +0000\n";
        data("change " + std::to_string(c));
        int i = static_cast<int>((static_cast<long long>(c) * 7919) % files);
        s += "M 100644 inline " + file_path(i, files) + "\n";
        data("kind: ConfigMap\nmetadata:\n  name: cm" + std::to_string(i) + "\ndata:\n  v: \"" +
             std::to_string(c) + "\"\n");
    }
    auto r = test::plain_git({"--git-dir", bare.string(), "fast-import", "--quiet"}, {}, s);
    if (!r.ok()) {
        std::cerr << "fast-import: " << r.err << "\n";
        return false;
    }
    // Like a hosted server: one pack with a bitmap.
    return test::plain_git({"--git-dir", bare.string(), "repack", "-adq", "--write-bitmap-index"})
        .ok();
}

struct Measured {
    double cold_fetch_s = 0;
    std::vector<double> promotions_ms;
    // the same promotions minus the `git push` call (server receive-pack)
    std::vector<double> without_push_ms;
    double median_without_push_ms = 0;
    double median_ms = 0;
    std::size_t git_calls_per_promotion = 0;
};

/// One repository under test: its own cache (cold first fetch measured) and committer.
class Subject {
public:
    Subject(const test::HttpGitServer& server, const std::string& name)
        : cache_dir_("poetryops-bench-cache") {
        cache_ = std::move(git::RepoCache::create(cache_dir_.path())).value();
        git::Remote remote;
        remote.url = server.http_url(name);
        remote.username = server.user();
        remote.password = server.password();
        remote.timeout = std::chrono::minutes(10);
        repo_ = std::move(cache_->open(remote)).value();
        auto t0 = Clock::now();
        auto tip = repo_->fetch("main");
        m.cold_fetch_s = seconds_since(t0);
        if (!tip) std::cerr << tip.error().message << "\n";
        git::CommitterOptions o;
        o.window = std::chrono::milliseconds(0);
        committer_ = std::make_unique<git::Committer>(repo_, o);
    }

    /// One promotion (a new tag in one kustomization.yaml); recorded unless it is the warm-up.
    void promote(int n, bool record) {
        git::EditRequest req;
        req.edits = {
            git::set_file("deploy/prod/web/kustomization.yaml",
                          "images:\n- name: web\n  newTag: \"" + std::to_string(n) + "\"\n")};
        req.message.app = "web";
        req.message.env = "prod";
        std::size_t calls0 = repo_->git_calls();
        long long push0 = repo_->push_ms();
        auto t = Clock::now();
        auto out = committer_->submit(std::move(req)).get();
        double ms = seconds_since(t) * 1000;
        if (!out || !out->changed) {
            std::cerr << (out ? "unchanged" : out.error().message) << "\n";
            return;
        }
        if (record) {
            m.promotions_ms.push_back(ms);
            m.without_push_ms.push_back(ms - static_cast<double>(repo_->push_ms() - push0));
            m.git_calls_per_promotion = repo_->git_calls() - calls0;
        }
    }

    void finish() {
        auto v = m.promotions_ms;
        std::sort(v.begin(), v.end());
        if (!v.empty()) m.median_ms = v[v.size() / 2];
        auto w = m.without_push_ms;
        std::sort(w.begin(), w.end());
        if (!w.empty()) m.median_without_push_ms = w[w.size() / 2];
    }

    Measured m;

private:
    TempDir cache_dir_;
    std::unique_ptr<git::RepoCache> cache_;
    std::shared_ptr<git::Repo> repo_;
    std::unique_ptr<git::Committer> committer_;
};

}  // namespace

int main(int argc, char** argv) {
    int files = 100000, commits = 10000, runs = 15;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        int v = std::atoi(argv[i + 1]);
        if (a == "--files")
            files = v;
        else if (a == "--commits")
            commits = v;
        else if (a == "--runs")
            runs = v;
        else {
            std::cerr << "unknown flag " << a << "\n";
            return 2;
        }
    }
    poetryops::log::set_level(std::getenv("POETRYOPS_BENCH_DEBUG") ? poetryops::log::Level::debug
                                                                   : poetryops::log::Level::warn);
    test::BareRepos repos;
    auto big = repos.create("mono.git");
    auto small = repos.create("small.git");
    auto g0 = Clock::now();
    if (!generate(big, files, commits)) return 1;
    double gen_s = seconds_since(g0);
    if (!generate(small, 10, 10)) return 1;
    test::TestCa ca;
    test::HttpGitServer server(repos, ca);
    if (!server.started()) return 1;

    Subject small_subject(server, "small.git");
    Subject big_subject(server, "mono.git");
    // Alternate the two so that load from other processes on the machine hits both alike; run 0 is
    // the warm-up.
    for (int r = 0; r <= runs; ++r) {
        small_subject.promote(r + 1, r > 0);
        big_subject.promote(r + 1, r > 0);
    }
    small_subject.finish();
    big_subject.finish();
    const Measured& s = small_subject.m;
    const Measured& b = big_subject.m;
    double ratio = s.median_ms > 0 ? b.median_ms / s.median_ms : 0;
    double ratio_client =
        s.median_without_push_ms > 0 ? b.median_without_push_ms / s.median_without_push_ms : 0;
    nlohmann::json out = {{"bench", "git_monorepo"},
                          {"server", "lighttpd + git-http-backend, HTTP basic auth, 127.0.0.1"},
                          {"monorepo",
                           {{"files", files + 1},
                            {"commits", commits},
                            {"generate_seconds", gen_s},
                            {"cold_first_fetch_seconds", b.cold_fetch_s},
                            {"warm_promotion_ms_median", b.median_ms},
                            {"warm_promotion_ms_all", b.promotions_ms},
                            {"warm_promotion_without_push_ms_median", b.median_without_push_ms},
                            {"git_calls_per_promotion", b.git_calls_per_promotion}}},
                          {"small",
                           {{"files", 11},
                            {"commits", 10},
                            {"cold_first_fetch_seconds", s.cold_fetch_s},
                            {"warm_promotion_ms_median", s.median_ms},
                            {"warm_promotion_ms_all", s.promotions_ms},
                            {"warm_promotion_without_push_ms_median", s.median_without_push_ms},
                            {"git_calls_per_promotion", s.git_calls_per_promotion}}},
                          {"ratio_monorepo_to_small", ratio},
                          {"ratio_without_push", ratio_client},
                          {"note",
                           "push time includes the server's receive-pack connectivity check "
                           "(rev-list --objects --not --all), "
                           "which stock git servers do in O(tree size)"},
                          {"targets", {{"ratio_max", 2}}},
                          {"pass", ratio > 0 && ratio <= 2}};
    std::cout << out.dump(2) << std::endl;
    return 0;
}

// bench_git_races: three committers (two sharing one cache directory, one with its own, like three
// replicas) and a foreign pusher on one branch of a lighttpd + git-http-backend server, for a fixed
// time. Reports lost updates (acknowledged changes missing from the final tip) and force pushes
// (reflog entries whose old tip is not an ancestor of the new one; the bare repo keeps
// core.logAllRefUpdates=always). Targets: 0 and 0.
//
//   bench_git_races [--seconds 60] [--window-ms 200]
#include <poetryops/git/committer.hpp>

#include "support/git/git_servers.hpp"

#include <poetryops/util/log.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

using namespace poetryops;
using Clock = std::chrono::steady_clock;

namespace {

/// Idempotent "key: value" line edit.
git::FileEdit set_key(std::string path, std::string key, std::string value) {
    git::FileEdit e;
    e.path = std::move(path);
    e.apply = [key,
               value](std::optional<std::string_view> cur) -> Result<std::optional<std::string>> {
        std::string text = cur ? std::string(*cur) : std::string();
        auto pos = text.find(key + ": ");
        std::string next = pos == std::string::npos
                               ? text + key + ": " + value + "\n"
                               : text.substr(0, pos) + key + ": " + value + "\n" +
                                     (text.find('\n', pos) == std::string::npos
                                          ? ""
                                          : text.substr(text.find('\n', pos) + 1));
        if (next == text) return std::optional<std::string>();
        return std::optional<std::string>(next);
    };
    return e;
}

std::string value_of(const std::string& text, const std::string& key) {
    auto pos = text.find(key + ": ");
    if (pos == std::string::npos) return {};
    auto end = text.find('\n', pos);
    return text.substr(pos + key.size() + 2, end - pos - key.size() - 2);
}

}  // namespace

int main(int argc, char** argv) {
    int seconds = 60, window_ms = 200;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        int v = std::atoi(argv[i + 1]);
        if (a == "--seconds")
            seconds = v;
        else if (a == "--window-ms")
            window_ms = v;
        else {
            std::cerr << "unknown flag " << a << "\n";
            return 2;
        }
    }
    poetryops::log::set_level(poetryops::log::Level::error);
    test::BareRepos repos;
    auto bare = repos.create("gitops.git");
    repos.commit_files("gitops.git",
                       {{"shared/images.txt", "init: 0\n"}, {"foreign/counter.txt", "n: 0\n"}});
    test::TestCa ca;
    test::HttpGitServer server(repos, ca);
    if (!server.started()) return 1;

    git::Remote remote;
    remote.url = server.http_url("gitops.git");
    remote.username = server.user();
    remote.password = server.password();
    TempDir shared_cache("poetryops-race-a"), own_cache("poetryops-race-b");
    auto cache_a1 = git::RepoCache::create(shared_cache.path());
    auto cache_a2 = git::RepoCache::create(shared_cache.path());
    auto cache_b = git::RepoCache::create(own_cache.path());
    git::CommitterOptions o;
    o.window = std::chrono::milliseconds(window_ms);
    o.max_attempts = 20;
    std::vector<std::unique_ptr<git::Committer>> committers;
    for (auto* c : {&cache_a1, &cache_a2, &cache_b}) {
        auto repo = (**c)->open(remote);
        if (!repo) {
            std::cerr << repo.error().message << "\n";
            return 1;
        }
        committers.push_back(std::make_unique<git::Committer>(*repo, o));
    }

    // Acknowledged state: for every (file, key) the last value a committer was told is in a pushed
    // commit.
    struct Ack {
        std::string file, key, value, commit;
    };
    std::mutex ack_mu;
    std::vector<Ack> acks;
    std::atomic<int> failures{0}, unchanged{0};
    std::vector<std::string> failure_samples;
    auto deadline = Clock::now() + std::chrono::seconds(seconds);
    std::vector<std::thread> workers;
    for (int c = 0; c < 3; ++c) {
        for (int t = 0; t < 2; ++t) {
            workers.emplace_back([&, c, t] {
                std::string me = "c" + std::to_string(c) + "t" + std::to_string(t);
                for (int n = 1; Clock::now() < deadline; ++n) {
                    git::EditRequest r;
                    std::string file = "apps/" + me + "/values.yaml";
                    // Each writer owns one key in a shared file too: concurrent edits of one file
                    // must compose.
                    r.edits = {set_key(file, "tag", std::to_string(n)),
                               set_key("shared/images.txt", me, std::to_string(n))};
                    r.message.app = me;
                    r.message.env = "prod";
                    auto out = committers[c]->submit(std::move(r)).get();
                    std::lock_guard<std::mutex> g(ack_mu);
                    if (!out) {
                        ++failures;
                        if (failure_samples.size() < 5)
                            failure_samples.push_back(out.error().message);
                        continue;
                    }
                    if (!out->changed) ++unchanged;
                    acks.push_back({file, "tag", std::to_string(n), out->commit});
                    acks.push_back({"shared/images.txt", me, std::to_string(n), out->commit});
                }
            });
        }
    }
    std::atomic<int> foreign_pushes{0};
    std::string last_foreign;
    std::thread foreign([&] {
        for (int n = 1; Clock::now() < deadline; ++n) {
            std::string sha = repos.commit_files(
                "gitops.git", {{"foreign/counter.txt", "n: " + std::to_string(n) + "\n"}}, "main",
                "foreign " + std::to_string(n));
            if (sha.empty()) continue;
            ++foreign_pushes;
            std::lock_guard<std::mutex> g(ack_mu);
            acks.push_back({"foreign/counter.txt", "n", std::to_string(n), sha});
            last_foreign = sha;
        }
    });
    for (auto& w : workers) w.join();
    foreign.join();
    git::CommitterStats sum;
    for (const auto& c : committers) {
        auto st = c->stats();
        sum.batches += st.batches;
        sum.commits += st.commits;
        sum.pushes += st.pushes;
        sum.conflicts += st.conflicts;
    }
    committers.clear();

    // --- verification against the server's repository ---
    std::string tip = repos.tip("gitops.git");
    std::map<std::pair<std::string, std::string>, int> last_value;
    std::set<std::string> ack_commits;
    for (const auto& a : acks) {
        auto& v = last_value[{a.file, a.key}];
        v = std::max(v, std::atoi(a.value.c_str()));
        ack_commits.insert(a.commit);
    }
    int lost = 0;
    for (const auto& [fk, v] : last_value) {
        std::string content = repos.show("gitops.git", tip + ":" + fk.first);
        if (value_of(content, fk.second) != std::to_string(v)) ++lost;
    }
    int lost_commits = 0;
    for (const auto& sha : ack_commits) {
        auto r =
            test::plain_git({"--git-dir", bare.string(), "merge-base", "--is-ancestor", sha, tip});
        if (!r.ok()) ++lost_commits;
    }
    // Every update of refs/heads/main must be a fast-forward.
    std::ifstream reflog(bare / "logs" / "refs" / "heads" / "main");
    std::string line;
    int updates = 0, force_pushes = 0;
    while (std::getline(reflog, line)) {
        std::string old_sha = line.substr(0, 40), new_sha = line.substr(41, 40);
        ++updates;
        if (old_sha == std::string(40, '0')) continue;
        auto r = test::plain_git(
            {"--git-dir", bare.string(), "merge-base", "--is-ancestor", old_sha, new_sha});
        if (!r.ok()) ++force_pushes;
    }
    auto total = test::plain_git({"--git-dir", bare.string(), "rev-list", "--count", "main"});
    nlohmann::json out = {
        {"bench", "git_races"},
        {"seconds", seconds},
        {"writers",
         "3 committers x 2 submitting threads (2 committers share one cache dir) + 1 foreign "
         "pusher"},
        {"acknowledged_changes", acks.size()},
        {"unchanged", unchanged.load()},
        {"failed_requests", failures.load()},
        {"failure_samples", failure_samples},
        {"foreign_pushes", foreign_pushes.load()},
        {"committer_batches", sum.batches},
        {"committer_commits", sum.commits},
        {"committer_pushes", sum.pushes},
        {"committer_push_conflicts_reapplied", sum.conflicts},
        {"ref_updates", updates},
        {"commits_on_branch", std::atoi(total.out.c_str())},
        {"lost_updates", lost},
        {"acknowledged_commits_not_in_history", lost_commits},
        {"force_pushes", force_pushes},
        {"targets", {{"lost_updates", 0}, {"force_pushes", 0}}},
        {"pass", lost == 0 && lost_commits == 0 && force_pushes == 0 && updates > 0}};
    std::cout << out.dump(2) << std::endl;
    return 0;
}

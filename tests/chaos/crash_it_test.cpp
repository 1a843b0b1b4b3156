// Chaos, issue #15 "crash anywhere" and "foreign writer", local mode: `poetryops run` (the real
// binary) promotes new images of many apps into one GitOps repository on a real git server
// (lighttpd + git-http-backend, HTTP with basic auth) while it is SIGKILLed at random moments and
// restarted, and while another writer pushes unrelated commits to the same branch. Afterwards:
// every environment pins the newest image, no promotion commit is duplicated (trailers counted),
// every promotion recorded in status is on the branch, none of the other writer's commits is lost,
// the server's reflog shows no force push, one `run --once` converges every status, and no git
// process or temp file of a killed run is left.
//
// Profiles (environment variables; docs/reliability.md has the long command and its figures):
//   POETRYOPS_CHAOS_APPS (default 12), POETRYOPS_CHAOS_ROUNDS (new images per app, default 3),
//   POETRYOPS_CHAOS_KILL_MS=MIN-MAX (time a run lives before SIGKILL, default 100-1200),
//   POETRYOPS_CHAOS_REPORT=FILE (the figures as JSON).
#include <poetryops/registry/layout.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "chaos/chaos_support.hpp"
#include "support/git/git_servers.hpp"
#include "support/registry/test_registry.hpp"
#include "support/support.hpp"

using namespace poetryops;
namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;
using namespace poetryops::test::chaos;

namespace {

int env_int(const char* name, int fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::atoi(v) : fallback;
}

std::pair<int, int> env_range(const char* name, int lo, int hi) {
    const char* v = std::getenv(name);
    if (!v || !*v) return {lo, hi};
    std::string s(v);
    auto dash = s.find('-');
    if (dash == std::string::npos) return {std::atoi(s.c_str()), std::atoi(s.c_str())};
    return {std::atoi(s.substr(0, dash).c_str()), std::atoi(s.substr(dash + 1).c_str())};
}

std::string app_name(int i) { return "app" + std::to_string(i); }
std::string repository(int i) { return "registry.local/chaos/" + app_name(i); }
std::string overlay(int i, const std::string& env) {
    return "apps/" + app_name(i) + "/" + env + "/kustomization.yaml";
}

class ChaosTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(test::require_tools({"git", "lighttpd"}));
        apps_ = env_int("POETRYOPS_CHAOS_APPS", 12);
        rounds_ = env_int("POETRYOPS_CHAOS_ROUNDS", 3);
        kill_ms_ = env_range("POETRYOPS_CHAOS_KILL_MS", 100, 1200);
        fs::create_directories(dir_.path() / "tmp");
        fs::create_directories(dir_.path() / "apps");
        bare_ = repos_.create("gitops.git");
        std::map<std::string, std::string> files;
        for (int i = 0; i < apps_; ++i)
            for (const char* env : {"dev", "staging"})
                files[overlay(i, env)] =
                    "resources: [../../base]\nimages:\n- name: " + repository(i) +
                    "\n  newTag: old\n";
        files["README.md"] = "GitOps repository of the chaos test\n";
        repos_.commit_files("gitops.git", files);
        server_ = std::make_unique<test::HttpGitServer>(repos_, ca_);
        ASSERT_TRUE(server_->started()) << server_->error_log();
        layout_ = std::make_unique<registry::LayoutRegistry>(
            dir_.path() / "registry", registry::LayoutOptions{.repository_subdirs = true});
        for (int i = 0; i < apps_; ++i) {
            std::string yaml =
                "apiVersion: poetryops.io/v1alpha1\nkind: PoetryApp\nmetadata:\n  name: " +
                app_name(i) +
                "\n  namespace: chaos\nspec:\n  image:\n    repository: " + repository(i) +
                "\n    tagTemplate: \"{version}\"\n    policy: {pollInterval: 1s}\n" +
                "  gitops: {repoURL: \"" + server_->http_url("gitops.git") + "\"}\n" +
                "  environments:\n  - {name: dev, path: apps/" + app_name(i) + "/dev}\n" +
                "  - {name: staging, path: apps/" + app_name(i) + "/staging}\n";
            ASSERT_TRUE(write_file_atomic(dir_.path() / "apps" / (app_name(i) + ".yaml"), yaml));
        }
    }

    /// Pushes version 1.<round>.0 of every app, one app every `gap` (so that runs are killed
    /// between and during their promotions); returns its digests by app.
    std::vector<std::string> push_round(int round, std::chrono::milliseconds gap = {}) {
        std::vector<std::string> digests;
        for (int i = 0; i < apps_; ++i) {
            digests.push_back(test::push_layout_image(*layout_, repository(i),
                                                      "1." + std::to_string(round) + ".0",
                                                      app_name(i) + "-r" + std::to_string(round)));
            std::this_thread::sleep_for(gap);
        }
        return digests;
    }

    std::vector<std::string> run_argv(bool once) const {
        std::vector<std::string> argv{POETRYOPS_BIN,
                                      "run",
                                      "-f",
                                      (dir_.path() / "apps").string(),
                                      "--state",
                                      (dir_.path() / "state").string(),
                                      "--registry-layout",
                                      (dir_.path() / "registry").string(),
                                      "--git-username",
                                      server_->user()};
        if (once) argv.push_back("--once");
        return argv;
    }

    ProcessOptions run_options() const {
        ProcessOptions o;
        o.env = {{"POETRYOPS_GIT_PASSWORD", server_->password()},
                 {"TMPDIR", (dir_.path() / "tmp").string()}};
        o.timeout = std::chrono::minutes(5);
        return o;
    }

    /// How many apps' `env` overlays on the server pin the digest in `digests` (one `git show`
    /// per file would be slow for the long profile: one `cat-file --batch`).
    int pinned(const std::string& env, const std::vector<std::string>& digests) {
        std::string input;
        for (int i = 0; i < apps_; ++i) input += "main:" + overlay(i, env) + "\n";
        auto r = test::plain_git({"--git-dir", bare_.string(), "cat-file", "--batch"}, {}, input);
        int n = 0;
        std::size_t pos = 0;
        for (int i = 0; i < apps_; ++i) {
            // Each object is "<sha> blob <size>\n<content>\n"; count the ones holding the digest.
            auto header_end = r.out.find('\n', pos);
            if (header_end == std::string::npos) break;
            std::istringstream header(r.out.substr(pos, header_end - pos));
            std::string sha, type;
            std::size_t size = 0;
            header >> sha >> type >> size;
            std::string content =
                type == "blob" ? r.out.substr(header_end + 1, size) : std::string{};
            if (content.find(digests[static_cast<std::size_t>(i)]) != std::string::npos) ++n;
            pos = header_end + 1 + (type == "blob" ? size + 1 : 0);
        }
        return n;
    }

    TempDir dir_{"poetryops-chaos"};
    test::TestCa ca_;
    test::BareRepos repos_;
    fs::path bare_;
    std::unique_ptr<test::HttpGitServer> server_;
    std::unique_ptr<registry::LayoutRegistry> layout_;
    int apps_ = 0, rounds_ = 0;
    std::pair<int, int> kill_ms_;
};

TEST_F(ChaosTest, KilledAnywhereItLosesAndDuplicatesNoPromotionAndKeepsEveryForeignCommit) {
    const auto started = Steady::now();
    std::cerr << "chaos: " << apps_ << " apps x " << rounds_ << " rounds, SIGKILL every "
              << kill_ms_.first << "-" << kill_ms_.second << " ms, a foreign writer throughout\n";
    std::vector<std::string> newest = push_round(0);
    ForeignWriter writer(server_->http_url("gitops.git"), server_->user(), server_->password(),
                         dir_.path() / "foreign");

    std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> life(kill_ms_.first, kill_ms_.second);
    int kills = 0, exits = 0;
    const auto log = (dir_.path() / "runs.log").string();
    // One round at a time: push new images app by app while the runner is killed and restarted,
    // until dev pins the round's digest in every app (so each round is a promotion of every dev).
    for (int round = 0; round <= rounds_; ++round) {
        std::atomic<bool> pushed{round == 0};
        std::thread pusher;
        if (round > 0) {
            pusher = std::thread([&, round] {
                newest = push_round(round, std::chrono::milliseconds(2000 / apps_ + 1));
                pushed = true;
            });
        }
        const auto deadline = Steady::now() + std::chrono::seconds(60 + apps_);
        int dev = 0;
        while ((!pushed || (dev = pinned("dev", newest)) < apps_) && Steady::now() < deadline) {
            auto child = ChildProcess::spawn(run_argv(false), run_options(), log);
            if (!child) {
                ADD_FAILURE() << child.error().message;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(life(rng)));
            // Only the runner, as a crash would: its git children are not signalled.
            if (child->running()) {
                ::kill(child->pid(), SIGKILL);
                ++kills;
            } else {
                ++exits;
            }
            (void)child->stop(std::chrono::milliseconds(0));  // reaps it
        }
        if (pusher.joinable()) pusher.join();
        std::cerr << "chaos: round " << round << ": dev pins it in " << dev << "/" << apps_
                  << " apps after " << kills << " kills so far\n";
        ASSERT_EQ(dev, apps_) << "round " << round << " never reached every dev; see " << log;
    }
    writer.stop();

    // One quiet run converges everything: staging catches up, every status is written.
    auto once = run_process(run_argv(true), run_options());
    ASSERT_TRUE(once);
    EXPECT_EQ(once->exit_code, 0) << once->err;
    EXPECT_EQ(pinned("dev", newest), apps_);
    EXPECT_EQ(pinned("staging", newest), apps_) << once->err;

    // No promotion commit twice: count the trailers on the branch.
    const auto count = promotion_trailers(bare_);
    int duplicates = 0;
    for (const auto& [value, n] : count)
        if (n > 1) {
            ++duplicates;
            ADD_FAILURE() << "promotion committed " << n << " times: " << value;
        }
    const int promotions = static_cast<int>(count.size());
    EXPECT_GE(promotions, apps_ * (rounds_ + 1)) << "every round promoted every dev";

    // Every promotion status records is on the branch (none lost between commit and status).
    int lost = 0;
    for (int i = 0; i < apps_; ++i) {
        auto text = read_file(dir_.path() / "state/status" / ("chaos." + app_name(i) + ".json"));
        ASSERT_TRUE(text) << app_name(i);
        auto status = nlohmann::json::parse(*text);
        for (const auto& h : status.value("history", nlohmann::json::array())) {
            const auto commit = h.value("commit", "");
            if (commit.empty()) continue;
            if (!is_ancestor(bare_, commit, "main")) {
                ++lost;
                ADD_FAILURE() << app_name(i) << ": status records " << commit
                              << " which is not on main";
            }
        }
        bool ready = false;
        for (const auto& c : status.value("conditions", nlohmann::json::array()))
            if (c.value("type", "") == "Ready") ready = c.value("status", "") == "True";
        EXPECT_TRUE(ready) << app_name(i) << " is not Ready after one quiet run: " << *text;
        for (const auto& e : status.value("environments", nlohmann::json::array()))
            EXPECT_EQ(e.value("digest", ""), newest[static_cast<std::size_t>(i)])
                << app_name(i) << "/" << e.value("name", "");
    }

    // None of the other writer's commits is lost, and the branch only ever moved forward.
    const auto foreign = writer.pushed();
    const auto foreign_missing = not_on_branch(bare_, foreign);
    EXPECT_THAT(foreign_missing, testing::IsEmpty()) << "foreign commits lost";
    const int foreign_lost = static_cast<int>(foreign_missing.size());
    EXPECT_GT(foreign.size(), 0u);
    int updates = 0;
    const auto forced_lines = forced_updates(bare_, updates);
    EXPECT_GT(updates, 0) << "the bare repository keeps a reflog (BareRepos::create)";
    EXPECT_THAT(forced_lines, testing::IsEmpty()) << "forced updates of main";
    const int forced = static_cast<int>(forced_lines.size());

    // Nothing of the killed runs is left: the quiet run removed their temp files at start, and no
    // git process outlived them.
    std::vector<std::string> orphans;
    test::wait_until([&] { return (orphans = processes_inside(dir_.path())).empty(); },
                     std::chrono::seconds(10));
    EXPECT_THAT(orphans, testing::IsEmpty());
    EXPECT_THAT(leftovers(dir_.path() / "tmp", {"poetryops-git-"}), testing::IsEmpty());
    EXPECT_THAT(leftovers(dir_.path() / "state", {".tmp-", "tmp_obj_"}), testing::IsEmpty());

    const double seconds = std::chrono::duration<double>(Steady::now() - started).count();
    nlohmann::json report = {{"apps", apps_},
                             {"rounds", rounds_},
                             {"kill_ms", {kill_ms_.first, kill_ms_.second}},
                             {"kills", kills},
                             {"runs_that_exited_on_their_own", exits},
                             {"promotion_commits", promotions},
                             {"duplicate_promotion_commits", duplicates},
                             {"lost_promotions", lost},
                             {"foreign_commits", foreign.size()},
                             {"foreign_commits_lost", foreign_lost},
                             {"foreign_pushes_rejected", writer.rejected()},
                             {"branch_updates", updates},
                             {"forced_updates", forced},
                             {"orphan_processes", orphans.size()},
                             {"seconds", seconds}};
    std::cerr << "chaos: " << report.dump() << "\n";
    if (const char* f = std::getenv("POETRYOPS_CHAOS_REPORT"); f && *f)
        std::ofstream(f) << report.dump(2) << "\n";
}

}  // namespace

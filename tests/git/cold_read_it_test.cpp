// Cold reads of a shared clone: the kept-running `git cat-file --batch` and the coalesced blob
// fetches of concurrent readers (docs/git.md "Reading files").
#include <poetryops/git/repo.hpp>

#include "support/git/git_servers.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <latch>
#include <sstream>
#include <thread>

namespace poetryops::git {
namespace {

using test::BareRepos;

std::string content_of(int i) {
    return "images:\n- name: app" + std::to_string(i) + "\n  newTag: \"" + std::to_string(i * 7) +
           "\"\n";
}
std::string path_of(int i) { return "apps/app" + std::to_string(i) + "/kustomization.yaml"; }

/// The `git cat-file --batch` processes this test process started (children of ours), by pid;
/// zombies left out.
std::vector<int> cat_file_children() {
    std::vector<int> pids;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
        std::string name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(e.path() / "stat");
        std::string line;
        if (!std::getline(stat, line)) continue;
        auto close = line.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream rest(line.substr(close + 2));
        char state = 0;
        int ppid = 0;
        rest >> state >> ppid;
        if (ppid != ::getpid() || state == 'Z') continue;
        std::ifstream cmd(e.path() / "cmdline");
        std::string argv((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
        if (argv.find(std::string("cat-file\0--batch", 16)) != std::string::npos)
            pids.push_back(std::stoi(name));
    }
    return pids;
}

bool is_gone_or_zombie(int pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return true;
    auto close = line.rfind(')');
    return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

class ColdReadIt : public ::testing::Test {
protected:
    void SetUp() override {
        repos_.create("gitops.git");
        std::map<std::string, std::string> files = {{"README.md", "hello\n"}};
        for (int i = 0; i < kFiles; ++i) files[path_of(i)] = content_of(i);
        tip_ = repos_.commit_files("gitops.git", files);
        ASSERT_TRUE(server_.started()) << server_.error_log();
        auto c = RepoCache::create(cache_.path());
        ASSERT_TRUE(c) << c.error().message;
        cache = std::move(c).value();
        remote.url = server_.http_url("gitops.git");
        remote.username = server_.user();
        remote.password = server_.password();
        remote.timeout = std::chrono::seconds(30);
        auto r = cache->open(remote);
        ASSERT_TRUE(r) << r.error().message;
        repo = *r;
        auto tip = repo->fetch("main");
        ASSERT_TRUE(tip) << tip.error().message;
        ASSERT_EQ(*tip, tip_);
    }

    static constexpr int kFiles = 64;
    BareRepos repos_;
    test::TestCa ca_;
    test::HttpGitServer server_{repos_, ca_};
    TempDir cache_{"poetryops-gitcache"};
    std::string tip_;
    Remote remote;
    std::unique_ptr<RepoCache> cache;
    std::shared_ptr<Repo> repo;
};

TEST_F(ColdReadIt, ConcurrentReadsOfDifferentFilesShareAFewGitProcesses) {
    // 32 readers at once, 2 files each, on a clone that holds no blob yet (a controller's first
    // pass).
    constexpr int kThreads = 32;
    std::size_t calls_before = repo->git_calls();
    std::latch start(kThreads);
    std::atomic<int> wrong{0};
    std::vector<std::string> errors(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            start.arrive_and_wait();
            for (int i : {t, t + kThreads}) {
                auto files = repo->read_files(tip_, {path_of(i)});
                if (!files) {
                    errors[t] = files.error().message;
                    ++wrong;
                } else if ((*files)[0] != std::optional<std::string>(content_of(i))) {
                    ++wrong;
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong.load(), 0) << errors[0];
    // Without coalescing: a fetch per read (64) plus the cat-file; before the kept-running
    // cat-file, three per read. Coalesced: one cat-file plus a handful of fetches (3-4 on an idle
    // machine, 16 seen under `ctest -j6`, since how many readers join a batch depends on
    // scheduling). Half the reads is a bound that load cannot break and the uncoalesced code cannot
    // meet.
    std::size_t calls = repo->git_calls() - calls_before;
    EXPECT_LE(calls, static_cast<std::size_t>(kThreads))
        << "git processes for " << 2 * kThreads << " reads";
    // Everything is now local: reading them all again starts no git at all.
    std::vector<std::string> all;
    for (int i = 0; i < kFiles; ++i) all.push_back(path_of(i));
    std::size_t calls_mid = repo->git_calls();
    auto again = repo->read_files(tip_, all);
    ASSERT_TRUE(again) << again.error().message;
    for (int i = 0; i < kFiles; ++i)
        EXPECT_EQ((*again)[i], std::optional<std::string>(content_of(i)));
    EXPECT_EQ(repo->git_calls(), calls_mid);
}

TEST_F(ColdReadIt, OpeningTheCloneAgainStartsNoGit) {
    // Every worker of a controller's first pass opens the clone; the first one checked it already.
    std::size_t before = repo->git_calls();
    for (int i = 0; i < 5; ++i) {
        auto again = cache->open(remote);
        ASSERT_TRUE(again) << again.error().message;
        EXPECT_EQ(again->get(), repo.get());
    }
    EXPECT_EQ(repo->git_calls(), before);
}

TEST_F(ColdReadIt, TheKeptRunningCatFileHoldsNoSecret) {
    auto first = repo->read_files(tip_, {path_of(0)});
    ASSERT_TRUE(first) << first.error().message;
    auto pids = cat_file_children();
    ASSERT_EQ(pids.size(), 1u);
    for (const char* what : {"cmdline", "environ"}) {
        std::ifstream f("/proc/" + std::to_string(pids[0]) + "/" + what);
        std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        EXPECT_FALSE(text.empty()) << what;
        EXPECT_EQ(text.find(server_.password()), std::string::npos) << what;
    }
}

TEST_F(ColdReadIt, AKilledCatFileIsRestartedAndTheReadStillSucceeds) {
    auto first = repo->read_files(tip_, {path_of(0)});
    ASSERT_TRUE(first) << first.error().message;
    auto pids = cat_file_children();
    ASSERT_EQ(pids.size(), 1u);
    ASSERT_EQ(::kill(pids[0], SIGKILL), 0);
    ASSERT_TRUE(
        test::wait_until([&] { return is_gone_or_zombie(pids[0]); }, std::chrono::seconds(5)));
    // A file in another folder: its tree and its blob both need git.
    auto second = repo->read_files(tip_, {path_of(1), "README.md"});
    ASSERT_TRUE(second) << second.error().message;
    EXPECT_EQ((*second)[0], std::optional<std::string>(content_of(1)));
    EXPECT_EQ((*second)[1], std::optional<std::string>("hello\n"));
    auto now = cat_file_children();
    ASSERT_EQ(now.size(), 1u);
    EXPECT_NE(now[0], pids[0]);
}

TEST_F(ColdReadIt, AFileAddedAfterTheCatFileStartedIsFetchedAndRead) {
    auto first = repo->read_files(tip_, {"README.md"});
    ASSERT_TRUE(first) << first.error().message;
    auto pids = cat_file_children();
    ASSERT_EQ(pids.size(), 1u);
    // Someone else pushes a new file; our fetch brings the commit and trees, the read fetches the
    // blob into a new pack that the running cat-file has never seen.
    std::string tip2 = repos_.commit_files(
        "gitops.git", {{"apps/new/values.yaml", "fresh: true\n"}}, "main", "new");
    auto fetched = repo->fetch("main");
    ASSERT_TRUE(fetched) << fetched.error().message;
    ASSERT_EQ(*fetched, tip2);
    auto files = repo->read_files(tip2, {"apps/new/values.yaml", "README.md", path_of(5)});
    ASSERT_TRUE(files) << files.error().message;
    EXPECT_EQ((*files)[0], std::optional<std::string>("fresh: true\n"));
    EXPECT_EQ((*files)[1], std::optional<std::string>("hello\n"));
    EXPECT_EQ((*files)[2], std::optional<std::string>(content_of(5)));
    EXPECT_EQ(cat_file_children(), pids);  // the same process found the new pack
}

TEST_F(ColdReadIt, ReadsThroughSymlinksAreStillRefusedAndKeepTheCatFileAlive) {
    TempDir t("poetryops-sym");
    auto w = t.path() / "w";
    ASSERT_TRUE(
        test::plain_git({"clone", "-q", repos_.path("gitops.git").string(), w.string()}).ok());
    std::filesystem::create_directory_symlink("/etc", w / "outside");
    std::filesystem::create_symlink("README.md", w / "link.md");
    std::filesystem::create_directory_symlink("app3", w / "apps" / "alias");
    test::plain_git({"add", "-A"}, w);
    test::plain_git({"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "links"}, w);
    ASSERT_TRUE(test::plain_git({"push", "-q", "origin", "HEAD:main"}, w).ok());
    auto tip = repo->fetch("main");
    ASSERT_TRUE(tip) << tip.error().message;
    auto warm = repo->read_files(*tip, {"README.md"});
    ASSERT_TRUE(warm) << warm.error().message;
    auto pids = cat_file_children();
    for (const std::string path :
         {"outside/passwd", "link.md", "apps/alias/kustomization.yaml", "README.md/x"}) {
        auto read = repo->read_files(*tip, {path});
        ASSERT_FALSE(read) << path;
        EXPECT_EQ(read.error().kind, Error::Kind::invalid) << read.error().message;
        EXPECT_NE(read.error().message.find(remote.url), std::string::npos) << read.error().message;
    }
    EXPECT_EQ(cat_file_children(), pids);  // no symlink's blob was asked for
    auto ok_read = repo->read_files(*tip, {path_of(3)});
    ASSERT_TRUE(ok_read) << ok_read.error().message;
    EXPECT_EQ((*ok_read)[0], std::optional<std::string>(content_of(3)));
}

TEST_F(ColdReadIt, AReaderHoldingTheLockFetchesItselfWhileOthersShareAFetch) {
    std::latch start(9);
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            start.arrive_and_wait();
            auto files = repo->read_files(tip_, {path_of(10 + t)});
            if (!files || (*files)[0] != std::optional<std::string>(content_of(10 + t))) ++wrong;
        });
    }
    {
        start.arrive_and_wait();
        auto guard = repo->lock();
        auto mine = repo->read_files(tip_, {path_of(40)});
        EXPECT_TRUE(mine && (*mine)[0] == std::optional<std::string>(content_of(40)))
            << (mine ? std::string("wrong content") : mine.error().message);
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong.load(), 0);
}

TEST_F(ColdReadIt, ASharedFetchThatFailsFailsEveryReaderWithTheRepoUrl) {
    auto warm = repo->read_files(tip_, {"README.md"});
    ASSERT_TRUE(warm) << warm.error().message;
    ASSERT_EQ(::kill(server_.pid(), SIGKILL), 0);
    ASSERT_TRUE(test::wait_until([&] { return !test::port_open(server_.http_port()); },
                                 std::chrono::seconds(5)));
    constexpr int kThreads = 8;
    std::size_t calls_before = repo->git_calls();
    std::latch start(kThreads);
    std::vector<std::optional<Error>> errors(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            start.arrive_and_wait();
            auto files = repo->read_files(tip_, {path_of(t)});
            if (!files) errors[t] = files.error();
        });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) {
        ASSERT_TRUE(errors[t]) << "reader " << t << " got a file from a dead server";
        EXPECT_EQ(errors[t]->kind, Error::Kind::transport) << errors[t]->message;
        EXPECT_NE(errors[t]->message.find(remote.url), std::string::npos) << errors[t]->message;
        EXPECT_EQ(errors[t]->message.find(server_.password()), std::string::npos);
    }
    EXPECT_LT(repo->git_calls() - calls_before, static_cast<std::size_t>(kThreads));
}

}  // namespace
}  // namespace poetryops::git

// The in-process smart-HTTP fast path of Repo (ls-refs instead of `git fetch` when nothing moved,
// receive-pack instead of `git push`, commits built from the object cache) against a real
// git-http-backend behind lighttpd.
#include <poetryops/git/repo.hpp>

#include "support/git/git_servers.hpp"

#include <gtest/gtest.h>

namespace poetryops::git {
namespace {

using test::BareRepos;

class FastPathIt : public ::testing::Test {
protected:
    void SetUp() override {
        repos.create("gitops.git");
        // The server checks every object we send as strictly as git's own fsck.
        ASSERT_TRUE(test::plain_git({"--git-dir", repos.path("gitops.git").string(), "config",
                                     "receive.fsckObjects", "true"})
                        .ok());
        base = repos.commit_files("gitops.git", {{"apps/web/values.yaml", "tag: old\n"},
                                                 {"apps/api/values.yaml", "tag: a\n"},
                                                 {"README.md", "x\n"}});
        ASSERT_TRUE(server.started());
        auto c = RepoCache::create(cache_dir.path());
        ASSERT_TRUE(c) << c.error().message;
        cache = std::move(c).value();
        Remote r;
        r.url = server.http_url("gitops.git");
        r.username = server.user();
        r.password = server.password();
        r.timeout = std::chrono::seconds(30);
        auto opened = cache->open(r);
        ASSERT_TRUE(opened) << opened.error().message;
        repo = *opened;
    }

    /// Writes tag: VALUE into apps/web/values.yaml on top of `parent`.
    Result<std::string> commit_tag(const std::string& parent, const std::string& value) {
        return repo->write_commit(parent, {{"apps/web/values.yaml", "tag: " + value + "\n"}},
                                  "promote web to " + value, Identity{});
    }

    BareRepos repos;
    test::TestCa ca;
    test::HttpGitServer server{repos, ca};
    TempDir cache_dir{"poetryops-gitcache"};
    std::string base;
    std::unique_ptr<RepoCache> cache;
    std::shared_ptr<Repo> repo;
};

TEST_F(FastPathIt, AFetchOfABranchThatDidNotMoveStartsNoGitProcess) {
    auto first = repo->fetch("main");  // the cold fetch is git's
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_EQ(*first, base);
    std::size_t calls = repo->git_calls();
    auto again = repo->fetch("main");
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(*again, base);
    EXPECT_EQ(repo->git_calls(), calls);
    EXPECT_EQ(repo->fast_fetches(), 1u);

    // Someone else pushes: the next fetch notices and really fetches.
    std::string foreign = repos.commit_files("gitops.git", {{"README.md", "changed\n"}});
    auto moved = repo->fetch("main");
    ASSERT_TRUE(moved) << moved.error().message;
    EXPECT_EQ(*moved, foreign);
    EXPECT_GT(repo->git_calls(), calls);
    auto files = repo->read_files(*moved, {"README.md"});
    ASSERT_TRUE(files) << files.error().message;
    EXPECT_EQ(*(*files)[0], "changed\n");
}

TEST_F(FastPathIt, PushesInProcessAndTheServerAcceptsEveryObject) {
    ASSERT_TRUE(repo->fetch("main"));
    auto sha = commit_tag(base, "new");
    ASSERT_TRUE(sha) << sha.error().message;
    ASSERT_TRUE(repo->push(*sha, "main"));
    EXPECT_EQ(repo->fast_pushes(), 1u);
    EXPECT_EQ(repos.tip("gitops.git"), *sha);
    EXPECT_EQ(repos.show("gitops.git", "main:apps/web/values.yaml"), "tag: new\n");
    EXPECT_EQ(repos.show("gitops.git", "main:apps/api/values.yaml"),
              "tag: a\n");  // untouched siblings kept
    auto log = test::plain_git({"--git-dir", repos.path("gitops.git").string(), "log", "-1",
                                "--format=%an <%ae>|%cn|%s|%P", "main"});
    EXPECT_EQ(log.out,
              "poetryops <poetryops@localhost>|poetryops|promote web to new|" + base + "\n");
    auto fsck =
        test::plain_git({"--git-dir", repos.path("gitops.git").string(), "fsck", "--strict"});
    EXPECT_TRUE(fsck.ok()) << fsck.err;
    // The objects written into the local clone are valid too, and the clone knows where the branch
    // is now.
    auto local = test::plain_git(
        {"--git-dir", repo->git_dir().string(), "cat-file", "-p", *sha + ":apps/web/values.yaml"});
    EXPECT_EQ(local.out, "tag: new\n");
    auto tip = repo->local_tip("main");
    ASSERT_TRUE(tip);
    EXPECT_EQ(*tip, *sha);
}

TEST_F(FastPathIt, AFollowUpPromotionReadsWritesAndPushesWithoutAnyGitProcess) {
    ASSERT_TRUE(repo->fetch("main"));
    auto first = commit_tag(base, "1");
    ASSERT_TRUE(first && repo->push(*first, "main"));
    std::size_t calls = repo->git_calls();
    // What the promotion loop does for the next version: check the branch, read the file, commit,
    // push.
    auto tip = repo->fetch("main");
    ASSERT_TRUE(tip) << tip.error().message;
    EXPECT_EQ(*tip, *first);
    auto files = repo->read_files(*tip, {"apps/web/values.yaml"});
    ASSERT_TRUE(files) << files.error().message;
    EXPECT_EQ(*(*files)[0], "tag: 1\n");
    auto second = commit_tag(*tip, "2");
    ASSERT_TRUE(second) << second.error().message;
    ASSERT_TRUE(repo->push(*second, "main"));
    EXPECT_EQ(repo->git_calls(), calls);
    EXPECT_EQ(repos.show("gitops.git", "main:apps/web/values.yaml"), "tag: 2\n");
}

TEST_F(FastPathIt, AForeignPushMeanwhileIsAConflictAndIsNeverOverwritten) {
    ASSERT_TRUE(repo->fetch("main"));
    auto mine = commit_tag(base, "mine");
    ASSERT_TRUE(mine);
    std::string foreign =
        repos.commit_files("gitops.git", {{"apps/web/values.yaml", "tag: human\n"}});
    std::size_t calls = repo->git_calls();
    auto pushed = repo->push(*mine, "main");
    ASSERT_FALSE(pushed);
    EXPECT_EQ(repo->git_calls(), calls);  // the server's own refusal, not git's
    EXPECT_EQ(pushed.error().kind, Error::Kind::conflict) << pushed.error().message;
    EXPECT_EQ(pushed.error().reason, "NonFastForward");
    EXPECT_EQ(repos.tip("gitops.git"), foreign);
    EXPECT_EQ(repos.show("gitops.git", "main:apps/web/values.yaml"), "tag: human\n");
    // After a fetch the commit is rebuilt on the new tip and goes through.
    auto tip = repo->fetch("main");
    ASSERT_TRUE(tip);
    EXPECT_EQ(*tip, foreign);
    auto again = commit_tag(*tip, "mine");
    ASSERT_TRUE(again && repo->push(*again, "main"));
    EXPECT_EQ(repos.tip("gitops.git"), *again);
}

TEST_F(FastPathIt, AHookRefusalIsPushRejectedWithTheServersMessage) {
    repos.refuse_pushes("gitops.git", "policy: production images must be signed");
    ASSERT_TRUE(repo->fetch("main"));
    auto sha = commit_tag(base, "x");
    ASSERT_TRUE(sha);
    std::size_t calls = repo->git_calls();
    auto pushed = repo->push(*sha, "main");
    ASSERT_FALSE(pushed);
    EXPECT_EQ(repo->git_calls(), calls);  // answered in-process
    EXPECT_EQ(pushed.error().kind, Error::Kind::invalid) << pushed.error().message;
    EXPECT_EQ(pushed.error().reason, "PushRejected");
    EXPECT_NE(pushed.error().message.find("policy: production images must be signed"),
              std::string::npos)
        << pushed.error().message;
    EXPECT_NE(pushed.error().message.find(server.http_url("gitops.git")), std::string::npos);
    EXPECT_EQ(repos.tip("gitops.git"), base);
}

TEST_F(FastPathIt, HttpsWithTheRemotesCaUsesTheFastPathToo) {
    Remote r;
    r.url = server.https_url("gitops.git");
    r.username = server.user();
    r.password = server.password();
    r.ca_file = ca.ca_cert();
    auto opened = cache->open(r);
    ASSERT_TRUE(opened) << opened.error().message;
    auto& tls = *opened;
    ASSERT_TRUE(tls->fetch("main"));
    ASSERT_TRUE(tls->fetch("main"));
    EXPECT_EQ(tls->fast_fetches(), 1u);
    auto sha = tls->write_commit(base, {{"README.md", "tls\n"}}, "tls", Identity{});
    ASSERT_TRUE(sha && tls->push(*sha, "main"));
    EXPECT_EQ(tls->fast_pushes(), 1u);
    EXPECT_EQ(repos.tip("gitops.git"), *sha);
}

TEST_F(FastPathIt, AWrongPasswordStillFailsWithGitsClearErrorAndNoSecret) {
    Remote r;
    r.url = server.http_url("gitops.git");
    r.username = server.user();
    r.password = "wrong-Pa55word-xyz";
    auto opened = cache->open(r);
    ASSERT_TRUE(opened) << opened.error().message;
    auto f = (*opened)->fetch("main");
    ASSERT_FALSE(f);
    EXPECT_EQ(f.error().kind, Error::Kind::unauthorized) << f.error().message;
    EXPECT_EQ(f.error().message.find("wrong-Pa55word-xyz"), std::string::npos);
}

}  // namespace
}  // namespace poetryops::git

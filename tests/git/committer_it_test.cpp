#include <poetryops/git/committer.hpp>

#include "support/git/git_servers.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace poetryops::git {
namespace {

using test::BareRepos;
using test::GitDaemonServer;
using test::plain_git;

/// An idempotent edit of a "key: value" line file (stands in for the YAML editor, which is another
/// module).
FileEdit set_key(std::string path, std::string key, std::string value) {
    FileEdit e;
    e.path = std::move(path);
    e.apply = [key,
               value](std::optional<std::string_view> cur) -> Result<std::optional<std::string>> {
        std::string text = cur ? std::string(*cur) : std::string();
        std::string line = key + ": " + value + "\n";
        auto pos = text.find(key + ": ");
        if (pos == std::string::npos) return std::optional<std::string>(text + line);
        auto end = text.find('\n', pos);
        std::string next =
            text.substr(0, pos) + line + (end == std::string::npos ? "" : text.substr(end + 1));
        if (next == text) return std::optional<std::string>();
        return std::optional<std::string>(next);
    };
    return e;
}

EditRequest request(std::vector<FileEdit> edits, std::string app, std::string env = "prod") {
    EditRequest r;
    r.edits = std::move(edits);
    r.message.app = app;
    r.message.env = env;
    r.message.version = "1.0";
    r.message.digest = "sha256:" + std::string(64, 'a');
    r.message.trailers = {
        {"Poetryops-Promotion", "ns/" + app + "/" + env + "/" + r.message.digest}};
    return r;
}

class CommitterIt : public ::testing::Test {
protected:
    void SetUp() override {
        repos.create("gitops.git");
        std::map<std::string, std::string> files;
        for (int i = 0; i < 30; ++i)
            files["apps/app" + std::to_string(i) + "/values.yaml"] = "tag: old\n";
        files["shared/images.txt"] = "web: 1\napi: 1\n";
        base = repos.commit_files("gitops.git", files);
        ASSERT_TRUE(daemon.started());
        auto c = RepoCache::create(cache_dir.path());
        ASSERT_TRUE(c) << c.error().message;
        cache = std::move(c).value();
        Remote remote;
        remote.url = daemon.url("gitops.git");
        remote.timeout = std::chrono::seconds(30);
        auto r = cache->open(remote);
        ASSERT_TRUE(r) << r.error().message;
        repo = *r;
    }

    int commits_since(const std::string& from, const std::string& branch = "main") {
        auto r = plain_git({"--git-dir", repos.path("gitops.git").string(), "rev-list", "--count",
                            from + "..refs/heads/" + branch});
        return std::atoi(r.out.c_str());
    }

    CommitterOptions options(std::chrono::milliseconds window = std::chrono::milliseconds(300)) {
        CommitterOptions o;
        o.window = window;
        o.backoff_base = std::chrono::milliseconds(10);
        return o;
    }

    BareRepos repos;
    GitDaemonServer daemon{repos};
    TempDir cache_dir{"poetryops-gitcache"};
    std::string base;
    std::unique_ptr<RepoCache> cache;
    std::shared_ptr<Repo> repo;
};

TEST_F(CommitterIt, ConcurrentRequestsBecomeOneCommitAndOnePush) {
    Committer committer(repo, options(std::chrono::milliseconds(500)));
    std::vector<std::future<Result<EditOutcome>>> futures(20);
    std::vector<std::thread> threads;
    for (int i = 0; i < 20; ++i) {
        threads.emplace_back([&, i] {
            auto app = "app" + std::to_string(i);
            futures[i] = committer.submit(request(
                {set_key("apps/" + app + "/values.yaml", "tag", "v" + std::to_string(i))}, app));
        });
    }
    for (auto& t : threads) t.join();
    std::string sha;
    for (int i = 0; i < 20; ++i) {
        auto r = futures[i].get();
        ASSERT_TRUE(r) << r.error().message;
        EXPECT_TRUE(r->changed);
        EXPECT_EQ(r->batch_size, 20u);
        if (sha.empty()) sha = r->commit;
        EXPECT_EQ(r->commit, sha);
    }
    EXPECT_EQ(commits_since(base), 1);
    EXPECT_EQ(repos.tip("gitops.git"), sha);
    EXPECT_EQ(committer.stats().pushes, 1u);
    EXPECT_EQ(repos.show("gitops.git", "main:apps/app7/values.yaml"), "tag: v7\n");
    auto msg =
        plain_git({"--git-dir", repos.path("gitops.git").string(), "log", "-1", "--format=%B"}).out;
    EXPECT_NE(msg.find("poetryops: 20 changes"), std::string::npos);
    EXPECT_NE(msg.find("Poetryops-Promotion: ns/app13/prod/sha256:"), std::string::npos);
    auto found = repo->find_commits_by_trailer("main", "Poetryops-Promotion",
                                               "ns/app13/prod/sha256:" + std::string(64, 'a'));
    ASSERT_TRUE(found);
    ASSERT_EQ(found->size(), 1u);
    EXPECT_EQ(found->front().sha, sha);
}

TEST_F(CommitterIt, NoOpRequestIsUnchangedAndCommitsNothing) {
    Committer committer(repo, options(std::chrono::milliseconds(20)));
    auto r =
        committer.submit(request({set_key("apps/app1/values.yaml", "tag", "old")}, "app1")).get();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_FALSE(r->changed);
    EXPECT_EQ(r->commit, base);
    EXPECT_EQ(repos.tip("gitops.git"), base);
    EXPECT_EQ(committer.stats().pushes, 0u);
}

TEST_F(CommitterIt, ABadEditFailsOnlyItsOwnRequester) {
    Committer committer(repo, options());
    FileEdit broken;
    broken.path = "apps/app2/values.yaml";
    broken.apply = [](std::optional<std::string_view>) -> Result<std::optional<std::string>> {
        return fail(Error::Kind::decode, "line 1: mapping values are not allowed here");
    };
    FileEdit throws;
    throws.path = "apps/app4/values.yaml";
    throws.apply = [](std::optional<std::string_view>) -> Result<std::optional<std::string>> {
        throw std::runtime_error("boom");
    };
    auto good1 =
        committer.submit(request({set_key("apps/app1/values.yaml", "tag", "new")}, "app1"));
    // The bad request's first edit succeeds and must be rolled back with it.
    auto bad = committer.submit(
        request({set_key("apps/app3/values.yaml", "tag", "half"), broken}, "app2"));
    auto bad2 = committer.submit(request({throws}, "app4"));
    auto escape = committer.submit(request({set_key("../outside", "tag", "x")}, "app5"));
    auto good2 =
        committer.submit(request({set_key("apps/app6/values.yaml", "tag", "new")}, "app6"));
    auto r1 = good1.get(), rb = bad.get(), rb2 = bad2.get(), re = escape.get(), r2 = good2.get();
    ASSERT_TRUE(r1) << r1.error().message;
    ASSERT_TRUE(r2) << r2.error().message;
    EXPECT_EQ(r1->commit, r2->commit);
    ASSERT_FALSE(rb);
    EXPECT_EQ(rb.error().kind, Error::Kind::decode);
    EXPECT_NE(rb.error().message.find("apps/app2/values.yaml"), std::string::npos);
    EXPECT_NE(rb.error().message.find("mapping values are not allowed"), std::string::npos);
    ASSERT_FALSE(rb2);
    EXPECT_NE(rb2.error().message.find("boom"), std::string::npos);
    ASSERT_FALSE(re);
    EXPECT_EQ(re.error().reason, "InvalidPath");
    EXPECT_EQ(commits_since(base), 1);
    EXPECT_EQ(repos.show("gitops.git", "main:apps/app1/values.yaml"), "tag: new\n");
    EXPECT_EQ(repos.show("gitops.git", "main:apps/app3/values.yaml"), "tag: old\n");  // rolled back
    EXPECT_EQ(repos.show("gitops.git", "main:apps/app2/values.yaml"), "tag: old\n");
}

TEST_F(CommitterIt, EditsOfOneFileByTwoRequestsCompose) {
    Committer committer(repo, options());
    auto a = committer.submit(request({set_key("shared/images.txt", "web", "2")}, "web"));
    auto b = committer.submit(request({set_key("shared/images.txt", "api", "3")}, "api"));
    ASSERT_TRUE(a.get());
    ASSERT_TRUE(b.get());
    EXPECT_EQ(repos.show("gitops.git", "main:shared/images.txt"), "web: 2\napi: 3\n");
}

TEST_F(CommitterIt, ForeignPushDuringABatchIsPreservedAndEditsAreReapplied) {
    Committer committer(repo, options(std::chrono::milliseconds(20)));
    std::atomic<int> calls{0};
    std::string foreign;
    FileEdit racing = set_key("shared/images.txt", "web", "9");
    auto inner = racing.apply;
    racing.apply = [&, inner](std::optional<std::string_view> cur) {
        // First time only: someone else pushes to the same file and another one while we build our
        // commit.
        if (calls++ == 0) {
            foreign = repos.commit_files("gitops.git",
                                         {{"shared/images.txt", "web: 1\napi: 7\n"},
                                          {"apps/app0/values.yaml", "tag: human\n"}},
                                         "main", "a human edit");
        }
        return inner(cur);
    };
    auto r = committer.submit(request({racing}, "web")).get();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->changed);
    EXPECT_EQ(r->attempts, 2);
    EXPECT_EQ(calls.load(), 2);
    EXPECT_EQ(committer.stats().conflicts, 1u);
    // Our change on top of theirs, theirs intact, a fast-forward (foreign is an ancestor).
    EXPECT_EQ(repos.show("gitops.git", "main:shared/images.txt"), "web: 9\napi: 7\n");
    EXPECT_EQ(repos.show("gitops.git", "main:apps/app0/values.yaml"), "tag: human\n");
    auto anc = plain_git({"--git-dir", repos.path("gitops.git").string(), "merge-base",
                          "--is-ancestor", foreign, "main"});
    EXPECT_TRUE(anc.ok());
    EXPECT_EQ(commits_since(base), 2);
}

TEST_F(CommitterIt, SideBranchIsCreatedFromTheBaseAndThenExtended) {
    Committer committer(repo, options(std::chrono::milliseconds(20)));
    auto req = request({set_key("apps/app1/values.yaml", "tag", "pr1")}, "app1");
    req.target_branch = side_branch_name("app1", "prod");
    auto r = committer.submit(req).get();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->branch, "poetryops/app1/prod");
    EXPECT_EQ(repos.tip("gitops.git"), base);  // main untouched
    EXPECT_EQ(repos.tip("gitops.git", "poetryops/app1/prod"), r->commit);
    EXPECT_EQ(commits_since(base, "poetryops/app1/prod"), 1);
    auto req2 = request({set_key("apps/app1/values.yaml", "tag", "pr2")}, "app1");
    req2.target_branch = side_branch_name("app1", "prod");
    auto r2 = committer.submit(req2).get();
    ASSERT_TRUE(r2) << r2.error().message;
    EXPECT_EQ(commits_since(base, "poetryops/app1/prod"), 2);
    EXPECT_EQ(repos.show("gitops.git", "poetryops/app1/prod:apps/app1/values.yaml"), "tag: pr2\n");
}

TEST_F(CommitterIt, PreReceiveHookRefusalIsSurfacedToEveryRequester) {
    repos.refuse_pushes("gitops.git", "policy: production images must be signed");
    Committer committer(repo, options(std::chrono::milliseconds(50)));
    auto a = committer.submit(request({set_key("apps/app1/values.yaml", "tag", "x")}, "app1"));
    auto b = committer.submit(request({set_key("apps/app2/values.yaml", "tag", "x")}, "app2"));
    for (auto* f : {&a, &b}) {
        auto r = f->get();
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().kind, Error::Kind::invalid);
        EXPECT_EQ(r.error().reason, "PushRejected");
        EXPECT_NE(r.error().message.find("policy: production images must be signed"),
                  std::string::npos)
            << r.error().message;
    }
    EXPECT_EQ(repos.tip("gitops.git"), base);
    EXPECT_EQ(committer.stats().pushes, 1u);  // refused once, not retried
}

TEST_F(CommitterIt, MissingBranchFailsWithAClearError) {
    auto o = options(std::chrono::milliseconds(10));
    o.branch = "release";
    Committer committer(repo, o);
    auto r =
        committer.submit(request({set_key("apps/app1/values.yaml", "tag", "x")}, "app1")).get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::not_found);
    EXPECT_NE(r.error().message.find("release"), std::string::npos);
    EXPECT_NE(r.error().message.find(daemon.url("gitops.git")), std::string::npos);
}

}  // namespace
}  // namespace poetryops::git

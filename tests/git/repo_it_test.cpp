#include <poetryops/git/repo.hpp>

#include "support/git/git_servers.hpp"

#include <gtest/gtest.h>

namespace poetryops::git {
namespace {

using test::BareRepos;
using test::GitDaemonServer;

class RepoIt : public ::testing::Test {
protected:
    void SetUp() override {
        repos_.create("gitops.git");
        base_ = repos_.commit_files("gitops.git", {{"apps/web/kustomization.yaml",
                                                    "images:\n- name: web\n  newTag: \"1\"\n"},
                                                   {"apps/api/values.yaml", "image:\n  tag: a\n"},
                                                   {"README.md", "hello\n"}});
        ASSERT_TRUE(daemon_.started());
        auto c = RepoCache::create(cache_.path());
        ASSERT_TRUE(c) << c.error().message;
        cache = std::move(c).value();
        remote.url = daemon_.url("gitops.git");
        remote.timeout = std::chrono::seconds(30);
        auto r = cache->open(remote);
        ASSERT_TRUE(r) << r.error().message;
        repo = *r;
    }

    BareRepos repos_;
    GitDaemonServer daemon_{repos_};
    TempDir cache_{"poetryops-gitcache"};
    std::string base_;
    Remote remote;
    std::unique_ptr<RepoCache> cache;
    std::shared_ptr<Repo> repo;
};

TEST_F(RepoIt, FetchReadsTipAndFilesWithoutDownloadingOtherBlobs) {
    auto tip = repo->fetch("main");
    ASSERT_TRUE(tip) << tip.error().message;
    EXPECT_EQ(*tip, base_);
    // Partial clone: no blob is local before it is read.
    auto blobs = [&] {
        auto r = test::plain_git({"--git-dir", repo->git_dir().string(), "cat-file",
                                  "--batch-all-objects", "--batch-check=%(objecttype)"});
        int n = 0;
        for (std::size_t p = r.out.find("blob\n"); p != std::string::npos;
             p = r.out.find("blob\n", p + 1))
            ++n;
        return n;
    };
    EXPECT_EQ(blobs(), 0);
    auto files =
        repo->read_files(*tip, {"apps/api/values.yaml", "apps/nope.yaml", "nope/deeper/x"});
    ASSERT_TRUE(files) << files.error().message;
    EXPECT_EQ((*files)[0], std::optional<std::string>("image:\n  tag: a\n"));
    EXPECT_FALSE((*files)[1]);
    EXPECT_FALSE((*files)[2]);
    EXPECT_EQ(blobs(), 1);
}

TEST_F(RepoIt, WritesACommitWithPlumbingAndPushesIt) {
    auto tip = repo->fetch("main");
    ASSERT_TRUE(tip);
    auto sha = repo->write_commit(
        *tip,
        {{"apps/web/kustomization.yaml", "images:\n- name: web\n  newTag: \"2\"\n"},
         {"apps/new/deep/file.yaml", "x: 1\n"}},
        "promote web\n\nPoetryops-Promotion: ns/web/prod/sha256:aa\n", Identity{"Bot", "bot@x"});
    ASSERT_TRUE(sha) << sha.error().message;
    auto pushed = repo->push(*sha, "main");
    ASSERT_TRUE(pushed) << pushed.error().message;
    EXPECT_EQ(repos_.tip("gitops.git"), *sha);
    EXPECT_EQ(repos_.show("gitops.git", "main:apps/web/kustomization.yaml"),
              "images:\n- name: web\n  newTag: \"2\"\n");
    EXPECT_EQ(repos_.show("gitops.git", "main:apps/new/deep/file.yaml"), "x: 1\n");
    EXPECT_EQ(repos_.show("gitops.git", "main:README.md"), "hello\n");  // untouched files kept
    auto fsck =
        test::plain_git({"--git-dir", repos_.path("gitops.git").string(), "fsck", "--strict"});
    EXPECT_TRUE(fsck.ok()) << fsck.err;
    auto author = test::plain_git(
        {"--git-dir", repos_.path("gitops.git").string(), "log", "-1", "--format=%an <%ae>"});
    EXPECT_EQ(author.out, "Bot <bot@x>\n");
    // The diff is exactly the two files.
    auto diff = test::plain_git(
        {"--git-dir", repos_.path("gitops.git").string(), "diff", "--name-only", base_, *sha});
    EXPECT_EQ(diff.out, "apps/new/deep/file.yaml\napps/web/kustomization.yaml\n");

    auto found =
        repo->find_commits_by_trailer("main", "Poetryops-Promotion", "ns/web/prod/sha256:aa");
    ASSERT_TRUE(found) << found.error().message;
    ASSERT_EQ(found->size(), 1u);
    EXPECT_EQ(found->front().sha, *sha);
    auto none =
        repo->find_commits_by_trailer("main", "Poetryops-Promotion", "ns/web/prod/sha256:bb");
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());

    auto back = repo->read_file_at_branch("main", "apps/web/kustomization.yaml");
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, std::optional<std::string>("images:\n- name: web\n  newTag: \"2\"\n"));
}

TEST_F(RepoIt, KeepsTheExecutableBit) {
    auto w = repos_.commit_files("gitops.git", {{"bin/run.sh", "#!/bin/sh\n"}});
    test::plain_git(
        {"--git-dir", repos_.path("gitops.git").string(), "update-index"});  // no-op, bare
    // Make it executable with a foreign clone.
    TempDir t("poetryops-exec");
    test::plain_git({"clone", "-q", repos_.path("gitops.git").string(), (t.path() / "w").string()});
    test::plain_git({"update-index", "--chmod=+x", "bin/run.sh"}, t.path() / "w");
    test::plain_git({"commit", "-qm", "exec"}, t.path() / "w");
    ASSERT_TRUE(test::plain_git({"push", "-q", "origin", "HEAD:main"}, t.path() / "w").ok());
    auto tip = repo->fetch("main");
    ASSERT_TRUE(tip);
    auto sha =
        repo->write_commit(*tip, {{"bin/run.sh", "#!/bin/sh\necho hi\n"}}, "edit\n", Identity{});
    ASSERT_TRUE(sha) << sha.error().message;
    auto ls =
        test::plain_git({"--git-dir", repo->git_dir().string(), "ls-tree", *sha, "bin/run.sh"});
    EXPECT_EQ(ls.out.substr(0, 6), "100755");
}

TEST_F(RepoIt, RefusesPathsThroughSymlinksAndNonDirectories) {
    TempDir t("poetryops-sym");
    auto w = t.path() / "w";
    test::plain_git({"clone", "-q", repos_.path("gitops.git").string(), w.string()});
    std::filesystem::create_directory_symlink("/etc", w / "outside");
    std::filesystem::create_symlink("README.md", w / "link.md");
    test::plain_git({"add", "-A"}, w);
    test::plain_git({"commit", "-qm", "links"}, w);
    ASSERT_TRUE(test::plain_git({"push", "-q", "origin", "HEAD:main"}, w).ok());
    auto tip = repo->fetch("main");
    ASSERT_TRUE(tip);
    for (const std::string path : {"outside/passwd", "link.md", "README.md/x", "apps"}) {
        auto sha = repo->write_commit(*tip, {{path, "pwned\n"}}, "evil\n", Identity{});
        ASSERT_FALSE(sha) << path;
        EXPECT_EQ(sha.error().kind, Error::Kind::invalid) << path;
        EXPECT_NE(sha.error().message.find(path.substr(0, path.find('/'))), std::string::npos)
            << sha.error().message;
        auto read = repo->read_files(*tip, {path});
        EXPECT_FALSE(read) << path;
    }
    for (const std::string path : {"../x", "/etc/passwd", "a/../../b"}) {
        auto sha = repo->write_commit(*tip, {{path, "pwned\n"}}, "evil\n", Identity{});
        ASSERT_FALSE(sha) << path;
        EXPECT_EQ(sha.error().reason, "InvalidPath");
    }
    EXPECT_EQ(repos_.tip("gitops.git"), *tip);  // nothing pushed
}

TEST_F(RepoIt, MissingBranchIsNotFoundNamingRepoAndBranch) {
    auto tip = repo->fetch("does-not-exist");
    ASSERT_FALSE(tip);
    EXPECT_EQ(tip.error().kind, Error::Kind::not_found);
    EXPECT_NE(tip.error().message.find("does-not-exist"), std::string::npos);
    EXPECT_NE(tip.error().message.find(remote.url), std::string::npos);
}

TEST_F(RepoIt, RefusesToPushSomethingThatIsNotACommitId) {
    auto r = repo->push("", "main");  // "":refs/heads/main would delete the branch
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::invalid);
    EXPECT_EQ(repos_.tip("gitops.git"), base_);
}

TEST_F(RepoIt, NonFastForwardIsAConflictAndNothingIsLost) {
    auto tip = repo->fetch("main");
    ASSERT_TRUE(tip);
    auto foreign = repos_.commit_files("gitops.git", {{"README.md", "foreign\n"}});
    auto sha = repo->write_commit(*tip, {{"apps/api/values.yaml", "image:\n  tag: b\n"}}, "mine\n",
                                  Identity{});
    ASSERT_TRUE(sha);
    auto pushed = repo->push(*sha, "main");
    ASSERT_FALSE(pushed);
    EXPECT_EQ(pushed.error().kind, Error::Kind::conflict);
    EXPECT_EQ(repos_.tip("gitops.git"), foreign);
}

TEST_F(RepoIt, TellsWhetherACommitIsInAnotherCommitsHistory) {
    std::string later = repos_.commit_files("gitops.git", {{"README.md", "later\n"}});
    ASSERT_TRUE(repo->fetch("main"));
    auto yes = repo->is_ancestor(base_, later);
    ASSERT_TRUE(yes) << yes.error().message;
    EXPECT_TRUE(*yes);
    auto no = repo->is_ancestor(later, base_);
    ASSERT_TRUE(no) << no.error().message;
    EXPECT_FALSE(*no);
    auto unknown = repo->is_ancestor(base_, std::string(40, 'e'));
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().kind, Error::Kind::not_found) << unknown.error().message;
    auto bad = repo->is_ancestor(base_, "main");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().kind, Error::Kind::invalid);
}

TEST_F(RepoIt, TwoCachesOnOneDirectoryShareTheCloneSafely) {
    auto other = RepoCache::create(cache_.path());
    ASSERT_TRUE(other);
    auto r2 = (*other)->open(remote);
    ASSERT_TRUE(r2);
    EXPECT_EQ((*r2)->git_dir(), repo->git_dir());
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&, i] {
            auto& r = i % 2 ? *r2 : repo;
            for (int k = 0; k < 3; ++k) {
                if (!r->fetch("main") || !r->read_file_at_branch("main", "README.md")) ++failures;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace poetryops::git

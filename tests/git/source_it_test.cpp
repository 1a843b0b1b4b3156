// The source side of a build against real git servers: a Poetry monorepo's files read at an exact
// commit without a checkout, the paths two commits differ in under given prefixes (checked against
// `git diff --name-only`), and remote ref tips for polling over HTTPS (in-process ls-refs), git
// daemon and ssh (git ls-remote).
#include <poetryops/git/repo.hpp>

#include "support/git/git_servers.hpp"

#include <poetryops/util/strings.hpp>

#include <algorithm>

#include <gtest/gtest.h>

namespace poetryops::git {
namespace {

using test::BareRepos;

const std::map<std::string, std::string> kMonorepo = {
    {"README.md", "# shop\n"},
    {"services/api/pyproject.toml",
     "[tool.poetry]\nname = \"api\"\nversion = \"1.4.2\"\n\n[tool.poetry.dependencies]\n"
     "python = \"^3.11\"\ncommon = {path = \"../../libs/common\", develop = true}\n"},
    {"services/api/poetry.lock", "[metadata]\ncontent-hash = \"aa\"\n"},
    {"services/api/api/__init__.py", ""},
    {"services/api/api/main.py", "print('api')\n"},
    {"services/worker/pyproject.toml", "[tool.poetry]\nname = \"worker\"\nversion = \"0.1.0\"\n"},
    {"services/worker/worker/jobs.py", "JOBS = []\n"},
    {"libs/common/pyproject.toml", "[tool.poetry]\nname = \"common\"\nversion = \"0.1.0\"\n"},
    {"libs/common/common/util.py", "X = 1\n"},
};

/// Runs a commit that deletes `paths` (and writes `files`) on main, like a person would.
std::string commit_with_deletions(BareRepos& repos, const std::string& name,
                                  const std::vector<std::string>& paths,
                                  const std::map<std::string, std::string>& files = {}) {
    TempDir work("poetryops-source-it");
    auto w = work.path() / "w";
    EXPECT_TRUE(test::plain_git({"clone", "-q", repos.path(name).string(), w.string()}).ok());
    for (const auto& p : paths) test::plain_git({"rm", "-q", "-r", p}, w);
    for (const auto& [file, content] : files) {
        std::filesystem::create_directories((w / file).parent_path());
        EXPECT_TRUE(write_file_atomic(w / file, content));
    }
    test::plain_git({"add", "-A"}, w);
    EXPECT_TRUE(test::plain_git({"commit", "-q", "-m", "rm"}, w).ok());
    EXPECT_TRUE(test::plain_git({"push", "-q", "origin", "HEAD:refs/heads/main"}, w).ok());
    return test::plain_git({"rev-parse", "HEAD"}, w).out.substr(0, 40);
}

/// `git diff --name-only --no-renames FROM TO -- PREFIXES` on the server's repository: the oracle.
std::vector<std::string> git_diff(BareRepos& repos, const std::string& name,
                                  const std::string& from, const std::string& to,
                                  const std::vector<std::string>& prefixes) {
    std::vector<std::string> args = {
        "--git-dir", repos.path(name).string(), "diff", "--name-only", "--no-renames", from, to,
        "--"};
    for (const auto& p : prefixes) args.push_back(p.empty() ? "." : p);
    auto r = test::plain_git(args);
    EXPECT_TRUE(r.ok()) << r.err;
    std::vector<std::string> out;
    for (auto& l : str::split(r.out, '\n'))
        if (!l.empty()) out.push_back(l);
    std::sort(out.begin(), out.end());
    return out;
}

class SourceIt : public ::testing::Test {
protected:
    void SetUp() override {
        repos.create("shop.git");
        c1 = repos.commit_files("shop.git", kMonorepo, "main", "seed");
        ASSERT_TRUE(server.started()) << server.error_log();
        auto c = RepoCache::create(cache_dir.path());
        ASSERT_TRUE(c) << c.error().message;
        cache = std::move(c).value();
    }
    Remote https_remote() {
        Remote r;
        r.url = server.https_url("shop.git");
        r.username = server.user();
        r.password = server.password();
        r.ca_file = ca.ca_cert();
        r.timeout = std::chrono::seconds(30);
        return r;
    }
    std::shared_ptr<Repo> open(const Remote& r) {
        auto repo = cache->open(r);
        EXPECT_TRUE(repo) << repo.error().message;
        return repo ? *repo : nullptr;
    }

    BareRepos repos;
    test::TestCa ca;
    test::HttpGitServer server{repos, ca};
    TempDir cache_dir{"poetryops-source-cache"};
    std::unique_ptr<RepoCache> cache;
    std::string c1;
};

TEST_F(SourceIt, ReadsPyprojectAndLockAtAnExactCommitOverHttps) {
    auto repo = open(https_remote());
    ASSERT_TRUE(repo);
    // Two more commits: the webhook's commit is no longer the tip when we get to it.
    std::string c2 = repos.commit_files("shop.git", {{"services/api/pyproject.toml",
                                                      "[tool.poetry]\nname = \"api\"\n"
                                                      "version = \"1.5.0\"\n"}});
    std::string c3 = repos.commit_files("shop.git", {{"README.md", "# shop 3\n"}});
    auto fetched = repo->fetch_commit(c2);
    ASSERT_TRUE(fetched) << fetched.error().message;
    auto files = repo->read_files(c2, {"services/api/pyproject.toml", "services/api/poetry.lock",
                                       "services/worker/poetry.lock"});
    ASSERT_TRUE(files) << files.error().message;
    ASSERT_TRUE((*files)[0]);
    EXPECT_NE((*files)[0]->find("version = \"1.5.0\""), std::string::npos);
    EXPECT_EQ((*files)[1], std::optional<std::string>("[metadata]\ncontent-hash = \"aa\"\n"));
    EXPECT_FALSE((*files)[2]) << "a project without a lock reads as nullopt";
    // The first commit too, and a commit the clone already has costs no git process.
    ASSERT_TRUE(repo->fetch_commit(c1));
    auto old = repo->read_files(c1, {"services/api/pyproject.toml"});
    ASSERT_TRUE(old) << old.error().message;
    EXPECT_NE((*old)[0]->find("version = \"1.4.2\""), std::string::npos);
    auto calls = repo->git_calls();
    ASSERT_TRUE(repo->fetch_commit(c2));
    EXPECT_EQ(repo->git_calls(), calls);
    // A commit the server does not have.
    auto missing = repo->fetch_commit(std::string(40, 'e'));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().kind, Error::Kind::not_found) << missing.error().message;
    EXPECT_EQ(missing.error().reason, "CommitNotFound");
    EXPECT_EQ(missing.error().message.find(server.password()), std::string::npos);
    auto bad = repo->fetch_commit("main");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().reason, "InvalidCommit");
    (void)c3;
}

TEST_F(SourceIt, ChangedPathsUnderPrefixesMatchGitDiff) {
    auto repo = open(https_remote());
    ASSERT_TRUE(repo);
    std::string c2 = repos.commit_files(
        "shop.git", {{"services/worker/worker/jobs.py", "J=1\n"}, {"README.md", "# shop 2\n"}});
    std::string c3 = repos.commit_files("shop.git", {{"libs/common/common/util.py", "X = 2\n"}});
    std::string c4 = repos.commit_files(
        "shop.git", {{"services/api/poetry.lock", "[metadata]\ncontent-hash = \"bb\"\n"},
                     {"services/api/api/new/deep/mod.py", "pass\n"}});
    // A file replaced by a folder, and a deleted folder.
    std::string c5 =
        commit_with_deletions(repos, "shop.git", {"services/api/api/main.py", "services/worker"},
                              {{"services/api/api/main.py/__init__.py", "\n"}});
    ASSERT_TRUE(repo->fetch("main"));
    const std::vector<std::string> api = {"services/api", "libs/common"};
    struct Case {
        std::string from, to;
        std::vector<std::string> prefixes;
        std::vector<std::string> expected;
    };
    const Case cases[] = {
        // Outside the prefixes: nothing to build.
        {c1, c2, api, {}},
        {c1, c2, {"services/worker"}, {"services/worker/worker/jobs.py"}},
        // A path dependency's folder.
        {c2, c3, api, {"libs/common/common/util.py"}},
        // The lock inside the project, and a new deep folder.
        {c3, c4, api, {"services/api/api/new/deep/mod.py", "services/api/poetry.lock"}},
        {c3, c4, {"services/api/poetry.lock"}, {"services/api/poetry.lock"}},
        {c3, c4, {"services/api/pyproject.toml"}, {}},
        // Several commits at once.
        {c1,
         c4,
         api,
         {"libs/common/common/util.py", "services/api/api/new/deep/mod.py",
          "services/api/poetry.lock"}},
        // File -> folder, and a deleted project.
        {c4,
         c5,
         {"services/api", "services/worker"},
         {"services/api/api/main.py", "services/api/api/main.py/__init__.py",
          "services/worker/pyproject.toml", "services/worker/worker/jobs.py"}},
        // The whole repository, and "./" spellings.
        {c1, c2, {""}, {"README.md", "services/worker/worker/jobs.py"}},
        {c1, c2, {"./services/worker/"}, {"services/worker/worker/jobs.py"}},
        {c4, c4, {""}, {}},
    };
    for (const Case& c : cases) {
        auto got = repo->changed_paths(c.from, c.to, c.prefixes);
        ASSERT_TRUE(got) << got.error().message;
        EXPECT_EQ(*got, c.expected) << c.from << ".." << c.to;
        std::vector<std::string> oracle_prefixes;
        for (const auto& p : c.prefixes)
            oracle_prefixes.push_back(p.rfind("./", 0) == 0 ? p.substr(2) : p);
        EXPECT_EQ(*got, git_diff(repos, "shop.git", c.from, c.to, oracle_prefixes))
            << "git diff disagrees for " << c.from << ".." << c.to;
    }
    // A created branch: everything under the prefix.
    auto created = repo->changed_paths(std::string(40, '0'), c1, {"libs/common"});
    ASSERT_TRUE(created) << created.error().message;
    EXPECT_EQ(*created, (std::vector<std::string>{"libs/common/common/util.py",
                                                  "libs/common/pyproject.toml"}));
    // No blob was needed for any of it.
    auto blobs = test::plain_git({"--git-dir", repo->git_dir().string(), "cat-file",
                                  "--batch-all-objects", "--batch-check=%(objecttype)"});
    EXPECT_EQ(blobs.out.find("blob"), std::string::npos);
    // Bad input is named.
    auto unknown = repo->changed_paths(c1, std::string(40, 'e'), api);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().reason, "CommitNotFound") << unknown.error().message;
    auto escape = repo->changed_paths(c1, c2, {"../etc"});
    ASSERT_FALSE(escape);
    EXPECT_EQ(escape.error().kind, Error::Kind::invalid);
}

TEST_F(SourceIt, RefTipsForPollingInOneRequestOverHttps) {
    auto repo = open(https_remote());
    ASSERT_TRUE(repo);
    repos.commit_files("shop.git", {{"x", "1\n"}}, "release/1.x");
    ASSERT_TRUE(test::plain_git({"--git-dir", repos.path("shop.git").string(), "tag", "-a", "v1",
                                 "-m", "v1", c1})
                    .ok());
    auto calls = repo->git_calls();
    auto fast = repo->fast_fetches();
    auto tips = repo->remote_tips({"main", "refs/heads/release/1.x", "refs/tags/v1", "nope"});
    ASSERT_TRUE(tips) << tips.error().message;
    EXPECT_EQ(tips->at("refs/heads/main"), repos.tip("shop.git", "main"));
    EXPECT_EQ(tips->at("refs/heads/release/1.x"), repos.tip("shop.git", "release/1.x"));
    EXPECT_EQ(tips->at("refs/tags/v1"), c1) << "an annotated tag gives its commit";
    EXPECT_EQ(tips->count("refs/heads/nope"), 0u);
    EXPECT_EQ(tips->size(), 3u) << "ref-prefix 'main' must not bring 'main-2' and the like";
    EXPECT_EQ(repo->fast_fetches(), fast + 1) << "one in-process ls-refs request";
    EXPECT_EQ(repo->git_calls(), calls) << "no git process for a poll over HTTPS";
    // A new commit shows up on the next poll.
    std::string c2 = repos.commit_files("shop.git", {{"README.md", "# 2\n"}});
    auto again = repo->remote_tips({"main"});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->at("refs/heads/main"), c2);
    // Wrong credentials are an error, never a silent "no refs".
    Remote wrong = https_remote();
    wrong.password = "wrong-password";
    auto other_cache = RepoCache::create(cache_dir.path() / "other");
    ASSERT_TRUE(other_cache);
    auto denied_repo = (*other_cache)->open(wrong);
    ASSERT_TRUE(denied_repo);
    auto denied = (*denied_repo)->remote_tips({"main"});
    ASSERT_FALSE(denied);
    EXPECT_EQ(denied.error().kind, Error::Kind::unauthorized) << denied.error().message;
    EXPECT_EQ(denied.error().message.find("wrong-password"), std::string::npos);
    auto invalid = repo->remote_tips({"bad..name"});
    ASSERT_FALSE(invalid);
    EXPECT_EQ(invalid.error().reason, "InvalidRef");
}

TEST_F(SourceIt, RefTipsAndCommitsOverGitDaemonAndSsh) {
    ASSERT_TRUE(test::plain_git({"--git-dir", repos.path("shop.git").string(), "tag", "-a", "v1",
                                 "-m", "v1", c1})
                    .ok());
    repos.commit_files("shop.git", {{"x", "1\n"}}, "main-2");
    std::string c2 = repos.commit_files("shop.git", {{"services/api/api/main.py", "v2\n"}});
    test::GitDaemonServer daemon{repos};
    test::SshGitServer sshd{repos};
    ASSERT_TRUE(daemon.started());
    ASSERT_TRUE(sshd.started());
    Remote git_remote;
    git_remote.url = daemon.url("shop.git");
    Remote ssh_remote;
    ssh_remote.url = sshd.url("shop.git");
    ssh_remote.ssh_key = sshd.client_key();
    ssh_remote.known_hosts = sshd.known_hosts();
    for (const Remote& r : {git_remote, ssh_remote}) {
        auto repo = open(r);
        ASSERT_TRUE(repo);
        auto tips = repo->remote_tips({"main", "refs/tags/v1"});
        ASSERT_TRUE(tips) << r.url << ": " << tips.error().message;
        EXPECT_EQ(tips->size(), 2u) << r.url;
        EXPECT_EQ(tips->at("refs/heads/main"), c2) << r.url;
        EXPECT_EQ(tips->at("refs/tags/v1"), c1) << r.url;
        ASSERT_TRUE(repo->fetch_commit(c1)) << r.url;
        ASSERT_TRUE(repo->fetch_commit(c2)) << r.url;
        auto changed = repo->changed_paths(c1, c2, {"services/api"});
        ASSERT_TRUE(changed) << changed.error().message;
        EXPECT_EQ(*changed, std::vector<std::string>{"services/api/api/main.py"});
        auto files = repo->read_files(c1, {"services/api/pyproject.toml"});
        ASSERT_TRUE(files) << files.error().message;
        EXPECT_EQ((*files)[0], kMonorepo.at("services/api/pyproject.toml"));
    }
}

}  // namespace
}  // namespace poetryops::git

// Repo::export_tree against the lighttpd git server: a folder of a commit that is no longer the tip
// is written out exactly as `git archive` has it (contents, executable bits, symlinks, submodules
// as empty folders, binary files), with one blob fetch and no checkout; the refusals (a folder
// that is not there, a file, a non-empty destination, a commit the clone lacks, a tree entry git
// would not check out) write nothing outside the destination.
#include <poetryops/git/repo.hpp>

#include "support/git/git_servers.hpp"

#include <poetryops/util/fs.hpp>

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

namespace poetryops::git {
namespace {

namespace fs = std::filesystem;
using test::BareRepos;
using test::plain_git;

const std::string kBinary = std::string(
    "\x7f"
    "ELF\0\0\x01\x02 binary\n",
    16);

/// What a folder holds: "f <exec> <content>" for a file, "l <target>" for a link, "d" for a folder.
std::map<std::string, std::string> listing(const fs::path& root) {
    std::map<std::string, std::string> out;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
         ++it) {
        const std::string rel = it->path().lexically_relative(root).generic_string();
        const auto st = it->symlink_status();
        if (fs::is_symlink(st)) {
            out[rel] = "l " + fs::read_symlink(it->path()).string();
        } else if (fs::is_directory(st)) {
            out[rel] = "d";
        } else {
            auto content = read_file(it->path());
            bool exec = (st.permissions() & fs::perms::owner_exec) != fs::perms::none;
            out[rel] = std::string("f ") + (exec ? "x " : "- ") + (content ? *content : "?");
        }
    }
    return out;
}

/// `git archive COMMIT[:PATH]` of the server's repository, unpacked: the oracle.
std::map<std::string, std::string> archived(const BareRepos& repos, const std::string& name,
                                            const std::string& treeish, const fs::path& into) {
    fs::create_directories(into);
    const fs::path tar = into.string() + ".tar";
    auto a = plain_git({"--git-dir", repos.path(name).string(), "archive", "--format=tar", "-o",
                        tar.string(), treeish});
    EXPECT_TRUE(a.ok()) << a.err;
    auto x = run_process({"tar", "-xf", tar.string(), "-C", into.string()});
    EXPECT_TRUE(x && x->ok()) << (x ? x->err : x.error().message);
    return listing(into);
}

class ExportIt : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(server.started()) << server.error_log();
        repos.create("shop.git");
        repos.commit_files("shop.git", {{"README.md", "# shop\n"},
                                        {"services/api/pyproject.toml", "[tool.poetry]\n"},
                                        {"services/api/api/__init__.py", ""},
                                        {"services/api/api/main.py", "print('api')\n"},
                                        {"services/api/tests/deep/er/test_x.py", "x = 1\n"},
                                        {"libs/common/common.py", "C = 1\n"}});
        // What commit_files cannot make: an executable, a symlink, a submodule, binary content.
        TempDir work("poetryops-export-it");
        const fs::path w = work.path() / "w";
        ASSERT_TRUE(plain_git({"clone", "-q", repos.path("shop.git").string(), w.string()}).ok());
        fs::create_directories(w / "services/api/data");
        ASSERT_TRUE(write_file_atomic(w / "services/api/run.sh", "#!/bin/sh\necho run\n", 0755));
        ASSERT_TRUE(write_file_atomic(w / "services/api/data/blob.bin", kBinary));
        ASSERT_TRUE(write_file_atomic(w / "services/api/data/empty file ü.txt", ""));
        fs::create_symlink("api/main.py", w / "services/api/entry.py");
        fs::create_symlink("../../libs/common", w / "services/api/common");
        ASSERT_TRUE(plain_git({"add", "-A"}, w).ok());
        ASSERT_TRUE(plain_git({"update-index", "--add", "--cacheinfo",
                               "160000," + std::string(40, 'a') + ",services/api/vendor/sub"},
                              w)
                        .ok());
        ASSERT_TRUE(plain_git({"commit", "-q", "-m", "special entries"}, w).ok());
        ASSERT_TRUE(plain_git({"push", "-q", "origin", "HEAD:refs/heads/main"}, w).ok());
        special = plain_git({"rev-parse", "HEAD"}, w).out.substr(0, 40);
        // The tip moves on: the commit to export is not the tip any more.
        repos.commit_files("shop.git", {{"services/api/api/main.py", "print('api 2')\n"}});
        auto c = RepoCache::create(cache_dir.path());
        ASSERT_TRUE(c) << c.error().message;
        cache = std::move(c).value();
        Remote r;
        r.url = server.http_url("shop.git");
        r.username = server.user();
        r.password = server.password();
        auto opened = cache->open(r);
        ASSERT_TRUE(opened) << opened.error().message;
        repo = *opened;
    }

    BareRepos repos;
    test::TestCa ca;
    test::HttpGitServer server{repos, ca};
    TempDir cache_dir{"poetryops-export-cache"};
    TempDir out{"poetryops-export-out"};
    std::unique_ptr<RepoCache> cache;
    std::shared_ptr<Repo> repo;
    std::string special;
};

TEST_F(ExportIt, AFolderAtACommitThatIsNotTheTipIsWhatGitArchiveHas) {
    ASSERT_TRUE(repo->fetch_commit(special));
    const auto calls = repo->git_calls();
    auto stats = repo->export_tree(special, "services/api", out.path() / "api");
    ASSERT_TRUE(stats) << stats.error().message;
    // The trees come from the kept-running cat-file, every blob from one fetch.
    EXPECT_LE(repo->git_calls() - calls, 2u);

    const auto got = listing(out.path() / "api");
    const auto want = archived(repos, "shop.git", special + ":services/api", out.path() / "oracle");
    EXPECT_EQ(got, want);
    EXPECT_EQ(got.at("api/main.py"), "f - print('api')\n")
        << "the content at the commit, not the tip";
    EXPECT_EQ(got.at("run.sh"), "f x #!/bin/sh\necho run\n");
    EXPECT_EQ(got.at("entry.py"), "l api/main.py");
    EXPECT_EQ(got.at("common"), "l ../../libs/common");
    EXPECT_EQ(got.at("vendor/sub"), "d") << "a submodule is an empty folder";
    EXPECT_EQ(got.at("data/blob.bin"), "f - " + kBinary);
    EXPECT_EQ(got.count("README.md"), 0u) << "nothing outside the folder";
    EXPECT_EQ(stats->files, 7u);
    EXPECT_EQ(stats->symlinks, 2u);

    // Modes are exactly 0644 and 0755, whatever the umask: the same context on every machine.
    struct stat st {};
    ASSERT_EQ(::stat((out.path() / "api/api/main.py").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);
    ASSERT_EQ(::stat((out.path() / "api/run.sh").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0755u);

    // Again, elsewhere: every object is in the clone now, so no git process at all.
    const auto before = repo->git_calls();
    auto again = repo->export_tree(special, "./services/api/", out.path() / "again");
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(repo->git_calls(), before);
    EXPECT_EQ(listing(out.path() / "again"), got);
}

TEST_F(ExportIt, TheWholeTreeWithDotOrEmptyPath) {
    ASSERT_TRUE(repo->fetch_commit(special));
    auto stats = repo->export_tree(special, ".", out.path() / "all");
    ASSERT_TRUE(stats) << stats.error().message;
    EXPECT_EQ(listing(out.path() / "all"),
              archived(repos, "shop.git", special, out.path() / "oracle"));
    auto empty_path = repo->export_tree(special, "", out.path() / "all2");
    ASSERT_TRUE(empty_path) << empty_path.error().message;
    EXPECT_EQ(listing(out.path() / "all2"), listing(out.path() / "all"));
}

TEST_F(ExportIt, RefusalsNameWhatIsWrongAndWriteNothingOutsideTheDestination) {
    ASSERT_TRUE(repo->fetch_commit(special));
    auto missing = repo->export_tree(special, "services/nope", out.path() / "a");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().kind, Error::Kind::not_found);
    EXPECT_EQ(missing.error().reason, "PathNotFound");
    EXPECT_NE(missing.error().message.find("services/nope"), std::string::npos);

    auto file = repo->export_tree(special, "services/api/run.sh", out.path() / "b");
    ASSERT_FALSE(file);
    EXPECT_EQ(file.error().reason, "InvalidPath");
    EXPECT_NE(file.error().message.find("a file, not a folder"), std::string::npos);

    auto link = repo->export_tree(special, "services/api/common", out.path() / "c");
    ASSERT_FALSE(link);
    EXPECT_NE(link.error().message.find("symbolic link"), std::string::npos);

    auto up = repo->export_tree(special, "services/../libs", out.path() / "d");
    ASSERT_FALSE(up);
    EXPECT_EQ(up.error().kind, Error::Kind::invalid);

    fs::create_directories(out.path() / "full");
    ASSERT_TRUE(write_file_atomic(out.path() / "full" / "keep.txt", "mine\n"));
    auto not_empty = repo->export_tree(special, "services/api", out.path() / "full");
    ASSERT_FALSE(not_empty);
    EXPECT_EQ(not_empty.error().kind, Error::Kind::invalid);
    EXPECT_NE(not_empty.error().message.find("not an empty directory"), std::string::npos);
    EXPECT_EQ(listing(out.path() / "full").size(), 1u) << "nothing written into it";

    auto unknown = repo->export_tree(std::string(40, 'e'), ".", out.path() / "e");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().reason, "CommitNotFound");
    EXPECT_EQ(repo->export_tree("main", ".", out.path() / "f").error().reason, "InvalidCommit");
    EXPECT_EQ(unknown.error().message.find(server.password()), std::string::npos);
}

TEST_F(ExportIt, ATreeEntryGitWouldNotCheckOutIsRefused) {
    // Made on the server with plumbing (a normal push would not carry it): sub/.git is a file.
    const std::string git_dir = repos.path("shop.git").string();
    auto blob = plain_git({"--git-dir", git_dir, "hash-object", "-w", "--stdin"}, {}, "hook\n");
    ASSERT_TRUE(blob.ok()) << blob.err;
    const std::string b = blob.out.substr(0, 40);
    auto inner = plain_git({"--git-dir", git_dir, "mktree"}, {}, "100644 blob " + b + "\t.git\n");
    ASSERT_TRUE(inner.ok()) << inner.err;
    auto outer = plain_git(
        {"--git-dir", git_dir, "mktree"}, {},
        "040000 tree " + inner.out.substr(0, 40) + "\tsub\n100644 blob " + b + "\tok.txt\n");
    ASSERT_TRUE(outer.ok()) << outer.err;
    auto commit = plain_git({"--git-dir", git_dir, "-c", "user.name=x", "-c", "user.email=x@x",
                             "commit-tree", "-m", "evil", outer.out.substr(0, 40)});
    ASSERT_TRUE(commit.ok()) << commit.err;
    const std::string evil = commit.out.substr(0, 40);
    ASSERT_TRUE(plain_git({"--git-dir", git_dir, "update-ref", "refs/heads/evil", evil}).ok());

    auto fetched = repo->fetch_commit(evil);
    ASSERT_TRUE(fetched) << fetched.error().message;
    auto r = repo->export_tree(evil, ".", out.path() / "evil");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, "InvalidPath");
    EXPECT_NE(r.error().message.find("'.git'"), std::string::npos) << r.error().message;
    EXPECT_FALSE(fs::exists(out.path() / "evil" / "sub" / ".git"));
}

}  // namespace
}  // namespace poetryops::git

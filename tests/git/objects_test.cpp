#include "git/detail/objects.hpp"

#include "git/detail/runner.hpp"

#include <poetryops/git/edit.hpp>
#include <poetryops/git/remote.hpp>

#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>

#include <gtest/gtest.h>

namespace poetryops::git {
namespace {

using detail::Tree;
using detail::TreeEntry;

TEST(GitObjects, BlobIdMatchesGit) {
    // `echo hello | git hash-object --stdin`
    EXPECT_EQ(detail::object_id("blob", "hello\n", 20), "ce013625030ba8dba906f756967f9e9ca394464a");
    // The empty tree every git knows.
    EXPECT_EQ(detail::object_id("tree", "", 20), "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
}

TEST(GitObjects, TreeOrderTreatsDirectoriesAsSlashSuffixed) {
    Tree t;
    t["a.b"] = TreeEntry{"100644", std::string(40, '1')};
    t["a"] = TreeEntry{"40000", std::string(40, '2')};  // sorts as "a/" → after "a.b" ('.' < '/')
    t["a-c"] = TreeEntry{"100644", std::string(40, '3')};
    std::string body = detail::serialize_tree(t);
    auto pos_ab = body.find("a.b");
    auto pos_dir = body.find(std::string("40000 a\0", 8));
    auto pos_ac = body.find("a-c");
    ASSERT_NE(pos_dir, std::string::npos);
    EXPECT_LT(pos_ac, pos_ab);  // '-' (0x2d) < '.' (0x2e)
    EXPECT_LT(pos_ab, pos_dir);
    auto back = detail::parse_tree(body, 20);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->size(), 3u);
    EXPECT_EQ(back->at("a").mode, "40000");
    EXPECT_EQ(back->at("a").oid, std::string(40, '2'));
}

TEST(GitObjects, ParsesCatFileBatchOutput) {
    std::string out = "abc blob 3\nhi\n\nHEAD:x missing\n" + std::string(40, 'f') + " tree 0\n\n";
    auto r = detail::parse_batch_output(out, 3);
    ASSERT_TRUE(r);
    EXPECT_EQ((*r)[0].content, "hi\n");
    EXPECT_TRUE((*r)[1].missing);
    EXPECT_EQ((*r)[2].type, "tree");
    EXPECT_FALSE(detail::parse_batch_output("abc blob 10\nshort\n", 1));
}

TEST(GitObjects, PacksWeBuildAreAcceptedByGitWithOurIds) {
    TempDir d("poetryops-pack");
    auto git = [&](std::vector<std::string> args, std::optional<std::string> in = std::nullopt) {
        std::vector<std::string> argv = {"git", "--git-dir", (d.path() / "r.git").string()};
        argv.insert(argv.end(), args.begin(), args.end());
        ProcessOptions o;
        o.stdin_data = std::move(in);
        o.env = {{"GIT_CONFIG_NOSYSTEM", "1"}, {"GIT_CONFIG_GLOBAL", "/dev/null"}};
        return run_process(argv, o).value();
    };
    ASSERT_TRUE(git({"init", "-q", "--bare"}).ok());
    std::string big(200000, 'x');  // more than one stored deflate block
    std::string blob_id = detail::object_id("blob", big, 20);
    Tree t;
    t["big.txt"] = TreeEntry{"100644", blob_id};
    t["small"] = TreeEntry{"100755", detail::object_id("blob", "hi\n", 20)};
    std::string tree_body = detail::serialize_tree(t);
    std::string pack =
        detail::build_pack({{"blob", big}, {"blob", "hi\n"}, {"tree", tree_body}}, 20);
    auto r = git({"index-pack", "--stdin"}, pack);
    ASSERT_TRUE(r.ok()) << r.err;
    EXPECT_EQ(git({"cat-file", "-p", blob_id}).out, big);
    auto ls = git({"ls-tree", detail::object_id("tree", tree_body, 20)});
    EXPECT_EQ(ls.out,
              "100644 blob " + blob_id +
                  "\tbig.txt\n100755 blob 45b983be36b73c0788dc9cbcb76cbb80fc7bb057\tsmall\n");
    EXPECT_TRUE(git({"fsck", "--strict"}).ok());
}

TEST(GitPaths, RefusesEscapesAndOddComponents) {
    EXPECT_TRUE(validate_repo_path("apps/web/kustomization.yaml"));
    for (const char* bad : {"", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", ".git/config",
                            "a/.GIT/x", "a\\b", "a\nb", "a/"}) {
        auto r = validate_repo_path(bad);
        EXPECT_FALSE(r) << bad;
        if (!r) {
            EXPECT_EQ(r.error().kind, Error::Kind::invalid);
            EXPECT_NE(r.error().message.find("path '"), std::string::npos);
        }
    }
}

TEST(GitRemote, DisplayUrlHidesPasswordsAndValidationRefusesThem) {
    EXPECT_EQ(display_url("https://bob:hunter2@git.example.com/r.git"),
              "https://bob:[REDACTED]@git.example.com/r.git");
    EXPECT_EQ(display_url("ssh://git@host/r.git"), "ssh://git@host/r.git");
    Remote r;
    r.url = "https://bob:hunter2@git.example.com/r.git";
    auto v = validate_remote(r);
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error().reason, "SecretInUrl");
    EXPECT_EQ(v.error().message.find("hunter2"), std::string::npos);
    r.url = "ssh://git@host/r.git";
    EXPECT_EQ(validate_remote(r).error().reason, "MissingKnownHosts");
    r.url = "ext::sh -c evil";
    EXPECT_FALSE(validate_remote(r));
    r.url = "https://git.example.com/r.git";
    EXPECT_TRUE(validate_remote(r));
    Remote other = r;
    other.password = "different";
    EXPECT_EQ(remote_identity(r),
              remote_identity(other));  // the secret is not part of the cache key
    other.username = "alice";
    EXPECT_NE(remote_identity(r), remote_identity(other));
}

TEST(GitRemote, BranchNames) {
    EXPECT_TRUE(valid_branch_name("main"));
    EXPECT_TRUE(valid_branch_name("poetryops/web/prod"));
    for (const char* bad :
         {"", "-x", "a..b", "a b", "a:b", "x.lock", "a/.b", "HEAD", "a~1", "/a", "a/"}) {
        EXPECT_FALSE(valid_branch_name(bad)) << bad;
    }
}

TEST(GitMessage, RendersTemplateAndTrailers) {
    CommitMessage m;
    m.app = "web";
    m.env = "prod";
    m.version = "1.2.3";
    m.digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    m.trailers = {{"Poetryops-Promotion", "team/web/prod/" + m.digest}};
    std::string one = render_batch_message({&m});
    EXPECT_EQ(one.substr(0, one.find('\n')), "promote web to prod: 1.2.3 (sha256:0123456789ab)");
    EXPECT_NE(one.find("\n\nPoetryops-Promotion: team/web/prod/sha256:0123"), std::string::npos);
    CommitMessage n = m;
    n.app = "api";
    n.trailers = {{"Poetryops-Promotion", "team/api/prod/" + m.digest}};
    std::string two = render_batch_message({&m, &n});
    EXPECT_EQ(two.substr(0, two.find('\n')), "poetryops: 2 changes");
    EXPECT_NE(two.find("- promote api to prod"), std::string::npos);
    EXPECT_NE(two.find("Poetryops-Promotion: team/web/prod/"), std::string::npos);
    EXPECT_NE(two.find("Poetryops-Promotion: team/api/prod/"), std::string::npos);
    CommitMessage evil;
    evil.subject = "line one\nInjected: trailer";
    EXPECT_EQ(render_subject(evil), "line one Injected: trailer");
}

TEST(GitErrors, ClassifiesGitOutputAndKeepsTheUsefulLines) {
    Remote remote;
    remote.url = "https://git.example.com/r.git";
    remote.password = "tok-very-secret";
    detail::Runner runner(remote, "/nonexistent", "/nonexistent");
    ProcessResult r;
    r.exit_code = 1;
    r.err =
        "remote: Hook says: images must be pinned by digest\nremote: \nTo "
        "https://git.example.com/r.git\n"
        " ! [remote rejected] abc -> main (pre-receive hook declined)\nerror: failed to push some "
        "refs\n"
        "hint: something\n";
    auto e = runner.failure("push to", r);
    EXPECT_EQ(e.kind, Error::Kind::invalid);
    EXPECT_EQ(e.reason, "PushRejected");
    EXPECT_NE(e.message.find("remote: Hook says: images must be pinned by digest"),
              std::string::npos);
    EXPECT_EQ(e.message.find("hint:"), std::string::npos);

    r.err = "fatal: Authentication failed for 'https://git.example.com/r.git/' tok-very-secret\n";
    e = runner.failure("fetch", r);
    EXPECT_EQ(e.kind, Error::Kind::unauthorized);
    EXPECT_EQ(e.message.find("tok-very-secret"), std::string::npos);

    r.err = " ! [rejected]        abc -> main (fetch first)\n";
    EXPECT_EQ(runner.failure("push", r).kind, Error::Kind::conflict);
    r.err =
        "remote: error: cannot lock ref 'refs/heads/main': is at 1111 but expected 2222\n"
        "!\tabc:refs/heads/main\t[remote rejected] (failed to update ref)\n";
    EXPECT_EQ(runner.failure("push", r).kind, Error::Kind::conflict);  // a lost race, retried
    r.err = "fatal: couldn't find remote ref refs/heads/nope\n";
    EXPECT_EQ(runner.failure("fetch", r).kind, Error::Kind::not_found);
    r.err = "Host key verification failed.\nfatal: Could not read from remote repository.\n";
    EXPECT_EQ(runner.failure("fetch", r).reason, "HostKeyVerificationFailed");
    r.err =
        "fatal: unable to access 'x': Failed to connect to 127.0.0.1 port 1: Connection refused\n";
    EXPECT_EQ(runner.failure("fetch", r).kind, Error::Kind::transport);
    r.timed_out = true;
    EXPECT_EQ(runner.failure("fetch", r).kind, Error::Kind::timeout);
}

}  // namespace
}  // namespace poetryops::git

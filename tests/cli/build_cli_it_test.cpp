// `poetryops build` and `poetryops build prepare` run as real processes against real parts: a
// source repository on the lighttpd git server, docker-registry, and buildah with the local Debian
// base images (one image store for the whole suite, so later builds reuse the layers of earlier
// ones). Checked: the digest printed is the one the registry holds for the tag (asked with skopeo,
// not with our client), progress lines, a build at a commit that is no longer the tip, refusals
// before anything is built (stale lock, no pyproject.toml, a Dockerfile outside the project, a tag
// template without a commit), a build that fails (exit 1 with buildah's last lines, nothing
// pushed), and the init container's contract (the argv make_job writes, a wrong commit refused,
// no credential in any output).
#include "support/buildah/buildah_store.hpp"
#include "support/git/git_servers.hpp"
#include "support/registry/test_registry.hpp"

#include <poetryops/build/job.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/strings.hpp>
#include <poetryops/util/subprocess.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace poetryops::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

ProcessResult poetryops(const std::vector<std::string>& args,
                        std::map<std::string, std::string> env = {}) {
    std::vector<std::string> argv{POETRYOPS_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions o;
    o.timeout = std::chrono::minutes(10);
    o.env = std::move(env);
    auto r = run_process(argv, o);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : ProcessResult{};
}

void write_tree(const fs::path& dir, const std::map<std::string, std::string>& files) {
    for (const auto& [rel, text] : files) {
        fs::create_directories((dir / rel).parent_path());
        ASSERT_TRUE(write_file_atomic(dir / rel, text));
    }
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
    auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    return text;
}

/// A git repository of `files` in `dir` with one commit; returns its id.
std::string git_project(const fs::path& dir, const std::map<std::string, std::string>& files) {
    write_tree(dir, files);
    EXPECT_TRUE(plain_git({"init", "-q", dir.string()}).ok());
    EXPECT_TRUE(plain_git({"add", "-A"}, dir).ok());
    EXPECT_TRUE(plain_git({"commit", "-q", "-m", "project"}, dir).ok());
    return plain_git({"rev-parse", "HEAD"}, dir).out.substr(0, 40);
}

/// What the registry says a reference points at (skopeo, not our client): "" when it has nothing.
std::string registry_digest(const TestRegistry& registry, const std::string& repo_tag) {
    auto r = run_process({"skopeo", "inspect", "--tls-verify=false", "--raw",
                          "docker://" + registry.host() + "/" + repo_tag});
    if (!r || !r->ok()) return "";
    return "sha256:" + str::sha256_hex(r->out);
}

std::vector<std::string> registry_tags(const TestRegistry& registry, const std::string& repo) {
    auto r = run_process(
        {"skopeo", "list-tags", "--tls-verify=false", "docker://" + registry.host() + "/" + repo});
    if (!r || !r->ok()) return {};
    auto doc = json::parse(r->out, nullptr, false);
    std::vector<std::string> tags;
    if (!doc.is_discarded() && doc.contains("Tags") && doc["Tags"].is_array()) {
        for (const auto& t : doc["Tags"]) tags.push_back(t.get<std::string>());
    }
    return tags;
}

std::string line_value(const std::string& out, const std::string& key) {
    for (const auto& line : str::split(out, '\n')) {
        if (line.rfind(key + ": ", 0) == 0) return line.substr(key.size() + 2);
    }
    return "";
}

/// Every stderr line of a subcommand starts with `poetryops <command>: `.
void expect_all_lines_prefixed(const std::string& err, const std::string& command) {
    for (const auto& line : str::split(err, '\n')) {
        if (line.empty()) continue;
        EXPECT_THAT(line, StartsWith("poetryops " + command + ": "));
    }
}

class BuildCli : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        ASSERT_TRUE(require_tools({"buildah", "skopeo", "docker-registry", "git", "lighttpd"}));
        auto s = BuildahStore::create(source_dir());
        ASSERT_TRUE(s) << s.error().message;
        store_ = new BuildahStore(std::move(s).value());
    }
    static void TearDownTestSuite() {
        delete store_;
        store_ = nullptr;
    }
    void SetUp() override {
        ASSERT_NE(store_, nullptr);
        registry = TestRegistry::start({});
        ASSERT_NE(registry, nullptr);
    }

    /// The flags every build passes: the suite's image store and base images, Poetry from the
    /// build image, no apt (tini) so that nothing is downloaded.
    std::vector<std::string> store_flags() const {
        return {"--buildah-root",
                store_->root().string(),
                "--buildah-runroot",
                store_->runroot().string(),
                "--storage-driver",
                "overlay",
                "--build-image",
                store_->build_image(),
                "--runtime-image",
                store_->runtime_image(),
                "--poetry",
                "preinstalled",
                "--init",
                "none"};
    }
    std::vector<std::string> build_args(std::vector<std::string> args) const {
        std::vector<std::string> out = {"build"};
        out.insert(out.end(), args.begin(), args.end());
        auto f = store_flags();
        out.insert(out.end(), f.begin(), f.end());
        return out;
    }

    static BuildahStore* store_;
    std::unique_ptr<TestRegistry> registry;
    TempDir work{"poetryops-build-cli"};
};

BuildahStore* BuildCli::store_ = nullptr;

TEST_F(BuildCli, AFolderIsBuiltPushedAndTheRegistryHoldsThePrintedDigest) {
    const fs::path project = work.path() / "hello";
    const std::string commit = git_project(project, test::example_files("hello"));
    const std::string repo = "acme/hello";
    auto r = poetryops(build_args({project.string(), "--image", registry->host() + "/" + repo,
                                   "--push", "--plain-http", registry->host()}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string tag = "0.1.0-" + commit.substr(0, 7);
    EXPECT_EQ(line_value(r.out, "tag"), tag) << r.out;
    EXPECT_EQ(line_value(r.out, "commit"), commit);
    const std::string digest = line_value(r.out, "digest");
    EXPECT_THAT(digest, StartsWith("sha256:"));
    EXPECT_EQ(registry_digest(*registry, repo + ":" + tag), digest)
        << "the registry does not hold the printed digest under " << tag;
    // Progress: each build step as it starts, the push and the verification.
    EXPECT_THAT(r.err, HasSubstr("poetryops build: STEP 1/"));
    EXPECT_THAT(r.err, HasSubstr("poetryops build: pushing docker://" + registry->host()));
    EXPECT_THAT(r.err, HasSubstr("poetryops build: verifying "));
    expect_all_lines_prefixed(r.err, "build");

    // --tag overrides the template; --format json carries the same facts.
    auto j = poetryops(
        build_args({project.string(), "--image", registry->host() + "/" + repo, "--push",
                    "--plain-http", registry->host(), "--tag", "ci-7", "--format", "json"}));
    ASSERT_EQ(j.exit_code, 0) << j.err;
    auto doc = json::parse(j.out, nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << j.out;
    EXPECT_EQ(doc["tag"], "ci-7");
    EXPECT_EQ(doc["image"], registry->host() + "/" + repo + ":ci-7");
    EXPECT_EQ(doc["commit"], commit);
    EXPECT_EQ(doc["version"], "0.1.0");
    EXPECT_EQ(doc["digest"], registry_digest(*registry, repo + ":ci-7"));
    EXPECT_TRUE(doc["build_seconds"].is_number());
    EXPECT_TRUE(doc["push_seconds"].is_number());

    // Into an OCI image layout instead: DIR/<repository path>, verified there.
    const fs::path layout = work.path() / "layout";
    auto l = poetryops(build_args({project.string(), "--image", "registry.example.com/" + repo,
                                   "--push", "--registry-layout", layout.string()}));
    ASSERT_EQ(l.exit_code, 0) << l.err;
    auto raw =
        run_process({"skopeo", "inspect", "--raw", "oci:" + (layout / repo).string() + ":" + tag});
    ASSERT_TRUE(raw && raw->ok()) << (raw ? raw->err : raw.error().message);
    EXPECT_EQ(line_value(l.out, "digest"), "sha256:" + str::sha256_hex(raw->out));
}

TEST_F(BuildCli, ASourceCommitThatIsNotTheTipIsBuiltFromTheGitServer) {
    BareRepos repos;
    TestCa ca;
    HttpGitServer server(repos, ca);
    ASSERT_TRUE(server.started()) << server.error_log();
    repos.create("shop.git");
    std::map<std::string, std::string> files;
    for (const auto& [rel, text] : test::example_files("hello"))
        files["services/hello/" + rel] = text;
    files["README.md"] = "# shop\n";
    const std::string c1 = repos.commit_files("shop.git", files);
    // The tip moves on to another version: the build must take c1's files.
    const std::string c2 =
        repos.commit_files("shop.git", {{"services/hello/pyproject.toml",
                                         replaced(files["services/hello/pyproject.toml"],
                                                  "version = \"0.1.0\"", "version = \"0.2.0\"")}});
    ASSERT_NE(c1, c2);
    const std::string repo = "acme/shop-hello";
    auto r = poetryops(build_args({"--source", server.http_url("shop.git"), "--ref", "main",
                                   "--commit", c1, "--path", "services/hello", "--git-username",
                                   server.user(), "--image", registry->host() + "/" + repo,
                                   "--push", "--plain-http", registry->host(), "--format", "json"}),
                       {{"POETRYOPS_GIT_PASSWORD", server.password()}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto doc = json::parse(r.out, nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << r.out;
    EXPECT_EQ(doc["commit"], c1);
    EXPECT_EQ(doc["version"], "0.1.0");
    EXPECT_EQ(doc["tag"], "0.1.0-" + c1.substr(0, 7));
    EXPECT_EQ(doc["digest"], registry_digest(*registry, repo + ":0.1.0-" + c1.substr(0, 7)));
    EXPECT_THAT(r.err + r.out, Not(HasSubstr(server.password())));

    // Without --commit: the tip of --ref.
    auto tip = poetryops(
        build_args({"--source", server.http_url("shop.git"), "--path", "services/hello",
                    "--git-username", server.user(), "--image", registry->host() + "/" + repo}),
        {{"POETRYOPS_GIT_PASSWORD", server.password()}});
    ASSERT_EQ(tip.exit_code, 0) << tip.err;
    EXPECT_EQ(line_value(tip.out, "tag"), "0.2.0-" + c2.substr(0, 7));
    EXPECT_EQ(line_value(tip.out, "digest"), "") << "not pushed without --push";
}

TEST_F(BuildCli, ABuildThatFailsIsExit1WithBuildahsLastLinesAndNothingIsPushed) {
    // A syntax error in the project: the generated Dockerfile's byte-compilation fails.
    auto files = test::example_files("hello");
    files["hello/main.py"] += "\ndef broken(:\n    pass\n";
    const fs::path project = work.path() / "broken";
    git_project(project, files);
    const std::string repo = "acme/broken";
    auto r = poetryops(build_args({project.string(), "--image", registry->host() + "/" + repo,
                                   "--push", "--plain-http", registry->host()}));
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_THAT(r.err,
                HasSubstr("poetryops build: buildah build of " + registry->host() + "/" + repo));
    EXPECT_THAT(r.err, HasSubstr("main.py"));
    EXPECT_THAT(r.err, HasSubstr("SyntaxError"));
    EXPECT_EQ(r.out, "");
    expect_all_lines_prefixed(r.err, "build");

    // The project's own Dockerfile with a RUN that fails: linted (warnings only), then exit 1.
    auto own = test::example_files("hello");
    own["docker/Dockerfile"] =
        "FROM " + store_->runtime_image() + "\nRUN echo boom-7f3a && exit 7\nCOPY . /app\n";
    const fs::path own_dir = work.path() / "own";
    git_project(own_dir, own);
    auto o = poetryops(
        build_args({own_dir.string(), "--dockerfile", "docker/Dockerfile", "--image",
                    registry->host() + "/" + repo, "--push", "--plain-http", registry->host()}));
    EXPECT_EQ(o.exit_code, 1) << o.err;
    EXPECT_THAT(o.err, HasSubstr("poetryops build: warning: docker/Dockerfile:"));
    EXPECT_THAT(o.err, HasSubstr("boom-7f3a"));
    EXPECT_THAT(o.err, HasSubstr("exit 7"));
    EXPECT_TRUE(registry_tags(*registry, repo).empty()) << "a failed build pushed something";
}

TEST_F(BuildCli, RefusalsBeforeAnythingIsBuiltAreExit2AndNameTheFileOrFlag) {
    const std::string image = registry->host() + "/acme/refused";
    // A stale lock: a hashed field of pyproject.toml changed without `poetry lock`.
    auto stale = test::example_files("hello");
    stale["pyproject.toml"] =
        replaced(stale["pyproject.toml"], "python = \"^3.11\"", "python = \"^3.12\"");
    const fs::path stale_dir = work.path() / "stale";
    git_project(stale_dir, stale);
    auto s = poetryops(build_args(
        {stale_dir.string(), "--image", image, "--push", "--plain-http", registry->host()}));
    EXPECT_EQ(s.exit_code, 2) << s.err;
    EXPECT_THAT(s.err, HasSubstr("poetry.lock is stale"));
    EXPECT_THAT(s.err, HasSubstr("poetry lock"));
    EXPECT_THAT(s.err, Not(HasSubstr("STEP"))) << "a build started";
    EXPECT_EQ(std::count(s.err.begin(), s.err.end(), '\n'), 1) << s.err;
    EXPECT_TRUE(registry_tags(*registry, "acme/refused").empty());

    // No pyproject.toml.
    const fs::path empty = work.path() / "empty";
    fs::create_directories(empty);
    auto e = poetryops(build_args({empty.string(), "--image", image}));
    EXPECT_EQ(e.exit_code, 2) << e.err;
    EXPECT_THAT(e.err, HasSubstr((empty / "pyproject.toml").string()));

    // The default template needs a commit; a folder outside git has none.
    const fs::path loose = work.path() / "loose";
    write_tree(loose, test::example_files("hello"));
    auto t = poetryops(build_args({loose.string(), "--image", image}));
    EXPECT_EQ(t.exit_code, 2) << t.err;
    EXPECT_THAT(t.err, HasSubstr("--tag-template"));
    EXPECT_THAT(t.err, HasSubstr("{shortSha}"));
    EXPECT_THAT(t.err, HasSubstr("--tag"));

    // A Dockerfile outside the project (the build context).
    auto d = poetryops(build_args({loose.string(), "--image", image, "--tag", "x", "--dockerfile",
                                   "../stale/pyproject.toml"}));
    EXPECT_EQ(d.exit_code, 2) << d.err;
    EXPECT_THAT(d.err, HasSubstr("--dockerfile ../stale/pyproject.toml: outside the project"));

    // Flags.
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{loose.string()},
          std::vector<std::string>{loose.string(), "--image", image, "--source", "file:///x"},
          std::vector<std::string>{loose.string(), "--image", image, "--commit", "abc"},
          std::vector<std::string>{loose.string(), "--image", image + ":1.0"},
          std::vector<std::string>{loose.string(), "--image", image, "--tag-template", "{nope}"}}) {
        auto f = poetryops(build_args(args));
        EXPECT_EQ(f.exit_code, 2) << args.back() << ": " << f.err;
        EXPECT_EQ(std::count(f.err.begin(), f.err.end(), '\n'), 1) << f.err;
        EXPECT_THAT(f.err, StartsWith("poetryops build: --"));
    }
}

TEST_F(BuildCli, PrepareRunsTheJobsArgvAndWritesContextAndDockerfileForTheCommit) {
    BareRepos repos;
    TestCa ca;
    HttpGitServer server(repos, ca);
    ASSERT_TRUE(server.started()) << server.error_log();
    repos.create("shop.git");
    std::map<std::string, std::string> files;
    for (const auto& [rel, text] : test::example_files("hello"))
        files["services/hello/" + rel] = text;
    files["services/hello/docker/Dockerfile"] = "FROM scratch\nCOPY . /app\n";
    files["services/other/x.txt"] = "not in the context\n";
    const std::string c1 = repos.commit_files("shop.git", files);
    repos.commit_files("shop.git", {{"services/hello/hello/main.py", "print('tip')\n"}});

    // The argv make_job gives the init container, with the Job's paths moved here.
    api::PoetryApp app;
    app.metadata.name = "hello";
    app.metadata.namespace_ = "team-a";
    app.metadata.uid = "2f1c6e5a-7a51-4c4e-9d1e-0a4b7c9e0001";
    app.spec.source = api::SourceSpec{};
    app.spec.source->repo_url = server.http_url("shop.git");
    app.spec.source->ref = "main";
    app.spec.source->path = "services/hello";
    app.spec.source->secret_ref = api::SecretRef{"hello-git"};
    app.spec.image.repository = registry->host() + "/acme/hello";
    app.spec.build = api::BuildSpec{};
    app.spec.build->engine = api::BuildEngine::buildah;
    app.spec.build->python = "3.11";
    app.spec.build->poetry = "preinstalled";
    auto job = build::make_job(app, {c1, "0.1.0", "0.1.0-" + c1.substr(0, 7)}, {});
    ASSERT_TRUE(job) << job.error().message;
    const json& init = (*job)["spec"]["template"]["spec"]["initContainers"][0];
    ASSERT_EQ(init["command"], json::array({"poetryops"}));
    const fs::path out = work.path() / "workspace";
    const fs::path creds = work.path() / "source-secret";
    fs::create_directories(creds);
    // As a Secret volume holds them (kubectl create secret --from-file keeps a trailing newline).
    ASSERT_TRUE(write_file_atomic(creds / "username", server.user() + "\n"));
    ASSERT_TRUE(write_file_atomic(creds / "password", server.password() + "\n"));
    auto job_args = [&](const std::string& commit, const fs::path& to) {
        std::vector<std::string> args;
        for (const auto& a : init["args"]) {
            std::string s = a.get<std::string>();
            if (s == build::kWorkspace) s = to.string();
            if (s == "/etc/poetryops/source") s = creds.string();
            if (s == c1) s = commit;
            args.push_back(s);
        }
        return args;
    };
    auto args = job_args(c1, out);
    ASSERT_THAT(args, ::testing::Contains("--credentials-dir"));
    auto r = poetryops(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(line_value(r.out, "commit"), c1);
    // The project folder at c1 (not the tip), with the generated .dockerignore; nothing else.
    auto main_py = read_file(out / "context" / "hello" / "main.py");
    ASSERT_TRUE(main_py) << r.err;
    EXPECT_EQ(*main_py, files["services/hello/hello/main.py"]);
    EXPECT_TRUE(fs::exists(out / "context" / "pyproject.toml"));
    EXPECT_TRUE(fs::exists(out / "context" / ".dockerignore"));
    EXPECT_FALSE(fs::exists(out / "context" / "x.txt"));
    EXPECT_FALSE(fs::exists(out / "context" / "services"));
    auto dockerfile = read_file(out / "dockerfile" / "Dockerfile");
    ASSERT_TRUE(dockerfile);
    // The generator's output for that project with the Job's --python.
    auto generated = poetryops({"dockerfile", "generate", (out / "context").string(), "--output",
                                "-", "--python", "3.11", "--poetry", "preinstalled"});
    ASSERT_EQ(generated.exit_code, 0) << generated.err;
    EXPECT_EQ(*dockerfile, generated.out);
    expect_all_lines_prefixed(r.err, "build prepare");
    EXPECT_THAT(r.err + r.out, Not(HasSubstr(server.password())));

    // The project's own Dockerfile, relative to --path, is copied (and linted).
    std::vector<std::string> own = job_args(c1, work.path() / "own");
    std::replace(own.begin(), own.end(), std::string("generate"), std::string("docker/Dockerfile"));
    auto o = poetryops(own);
    ASSERT_EQ(o.exit_code, 0) << o.err;
    auto copied = read_file(work.path() / "own" / "dockerfile" / "Dockerfile");
    ASSERT_TRUE(copied);
    EXPECT_EQ(*copied, files["services/hello/docker/Dockerfile"]);

    // A commit the server does not have, and one that is not a commit id: exit 2, nothing written.
    auto wrong = poetryops(job_args(std::string(40, 'e'), work.path() / "wrong"));
    EXPECT_EQ(wrong.exit_code, 2) << wrong.err;
    EXPECT_THAT(wrong.err, HasSubstr("--commit"));
    EXPECT_THAT(wrong.err, HasSubstr(std::string(40, 'e')));
    EXPECT_FALSE(fs::exists(work.path() / "wrong" / "context"));
    auto short_id = poetryops(job_args(c1.substr(0, 7), work.path() / "short"));
    EXPECT_EQ(short_id.exit_code, 2) << short_id.err;
    EXPECT_THAT(short_id.err, HasSubstr("--commit " + c1.substr(0, 7)));

    // Wrong credentials: bad input, and the password is not shown.
    ASSERT_TRUE(write_file_atomic(creds / "password", "wrong-pw-91c2\n"));
    auto denied = poetryops(job_args(c1, work.path() / "denied"));
    EXPECT_EQ(denied.exit_code, 2) << denied.err;
    EXPECT_THAT(denied.err + denied.out, Not(HasSubstr("wrong-pw-91c2")));

    // A server that does not answer: a fetch failure, exit 1.
    std::vector<std::string> down = job_args(c1, work.path() / "down");
    std::replace(down.begin(), down.end(), server.http_url("shop.git"),
                 "http://127.0.0.1:" + std::to_string(free_port()) + "/git/shop.git");
    auto d = poetryops(down);
    EXPECT_EQ(d.exit_code, 1) << d.err;
    EXPECT_THAT(d.err, StartsWith("poetryops build prepare: "));
}

}  // namespace
}  // namespace poetryops::test

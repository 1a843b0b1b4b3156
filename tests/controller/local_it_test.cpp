#include <poetryops/controller/local.hpp>

#include <poetryops/controller/demo.hpp>
#include <poetryops/registry/layout.hpp>
#include <poetryops/registry/reference.hpp>
#include <poetryops/util/fs.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

#include "support/support.hpp"

namespace poetryops::controller {
namespace {

namespace fs = std::filesystem;

ProcessOptions git_env(const fs::path& home) {
    ProcessOptions o;
    o.inherit_env = false;
    o.env = {{"PATH", "/usr/bin:/bin"},   {"HOME", home.string()},
             {"GIT_AUTHOR_NAME", "t"},    {"GIT_AUTHOR_EMAIL", "t@x"},
             {"GIT_COMMITTER_NAME", "t"}, {"GIT_COMMITTER_EMAIL", "t@x"}};
    return o;
}

/// An image in the layout under `tag` whose manifest is unique to `seed`.
std::string push(registry::LayoutRegistry& reg, const std::string& tag, const std::string& seed) {
    auto repo = registry::parse_repository("registry.local/team/app");
    EXPECT_TRUE(repo);
    auto config = reg.put_blob(*repo, R"({"seed":")" + seed + R"("})");
    EXPECT_TRUE(config);
    nlohmann::json m = {{"schemaVersion", 2},
                        {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                        {"config",
                         {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                          {"digest", *config},
                          {"size", 13 + seed.size()}}},
                        {"layers", nlohmann::json::array()}};
    auto d = reg.put_manifest(*repo, tag, m.dump(), "application/vnd.oci.image.manifest.v1+json");
    EXPECT_TRUE(d) << (d ? "" : d.error().message);
    return d ? d->digest : "";
}

class LocalModeTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(test::require_tools({"git"}));
        auto o = git_env(dir.path());
        test::must_run(
            {"git", "init", "-q", "--bare", "-b", "main", (dir.path() / "deploy.git").string()}, o);
        test::must_run({"git", "init", "-q", "-b", "main", (dir.path() / "seed").string()}, o);
        fs::create_directories(dir.path() / "seed/envs/dev");
        fs::create_directories(dir.path() / "seed/envs/prod");
        ASSERT_TRUE(write_file_atomic(dir.path() / "seed/envs/dev/kustomization.yaml",
                                      "resources: [../../base]\n# keep this comment\nimages:\n"
                                      "- name: registry.local/team/app\n  newTag: old\n"));
        ASSERT_TRUE(
            write_file_atomic(dir.path() / "seed/envs/prod/values.yaml",
                              "image:\n  repository: registry.local/team/app\n  tag: old\n"));
        o.cwd = (dir.path() / "seed").string();
        test::must_run({"git", "add", "-A"}, o);
        test::must_run({"git", "commit", "-qm", "seed"}, o);
        test::must_run({"git", "push", "-q", (dir.path() / "deploy.git").string(), "main"}, o);
        fs::create_directories(dir.path() / "apps");
        write_app("");
    }

    void write_app(const std::string& annotations) {
        std::string yaml =
            "apiVersion: poetryops.io/v1alpha1\nkind: PoetryApp\nmetadata:\n  name: app\n"
            "  namespace: team\n" +
            annotations +
            "spec:\n  image: {repository: registry.local/team/app, tagTemplate: \"{version}\"}\n"
            "  gitops: {repoURL: \"file://" +
            (dir.path() / "deploy.git").string() +
            "\"}\n"
            "  environments:\n  - {name: dev, path: envs/dev}\n"
            "  - {name: prod, path: envs/prod, update: {kind: helm},\n"
            "     promotion: {from: dev, approval: required}}\n";
        ASSERT_TRUE(write_file_atomic(dir.path() / "apps/app.yaml", yaml));
    }

    std::unique_ptr<LocalRunner> runner() {
        LocalOptions o;
        o.inputs = {dir.path() / "apps"};
        o.state_dir = dir.path() / "state";
        o.layout_dir = dir.path() / "registry";
        o.committer.window = std::chrono::milliseconds(10);
        o.on_event = [this](const api::PoetryApp&, const promote::Event& e) {
            events.push_back(e.reason);
        };
        auto r = LocalRunner::create(o);
        EXPECT_TRUE(r) << (r ? "" : r.error().message);
        return r ? std::move(r).value() : nullptr;
    }

    std::string remote_file(const std::string& path) {
        auto r = run_process(
            {"git", "--git-dir", (dir.path() / "deploy.git").string(), "show", "main:" + path});
        return r ? r->out : "";
    }

    TempDir dir{"poetryops-local"};
    std::vector<std::string> events;
};

TEST_F(LocalModeTest, PromotesIntoARealGitRepoAndKeepsStatusAcrossRuns) {
    registry::LayoutOptions lo;
    lo.repository_subdirs = true;
    registry::LayoutRegistry reg(dir.path() / "registry", lo);
    std::string d1 = push(reg, "1.0.0", "one");
    push(reg, "not-a-version", "x");

    auto r = runner();
    ASSERT_TRUE(r);
    auto pass = r->run_until_settled();
    ASSERT_TRUE(pass) << pass.error().message;
    EXPECT_EQ(pass->commits, 1u);  // dev only: prod needs an approval
    EXPECT_EQ(
        remote_file("envs/dev/kustomization.yaml"),
        "resources: [../../base]\n# keep this comment\nimages:\n- name: registry.local/team/app\n"
        "  newTag: 1.0.0\n  digest: " +
            d1 + "\n");
    auto status = r->status_of("team/app");
    ASSERT_TRUE(status);
    EXPECT_EQ(status->summary, "dev=1.0.0 prod=old");
    EXPECT_TRUE(fs::exists(dir.path() / "state/status/team.app.json"));

    // A new runner (a restart) reads status from the state dir: nothing is committed again.
    r.reset();
    write_app("  annotations:\n    poetryops.io/approve.prod: \"" + d1 + "\"\n");
    auto r2 = runner();
    pass = r2->run_until_settled();
    ASSERT_TRUE(pass) << pass.error().message;
    EXPECT_EQ(pass->commits, 1u);  // prod, approved
    EXPECT_EQ(remote_file("envs/prod/values.yaml"),
              "image:\n  repository: registry.local/team/app\n  tag: 1.0.0@" + d1 + "\n");
    auto log = run_process(
        {"git", "--git-dir", (dir.path() / "deploy.git").string(), "log", "--format=%s%n%b"});
    ASSERT_TRUE(log);
    EXPECT_NE(log->out.find("Poetryops-Promotion: team/app/prod/" + d1), std::string::npos);
    EXPECT_NE(log->out.find("Poetryops-Promotion: team/app/dev/" + d1), std::string::npos);
}

TEST_F(LocalModeTest, MalformedFileNamesTheFileAndFieldAndDoesNothing) {
    ASSERT_TRUE(write_file_atomic(
        dir.path() / "apps/bad.yaml",
        "apiVersion: poetryops.io/v1alpha1\nkind: PoetryApp\nmetadata: {name: bad}\n"
        "spec:\n  image: {repository: registry.local/team/bad}\n"
        "  gitops: {repoURL: \"file:///nowhere\"}\n"
        "  environments:\n  - {name: dev, path: envs/dev}\n"
        "  - {name: prod, path: envs/prod, promotion: {from: qa}}\n"));
    auto r = runner();
    auto pass = r->run_pass();
    ASSERT_FALSE(pass);
    EXPECT_NE(pass.error().message.find("bad.yaml"), std::string::npos) << pass.error().message;
    EXPECT_NE(pass.error().message.find("spec.environments[1].promotion.from"), std::string::npos)
        << pass.error().message;
    EXPECT_EQ(remote_file("envs/dev/kustomization.yaml").find("digest"), std::string::npos);
}

TEST_F(LocalModeTest, MissingRegistryImageIsNothingToDo) {
    auto r = runner();
    auto pass = r->run_until_settled();
    ASSERT_TRUE(pass) << pass.error().message;
    EXPECT_EQ(pass->commits, 0u);
}

TEST(Demo, WalksPromotionsHoldReleaseAndRollbackInARealRepo) {
    TempDir dir("poetryops-demo-test");
    std::ostringstream out;
    auto r = run_demo(DemoOptions{dir.path() / "work"}, out);
    ASSERT_TRUE(r) << r.error().message << "\n" << out.str();
    std::string text = out.str();
    for (const char* expected :
         {"Promoted", "! Held", "HoldReleased", "RolledBack", "dev=1.2.0 staging=1.2.0 prod=1.0.0",
          "Pin staging to 1.0.0 while we debug"}) {
        EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
    }
    // The repos stay for inspection with --workdir, and every promotion carries its trailer.
    auto log = run_process(
        {"git", "--git-dir", (dir.path() / "work/gitops.git").string(), "log", "--format=%B"});
    ASSERT_TRUE(log);
    std::size_t trailers = 0;
    for (auto p = log->out.find("Poetryops-Promotion: demo/hello/"); p != std::string::npos;
         p = log->out.find("Poetryops-Promotion: demo/hello/", p + 1))
        ++trailers;
    EXPECT_EQ(trailers, 9u);
    // A non-empty workdir is refused rather than mixed into.
    std::ostringstream again;
    auto refused = run_demo(DemoOptions{dir.path() / "work"}, again);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("not empty"), std::string::npos);
}

}  // namespace
}  // namespace poetryops::controller

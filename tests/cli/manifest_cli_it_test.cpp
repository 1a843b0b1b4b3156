// `poetryops manifest ...` run as a real process: exit codes, output and files.
#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>

#include <gtest/gtest.h>

#include <filesystem>

namespace poetryops {
namespace {
namespace fs = std::filesystem;

const std::string kDigest = "sha256:" + std::string(64, 'c');
const std::string kKustomization =
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\n# images below\nimages:\n"
    "- name: ghcr.io/acme/billing\n  newTag: 1.0.0\n";

ProcessResult run(const std::vector<std::string>& args) {
    std::vector<std::string> argv{POETRYOPS_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions o;
    o.timeout = std::chrono::seconds(30);
    auto r = run_process(argv, o);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : ProcessResult{};
}

class ManifestCli : public ::testing::Test {
protected:
    void SetUp() override {
        fs::create_directories(dir.path() / "envs" / "dev");
        ASSERT_TRUE(write_file_atomic(file(), kKustomization));
    }
    fs::path file() const { return dir.path() / "envs" / "dev" / "kustomization.yaml"; }
    std::string text() const { return *read_file(file()); }
    TempDir dir;
};

TEST_F(ManifestCli, SetImageChangesThenReportsUnchangedWithExitZero) {
    auto first = run({"manifest", "set-image", (dir.path() / "envs").string(),
                      "ghcr.io/acme/billing:1.1.0@" + kDigest});
    EXPECT_EQ(first.exit_code, 0) << first.err;
    EXPECT_EQ(text(),
              "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\n# images "
              "below\nimages:\n"
              "- name: ghcr.io/acme/billing\n  newTag: 1.1.0\n  digest: " +
                  kDigest + "\n");
    EXPECT_NE(first.out.find("kustomization.yaml:7: images[0].newTag: 1.0.0 -> 1.1.0"),
              std::string::npos)
        << first.out;
    auto second = run({"manifest", "set-image", (dir.path() / "envs").string(),
                       "ghcr.io/acme/billing:1.1.0@" + kDigest});
    EXPECT_EQ(second.exit_code, 0);
    EXPECT_NE(second.err.find("unchanged"), std::string::npos) << second.err;
}

TEST_F(ManifestCli, DryRunPrintsADiffAndWritesNothing) {
    auto r =
        run({"manifest", "set-image", "--dry-run", file().string(), "ghcr.io/acme/billing:2.0.0"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("-  newTag: 1.0.0\n+  newTag: 2.0.0\n"), std::string::npos) << r.out;
    EXPECT_EQ(text(), kKustomization);
}

TEST_F(ManifestCli, NothingMatchedExitsOne) {
    ASSERT_TRUE(write_file_atomic(
        file(), "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: other:1\n"));
    auto r =
        run({"manifest", "set-image", "--kind", "yaml", file().string(), "ghcr.io/acme/billing:2"});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("nothing under"), std::string::npos);
}

TEST_F(ManifestCli, RefusalsExitTwoNamingFileAndLine) {
    ASSERT_TRUE(write_file_atomic(file(), "images: [oops\n"));
    auto bad_yaml = run({"manifest", "set-image", file().string(), "ghcr.io/acme/billing:2"});
    EXPECT_EQ(bad_yaml.exit_code, 2);
    EXPECT_NE(bad_yaml.err.find("kustomization.yaml: line "), std::string::npos) << bad_yaml.err;
    EXPECT_EQ(text(), "images: [oops\n");

    auto bad_ref = run({"manifest", "set-image", file().string(), "Billing:2"});
    EXPECT_EQ(bad_ref.exit_code, 2);
    EXPECT_NE(bad_ref.err.find("lower-case"), std::string::npos) << bad_ref.err;

    auto missing = run({"manifest", "set-image", (dir.path() / "nope").string(), "app:2"});
    EXPECT_EQ(missing.exit_code, 2);
    EXPECT_NE(missing.err.find("no such file"), std::string::npos) << missing.err;

    TempDir outside;
    ASSERT_TRUE(write_file_atomic(outside.path() / "x.yaml", kKustomization));
    fs::create_symlink(outside.path() / "x.yaml", dir.path() / "envs" / "escape.yaml");
    auto escape =
        run({"manifest", "set-image", (dir.path() / "envs").string(), "ghcr.io/acme/billing:9"});
    EXPECT_EQ(escape.exit_code, 2);
    EXPECT_NE(escape.err.find("escape.yaml"), std::string::npos) << escape.err;
    EXPECT_EQ(*read_file(outside.path() / "x.yaml"), kKustomization);
}

TEST_F(ManifestCli, HelmPathsAndWeights) {
    fs::path values = dir.path() / "values.yaml";
    ASSERT_TRUE(write_file_atomic(
        values, "app:\n  image:\n    repo: ghcr.io/acme/billing\n    version: \"1\"\n"));
    auto r = run({"manifest", "set-image", "--kind", "helm", "--tag-path", "app.image.version",
                  "--digest-path", "", "--repository-path", "app.image.repo", values.string(),
                  "ghcr.io/acme/billing:2"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(*read_file(values),
              "app:\n  image:\n    repo: ghcr.io/acme/billing\n    version: \"2\"\n");

    fs::path route = dir.path() / "route.yaml";
    ASSERT_TRUE(write_file_atomic(
        route,
        "kind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules:\n  - backendRefs:\n"
        "    - {name: stable, weight: 100}\n    - {name: canary, weight: 0}\n"));
    auto w = run({"manifest", "set-weights", "--kind", "gateway-api", route.string(), "stable=95",
                  "canary=5"});
    EXPECT_EQ(w.exit_code, 0) << w.err;
    EXPECT_EQ(*read_file(route),
              "kind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules:\n  - backendRefs:\n"
              "    - {name: stable, weight: 95}\n    - {name: canary, weight: 5}\n");
    auto bad =
        run({"manifest", "set-weights", "--kind", "gateway-api", route.string(), "stable=x"});
    EXPECT_EQ(bad.exit_code, 2);
}

}  // namespace
}  // namespace poetryops

// The file/folder layer: walking, root checks, all-or-nothing writes, dry runs and diffs.
#include <poetryops/manifest/files.hpp>

#include <poetryops/util/fs.hpp>

#include <gtest/gtest.h>

#include <filesystem>

namespace poetryops::manifest {
namespace {
namespace fs = std::filesystem;

const std::string kPod =
    "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: app:1  # main\n";

std::string slurp(const fs::path& p) { return *read_file(p); }

void put(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    ASSERT_TRUE(write_file_atomic(p, text));
}

SetImageRequest req(const std::string& arg) { return *parse_set_image_arg(arg); }

TEST(Files, WalksYamlFilesAndReportsEachOutcome) {
    TempDir dir;
    put(dir.path() / "a.yaml", kPod);
    put(dir.path() / "sub" / "b.yml", kPod);
    put(dir.path() / "sub" / "c.yaml",
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: app:2\n");
    put(dir.path() / "notes.txt", "image: app:1\n");
    put(dir.path() / ".git" / "x.yaml", kPod);
    auto r = set_image_in_path(dir.path(), req("app:2"));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->changed_files(), 2u);
    EXPECT_EQ(r->matched_files(), 3u);
    EXPECT_EQ(slurp(dir.path() / "a.yaml"),
              "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: app:2  # main\n");
    EXPECT_EQ(slurp(dir.path() / "notes.txt"), "image: app:1\n");
    EXPECT_EQ(slurp(dir.path() / ".git" / "x.yaml"), kPod);
    bool reported_hidden = false;
    for (const auto& f : r->files) {
        reported_hidden = reported_hidden ||
                          (f.status == FileOutcome::Status::skipped && f.reason == "hidden folder");
    }
    EXPECT_TRUE(reported_hidden);
}

TEST(Files, DryRunWritesNothingAndDiffsOneLine) {
    TempDir dir;
    put(dir.path() / "a.yaml", kPod);
    PathOptions o;
    o.dry_run = true;
    auto r = set_image_in_path(dir.path() / "a.yaml", req("app:2"), o);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(slurp(dir.path() / "a.yaml"), kPod);
    ASSERT_EQ(r->files.size(), 1u);
    const std::string& d = r->files[0].diff;
    EXPECT_NE(d.find("@@ -2,4 +2,4 @@\n kind: Pod\n spec:\n   containers:\n-  - image: app:1  # "
                     "main\n+  - image: app:2  # main\n"),
              std::string::npos)
        << d;
}

TEST(Files, RefusalAnywhereLeavesEveryFileUntouched) {
    TempDir dir;
    put(dir.path() / "a.yaml", kPod);
    put(dir.path() / "b.yaml", "a: [broken\n");
    auto r = set_image_in_path(dir.path(), req("app:2"));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("b.yaml: line"), std::string::npos) << r.error().message;
    EXPECT_EQ(slurp(dir.path() / "a.yaml"), kPod);
}

TEST(Files, SymlinkOutsideTheRootIsRefused) {
    TempDir outside;
    TempDir dir;
    put(outside.path() / "secret.yaml", kPod);
    put(dir.path() / "a.yaml", kPod);
    fs::create_symlink(outside.path() / "secret.yaml", dir.path() / "link.yaml");
    auto r = set_image_in_path(dir.path(), req("app:2"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, "PathEscape");
    EXPECT_NE(r.error().message.find("link.yaml"), std::string::npos);
    EXPECT_EQ(slurp(outside.path() / "secret.yaml"), kPod);
    EXPECT_EQ(slurp(dir.path() / "a.yaml"), kPod);
    // A `..` path that leaves the given root.
    PathOptions o;
    o.root = dir.path();
    auto up = set_image_in_path(dir.path() / ".." / outside.path().filename() / "secret.yaml",
                                req("app:2"), o);
    ASSERT_FALSE(up);
    EXPECT_EQ(up.error().reason, "PathEscape");
}

TEST(Files, SymlinkInsideTheRootEditsTheTargetAndKeepsTheLink) {
    TempDir dir;
    put(dir.path() / "real" / "a.yaml", kPod);
    fs::create_symlink(dir.path() / "real" / "a.yaml", dir.path() / "link.yaml");
    auto r = set_image_in_path(dir.path(), req("app:2"));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(fs::is_symlink(dir.path() / "link.yaml"));
    EXPECT_EQ(r->changed_files(), 1u);  // reached twice, edited once
    EXPECT_NE(slurp(dir.path() / "real" / "a.yaml").find("app:2"), std::string::npos);
}

TEST(Files, MissingPathIsNotFound) {
    auto r = set_image_in_path("/nonexistent/poetryops/x.yaml", req("app:2"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::not_found);
}

TEST(Diff, MarksAMissingFinalNewline) {
    std::string d = unified_diff("a\nb", "a\nc", "f.yaml");
    EXPECT_EQ(d,
              "--- a/f.yaml\n+++ b/f.yaml\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of "
              "file\n+c\n\\ No newline at end of file\n");
    EXPECT_EQ(unified_diff("same\n", "same\n", "f"), "");
}

}  // namespace
}  // namespace poetryops::manifest

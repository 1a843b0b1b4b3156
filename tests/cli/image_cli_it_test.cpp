// `poetryops image ...` run as a real process: the exit-code policy (not found is 1, an unreachable
// registry is a runtime failure, 1; bad input is 2), the one stderr line, and the flag spellings
// shared with `run` and `controller` (the old ones hidden but working).
#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>

#include <support/support.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

namespace poetryops {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

ProcessResult run(const std::vector<std::string>& args) {
    std::vector<std::string> argv{POETRYOPS_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions o;
    o.timeout = std::chrono::seconds(60);
    auto r = run_process(argv, o);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : ProcessResult{};
}

long lines(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }

/// An OCI image layout with no images in it.
fs::path empty_layout(const TempDir& dir) {
    fs::path layout = dir.path() / "layout";
    fs::create_directories(layout / "blobs" / "sha256");
    EXPECT_TRUE(write_file_atomic(layout / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
    EXPECT_TRUE(write_file_atomic(layout / "index.json", R"({"schemaVersion":2,"manifests":[]})"));
    return layout;
}

TEST(ImageCli, ATagTheLayoutDoesNotHaveIsNotFoundExit1) {
    TempDir dir;
    auto layout = empty_layout(dir);
    auto r = run({"image", "resolve", "oci:" + layout.string() + ":1.0.0"});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_THAT(r.err, StartsWith("poetryops image resolve: "));
    EXPECT_THAT(r.err, HasSubstr("1.0.0"));
    EXPECT_EQ(lines(r.err), 1) << r.err;
}

TEST(ImageCli, BadInputIsExit2WithOneLine) {
    auto bad_ref = run({"image", "resolve", "Registry.Example.com/UPPER/case:1"});
    EXPECT_EQ(bad_ref.exit_code, 2) << bad_ref.err;
    EXPECT_THAT(bad_ref.err, StartsWith("poetryops image resolve: "));
    EXPECT_EQ(lines(bad_ref.err), 1) << bad_ref.err;

    auto no_config = run({"image", "tags", "--registry-config", "/nonexistent/config.json",
                          "registry.example.com/acme/billing"});
    EXPECT_EQ(no_config.exit_code, 2) << no_config.err;
    EXPECT_THAT(no_config.err, HasSubstr("/nonexistent/config.json"));

    auto bad_flag = run({"image", "resolve", "--format", "yaml", "registry.example.com/a:1"});
    EXPECT_EQ(bad_flag.exit_code, 2) << bad_flag.err;
    EXPECT_THAT(bad_flag.err, StartsWith("poetryops image resolve: "));
    EXPECT_EQ(lines(bad_flag.err), 1) << bad_flag.err;
}

TEST(ImageCli, AnUnreachableRegistryIsARuntimeFailureExit1) {
    std::string host = "127.0.0.1:" + std::to_string(test::free_port());
    auto r = run({"image", "resolve", "--plain-http", host + "/acme/billing:1.0.0"});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_THAT(r.err, StartsWith("poetryops image resolve: "));
    EXPECT_THAT(r.err, HasSubstr(host));
    EXPECT_EQ(lines(r.err), 1) << r.err;
}

TEST(ImageCli, FlagsAreSpelledAsInRunAndTheOldSpellingsStillWork) {
    TempDir dir;
    auto layout = empty_layout(dir);
    auto ca = dir.path() / "ca.pem";
    ASSERT_TRUE(write_file_atomic(ca, "not used: the layout is read, no registry is contacted\n"));
    for (const std::vector<std::string>& flags :
         {std::vector<std::string>{"--registry-layout", layout.string(), "--format", "json",
                                   "--registry-ca-file", ca.string()},
          std::vector<std::string>{"--layout", layout.string(), "--output", "json", "--ca-file",
                                   ca.string()},
          std::vector<std::string>{"--layout", layout.string(), "-o", "json"}}) {
        std::vector<std::string> args{"image", "tags"};
        args.insert(args.end(), flags.begin(), flags.end());
        args.push_back("registry.example.com/acme/billing");
        auto r = run(args);
        // The repository is not in the layout: nothing found, whichever spelling was used.
        EXPECT_EQ(r.exit_code, 1) << flags[0] << ": " << r.err;
        EXPECT_THAT(r.err, StartsWith("poetryops image tags: ")) << flags[0];
    }
    auto help = run({"image", "resolve", "--help"});
    for (const char* shown : {"--registry-layout", "--registry-ca-file", "--format"})
        EXPECT_THAT(help.out, HasSubstr(shown));
    for (const char* hidden : {"--layout", "--ca-file", "--output", "-o,"})
        EXPECT_EQ(help.out.find(std::string(hidden) + " "), std::string::npos) << hidden;
}

}  // namespace
}  // namespace poetryops

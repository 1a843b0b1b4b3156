// `poetryops run` (local mode) as a user starts it: bad input at start is exit 2 with one line, at
// once — not the same error logged every few seconds forever.
#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>
#include <support/support.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

using namespace poetryops;

namespace {

ProcessResult run_poetryops(const std::vector<std::string>& args) {
    std::vector<std::string> argv{std::string(POETRYOPS_BIN)};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions o;
    o.timeout = std::chrono::seconds(20);
    auto r = run_process(argv, o);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : ProcessResult{};
}

std::size_t lines(const std::string& s) {
    return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

}  // namespace

TEST(RunCommand, AMissingInputAtStartExits2AtOnceWithOneLine) {
    TempDir dir("run-cmd");
    auto r = run_poetryops(
        {"run", "-f", "/nonexistent/apps.yaml", "--state", (dir.path() / "state").string()});
    EXPECT_FALSE(r.timed_out) << "it must not keep retrying: " << r.err;
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_THAT(r.err, testing::HasSubstr("/nonexistent/apps.yaml"));
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_LT(r.elapsed, std::chrono::seconds(5));
}

TEST(RunCommand, AnInvalidSpecAtStartExits2NamingTheFieldAndLine) {
    TempDir dir("run-cmd");
    auto file = dir.path() / "apps.yaml";
    ASSERT_TRUE(write_file_atomic(
        file,
        "apiVersion: poetryops.io/v1alpha1\nkind: PoetryApp\nmetadata:\n  name: a\n"
        "spec:\n  image: {repository: registry.example.com/a}\n"
        "  gitops: {repoURL: 'https://git.example.com/d.git'}\n"
        "  environments:\n  - {name: dev, path: ../outside}\n"));
    auto r =
        run_poetryops({"run", "-f", file.string(), "--state", (dir.path() / "state").string()});
    EXPECT_FALSE(r.timed_out) << r.err;
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_THAT(r.err, testing::HasSubstr("apps.yaml:9"));
    EXPECT_THAT(r.err, testing::HasSubstr("spec.environments[0].path"));
    EXPECT_EQ(lines(r.err), 1u) << r.err;
}

TEST(RunCommand, RegistryCaFileIsSpelledAsInControllerAndTheOldSpellingStillWorks) {
    TempDir dir("run-cmd");
    for (const char* flag : {"--registry-ca-file", "--ca-file"}) {
        auto r = run_poetryops({"run", "-f", dir.path().string(), "--state",
                                (dir.path() / "state").string(), "--once", flag, "no-equals-sign"});
        EXPECT_EQ(r.exit_code, 2) << flag << ": " << r.err;
        EXPECT_THAT(r.err,
                    testing::HasSubstr("--registry-ca-file no-equals-sign: expected HOST=FILE"))
            << flag;
    }
    auto help = run_poetryops({"run", "--help"});
    EXPECT_THAT(help.out, testing::HasSubstr("--registry-ca-file"));
    EXPECT_EQ(help.out.find("--ca-file"), std::string::npos) << "the old spelling is hidden";
}

// `poetryops run` (local mode) as a user starts it: bad input at start is exit 2 with one line, at
// once — not the same error logged every few seconds forever.
#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>
#include <support/support.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

using namespace poetryops;
namespace fs = std::filesystem;

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

TEST(RunCommand, ARegistryWithoutTlsIsNamedAtStart) {
    TempDir dir("run-cmd");
    std::filesystem::create_directories(dir.path() / "apps");
    auto r = run_poetryops({"run", "-f", (dir.path() / "apps").string(), "--state",
                            (dir.path() / "state").string(), "--once", "--plain-http",
                            "registry.local:5000"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.err, testing::HasSubstr("registry reached over plain HTTP"));
    EXPECT_THAT(r.err, testing::HasSubstr("registry.local:5000"));
    auto tls = run_poetryops({"run", "-f", (dir.path() / "apps").string(), "--state",
                              (dir.path() / "state").string(), "--once"});
    EXPECT_EQ(tls.err.find("plain HTTP"), std::string::npos) << "nothing to say when TLS is on";
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

namespace {

/// The id of a process that has exited (and been reaped): a killed `poetryops run`.
long dead_pid() {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    ::waitpid(pid, nullptr, 0);
    return static_cast<long>(pid);
}

}  // namespace

// What a killed `poetryops run` left (its git private folder in $TMPDIR, a half-written status
// file, a loose object being written) is removed at the next start; what a live process owns, and
// names without a pid, stay.
TEST(RunCommand, AtStartItRemovesTheTempFilesOfKilledRunsOnly) {
    TempDir dir("run-cmd");
    const fs::path tmp = dir.path() / "tmp", state = dir.path() / "state";
    const std::string dead = std::to_string(dead_pid()), live = std::to_string(::getpid());
    const fs::path objects = state / "git-cache/deploy-1234.git/objects/ab";
    for (const fs::path& d :
         {tmp / ("poetryops-git-" + dead + "-Ab12Cd"), tmp / ("poetryops-git-" + live + "-Ef34Gh"),
          tmp / "poetryops-git-Ij56Kl", state / "status", objects, dir.path() / "apps"}) {
        fs::create_directories(d);
    }
    ASSERT_TRUE(
        write_file_atomic(tmp / ("poetryops-git-" + dead + "-Ab12Cd/askpass"), "#!/bin/sh\n"));
    const std::vector<fs::path> stale = {
        tmp / ("poetryops-git-" + dead + "-Ab12Cd"),
        state / "status" / (".team.app.json.tmp-" + dead + "-Mn78Op"),
        objects / ("tmp_obj_" + dead + "-Qr90St")};
    const std::vector<fs::path> kept = {
        tmp / ("poetryops-git-" + live + "-Ef34Gh"), tmp / "poetryops-git-Ij56Kl",
        state / "status" / (".team.app.json.tmp-" + live + "-Uv12Wx"),
        state / "status" / ".team.app.json.tmp-Yz34Ab", objects / ("tmp_obj_" + live + "-Cd56Ef")};
    for (const auto& f : {stale[1], stale[2], kept[2], kept[3], kept[4]})
        ASSERT_TRUE(write_file_atomic(f, "half"));

    std::vector<std::string> argv{std::string(POETRYOPS_BIN),
                                  "run",
                                  "-f",
                                  (dir.path() / "apps").string(),
                                  "--state",
                                  state.string(),
                                  "--once"};
    ProcessOptions o;
    o.timeout = std::chrono::seconds(20);
    o.env = {{"TMPDIR", tmp.string()}};
    auto r = run_process(argv, o);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->exit_code, 0) << r->err;
    for (const auto& f : stale) EXPECT_FALSE(fs::exists(f)) << f;
    for (const auto& f : kept) EXPECT_TRUE(fs::exists(f)) << f;
    // Its own private folder is gone when it ends: the two kept ones are all that is left.
    auto left = std::distance(fs::directory_iterator(tmp), fs::directory_iterator());
    EXPECT_EQ(left, 2);
}

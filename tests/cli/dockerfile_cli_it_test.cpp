// `poetryops dockerfile generate|lint` run as a user would: the built binary, real files, exit
// codes.
#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>

#include <support/support.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

namespace poetryops {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

ProcessResult run(std::vector<std::string> args, const std::string& cwd = {},
                  std::optional<std::string> in = {}) {
    std::vector<std::string> argv{POETRYOPS_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions o;
    o.cwd = cwd;
    o.stdin_data = std::move(in);
    o.timeout = std::chrono::seconds(60);
    auto r = run_process(argv, o);
    EXPECT_TRUE(r.has_value());
    return r ? *r : ProcessResult{};
}

/// A copy of examples/hello in a temp dir (the test may write into it).
fs::path copy_example(const TempDir& tmp) {
    fs::path dst = tmp.path() / "hello";
    fs::copy(test::source_dir() / "examples/hello", dst, fs::copy_options::recursive);
    return dst;
}

std::string slurp(const fs::path& p) {
    auto r = read_file(p);
    return r ? *r : "<missing>";
}

int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

TEST(DockerfileCli, GenerateWritesBothFilesDeterministicallyAndTheyLintClean) {
    TempDir tmp;
    fs::path project = copy_example(tmp);
    auto r = run({"dockerfile", "generate", project.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string first = slurp(project / "Dockerfile");
    EXPECT_THAT(first, HasSubstr("CMD [\"hello\"]"));
    EXPECT_THAT(slurp(project / ".dockerignore"), HasSubstr("libs/devtool"));
    // Same input, same bytes; `-` prints the same Dockerfile.
    auto again = run(
        {"dockerfile", "generate", project.string(), "--output", (tmp.path() / "out").string()});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(slurp(tmp.path() / "out/Dockerfile"), first);
    auto printed = run({"dockerfile", "generate", project.string(), "--output", "-"});
    ASSERT_EQ(printed.exit_code, 0) << printed.err;
    EXPECT_EQ(printed.out, first);
    auto lint = run({"dockerfile", "lint", (project / "Dockerfile").string()});
    EXPECT_EQ(lint.exit_code, 0) << lint.out << lint.err;
    EXPECT_EQ(lint.out, "");
}

TEST(DockerfileCli, GenerateOptionsReachTheFile) {
    TempDir tmp;
    fs::path project = copy_example(tmp);
    auto r = run({"dockerfile", "generate", project.string(), "-o", "-", "--python", "3.13",
                  "--poetry", "preinstalled", "--uid", "4242", "--apt", "libpq5,curl", "--command",
                  "hello --port 'eighty eight'", "--runtime-image", "debian:bookworm-slim",
                  "--installer", "poetry"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("FROM python:3.13-slim AS build\n"));
    EXPECT_THAT(r.out, HasSubstr("FROM debian:bookworm-slim AS runtime\n"));
    EXPECT_THAT(r.out, HasSubstr("USER 4242:4242\n"));
    EXPECT_THAT(r.out, HasSubstr("--no-install-recommends curl libpq5 tini"));
    EXPECT_THAT(r.out, HasSubstr("CMD [\"hello\",\"--port\",\"eighty eight\"]\n"));
    EXPECT_THAT(
        r.out,
        HasSubstr("mkdir -p \"$d\""));  // Poetry of unknown age: stand-in for the dev path dep
}

TEST(DockerfileCli, MissingPyprojectIsExit2AndWritesNothing) {
    TempDir tmp;
    auto r = run({"dockerfile", "generate", tmp.path().string()});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_THAT(r.err, HasSubstr("pyproject.toml"));
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_FALSE(fs::exists(tmp.path() / "Dockerfile"));
}

TEST(DockerfileCli, MalformedPyprojectNamesFileAndLine) {
    TempDir tmp;
    fs::path project = copy_example(tmp);
    write_file_atomic(project / "pyproject.toml", "[tool.poetry]\nname = \"hello\"\nversion = \n")
        .value();
    auto r = run({"dockerfile", "generate", project.string()});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_THAT(r.err, HasSubstr("pyproject.toml"));
    EXPECT_THAT(r.err, HasSubstr("3"));
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_FALSE(fs::exists(project / "Dockerfile"));
}

TEST(DockerfileCli, BadOptionIsExit2) {
    TempDir tmp;
    fs::path project = copy_example(tmp);
    auto r = run({"dockerfile", "generate", project.string(), "--uid", "0"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_THAT(r.err, HasSubstr("--uid"));
    auto bad = run({"dockerfile", "generate", project.string(), "--installer", "pipenv"});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_FALSE(fs::exists(project / "Dockerfile"));
}

TEST(DockerfileCli, UnwritableOutputLeavesEverythingUntouched) {
    TempDir tmp;
    fs::path project = copy_example(tmp);
    // An output "dir" below a regular file cannot be created, even by root.
    write_file_atomic(tmp.path() / "plainfile", "x").value();
    auto r = run({"dockerfile", "generate", project.string(), "--output",
                  (tmp.path() / "plainfile/sub").string()});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_THAT(r.err, HasSubstr("plainfile/sub"));
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_EQ(slurp(tmp.path() / "plainfile"), "x");

    // Dockerfile cannot be replaced (a directory sits there): the existing .dockerignore is
    // untouched.
    fs::path out1 = tmp.path() / "out1";
    fs::create_directories(out1 / "Dockerfile");
    write_file_atomic(out1 / ".dockerignore", "mine\n").value();
    EXPECT_EQ(run({"dockerfile", "generate", project.string(), "-o", out1.string()}).exit_code, 2);
    EXPECT_EQ(slurp(out1 / ".dockerignore"), "mine\n");

    // .dockerignore cannot be replaced: the Dockerfile written first is rolled back to what it was.
    fs::path out2 = tmp.path() / "out2";
    fs::create_directories(out2 / ".dockerignore");
    write_file_atomic(out2 / "Dockerfile", "FROM old:1\n").value();
    auto r2 = run({"dockerfile", "generate", project.string(), "-o", out2.string()});
    EXPECT_EQ(r2.exit_code, 2);
    EXPECT_THAT(r2.err, HasSubstr(".dockerignore"));
    EXPECT_EQ(slurp(out2 / "Dockerfile"), "FROM old:1\n");
    for (const auto& e : fs::directory_iterator(out2)) {
        EXPECT_TRUE(e.path().filename() == "Dockerfile" || e.path().filename() == ".dockerignore")
            << e.path();
    }
}

TEST(DockerfileCli, LintSeedReportsFindingsWithExit1) {
    fs::path seed = test::source_dir() / "tests/dockerfile/testdata/seed000-first/Dockerfile";
    auto r = run({"dockerfile", "lint", seed.string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.out, StartsWith(seed.string() + ":1: "));
    EXPECT_THAT(r.out, HasSubstr(seed.string() + ":2: multi-stage: "));
    EXPECT_THAT(r.out, HasSubstr(seed.string() + ":6: no-dev-deps: "));
    EXPECT_THAT(r.out, HasSubstr(seed.string() + ":7: venv-on-path: "));
    auto j = run({"dockerfile", "lint", "--format", "json", seed.string()});
    EXPECT_EQ(j.exit_code, 1);
    auto doc = nlohmann::json::parse(j.out);
    EXPECT_EQ(doc["summary"]["findings"].get<int>(), lines(r.out));
}

TEST(DockerfileCli, LintBadInputIsExit2) {
    TempDir tmp;
    auto missing = run({"dockerfile", "lint", (tmp.path() / "Dockerfile").string()});
    EXPECT_EQ(missing.exit_code, 2);
    EXPECT_THAT(missing.err, HasSubstr("no such file"));
    write_file_atomic(tmp.path() / "Dockerfile", "FROM a:1\nRUN <<EOF\necho\n").value();
    auto broken = run({"dockerfile", "lint", "Dockerfile"}, tmp.path().string());
    EXPECT_EQ(broken.exit_code, 2);
    EXPECT_THAT(broken.err, HasSubstr("Dockerfile:2: heredoc <<EOF is never closed"));
    EXPECT_EQ(lines(broken.err), 1) << broken.err;
    auto json = run({"dockerfile", "lint", "--format", "json", "Dockerfile"}, tmp.path().string());
    EXPECT_EQ(json.exit_code, 2);
    EXPECT_EQ(nlohmann::json::parse(json.out)["errors"].size(), 1u);
}

TEST(DockerfileCli, LintStdinSaysWhatItCannotCheck) {
    auto r = run({"dockerfile", "lint", "-"}, {},
                 std::string("FROM python:3.12-slim\nCOPY . /app\nUSER 1:1\n"));
    EXPECT_EQ(r.exit_code, 1);  // env-python and non-root --chown findings
    EXPECT_THAT(r.out, HasSubstr("-:2: non-root:"));
    EXPECT_THAT(r.err, HasSubstr("dockerignore not fully checked"));
}

// stdin is capped as a file is (4 MiB), and an error about a line quotes a short excerpt of it,
// never the line: 128 MiB of NUL bytes once took 30 s, 647 MB and wrote a 134 MB error line.
TEST(DockerfileCli, LintStdinIsCappedAndErrorsQuoteAShortExcerpt) {
    auto big = run({"dockerfile", "lint", "-"}, {}, std::string(5 * 1024 * 1024, '\0'));
    EXPECT_EQ(big.exit_code, 2);
    EXPECT_THAT(big.err, HasSubstr("-: stdin is larger than the limit of 4194304 bytes"));
    EXPECT_EQ(lines(big.err), 1) << big.err.substr(0, 300);
    EXPECT_LT(big.err.size(), 200u);

    // Under the cap, one line of 3 MiB NUL bytes: an unknown instruction, named by an excerpt.
    auto nuls = run({"dockerfile", "lint", "-"}, {}, std::string(3 * 1024 * 1024, '\0'));
    EXPECT_EQ(nuls.exit_code, 2);
    EXPECT_THAT(nuls.err, HasSubstr("-:1: unknown instruction '\\x00\\x00"));
    EXPECT_THAT(nuls.err, HasSubstr("…'"));
    EXPECT_EQ(lines(nuls.err), 1);
    EXPECT_LT(nuls.err.size(), 200u) << nuls.err.substr(0, 300);

    auto from =
        run({"dockerfile", "lint", "-"}, {}, "FROM " + std::string(1024 * 1024, 'a') + " b c d\n");
    EXPECT_EQ(from.exit_code, 2);
    EXPECT_THAT(from.err, HasSubstr("FROM expects 'IMAGE [AS NAME]', got 'aaaa"));
    EXPECT_LT(from.err.size(), 200u) << from.err.substr(0, 300);
}

}  // namespace
}  // namespace poetryops

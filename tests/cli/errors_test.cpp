// The CLI's one error printer and exit-code policy (cli/errors.hpp).
#include <poetryops/cli/errors.hpp>

#include <poetryops/cli/commands.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <sstream>
#include <vector>

namespace poetryops::cli {
namespace {

/// Captures what is written to std::cerr while it lives.
class CaptureStderr {
public:
    CaptureStderr() : old_(std::cerr.rdbuf(buffer_.rdbuf())) {}
    ~CaptureStderr() { std::cerr.rdbuf(old_); }
    std::string text() const { return buffer_.str(); }

private:
    std::ostringstream buffer_;
    std::streambuf* old_;
};

TEST(CliExit, CodesAreTheDocumentedOnes) {
    EXPECT_EQ(to_int(Exit::ok), 0);
    EXPECT_EQ(to_int(Exit::findings), 1);
    EXPECT_EQ(to_int(Exit::failure), 1);
    EXPECT_EQ(to_int(Exit::bad_input), 2);
}

TEST(CliExit, PolicyByErrorKind) {
    using K = Error::Kind;
    for (K k : {K::decode, K::invalid, K::not_found, K::conflict, K::unauthorized}) {
        EXPECT_EQ(exit_for(Error::make(k, "x")), Exit::bad_input) << to_string(k);
    }
    for (K k : {K::transport, K::timeout, K::http, K::gone, K::internal}) {
        EXPECT_EQ(exit_for(Error::make(k, "x")), Exit::failure) << to_string(k);
    }
}

TEST(CliReport, OneRedactedLineNamingTheCommand) {
    CaptureStderr err;
    Exit code = report("image resolve",
                       Error::make(Error::Kind::transport,
                                   "fetch https://bob:hunter2@registry.example.com/v2/: refused\n"
                                   "second line"));
    EXPECT_EQ(code, Exit::failure);
    std::string text = err.text();
    EXPECT_THAT(text, testing::StartsWith("poetryops image resolve: fetch https://"));
    EXPECT_THAT(text, testing::HasSubstr("registry.example.com/v2/: refused second line"));
    EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
}

TEST(CliReport, TheCallerMayKnowTheCodeBetter) {
    CaptureStderr err;
    EXPECT_EQ(report("image tags", Error::make(Error::Kind::not_found, "no such repository"),
                     Exit::findings),
              Exit::findings);
    EXPECT_EQ(report_bad_input("run", "--registry-ca-file x: expected HOST=FILE"), Exit::bad_input);
    EXPECT_EQ(err.text(),
              "poetryops image tags: no such repository\n"
              "poetryops run: --registry-ca-file x: expected HOST=FILE\n");
}

TEST(CliCommandLine, ParseErrorsAreOneBadInputLineNamingTheSubcommand) {
    CLI::App app{"test"};
    Context ctx;
    int value = 0;
    auto* sub = app.add_subcommand("dockerfile")->add_subcommand("generate");
    sub->add_option("--uid", value);
    std::vector<std::string> args{"poetryops", "dockerfile", "generate", "--uid", "nope"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    CaptureStderr err;
    EXPECT_EQ(run_command_line(app, ctx, static_cast<int>(argv.size()), argv.data()), 2);
    std::string text = err.text();
    EXPECT_THAT(text, testing::StartsWith("poetryops dockerfile generate: "));
    EXPECT_THAT(text, testing::HasSubstr("--uid"));
    EXPECT_THAT(text, testing::HasSubstr("(see poetryops dockerfile generate --help)"));
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
}

}  // namespace
}  // namespace poetryops::cli

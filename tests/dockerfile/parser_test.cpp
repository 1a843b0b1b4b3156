#include <poetryops/dockerfile/parser.hpp>

#include <gtest/gtest.h>

namespace poetryops::dockerfile {
namespace {

Dockerfile must_parse(std::string_view text) {
    auto r = parse(text, "Dockerfile");
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    return r ? *r : Dockerfile{};
}

TEST(Parser, DirectivesOnlyAtTheTop) {
    auto df =
        must_parse("# syntax=docker/dockerfile:1\n# escape=`\nFROM x:1\n# check=skip=all\nRUN a\n");
    EXPECT_EQ(df.directives.at("syntax"), "docker/dockerfile:1");
    EXPECT_EQ(df.syntax_line, 1);
    EXPECT_EQ(df.escape, '`');
    EXPECT_EQ(df.directives.count("check"), 0u);  // after an instruction it is a comment
    ASSERT_EQ(df.comments.size(), 1u);
    EXPECT_EQ(df.comments[0].line, 4);
}

TEST(Parser, DirectiveAfterCommentIsAComment) {
    auto df = must_parse("# hello\n# syntax=docker/dockerfile:1\nFROM x:1\n");
    EXPECT_TRUE(df.directives.empty());
    EXPECT_EQ(df.syntax_line, 0);
}

TEST(Parser, RejectsBadEscapeAndDuplicateDirective) {
    auto r = parse("# escape=x\nFROM a:1\n", "D");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message.rfind("D:1: ", 0), 0u) << r.error().message;
    auto d = parse("# syntax=a\n# syntax=b\nFROM a:1\n", "D");
    ASSERT_FALSE(d);
    EXPECT_NE(d.error().message.find("D:2:"), std::string::npos);
}

TEST(Parser, ContinuationsJoinAndSkipCommentsAndBlankLines) {
    auto df = must_parse(
        "FROM a:1\nRUN apt-get update && \\\n# a comment inside\n\n    apt-get install -y x\nUSER "
        "1\n");
    ASSERT_EQ(df.instructions.size(), 3u);
    const auto& run = df.instructions[1];
    EXPECT_EQ(run.line, 2);
    EXPECT_EQ(run.end_line, 5);
    EXPECT_EQ(run.args, "apt-get update &&     apt-get install -y x");
    EXPECT_EQ(df.instructions[2].line, 6);
}

TEST(Parser, BacktickEscapeContinues) {
    auto df = must_parse("# escape=`\nFROM a:1\nRUN echo a `\n  b\n");
    ASSERT_EQ(df.instructions.size(), 2u);
    EXPECT_EQ(df.instructions[1].args, "echo a   b");
}

TEST(Parser, Heredocs) {
    auto df = must_parse(
        "FROM a:1\n"
        "RUN <<EOF\n"
        "set -e\n"
        "pip install x\n"
        "EOF\n"
        "COPY <<-\"CONF\" <<'TWO' /etc/\n"
        "\tkey=$value\n"
        "\tCONF\n"
        "second\n"
        "TWO\n"
        "USER 1\n");
    ASSERT_EQ(df.instructions.size(), 4u);
    const auto& run = df.instructions[1];
    ASSERT_EQ(run.heredocs.size(), 1u);
    EXPECT_EQ(run.heredocs[0].body, "set -e\npip install x\n");
    EXPECT_EQ(run.end_line, 5);
    const auto& copy = df.instructions[2];
    ASSERT_EQ(copy.heredocs.size(), 2u);
    EXPECT_TRUE(copy.heredocs[0].quoted);
    EXPECT_TRUE(copy.heredocs[0].strip_tabs);
    EXPECT_EQ(copy.heredocs[0].body, "key=$value\n");
    EXPECT_EQ(copy.heredocs[1].delimiter, "TWO");
    EXPECT_EQ(copy.heredocs[1].body, "second\n");
    EXPECT_EQ(df.instructions[3].line, 11);
    EXPECT_NE(run.command_text().find("pip install x"), std::string::npos);
}

TEST(Parser, HereStringIsNotAHeredoc) {
    auto df = must_parse("FROM a:1\nRUN cat <<<hello\nUSER 1\n");
    EXPECT_TRUE(df.instructions[1].heredocs.empty());
    EXPECT_EQ(df.instructions.size(), 3u);
}

TEST(Parser, UnclosedHeredocIsAnError) {
    auto r = parse("FROM a:1\nRUN <<EOF\necho hi\n", "D");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message.rfind("D:2: ", 0), 0u) << r.error().message;
    EXPECT_NE(r.error().message.find("EOF"), std::string::npos);
}

TEST(Parser, FlagsAndForms) {
    auto df = must_parse(
        "FROM --platform=$BUILDPLATFORM python:3.12-slim AS Build\n"
        "RUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=x poetry install\n"
        "COPY --from=build --chown=1:1 /a /b\n"
        "CMD [\"python\", \"-m\", \"app\"]\n"
        "ENTRYPOINT ['single', 'quotes']\n");
    EXPECT_EQ(df.stages[0].name, "build");
    EXPECT_EQ(df.instructions[0].flag("platform").value(), "$BUILDPLATFORM");
    EXPECT_EQ(df.instructions[1].flags_named("mount").size(), 2u);
    EXPECT_EQ(df.instructions[1].args, "poetry install");
    EXPECT_EQ(df.instructions[2].flag("chown").value(), "1:1");
    EXPECT_TRUE(df.instructions[3].exec_form);
    EXPECT_EQ(df.instructions[3].exec_args, (std::vector<std::string>{"python", "-m", "app"}));
    EXPECT_FALSE(df.instructions[4].exec_form);  // not JSON: Docker runs it through a shell
}

TEST(Parser, ArgBeforeFromAndStages) {
    auto df = must_parse(
        "ARG PY=3.12\n"
        "ARG VARIANT\n"
        "FROM python:${PY}-slim as build\n"
        "RUN true\n"
        "FROM BUILD AS test\n"
        "FROM python:$PY-slim\n"
        "COPY --from=0 /a /a\n");
    ASSERT_EQ(df.stages.size(), 3u);
    EXPECT_EQ(df.global_args.at("PY"), "3.12");
    EXPECT_EQ(df.stages[0].resolved_base, "python:3.12-slim");
    EXPECT_EQ(df.stages[1].parent, 0);  // stage names are case-insensitive
    EXPECT_EQ(df.stages[2].parent, -1);
    EXPECT_EQ(df.stages[2].resolved_base, "python:3.12-slim");
    EXPECT_EQ(df.instructions[0].stage, -1);
    EXPECT_EQ(df.instructions[3].stage, 0);
    EXPECT_EQ(df.find_stage("0", 2), 0);
    EXPECT_EQ(df.find_stage("test", 1), -1);  // only earlier stages
}

TEST(Parser, Errors) {
    struct Case {
        const char* text;
        const char* expect;
    };
    for (const Case& c :
         {Case{"FROM a:1\nFROOM b\n", "D:2: unknown instruction 'FROOM'"},
          Case{"RUN x\nFROM a:1\n", "D:1: RUN before the first FROM"},
          Case{"# only a comment\n", "no FROM instruction"},
          Case{"FROM a:1 AS\n", "D:1: FROM expects"},
          Case{"FROM a:1\nCOPY onlyone\n", "D:2: COPY needs a source and a destination"},
          Case{"FROM a:1\nRUN\n", "D:2: RUN has no arguments"}}) {
        auto r = parse(c.text, "D");
        ASSERT_FALSE(r) << c.text;
        EXPECT_NE(r.error().message.find(c.expect), std::string::npos) << r.error().message;
        EXPECT_EQ(r.error().kind, Error::Kind::decode);
    }
}

TEST(Parser, CrLfLinesAndLowerCaseKeywords) {
    auto df = must_parse("from a:1\r\nrun echo \\\r\n  hi\r\n");
    ASSERT_EQ(df.instructions.size(), 2u);
    EXPECT_EQ(df.instructions[1].keyword, "RUN");
    EXPECT_EQ(df.instructions[1].args, "echo   hi");
}

TEST(Words, QuotesEscapesAndSubstitutions) {
    EXPECT_EQ(split_words(R"x(a "b c" 'd e' f\ g X="$(cut -d: -f1 /x)")x"),
              (std::vector<std::string>{"a", "b c", "d e", "f g", "X=$(cut -d: -f1 /x)"}));
    std::map<std::string, std::string> vars{{"A", "1"}, {"E", ""}};
    EXPECT_EQ(substitute("x$A-${A}-${B:-def}-${E:-d2}-${A:+set}-$B.", vars), "x1-1-def-d2-set-.");
}

}  // namespace
}  // namespace poetryops::dockerfile

#include <poetryops/dockerfile/linter.hpp>

#include <support/support.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace poetryops::dockerfile {
namespace {

using ::testing::Contains;
using ::testing::IsEmpty;
using ::testing::Not;

// A Dockerfile that follows every rule; each test breaks one thing.
const std::string kGood = R"(# syntax=docker/dockerfile:1
FROM python:3.12-slim AS build
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 POETRY_NO_INTERACTION=1 POETRY_VIRTUALENVS_IN_PROJECT=true
RUN --mount=type=cache,target=/root/.cache/pip pip install "poetry==2.2.1"
WORKDIR /app
COPY pyproject.toml poetry.lock ./
RUN --mount=type=cache,target=/root/.cache/pypoetry poetry install --only main --no-root
COPY . .
RUN --mount=type=cache,target=/root/.cache/pypoetry poetry install --only main && python -m compileall -q src
FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PATH=/app/.venv/bin:$PATH
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build --chown=10001:10001 /app /app
USER 10001:10001
ENTRYPOINT ["tini", "--"]
CMD ["hello"]
)";
const std::string kGoodIgnore = ".git\n**/.venv\n**/__pycache__\n.env\n";

LintContext context(std::optional<std::string> ignore = kGoodIgnore) {
    LintContext c;
    c.file = "Dockerfile";
    c.dockerignore = std::move(ignore);
    c.dockerignore_known = true;
    return c;
}

/// "LINE:rule" for every finding.
std::vector<std::string> found(const std::string& text, const LintContext& ctx = context()) {
    auto r = lint(text, ctx);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    std::vector<std::string> out;
    if (!r) return out;
    for (const auto& f : r->findings) out.push_back(std::to_string(f.line) + ":" + f.rule);
    return out;
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
    auto pos = text.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    if (pos != std::string::npos) text.replace(pos, from.size(), to);
    return text;
}

TEST(Lint, GoodFileIsClean) { EXPECT_THAT(found(kGood), IsEmpty()); }

TEST(Lint, EveryRuleHasAnIdAndSummary) {
    EXPECT_EQ(rules().size(), 16u);
    for (const auto& r : rules()) {
        EXPECT_TRUE(is_rule(r.id));
        EXPECT_FALSE(r.summary.empty());
    }
    EXPECT_FALSE(is_rule("nope"));
}

TEST(Lint, VenvInProject) {
    auto t = replace(kGood, " POETRY_VIRTUALENVS_IN_PROJECT=true", "");
    EXPECT_THAT(found(t), Contains("7:venv-in-project"));
    // Set inline on the command, or via poetry.toml next to the Dockerfile: fine.
    auto inline_set =
        replace(t, "poetry install --only main --no-root",
                "POETRY_VIRTUALENVS_IN_PROJECT=true poetry install --only main --no-root");
    EXPECT_THAT(found(inline_set), Not(Contains("7:venv-in-project")));
    auto ctx = context();
    ctx.poetry_toml = "[virtualenvs]\nin-project = true\n";
    EXPECT_THAT(found(t, ctx), Not(Contains("7:venv-in-project")));
}

TEST(Lint, Dockerignore) {
    EXPECT_THAT(found(kGood, context(std::nullopt)), Contains("6:dockerignore"));
    auto partial = lint(kGood, context(std::string("/.venv\n/tests\n")));
    ASSERT_TRUE(partial);
    ASSERT_EQ(partial->findings.size(), 1u);
    EXPECT_EQ(partial->findings[0].message,
              ".dockerignore does not exclude .git, __pycache__, .env");
    // Negation re-includes; `.*` style globs cover.
    EXPECT_THAT(found(kGood, context(std::string(".*\n**/*.pyc\n!.venv\n"))),
                Contains("6:dockerignore"));
    EXPECT_THAT(found(kGood, context(std::string(".*\n**/*.pyc\n"))), IsEmpty());
    // Unknown location (stdin): said so, not guessed.
    LintContext unknown;
    auto r = lint(kGood, unknown);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->findings.empty());
    ASSERT_FALSE(r->not_checked.empty());
    EXPECT_EQ(r->not_checked[0].rule, "dockerignore");
}

TEST(Lint, NoDevDeps) {
    EXPECT_THAT(found(replace(kGood, "install --only main --no-root", "install --no-root")),
                Contains("7:no-dev-deps"));
    EXPECT_THAT(found(replace(kGood, "install --only main --no-root",
                              "install --without dev,test --no-root")),
                IsEmpty());
    EXPECT_THAT(
        found(replace(kGood, "install --only main --no-root", "install --only=main --no-root")),
        IsEmpty());
}

TEST(Lint, VenvOnPath) {
    EXPECT_THAT(found(replace(kGood, " PATH=/app/.venv/bin:$PATH", "")),
                Contains("17:venv-on-path"));
    EXPECT_THAT(found(replace(kGood, "CMD [\"hello\"]", "CMD [\"poetry\", \"run\", \"hello\"]")),
                Contains("17:venv-on-path"));
    auto venv_var = replace(kGood, " PATH=/app/.venv/bin:$PATH",
                            " VIRTUAL_ENV=/opt/venv PATH=$VIRTUAL_ENV/bin:$PATH");
    EXPECT_THAT(found(venv_var), IsEmpty());
}

TEST(Lint, MultiStage) {
    std::string single = R"(# syntax=docker/dockerfile:1
FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 POETRY_NO_INTERACTION=1 POETRY_VIRTUALENVS_IN_PROJECT=true PATH=/app/.venv/bin:$PATH
RUN --mount=type=cache,target=/root/.cache/pip pip install "poetry==2.2.1"
)";
    EXPECT_THAT(found(single), Contains("4:multi-stage"));
    EXPECT_THAT(found(kGood), Not(Contains("4:multi-stage")));
}

TEST(Lint, PinPoetry) {
    EXPECT_THAT(found(replace(kGood, "\"poetry==2.2.1\"", "poetry")), Contains("4:pin-poetry"));
    EXPECT_THAT(found(replace(kGood, "\"poetry==2.2.1\"", "'poetry>=1.8'")),
                Contains("4:pin-poetry"));
    EXPECT_THAT(found(replace(kGood, " POETRY_NO_INTERACTION=1", "")), Contains("7:pin-poetry"));
    EXPECT_THAT(found(replace(replace(kGood, " POETRY_NO_INTERACTION=1", ""),
                              "poetry install --only main --no-root",
                              "poetry -n install --only main --no-root")),
                Not(Contains("7:pin-poetry")));
}

TEST(Lint, LockFirst) {
    auto whole = replace(kGood, "COPY pyproject.toml poetry.lock ./", "COPY . .");
    EXPECT_THAT(found(whole), Contains("7:lock-first"));
    EXPECT_THAT(
        found(replace(kGood, "COPY pyproject.toml poetry.lock ./", "COPY pyproject.toml ./")),
        Contains("7:lock-first"));
    EXPECT_THAT(found(replace(kGood, "--only main --no-root", "--only main")),
                Contains("7:lock-first"));
    EXPECT_THAT(found(replace(kGood, "COPY pyproject.toml poetry.lock ./",
                              "COPY pyproject.toml poetry.lock* ./")),
                IsEmpty());
}

TEST(Lint, CacheMounts) {
    EXPECT_THAT(found(replace(kGood,
                              "RUN --mount=type=cache,target=/root/.cache/pypoetry poetry install "
                              "--only main --no-root",
                              "RUN poetry install --only main --no-root")),
                Contains("7:cache-mounts"));
    EXPECT_THAT(found(replace(kGood, "# syntax=docker/dockerfile:1\n", "")),
                Contains("3:cache-mounts"));
}

TEST(Lint, NonRoot) {
    EXPECT_THAT(found(replace(kGood, "USER 10001:10001\n", "")), Contains("10:non-root"));
    EXPECT_THAT(found(replace(kGood, "USER 10001:10001", "USER root")), Contains("15:non-root"));
    EXPECT_THAT(found(replace(kGood, "USER 10001:10001", "USER 0:0")), Contains("15:non-root"));
    EXPECT_THAT(found(replace(kGood, "USER 10001:10001", "USER app")), Contains("15:non-root"));
    EXPECT_THAT(found(replace(kGood, " --chown=10001:10001", "")), Contains("14:non-root"));
}

TEST(Lint, PinBase) {
    EXPECT_THAT(found(replace(kGood, "FROM python:3.12-slim AS build", "FROM python AS build")),
                Contains("2:pin-base"));
    EXPECT_THAT(
        found(replace(kGood, "FROM python:3.12-slim AS build", "FROM python:latest AS build")),
        Contains("2:pin-base"));
    EXPECT_THAT(found(replace(kGood, "FROM python:3.12-slim\n", "FROM python:3.11-slim\n")),
                Contains("10:pin-base"));
    auto digest = replace(kGood, "FROM python:3.12-slim AS build",
                          "FROM python:3.12-slim@sha256:" + std::string(64, 'a') + " AS build");
    EXPECT_THAT(found(digest), IsEmpty());
    auto args = replace(kGood, "FROM python:3.12-slim AS build",
                        "ARG PY=3.12\nFROM python:${PY}-slim AS build");
    EXPECT_THAT(found(args), IsEmpty());
}

TEST(Lint, NoSecrets) {
    auto with = [&](const std::string& line) {
        return replace(kGood, "WORKDIR /app\nCOPY pyproject",
                       line + "\nWORKDIR /app\nCOPY pyproject");
    };
    EXPECT_THAT(found(with("ARG PYPI_TOKEN")), Contains("5:no-secrets"));
    EXPECT_THAT(found(with("ENV POETRY_HTTP_BASIC_CORP_PASSWORD=x")), Contains("5:no-secrets"));
    EXPECT_THAT(found(with("ENV PIP_INDEX_URL=https://bob:hunter2@pypi.corp/simple")),
                Contains("5:no-secrets"));
    EXPECT_THAT(found(with("RUN poetry config http-basic.corp bob hunter2")),
                Contains("5:no-secrets"));
    EXPECT_THAT(found(with("COPY .netrc /root/.netrc")), Contains("5:no-secrets"));
    EXPECT_THAT(found(with("ENV AUTHOR=me KEYBOARD=us")), IsEmpty());
    EXPECT_THAT(found(with("RUN --mount=type=secret,id=corp export TOKEN=\"$(cat "
                           "/run/secrets/corp)\" && echo ok")),
                IsEmpty());
}

TEST(Lint, EnvPython) {
    EXPECT_THAT(
        found(replace(kGood, "ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PATH", "ENV PATH")),
        Contains("10:env-python"));
    EXPECT_THAT(found(replace(kGood, " && python -m compileall -q src", "")),
                Contains("7:env-python"));
    EXPECT_THAT(found(replace(kGood, " && python -m compileall -q src", " --compile")), IsEmpty());
}

TEST(Lint, ExecForm) {
    EXPECT_THAT(found(replace(kGood, "CMD [\"hello\"]", "CMD hello --port 80")),
                Contains("17:exec-form"));
    auto no_init = replace(kGood, "ENTRYPOINT [\"tini\", \"--\"]\n", "");
    EXPECT_THAT(found(no_init), Contains("16:exec-form"));
    auto dumb = replace(kGood, "[\"tini\", \"--\"]", "[\"/usr/bin/dumb-init\", \"--\"]");
    EXPECT_THAT(found(dumb), IsEmpty());
}

TEST(Lint, NoHealthcheck) {
    EXPECT_THAT(found(replace(kGood, "USER 10001",
                              "HEALTHCHECK CMD curl -f http://localhost/\nUSER 10001")),
                Contains("15:no-healthcheck"));
    EXPECT_THAT(found(replace(kGood, "USER 10001", "HEALTHCHECK NONE\nUSER 10001")), IsEmpty());
}

TEST(Lint, AptHygiene) {
    auto t = replace(
        kGood, "apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*",
        "apt-get install -y tini");
    auto f = found(t);
    EXPECT_EQ(std::count(f.begin(), f.end(), "12:apt-hygiene"), 2);
    auto cached = replace(kGood,
                          "RUN apt-get update && apt-get install -y --no-install-recommends tini "
                          "&& rm -rf /var/lib/apt/lists/*",
                          "RUN --mount=type=cache,target=/var/lib/apt/lists "
                          "--mount=type=cache,target=/var/cache/apt \\\n"
                          "    apt-get update && apt-get install -y --no-install-recommends tini");
    EXPECT_THAT(found(cached), IsEmpty());
}

TEST(Lint, CopyNotAdd) {
    EXPECT_THAT(found(replace(kGood, "COPY . .", "ADD . .")), Contains("8:copy-not-add"));
    EXPECT_THAT(found(replace(kGood, "COPY . .", "COPY . .\nADD vendor.tar.gz /opt/")), IsEmpty());
    EXPECT_THAT(found(replace(kGood, "WORKDIR /app\nCOPY --from", "WORKDIR app\nCOPY --from")),
                Contains("13:copy-not-add"));
}

TEST(Lint, IgnoreCommentOnInstruction) {
    auto t = replace(kGood, "USER 10001:10001",
                     "# poetryops: ignore=non-root -- base image sets it\n# reason\nUSER root");
    EXPECT_THAT(found(t), IsEmpty());
    // Only the instruction right after the comment block, and only the named rule.
    auto other = replace(kGood, "USER 10001:10001", "# poetryops: ignore=pin-base\nUSER root");
    EXPECT_THAT(found(other), Contains("16:non-root"));
    // A blank line detaches the comment.
    auto detached = replace(kGood, "USER 10001:10001", "# poetryops: ignore=non-root\n\nUSER root");
    EXPECT_THAT(found(detached), Contains("17:non-root"));
}

TEST(Lint, IgnoreCommentsForTheWholeFileAndSeveralIds) {
    auto t = replace(kGood, "# syntax=docker/dockerfile:1\n",
                     "# syntax=docker/dockerfile:1\n# poetryops: ignore=non-root,exec-form\n\n");
    t = replace(t, "USER 10001:10001\n", "");
    t = replace(t, "ENTRYPOINT [\"tini\", \"--\"]\n", "");
    EXPECT_THAT(found(t), IsEmpty());
    auto unknown = lint(
        replace(kGood, "USER 10001", "# poetryops: ignore=no-such-rule\nUSER 10001"), context());
    ASSERT_TRUE(unknown);
    ASSERT_EQ(unknown->warnings.size(), 1u);
    EXPECT_NE(unknown->warnings[0].find("no-such-rule"), std::string::npos);
}

TEST(Lint, FindingInsideAContinuationIsSuppressedByItsComment) {
    auto t = replace(
        kGood,
        "RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf "
        "/var/lib/apt/lists/*",
        "# poetryops: ignore=apt-hygiene\nRUN apt-get update && \\\n    apt-get install -y tini");
    EXPECT_THAT(found(t), IsEmpty());
}

TEST(Lint, UnparseableInputIsAnError) {
    auto r = lint("FROM a:1\nFOO bar\n", context());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "Dockerfile:2: unknown instruction 'FOO'");
}

std::filesystem::path testdata() { return test::source_dir() / "tests/dockerfile/testdata"; }

std::set<std::string> rule_ids(const LintReport& r) {
    std::set<std::string> ids;
    for (const auto& f : r.findings) ids.insert(f.rule);
    return ids;
}

TEST(Seeds, FirstDockerfileOfSeed000IsReportedForEveryPracticeTheSeedAdds) {
    auto r = lint_file(testdata() / "seed000-first/Dockerfile");
    ASSERT_TRUE(r) << r.error().message;
    auto ids = rule_ids(*r);
    // The five practices seed 000 then adds ...
    for (const char* id :
         {"venv-in-project", "dockerignore", "no-dev-deps", "venv-on-path", "multi-stage"}) {
        EXPECT_TRUE(ids.count(id)) << id;
    }
    // ... and the others that apply to it.
    for (const char* id :
         {"pin-poetry", "lock-first", "cache-mounts", "non-root", "env-python", "exec-form"}) {
        EXPECT_TRUE(ids.count(id)) << id;
    }
    std::vector<std::string> lines;
    for (const auto& f : r->findings) lines.push_back(std::to_string(f.line) + ":" + f.rule);
    EXPECT_THAT(lines, Contains("2:multi-stage"));
    EXPECT_THAT(lines, Contains("4:dockerignore"));
    EXPECT_THAT(lines, Contains("6:venv-in-project"));
    EXPECT_THAT(lines, Contains("6:no-dev-deps"));
    EXPECT_THAT(lines, Contains("6:lock-first"));
    EXPECT_THAT(lines, Contains("7:venv-on-path"));
    EXPECT_EQ(r->findings[0].file, (testdata() / "seed000-first/Dockerfile").string());
}

TEST(Seeds, FinalDockerfileOfSeed000PassesThePracticesItAdopted) {
    auto r = lint_file(testdata() / "seed000-final/Dockerfile");
    ASSERT_TRUE(r) << r.error().message;
    auto ids = rule_ids(*r);
    for (const char* id : {"venv-in-project", "no-dev-deps", "venv-on-path", "multi-stage"}) {
        EXPECT_FALSE(ids.count(id)) << id;
    }
    // Its .dockerignore (/.venv /tests /build) still lets .git, caches and .env in.
    EXPECT_TRUE(ids.count("dockerignore"));
    EXPECT_TRUE(ids.count("lock-first"));
}

TEST(Seeds, Seed003) {
    auto r = lint_file(testdata() / "seed003/Dockerfile");
    ASSERT_TRUE(r) << r.error().message;
    auto ids = rule_ids(*r);
    for (const char* id :
         {"multi-stage", "lock-first", "pin-poetry", "venv-in-project", "no-healthcheck"}) {
        EXPECT_FALSE(ids.count(id)) << id;
    }
    for (const char* id : {"non-root", "no-dev-deps", "exec-form", "dockerignore"})
        EXPECT_TRUE(ids.count(id)) << id;
}

TEST(LintFile, MissingFileAndDirectory) {
    auto r = lint_file(testdata() / "nope/Dockerfile");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::not_found);
    auto d = lint_file(testdata());
    ASSERT_FALSE(d);
}

TEST(LintFile, PerDockerfileIgnoreFileWins) {
    TempDir dir;
    write_file_atomic(dir.path() / "app.Dockerfile", kGood).value();
    write_file_atomic(dir.path() / ".dockerignore", "nothing\n").value();
    auto r = lint_file(dir.path() / "app.Dockerfile");
    ASSERT_TRUE(r);
    EXPECT_EQ(rule_ids(*r), std::set<std::string>{"dockerignore"});
    write_file_atomic(dir.path() / "app.Dockerfile.dockerignore", kGoodIgnore).value();
    auto r2 = lint_file(dir.path() / "app.Dockerfile");
    ASSERT_TRUE(r2);
    EXPECT_TRUE(r2->findings.empty());
}

TEST(Format, TextAndJson) {
    auto r = lint(replace(kGood, "USER 10001:10001\n", ""), context());
    ASSERT_TRUE(r);
    EXPECT_EQ(format_text(r->findings),
              "Dockerfile:10: non-root: the image runs as root: add a numeric non-root USER (e.g. "
              "USER 10001:10001)\n");
    std::vector<LintOutcome> outcomes;
    outcomes.push_back({"Dockerfile", *r, ""});
    outcomes.push_back({"broken", std::nullopt, "broken:3: unknown instruction 'X'"});
    auto j = nlohmann::json::parse(format_json(outcomes));
    EXPECT_EQ(j["version"], 1);
    ASSERT_EQ(j["findings"].size(), 1u);
    EXPECT_EQ(j["findings"][0]["file"], "Dockerfile");
    EXPECT_EQ(j["findings"][0]["line"], 10);
    EXPECT_EQ(j["findings"][0]["rule"], "non-root");
    EXPECT_EQ(j["errors"][0]["message"], "broken:3: unknown instruction 'X'");
    EXPECT_EQ(j["summary"]["files"], 2);
    EXPECT_EQ(j["summary"]["findings"], 1);
    EXPECT_EQ(j["summary"]["errors"], 1);
    EXPECT_TRUE(j["not_checked"].is_array());
}

}  // namespace
}  // namespace poetryops::dockerfile

namespace poetryops::dockerfile {
namespace {

TEST(Lint, AnyPrefixOfRealFilesParsesOrFailsCleanly) {
    // Truncated input must give findings or one error line naming file and line, never a crash.
    std::vector<std::string> inputs = {kGood,
                                       "FROM a:1\nRUN <<EOF\nx\nEOF\nCOPY <<-\"A\" /x\n\tA\n"};
    for (const auto& dir : {"seed000-first", "seed000-final", "seed003"}) {
        auto text =
            read_file(test::source_dir() / "tests/dockerfile/testdata" / dir / "Dockerfile");
        ASSERT_TRUE(text);
        inputs.push_back(*text);
    }
    for (const auto& text : inputs) {
        for (std::size_t n = 0; n <= text.size(); ++n) {
            auto r = lint(std::string_view(text).substr(0, n), context());
            if (!r) {
                EXPECT_EQ(r.error().message.rfind("Dockerfile:", 0), 0u) << r.error().message;
                EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
            }
        }
    }
}

}  // namespace
}  // namespace poetryops::dockerfile

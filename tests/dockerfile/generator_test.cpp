#include <poetryops/dockerfile/generator.hpp>

#include <poetryops/dockerfile/linter.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace poetryops::dockerfile {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

/// The example shape: a console script, src layout, a main path dependency and a dev-only one.
python::Project hello() {
    python::Project p;
    p.name = "hello";
    p.normalized_name = "hello";
    p.version_text = "0.1.0";
    p.packages = {{"hello", "src"}};
    p.scripts = {{"hello", "hello.main", "run"}};
    p.groups = {{"main", {"greetlib"}}, {"dev", {"devtools"}}};
    p.path_dependencies = {{"greetlib", "libs/greetlib", "main", false},
                           {"devtools", "../devtools", "dev", true}};
    p.requires_python = ">=3.11,<4.0";
    return p;
}

GeneratedFiles must_generate(const python::Project& p, const GenerateOptions& o = {}) {
    auto r = generate(p, o);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    return r ? *r : GeneratedFiles{};
}

/// Lints generated text with its own .dockerignore; returns the findings as text.
std::string lint_generated(const GeneratedFiles& g) {
    LintContext ctx;
    ctx.dockerignore = g.dockerignore;
    ctx.dockerignore_known = true;
    auto r = lint(g.dockerfile, ctx);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    return r ? format_text(r->findings) : "unparseable";
}

TEST(Generate, DefaultsForTheExampleShape) {
    auto g = must_generate(hello());
    const auto& d = g.dockerfile;
    EXPECT_THAT(d, HasSubstr("# syntax=docker/dockerfile:1\n"));
    EXPECT_THAT(
        d, HasSubstr("FROM python:3.11-slim AS build\n"));  // lowest Python requires-python allows
    EXPECT_THAT(d, HasSubstr("FROM python:3.11-slim AS runtime\n"));
    EXPECT_THAT(d, HasSubstr("/opt/poetry/bin/pip install \"poetry==" +
                             std::string(kDefaultPoetryVersion) + "\""));
    EXPECT_THAT(
        d, HasSubstr("COPY pyproject.toml poetry.lock ./\nCOPY libs/greetlib ./libs/greetlib\n"));
    EXPECT_THAT(d, HasSubstr("poetry install --only main --no-root"));
    EXPECT_THAT(d, HasSubstr("--invalidation-mode unchecked-hash"));
    EXPECT_THAT(d, HasSubstr("COPY --from=build --chown=10001:10001 /app/.venv /app/.venv\n"));
    EXPECT_THAT(
        d,
        HasSubstr("COPY --from=build --chown=10001:10001 /app/libs/greetlib /app/libs/greetlib\n"));
    // The code is the last layer, straight from the build context, after the image's metadata.
    EXPECT_THAT(d, HasSubstr("USER 10001:10001\nENTRYPOINT [\"tini\", \"--\"]\nCMD [\"hello\"]\n"));
    EXPECT_THAT(d, testing::EndsWith("\nCOPY --chown=10001:10001 src /app/src\n"));
    EXPECT_THAT(d, Not(HasSubstr("COPY . .")));
    EXPECT_THAT(d, Not(HasSubstr("/app/src /app/src")));
    // tini comes from apt in the build stage; the runtime stage copies only the binary, root-owned.
    const auto runtime = d.find(" AS runtime\n");
    ASSERT_NE(runtime, std::string::npos);
    EXPECT_LT(d.find("apt-get install -y --no-install-recommends tini"), runtime);
    EXPECT_EQ(d.find("apt-get", runtime), std::string::npos);
    EXPECT_THAT(d.substr(runtime),
                HasSubstr("COPY --from=build --chown=0:0 /usr/bin/tini /usr/bin/tini\n"));
    // Pinned Poetry >= 1.4 tolerates the missing dev path dependency: no stand-ins.
    EXPECT_THAT(d, Not(HasSubstr("setup.py")));
    // The dev-only path dependency is outside the project: never copied.
    EXPECT_THAT(d, Not(HasSubstr("devtools")));
    EXPECT_EQ(lint_generated(g), "");
}

TEST(Generate, PrunesPipSetuptoolsAndWheelAfterTheLastInstallUnlessTheAppNeedsThem) {
    auto d = must_generate(hello()).dockerfile;
    // After the dependency install and before the venv is compiled (so that no bytecode of them is
    // ever made); the project install on stand-ins that follows writes files only.
    auto install = d.find("poetry install --only main --no-root &&");
    auto prune = d.find("rm -rf /app/.venv/lib/python3*/site-packages/pip ");
    auto compile = d.find("compileall");
    ASSERT_NE(install, std::string::npos);
    ASSERT_NE(prune, std::string::npos) << d;
    EXPECT_LT(install, prune);
    EXPECT_LT(prune, compile);
    // When the project install needs the code (unknown packages), it stays after that install
    // (Poetry < 1.4 installs through pip).
    python::Project unknown = hello();
    unknown.packages = {{"hello*", "src"}};
    const auto u = must_generate(unknown).dockerfile;
    EXPECT_LT(u.find("poetry install --only main &&"),
              u.find("rm -rf /app/.venv/lib/python3*/site-packages/pip "));
    EXPECT_THAT(d, HasSubstr("site-packages/setuptools "));
    EXPECT_THAT(d, HasSubstr("site-packages/distutils-precedence.pth"));
    EXPECT_THAT(d, HasSubstr("/app/.venv/bin/wheel"));
    // Debian's virtualenv adds script names of its own, and virtualenv leaves a marker per seeded
    // tool.
    EXPECT_THAT(d, HasSubstr("/app/.venv/bin/pip-3.* "));
    EXPECT_THAT(
        d, HasSubstr("/app/.venv/bin/wheel3 /app/.venv/bin/wheel3.* /app/.venv/bin/wheel-3.*"));
    EXPECT_THAT(d, HasSubstr("site-packages/setuptools-*.virtualenv "));

    python::Project needs = hello();
    needs.groups["main"].push_back("SetupTools");
    d = must_generate(needs).dockerfile;
    EXPECT_THAT(d, HasSubstr("site-packages/pip "));
    EXPECT_THAT(d, Not(HasSubstr("site-packages/setuptools")));
    EXPECT_THAT(d, Not(HasSubstr("pkg_resources")));

    // A dependency that needs setuptools at run time (imports pkg_resources): Poetry locks and
    // installs it, so the lock keeps it even though pyproject.toml never names it.
    python::Project transitive = hello();
    transitive.lock.packages = {{"legacy-lib", "1.0", "", ""}, {"setuptools", "68.0.0", "", ""}};
    d = must_generate(transitive).dockerfile;
    EXPECT_THAT(d, HasSubstr("site-packages/pip "));
    EXPECT_THAT(d, HasSubstr("/app/.venv/bin/wheel"));
    EXPECT_THAT(d, Not(HasSubstr("site-packages/setuptools")));
    EXPECT_THAT(d, Not(HasSubstr("pkg_resources")));
    EXPECT_THAT(d, Not(HasSubstr("distutils-precedence.pth")));

    GenerateOptions uv;
    uv.installer = Installer::uv;
    EXPECT_THAT(must_generate(hello(), uv).dockerfile, Not(HasSubstr("rm -rf /app/.venv")));
}

TEST(Generate, ProjectInstallRunsOnStandInsBeforeTheCodeWhichIsTheLastLayer) {
    auto p = hello();
    p.packages = {{"hello", "src"}, {"tool.py", ""}, {"company/app", ""}};
    auto d = must_generate(p).dockerfile;
    const auto readme = d.find("COPY pyproject.toml ./\n");
    const auto install = d.find("poetry install --only main &&");
    ASSERT_NE(readme, std::string::npos) << d;
    ASSERT_NE(install, std::string::npos) << d;
    EXPECT_LT(d.find("poetry install --only main --no-root"), readme);
    EXPECT_LT(readme, install);
    // Package folders get an __init__.py, modules an empty file; only what did not exist is made,
    // and removed again after the install.
    EXPECT_THAT(d, HasSubstr("for p in company/app src/hello; do [ -e \"$p\" ] || { mkdir -p "
                             "\"$p\" && touch \"$p/__init__.py\" && made=\"$made $p\"; }; done"));
    EXPECT_THAT(d, HasSubstr("for p in tool.py; do [ -e \"$p\" ] || { mkdir -p \"$(dirname "
                             "\"$p\")\" && touch \"$p\" && made=\"$made $p\"; }; done"));
    EXPECT_THAT(d, HasSubstr("poetry install --only main && \\\n    rm -rf $made\n"));
    // Nothing of the code reaches the build stage; the runtime stage copies each top folder or
    // module from the context, after USER/ENTRYPOINT/CMD.
    const auto runtime = d.find(" AS runtime\n");
    EXPECT_EQ(d.substr(0, runtime).find("COPY . ."), std::string::npos);
    EXPECT_THAT(d, testing::EndsWith("CMD [\"hello\"]\n"
                                     "# the code last, straight from the build context: a code "
                                     "change rebuilds this layer alone\n"
                                     "COPY --chown=10001:10001 company /app/company\n"
                                     "COPY --chown=10001:10001 src /app/src\n"
                                     "COPY --chown=10001:10001 tool.py /app/tool.py\n"));
    EXPECT_EQ(lint_generated(must_generate(p)), "");

    // uv builds the project with its backend from the context: the code before the install.
    GenerateOptions uv;
    uv.installer = Installer::uv;
    auto u = must_generate(hello(), uv).dockerfile;
    EXPECT_THAT(u, HasSubstr("COPY . .\n"));
    EXPECT_THAT(u, HasSubstr("COPY --from=build --chown=10001:10001 /app/src /app/src\n"));
    EXPECT_THAT(u, Not(HasSubstr("COPY pyproject.toml ./")));
}

TEST(Generate, TheProjectInstallGetsExactlyTheReadmesAndABuildScriptKeepsTheCodeFirst) {
    auto p = hello();
    p.readmes = {"README.md", "docs/usage.rst"};
    auto d = must_generate(p).dockerfile;
    EXPECT_THAT(d, HasSubstr("COPY pyproject.toml README.md ./\nCOPY docs/usage.rst docs/\n"));
    EXPECT_EQ(lint_generated(must_generate(p)), "");

    p.readmes = {"../README.md"};
    auto outside = generate(p, {});
    ASSERT_FALSE(outside);
    EXPECT_THAT(outside.error().message, HasSubstr("readme"));

    // Installing a project with a build script runs it: the code must be there first.
    p = hello();
    p.build_script = true;
    d = must_generate(p).dockerfile;
    const auto runtime = d.find(" AS runtime\n");
    EXPECT_NE(d.substr(0, runtime).find("COPY . ."), std::string::npos) << d;
}

TEST(Generate, SameInputSameBytes) {
    auto a = must_generate(hello());
    auto p = hello();
    std::reverse(p.path_dependencies.begin(), p.path_dependencies.end());
    auto b = must_generate(p);
    EXPECT_EQ(a.dockerfile, b.dockerfile);
    EXPECT_EQ(a.dockerignore, b.dockerignore);
    GenerateOptions o;
    o.apt_packages = {"libpq5", "curl", "libpq5"};
    GenerateOptions o2;
    o2.apt_packages = {"curl", "libpq5"};
    EXPECT_EQ(must_generate(hello(), o).dockerfile, must_generate(hello(), o2).dockerfile);
}

TEST(Generate, LintsCleanForManyOptionCombinations) {
    for (auto installer : {Installer::poetry, Installer::uv}) {
        for (const char* poetry : {"2.2.1", "1.8.3", "1.3.2", "preinstalled"}) {
            for (auto init : {Init::tini, Init::none}) {
                GenerateOptions o;
                o.installer = installer;
                o.poetry = poetry;
                o.init = init;
                o.apt_packages = init == Init::none ? std::vector<std::string>{}
                                                    : std::vector<std::string>{"libpq5"};
                auto g = must_generate(hello(), o);
                EXPECT_EQ(lint_generated(g), "")
                    << poetry << " uv=" << (installer == Installer::uv) << "\n"
                    << g.dockerfile;
            }
        }
    }
}

TEST(Generate, OldOrPreinstalledPoetryGetsStandInsForDevPathDeps) {
    for (const char* poetry : {"1.3.2", "preinstalled"}) {
        GenerateOptions o;
        o.poetry = poetry;
        auto g = must_generate(hello(), o);
        EXPECT_THAT(
            g.dockerfile,
            HasSubstr("for d in ../devtools; do [ -e \"$d\" ] || { mkdir -p \"$d\" && touch "
                      "\"$d/setup.py\"; }; done"))
            << poetry;
    }
    GenerateOptions pre;
    pre.poetry = "preinstalled";
    auto g = must_generate(hello(), pre);
    EXPECT_THAT(g.dockerfile, Not(HasSubstr("pip install \"poetry")));
    EXPECT_THAT(g.dockerfile, HasSubstr("Poetry comes preinstalled"));
}

TEST(Generate, DevPathDepInsideTheProjectIsIgnoredNotCopied) {
    auto p = hello();
    p.path_dependencies[1].path = "tools/devtools";
    auto g = must_generate(p);
    EXPECT_THAT(g.dockerignore, HasSubstr("\ntools/devtools\n"));
    EXPECT_THAT(g.dockerfile, Not(HasSubstr("tools/devtools")));
}

TEST(Generate, Options) {
    GenerateOptions o;
    o.python = "3.13";
    o.runtime_image = "registry.local/python:3.13-slim@sha256:" + std::string(64, 'b');
    o.uid = 4242;
    o.command = {"uvicorn", "hello.app:app", "--host", "0.0.0.0"};
    o.apt_packages = {"libpq5"};
    auto g = must_generate(hello(), o);
    EXPECT_THAT(g.dockerfile, HasSubstr("FROM python:3.13-slim AS build\n"));
    EXPECT_THAT(g.dockerfile, HasSubstr("FROM " + o.runtime_image + " AS runtime\n"));
    EXPECT_THAT(g.dockerfile, HasSubstr("--chown=4242:4242"));
    EXPECT_THAT(g.dockerfile, HasSubstr("USER 4242:4242\n"));
    // With --apt packages the runtime stage has an apt layer anyway: tini joins it.
    EXPECT_THAT(g.dockerfile, HasSubstr("apt-get install -y --no-install-recommends libpq5 tini"));
    EXPECT_THAT(g.dockerfile, Not(HasSubstr("/usr/bin/tini")));
    EXPECT_EQ(g.dockerfile.find("apt-get"), g.dockerfile.rfind("apt-get update"));
    EXPECT_THAT(g.dockerfile,
                HasSubstr("CMD [\"uvicorn\",\"hello.app:app\",\"--host\",\"0.0.0.0\"]\n"));
    EXPECT_EQ(lint_generated(g), "");
}

TEST(Generate, InitNoneDocumentsItselfAndStillLintsClean) {
    GenerateOptions o;
    o.init = Init::none;
    auto g = must_generate(hello(), o);
    EXPECT_THAT(g.dockerfile, Not(HasSubstr("tini")));
    EXPECT_THAT(g.dockerfile, Not(HasSubstr("apt-get")));
    EXPECT_THAT(g.dockerfile, HasSubstr("# poetryops: ignore=exec-form"));
}

TEST(Generate, DefaultCommandFallsBackToPythonM) {
    auto p = hello();
    p.scripts.clear();
    auto g = must_generate(p);
    EXPECT_THAT(g.dockerfile, HasSubstr("CMD [\"python\",\"-m\",\"hello\"]\n"));
    p.packages.clear();
    auto r = generate(p, {});
    ASSERT_FALSE(r);
    EXPECT_THAT(r.error().message, HasSubstr("--command"));
}

TEST(Generate, PythonVersionSources) {
    auto p = hello();
    p.requires_python = "";
    EXPECT_THAT(must_generate(p).dockerfile,
                HasSubstr(std::string("FROM python:") + kDefaultPython + "-slim AS build"));
    GenerateOptions o;
    o.python = "3.x";
    auto r = generate(hello(), o);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "--python: '3.x' is not a Python version like 3.12");
}

TEST(Generate, RejectsBadOptions) {
    struct Case {
        std::function<void(GenerateOptions&)> set;
        const char* expect;
    };
    std::vector<Case> cases = {
        {[](GenerateOptions& o) { o.uid = 0; }, "--uid: 0 is not a non-root user id"},
        {[](GenerateOptions& o) { o.apt_packages = {"curl; rm -rf /"}; },
         "--apt: 'curl; rm -rf /'"},
        {[](GenerateOptions& o) { o.build_image = "python:3.12 AS x"; },
         "--build-image: 'python:3.12 AS x'"},
        {[](GenerateOptions& o) { o.poetry = "latest"; }, "--poetry: 'latest'"},
        {[](GenerateOptions& o) { o.poetry = "1.1.15"; }, "predates"},
    };
    for (const auto& c : cases) {
        GenerateOptions o;
        c.set(o);
        auto r = generate(hello(), o);
        ASSERT_FALSE(r) << c.expect;
        EXPECT_THAT(r.error().message, HasSubstr(c.expect));
        EXPECT_EQ(r.error().kind, Error::Kind::invalid);
    }
}

TEST(Generate, MainPathDependencyOutsideTheContextIsRefused) {
    auto p = hello();
    p.path_dependencies[0].path = "../greetlib";
    auto r = generate(p, {});
    ASSERT_FALSE(r);
    EXPECT_THAT(r.error().message,
                HasSubstr("main-group path dependency 'greetlib' (../greetlib) is outside"));
}

TEST(Generate, PrivateSourcesUseSecretMountsNeverArgOrEnv) {
    auto p = hello();
    p.sources = {{"corp-index", "https://pypi.corp.example/simple", "primary"},
                 {"PyPI", "", "supplemental"}};
    auto g = must_generate(p);
    EXPECT_THAT(g.dockerfile, HasSubstr("--mount=type=secret,id=poetry-corp-index"));
    EXPECT_THAT(g.dockerfile,
                HasSubstr("export POETRY_HTTP_BASIC_CORP_INDEX_USERNAME=\"$(cut -d: -f1 "
                          "/run/secrets/poetry-corp-index)\""));
    EXPECT_THAT(g.dockerfile, Not(HasSubstr("ARG ")));
    EXPECT_THAT(g.dockerfile, Not(HasSubstr("secret,id=poetry-pypi")));
    EXPECT_EQ(lint_generated(g), "");
    GenerateOptions uv;
    uv.installer = Installer::uv;
    auto r = generate(p, uv);
    ASSERT_FALSE(r);
    EXPECT_THAT(r.error().message, HasSubstr("private source 'corp-index'"));
}

TEST(Generate, UvInstaller) {
    GenerateOptions o;
    o.installer = Installer::uv;
    auto g = must_generate(hello(), o);
    EXPECT_THAT(g.dockerfile, HasSubstr("\"poetry-plugin-export=="));
    EXPECT_THAT(g.dockerfile, HasSubstr("poetry export --only main --format requirements.txt"));
    EXPECT_THAT(g.dockerfile,
                HasSubstr("uv pip install --python /app/.venv/bin/python --no-deps --requirement"));
    EXPECT_THAT(g.dockerfile, HasSubstr("--no-deps --editable ."));
    o.poetry = "1.8.3";  // export is bundled before Poetry 2
    EXPECT_THAT(must_generate(hello(), o).dockerfile, Not(HasSubstr("poetry-plugin-export")));
}

TEST(Generate, NonPackageModeAndUnknownLayoutCopyTheWholeApp) {
    auto p = hello();
    p.package_mode = false;
    p.packages.clear();
    p.scripts.clear();
    GenerateOptions o;
    o.command = {"python", "main.py"};
    auto g = must_generate(p, o);
    EXPECT_THAT(g.dockerfile, Not(HasSubstr("poetry install --only main\n")));
    EXPECT_THAT(g.dockerfile, HasSubstr("COPY --from=build --chown=10001:10001 /app /app\n"));
    EXPECT_THAT(g.dockerfile, HasSubstr("-x '/[.]venv/' ."));
    EXPECT_EQ(lint_generated(g), "");
}

TEST(Generate, Dockerignore) {
    auto g = must_generate(hello());
    for (const char* entry :
         {"\n.git\n", "\n**/.venv\n", "\n**/__pycache__\n", "\ntests\n", "\nDockerfile*\n",
          "\n**/.env\n", "\n**/.mypy_cache\n", "\n**/.pytest_cache\n", "\nbuild\n", "\ndist\n"}) {
        EXPECT_THAT(g.dockerignore, HasSubstr(entry));
    }
    auto p = hello();
    p.packages = {{"build", ""}};  // a package named like an artefact folder stays in the context
    EXPECT_THAT(must_generate(p).dockerignore, Not(HasSubstr("\nbuild\n")));
}

TEST(SplitCommand, Quoting) {
    EXPECT_EQ(*split_command("uvicorn 'a b' \"c d\" e\\ f"),
              (std::vector<std::string>{"uvicorn", "a b", "c d", "e f"}));
    EXPECT_FALSE(split_command("a 'b"));
}

TEST(Credentials, EnvName) {
    EXPECT_EQ(poetry_credentials_env("my-repo.x"), "POETRY_HTTP_BASIC_MY_REPO_X");
}

}  // namespace
}  // namespace poetryops::dockerfile

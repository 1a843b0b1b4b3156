#include <poetryops/python/project.hpp>

#include <poetryops/util/fs.hpp>

#include <gtest/gtest.h>

#include <algorithm>

namespace poetryops::python {
namespace {

const char* kPoetry1 = R"toml(
[tool.poetry]
name = "My.Billing_App"
version = "1.4.2"
description = "demo"
packages = [{include = "billing", from = "src"}, {include = "tools"}]

[tool.poetry.scripts]
billing = "billing.main:run"
worker = {reference = "billing.worker:main", type = "console"}
setup-db = {reference = "bin/setup.sh", type = "file"}

[tool.poetry.dependencies]
python = "^3.11"
requests = "^2.31"
shared = {path = "../shared", develop = false}
uvicorn = [{version = "^0.29", python = "<3.12"}, {version = "^0.30", python = ">=3.12"}]

[tool.poetry.group.dev.dependencies]
pytest = "^8.0"
devtool = {path = "libs/devtool", develop = true}

[tool.poetry.group.docs]
optional = true
[tool.poetry.group.docs.dependencies]
mkdocs = "*"

[tool.poetry.dev-dependencies]
black = "*"

[[tool.poetry.source]]
name = "internal"
url = "https://pypi.internal.example/simple"
priority = "supplemental"

[[tool.poetry.source]]
name = "old"
url = "https://old.example/simple"
secondary = true

[build-system]
requires = ["poetry-core"]
build-backend = "poetry.core.masonry.api"
)toml";

const char* kPep621 = R"toml(
[project]
name = "hello-svc"
dynamic = ["version"]
requires-python = ">=3.11,<4.0"
dependencies = [
  "requests[socks] (>=2.31,<3.0)",
  "attrs>=23; python_version < '3.13'",
  "lib @ file:///${PROJECT_ROOT}/../lib",
]

[project.scripts]
hello = "hello_svc.cli:main"

[project.optional-dependencies]
fast = ["orjson"]

[tool.poetry]
version = "2.0.0b3"
packages = [{include = "hello_svc", from = "src"}]

[tool.poetry.dependencies]
lib = {develop = true}

[tool.poetry.group.test.dependencies]
pytest = ">=8"

[build-system]
requires = ["poetry-core>=2.0"]
build-backend = "poetry.core.masonry.api"
)toml";

const std::vector<std::string>& group(const Project& p, const std::string& g) {
    static const std::vector<std::string> empty;
    auto it = p.groups.find(g);
    return it == p.groups.end() ? empty : it->second;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(Pyproject, ReadsPoetry1) {
    auto r = parse_pyproject(kPoetry1, "pyproject.toml");
    ASSERT_TRUE(r.has_value()) << r.error().message;
    const Project& p = *r;
    EXPECT_EQ(p.style, Project::Style::poetry1);
    EXPECT_EQ(p.name, "My.Billing_App");
    EXPECT_EQ(p.normalized_name, "my-billing-app");
    EXPECT_EQ(p.version_text, "1.4.2");
    EXPECT_EQ(p.version.str(), "1.4.2");
    EXPECT_TRUE(p.package_mode);
    EXPECT_EQ(p.requires_python, "^3.11");
    EXPECT_EQ(p.minimum_python(), "3.11");

    ASSERT_EQ(p.packages.size(), 2u);
    EXPECT_EQ(p.packages[0].include, "billing");
    EXPECT_EQ(p.packages[0].from, "src");
    EXPECT_EQ(p.packages[1].include, "tools");
    EXPECT_EQ(p.packages[1].from, "");

    ASSERT_EQ(p.scripts.size(), 2u) << "the file-type script is not a console script";
    EXPECT_EQ(p.scripts[0].name, "billing");
    EXPECT_EQ(p.scripts[0].module, "billing.main");
    EXPECT_EQ(p.scripts[0].function, "run");
    EXPECT_EQ(p.scripts[1].name, "worker");
    EXPECT_EQ(p.scripts[1].module, "billing.worker");

    EXPECT_EQ(group(p, "main"), (std::vector<std::string>{"requests", "shared", "uvicorn"}));
    EXPECT_FALSE(has(group(p, "main"), "python"));
    EXPECT_TRUE(has(group(p, "dev"), "pytest"));
    EXPECT_TRUE(has(group(p, "dev"), "devtool"));
    EXPECT_TRUE(has(group(p, "dev"), "black")) << "legacy dev-dependencies join the dev group";
    EXPECT_EQ(group(p, "docs"), (std::vector<std::string>{"mkdocs"}));
    EXPECT_EQ(p.non_main_groups(), (std::vector<std::string>{"dev", "docs"}));

    ASSERT_EQ(p.path_dependencies.size(), 2u);
    EXPECT_EQ(p.path_dependencies[0].name, "shared");
    EXPECT_EQ(p.path_dependencies[0].path, "../shared");
    EXPECT_EQ(p.path_dependencies[0].group, "main");
    EXPECT_FALSE(p.path_dependencies[0].develop);
    EXPECT_EQ(p.path_dependencies[1].name, "devtool");
    EXPECT_EQ(p.path_dependencies[1].group, "dev");
    EXPECT_TRUE(p.path_dependencies[1].develop);

    ASSERT_EQ(p.sources.size(), 2u);
    EXPECT_EQ(p.sources[0].name, "internal");
    EXPECT_EQ(p.sources[0].url, "https://pypi.internal.example/simple");
    EXPECT_EQ(p.sources[0].priority, "supplemental");
    EXPECT_EQ(p.sources[1].priority, "secondary");
}

TEST(Pyproject, ReadsPep621WithPoetryExtras) {
    auto r = parse_pyproject(kPep621, "pyproject.toml");
    ASSERT_TRUE(r.has_value()) << r.error().message;
    const Project& p = *r;
    EXPECT_EQ(p.style, Project::Style::pep621);
    EXPECT_EQ(p.name, "hello-svc");
    EXPECT_EQ(p.version_text, "2.0.0b3") << "dynamic version comes from [tool.poetry]";
    EXPECT_TRUE(p.version.is_prerelease());
    EXPECT_EQ(p.requires_python, ">=3.11,<4.0");
    EXPECT_EQ(p.minimum_python(), "3.11");
    EXPECT_EQ(group(p, "main"), (std::vector<std::string>{"requests", "attrs", "lib"}));
    EXPECT_EQ(group(p, "test"), (std::vector<std::string>{"pytest"}));
    ASSERT_EQ(p.scripts.size(), 1u);
    EXPECT_EQ(p.scripts[0].module, "hello_svc.cli");
    EXPECT_EQ(p.scripts[0].function, "main");
    ASSERT_EQ(p.packages.size(), 1u);
    EXPECT_EQ(p.packages[0].from, "src");
    ASSERT_EQ(p.path_dependencies.size(), 1u);
    EXPECT_EQ(p.path_dependencies[0].name, "lib");
    EXPECT_EQ(p.path_dependencies[0].path, "../lib");
}

TEST(Pyproject, Pep621StaticVersionAndPep735Groups) {
    auto r = parse_pyproject(R"toml(
[project]
name = "svc"
version = "0.3.0"
requires-python = ">=3.12"
dependencies = []
[dependency-groups]
dev = ["ruff>=0.4", {include-group = "test"}]
test = ["pytest"]
[tool.poetry]
package-mode = true
)toml",
                             "pyproject.toml");
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->version.str(), "0.3.0");
    EXPECT_EQ(r->minimum_python(), "3.12");
    EXPECT_EQ(group(*r, "dev"), (std::vector<std::string>{"ruff"}));
    EXPECT_EQ(group(*r, "test"), (std::vector<std::string>{"pytest"}));
}

TEST(Pyproject, NonPackageModeNeedsNoVersion) {
    auto r = parse_pyproject(
        "[tool.poetry]\npackage-mode = false\n[tool.poetry.dependencies]\npython = \"3.12.*\"\n",
        "pyproject.toml");
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_FALSE(r->package_mode);
    EXPECT_EQ(r->version_text, "");
    EXPECT_EQ(r->minimum_python(), "3.12");
}

TEST(Pyproject, ReadmesAndBuildScript) {
    auto poetry1 = parse_pyproject(
        "[tool.poetry]\nname = \"a\"\nversion = \"1\"\nreadme = [\"README.md\", \"docs/x.rst\"]\n"
        "[tool.poetry.build]\nscript = \"build.py\"\n",
        "pyproject.toml");
    ASSERT_TRUE(poetry1) << poetry1.error().message;
    EXPECT_EQ(poetry1->readmes, (std::vector<std::string>{"README.md", "docs/x.rst"}));
    EXPECT_TRUE(poetry1->build_script);
    auto pep = parse_pyproject(
        "[project]\nname = \"a\"\nversion = \"1\"\nreadme = {file = \"docs/README.md\", "
        "content-type = \"text/markdown\"}\n[tool.poetry]\n",
        "pyproject.toml");
    ASSERT_TRUE(pep) << pep.error().message;
    EXPECT_EQ(pep->readmes, std::vector<std::string>{"docs/README.md"});
    EXPECT_FALSE(pep->build_script);
    auto text = parse_pyproject(
        "[project]\nname = \"a\"\nversion = \"1\"\nreadme = {text = \"inline\", "
        "content-type = \"text/plain\"}\n[tool.poetry]\n",
        "pyproject.toml");
    ASSERT_TRUE(text) << text.error().message;
    EXPECT_TRUE(text->readmes.empty());
}

struct BadCase {
    const char* name;
    const char* text;
    Error::Kind kind;
    const char* expect;  ///< substring of the one-line message
};

TEST(Pyproject, BadInputGivesOneLineNamingFileLineAndProblem) {
    const std::vector<BadCase> cases = {
        {"malformed", "[tool.poetry]\nname = \"x\"\nversion = \n", Error::Kind::decode,
         "app/pyproject.toml:3:"},
        {"unclosed table", "[tool.poetry\nname = 1\n", Error::Kind::decode,
         "app/pyproject.toml:1:"},
        {"no tables", "[tool.black]\nline-length = 100\n", Error::Kind::invalid,
         "not a Poetry project"},
        {"hatch",
         "[project]\nname = \"x\"\nversion = \"1\"\n[build-system]\nbuild-backend = "
         "\"hatchling.build\"\n",
         Error::Kind::invalid, "build backend is \"hatchling.build\""},
        {"no version", "[tool.poetry]\nname = \"x\"\n", Error::Kind::invalid,
         "app/pyproject.toml:1: no version"},
        {"pep621 no version", "[project]\nname = \"x\"\n[tool.poetry]\nversion = \"1.0\"\n",
         Error::Kind::invalid, "no version (set project.version"},
        {"bad version", "[tool.poetry]\nname = \"x\"\n\nversion = \"1.0-banana\"\n",
         Error::Kind::invalid, "app/pyproject.toml:4: invalid PEP 440 version \"1.0-banana\""},
        {"no name", "[tool.poetry]\nversion = \"1.0\"\n", Error::Kind::invalid, "no project name"},
        {"name type", "[tool.poetry]\nname = 3\nversion = \"1.0\"\n", Error::Kind::invalid,
         "app/pyproject.toml:2: tool.poetry.name must be a string"},
        {"script",
         "[tool.poetry]\nname = \"x\"\nversion = \"1\"\n[tool.poetry.scripts]\nx = \"nocolon\"\n",
         Error::Kind::invalid,
         "app/pyproject.toml:5: tool.poetry.scripts.x = \"nocolon\" must look like"},
        {"packages", "[tool.poetry]\nname = \"x\"\nversion = \"1\"\npackages = [\"x\"]\n",
         Error::Kind::invalid, "tool.poetry.packages entries must be tables"},
        {"dep type",
         "[tool.poetry]\nname = \"x\"\nversion = \"1\"\n[tool.poetry.dependencies]\nfoo = 3\n",
         Error::Kind::invalid, "app/pyproject.toml:5: tool.poetry.dependencies.foo must be"},
        {"pep508",
         "[project]\nname = \"x\"\nversion = \"1\"\ndependencies = [\">=1\"]\n[tool.poetry]\n",
         Error::Kind::invalid, "\">=1\" is not a PEP 508 requirement"},
    };
    for (const BadCase& c : cases) {
        auto r = parse_pyproject(c.text, "app/pyproject.toml");
        ASSERT_FALSE(r.has_value()) << c.name;
        EXPECT_EQ(r.error().kind, c.kind) << c.name << ": " << r.error().message;
        EXPECT_NE(r.error().message.find(c.expect), std::string::npos)
            << c.name << ": " << r.error().message;
        EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << c.name << ": one line";
    }
}

TEST(Pyproject, MinimumPythonUnderstandsConstraintForms) {
    const std::vector<std::pair<const char*, const char*>> cases = {
        {"^3.11", "3.11"},
        {"~3.10", "3.10"},
        {"~=3.9", "3.9"},
        {">=3.8,<4.0", "3.8"},
        {">=3.8, <4", "3.8"},
        {">= 3.10 <4", "3.10"},
        {"3.12.*", "3.12"},
        {"==3.11.4", "3.11"},
        {">=3.9,!=3.10.*", "3.9"},
        {"^3", "3.0"},
        {">3.11", "3.11"},
        {"<3.13", ""},
        {"*", ""},
        {"", ""},
        {"^3.9 || ^3.11", "3.9"},
        {"^3.12 || <3", ""},
        {">=3.7,>=3.10", "3.10"},
    };
    for (const auto& [constraint, want] : cases) {
        Project p;
        p.requires_python = constraint;
        EXPECT_EQ(p.minimum_python(), want) << "\"" << constraint << "\"";
    }
}

TEST(Names, NormalisesPerPep503) {
    EXPECT_EQ(normalize_name("My.Billing_App"), "my-billing-app");
    EXPECT_EQ(normalize_name("a__b--c..d"), "a-b-c-d");
    EXPECT_EQ(normalize_name("Hello"), "hello");
    EXPECT_EQ(module_name("My.Billing-App"), "my_billing_app");
}

}  // namespace
}  // namespace poetryops::python

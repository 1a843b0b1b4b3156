// Lock staleness against real Poetry (Debian bookworm's python3-poetry 1.3.2, installed by
// scripts/setup.sh): `poetry lock` writes the hash, `poetry lock --check` is the oracle, and
// check_lock_fresh() must agree with it on every edit. Path dependencies only, so nothing is
// downloaded.
#include <poetryops/python/project.hpp>

#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "support/support.hpp"

namespace poetryops::python {
namespace {

namespace fs = std::filesystem;

void put(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

const char* kProject = R"toml([tool.poetry]
name = "svc"
version = "0.1.0"
description = "Démo"
authors = ["Zoë <zoe@example.com>"]

[tool.poetry.dependencies]
python = ">=3.9"
bibliotheque = {path = "libs/bibliothèque", develop = true}

[tool.poetry.group.dev.dependencies]
tools = {path = "libs/tools"}
)toml";

/// A Poetry project in a temp dir with two path dependencies, and Poetry run with its home,
/// cache and config inside that dir (no virtualenv, no network).
class PoetryProject {
public:
    PoetryProject() {
        put(dir() / "pyproject.toml", kProject);
        put(dir() / "svc" / "__init__.py", "");
        for (const char* lib : {"bibliothèque", "tools"}) {
            std::string name = lib == std::string("tools") ? "tools" : "bibliotheque";
            put(dir() / "libs" / lib / "pyproject.toml",
                "[tool.poetry]\nname = \"" + name +
                    "\"\nversion = \"0.1.0\"\ndescription = \"\"\nauthors = []\n"
                    "[build-system]\nrequires = [\"poetry-core\"]\n"
                    "build-backend = \"poetry.core.masonry.api\"\n");
            put(dir() / "libs" / lib / name / "__init__.py", "");
        }
    }
    fs::path dir() const { return tmp_.path() / "svc"; }

    ProcessResult poetry(const std::vector<std::string>& args) {
        ProcessOptions o;
        o.cwd = dir().string();
        o.timeout = std::chrono::minutes(2);
        o.env = {{"HOME", (tmp_.path() / "home").string()},
                 {"POETRY_CACHE_DIR", (tmp_.path() / "cache").string()},
                 {"POETRY_CONFIG_DIR", (tmp_.path() / "config").string()},
                 {"POETRY_VIRTUALENVS_CREATE", "false"},
                 {"PYTHONDONTWRITEBYTECODE", "1"}};
        std::vector<std::string> argv = {"poetry", "--no-interaction", "--no-ansi"};
        argv.insert(argv.end(), args.begin(), args.end());
        auto r = run_process(argv, o);
        EXPECT_TRUE(r.has_value()) << r.error().message;
        return r ? std::move(r).value() : ProcessResult{};
    }

private:
    TempDir tmp_{"poetry-lock-it"};
};

std::string poetry_version(PoetryProject& p) {
    auto r = p.poetry({"--version"});
    std::smatch m;
    std::regex re("version ([0-9][^ )\\s]*)");
    EXPECT_TRUE(std::regex_search(r.out, m, re)) << r.out;
    return m.size() > 1 ? m[1].str() : "";
}

TEST(PoetryLockIt, AgreesWithPoetryOnEveryEdit) {
    if (!test::require_tools({"poetry"})) return;
    PoetryProject p;
    const std::string version = poetry_version(p);
    ASSERT_FALSE(version.empty());
    auto locked = p.poetry({"lock"});
    ASSERT_TRUE(locked.ok()) << locked.err << locked.out;

    const std::string original = kProject;
    struct Edit {
        const char* what;
        std::string text;
        bool stale;  ///< what Poetry is expected to say (checked too, so the oracle is live)
    };
    auto replaced = [&](const std::string& from, const std::string& to) {
        std::string t = original;
        t.replace(t.find(from), from.size(), to);
        return t;
    };
    const Edit edits[] = {
        {"unchanged", original, false},
        {"description (not hashed)", replaced("Démo", "Another démo"), false},
        {"a comment and other quoting (same values)",
         "# hello\n" + replaced("develop = true", "'develop' = true"), false},
        {"develop flag", replaced("develop = true", "develop = false"), true},
        {"an extra", original + "\n[tool.poetry.extras]\n\"caf\xc3\xa9\" = [\"bibliotheque\"]\n",
         true},
        {"a marker with an emoji",
         replaced("develop = true}",
                  "develop = true, markers = "
                  "\"platform_machine != '\xf0\x9f\xa6\x80'\"}"),
         true},
        {"a group made optional",
         replaced(
             "[tool.poetry.group.dev.dependencies]",
             "[tool.poetry.group.dev]\noptional = true\n\n[tool.poetry.group.dev.dependencies]"),
         true},
    };
    for (const Edit& e : edits) {
        put(p.dir() / "pyproject.toml", e.text);
        auto check = p.poetry({"lock", "--check"});
        ASSERT_FALSE(check.timed_out) << e.what;
        const bool poetry_says_fresh = check.exit_code == 0;
        EXPECT_EQ(poetry_says_fresh, !e.stale) << e.what << ": " << check.out << check.err;
        auto project = load_project(p.dir());
        ASSERT_TRUE(project.has_value()) << e.what << ": " << project.error().message;
        auto ours = check_lock_fresh(*project, version);
        EXPECT_EQ(ours.has_value(), poetry_says_fresh)
            << e.what << ": poetry lock --check said " << check.out << check.err
            << (ours ? std::string() : "; we said " + ours.error().message);
        if (!ours) {
            EXPECT_EQ(ours.error().reason, "StaleLock");
            EXPECT_NE(ours.error().message.find("poetry.lock is stale"), std::string::npos);
        }
        // Poetry's own lock for this text is fresh to us as well.
        auto relock = p.poetry({"lock", "--no-update"});
        ASSERT_TRUE(relock.ok()) << e.what << ": " << relock.err << relock.out;
        auto again = load_project(p.dir());
        ASSERT_TRUE(again.has_value()) << again.error().message;
        auto fresh = check_lock_fresh(*again, version);
        EXPECT_TRUE(fresh.has_value()) << e.what << ": " << fresh.error().message;
        put(p.dir() / "pyproject.toml", original);
        ASSERT_TRUE(p.poetry({"lock", "--no-update"}).ok());
    }
}

}  // namespace
}  // namespace poetryops::python

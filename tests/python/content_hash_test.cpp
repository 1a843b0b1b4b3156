// poetry.lock's content-hash recomputed from pyproject.toml the way Poetry does, against real
// pairs written by Poetry 1.3 to 2.4 (testdata/locks/README.md), and the staleness check.
#include <poetryops/python/project.hpp>

#include "python/detail/python_json.hpp"

#include <poetryops/util/fs.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <limits>

#include "support/support.hpp"

namespace poetryops::python {
namespace {

namespace fs = std::filesystem;

fs::path locks_dir() { return test::source_dir() / "tests" / "python" / "testdata" / "locks"; }

std::string read(const fs::path& p) { return read_file(p, 1 << 20).value(); }

/// The pair in `dir`, parsed without the lock/dependency cross-check (the trimmed lock has no
/// packages).
Project pair(const fs::path& dir, const std::string& display) {
    auto p = parse_pyproject(read(dir / "pyproject.toml"), display + "/pyproject.toml");
    EXPECT_TRUE(p.has_value()) << p.error().message;
    auto lock = parse_lock(read(dir / "poetry.lock"), display + "/poetry.lock");
    EXPECT_TRUE(lock.has_value()) << lock.error().message;
    Project out = std::move(p).value();
    out.lock = std::move(lock).value();
    out.has_lock = true;
    out.dir = display;
    return out;
}

TEST(PythonJson, FloatsAsPythonReprWritesThem) {
    // Expected values printed by CPython 3.11's json.dumps.
    const std::pair<double, const char*> cases[] = {
        {1.0, "1.0"},
        {0.1, "0.1"},
        {1e16, "1e+16"},
        {1e15, "1000000000000000.0"},
        {123456789012345678.0, "1.2345678901234568e+17"},
        {0.0001, "0.0001"},
        {0.00001, "1e-05"},
        {1.5e-7, "1.5e-07"},
        {-2.5, "-2.5"},
        {3.14159, "3.14159"},
        {1e22, "1e+22"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {5e-324, "5e-324"},
        {std::numeric_limits<double>::infinity(), "Infinity"},
        {-0.0, "-0.0"},
        {100.0, "100.0"},
        {12345.678, "12345.678"},
    };
    for (const auto& [value, expected] : cases) {
        EXPECT_EQ(detail::python_float_repr(value), expected) << value;
    }
}

TEST(PythonJson, StringsAreEscapedWithEnsureAscii) {
    // json.dumps("a\"b\\c\n\t\x01\x7f é ü 中 🦀 ~")
    EXPECT_EQ(detail::python_json_string("a\"b\\c\n\t\x01\x7f \xc3\xa9 \xc3\xbc \xe4\xb8\xad "
                                         "\xf0\x9f\xa6\x80 ~"),
              R"("a\"b\\c\n\t\u0001\u007f \u00e9 \u00fc \u4e2d \ud83e\udd80 ~")");
}

TEST(PythonJson, TablesSortKeysRecursively) {
    auto doc = toml::parse(R"(b = [1, {z = true, y = 2.0}]
a = "x"
"É" = 1
Z = 2)");
    auto json = detail::python_json_dumps(doc, "t");
    ASSERT_TRUE(json.has_value()) << json.error().message;
    // json.dumps({...}, sort_keys=True): code point order, ", " and ": " separators.
    EXPECT_EQ(*json, R"({"Z": 2, "a": "x", "b": [1, {"y": 2.0, "z": true}], "\u00c9": 1})");

    auto dated = toml::parse("d = 2024-01-02\n");
    auto refused = detail::python_json_dumps(dated, "tool.poetry.dependencies");
    ASSERT_FALSE(refused.has_value());
    EXPECT_NE(refused.error().message.find("tool.poetry.dependencies.d is a TOML date"),
              std::string::npos)
        << refused.error().message;
}

TEST(ContentHash, RecomputesTheHashOfRealLocks) {
    struct Case {
        const char* dir;
        const char* generated_by;
        HashRule rule;  ///< the rule of the Poetry that wrote the hash
    };
    const Case cases[] = {
        {"poetry-2.4.1", "2.4.1", HashRule::poetry2_3},
        {"with-path-dependency-1.4", "1.4.0.dev0", HashRule::poetry1},
        {"extras-1.6.1", "1.6.1", HashRule::poetry1},
        {"nonascii-1.3.2", "", HashRule::poetry1},
    };
    for (const Case& c : cases) {
        Project p = pair(locks_dir() / c.dir, c.dir);
        EXPECT_EQ(p.lock.generated_by, c.generated_by) << c.dir;
        ASSERT_TRUE(p.content_hashes.unavailable.empty()) << p.content_hashes.unavailable;
        EXPECT_EQ(p.content_hashes.of(c.rule), p.lock.content_hash) << c.dir;
        auto fresh = check_lock_fresh(p);
        EXPECT_TRUE(fresh.has_value()) << c.dir << ": " << fresh.error().message;
    }
    // PEP 621: Poetry 1 would hash [tool.poetry] alone, which differs.
    Project poetry = pair(locks_dir() / "poetry-2.4.1", "poetry");
    EXPECT_EQ(poetry.style, Project::Style::pep621);
    EXPECT_NE(poetry.content_hashes.poetry1, poetry.lock.content_hash);
    EXPECT_EQ(poetry.content_hashes.poetry2, poetry.lock.content_hash)
        << "no [dependency-groups]: 2.0-2.2 and 2.3+ agree";

    auto hello = load_project(test::source_dir() / "examples" / "hello");
    ASSERT_TRUE(hello.has_value()) << hello.error().message;
    EXPECT_TRUE(check_lock_fresh(*hello, "1.8.3").has_value());
    EXPECT_TRUE(check_lock_fresh(*hello, "2.1.1").has_value());
}

TEST(ContentHash, NonAsciiValuesAreHashedAsPythonEscapesThem) {
    Project p = pair(locks_dir() / "nonascii-1.3.2", "app");
    // Re-spelling the same TOML (other quoting, key order, a comment) keeps the hash; the
    // non-ASCII path changed by one letter does not.
    std::string text = read(locks_dir() / "nonascii-1.3.2" / "pyproject.toml");
    std::string respelled = "# a comment\n" + text;
    auto q = parse_pyproject(respelled, "pyproject.toml");
    ASSERT_TRUE(q.has_value());
    EXPECT_EQ(q->content_hashes.poetry1, p.lock.content_hash);
    std::string changed = text;
    changed.replace(changed.find("biblioth\xc3\xa8que"), 12, "bibliotheque");
    auto r = parse_pyproject(changed, "pyproject.toml");
    ASSERT_TRUE(r.has_value());
    EXPECT_NE(r->content_hashes.poetry1, p.lock.content_hash);
}

TEST(ContentHash, RulesFollowThePoetryVersion) {
    using R = std::vector<HashRule>;
    EXPECT_EQ(hash_rules_for("1.8.3", ""), R{HashRule::poetry1});
    EXPECT_EQ(hash_rules_for("1.3.2", "2.4.1"), R{HashRule::poetry1});
    EXPECT_EQ(hash_rules_for("2.0.0", ""), R{HashRule::poetry2});
    EXPECT_EQ(hash_rules_for("2.2.1", "1.8.3"), R{HashRule::poetry2});
    EXPECT_EQ(hash_rules_for("2.3.0", "2.3.0"), R{HashRule::poetry2_3});
    EXPECT_EQ(hash_rules_for("2.4.1", "1.8.3"), (R{HashRule::poetry2_3, HashRule::poetry2}));
    EXPECT_EQ(hash_rules_for("2.4.1", ""), R{HashRule::poetry2_3})
        << "Poetry 2.3+ falls back only for a lock naming an older Poetry";
    EXPECT_EQ(hash_rules_for("", "1.8.3").size(), 3u) << "builder not known: any rule";
    EXPECT_EQ(hash_rules_for("preinstalled", "").size(), 3u);
}

TEST(ContentHash, FixtureWithAHandEditedHashIsStaleOnlyForPoetry1) {
    // Upstream rewrote this fixture's hash for Poetry 2 but left "Poetry 1.5.0.dev0" in its header.
    Project p = pair(locks_dir() / "pep621-fixture", "foobar");
    EXPECT_EQ(p.lock.generated_by, "1.5.0.dev0");
    EXPECT_TRUE(check_lock_fresh(p, "2.1.0").has_value());
    EXPECT_TRUE(check_lock_fresh(p, "2.4.1").has_value()) << "2.3+ falls back for a 1.x header";
    EXPECT_TRUE(check_lock_fresh(p).has_value());
    auto stale = check_lock_fresh(p, "1.8.3");
    ASSERT_FALSE(stale.has_value());
    EXPECT_EQ(stale.error().reason, "StaleLock");
    EXPECT_EQ(stale.error().message,
              "foobar/poetry.lock is stale: its content-hash 8f975cfcda1d\u2026 does not match "
              "pyproject.toml (115cf985d932\u2026); run `poetry lock`");
}

TEST(ContentHash, DependencyGroupsCountFromPoetry2_3) {
    const char* text = R"toml([project]
name = "svc"
version = "1.0.0"
requires-python = ">=3.11"
dependencies = ["flask>=3"]

[dependency-groups]
dev = ["pytest>=8"]

[tool.poetry]
package-mode = false
)toml";
    auto p = parse_pyproject(text, "pyproject.toml");
    ASSERT_TRUE(p.has_value()) << p.error().message;
    // Poetry 2.4.1's own Locker._get_content_hash (python-poetry/poetry
    // src/poetry/packages/locker.py at 2.4.1, run on this text) with and without dependency
    // groups; 2.2.1's gives the second.
    EXPECT_EQ(p->content_hashes.poetry2_3,
              "e9ef2287137988ebc7dd1171a1137c3e245abc8bb460ce49dcd4727863b56ef9");
    EXPECT_EQ(p->content_hashes.poetry2,
              "c0b26342c086a591c3e845d83636dea6a7517d473a7d0a17389368fdf48ad29b");
    EXPECT_NE(p->content_hashes.poetry2, p->content_hashes.poetry2_3);
}

TEST(ContentHash, EditsThatMatterMakeTheLockStale) {
    std::string text = read(locks_dir() / "extras-1.6.1" / "pyproject.toml");
    std::string lock = read(locks_dir() / "extras-1.6.1" / "poetry.lock");
    // Outside the hashed keys: still fresh.
    std::string described = text;
    described.replace(described.find("This is a description"), 21, "Another description");
    auto p = parse_project(described, lock, "svc");
    ASSERT_TRUE(p.has_value()) << p.error().message;
    EXPECT_TRUE(check_lock_fresh(*p).has_value());
    // A dependency's constraint: stale, named.
    std::string python = text;
    python.replace(python.find("python = \"*\""), 12, "python = \"^3.12\"");
    auto q = parse_project(python, lock, "svc");
    ASSERT_TRUE(q.has_value()) << q.error().message;
    auto stale = check_lock_fresh(*q, "1.8.3");
    ASSERT_FALSE(stale.has_value());
    EXPECT_EQ(stale.error().kind, Error::Kind::invalid);
    EXPECT_EQ(
        stale.error().message.rfind("svc/poetry.lock is stale: its content-hash 4f4f0f292967", 0),
        0u)
        << stale.error().message;
    EXPECT_NE(stale.error().message.find("run `poetry lock`"), std::string::npos);
}

TEST(ContentHash, MissingLockAndUnhashableValues) {
    auto p = parse_project("[tool.poetry]\nname = \"a\"\nversion = \"1\"\n", std::nullopt, "a");
    ASSERT_TRUE(p.has_value()) << p.error().message;
    EXPECT_FALSE(p->has_lock);
    auto no_lock = check_lock_fresh(*p);
    ASSERT_FALSE(no_lock.has_value());
    EXPECT_EQ(no_lock.error().kind, Error::Kind::not_found);
    EXPECT_EQ(no_lock.error().message, "a/poetry.lock: not found; run `poetry lock` and commit it");

    auto dated = parse_project(
        "[tool.poetry]\nname = \"a\"\nversion = \"1\"\n[tool.poetry.extras]\nwhen = 2024-01-02\n",
        "[metadata]\ncontent-hash = \"00\"\n", "a");
    ASSERT_TRUE(dated.has_value()) << dated.error().message;
    auto refused = check_lock_fresh(*dated);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().reason, "UnhashableValue");
    EXPECT_NE(refused.error().message.find("a/pyproject.toml: cannot compute"), std::string::npos)
        << refused.error().message;
    EXPECT_NE(refused.error().message.find("tool.poetry.extras.when"), std::string::npos);
}

}  // namespace
}  // namespace poetryops::python

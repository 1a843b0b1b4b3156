#pragma once
/// A Poetry project as read from pyproject.toml and poetry.lock (toml++). Supports Poetry 1
/// (`[tool.poetry]`) and Poetry 2 / PEP 621 (`[project]` with `[tool.poetry]` extras).

#include <poetryops/python/version.hpp>
#include <poetryops/util/result.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::python {

/// An importable package shipped by the project: `packages = [{include = "app", from = "src"}]` or
/// inferred.
struct PackageInclude {
    std::string include;  ///< the package (or module) name, e.g. "app"
    std::string from;  ///< the folder holding it, "" for the project root, "src" for the src layout
};

/// A console script: `hello = "app.main:run"`.
struct Script {
    std::string name;
    std::string module;    ///< "app.main"
    std::string function;  ///< "run"
};

/// A dependency on a local folder: `lib = {path = "../lib", develop = true}`.
struct PathDependency {
    std::string name;
    std::string path;   ///< as written, relative to the project dir
    std::string group;  ///< "main" or the group name, e.g. "dev"
    bool develop = false;
};

/// A package index declared in `[[tool.poetry.source]]`.
struct Source {
    std::string name;
    std::string url;
    std::string priority;  ///< "primary", "supplemental", "explicit", ... ("" when unset)
};

struct LockedPackage {
    std::string name;
    std::string version;
    std::string source_type;  ///< "", "directory", "git", "url", "file", "legacy"
    std::string source_url;
};

struct Lock {
    std::string lock_version;  ///< metadata.lock-version
    std::string content_hash;  ///< metadata.content-hash
    std::string python_versions;
    std::vector<LockedPackage> packages;
    /// The Poetry version named by the lock's first line ("# This file is automatically @generated
    /// by Poetry 1.8.3 and ..."): "1.8.3"; "" when it names none (Poetry < 1.4 wrote no version).
    std::string generated_by;
};

/// The rules Poetry versions use to compute poetry.lock's `metadata.content-hash` from
/// pyproject.toml: sha256 of `json.dumps(relevant, sort_keys=True)` where `relevant` is
/// - poetry1 (Poetry 1.x): `[tool.poetry]`'s dependencies, source, extras, dev-dependencies (null
///   when absent) and group (when present);
/// - poetry2 (Poetry 2.0-2.2): the same when `[project]` has none of requires-python, dependencies,
///   optional-dependencies; else {"project": those present, "tool": {"poetry": the [tool.poetry]
///   keys present}};
/// - poetry2_3 (Poetry >= 2.3): poetry2 plus a non-empty `[dependency-groups]` (PEP 735).
/// Read from python-poetry/poetry src/poetry/packages/locker.py at 1.3.2, 1.8.5, 2.0.0, 2.2.1 and
/// 2.4.1 (docs/source.md).
enum class HashRule { poetry1, poetry2, poetry2_3 };

/// The content-hash of a pyproject.toml under each rule (64 lower-case hex characters each).
struct ContentHashes {
    std::string poetry1;
    std::string poetry2;
    std::string poetry2_3;
    /// Why they could not be computed (a TOML date or time in a hashed table: json cannot
    /// serialise it, and Poetry fails too); "" when computed.
    std::string unavailable;
    const std::string& of(HashRule rule) const;
};

struct Project {
    enum class Style { poetry1, pep621 };
    std::filesystem::path dir;
    Style style = Style::poetry1;
    std::string name;             ///< as written
    std::string normalized_name;  ///< PEP 503 normalised ("my_app" -> "my-app")
    Version version;
    std::string version_text;  ///< as written
    bool package_mode = true;  ///< `[tool.poetry] package-mode = false` makes it false
    /// The readme files the package metadata includes, project-relative ([project].readme, a path
    /// or {file = …}; [tool.poetry].readme, a path or a list); a readme given as text is none.
    std::vector<std::string> readmes;
    /// A Poetry build script ([tool.poetry.build] or `build = "build.py"`): installing the project
    /// runs it, so it needs the code.
    bool build_script = false;
    /// explicit, or inferred (name/ or src/name/ or name.py)
    std::vector<PackageInclude> packages;
    std::vector<Script> scripts;
    /// Dependency group -> dependency names. "main" holds [project.dependencies] /
    /// [tool.poetry.dependencies] (without "python"); other groups from
    /// [tool.poetry.group.X.dependencies] and the legacy dev-dependencies.
    std::map<std::string, std::vector<std::string>> groups;
    std::vector<PathDependency> path_dependencies;
    std::string requires_python;  ///< e.g. ">=3.11,<4.0" or "^3.11" ("" when unset)
    std::vector<Source> sources;
    Lock lock;
    /// False when the project was parsed without a poetry.lock (parse_project() with nullopt).
    bool has_lock = false;
    /// What each Poetry version would write as the lock's content-hash for this pyproject.toml.
    ContentHashes content_hashes;

    /// Groups other than "main" (what `--only main` leaves out).
    std::vector<std::string> non_main_groups() const;
    /// The lowest X.Y that requires_python allows, or "" when it says nothing usable. Understands
    /// Poetry's and PEP 440's forms: "^3.11", "~3.11", "~=3.11", ">=3.11,<4.0", ">=3.11 <4",
    /// "3.11.*", "==3.11", and "||" between alternatives (the lowest alternative wins).
    std::string minimum_python() const;
};

/// Reads DIR/pyproject.toml and DIR/poetry.lock. Errors (Error::Kind::decode / invalid / not_found)
/// name the file, the line when known, and the problem: missing or malformed files, a non-Poetry
/// project, no version, an invalid PEP 440 version, a lock that does not match the project (a
/// main-group dependency missing from the lock, or a path dependency the lock does not know).
Result<Project> load_project(const std::filesystem::path& dir);

/// The one parser behind load_project(): pyproject.toml text and, when there is one, poetry.lock
/// text, e.g. as read from a git commit. `dir` names the project in errors ("services/api" gives
/// "services/api/pyproject.toml:3: ...") and becomes Project::dir. Checks that the lock belongs to
/// the project (every dependency locked, path dependencies locked as directories) but touches no
/// file system: packages are not inferred, path dependency folders are not checked, and a missing
/// lock is not an error (has_lock is false). Lock staleness is check_lock_fresh().
Result<Project> parse_project(std::string_view pyproject, std::optional<std::string_view> lock,
                              const std::filesystem::path& dir);

/// The hash rules a Poetry version accepts for a lock generated by `lock_generated_by` (Lock::
/// generated_by), as Poetry's Locker.is_fresh() decides: 1.x poetry1; 2.0-2.2 poetry2; >= 2.3
/// poetry2_3, and poetry2 too when the lock was generated by a Poetry older than 2.3.
/// `poetry_version` "" (or not a version, e.g. "preinstalled"): every rule, so only a lock that no
/// Poetry version would accept is stale.
std::vector<HashRule> hash_rules_for(std::string_view poetry_version,
                                     std::string_view lock_generated_by);

/// Error::Kind::invalid (reason "StaleLock") when the lock's content-hash matches none of the
/// hashes `poetry_version` accepts (hash_rules_for()): "DIR/poetry.lock is stale: its content-hash
/// 0123456789ab… does not match pyproject.toml (fedcba987654…); run `poetry lock`" — Poetry
/// refuses to install from such a lock. not_found (NoLock) without a lock; invalid
/// (UnhashableValue) when the hash cannot be computed.
Result<void> check_lock_fresh(const Project& project, std::string_view poetry_version = "");

/// Reads pyproject.toml text only (no lock); `file` is used in error messages.
Result<Project> parse_pyproject(std::string_view text, const std::string& file);
/// Reads poetry.lock text; `file` is used in error messages.
Result<Lock> parse_lock(std::string_view text, const std::string& file);

/// PEP 503 name normalisation: lower case, runs of [-_.] become '-'.
std::string normalize_name(std::string_view name);
/// The importable module name Poetry derives from a project name: normalised, '-' -> '_' ("My.App"
/// -> "my_app").
std::string module_name(std::string_view name);

}  // namespace poetryops::python

#pragma once
/// A Poetry project as read from pyproject.toml and poetry.lock (toml++). Supports Poetry 1
/// (`[tool.poetry]`) and Poetry 2 / PEP 621 (`[project]` with `[tool.poetry]` extras).

#include <poetryops/python/version.hpp>
#include <poetryops/util/result.hpp>

#include <filesystem>
#include <map>
#include <string>
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

// poetry.lock reading, and load_project(): pyproject.toml + poetry.lock + the checks that they
// belong together.
#include <poetryops/python/project.hpp>

#include "python/detail/toml_read.hpp"

#include <poetryops/util/fs.hpp>

#include <algorithm>
#include <system_error>

namespace poetryops::python {
namespace {

using detail::FieldReader;

bool is_dir(const std::filesystem::path& p) {
    std::error_code ec;
    return std::filesystem::is_directory(p, ec);
}
bool is_file(const std::filesystem::path& p) {
    std::error_code ec;
    return std::filesystem::is_regular_file(p, ec);
}

/// Poetry's package discovery when `packages` is not given: NAME/, src/NAME/, NAME.py or
/// src/NAME.py, where NAME is the normalised project name with '-' -> '_'.
Result<void> infer_packages(Project& p, const std::string& file) {
    const std::string mod = module_name(p.name);
    for (const char* from : {"", "src"}) {
        std::filesystem::path base = p.dir / from;
        if (is_dir(base / mod) || is_file(base / (mod + ".py"))) {
            p.packages.push_back(PackageInclude{mod, from});
            return ok();
        }
    }
    return fail(Error::Kind::invalid,
                file + ": no package found for \"" + p.name + "\": expected " + mod + "/, src/" +
                    mod + "/ or " + mod +
                    ".py next to pyproject.toml (or list them in tool.poetry.packages)",
                "NoPackage");
}

Result<void> check_lock_matches(const Project& p, const std::string& lock_file) {
    auto find = [&](const std::string& name) -> const LockedPackage* {
        std::string n = normalize_name(name);
        for (const LockedPackage& pkg : p.lock.packages) {
            if (normalize_name(pkg.name) == n) return &pkg;
        }
        return nullptr;
    };
    for (const auto& [group, deps] : p.groups) {
        for (const std::string& dep : deps) {
            if (!find(dep)) {
                return fail(Error::Kind::invalid,
                            lock_file + ": does not match pyproject.toml: dependency \"" + dep +
                                "\" (group " + group + ") is not locked; run `poetry lock`",
                            "LockMismatch");
            }
        }
    }
    for (const PathDependency& d : p.path_dependencies) {
        const LockedPackage* pkg = find(d.name);
        if (!pkg || (pkg->source_type != "directory" && pkg->source_type != "file")) {
            return fail(Error::Kind::invalid,
                        lock_file + ": does not match pyproject.toml: path dependency \"" + d.name +
                            "\" (" + d.path +
                            ") is not locked as a directory package; run `poetry lock`",
                        "LockMismatch");
        }
    }
    return ok();
}

}  // namespace

Result<Lock> parse_lock(std::string_view text, const std::string& file) {
    POETRYOPS_TRY(toml::table doc, detail::parse_toml(text, file));
    FieldReader top(file, &doc, "");
    Lock lock;
    const toml::table* meta = top.table("metadata");
    if (top.failed()) return top.error();
    if (!meta) {
        return fail(Error::Kind::invalid, file + ": no [metadata] table: not a Poetry lock file",
                    "NotPoetryLock");
    }
    FieldReader m(file, meta, "metadata");
    lock.lock_version = m.string("lock-version").value_or("");
    lock.content_hash = m.string("content-hash").value_or("");
    lock.python_versions = m.string("python-versions").value_or("");
    if (m.failed()) return m.error();
    if (lock.content_hash.empty()) {
        return fail(Error::Kind::invalid,
                    detail::where(file, meta) + ": metadata.content-hash is missing",
                    "NotPoetryLock");
    }
    if (const toml::array* packages = top.array("package")) {
        for (const toml::node& el : *packages) {
            auto t = el.as_table();
            if (!t) {
                top.invalid(&el, "package entries must be tables ([[package]])");
                break;
            }
            FieldReader r(file, t, "package");
            LockedPackage pkg;
            pkg.name = r.string("name").value_or("");
            pkg.version = r.string("version").value_or("");
            if (const toml::table* source = r.table("source")) {
                FieldReader s(file, source, "package.source");
                pkg.source_type = s.string("type").value_or("");
                pkg.source_url = s.string("url").value_or("");
                if (s.failed()) return s.error();
            }
            if (r.failed()) return r.error();
            if (pkg.name.empty() || pkg.version.empty()) {
                return fail(Error::Kind::invalid,
                            detail::where(file, t) + ": a [[package]] has no name or version",
                            "InvalidLock");
            }
            lock.packages.push_back(std::move(pkg));
        }
    }
    if (top.failed()) return top.error();
    return lock;
}

Result<Project> load_project(const std::filesystem::path& dir) {
    const std::filesystem::path pyproject = dir / "pyproject.toml";
    const std::filesystem::path lockfile = dir / "poetry.lock";
    if (!is_file(pyproject)) {
        return fail(Error::Kind::not_found,
                    pyproject.string() + ": not found (is " + dir.string() +
                        " a Poetry project directory?)",
                    "NoPyproject");
    }
    POETRYOPS_TRY(std::string text, read_file(pyproject, 4 * 1024 * 1024));
    POETRYOPS_TRY(Project p, parse_pyproject(text, pyproject.string()));
    p.dir = dir;
    if (p.packages.empty() && p.package_mode) {
        POETRYOPS_TRY_VOID(infer_packages(p, pyproject.string()));
    }
    for (const PathDependency& d : p.path_dependencies) {
        std::error_code ec;
        if (!std::filesystem::exists(dir / d.path, ec)) {
            return fail(Error::Kind::not_found,
                        pyproject.string() + ": path dependency \"" + d.name + "\" (group " +
                            d.group + ") points to " + d.path + ", which does not exist",
                        "NoPathDependency");
        }
    }
    if (!is_file(lockfile)) {
        return fail(Error::Kind::not_found,
                    lockfile.string() + ": not found; run `poetry lock` and commit it", "NoLock");
    }
    POETRYOPS_TRY(std::string lock_text, read_file(lockfile, 64 * 1024 * 1024));
    POETRYOPS_TRY(p.lock, parse_lock(lock_text, lockfile.string()));
    POETRYOPS_TRY_VOID(check_lock_matches(p, lockfile.string()));
    return p;
}

}  // namespace poetryops::python

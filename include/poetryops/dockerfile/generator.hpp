#pragma once
/// Generates a multi-stage Dockerfile and a .dockerignore for a Poetry project that meet every rule
/// of docs/dockerfile.md (and lint clean). Deterministic: the same project and options give the
/// same bytes.

#include <poetryops/python/project.hpp>
#include <poetryops/util/result.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace poetryops::dockerfile {

/// Poetry pinned when the user gives no --poetry.
inline constexpr const char* kDefaultPoetryVersion = "2.2.1";
/// poetry-plugin-export pinned for --installer uv with Poetry >= 2 (Poetry 1.2-1.8 bundle `poetry
/// export`).
inline constexpr const char* kDefaultExportPluginVersion = "1.9.0";
/// uv pinned for --installer uv.
inline constexpr const char* kDefaultUvVersion = "0.8.0";
/// Python used when neither --python nor requires-python gives one.
inline constexpr const char* kDefaultPython = "3.12";

enum class Installer { poetry, uv };
enum class Init { tini, none };

struct GenerateOptions {
    /// "X.Y"; "" = the lowest version requires-python allows, else kDefaultPython
    std::string python;
    std::string build_image;    ///< "" = python:X.Y-slim
    std::string runtime_image;  ///< "" = python:X.Y-slim
    /// a version, or "preinstalled" (Poetry is in the build image)
    std::string poetry = kDefaultPoetryVersion;
    Installer installer = Installer::poetry;
    /// argv of the app; empty = first script, else `python -m <package>`
    std::vector<std::string> command;
    long uid = 10001;                       ///< numeric uid and gid of the runtime user (not 0)
    std::vector<std::string> apt_packages;  ///< extra Debian packages for the runtime stage
    Init init = Init::tini;  ///< tini from apt as PID 1, or none (the platform provides one)
};

struct GeneratedFiles {
    std::string dockerfile;
    std::string dockerignore;
};

/// Builds both files. Errors (Error::Kind::invalid) name the option or project field at fault: a
/// bad --python, image reference, Poetry version, uid or apt package name; a main-group path
/// dependency outside the project directory (the build context); no command to run; --installer uv
/// with private sources.
Result<GeneratedFiles> generate(const python::Project& project, const GenerateOptions& options);

/// Splits a `--command` string into argv with shell-like quoting ("a 'b c'" -> {"a", "b c"}).
/// Error::Kind::invalid on an unterminated quote.
Result<std::vector<std::string>> split_command(std::string_view text);

/// The env-var stem Poetry reads credentials from for a source: "my-repo" ->
/// "POETRY_HTTP_BASIC_MY_REPO".
std::string poetry_credentials_env(std::string_view source_name);

}  // namespace poetryops::dockerfile

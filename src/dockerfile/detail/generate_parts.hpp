#pragma once
// Private pieces of the generator shared between its translation units.

#include <poetryops/dockerfile/generator.hpp>

#include <string>
#include <vector>

namespace poetryops::dockerfile::detail {

/// A main- or dev-group path dependency, normalised relative to the project dir ("lib",
/// "../tools").
struct PathDep {
    std::string path;
    bool inside = true;  ///< inside the project dir (the build context)
};

/// The project facts the Dockerfile and the .dockerignore are made from, validated.
struct Plan {
    std::vector<PathDep> main_path_deps;  ///< sorted; all inside the context
    /// sorted; only-dev (a path dep in main is not listed here)
    std::vector<PathDep> dev_path_deps;
    /// top-level dirs/files of the project's packages (sorted), e.g. "src"
    std::vector<std::string> code_dirs;
    /// the packages as paths in the project: "src/app" (a package folder) or "app.py" (a module),
    /// sorted; what the project install needs to exist (see generate(): stand-ins)
    std::vector<std::string> package_paths;
    bool code_known = true;  ///< false: copy all of /app (globbed or no packages)
};

/// The .dockerignore text for a plan.
std::string render_dockerignore(const Plan& plan);

}  // namespace poetryops::dockerfile::detail

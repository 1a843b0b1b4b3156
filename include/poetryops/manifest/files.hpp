#pragma once
/// The file/folder layer over the pure edit core: walks `*.yaml`/`*.yml`, refuses paths that escape
/// the root, computes every edit before writing any (a refusal anywhere leaves every file
/// untouched), writes atomically, and renders `--dry-run` unified diffs.

#include <poetryops/manifest/edit.hpp>
#include <poetryops/util/result.hpp>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::manifest {

/// What happened to one file.
struct FileOutcome {
    enum class Status { changed, unchanged, no_match, skipped };
    std::filesystem::path path;  ///< as found under the given path
    Status status = Status::no_match;
    std::vector<Change> changes;
    std::string diff;    ///< unified diff (dry runs and changed files)
    std::string reason;  ///< for skipped entries: why (never silent)
};

struct PathOptions {
    Kind kind = Kind::auto_detect;
    bool dry_run = false;  ///< compute and diff, write nothing
    /// files must resolve inside it; empty → PATH (a folder) or PATH's folder
    std::filesystem::path root;
    Limits limits;
};

/// The outcome for a whole PATH.
struct PathReport {
    std::vector<FileOutcome> files;
    /// files that hold the reference now (changed or unchanged)
    std::size_t matched_files() const;
    std::size_t changed_files() const;
};

/// Applies set_image to a file or to every *.yaml/*.yml under a folder (hidden folders such as .git
/// are skipped and reported). Errors name the file, the line and the reason; on any error nothing
/// is written.
Result<PathReport> set_image_in_path(const std::filesystem::path& path,
                                     const SetImageRequest& request,
                                     const PathOptions& options = {});

/// A unified diff (3 lines of context) between two texts, with "--- a/<name>" / "+++ b/<name>"
/// headers; empty when they are equal.
std::string unified_diff(std::string_view before, std::string_view after, std::string_view name);

}  // namespace poetryops::manifest

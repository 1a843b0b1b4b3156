#pragma once
/// Temporary files and folders named after the process that made them (MARKER<pid>-…: an atomic
/// write's ".NAME.tmp-<pid>-XXXXXX", git's private "poetryops-git-<pid>-XXXXXX"), so that a later
/// process removes what a killed one left, and never what a live one still uses.

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops {

/// MARKER followed by this process's id: the start (or middle) of a temporary name it owns.
std::string owned_temp_marker(std::string_view marker);

/// Removes the entries of `dir` (files, or folders with what they hold) whose name holds one of
/// `markers` followed by "<pid>-" where no process <pid> is running (/proc/<pid> is absent).
/// Names without a pid (another program's, or an older poetryops's) are left. Best effort: what
/// cannot be removed stays. How many were removed.
std::size_t remove_stale_temps(const std::filesystem::path& dir,
                               const std::vector<std::string>& markers);

}  // namespace poetryops

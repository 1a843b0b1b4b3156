#pragma once
/// File helpers: whole-file reads with a size limit and atomic writes (temp file in the same folder
/// + fsync + rename), so a reader or a crash never sees a half-written file.

#include <poetryops/util/result.hpp>

#include <filesystem>
#include <string>
#include <string_view>

namespace poetryops {

/// Reads a whole file. Errors name the path: not_found, or internal for permission and I/O
/// problems, invalid when it is larger than max_bytes.
Result<std::string> read_file(const std::filesystem::path& path,
                              std::size_t max_bytes = 64 * 1024 * 1024);

/// Writes `data` to `path` atomically. `mode` applies to a new file; an existing file keeps its
/// mode.
Result<void> write_file_atomic(const std::filesystem::path& path, std::string_view data,
                               unsigned mode = 0644);

/// A fresh directory under $TMPDIR (or /tmp) removed recursively by the destructor unless keep()
/// was called.
class TempDir {
public:
    explicit TempDir(std::string_view prefix = "poetryops");
    TempDir(TempDir&& other) noexcept;
    TempDir& operator=(TempDir&&) = delete;
    TempDir(const TempDir&) = delete;
    ~TempDir();
    const std::filesystem::path& path() const { return path_; }
    void keep() { keep_ = true; }

private:
    std::filesystem::path path_;
    bool keep_ = false;
};

}  // namespace poetryops

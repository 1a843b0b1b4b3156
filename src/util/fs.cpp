#include <poetryops/util/fs.hpp>

#include <poetryops/util/stale.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>

namespace poetryops {

namespace fs = std::filesystem;

Result<std::string> read_file(const fs::path& path, std::size_t max_bytes) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        auto kind = e == ENOENT ? Error::Kind::not_found : Error::Kind::internal;
        return fail(kind, path.string() + ": " + std::strerror(e));
    }
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        ::close(fd);
        return fail(Error::Kind::invalid, path.string() + ": is a directory, not a file");
    }
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            ::close(fd);
            return fail(Error::Kind::internal,
                        path.string() + ": read failed: " + std::strerror(e));
        }
        if (n == 0) break;
        if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
            ::close(fd);
            return fail(Error::Kind::invalid, path.string() + ": larger than the limit of " +
                                                  std::to_string(max_bytes) + " bytes");
        }
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

Result<void> write_file_atomic(const fs::path& path, std::string_view data, unsigned mode) {
    fs::path dir = path.parent_path();
    if (dir.empty()) dir = ".";
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) mode = st.st_mode & 07777;
    // Named after this process, so that a later one removes it if this one is killed here.
    std::string tmpl =
        (dir / ("." + path.filename().string() + owned_temp_marker(".tmp-") + "-XXXXXX")).string();
    int fd = ::mkstemp(tmpl.data());
    if (fd < 0) {
        int e = errno;
        return fail(Error::Kind::internal,
                    "cannot write " + path.string() + ": " + std::strerror(e));
    }
    auto cleanup_fail = [&](const char* what, int e) -> Result<void> {
        ::close(fd);
        ::unlink(tmpl.c_str());
        return fail(Error::Kind::internal,
                    "cannot write " + path.string() + ": " + what + ": " + std::strerror(e));
    };
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return cleanup_fail("write", errno);
        }
        off += static_cast<std::size_t>(n);
    }
    if (::fchmod(fd, mode) != 0) return cleanup_fail("chmod", errno);
    if (::fsync(fd) != 0) return cleanup_fail("fsync", errno);
    if (::close(fd) != 0) {
        int e = errno;
        ::unlink(tmpl.c_str());
        return fail(Error::Kind::internal,
                    "cannot write " + path.string() + ": close: " + std::strerror(e));
    }
    if (::rename(tmpl.c_str(), path.c_str()) != 0) {
        int e = errno;
        ::unlink(tmpl.c_str());
        return fail(Error::Kind::internal,
                    "cannot write " + path.string() + ": rename: " + std::strerror(e));
    }
    return ok();
}

TempDir::TempDir(std::string_view prefix) {
    const char* base = std::getenv("TMPDIR");
    fs::path root = base && *base ? fs::path(base) : fs::path("/tmp");
    std::string tmpl = (root / (std::string(prefix) + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
        // Fall back to a random name; a failing temp dir is an environment problem the caller will
        // see on first use.
        std::random_device rd;
        tmpl = (root / (std::string(prefix) + "-" + std::to_string(rd()))).string();
        fs::create_directories(tmpl);
    }
    path_ = tmpl;
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)), keep_(other.keep_) {
    other.path_.clear();
}

TempDir::~TempDir() {
    if (keep_ || path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
}

}  // namespace poetryops

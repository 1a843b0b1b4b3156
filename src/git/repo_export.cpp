// Materialising a folder of a commit into a directory (the build context of `poetryops build`),
// without a checkout: trees read in-process level by level, missing blobs fetched in one request.
#include <poetryops/git/repo.hpp>

#include "git/detail/cat_file.hpp"
#include "git/detail/objects.hpp"

#include <poetryops/util/strings.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

namespace poetryops::git {

using detail::SharedTree;
using detail::TreeEntry;

namespace {

namespace fs = std::filesystem;

/// Writes a new file (never through a link, never over an existing one) with exactly `mode`,
/// whatever the umask: the same commit gives the same context on every machine. No fsync and no
/// rename: the folder is fresh, and a crash leaves an export nobody uses.
Result<void> write_new_file(const fs::path& path, std::string_view data, mode_t mode) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        return fail(Error::Kind::internal,
                    "cannot create " + path.string() + ": " + std::strerror(errno));
    }
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int err = errno;
            ::close(fd);
            return fail(Error::Kind::internal,
                        "cannot write " + path.string() + ": " + std::strerror(err));
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fchmod(fd, mode) != 0 || ::close(fd) != 0) {
        return fail(Error::Kind::internal,
                    "cannot write " + path.string() + ": " + std::strerror(errno));
    }
    return ok();
}

Result<void> make_dir(const fs::path& path) {
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
        return fail(Error::Kind::internal,
                    "cannot create " + path.string() + ": " + std::strerror(errno));
    }
    if (::chmod(path.c_str(), 0755) != 0) {
        return fail(Error::Kind::internal,
                    "cannot create " + path.string() + ": " + std::strerror(errno));
    }
    return ok();
}

/// A name git would refuse to check out (and that could leave `dest`).
bool unsafe_name(const std::string& name) {
    return name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
           name.find('\\') != std::string::npos || str::iequals(name, ".git");
}

}  // namespace

Result<ExportStats> Repo::export_tree(const std::string& commit, const std::string& path,
                                      const std::filesystem::path& dest) {
    if (!detail::is_object_id(commit)) {
        return fail(Error::Kind::invalid, "git " + display_url_ + ": not a commit id: " + commit,
                    "InvalidCommit");
    }
    POETRYOPS_TRY(std::string folder, folder_path(path));
    const std::string shown = folder.empty() ? std::string(".") : folder;
    std::error_code ec;
    if (fs::exists(fs::symlink_status(dest, ec))) {
        if (!fs::is_directory(fs::symlink_status(dest, ec)) || !fs::is_empty(dest, ec)) {
            return fail(
                Error::Kind::invalid,
                "export of '" + shown + "': " + dest.string() + " is not an empty directory",
                "InvalidPath");
        }
    } else {
        fs::create_directories(dest, ec);
        if (ec) {
            return fail(Error::Kind::internal,
                        "cannot create " + dest.string() + ": " + ec.message());
        }
    }
    POETRYOPS_TRY_VOID(ensure_initialized());
    auto guard = lock();

    // The folder's tree: the commit's root tree, then one component at a time.
    POETRYOPS_TRY(std::string oid, root_tree(commit));
    std::string walked;
    for (const auto& part : folder.empty() ? std::vector<std::string>{} : str::split(folder, '/')) {
        POETRYOPS_TRY(SharedTree tree, tree_by_id(oid, walked));
        walked += (walked.empty() ? "" : "/") + part;
        auto e = tree->find(part);
        if (e == tree->end()) {
            return fail(Error::Kind::not_found,
                        "git " + display_url_ + ": no folder '" + shown + "' at commit " + commit,
                        "PathNotFound");
        }
        if (!e->second.is_tree()) {
            return fail(Error::Kind::invalid,
                        "git " + display_url_ + ": '" + walked + "' at commit " + commit + " is " +
                            (e->second.is_symlink()   ? "a symbolic link"
                             : e->second.is_gitlink() ? "a submodule"
                                                      : "a file") +
                            ", not a folder",
                        "InvalidPath");
        }
        oid = e->second.oid;
    }

    struct Blob {
        std::string oid, rel;
        bool executable = false, symlink = false;
    };
    std::vector<Blob> blobs;
    ExportStats stats;
    // Level by level: every tree of a level missing from the object cache in one cat-file request.
    std::vector<std::pair<std::string, std::string>> level = {{"", oid}};  // (relative dir, id)
    while (!level.empty()) {
        std::vector<std::string> missing;
        for (const auto& [rel, id] : level) {
            if (!objects_->parsed_tree(id) && !objects_->get(id)) missing.push_back(id);
        }
        if (!missing.empty()) {
            std::vector<detail::BatchObject> answers;
            POETRYOPS_TRY_VOID(cat_file(missing, answers));
            for (std::size_t k = 0; k < answers.size(); ++k) {
                if (!answers[k].missing && answers[k].type == "tree")
                    objects_->put(missing[k], std::move(answers[k].content));
            }
        }
        std::vector<std::pair<std::string, std::string>> next;
        for (const auto& [rel, id] : level) {
            const std::string repo_path =
                folder.empty() ? rel : (rel.empty() ? folder : folder + "/" + rel);
            POETRYOPS_TRY(SharedTree tree, tree_by_id(id, repo_path.empty() ? "." : repo_path));
            for (const auto& [name, entry] : *tree) {
                const std::string child = rel.empty() ? name : rel + "/" + name;
                if (unsafe_name(name)) {
                    return fail(Error::Kind::invalid,
                                "git " + display_url_ + ": commit " + commit +
                                    " has an entry named '" + name + "' in '" +
                                    (repo_path.empty() ? "." : repo_path) +
                                    "', which git would not check out",
                                "InvalidPath");
                }
                if (entry.is_tree()) {
                    POETRYOPS_TRY_VOID(make_dir(dest / child));
                    ++stats.directories;
                    next.emplace_back(child, entry.oid);
                } else if (entry.is_gitlink()) {
                    // A submodule: an empty folder, as a checkout without --recurse-submodules.
                    POETRYOPS_TRY_VOID(make_dir(dest / child));
                    ++stats.directories;
                } else {
                    blobs.push_back({entry.oid, child, entry.mode == "100755", entry.is_symlink()});
                }
            }
        }
        level = std::move(next);
    }

    // Every blob the clone lacks, in one fetch; then read and written a bounded batch at a time.
    std::vector<std::string> fetch;
    std::set<std::string> seen;
    for (const auto& b : blobs) {
        if (seen.insert(b.oid).second && !objects_->get(b.oid) && !present_blobs_.count(b.oid))
            fetch.push_back(b.oid);
    }
    if (!fetch.empty()) POETRYOPS_TRY_VOID(ensure_blobs(fetch));
    constexpr std::size_t kBatch = 256;
    for (std::size_t start = 0; start < blobs.size(); start += kBatch) {
        std::size_t end = std::min(blobs.size(), start + kBatch);
        std::vector<std::string> oids, names;
        for (std::size_t k = start; k < end; ++k) {
            oids.push_back(blobs[k].oid);
            names.push_back(folder.empty() ? blobs[k].rel : folder + "/" + blobs[k].rel);
        }
        POETRYOPS_TRY(auto contents, read_blobs(oids, names));
        for (std::size_t k = start; k < end; ++k) {
            const Blob& b = blobs[k];
            const std::string& content = contents[k - start];
            const fs::path target = dest / b.rel;
            if (b.symlink) {
                if (content.empty() || content.find('\0') != std::string::npos) {
                    return fail(Error::Kind::invalid,
                                "git " + display_url_ + ": symbolic link '" + names[k - start] +
                                    "' at commit " + commit + " has no usable target",
                                "InvalidPath");
                }
                fs::create_symlink(content, target, ec);
                if (ec) {
                    return fail(Error::Kind::internal,
                                "cannot create " + target.string() + ": " + ec.message());
                }
                ++stats.symlinks;
            } else {
                POETRYOPS_TRY_VOID(write_new_file(target, content, b.executable ? 0755 : 0644));
                ++stats.files;
                stats.bytes += content.size();
            }
        }
    }
    return stats;
}

}  // namespace poetryops::git

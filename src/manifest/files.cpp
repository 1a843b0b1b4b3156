#include <poetryops/manifest/files.hpp>

#include <poetryops/util/fs.hpp>

#include <algorithm>
#include <map>
#include <system_error>

namespace poetryops::manifest {
namespace fs = std::filesystem;

namespace {

bool is_yaml(const fs::path& p) {
    std::string ext = p.extension().string();
    return ext == ".yaml" || ext == ".yml";
}

bool inside(const fs::path& root, const fs::path& p) {
    auto r = root.begin(), q = p.begin();
    for (; r != root.end(); ++r, ++q) {
        if (q == p.end() || *r != *q) return false;
    }
    return true;
}

Unexpected file_error(const fs::path& p, Error e) {
    e.message = p.string() + ": " + e.message;
    return fail(std::move(e));
}

struct Pending {
    FileOutcome outcome;
    fs::path real;  // the file actually written (a symlink's target)
    std::string new_text;
};

}  // namespace

std::size_t PathReport::matched_files() const {
    return std::count_if(files.begin(), files.end(), [](const FileOutcome& f) {
        return f.status == FileOutcome::Status::changed ||
               f.status == FileOutcome::Status::unchanged;
    });
}

std::size_t PathReport::changed_files() const {
    return std::count_if(files.begin(), files.end(), [](const FileOutcome& f) {
        return f.status == FileOutcome::Status::changed;
    });
}

Result<PathReport> set_image_in_path(const fs::path& path, const SetImageRequest& request,
                                     const PathOptions& options) {
    std::error_code ec;
    auto st = fs::symlink_status(path, ec);
    if (ec || !fs::exists(st)) {
        return fail(Error::Kind::not_found, path.string() + ": no such file or folder", "NotFound");
    }
    bool folder = fs::is_directory(fs::status(path, ec));
    fs::path root_in = !options.root.empty() ? options.root : folder ? path : path.parent_path();
    if (root_in.empty()) root_in = ".";
    fs::path root = fs::canonical(root_in, ec);
    if (ec) return fail(Error::Kind::not_found, root_in.string() + ": " + ec.message(), "NotFound");

    // Candidates in a stable order; each checked against the root before anything is read.
    std::vector<fs::path> candidates;
    PathReport report;
    if (folder) {
        fs::path real_dir = fs::canonical(path, ec);
        if (ec || !inside(root, real_dir)) {
            return fail(Error::Kind::invalid,
                        path.string() + ": folder resolves outside " + root.string(), "PathEscape");
        }
        fs::recursive_directory_iterator it(path, fs::directory_options::none, ec), end;
        if (ec) return fail(Error::Kind::internal, path.string() + ": " + ec.message(), "Io");
        for (; it != end; it.increment(ec)) {
            if (ec) return fail(Error::Kind::internal, path.string() + ": " + ec.message(), "Io");
            const fs::path& p = it->path();
            std::string fname = p.filename().string();
            if (it->is_symlink(ec) && it->is_directory(ec)) {
                report.files.push_back(
                    {p, FileOutcome::Status::skipped, {}, {}, "symlinked folder not followed"});
                continue;
            }
            if (it->is_directory(ec)) {
                if (!fname.empty() && fname[0] == '.') {
                    report.files.push_back(
                        {p, FileOutcome::Status::skipped, {}, {}, "hidden folder"});
                    it.disable_recursion_pending();
                }
                continue;
            }
            if (is_yaml(p)) candidates.push_back(p);
        }
        std::sort(candidates.begin(), candidates.end());
    } else {
        candidates.push_back(path);
    }

    // Every path is checked against the root before any file is read.
    std::vector<fs::path> reals;
    for (const fs::path& p : candidates) {
        fs::path real = fs::canonical(p, ec);
        if (ec) return file_error(p, Error::make(Error::Kind::not_found, ec.message(), "NotFound"));
        if (!inside(root, real)) {
            return file_error(p, Error::make(Error::Kind::invalid,
                                             "resolves to " + real.string() + ", outside " +
                                                 root.string() + "; refusing to follow it",
                                             "PathEscape"));
        }
        reals.push_back(std::move(real));
    }

    std::vector<Pending> pending;
    // real path → index in pending (a file reached twice is edited once)
    std::map<fs::path, std::size_t> seen;
    for (std::size_t c = 0; c < candidates.size(); ++c) {
        const fs::path& p = candidates[c];
        const fs::path& real = reals[c];
        if (!fs::is_regular_file(real, ec)) {
            report.files.push_back({p, FileOutcome::Status::skipped, {}, {}, "not a regular file"});
            continue;
        }
        if (seen.count(real) != 0) {
            report.files.push_back({p,
                                    FileOutcome::Status::skipped,
                                    {},
                                    {},
                                    "same file as " + pending[seen[real]].outcome.path.string()});
            continue;
        }
        auto text = read_file(real, options.limits.max_bytes);
        if (!text) return file_error(p, std::move(text).error());
        auto edit = set_image(*text, request, options.kind, options.limits);
        if (!edit) return file_error(p, std::move(edit).error());
        Pending pd;
        pd.outcome.path = p;
        pd.real = real;
        pd.outcome.status = edit->matched == 0 ? FileOutcome::Status::no_match
                            : edit->changed()  ? FileOutcome::Status::changed
                                               : FileOutcome::Status::unchanged;
        pd.outcome.changes = edit->changes;
        if (edit->changed()) {
            // Diff names relative to the root, like git's a/ and b/ paths.
            fs::path shown = p.lexically_relative(root_in);
            if (shown.empty() || *shown.begin() == "..") shown = p;
            pd.outcome.diff = unified_diff(*text, edit->new_text, shown.generic_string());
            pd.new_text = std::move(edit->new_text);
        }
        seen[real] = pending.size();
        pending.push_back(std::move(pd));
    }
    // Every edit computed and accepted: only now touch the files.
    for (Pending& pd : pending) {
        if (pd.outcome.status == FileOutcome::Status::changed && !options.dry_run) {
            auto w = write_file_atomic(pd.real, pd.new_text);
            if (!w) return file_error(pd.outcome.path, std::move(w).error());
        }
        report.files.push_back(std::move(pd.outcome));
    }
    return report;
}

}  // namespace poetryops::manifest

// Repo: writing commits with plumbing, pushing, trailer lookup, and the cache of clones.
#include <poetryops/git/repo.hpp>

#include "git/detail/objects.hpp"
#include "git/detail/runner.hpp"
#include "git/detail/smart_http.hpp"

#include <poetryops/util/fs.hpp>
#include <poetryops/util/log.hpp>
#include <poetryops/util/stale.hpp>
#include <poetryops/util/strings.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <set>

namespace poetryops::git {

using detail::Tree;
using detail::TreeEntry;

namespace {

std::string parent_dir(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

std::string base_name(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::size_t depth(const std::string& dir) {
    return dir.empty() ? 0 : 1 + static_cast<std::size_t>(std::count(dir.begin(), dir.end(), '/'));
}

}  // namespace

Result<std::string> Repo::write_commit(const std::string& parent,
                                       const std::map<std::string, std::string>& changes,
                                       const std::string& message, const Identity& identity) {
    if (!detail::is_object_id(parent)) {
        return fail(Error::Kind::invalid, "git " + display_url_ + ": not a commit id: " + parent,
                    "InvalidCommit");
    }
    if (changes.empty())
        return fail(Error::Kind::invalid,
                    "git " + display_url_ + ": a commit needs at least one change");
    std::vector<std::string> paths;
    for (const auto& [p, content] : changes) {
        if (auto v = validate_repo_path(p); !v) {
            Error e = std::move(v).error();
            e.message = "git " + display_url_ + ": " + e.message;
            return fail(std::move(e));
        }
        paths.push_back(p);
    }
    auto guard = lock();

    // 1. The trees on the edited paths only (not the whole repository); from memory when this
    // process wrote or read them already.
    std::set<std::string> dir_set;
    for (const auto& p : paths) {
        std::string d = parent_dir(p);
        for (;;) {
            dir_set.insert(d);
            if (d.empty()) break;
            d = parent_dir(d);
        }
    }
    std::vector<std::string> dirs(dir_set.begin(), dir_set.end());
    POETRYOPS_TRY(auto trees, load_dirs(parent, paths));
    std::set<std::string> existing;
    for (const auto& [d, t] : trees) existing.insert(d);

    // 2. Check every path component (no symlinks, no files used as folders) and set the new blobs.
    std::vector<std::pair<std::string, std::string>> objects_to_write;  // (type, body)
    std::vector<std::string> object_ids;  // the id of each, same order
    std::vector<std::string> new_blobs;
    for (const auto& [path, content] : changes) {
        std::string d = parent_dir(path);
        std::vector<std::string> chain;
        for (std::string x = d;; x = parent_dir(x)) {
            chain.push_back(x);
            if (x.empty()) break;
        }
        std::reverse(chain.begin(), chain.end());
        bool present = true;
        for (std::size_t i = 0; i + 1 < chain.size() && present; ++i) {
            const std::string& child = chain[i + 1];
            if (!existing.count(chain[i])) {
                present = false;
                break;
            }
            auto e = trees[chain[i]].find(base_name(child));
            if (e == trees[chain[i]].end()) {
                present = false;
            } else if (e->second.is_symlink()) {
                return fail(Error::Kind::invalid,
                            "git " + display_url_ + ": path '" + path + "': '" + child +
                                "' is a symbolic link; paths through symlinks are refused",
                            "InvalidPath");
            } else if (!e->second.is_tree()) {
                return fail(Error::Kind::invalid,
                            "git " + display_url_ + ": path '" + path + "': '" + child +
                                "' is not a directory",
                            "InvalidPath");
            }
        }
        std::string mode = "100644";
        auto& dir_tree = trees[d];
        if (auto e = dir_tree.find(base_name(path)); e != dir_tree.end()) {
            if (e->second.is_symlink() || e->second.is_tree() || e->second.is_gitlink()) {
                return fail(Error::Kind::invalid,
                            "git " + display_url_ + ": path '" + path + "' is a " +
                                (e->second.is_symlink() ? "symbolic link"
                                 : e->second.is_tree()  ? "directory"
                                                        : "submodule") +
                                ", not a file",
                            "InvalidPath");
            }
            if (e->second.mode == "100755") mode = "100755";
        }
        std::string oid = detail::object_id("blob", content, hash_size_);
        dir_tree[base_name(path)] = TreeEntry{mode, oid};
        new_blobs.push_back(oid);
        objects_to_write.emplace_back("blob", content);
        object_ids.push_back(oid);
    }

    // 3. New trees bottom-up: each changed directory, then its parent with the new id.
    std::sort(dirs.begin(), dirs.end(), [](const std::string& a, const std::string& b) {
        return depth(a) != depth(b) ? depth(a) > depth(b) : a < b;
    });
    std::string root_oid;
    for (const auto& d : dirs) {
        std::string body = detail::serialize_tree(trees[d]);
        std::string oid = detail::object_id("tree", body, hash_size_);
        objects_to_write.emplace_back("tree", std::move(body));
        object_ids.push_back(oid);
        if (d.empty()) {
            root_oid = oid;
        } else {
            trees[parent_dir(d)][base_name(d)] = TreeEntry{"40000", oid};
        }
    }

    // 4. The commit, then every new object as a loose object written here (no git process). The
    // objects are kept for an in-process push and in the object cache, so the next commit built on
    // this one reads nothing.
    std::string commit_body =
        detail::serialize_commit(root_oid, parent, identity.name, identity.email,
                                 std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count(),
                                 message);
    std::string sha = detail::object_id("commit", commit_body, hash_size_);
    objects_to_write.emplace_back("commit", std::move(commit_body));
    object_ids.push_back(sha);
    for (std::size_t i = 0; i < objects_to_write.size(); ++i) {
        const auto& [type, body] = objects_to_write[i];
        auto written = detail::write_loose_object(git_dir_, object_ids[i], type, body);
        if (!written) {
            Error e = std::move(written).error();
            e.message = "git " + display_url_ + ": " + e.message;
            return fail(std::move(e));
        }
    }
    for (std::size_t i = 0; i < objects_to_write.size(); ++i) {
        if (objects_to_write[i].first != "commit")
            objects_->put(object_ids[i], objects_to_write[i].second);
    }
    objects_->put_tree_of(sha, root_oid);
    if (present_blobs_.size() > 100000) present_blobs_.clear();
    present_blobs_.insert(new_blobs.begin(), new_blobs.end());
    if (smart_) {
        if (unpushed_.size() >= 64)
            unpushed_.clear();  // commits never pushed (a failed batch) are not kept forever
        unpushed_[sha] = Unpushed{parent, std::move(objects_to_write)};
    }
    return sha;
}

Result<void> Repo::push(const std::string& commit, const std::string& branch) {
    // Both checks matter: an empty source in "SRC:DST" would delete the branch on the server.
    if (!detail::is_object_id(commit)) {
        return fail(Error::Kind::invalid,
                    "git " + display_url_ + ": refusing to push '" + commit + "': not a commit id",
                    "InvalidCommit");
    }
    if (!valid_branch_name(branch)) {
        return fail(Error::Kind::invalid,
                    "git " + display_url_ + ": invalid branch name '" + branch + "'",
                    "InvalidBranch");
    }
    auto guard = lock();
    if (auto fast = push_fast(commit, branch)) return std::move(*fast);
    // No '+', no --force: the server refuses anything that is not a fast-forward.
    POETRYOPS_TRY(ProcessResult r, runner_->run({"push", "--porcelain", "--no-verify", "origin",
                                                 commit + ":refs/heads/" + branch}));
    if (!r.ok()) return fail(runner_->failure("push to branch '" + branch + "' of", r));
    POETRYOPS_TRY_VOID(set_tracking_ref(branch, commit));
    unpushed_.erase(commit);
    POETRYOPS_LOG(info, "pushed commit",
                  {{"repo", display_url_}, {"branch", branch}, {"commit", commit}});
    return ok();
}

std::optional<Result<void>> Repo::push_fast(const std::string& commit, const std::string& branch) {
    if (!smart_) return std::nullopt;
    auto it = unpushed_.find(commit);
    if (it == unpushed_.end()) return std::nullopt;  // not written here: git knows what to send
    // The server's branch must still be at the parent we built on: we send exactly that as the old
    // value, and receive-pack refuses the update if the branch moved (never a force push). A branch
    // this clone has not seen is left to git (creating a branch needs the parent's objects
    // negotiated).
    auto tracked = local_tip(branch);
    if (!tracked || *tracked != it->second.parent) return std::nullopt;
    auto report = smart_->push(it->second.parent, commit, branch,
                               detail::build_pack(it->second.objects, hash_size_));
    if (!report) {
        POETRYOPS_LOG(debug, "in-process push not answered; pushing with git",
                      {{"repo", display_url_}, {"error", runner_->scrub(report.error().message)}});
        return std::nullopt;
    }
    std::string head = "push to branch '" + branch + "' of " + display_url_ + ": ";
    std::string remote_text;
    for (const auto& l : report->remote_lines)
        remote_text += (remote_text.empty() ? "remote: " : "; remote: ") + l;
    if (!report->ok) {
        std::string detail = report->reason + (remote_text.empty() ? "" : " (" + remote_text + ")");
        if (detail::is_stale_ref_reason(report->reason)) {
            return Result<void>(fail(Error::Kind::conflict,
                                     runner_->scrub(head + "rejected: " + detail),
                                     "NonFastForward"));
        }
        Error e = Error::make(Error::Kind::invalid,
                              runner_->scrub(head + "[remote rejected] " + detail), "PushRejected");
        e.terminal = true;
        return Result<void>(fail(std::move(e)));
    }
    ++fast_pushes_;
    if (auto r = set_tracking_ref(branch, commit); !r)
        return Result<void>(fail(std::move(r).error()));
    unpushed_.erase(it);
    POETRYOPS_LOG(info, "pushed commit",
                  {{"repo", display_url_}, {"branch", branch}, {"commit", commit}});
    return Result<void>(ok());
}

Result<bool> Repo::is_ancestor(const std::string& ancestor, const std::string& descendant) {
    for (const auto* id : {&ancestor, &descendant}) {
        if (!detail::is_object_id(*id)) {
            return fail(Error::Kind::invalid, "git " + display_url_ + ": not a commit id: " + *id,
                        "InvalidCommit");
        }
    }
    if (ancestor == descendant) return true;
    auto guard = lock();
    POETRYOPS_TRY(ProcessResult r,
                  runner_->run({"merge-base", "--is-ancestor", ancestor, descendant}));
    if (r.exit_code == 0) return true;
    if (r.exit_code == 1) return false;
    // 128: one of the commits is unknown here.
    return fail(Error::Kind::not_found,
                "git " + display_url_ + ": commit " + ancestor + " or " + descendant +
                    " is not in the clone",
                "CommitNotFound");
}

Result<std::vector<FoundCommit>> Repo::find_commits_by_trailer(const std::string& branch,
                                                               const std::string& key,
                                                               const std::string& value,
                                                               int max_count, TrailerMatch match) {
    if (key.empty() || key.find_first_of(":,%() \n") != std::string::npos) {
        return fail(Error::Kind::invalid,
                    "git " + display_url_ + ": invalid trailer key '" + key + "'");
    }
    auto guard = lock();
    POETRYOPS_TRY(std::string tip, fetch(branch));
    POETRYOPS_TRY(
        ProcessResult r,
        runner_->run_ok(
            "read history of",
            {"log", "-n", std::to_string(std::max(1, max_count)),
             "--format=%H%x00%(trailers:key=" + key + ",valueonly,separator=%x1f)%x1e", tip}));
    std::vector<FoundCommit> found;
    for (const auto& rec : str::split(r.out, '\x1e')) {
        std::string_view s = str::trim(rec);
        auto nul = s.find('\0');
        if (nul == std::string_view::npos) continue;
        std::string sha(s.substr(0, nul));
        for (const auto& v : str::split(s.substr(nul + 1), '\x1f')) {
            std::string val(str::trim(v));
            if (val.empty()) continue;
            if (value.empty() || val == value ||
                (match == TrailerMatch::prefix && val.rfind(value, 0) == 0)) {
                found.push_back({sha, val});
                break;
            }
        }
    }
    return found;
}

// ---- RepoCache ----

RepoCache::RepoCache(std::filesystem::path dir, std::shared_ptr<TempDir> private_dir)
    : dir_(std::move(dir)), private_dir_(std::move(private_dir)) {}

RepoCache::~RepoCache() = default;

Result<std::unique_ptr<RepoCache>> RepoCache::create(std::filesystem::path dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
        return fail(Error::Kind::internal,
                    "git cache: cannot create " + dir.string() + ": " + ec.message());
    // What a killed process left: its private folder (askpass script, empty home) and the loose
    // objects it was writing. Only those of processes that are gone.
    const char* tmp = std::getenv("TMPDIR");
    remove_stale_temps(tmp && *tmp ? std::filesystem::path(tmp) : std::filesystem::path("/tmp"),
                       {"poetryops-git-"});
    namespace fs = std::filesystem;
    for (auto clone = fs::directory_iterator(dir, ec); !ec && clone != fs::directory_iterator();
         clone.increment(ec)) {
        if (clone->path().extension() != ".git") continue;
        std::error_code sub_ec;
        for (auto sub = fs::directory_iterator(clone->path() / "objects", sub_ec);
             !sub_ec && sub != fs::directory_iterator(); sub.increment(sub_ec)) {
            if (sub->path().filename().string().size() == 2)
                remove_stale_temps(sub->path(), {"tmp_obj_"});
        }
    }
    ec.clear();
    auto priv = std::make_shared<TempDir>(owned_temp_marker("poetryops-git-"));
    POETRYOPS_TRY_VOID(detail::write_private_files(priv->path()));
    return std::unique_ptr<RepoCache>(
        new RepoCache(std::filesystem::absolute(dir), std::move(priv)));
}

Result<std::shared_ptr<Repo>> RepoCache::open(const Remote& remote) {
    POETRYOPS_TRY_VOID(validate_remote(remote));
    std::string url = remote.url;
    while (!url.empty() && url.back() == '/') url.pop_back();
    std::string name =
        url.substr(url.find_last_of("/:") == std::string::npos ? 0 : url.find_last_of("/:") + 1);
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".git") == 0)
        name.resize(name.size() - 4);
    std::string slug;
    for (char c : name) {
        slug += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')
                    ? c
                    : '_';
    }
    if (slug.empty() || slug[0] == '.') slug = "repo" + slug;
    if (slug.size() > 40) slug.resize(40);
    std::string key = slug + "-" + remote_identity(remote);

    std::shared_ptr<Repo> repo;
    {
        std::lock_guard<std::mutex> g(mu_);
        if (auto it = repos_.find(key); it != repos_.end()) repo = it->second.lock();
        // Same clone, new secret or settings (a rotated token): a new handle; the flock still
        // serialises them.
        if (repo && (repo->remote().password != remote.password ||
                     repo->remote().ca_file != remote.ca_file ||
                     repo->remote().known_hosts != remote.known_hosts ||
                     repo->remote().timeout != remote.timeout ||
                     repo->remote().connect_timeout != remote.connect_timeout)) {
            repo.reset();
        }
        if (!repo) {
            repo = std::shared_ptr<Repo>(
                new Repo(remote, dir_ / (key + ".git"), dir_ / (key + ".lock"), private_dir_));
            repos_[key] = repo;
        }
    }
    POETRYOPS_TRY_VOID(repo->ensure_initialized());
    return repo;
}

}  // namespace poetryops::git

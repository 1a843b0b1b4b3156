// What the source side of a build needs from a clone: remote ref tips for polling, a commit named
// by a webhook, and the paths two commits differ in (the monorepo rule), all without a checkout.
#include <poetryops/git/repo.hpp>

#include "git/detail/cat_file.hpp"
#include "git/detail/objects.hpp"
#include "git/detail/runner.hpp"
#include "git/detail/smart_http.hpp"

#include <poetryops/util/log.hpp>
#include <poetryops/util/strings.hpp>

#include <algorithm>
#include <set>

namespace poetryops::git {

using detail::SharedTree;
using detail::Tree;
using detail::TreeEntry;

namespace {

bool all_zeros(std::string_view s) {
    return !s.empty() && s.find_first_not_of('0') == std::string_view::npos;
}

/// How `path` relates to the prefixes: inside one (or equal to it), above one (an ancestor
/// directory worth descending into), or neither.
enum class Relation { none, above, inside };

Relation relate(const std::string& path, const std::vector<std::string>& prefixes) {
    Relation best = Relation::none;
    for (const auto& p : prefixes) {
        if (p.empty() || path == p ||
            (path.size() > p.size() && path.compare(0, p.size(), p) == 0 && path[p.size()] == '/'))
            return Relation::inside;
        if (p.size() > path.size() && p.compare(0, path.size(), path) == 0 && p[path.size()] == '/')
            best = Relation::above;
    }
    return best;
}

}  // namespace

Result<std::map<std::string, std::string>> Repo::remote_tips(const std::vector<std::string>& refs) {
    std::vector<std::string> full;
    for (const auto& r : refs) {
        std::string name = r.rfind("refs/", 0) == 0 ? r : "refs/heads/" + r;
        std::string_view rest = std::string_view(name).substr(5);
        if (rest.empty() || !valid_branch_name(rest)) {
            return fail(Error::Kind::invalid, "git " + display_url_ + ": invalid ref '" + r + "'",
                        "InvalidRef");
        }
        full.push_back(std::move(name));
    }
    std::map<std::string, std::string> tips;
    if (full.empty()) return tips;
    POETRYOPS_TRY_VOID(ensure_initialized());
    auto guard = lock();
    if (smart_) {
        auto answered = smart_->ref_tips(full);
        if (answered) {
            ++fast_fetches_;
            return std::move(answered).value();
        }
        POETRYOPS_LOG(
            debug, "ls-refs not answered; running git ls-remote",
            {{"repo", display_url_}, {"error", runner_->scrub(answered.error().message)}});
    }
    std::vector<std::string> args = {"ls-remote", "origin"};
    for (const auto& ref : full) {
        args.push_back(ref);
        // ls-remote lists a tag's peeled line only when a pattern matches it too.
        if (ref.rfind("refs/tags/", 0) == 0) args.push_back(ref + "^{}");
    }
    POETRYOPS_TRY(ProcessResult r, runner_->run_ok("list refs of", args));
    std::set<std::string> wanted(full.begin(), full.end());
    for (const auto& line : str::split(r.out, '\n')) {
        auto tab = line.find('\t');
        if (tab == std::string::npos || !detail::is_object_id(line.substr(0, tab))) continue;
        std::string name = line.substr(tab + 1);
        bool peeled = name.size() > 3 && name.compare(name.size() - 3, 3, "^{}") == 0;
        if (peeled) name.resize(name.size() - 3);
        if (!wanted.count(name)) continue;  // ls-remote matches patterns by their tail
        if (peeled || !tips.count(name)) tips[name] = line.substr(0, tab);
    }
    return tips;
}

Result<void> Repo::fetch_commit(const std::string& commit) {
    if (!detail::is_object_id(commit)) {
        return fail(Error::Kind::invalid, "git " + display_url_ + ": not a commit id: " + commit,
                    "InvalidCommit");
    }
    POETRYOPS_TRY_VOID(ensure_initialized());
    auto guard = lock();
    if (objects_->tree_of(commit)) return ok();
    std::vector<detail::BatchObject> answer;
    POETRYOPS_TRY_VOID(cat_file({commit + "^{tree}"}, answer));
    if (!answer.front().missing && answer.front().type == "tree") return ok();
    auto fetched = runner_->run_ok(
        "fetch commit " + commit + " from",
        {"fetch", "--no-tags", "--no-write-fetch-head", "--filter=blob:none", "origin", commit});
    if (!fetched) {
        Error e = std::move(fetched).error();
        // "not our ref", "no such remote ref", "unadvertised object": the server has no such
        // commit (or will not give it).
        if (e.kind == Error::Kind::not_found || e.kind == Error::Kind::internal ||
            e.kind == Error::Kind::invalid) {
            e.kind = Error::Kind::not_found;
            e.reason = "CommitNotFound";
        }
        return fail(std::move(e));
    }
    return ok();
}

Result<SharedTree> Repo::tree_by_id(const std::string& oid, const std::string& path) {
    if (auto t = objects_->parsed_tree(oid)) return t;
    std::string raw;
    if (const std::string* cached = objects_->get(oid)) {
        raw = *cached;
    } else {
        std::vector<detail::BatchObject> answer;
        POETRYOPS_TRY_VOID(cat_file({oid}, answer));
        if (answer.front().missing || answer.front().type != "tree") {
            return fail(Error::Kind::internal,
                        "git " + display_url_ + ": tree of '" + path + "' is not in the clone",
                        "MissingTree");
        }
        raw = std::move(answer.front().content);
        objects_->put(oid, raw);
    }
    POETRYOPS_TRY(Tree t, detail::parse_tree(raw, hash_size_));
    auto shared = std::make_shared<const Tree>(std::move(t));
    objects_->put_parsed_tree(oid, shared);
    return SharedTree(shared);
}

Result<std::vector<std::string>> Repo::changed_paths(const std::string& from, const std::string& to,
                                                     const std::vector<std::string>& prefixes) {
    const bool from_empty = from.empty() || all_zeros(from);
    for (const std::string* c : {&from, &to}) {
        if (c == &from && from_empty) continue;
        if (!detail::is_object_id(*c)) {
            return fail(Error::Kind::invalid, "git " + display_url_ + ": not a commit id: " + *c,
                        "InvalidCommit");
        }
    }
    std::vector<std::string> norm;
    for (const auto& p : prefixes) {
        POETRYOPS_TRY(std::string q, folder_path(p));
        norm.push_back(std::move(q));
    }
    std::vector<std::string> out;
    if (norm.empty()) return out;
    POETRYOPS_TRY_VOID(ensure_initialized());
    auto guard = lock();
    std::string a_root;
    if (!from_empty) {
        POETRYOPS_TRY(a_root, root_tree(from));
    }
    POETRYOPS_TRY(std::string b_root, root_tree(to));
    static const SharedTree kEmpty = std::make_shared<const Tree>();

    // Depth-first over directories whose ids differ, limited to the prefixes.
    struct Dir {
        std::string path;  ///< "" for the root
        std::string a, b;  ///< tree ids; "" when that side has no tree here
    };
    std::vector<Dir> todo = {{"", a_root, b_root}};
    while (!todo.empty()) {
        Dir d = std::move(todo.back());
        todo.pop_back();
        if (d.a == d.b) continue;
        SharedTree ta = kEmpty, tb = kEmpty;
        if (!d.a.empty()) {
            POETRYOPS_TRY(ta, tree_by_id(d.a, d.path));
        }
        if (!d.b.empty()) {
            POETRYOPS_TRY(tb, tree_by_id(d.b, d.path));
        }
        std::set<std::string> names;
        for (const auto& [n, e] : *ta) names.insert(n);
        for (const auto& [n, e] : *tb) names.insert(n);
        for (const auto& n : names) {
            std::string child = d.path.empty() ? n : d.path + "/" + n;
            Relation rel = relate(child, norm);
            if (rel == Relation::none) continue;
            auto ea = ta->find(n);
            auto eb = tb->find(n);
            const TreeEntry* x = ea == ta->end() ? nullptr : &ea->second;
            const TreeEntry* y = eb == tb->end() ? nullptr : &eb->second;
            if (x && y && x->oid == y->oid && x->mode == y->mode) continue;
            const bool x_tree = x && x->is_tree(), y_tree = y && y->is_tree();
            if (x_tree || y_tree) {
                todo.push_back({child, x_tree ? x->oid : "", y_tree ? y->oid : ""});
            }
            // A file (or link) on either side that is not the same file on the other.
            if (rel == Relation::inside && ((x && !x_tree) || (y && !y_tree))) {
                out.push_back(child);
            }
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

Result<std::string> Repo::root_tree(const std::string& commit) {
    if (auto t = objects_->tree_of(commit)) return *t;
    std::vector<detail::BatchObject> answer;
    POETRYOPS_TRY_VOID(cat_file({commit + "^{tree}"}, answer));
    if (answer.front().missing || answer.front().type != "tree") {
        return fail(Error::Kind::not_found,
                    "git " + display_url_ + ": commit " + commit +
                        " not found in the clone (fetch it first)",
                    "CommitNotFound");
    }
    objects_->put_tree_of(commit, answer.front().oid);
    objects_->put(answer.front().oid, answer.front().content);
    return answer.front().oid;
}

Result<std::string> Repo::folder_path(std::string path) const {
    while (path.rfind("./", 0) == 0) path.erase(0, 2);
    while (!path.empty() && path.back() == '/') path.pop_back();
    if (path == ".") path.clear();
    if (!path.empty()) {
        if (auto v = validate_repo_path(path); !v) {
            Error e = std::move(v).error();
            e.message = "git " + display_url_ + ": " + e.message;
            return fail(std::move(e));
        }
    }
    return path;
}

}  // namespace poetryops::git

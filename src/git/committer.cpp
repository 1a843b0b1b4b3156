#include <poetryops/git/committer.hpp>

#include <poetryops/util/backoff.hpp>
#include <poetryops/util/log.hpp>

#include <exception>
#include <map>
#include <optional>
#include <set>

namespace poetryops::git {

namespace {

Error with_context(Error e, const std::string& prefix) {
    e.message = prefix + e.message;
    return e;
}

}  // namespace

Committer::Committer(std::shared_ptr<Repo> repo, CommitterOptions options)
    : repo_(std::move(repo)), options_(std::move(options)) {
    if (options_.max_batch == 0) options_.max_batch = 1;
    if (options_.max_attempts < 1) options_.max_attempts = 1;
    worker_ = std::thread([this] { run(); });
}

Committer::~Committer() {
    {
        std::lock_guard<std::mutex> g(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
}

CommitterStats Committer::stats() const {
    std::lock_guard<std::mutex> g(mu_);
    return stats_;
}

std::future<Result<EditOutcome>> Committer::submit(EditRequest request) {
    Pending p{std::move(request), {}};
    auto future = p.promise.get_future();
    const std::string& branch =
        p.request.target_branch.empty() ? options_.branch : p.request.target_branch;
    Result<void> check = ok();
    if (!valid_branch_name(branch)) {
        check =
            fail(Error::Kind::invalid,
                 "git " + repo_->url() + ": invalid branch name '" + branch + "'", "InvalidBranch");
    }
    for (const auto& e : p.request.edits) {
        if (!check) break;
        if (auto v = validate_repo_path(e.path); !v)
            check = with_context(std::move(v).error(), "git " + repo_->url() + ": ");
        else if (!e.apply)
            check = fail(Error::Kind::invalid,
                         "git " + repo_->url() + ": edit of '" + e.path + "' has no function");
    }
    if (!check) {
        p.resolve(fail(std::move(check).error()));
        return future;
    }
    {
        std::lock_guard<std::mutex> g(mu_);
        queue_.push_back(std::move(p));
    }
    cv_.notify_all();
    return future;
}

void Committer::hold() {
    std::lock_guard<std::mutex> g(mu_);
    ++holds_;
}

void Committer::release() {
    {
        std::lock_guard<std::mutex> g(mu_);
        if (holds_ > 0) --holds_;
    }
    cv_.notify_all();
}

void Committer::run() {
    for (;;) {
        std::vector<Pending> batch;
        {
            std::unique_lock<std::mutex> lk(mu_);
            cv_.wait(lk, [&] { return stopping_ || (!queue_.empty() && holds_ == 0); });
            if (queue_.empty()) return;  // stopping and drained
            auto deadline = std::chrono::steady_clock::now() + options_.window;
            cv_.wait_until(lk, deadline,
                           [&] { return stopping_ || queue_.size() >= options_.max_batch; });
            while (!queue_.empty() && batch.size() < options_.max_batch) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
            ++stats_.batches;
        }
        process_batch(batch);
    }
}

void Committer::process_batch(std::vector<Pending>& batch) {
    std::map<std::string, std::vector<Pending*>> groups;
    for (auto& p : batch) {
        groups[p.request.target_branch.empty() ? options_.branch : p.request.target_branch]
            .push_back(&p);
    }
    for (auto& [branch, group] : groups) {
        try {
            process_group(branch, group);
        } catch (const std::exception& ex) {
            // Nothing may escape the worker thread: whoever is still waiting learns about it.
            for (auto* p : group) {
                try {
                    p->resolve(
                        fail(Error::Kind::internal, "git " + repo_->url() + ": " + ex.what()));
                } catch (const std::future_error&) {
                }
            }
        }
    }
}

void Committer::process_group(const std::string& branch, std::vector<Pending*>& group) {
    Backoff backoff(options_.backoff_base, options_.backoff_max);
    std::vector<Pending*> live = group;
    auto fail_all = [&](const Error& e) {
        for (auto* p : live) p->resolve(fail(e));
        live.clear();
    };
    for (int attempt = 1; attempt <= options_.max_attempts && !live.empty(); ++attempt) {
        std::optional<RepoLock> guard;
        guard.emplace(repo_->lock());
        // The tip to build on: the target branch, or for a new side branch the committer's branch.
        // The first attempt builds on the tip the clone last saw (callers usually fetched it a
        // moment ago); if the remote moved since, the push is refused as non-fast-forward and the
        // next attempt fetches and re-applies.
        Result<std::string> tip = fail(Error::Kind::not_found, "no local tip");
        if (attempt == 1 && branch == options_.branch) tip = repo_->local_tip(branch);
        if (!tip) tip = repo_->fetch(branch);
        if (!tip && tip.error().kind == Error::Kind::not_found && branch != options_.branch) {
            tip = repo_->fetch(options_.branch);
        }
        if (!tip) return fail_all(tip.error());

        // Current content of every path, attributing a refused path (symlink, not a file) to its
        // requests only.
        std::vector<std::string> paths;
        {
            std::set<std::string> seen;
            for (auto* p : live) {
                for (const auto& e : p->request.edits) {
                    if (seen.insert(e.path).second) paths.push_back(e.path);
                }
            }
        }
        std::map<std::string, std::optional<std::string>> base;
        std::map<std::string, Error> bad_paths;
        if (auto files = repo_->read_files(*tip, paths); files) {
            for (std::size_t i = 0; i < paths.size(); ++i) base[paths[i]] = std::move((*files)[i]);
        } else if (files.error().kind == Error::Kind::invalid) {
            for (const auto& path : paths) {
                auto one = repo_->read_files(*tip, {path});
                if (one) {
                    base[path] = std::move(one->front());
                } else if (one.error().kind == Error::Kind::invalid) {
                    bad_paths.emplace(path, one.error());
                } else {
                    return fail_all(one.error());
                }
            }
        } else {
            return fail_all(files.error());
        }

        // Apply each request's edits in order on top of the previous requests' results.
        auto working = base;
        std::vector<Pending*> changed, unchanged, next_live;
        for (auto* p : live) {
            std::map<std::string, std::optional<std::string>> snapshot;
            bool did_change = false;
            std::optional<Error> error;
            for (const auto& e : p->request.edits) {
                if (auto b = bad_paths.find(e.path); b != bad_paths.end()) {
                    error = b->second;
                    break;
                }
                snapshot.emplace(e.path, working[e.path]);
                const auto& cur = working[e.path];
                Result<std::optional<std::string>> r = std::optional<std::string>{};
                try {
                    r = e.apply(cur ? std::optional<std::string_view>(*cur) : std::nullopt);
                } catch (const std::exception& ex) {
                    r = fail(Error::Kind::internal, std::string("edit failed: ") + ex.what());
                }
                if (!r) {
                    error = with_context(std::move(r).error(),
                                         "git " + repo_->url() + ": path '" + e.path + "': ");
                    break;
                }
                if (*r && (!cur || **r != *cur)) {
                    working[e.path] = std::move(**r);
                    did_change = true;
                }
            }
            if (error) {
                for (auto& [path, content] : snapshot) working[path] = std::move(content);
                p->resolve(fail(std::move(*error)));
                continue;
            }
            next_live.push_back(p);
            (did_change ? changed : unchanged).push_back(p);
        }
        live = next_live;

        std::map<std::string, std::string> changes;
        for (const auto& [path, content] : working) {
            if (content && (!base[path] || *base[path] != *content)) changes[path] = *content;
        }
        if (changes.empty()) {
            for (auto* p : live) p->resolve(EditOutcome{false, *tip, branch, attempt, 0});
            return;
        }
        std::vector<const CommitMessage*> messages;
        for (auto* p : changed) messages.push_back(&p->request.message);
        auto sha =
            repo_->write_commit(*tip, changes, render_batch_message(messages), options_.identity);
        if (!sha) return fail_all(sha.error());
        auto pushed = repo_->push(*sha, branch);
        {
            std::lock_guard<std::mutex> g(mu_);
            ++stats_.pushes;
            if (pushed) ++stats_.commits;
            if (!pushed && pushed.error().kind == Error::Kind::conflict) ++stats_.conflicts;
        }
        if (pushed) {
            for (auto* p : changed)
                p->resolve(EditOutcome{true, *sha, branch, attempt, changed.size()});
            for (auto* p : unchanged) p->resolve(EditOutcome{false, *sha, branch, attempt, 0});
            return;
        }
        if (pushed.error().kind != Error::Kind::conflict) return fail_all(pushed.error());
        POETRYOPS_LOG(
            info, "push raced another writer; re-applying edits on the new tip",
            {{"repo", repo_->url()}, {"branch", branch}, {"attempt", std::to_string(attempt)}});
        if (attempt < options_.max_attempts) {
            guard.reset();  // not held while sleeping
            std::this_thread::sleep_for(backoff.next());
        }
    }
    if (!live.empty()) {
        Error e = Error::make(Error::Kind::conflict,
                              "git " + repo_->url() + ": branch '" + branch +
                                  "' kept moving; gave up after " +
                                  std::to_string(options_.max_attempts) + " push attempts",
                              "NonFastForward");
        fail_all(e);
    }
}

}  // namespace poetryops::git

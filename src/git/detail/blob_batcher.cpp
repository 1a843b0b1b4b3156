#include "git/detail/blob_batcher.hpp"

#include <exception>

namespace poetryops::git::detail {

BlobBatcher::Reading::Reading(BlobBatcher& b) : batcher_(&b) {
    std::lock_guard lock(b.mu_);
    ++b.readers_;
}

void BlobBatcher::Reading::done() {
    if (!batcher_) return;
    {
        std::lock_guard lock(batcher_->mu_);
        --batcher_->readers_;
    }
    batcher_->cv_.notify_all();
    batcher_ = nullptr;
}

std::shared_ptr<BlobBatcher::Batch> BlobBatcher::join(const std::vector<std::string>& oids) {
    std::lock_guard lock(mu_);
    if (!open_) open_ = std::make_shared<Batch>();
    open_->oids.insert(oids.begin(), oids.end());
    return open_;
}

std::size_t BlobBatcher::fetches() const {
    std::lock_guard lock(mu_);
    return fetches_;
}

Result<void> BlobBatcher::wait(const std::shared_ptr<Batch>& batch, const Fetch& fetch) {
    std::unique_lock lk(mu_);
    for (;;) {
        if (batch->done) {
            if (batch->error) return fail(*batch->error);
            return ok();
        }
        if (!fetching_ && open_ == batch) break;
        cv_.wait(lk);
    }
    // The leader. Only a leader closes a batch and only one runs at a time, so `batch` stays the
    // open one until collect() below.
    fetching_ = true;
    ++fetches_;
    cv_.wait_until(lk, std::chrono::steady_clock::now() + gather_, [&] { return readers_ == 0; });
    lk.unlock();
    Collect collect = [&] {
        std::lock_guard g(mu_);
        if (open_ == batch) open_.reset();
        return std::vector<std::string>(batch->oids.begin(), batch->oids.end());
    };
    std::optional<Error> error;
    try {
        auto r = fetch(collect);
        if (!r) error = std::move(r).error();
    } catch (const std::exception& e) {
        error = Error::make(Error::Kind::internal, std::string("blob fetch: ") + e.what(),
                            "FetchFailed");
    }
    lk.lock();
    if (open_ == batch)
        open_.reset();  // fetch() failed before collecting: its members get the error all the same
    batch->done = true;
    batch->error = error;
    fetching_ = false;
    lk.unlock();
    cv_.notify_all();
    if (error) return fail(*error);
    return ok();
}

}  // namespace poetryops::git::detail

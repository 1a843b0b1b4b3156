#pragma once
/// Coalesces the blob fetches of concurrent readers of one clone: each reader registers the blob
/// ids it misses in the open batch; one of them (the leader) fetches the whole batch with one `git
/// fetch --stdin` while the next batch fills; the others wait for it. A controller reconciling 32
/// apps at once on a cold clone then starts one fetch per round of apps instead of one per app.
///
/// The leader first waits (at most `gather`) for the readers still looking for what they miss (they
/// need the repo lock for that, which the fetch holds): without it the leader would usually win the
/// lock back at once and fetch its own blob alone.

#include <poetryops/util/result.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace poetryops::git::detail {

/// Thread safety: safe.
class BlobBatcher {
public:
    struct Batch;

    /// Marks a reader as "still looking for the blobs it misses" until done() or destruction.
    class Reading {
    public:
        explicit Reading(BlobBatcher& b);
        Reading(const Reading&) = delete;
        Reading& operator=(const Reading&) = delete;
        ~Reading() { done(); }
        void done();

    private:
        BlobBatcher* batcher_;
    };

    explicit BlobBatcher(std::chrono::milliseconds gather = std::chrono::milliseconds(100))
        : gather_(gather) {}

    /// Adds `oids` to the open batch and returns it.
    std::shared_ptr<Batch> join(const std::vector<std::string>& oids);

    /// The ids collected in a batch that is being fetched (the leader calls it once it holds the
    /// repo lock: every id registered until then goes into this fetch).
    using Collect = std::function<std::vector<std::string>()>;
    /// Fetches the collected ids (takes the repo lock itself, then calls collect()).
    using Fetch = std::function<Result<void>(const Collect& collect)>;

    /// Returns once `batch` has been fetched: its outcome (ok, or the fetch's error for every
    /// member). When no fetch is running and `batch` is the open one, the caller becomes the leader
    /// and runs `fetch`.
    Result<void> wait(const std::shared_ptr<Batch>& batch, const Fetch& fetch);

    /// Fetches started so far (for tests).
    std::size_t fetches() const;

private:
    std::chrono::milliseconds gather_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::shared_ptr<Batch> open_;
    bool fetching_ = false;
    int readers_ = 0;
    std::size_t fetches_ = 0;
};

struct BlobBatcher::Batch {
    std::set<std::string> oids;
    bool done = false;
    std::optional<Error> error;
};

}  // namespace poetryops::git::detail

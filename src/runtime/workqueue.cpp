#include <poetryops/runtime/workqueue.hpp>

#include <poetryops/util/metrics.hpp>

namespace poetryops::runtime {
namespace {
// While keys wait for a time on the clock, get() re-checks at least this often: the clock may be a
// ManualClock that tests move without notifying us.
constexpr auto kMaxWaitSlice = std::chrono::milliseconds(50);
}  // namespace

WorkQueue::WorkQueue(std::string name, const Clock& clock, std::unique_ptr<RateLimiter> limiter,
                     metrics::MetricsRegistry* metrics)
    : name_(std::move(name)),
      clock_(clock),
      limiter_(limiter ? std::move(limiter) : default_controller_rate_limiter(clock)),
      metrics_(metrics) {
    if (metrics_ != nullptr) {
        metrics_->describe("workqueue_depth", metrics::MetricType::gauge,
                           "Current depth of workqueue");
        metrics_->describe("workqueue_adds_total", metrics::MetricType::counter,
                           "Total number of adds handled by workqueue");
        metrics_->describe("workqueue_retries_total", metrics::MetricType::counter,
                           "Total number of retries handled by workqueue");
        metrics_->set("workqueue_depth", {{"name", name_}}, 0);
        metrics_->inc("workqueue_adds_total", {{"name", name_}}, 0);
        metrics_->inc("workqueue_retries_total", {{"name", name_}}, 0);
    }
}

WorkQueue::~WorkQueue() { shut_down(); }

void WorkQueue::publish_depth_locked() {
    if (metrics_ != nullptr)
        metrics_->set("workqueue_depth", {{"name", name_}}, static_cast<double>(queue_.size()));
}

void WorkQueue::add_locked(const std::string& key) {
    if (shutting_down_) return;
    if (dirty_.count(key) != 0) return;
    dirty_.insert(key);
    if (metrics_ != nullptr) metrics_->inc("workqueue_adds_total", {{"name", name_}});
    if (processing_.count(key) != 0) return;  // queued again by done()
    queue_.push_back(key);
    publish_depth_locked();
    cv_.notify_one();
}

void WorkQueue::add(const std::string& key) {
    std::lock_guard lock(mu_);
    add_locked(key);
}

void WorkQueue::add_after(const std::string& key, duration delay) {
    std::lock_guard lock(mu_);
    if (shutting_down_) return;
    if (delay <= duration::zero()) {
        add_locked(key);
        return;
    }
    auto ready = clock_.steady_now() + delay;
    auto it = waiting_.find(key);
    if (it != waiting_.end() && it->second <= ready)
        return;  // an earlier add_after already covers it
    waiting_[key] = ready;
    waiting_heap_.push(Waiting{ready, seq_++, key});
    cv_.notify_all();  // a sleeping get() may need to wake earlier
}

void WorkQueue::add_rate_limited(const std::string& key) {
    auto delay = limiter_->when(key);
    if (metrics_ != nullptr) metrics_->inc("workqueue_retries_total", {{"name", name_}});
    add_after(key, delay);
}

void WorkQueue::forget(const std::string& key) { limiter_->forget(key); }

int WorkQueue::num_requeues(const std::string& key) { return limiter_->num_requeues(key); }

void WorkQueue::promote_due_locked() {
    if (waiting_heap_.empty()) return;
    auto now = clock_.steady_now();
    while (!waiting_heap_.empty() && waiting_heap_.top().ready <= now) {
        Waiting w = waiting_heap_.top();
        waiting_heap_.pop();
        auto it = waiting_.find(w.key);
        if (it == waiting_.end() || it->second != w.ready)
            continue;  // superseded by an earlier time
        waiting_.erase(it);
        add_locked(w.key);
    }
}

std::optional<std::string> WorkQueue::take_locked() {
    if (queue_.empty()) return std::nullopt;
    std::string key = std::move(queue_.front());
    queue_.pop_front();
    processing_.insert(key);
    dirty_.erase(key);
    publish_depth_locked();
    return key;
}

std::optional<std::string> WorkQueue::get() {
    std::unique_lock lock(mu_);
    for (;;) {
        if (shutting_down_) return std::nullopt;
        promote_due_locked();
        if (auto key = take_locked()) return key;
        if (waiting_heap_.empty()) {
            cv_.wait(lock);
        } else {
            auto until = waiting_heap_.top().ready - clock_.steady_now();
            auto slice = std::min<duration>(until, kMaxWaitSlice);
            if (slice > duration::zero()) cv_.wait_for(lock, slice);
        }
    }
}

std::optional<std::string> WorkQueue::get_for(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(mu_);
    for (;;) {
        if (shutting_down_) return std::nullopt;
        promote_due_locked();
        if (auto key = take_locked()) return key;
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return std::nullopt;
        duration slice = deadline - now;
        if (!waiting_heap_.empty()) {
            slice = std::min<duration>(
                {slice, waiting_heap_.top().ready - clock_.steady_now(), kMaxWaitSlice});
        }
        if (slice > duration::zero()) cv_.wait_for(lock, slice);
    }
}

void WorkQueue::done(const std::string& key) {
    std::lock_guard lock(mu_);
    processing_.erase(key);
    if (dirty_.count(key) != 0 && !shutting_down_) {
        queue_.push_back(key);
        publish_depth_locked();
        cv_.notify_one();
    }
}

void WorkQueue::shut_down() {
    std::lock_guard lock(mu_);
    shutting_down_ = true;
    cv_.notify_all();
}

bool WorkQueue::shutting_down() const {
    std::lock_guard lock(mu_);
    return shutting_down_;
}

std::size_t WorkQueue::len() {
    std::lock_guard lock(mu_);
    promote_due_locked();
    return queue_.size();
}

std::size_t WorkQueue::waiting() {
    std::lock_guard lock(mu_);
    promote_due_locked();
    return waiting_.size();
}

std::size_t WorkQueue::processing() {
    std::lock_guard lock(mu_);
    return processing_.size();
}

}  // namespace poetryops::runtime

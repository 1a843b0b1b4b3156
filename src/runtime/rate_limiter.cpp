#include <poetryops/runtime/rate_limiter.hpp>

#include <algorithm>
#include <cmath>

namespace poetryops::runtime {

ItemExponentialRateLimiter::ItemExponentialRateLimiter(duration base, duration max)
    : base_(base), max_(max) {}

RateLimiter::duration ItemExponentialRateLimiter::when(const std::string& item) {
    std::lock_guard lock(mu_);
    int exp = failures_[item]++;
    // Compute in floating point: 5 ms * 2^60 overflows any integer duration.
    double d = static_cast<double>(base_.count()) * std::pow(2.0, exp);
    if (d >= static_cast<double>(max_.count())) return max_;
    return duration(static_cast<duration::rep>(d));
}

void ItemExponentialRateLimiter::forget(const std::string& item) {
    std::lock_guard lock(mu_);
    failures_.erase(item);
}

int ItemExponentialRateLimiter::num_requeues(const std::string& item) {
    std::lock_guard lock(mu_);
    auto it = failures_.find(item);
    return it == failures_.end() ? 0 : it->second;
}

BucketRateLimiter::BucketRateLimiter(double qps, int burst, const Clock& clock)
    : clock_(clock), qps_(qps), burst_(burst), tokens_(burst), last_(clock.steady_now()) {}

RateLimiter::duration BucketRateLimiter::when(const std::string&) {
    std::lock_guard lock(mu_);
    auto now = clock_.steady_now();
    if (now > last_) {
        double elapsed = std::chrono::duration<double>(now - last_).count();
        tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
        last_ = now;
    }
    // Reserve one token; a negative balance is a debt paid back at qps_ (golang.org/x/time/rate's
    // Reserve).
    tokens_ -= 1;
    if (tokens_ >= 0) return duration::zero();
    return std::chrono::duration_cast<duration>(std::chrono::duration<double>(-tokens_ / qps_));
}

MaxOfRateLimiter::MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters)
    : limiters_(std::move(limiters)) {}

RateLimiter::duration MaxOfRateLimiter::when(const std::string& item) {
    duration longest = duration::zero();
    for (auto& l : limiters_) longest = std::max(longest, l->when(item));
    return longest;
}

void MaxOfRateLimiter::forget(const std::string& item) {
    for (auto& l : limiters_) l->forget(item);
}

int MaxOfRateLimiter::num_requeues(const std::string& item) {
    int n = 0;
    for (auto& l : limiters_) n = std::max(n, l->num_requeues(item));
    return n;
}

std::unique_ptr<RateLimiter> default_controller_rate_limiter(const Clock& clock) {
    std::vector<std::unique_ptr<RateLimiter>> v;
    v.push_back(std::make_unique<ItemExponentialRateLimiter>(std::chrono::milliseconds(5),
                                                             std::chrono::seconds(1000)));
    v.push_back(std::make_unique<BucketRateLimiter>(10.0, 100, clock));
    return std::make_unique<MaxOfRateLimiter>(std::move(v));
}

}  // namespace poetryops::runtime

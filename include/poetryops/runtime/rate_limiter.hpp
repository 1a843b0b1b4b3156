#pragma once
/// Workqueue rate limiters, after client-go's `workqueue` package: how long an item waits before it
/// is retried.
///
/// default_controller_rate_limiter() is controller-runtime's default: the maximum of a per-item
/// exponential backoff (5 ms doubling to 1000 s) and a global token bucket (10 qps, burst 100).

#include <poetryops/util/clock.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace poetryops::runtime {

/// Thread safety: implementations are safe.
class RateLimiter {
public:
    using duration = std::chrono::steady_clock::duration;
    virtual ~RateLimiter() = default;
    /// How long `item` should wait before it is processed again; records one more failure for it.
    virtual duration when(const std::string& item) = 0;
    /// Stops tracking `item` (it succeeded): its next failure starts from the base delay again.
    virtual void forget(const std::string& item) = 0;
    /// Failures recorded for `item` since the last forget().
    virtual int num_requeues(const std::string& item) = 0;
};

/// base * 2^failures, capped at max. Per item.
class ItemExponentialRateLimiter final : public RateLimiter {
public:
    ItemExponentialRateLimiter(duration base = std::chrono::milliseconds(5),
                               duration max = std::chrono::seconds(1000));
    duration when(const std::string& item) override;
    void forget(const std::string& item) override;
    int num_requeues(const std::string& item) override;

private:
    std::mutex mu_;
    std::unordered_map<std::string, int> failures_;
    duration base_, max_;
};

/// A global token bucket (`qps` tokens per second, at most `burst`), shared by all items. Each
/// when() reserves a token; when the bucket is empty the reservation lies in the future and the
/// delay says when.
class BucketRateLimiter final : public RateLimiter {
public:
    BucketRateLimiter(double qps, int burst, const Clock& clock);
    duration when(const std::string& item) override;
    void forget(const std::string&) override {}
    int num_requeues(const std::string&) override { return 0; }

private:
    std::mutex mu_;
    const Clock& clock_;
    double qps_;
    double burst_;
    double tokens_;
    std::chrono::steady_clock::time_point last_;
};

/// The longest delay of its limiters.
class MaxOfRateLimiter final : public RateLimiter {
public:
    explicit MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters);
    duration when(const std::string& item) override;
    void forget(const std::string& item) override;
    int num_requeues(const std::string& item) override;

private:
    std::vector<std::unique_ptr<RateLimiter>> limiters_;
};

/// controller-runtime's default: max(ItemExponential(5 ms, 1000 s), Bucket(10 qps, burst 100)).
std::unique_ptr<RateLimiter> default_controller_rate_limiter(const Clock& clock);

}  // namespace poetryops::runtime

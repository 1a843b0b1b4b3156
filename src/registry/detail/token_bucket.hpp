#pragma once
// A token bucket: the per-registry request budget. Tokens refill at `rate` per second up to
// `burst`.

#include <poetryops/util/clock.hpp>

#include <algorithm>
#include <chrono>
#include <mutex>

namespace poetryops::registry::detail {

class TokenBucket {
public:
    TokenBucket(const Clock& clock, double rate, double burst)
        : clock_(clock),
          rate_(rate),
          burst_(std::max(1.0, burst)),
          tokens_(burst_),
          last_(clock.steady_now()) {}

    /// Takes one token if there is one and returns 0; otherwise returns how long until one will be
    /// there (nothing is taken then). Thread safety: safe.
    std::chrono::milliseconds try_take() {
        std::lock_guard lock(mu_);
        auto now = clock_.steady_now();
        double elapsed = std::chrono::duration<double>(now - last_).count();
        last_ = now;
        tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
        if (tokens_ >= 1.0) {
            tokens_ -= 1.0;
            return std::chrono::milliseconds(0);
        }
        if (rate_ <= 0) return std::chrono::milliseconds::max();
        return std::chrono::milliseconds(static_cast<long long>((1.0 - tokens_) / rate_ * 1000.0) +
                                         1);
    }

private:
    const Clock& clock_;
    double rate_;
    double burst_;
    double tokens_;
    std::chrono::steady_clock::time_point last_;
    std::mutex mu_;
};

}  // namespace poetryops::registry::detail

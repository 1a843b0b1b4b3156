#pragma once
/// Exponential backoff with full jitter ("Exponential Backoff And Jitter", AWS architecture blog):
/// the n-th delay is uniform in [base*2^n / 2, base*2^n], capped at `max`.

#include <chrono>
#include <cstdint>
#include <random>

namespace poetryops {

class Backoff {
public:
    Backoff(std::chrono::milliseconds base, std::chrono::milliseconds max,
            std::uint64_t seed = std::random_device{}())
        : base_(base), max_(max), rng_(seed) {}
    /// The next delay; grows with each call until reset().
    std::chrono::milliseconds next();
    void reset() { attempt_ = 0; }
    int attempts() const { return attempt_; }

private:
    std::chrono::milliseconds base_, max_;
    std::mt19937_64 rng_;
    int attempt_ = 0;
};

}  // namespace poetryops

#include <poetryops/util/backoff.hpp>

#include <algorithm>

namespace poetryops {

std::chrono::milliseconds Backoff::next() {
    long long cap = max_.count();
    long long d = base_.count();
    for (int i = 0; i < attempt_ && d < cap; ++i) d *= 2;
    d = std::min(d, cap);
    ++attempt_;
    if (d <= 1) return std::chrono::milliseconds(d);
    std::uniform_int_distribution<long long> dist(d / 2, d);
    return std::chrono::milliseconds(dist(rng_));
}

}  // namespace poetryops

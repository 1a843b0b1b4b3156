#pragma once
/// Clock: the one seam for time, so timers, soak periods, backoff and token expiry are testable.

#include <chrono>
#include <mutex>

namespace poetryops {

class Clock {
public:
    using time_point = std::chrono::system_clock::time_point;
    using duration = std::chrono::system_clock::duration;
    virtual ~Clock() = default;
    /// Wall-clock time (for timestamps written to status, tokens' expiry).
    virtual time_point now() const = 0;
    /// Monotonic time (for timeouts and rate limits).
    virtual std::chrono::steady_clock::time_point steady_now() const = 0;
};

/// The real clock. Thread safety: safe.
class SystemClock final : public Clock {
public:
    time_point now() const override { return std::chrono::system_clock::now(); }
    std::chrono::steady_clock::time_point steady_now() const override {
        return std::chrono::steady_clock::now();
    }
    static SystemClock& instance();
};

/// A clock tests move by hand. Starts at 2026-01-01T00:00:00Z. Thread safety: safe.
class ManualClock final : public Clock {
public:
    ManualClock();
    time_point now() const override;
    std::chrono::steady_clock::time_point steady_now() const override;
    void advance(duration d);
    void set(time_point t);

private:
    mutable std::mutex mu_;
    time_point wall_;
    std::chrono::steady_clock::time_point steady_;
};

/// RFC 3339 UTC with seconds, e.g. "2026-01-01T00:00:00Z" (the form Kubernetes uses in
/// metav1.Time).
std::string format_rfc3339(Clock::time_point t);
/// Parses RFC 3339 ("Z" or "+hh:mm", optional fraction). Returns false on malformed input.
bool parse_rfc3339(std::string_view s, Clock::time_point& out);

}  // namespace poetryops

#include <poetryops/util/clock.hpp>

#include <cstdio>
#include <ctime>
#include <string>

namespace poetryops {

SystemClock& SystemClock::instance() {
    static SystemClock clock;
    return clock;
}

ManualClock::ManualClock()
    : wall_(std::chrono::sys_days{std::chrono::year{2026} / 1 / 1}),
      steady_(std::chrono::steady_clock::time_point{} + std::chrono::hours(1)) {}

Clock::time_point ManualClock::now() const {
    std::lock_guard lock(mu_);
    return wall_;
}

std::chrono::steady_clock::time_point ManualClock::steady_now() const {
    std::lock_guard lock(mu_);
    return steady_;
}

void ManualClock::advance(duration d) {
    std::lock_guard lock(mu_);
    wall_ += d;
    steady_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
}

void ManualClock::set(time_point t) {
    std::lock_guard lock(mu_);
    steady_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(t - wall_);
    wall_ = t;
}

std::string format_rfc3339(Clock::time_point t) {
    std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

bool parse_rfc3339(std::string_view s, Clock::time_point& out) {
    // YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)
    auto digits = [&](std::size_t pos, std::size_t n, int& v) {
        if (pos + n > s.size()) return false;
        v = 0;
        for (std::size_t i = pos; i < pos + n; ++i) {
            if (s[i] < '0' || s[i] > '9') return false;
            v = v * 10 + (s[i] - '0');
        }
        return true;
    };
    int y, mo, d, h, mi, se;
    if (!digits(0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(5, 2, mo) || s[7] != '-' ||
        !digits(8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(11, 2, h) ||
        s[13] != ':' || !digits(14, 2, mi) || s[16] != ':' || !digits(17, 2, se))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return false;
    std::size_t pos = 19;
    std::chrono::nanoseconds frac{0};
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        long long scale = 100000000, ns = 0;
        std::size_t start = pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (scale > 0) ns += (s[pos] - '0') * scale;
            scale /= 10;
            ++pos;
        }
        if (pos == start) return false;
        frac = std::chrono::nanoseconds(ns);
    }
    if (pos >= s.size()) return false;
    int offset_min = 0;
    if (s[pos] == 'Z' || s[pos] == 'z') {
        ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
        int oh, om;
        if (!digits(pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
            !digits(pos + 4, 2, om))
            return false;
        offset_min = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
        pos += 6;
    } else {
        return false;
    }
    if (pos != s.size()) return false;
    std::chrono::year_month_day ymd{std::chrono::year{y},
                                    std::chrono::month{static_cast<unsigned>(mo)},
                                    std::chrono::day{static_cast<unsigned>(d)}};
    if (!ymd.ok()) return false;
    auto tp = std::chrono::sys_days{ymd} + std::chrono::hours(h) + std::chrono::minutes(mi) +
              std::chrono::seconds(se) - std::chrono::minutes(offset_min);
    out = std::chrono::time_point_cast<Clock::duration>(tp + frac);
    return true;
}

}  // namespace poetryops

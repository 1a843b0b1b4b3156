#include <poetryops/api/duration.hpp>

#include <cstdint>

namespace poetryops::api {

Duration::Duration(std::string t) : text(std::move(t)) {
    if (auto v = parse_duration(text)) value = *v;
}

namespace {

constexpr std::int64_t kMaxNanos = 10LL * 366 * 24 * 3600 * 1000000000LL;  // 10 years

bool unit_nanos(std::string_view s, std::size_t& pos, std::int64_t& nanos) {
    auto starts = [&](std::string_view u) { return s.substr(pos, u.size()) == u; };
    struct Unit {
        std::string_view name;
        std::int64_t nanos;
    };
    // Longest spellings first so "ms" is not read as "m" followed by garbage.
    static constexpr Unit units[] = {{"ns", 1},
                                     {"us", 1000},
                                     {"\xC2\xB5s", 1000},  // U+00B5 micro sign
                                     {"\xCE\xBCs", 1000},  // U+03BC Greek mu
                                     {"ms", 1000000},
                                     {"s", 1000000000LL},
                                     {"m", 60 * 1000000000LL},
                                     {"h", 3600 * 1000000000LL}};
    for (const auto& u : units) {
        if (starts(u.name)) {
            pos += u.name.size();
            nanos = u.nanos;
            return true;
        }
    }
    return false;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view s) {
    if (s == "0") return std::chrono::milliseconds(0);
    if (s.empty()) return std::nullopt;
    std::size_t pos = 0;
    std::int64_t total = 0;
    while (pos < s.size()) {
        std::int64_t whole = 0;
        std::size_t start = pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            whole = whole * 10 + (s[pos] - '0');
            if (whole > kMaxNanos) return std::nullopt;
            ++pos;
        }
        bool had_whole = pos > start;
        // Fraction: keep up to 18 digits, enough for nanosecond precision of any unit.
        std::int64_t frac = 0, scale = 1;
        bool had_frac = false;
        if (pos < s.size() && s[pos] == '.') {
            ++pos;
            while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
                if (scale < 1000000000000000000LL / 10) {
                    frac = frac * 10 + (s[pos] - '0');
                    scale *= 10;
                }
                had_frac = true;
                ++pos;
            }
        }
        if (!had_whole && !had_frac) return std::nullopt;
        std::int64_t unit = 0;
        if (!unit_nanos(s, pos, unit)) return std::nullopt;
        if (whole > kMaxNanos / unit) return std::nullopt;
        std::int64_t part = whole * unit;
        if (frac > 0) {
            // frac/scale * unit without overflow: unit <= 3.6e12, so scale down the fraction first
            // when needed.
            long double f = static_cast<long double>(frac) / static_cast<long double>(scale);
            part += static_cast<std::int64_t>(f * static_cast<long double>(unit));
        }
        total += part;
        if (total > kMaxNanos) return std::nullopt;
    }
    return std::chrono::milliseconds(total / 1000000);
}

std::string format_duration(std::chrono::milliseconds d) {
    std::int64_t ms = d.count();
    if (ms == 0) return "0s";
    std::string out;
    if (ms < 0) {
        out = "-";
        ms = -ms;
    }
    if (ms < 1000) return out + std::to_string(ms) + "ms";
    std::int64_t h = ms / 3600000;
    std::int64_t m = (ms / 60000) % 60;
    std::int64_t s = (ms / 1000) % 60;
    std::int64_t rest = ms % 1000;
    if (h) out += std::to_string(h) + "h";
    if (m) out += std::to_string(m) + "m";
    if (s || rest) {
        out += std::to_string(s);
        if (rest) {
            std::string f = std::to_string(rest + 1000).substr(1);  // 3 digits, leading zeros kept
            while (!f.empty() && f.back() == '0') f.pop_back();
            out += "." + f;
        }
        out += "s";
    }
    return out;
}

}  // namespace poetryops::api

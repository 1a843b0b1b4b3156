#pragma once
/// Go-style durations as written in PoetryApp specs ("30s", "10m", "1h30m", "1.5h", "250ms", "0").

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace poetryops::api {

/// A duration as written in a spec: the text (kept for round trips) and its value once parsed.
struct Duration {
    std::string text;  ///< as written, e.g. "1h30m"
    std::chrono::milliseconds value{
        0};  ///< valid after parse_duration succeeded (validation does it)

    Duration() = default;
    Duration(std::string t);  // NOLINT(implicit): specs default from literals like "5m"
    bool operator==(const Duration& other) const { return text == other.text; }
};

/// Parses a non-negative Go duration (time.ParseDuration without the sign): a sequence of decimal
/// numbers, each with an optional fraction and a unit out of ns, us, µs, ms, s, m, h; "0" alone is
/// allowed. Sub-millisecond parts are truncated. Returns nullopt on malformed input or overflow
/// (more than 10 years).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

/// Formats the Go way, shortest exact form: 0s, 250ms, 30s, 10m0s is written "10m", 1h30m, 1h0m5s
/// -> "1h5s".
std::string format_duration(std::chrono::milliseconds d);

}  // namespace poetryops::api

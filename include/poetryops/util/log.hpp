#pragma once
/// Logging: levelled, text or JSON lines, every message and field passed through redact().
///
///   POETRYOPS_LOG(info, "pushed commit", {{"repo", url}, {"sha", sha}});
///
/// Thread safety: safe; each record is written with one write under a lock.

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace poetryops::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };
enum class Format { text, json };

using Field = std::pair<std::string, std::string>;
using Fields = std::vector<Field>;

/// Global configuration (set once at start-up by main; tests may change it).
void set_level(Level level);
Level level();
void set_format(Format format);
/// Replace the sink (default: stderr). The sink receives one complete line without the trailing
/// newline.
void set_sink(std::function<void(std::string_view line)> sink);
/// Parses "debug|info|warn|error|off"; returns false when unknown.
bool parse_level(std::string_view s, Level& out);

/// Writes one record when `lvl` is enabled. Message and field values are redacted.
void write(Level lvl, std::string_view msg, const Fields& fields = {});

inline bool enabled(Level lvl) { return lvl >= level(); }

/// Replaces anything that looks like a secret with "[REDACTED]": Authorization/Bearer/Basic values,
/// user:password@ in URLs, password=/token=/secret=/apikey= style pairs (also as JSON keys), PEM
/// private keys, JWTs, and well-known token prefixes (ghp_, glpat-, xox?-, AKIA…). Applied to every
/// log line, and usable for status, events and errors.
std::string redact(std::string_view text);

}  // namespace poetryops::log

#define POETRYOPS_LOG(lvl, ...)                                                 \
    do {                                                                        \
        if (::poetryops::log::enabled(::poetryops::log::Level::lvl))            \
            ::poetryops::log::write(::poetryops::log::Level::lvl, __VA_ARGS__); \
    } while (0)

#pragma once
/// Semantic versions (semver.org 2.0, read loosely the way image tags are written: "v1.2.3", "1.2")
/// and node-semver style ranges: comparisons, `^`, `~`, x-ranges (`1.x`, `1.2.*`, `*`), hyphen
/// ranges, `||`; space or comma means AND.

#include <poetryops/util/result.hpp>

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::registry {

struct SemVer {
    std::uint64_t major = 0, minor = 0, patch = 0;
    std::vector<std::string> prerelease;  ///< dot-separated identifiers after '-'
    std::string build;                    ///< after '+'; ignored for ordering
    bool is_prerelease() const { return !prerelease.empty(); }
    std::string str() const;
};

/// Parses "1.2.3", "v1.2.3-rc.1+build.5"; with `loose`, also "1" and "1.2" (missing parts are 0).
/// Error::Kind::invalid otherwise (leading zeros, empty identifiers, non-numeric parts).
Result<SemVer> parse_semver(std::string_view text, bool loose = true);

/// semver.org precedence (build metadata ignored).
std::strong_ordering compare(const SemVer& a, const SemVer& b);
inline bool operator==(const SemVer& a, const SemVer& b) { return compare(a, b) == 0; }
inline std::strong_ordering operator<=>(const SemVer& a, const SemVer& b) { return compare(a, b); }

/// A parsed range. Value type.
class SemverRange {
public:
    /// Parses a range; Error::Kind::invalid names the offending comparator.
    static Result<SemverRange> parse(std::string_view text);
    /// Whether v satisfies the range. A pre-release matches only when `include_prerelease`, or when
    /// a comparator of the matching set names a pre-release of the same major.minor.patch
    /// (node-semver's rule).
    bool matches(const SemVer& v, bool include_prerelease = false) const;
    const std::string& text() const { return text_; }

    struct Comparator {
        enum class Op { eq, lt, le, gt, ge } op = Op::ge;
        SemVer version;
    };

private:
    std::string text_;
    std::vector<std::vector<Comparator>> sets_;  // OR of ANDs
};

}  // namespace poetryops::registry

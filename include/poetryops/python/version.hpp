#pragma once
/// PEP 440 versions: parse, normalise, order, and render as an OCI tag.

#include <poetryops/util/result.hpp>

#include <compare>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::python {

/// A parsed PEP 440 version: [N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]
struct Version {
    int epoch = 0;
    std::vector<long long> release;                 ///< at least one component
    std::optional<std::pair<char, long long>> pre;  ///< 'a', 'b' or 'c' (rc) and its number
    std::optional<long long> post;
    std::optional<long long> dev;
    std::vector<std::string> local;  ///< local segments, lower-case

    bool is_prerelease() const { return pre.has_value() || dev.has_value(); }
    /// The normalised form, e.g. "1.4.2rc1.post2.dev3+ubuntu.1".
    std::string str() const;
};

/// Parses and normalises (accepts the PEP 440 alternative spellings: "v1.0", "1.0-alpha.1",
/// "1.0.post-2", "1.0_r1"). Error::Kind::invalid with the offending text on failure.
Result<Version> parse_version(std::string_view text);

/// PEP 440 ordering (dev < pre < final < post; local segments compared last).
std::strong_ordering compare(const Version& a, const Version& b);
inline bool operator==(const Version& a, const Version& b) { return compare(a, b) == 0; }
inline std::strong_ordering operator<=>(const Version& a, const Version& b) {
    return compare(a, b);
}

/// Renders the version as an OCI tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127}). OCI tags have no '+', so
/// the local separator becomes '-' ("1.0+ubuntu.1" -> "1.0-ubuntu.1"); every other character
/// outside the tag alphabet becomes
/// '-'; the result is cut to 128 characters. The mapping is documented in docs/python.md.
std::string oci_tag(const Version& v);

}  // namespace poetryops::python

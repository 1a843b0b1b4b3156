#pragma once
/// The one home of the OCI / distribution reference grammar (github.com/distribution/reference, OCI
/// image-spec descriptor digests): tags, digests, repository path components and registry hosts.
/// Pure: no I/O. Every module that reads or writes image references (`python` for version tags,
/// `manifest`, `registry`, `api`) asks this one.
///
///   oci::is_valid_tag("1.4.2-ab12cd3")            // true
///   oci::sanitize_tag("feature/new thing")         // "feature-new-thing"
///   oci::validate_digest("sha256:…")               // ok, or an error saying what is wrong
///   oci::is_valid_host("registry.example.com:5000")

#include <poetryops/util/result.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace poetryops::oci {

/// tag := [A-Za-z0-9_][A-Za-z0-9._-]{0,127}
inline constexpr std::size_t kMaxTagLength = 128;
inline constexpr std::string_view kTagGrammar = "[A-Za-z0-9_][A-Za-z0-9._-]{0,127}";
/// A repository name (host/path) of at most this many characters.
inline constexpr std::size_t kMaxNameLength = 255;

/// A character a tag may contain anywhere (the first one is narrower: no '.' or '-').
bool is_tag_char(char c);
bool is_valid_tag(std::string_view tag);
/// `text` made into a valid tag: other characters become '-', a leading '.' or '-' becomes '_', cut
/// at 128; "" → "_".
std::string sanitize_tag(std::string_view text);

/// algorithm ":" hex — sha256 (64 lower-case hex) or sha512 (128). Errors (Kind::invalid) say what
/// is wrong.
Result<void> validate_digest(std::string_view digest);
bool is_valid_digest(std::string_view digest);

/// path-component := [a-z0-9]+ (('.' | '_' | '__' | '-'+) [a-z0-9]+)*
bool is_valid_path_component(std::string_view component);

/// host [":" port]: DNS labels (letters, digits, inner '-'; at most 63 each, 253 in all; any case),
/// an IPv4 address or a bracketed IPv6 literal; port 1..65535.
bool is_valid_host(std::string_view host_port);
/// Whether the first component of a reference names a registry rather than a path: it has a '.', a
/// ':', an upper-case letter or is "localhost" / a bracketed IPv6 literal (the distribution rule:
/// `library/x` is a path, `my.reg/x` not).
bool looks_like_host(std::string_view first_component);

}  // namespace poetryops::oci

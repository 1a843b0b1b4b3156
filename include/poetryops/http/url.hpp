#pragma once
/// URLs for the HTTP client: parsing (with IPv6 literals), redirect resolution and origin checks.
///
/// Only absolute `http` and `https` URLs are accepted. URLs with user information
/// (`user:pass@host`) are rejected: credentials travel in headers, never in URLs, and a rejected
/// URL is never echoed back (it may hold a password).

#include <poetryops/util/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace poetryops::http {

/// A parsed absolute http(s) URL. Value type.
struct Url {
    std::string scheme{};  ///< "http" or "https" (lower case)
    /// host name (lower case) or IP literal, without the [] of an IPv6 literal
    std::string host{};
    std::uint16_t port = 0;  ///< explicit port, or 80/443 from the scheme
    std::string target{};  ///< path and query ("/v2/?q=1"), at least "/"; the #fragment is dropped

    bool tls() const { return scheme == "https"; }
    /// True when `host` is an IPv4 or IPv6 literal (no SNI is sent for those).
    bool is_ip_literal() const;
    /// "host:port" with brackets for IPv6, for error messages and pool keys: "[::1]:8443".
    std::string host_port() const;
    /// Value for the Host header: the port is omitted when it is the scheme's default.
    std::string authority() const;
    /// "scheme://authority", e.g. "https://registry.example.com".
    std::string origin() const;
    /// The whole URL: origin() + target.
    std::string str() const;
    /// The path part of target (before '?').
    std::string path() const;
    /// The query part of target (after '?', without it); empty when none.
    std::string query() const;
};

/// Parses an absolute http(s) URL. Errors (Kind::invalid) never contain user information from the
/// input.
Result<Url> parse_url(std::string_view text);

/// Resolves a `Location` header against the URL that answered (RFC 3986 §5.2: absolute URLs,
/// "//host/x",
/// "/abs/path", "rel/path", "?query"). Returns the absolute target URL.
///
/// Redirects are never followed by the Client: the caller decides. When following one, drop
/// `Authorization` (and any other credential header) unless `same_origin(from, to)`.
Result<Url> resolve_redirect(const Url& base, std::string_view location);

/// Scheme, host and port all equal.
bool same_origin(const Url& a, const Url& b);

/// 301, 302, 303, 307, 308.
bool is_redirect_status(int status);

/// Splits a request target "/a/b?x=1&y" into path "/a/b" and query "x=1&y".
std::pair<std::string, std::string> split_target(std::string_view target);

/// Decodes "a=1&b=x%20y&c" into {{"a","1"},{"b","x y"},{"c",""}} ('+' means space).
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);

/// Percent-decodes; invalid escapes are kept literally.
std::string percent_decode(std::string_view s, bool plus_is_space = false);

}  // namespace poetryops::http

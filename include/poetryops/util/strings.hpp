#pragma once
/// Small string helpers used across modules.

#include <string>
#include <string_view>
#include <vector>

namespace poetryops::str {

std::string_view trim(std::string_view s);
std::vector<std::string> split(std::string_view s, char sep);
/// Splits on sep, dropping empty pieces and trimming each.
std::vector<std::string> split_nonempty(std::string_view s, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
std::string replace_all(std::string s, std::string_view from, std::string_view to);
/// One word quoted for the POSIX shell: 'it'\''s' (always quoted; sh reads back exactly `word`).
std::string shell_quote(std::string_view word);
/// Lower-case hex of bytes.
std::string hex(std::string_view bytes);
std::string base64_encode(std::string_view bytes);
/// Returns false on malformed input. Accepts padding or not; accepts the URL-safe alphabet.
bool base64_decode(std::string_view text, std::string& out);
/// sha256 of bytes as 64 lower-case hex characters.
std::string sha256_hex(std::string_view bytes);
/// Percent-encodes everything outside RFC 3986 unreserved characters.
std::string url_encode(std::string_view s);
/// A TCP port as written in a host:port: decimal digits only, 1..65535.
bool is_port(std::string_view s);

}  // namespace poetryops::str

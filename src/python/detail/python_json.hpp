#pragma once
/// Python's `json.dumps(value, sort_keys=True)` with its defaults (separators ", " and ": ",
/// ensure_ascii=True) over TOML values as tomllib yields them: what Poetry hashes into
/// poetry.lock's `content-hash`.

#include <poetryops/util/result.hpp>

#include <toml++/toml.h>

#include <string>
#include <string_view>

namespace poetryops::python::detail {

/// A JSON string literal as Python writes it with ensure_ascii=True: `"` and `\` escaped, \n \r \t
/// \b \f by name, other characters outside ' '..'~' as \u00xx, non-ASCII as lower-case \uxxxx
/// (surrogate pairs above U+FFFF). `utf8` is assumed valid (toml++ checked it).
std::string python_json_string(std::string_view utf8);

/// A float as Python's repr() writes it (shortest round trip; exponent form below 1e-4 and from
/// 1e16 on: "1e-05", "1e+16"; "1.0" not "1"), and json's Infinity / -Infinity / NaN.
std::string python_float_repr(double value);

/// json.dumps(node, sort_keys=True). Error::Kind::invalid naming `field` for a date or time (json
/// cannot serialise a datetime: Poetry itself fails there).
Result<std::string> python_json_dumps(const toml::node& node, const std::string& field);

}  // namespace poetryops::python::detail

namespace poetryops::python {
struct ContentHashes;
}

namespace poetryops::python::detail {

/// The content-hash of a parsed pyproject.toml under each of Poetry's rules (project.hpp
/// HashRule).
ContentHashes content_hashes(const toml::table& pyproject);

}  // namespace poetryops::python::detail

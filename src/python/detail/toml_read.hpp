#pragma once
/// toml++ at the decode boundary: parse exceptions become Error::Kind::decode with `file:line:col:
/// message`, and typed field readers report `file:line: field: problem` for values of the wrong
/// type.

#include <poetryops/util/result.hpp>

#include <toml++/toml.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::python::detail {

/// Parses TOML text; never throws.
Result<toml::table> parse_toml(std::string_view text, const std::string& file);

/// "file:LINE" for a node with a known position, else "file".
std::string where(const std::string& file, const toml::node* node);

/// Reads typed fields of one table and remembers the first type error, so call sites stay linear:
///   FieldReader r(file, tbl, "tool.poetry"); auto name = r.string("name"); ... if (r.failed())
///   return r.error();
class FieldReader {
public:
    FieldReader(const std::string& file, const toml::table* table, std::string path)
        : file_(file), table_(table), path_(std::move(path)) {}

    std::optional<std::string> string(std::string_view key);
    std::optional<bool> boolean(std::string_view key);
    const toml::table* table(std::string_view key);
    const toml::array* array(std::string_view key);
    /// An array whose every element is a string.
    std::optional<std::vector<std::string>> strings(std::string_view key);
    const toml::node* node(std::string_view key) const;

    /// Records an error at `at` (or at the table) unless one is already recorded.
    void invalid(const toml::node* at, const std::string& what);
    bool failed() const { return error_.has_value(); }
    Error error() const { return *error_; }
    const std::string& path() const { return path_; }
    std::string field(std::string_view key) const;

private:
    void wrong_type(std::string_view key, const char* expected);

    const std::string& file_;
    const toml::table* table_;
    std::string path_;
    std::optional<Error> error_;
};

}  // namespace poetryops::python::detail

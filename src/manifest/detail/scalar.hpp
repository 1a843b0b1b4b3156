#pragma once
// Exact byte extent of a scalar in the original text, and re-encoding of new content in the same
// quoting style.

#include "manifest/detail/yaml_tree.hpp"

#include <poetryops/util/result.hpp>

#include <string>
#include <string_view>

namespace poetryops::manifest::detail {

enum class ScalarStyle { plain, single_quoted, double_quoted, block };

struct ScalarSpan {
    std::size_t begin = 0;  // first byte of the scalar itself (after `&anchor`/`!tag` properties)
    std::size_t end = 0;    // one past its last byte (closing quote included)
    ScalarStyle style = ScalarStyle::plain;
};

/// Finds node i's bytes and checks that they decode to the value yaml-cpp read, so a splice can
/// never hit the wrong bytes. Block scalars and multi-line flow scalars are refused as edit
/// targets.
Result<ScalarSpan> locate_scalar(std::string_view text, const Tree& tree, std::size_t i);

/// Where the properties of node i end: the first byte after its `&anchor`/`!tag` (and the
/// whitespace after them).
std::size_t skip_properties(std::string_view text, std::size_t pos, bool in_flow);

/// Encodes `value` for the given style. `as_string`: the value must read back as a string, so a
/// plain scalar that YAML would resolve to a number, bool or null (e.g. 1.10, true) is written
/// double-quoted instead. Values that the style cannot hold (a quote style for control characters,
/// plain for indicators) fall back to double quotes.
std::string encode_scalar(std::string_view value, ScalarStyle style, bool in_flow, bool as_string);

/// True when a plain scalar with this text would resolve to something other than a string (YAML 1.1
/// and 1.2 core).
bool resolves_non_string(std::string_view value);

}  // namespace poetryops::manifest::detail

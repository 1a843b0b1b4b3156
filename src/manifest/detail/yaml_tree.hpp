#pragma once
// A read-only YAML tree built from yaml-cpp parser events, with byte offsets into the original
// text.
//
// Why events and not YAML::Load: the Node API resolves aliases transparently, so it cannot tell an
// alias from the node it points to, nor whether an anchored node is used elsewhere. Events keep
// aliases as references (never expanded, so a YAML bomb costs nothing to walk) and give the same
// marks Node::Mark() would.

#include <poetryops/manifest/edit.hpp>
#include <poetryops/util/result.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::manifest::detail {

inline constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();

enum class NodeKind { null, scalar, map, seq, alias };

struct Node {
    NodeKind kind = NodeKind::null;
    int line = 0;    // 0-based, as yaml-cpp counts ('\n' only)
    int column = 0;  // 0-based byte column
    // byte offset of the node start (its properties, if any) in the original text
    std::size_t offset = 0;
    std::size_t anchor = 0;    // index into Tree::anchors when this node defines an anchor, else 0
    std::size_t alias_of = 0;  // for aliases: index into Tree::anchors
    bool flow = false;         // collections: written in flow style
    bool in_flow = false;      // the node lies inside a flow collection
    std::string tag;           // "?" plain, "!" quoted/non-plain, or an explicit tag
    std::string value;         // scalars: the decoded value
    std::vector<std::size_t> children;  // maps: key, value, key, value...; sequences: items
    std::size_t parent = npos;
    std::size_t doc = 0;
    std::uint64_t expanded = 1;  // node count with aliases expanded (saturating)
};

struct Anchor {
    std::string name;
    std::size_t node = npos;
    std::size_t uses = 0;  // aliases referring to it
};

struct Document {
    std::size_t root = npos;
    int line = 0;
};

struct Tree {
    std::vector<Node> nodes;
    std::vector<Anchor> anchors{Anchor{}};  // index 0 = no anchor
    std::vector<Document> docs;
    std::vector<std::size_t> line_starts;  // byte offset of each line (split on '\n')
    std::size_t bom = 0;                   // 3 when the text starts with a UTF-8 BOM

    const Node& at(std::size_t i) const { return nodes[i]; }
    /// Value node of `key` in map node `map`, or npos (also when `map` is not a map).
    std::size_t get(std::size_t map, std::string_view key) const;
    /// Scalar value of `key` in `map`, or empty.
    std::string get_string(std::size_t map, std::string_view key) const;
    /// Follows a dotted path ("spec.template.spec"); numeric parts index sequences. npos when
    /// missing.
    std::size_t path(std::size_t from, std::string_view dotted) const;
    /// Why editing node `i` would change other places: "" when it is safe, else a reason naming the
    /// anchor.
    std::string sharing_problem(std::size_t i) const;
    /// 1-based line of node i.
    int line_of(std::size_t i) const { return nodes[i].line + 1; }
    /// Byte offset of the start of 0-based line `line`.
    std::size_t line_offset(int line) const;
};

/// Parses `text` (all documents). Refuses invalid YAML (yaml-cpp's message and line), non-UTF-8
/// encodings, and input past the limits (size, node count, alias expansion).
Result<Tree> parse_tree(std::string_view text, const Limits& limits);

}  // namespace poetryops::manifest::detail

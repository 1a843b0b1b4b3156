#pragma once
// An edit in progress over one text: the parsed tree, the splices collected so far, and the changes
// to report.

#include "manifest/detail/scalar.hpp"
#include "manifest/detail/yaml_tree.hpp"

#include <poetryops/manifest/edit.hpp>

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::manifest::detail {

class Session {
public:
    Session(std::string_view text, Tree tree) : text_(text), tree_(std::move(tree)) {
        nl_ = text.find("\r\n") != std::string_view::npos ? "\r\n" : "\n";
    }

    const Tree& tree() const { return tree_; }
    std::string_view text() const { return text_; }
    /// The file's own line ending, for inserted lines.
    const std::string& nl() const { return nl_; }

    /// Counts a target that was found (whether or not it changes).
    void count_match() { ++matched_; }
    std::size_t matched() const { return matched_; }

    /// Sets scalar (or empty/null) node i to `value` in its own quoting style. Refuses aliases,
    /// shared anchored nodes and block scalars. A node already edited in this session is left as
    /// the first edit set it.
    Result<void> set_scalar(std::size_t i, std::string_view value, const std::string& field,
                            bool as_string = true);

    /// Inserts `bytes` at `at` (insertions at the same offset keep their order).
    void insert(std::size_t at, std::string bytes, Change change);

    /// Removes `key` and its scalar value from map `map`: the whole line when the pair is alone on
    /// its line(s), the
    /// ", key: value" span in a flow map, else sets the value to "".
    Result<void> remove_key(std::size_t map, std::string_view key, const std::string& field);

    /// Adds `key: value` to the map holding key node `after_key` (a key of that map), right after
    /// that pair.
    Result<void> add_key_after(std::size_t map, std::size_t after_key, std::string_view key,
                               std::string_view value, const std::string& field,
                               bool as_string = true);

    /// Offset just before the line break that ends the line holding `pos`.
    std::size_t line_end(std::size_t pos) const;
    /// Offset one past the end of node i's bytes, when the node ends in a scalar we can locate
    /// (maps and sequences: their last descendant). npos otherwise.
    std::size_t node_end(std::size_t i) const;
    /// Key node whose value is node i, or npos.
    std::size_t key_of(std::size_t i) const;

    /// The new text and the changes; the input when nothing changed.
    Result<EditResult> finish() const;

private:
    struct Splice {
        std::size_t begin;
        std::size_t end;
        std::string bytes;
        std::size_t seq;
    };

    std::string_view text_;
    Tree tree_;
    std::string nl_;
    std::vector<Splice> splices_;
    std::vector<Change> changes_;
    std::set<std::size_t> edited_;
    std::size_t matched_ = 0;
};

/// "line N: " prefix for node i.
std::string at_line(const Tree& tree, std::size_t i);

}  // namespace poetryops::manifest::detail

#pragma once
/// Git object formats handled in-process: tree parsing and serialisation (git's entry order),
/// object ids, and the output of `git cat-file --batch`.

#include <poetryops/util/result.hpp>

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace poetryops::git::detail {

struct TreeEntry {
    std::string mode;  ///< as git writes it: "40000", "100644", "100755", "120000", "160000"
    std::string oid;   ///< lower-case hex
    bool is_tree() const { return mode == "40000"; }
    bool is_symlink() const { return mode == "120000"; }
    bool is_gitlink() const { return mode == "160000"; }
};

/// A tree's entries by name.
using Tree = std::map<std::string, TreeEntry>;
/// A parsed tree shared by readers (trees are immutable by id).
using SharedTree = std::shared_ptr<const Tree>;

/// Parses a raw tree object ("MODE NAME\0<binary id>"...). `hash_size` is 20 (SHA-1) or 32
/// (SHA-256).
Result<Tree> parse_tree(std::string_view raw, std::size_t hash_size);

/// Serialises entries in git's order (names compared bytewise, a tree's name as if followed by
/// '/').
std::string serialize_tree(const Tree& tree);

/// The object id of an object of `type` with `body`: hash("TYPE SIZE\0BODY") as hex; SHA-1 for
/// hash_size 20, else SHA-256.
std::string object_id(std::string_view type, std::string_view body, std::size_t hash_size);

/// One answer of `git cat-file --batch`.
struct BatchObject {
    bool missing = false;
    std::string oid;
    std::string type;
    std::string content;
};

/// Parses `git cat-file --batch` output for `count` requests.
Result<std::vector<BatchObject>> parse_batch_output(std::string_view out, std::size_t count);

/// True for 40 or 64 lower-case hex characters.
bool is_object_id(std::string_view s);

}  // namespace poetryops::git::detail

namespace poetryops::git::detail {

/// A pack (version 2) holding `objects` (type name, body) undeltified, each zlib stream made of
/// stored blocks (no compression: git recompresses on its next gc), ready for `git index-pack
/// --stdin`. One process writes every new object of a commit instead of one loose file each.
std::string build_pack(const std::vector<std::pair<std::string, std::string>>& objects,
                       std::size_t hash_size);

/// A zlib stream (RFC 1950) of `data` in stored deflate blocks (RFC 1951 BTYPE=00).
std::string zlib_stored(std::string_view data);

}  // namespace poetryops::git::detail

namespace poetryops::git::detail {

/// Writes one loose object (`TYPE SIZE\0BODY` as a stored-deflate zlib stream) under
/// `git_dir`/objects, the way git does it (a temporary file in the fan-out folder, then rename),
/// unless it is already there. No fsync: git does not sync loose objects by default either, and the
/// object is only referenced once a ref points at it.
Result<void> write_loose_object(const std::filesystem::path& git_dir, const std::string& oid,
                                std::string_view type, std::string_view body);

/// A commit object's body: tree, parent, author and committer with `unix_time` in UTC, a blank line
/// and the message (ending with a newline). Names and emails lose '<', '>' and control characters
/// (what git's ident code strips).
std::string serialize_commit(const std::string& tree, const std::string& parent, std::string name,
                             std::string email, long long unix_time, std::string message);

/// Immutable git objects this process has written or read, by id, up to a byte budget (then it
/// starts over), and the root tree of commits it knows. Lets a commit built on the previous one
/// read nothing from disk. Thread safety: none (the Repo lock guards it).
class ObjectCache {
public:
    explicit ObjectCache(std::size_t max_bytes = 16u << 20) : max_bytes_(max_bytes) {}
    const std::string* get(const std::string& oid) const;
    void put(const std::string& oid, std::string content);
    std::optional<std::string> tree_of(const std::string& commit) const;
    /// The parsed form of a tree object held here (parsed once: a folder of 1,000 apps is read by
    /// each of them), or null.
    SharedTree parsed_tree(const std::string& oid) const;
    void put_parsed_tree(const std::string& oid, SharedTree tree);
    void put_tree_of(const std::string& commit, const std::string& tree);
    std::size_t bytes() const { return bytes_; }

private:
    std::size_t max_bytes_, bytes_ = 0;
    std::unordered_map<std::string, std::string> objects_;
    std::unordered_map<std::string, std::string> commit_trees_;
    std::unordered_map<std::string, SharedTree> parsed_;  // a subset of objects_' trees
};

}  // namespace poetryops::git::detail

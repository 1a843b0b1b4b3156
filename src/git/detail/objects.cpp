#include "git/detail/objects.hpp"

#include <poetryops/util/stale.hpp>
#include <poetryops/util/strings.hpp>

#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <cstdlib>

namespace poetryops::git::detail {

namespace {

std::string from_hex(std::string_view hex) {
    std::string out;
    out.reserve(hex.size() / 2);
    auto val = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out += static_cast<char>(val(hex[i]) * 16 + val(hex[i + 1]));
    return out;
}

}  // namespace

bool is_object_id(std::string_view s) {
    if (s.size() != 40 && s.size() != 64) return false;
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Result<Tree> parse_tree(std::string_view raw, std::size_t hash_size) {
    Tree tree;
    std::size_t i = 0;
    while (i < raw.size()) {
        auto sp = raw.find(' ', i);
        if (sp == std::string_view::npos)
            return fail(Error::Kind::decode, "malformed tree object (mode)");
        auto nul = raw.find('\0', sp + 1);
        if (nul == std::string_view::npos || nul + 1 + hash_size > raw.size()) {
            return fail(Error::Kind::decode, "malformed tree object (name)");
        }
        TreeEntry e;
        e.mode = std::string(raw.substr(i, sp - i));
        e.oid = str::hex(raw.substr(nul + 1, hash_size));
        tree.emplace(std::string(raw.substr(sp + 1, nul - sp - 1)), std::move(e));
        i = nul + 1 + hash_size;
    }
    return tree;
}

std::string serialize_tree(const Tree& tree) {
    std::vector<std::pair<std::string, const TreeEntry*>> order;
    order.reserve(tree.size());
    for (const auto& [name, e] : tree) order.emplace_back(e.is_tree() ? name + "/" : name, &e);
    std::sort(order.begin(), order.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string out;
    for (const auto& [key, e] : order) {
        std::string_view name = key;
        if (e->is_tree()) name.remove_suffix(1);
        out += e->mode;
        out += ' ';
        out += name;
        out += '\0';
        out += from_hex(e->oid);
    }
    return out;
}

std::string object_id(std::string_view type, std::string_view body, std::size_t hash_size) {
    std::string header = std::string(type) + " " + std::to_string(body.size());
    header += '\0';
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, hash_size == 20 ? EVP_sha1() : EVP_sha256(), nullptr);
    EVP_DigestUpdate(ctx, header.data(), header.size());
    EVP_DigestUpdate(ctx, body.data(), body.size());
    EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    return str::hex(std::string_view(reinterpret_cast<const char*>(md), len));
}

Result<std::vector<BatchObject>> parse_batch_output(std::string_view out, std::size_t count) {
    std::vector<BatchObject> objects;
    objects.reserve(count);
    std::size_t i = 0;
    while (objects.size() < count) {
        auto nl = out.find('\n', i);
        if (nl == std::string_view::npos)
            return fail(Error::Kind::decode, "truncated cat-file output");
        std::string_view header = out.substr(i, nl - i);
        BatchObject o;
        if (header.size() >= 8 && header.substr(header.size() - 8) == " missing") {
            o.missing = true;
            i = nl + 1;
        } else if (header.size() >= 10 && header.substr(header.size() - 10) == " ambiguous") {
            o.missing = true;
            i = nl + 1;
        } else {
            auto sp1 = header.find(' ');
            auto sp2 = header.rfind(' ');
            if (sp1 == std::string_view::npos || sp2 == sp1) {
                return fail(Error::Kind::decode,
                            "unexpected cat-file output: " + std::string(header.substr(0, 120)));
            }
            o.oid = std::string(header.substr(0, sp1));
            o.type = std::string(header.substr(sp1 + 1, sp2 - sp1 - 1));
            std::size_t size =
                std::strtoull(std::string(header.substr(sp2 + 1)).c_str(), nullptr, 10);
            if (nl + 1 + size + 1 > out.size())
                return fail(Error::Kind::decode, "truncated cat-file object");
            o.content = std::string(out.substr(nl + 1, size));
            i = nl + 1 + size + 1;
        }
        objects.push_back(std::move(o));
    }
    return objects;
}

}  // namespace poetryops::git::detail

namespace poetryops::git::detail {

std::string zlib_stored(std::string_view data) {
    std::string out;
    out.reserve(data.size() + data.size() / 65535 * 5 + 16);
    out += static_cast<char>(0x78);
    out += static_cast<char>(0x01);
    std::size_t pos = 0;
    do {
        std::size_t n = std::min<std::size_t>(65535, data.size() - pos);
        bool last = pos + n == data.size();
        out += static_cast<char>(last ? 1 : 0);
        out += static_cast<char>(n & 0xff);
        out += static_cast<char>((n >> 8) & 0xff);
        out += static_cast<char>(~n & 0xff);
        out += static_cast<char>((~n >> 8) & 0xff);
        out.append(data.substr(pos, n));
        pos += n;
    } while (pos < data.size());
    std::uint32_t a = 1, b = 0;
    for (unsigned char c : data) {
        a = (a + c) % 65521;
        b = (b + a) % 65521;
    }
    std::uint32_t adler = (b << 16) | a;
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((adler >> shift) & 0xff);
    return out;
}

std::string build_pack(const std::vector<std::pair<std::string, std::string>>& objects,
                       std::size_t hash_size) {
    std::string pack = "PACK";
    auto be32 = [&](std::uint32_t v) {
        for (int shift = 24; shift >= 0; shift -= 8) pack += static_cast<char>((v >> shift) & 0xff);
    };
    be32(2);
    be32(static_cast<std::uint32_t>(objects.size()));
    for (const auto& [type, body] : objects) {
        int code = type == "commit" ? 1 : type == "tree" ? 2 : type == "blob" ? 3 : 4;
        std::size_t size = body.size();
        unsigned char byte = static_cast<unsigned char>((code << 4) | (size & 0x0f));
        size >>= 4;
        while (size) {
            pack += static_cast<char>(byte | 0x80);
            byte = static_cast<unsigned char>(size & 0x7f);
            size >>= 7;
        }
        pack += static_cast<char>(byte);
        pack += zlib_stored(body);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(pack.data(), pack.size(), md, &len, hash_size == 20 ? EVP_sha1() : EVP_sha256(),
               nullptr);
    pack.append(reinterpret_cast<const char*>(md), len);
    return pack;
}

}  // namespace poetryops::git::detail

namespace poetryops::git::detail {

Result<void> write_loose_object(const std::filesystem::path& git_dir, const std::string& oid,
                                std::string_view type, std::string_view body) {
    if (!is_object_id(oid)) return fail(Error::Kind::internal, "not an object id: " + oid);
    auto dir = git_dir / "objects" / oid.substr(0, 2);
    auto path = dir / oid.substr(2);
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) return ok();
    std::filesystem::create_directories(dir, ec);
    if (ec)
        return fail(Error::Kind::internal, "cannot create " + dir.string() + ": " + ec.message());
    std::string raw(type);
    raw += ' ';
    raw += std::to_string(body.size());
    raw += '\0';
    raw.append(body);
    std::string data = zlib_stored(raw);
    std::string tmpl = (dir / (owned_temp_marker("tmp_obj_") + "-XXXXXX")).string();
    int fd = ::mkstemp(tmpl.data());
    if (fd < 0)
        return fail(Error::Kind::internal, "cannot create a temporary object in " + dir.string());
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ::close(fd);
            ::unlink(tmpl.c_str());
            return fail(Error::Kind::internal,
                        "cannot write object " + oid + " in " + dir.string());
        }
        off += static_cast<std::size_t>(n);
    }
    ::fchmod(fd, 0444);
    ::close(fd);
    if (::rename(tmpl.c_str(), path.c_str()) != 0) {
        ::unlink(tmpl.c_str());
        return fail(Error::Kind::internal, "cannot store object " + oid + " in " + dir.string());
    }
    return ok();
}

namespace {

std::string clean_ident(std::string s) {
    std::string out;
    for (char c : s) {
        if (c == '<' || c == '>' || static_cast<unsigned char>(c) < 0x20) continue;
        out += c;
    }
    auto b = out.find_first_not_of(" .,:;\"\\'");
    auto e = out.find_last_not_of(" .,:;\"\\'");
    return b == std::string::npos ? std::string() : out.substr(b, e - b + 1);
}

}  // namespace

std::string serialize_commit(const std::string& tree, const std::string& parent, std::string name,
                             std::string email, long long unix_time, std::string message) {
    name = clean_ident(std::move(name));
    email = clean_ident(std::move(email));
    if (name.empty()) name = "poetryops";
    std::string who = name + " <" + email + "> " + std::to_string(unix_time) + " +0000\n";
    std::string body = "tree " + tree + "\n";
    if (!parent.empty()) body += "parent " + parent + "\n";
    body += "author " + who;
    body += "committer " + who;
    body += "\n";
    if (message.empty() || message.back() != '\n') message += '\n';
    body += message;
    return body;
}

const std::string* ObjectCache::get(const std::string& oid) const {
    auto it = objects_.find(oid);
    return it == objects_.end() ? nullptr : &it->second;
}

void ObjectCache::put(const std::string& oid, std::string content) {
    // a huge file is not worth evicting everything for
    if (content.size() > max_bytes_ / 4) return;
    if (bytes_ + content.size() > max_bytes_) {
        objects_.clear();
        commit_trees_.clear();
        parsed_.clear();
        bytes_ = 0;
    }
    auto [it, inserted] = objects_.try_emplace(oid, std::move(content));
    if (inserted) bytes_ += it->second.size() + oid.size() + 64;
}

std::optional<std::string> ObjectCache::tree_of(const std::string& commit) const {
    auto it = commit_trees_.find(commit);
    if (it == commit_trees_.end()) return std::nullopt;
    return it->second;
}

SharedTree ObjectCache::parsed_tree(const std::string& oid) const {
    auto it = parsed_.find(oid);
    return it == parsed_.end() ? nullptr : it->second;
}

void ObjectCache::put_parsed_tree(const std::string& oid, SharedTree tree) {
    // Only trees whose bytes are held (and counted against the budget), so both go together.
    if (objects_.count(oid)) parsed_[oid] = std::move(tree);
}

void ObjectCache::put_tree_of(const std::string& commit, const std::string& tree) {
    if (commit_trees_.size() >= 100000) commit_trees_.clear();
    commit_trees_[commit] = tree;
}

}  // namespace poetryops::git::detail

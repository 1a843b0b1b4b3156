// set_image target: a Kustomization's `images:` list (name, newName, newTag, digest).
#include "manifest/detail/targets.hpp"

#include <algorithm>

namespace poetryops::manifest::detail {
namespace {

struct Field {
    std::string key;
    std::string value;
};

// The keys the entry for `req` should hold besides `name`, in kustomize's order.
std::vector<Field> wanted_fields(const SetImageRequest& req) {
    std::vector<Field> f;
    if (req.new_name && !same_image_name(*req.new_name, req.name))
        f.push_back({"newName", *req.new_name});
    if (req.tag) f.push_back({"newTag", *req.tag});
    if (req.digest) f.push_back({"digest", *req.digest});
    return f;
}

std::string spaces(std::size_t n) { return std::string(n, ' '); }

// Column of the first byte of node i (after properties) on its line.
std::size_t column_of(const Session& s, std::size_t i) {
    const Node& n = s.tree().at(i);
    return skip_properties(s.text(), n.offset, n.in_flow) - s.tree().line_offset(n.line);
}

// Updates an existing entry (map node `entry`).
Result<void> update_entry(Session& s, std::size_t entry, std::size_t index,
                          const SetImageRequest& req) {
    const Tree& t = s.tree();
    std::string base = "images[" + std::to_string(index) + "].";
    // The key after which new keys go: the last of name/newName/newTag/digest present so far.
    // Keys this request removes cannot anchor an insertion.
    bool drop_name = req.new_name && same_image_name(*req.new_name, req.name);
    bool drop_tag = !req.tag && req.digest;
    bool drop_digest = req.tag && !req.digest;
    std::size_t anchor_key = npos;
    for (const char* k : {"name", "newName", "newTag", "digest"}) {
        std::string_view key = k;
        if ((key == "newName" && drop_name) || (key == "newTag" && drop_tag) ||
            (key == "digest" && drop_digest)) {
            continue;
        }
        std::size_t v = t.get(entry, k);
        if (v != npos) anchor_key = s.key_of(v);
    }
    std::vector<Field> to_add;
    auto set_or_add = [&](const std::string& key, const std::string& value) -> Result<void> {
        std::size_t v = t.get(entry, key);
        if (v != npos) return s.set_scalar(v, value, base + key);
        to_add.push_back({key, value});
        return ok();
    };
    if (req.new_name) {
        if (same_image_name(*req.new_name, req.name)) {
            POETRYOPS_TRY_VOID(s.remove_key(entry, "newName", base + "newName"));
        } else {
            POETRYOPS_TRY_VOID(set_or_add("newName", *req.new_name));
        }
    }
    if (req.tag || req.digest) {
        if (req.tag) {
            POETRYOPS_TRY_VOID(set_or_add("newTag", *req.tag));
        } else {
            POETRYOPS_TRY_VOID(s.remove_key(entry, "newTag", base + "newTag"));
        }
        if (req.digest) {
            POETRYOPS_TRY_VOID(set_or_add("digest", *req.digest));
        } else {
            POETRYOPS_TRY_VOID(s.remove_key(entry, "digest", base + "digest"));
        }
    }
    if (to_add.empty()) return ok();
    // Several keys after the same one: one insertion, in order, so they land as newName, newTag,
    // digest.
    std::size_t after = anchor_key;
    for (const Field& f : to_add) {
        POETRYOPS_TRY_VOID(s.add_key_after(entry, after, f.key, f.value, base + f.key));
    }
    return ok();
}

// Lines of a new block entry, the dash at column dash_col: "- name: x<nl>  newTag: y...".
std::string block_entry(const Session& s, const SetImageRequest& req, std::size_t dash_col,
                        std::size_t key_col) {
    std::string out =
        spaces(dash_col) + "- name: " + encode_scalar(req.name, ScalarStyle::plain, false, true);
    for (const Field& f : wanted_fields(req)) {
        out += s.nl() + spaces(key_col) + f.key + ": " +
               encode_scalar(f.value, ScalarStyle::plain, false, true);
    }
    return out;
}

std::string flow_entry(const SetImageRequest& req) {
    std::string out = "{name: " + encode_scalar(req.name, ScalarStyle::plain, true, true);
    for (const Field& f : wanted_fields(req)) {
        out += ", " + f.key + ": " + encode_scalar(f.value, ScalarStyle::plain, true, true);
    }
    return out + "}";
}

// The indentation this file gives a block sequence under a key ("images:\n- x" → 0, "images:\n  -
// x" → 2).
std::size_t seq_indent_style(const Session& s, std::size_t root) {
    const Tree& t = s.tree();
    for (std::size_t i = root; i < t.nodes.size() && t.at(i).doc == t.at(root).doc; ++i) {
        const Node& n = t.at(i);
        if (n.kind != NodeKind::seq || n.flow || n.in_flow || n.children.empty()) continue;
        std::size_t k = s.key_of(i);
        if (k == npos) continue;
        std::size_t dash = column_of(s, n.children[0]), key = column_of(s, k);
        // The item's column is 2 past its dash.
        dash = dash >= 2 ? dash - 2 : 0;
        return dash > key ? dash - key : 0;
    }
    return 0;
}

int line_at(std::string_view text, std::size_t pos) {
    return static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(pos), '\n')) +
           1;
}

Result<void> add_entry(Session& s, std::size_t root, std::size_t images,
                       const SetImageRequest& req) {
    const Tree& t = s.tree();
    std::size_t root_col = t.at(root).children.empty() ? 0 : column_of(s, t.at(root).children[0]);
    std::size_t dash_col = root_col + seq_indent_style(s, root);
    if (images == npos) {
        if (t.at(root).flow) {
            return fail(Error::Kind::invalid,
                        at_line(t, root) + "cannot add images: to a flow-style mapping", "Locate");
        }
        std::size_t end = s.node_end(root);
        if (end == npos) {
            return fail(
                Error::Kind::invalid,
                at_line(t, root) +
                    "cannot add images: after a document that ends in a block or multi-line "
                    "value",
                "Locate");
        }
        std::size_t at = s.line_end(end);
        s.insert(at,
                 s.nl() + spaces(root_col) + "images:" + s.nl() +
                     block_entry(s, req, dash_col, dash_col + 2),
                 Change{line_at(s.text(), at) + 1, "images", "", req.name});
        return ok();
    }
    const Node& n = t.at(images);
    std::string problem = t.sharing_problem(images);
    if (!problem.empty())
        return fail(Error::Kind::invalid, at_line(t, images) + "images: " + problem, "Alias");
    if (n.kind == NodeKind::null) {
        std::size_t k = s.key_of(images);
        POETRYOPS_TRY(ScalarSpan ks, locate_scalar(s.text(), t, k));
        std::size_t at = s.line_end(ks.end);
        std::string_view rest = s.text().substr(ks.end, at - ks.end);
        auto colon = rest.find(':');
        auto word = rest.find_first_not_of(" \t:", colon == std::string_view::npos ? 0 : colon);
        if (colon == std::string_view::npos ||
            (word != std::string_view::npos && rest[word] != '#')) {
            return fail(Error::Kind::invalid,
                        at_line(t, k) + "images: has a value that is not a list", "Locate");
        }
        dash_col = column_of(s, k) + seq_indent_style(s, root);
        s.insert(at, s.nl() + block_entry(s, req, dash_col, dash_col + 2),
                 Change{line_at(s.text(), at) + 1, "images[0]", "", req.name});
        return ok();
    }
    if (n.kind != NodeKind::seq) {
        return fail(Error::Kind::invalid, at_line(t, images) + "images: is not a list", "NotList");
    }
    std::size_t end = s.node_end(images);
    if (end == npos) {
        return fail(Error::Kind::invalid,
                    at_line(t, images) + "cannot find where the images: list ends", "Locate");
    }
    std::string field = "images[" + std::to_string(n.children.size()) + "]";
    if (n.flow) {
        std::size_t at = end - 1;  // before ']'
        s.insert(at, (n.children.empty() ? "" : ", ") + flow_entry(req),
                 Change{line_at(s.text(), at), field, "", req.name});
        return ok();
    }
    std::size_t last = n.children.back();
    std::size_t item_dash = column_of(s, n.children.front());
    item_dash = item_dash >= 2 ? item_dash - 2 : 0;
    std::size_t key_col = item_dash + 2;
    if (t.at(last).kind == NodeKind::map && !t.at(last).children.empty()) {
        key_col = column_of(s, t.at(last).children[0]);
    }
    std::size_t at = s.line_end(end);
    s.insert(at, s.nl() + block_entry(s, req, item_dash, key_col),
             Change{line_at(s.text(), at) + 1, field, "", req.name});
    return ok();
}

}  // namespace

Result<void> apply_kustomize(Session& s, const SetImageRequest& req) {
    const Tree& t = s.tree();
    std::vector<std::size_t> roots;
    for (const auto& d : t.docs) {
        if (d.root != npos && t.at(d.root).kind == NodeKind::map && is_kustomization(t, d.root)) {
            roots.push_back(d.root);
        }
    }
    // kustomization.yaml needs no kind: with --kind kustomize, a single mapping document is the
    // kustomization.
    if (roots.empty() && t.docs.size() == 1 && t.docs[0].root != npos &&
        t.at(t.docs[0].root).kind == NodeKind::map) {
        roots.push_back(t.docs[0].root);
    }
    for (std::size_t root : roots) {
        std::size_t images = t.get(root, "images");
        std::vector<std::pair<std::size_t, std::size_t>> hits;  // (entry, index)
        if (images != npos) {
            std::size_t list = images;
            if (t.at(list).kind == NodeKind::alias) list = t.anchors[t.at(list).alias_of].node;
            if (t.at(list).kind == NodeKind::seq) {
                const auto& items = t.at(list).children;
                for (std::size_t i = 0; i < items.size(); ++i) {
                    std::size_t item = items[i];
                    if (t.at(item).kind == NodeKind::alias)
                        item = t.anchors[t.at(item).alias_of].node;
                    std::string name = t.get_string(item, "name");
                    if (!name.empty() && same_image_name(name, req.name))
                        hits.emplace_back(items[i], i);
                }
            }
        }
        if (hits.size() > 1) {
            std::string lines;
            for (auto& h : hits)
                lines += (lines.empty() ? "" : ", ") + std::to_string(t.line_of(h.first));
            return fail(Error::Kind::invalid,
                        at_line(t, hits[0].first) + "ambiguous: " + std::to_string(hits.size()) +
                            " images: entries match " + req.name + " (lines " + lines +
                            "); remove the duplicates",
                        "Ambiguous");
        }
        s.count_match();
        if (hits.empty()) {
            POETRYOPS_TRY_VOID(add_entry(s, root, images, req));
            continue;
        }
        std::size_t entry = hits[0].first;
        if (t.at(entry).kind == NodeKind::alias) {
            return fail(Error::Kind::invalid,
                        at_line(t, entry) + "images[" + std::to_string(hits[0].second) +
                            "] is an alias (*" + t.anchors[t.at(entry).alias_of].name +
                            "); refusing to edit the anchored entry",
                        "Alias");
        }
        POETRYOPS_TRY_VOID(update_entry(s, entry, hits[0].second, req));
    }
    return ok();
}

}  // namespace poetryops::manifest::detail

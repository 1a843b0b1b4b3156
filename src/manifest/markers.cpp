// set_image target: lines marked `# poetryops: APP[:ENV][:tag|:name|:digest]` or Flux's
// `# {"$imagepolicy": "NS:NAME[:tag|:name|:digest]"}`.
#include "manifest/detail/targets.hpp"

#include <algorithm>
#include <map>

namespace poetryops::manifest::detail {
namespace {

enum class Part { ref, tag, name, digest };

struct Marker {
    std::size_t hash = 0;  // offset of '#'
    int line = 0;          // 0-based
    bool flux = false;
    std::string app, env, policy;  // poetryops: app/env; flux: "NS:NAME"
    Part part = Part::ref;
    std::string text;  // the marker as written, for messages
};

std::string_view trim(std::string_view s) {
    auto b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos) return {};
    auto e = s.find_last_not_of(" \t");
    return s.substr(b, e - b + 1);
}

bool take_part(std::vector<std::string_view>& parts, Part& part) {
    if (parts.size() < 2) return true;
    std::string_view last = parts.back();
    if (last == "tag")
        part = Part::tag;
    else if (last == "name")
        part = Part::name;
    else if (last == "digest")
        part = Part::digest;
    else
        return true;
    parts.pop_back();
    return true;
}

std::vector<std::string_view> split_colon(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (true) {
        auto c = s.find(':', start);
        out.push_back(trim(s.substr(start, c == std::string_view::npos ? s.npos : c - start)));
        if (c == std::string_view::npos) break;
        start = c + 1;
    }
    return out;
}

// Parses the comment starting at `hash` (a '#'); false when it is not a marker.
bool parse_marker(std::string_view comment, Marker& m) {
    comment = trim(comment.substr(1));
    constexpr std::string_view ours = "poetryops:";
    if (comment.substr(0, ours.size()) == ours) {
        auto parts = split_colon(trim(comment.substr(ours.size())));
        take_part(parts, m.part);
        if (parts.empty() || parts.size() > 2 || parts[0].empty()) return false;
        m.app = std::string(parts[0]);
        if (parts.size() == 2) m.env = std::string(parts[1]);
        return true;
    }
    auto key = comment.find("\"$imagepolicy\"");
    if (comment.empty() || comment.front() != '{' || key == std::string_view::npos) return false;
    auto colon = comment.find(':', key + 14);
    auto q1 = colon == std::string_view::npos ? colon : comment.find('"', colon);
    auto q2 = q1 == std::string_view::npos ? q1 : comment.find('"', q1 + 1);
    if (q2 == std::string_view::npos) return false;
    auto parts = split_colon(comment.substr(q1 + 1, q2 - q1 - 1));
    take_part(parts, m.part);
    if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) return false;
    m.flux = true;
    m.policy = std::string(parts[0]) + ":" + std::string(parts[1]);
    m.app = std::string(parts[1]);
    return true;
}

std::vector<Marker> find_markers(std::string_view text, const Tree& t) {
    std::vector<Marker> out;
    for (std::string_view needle :
         {std::string_view("poetryops:"), std::string_view("$imagepolicy")}) {
        for (std::size_t p = text.find(needle); p != std::string_view::npos;
             p = text.find(needle, p + 1)) {
            std::size_t ls = text.rfind('\n', p);
            ls = ls == std::string_view::npos ? 0 : ls + 1;
            std::size_t hash = text.rfind('#', p);
            if (hash == std::string_view::npos || hash < ls) continue;
            // A trailing comment: '#' after whitespace, with something before it on the line.
            if (hash == ls || (text[hash - 1] != ' ' && text[hash - 1] != '\t')) continue;
            if (trim(text.substr(ls, hash - ls)).empty()) continue;
            std::size_t le = text.find('\n', p);
            std::string_view comment =
                text.substr(hash, (le == std::string_view::npos ? text.size() : le) - hash);
            if (!comment.empty() && comment.back() == '\r') comment.remove_suffix(1);
            Marker m;
            if (!parse_marker(comment, m)) continue;
            m.hash = hash;
            m.line = static_cast<int>(
                         std::upper_bound(t.line_starts.begin(), t.line_starts.end(), hash) -
                         t.line_starts.begin()) -
                     1;
            m.text = std::string(trim(comment));
            out.push_back(std::move(m));
        }
    }
    std::sort(out.begin(), out.end(),
              [](const Marker& a, const Marker& b) { return a.hash < b.hash; });
    out.erase(std::unique(out.begin(), out.end(),
                          [](const Marker& a, const Marker& b) { return a.hash == b.hash; }),
              out.end());
    return out;
}

bool is_value(const Tree& t, std::size_t i) {
    std::size_t p = t.at(i).parent;
    if (p == npos) return true;
    if (t.at(p).kind == NodeKind::seq) return true;
    const auto& ch = t.at(p).children;
    for (std::size_t k = 1; k < ch.size(); k += 2) {
        if (ch[k] == i) return true;
    }
    return false;
}

std::string last_component(std::string_view name) {
    auto slash = name.rfind('/');
    return std::string(slash == std::string_view::npos ? name : name.substr(slash + 1));
}

}  // namespace

Result<void> apply_markers(Session& s, const SetImageRequest& req) {
    const Tree& t = s.tree();
    std::vector<Marker> markers = find_markers(s.text(), t);
    if (markers.empty()) return ok();
    std::string app = req.app.empty() ? last_component(req.name) : req.app;
    std::map<int, std::vector<std::size_t>> on_line;  // candidate value nodes per marker line
    for (const Marker& m : markers) on_line[m.line];
    for (std::size_t i = 0; i < t.nodes.size(); ++i) {
        const Node& n = t.at(i);
        auto it = on_line.find(n.line);
        if (it != on_line.end() && n.kind == NodeKind::scalar && !is_value(t, i)) {
            // A key whose value is empty: the value's mark may sit on a later line.
            std::size_t v = t.get(n.parent, n.value);
            if (v != npos && t.at(v).kind == NodeKind::null && t.at(v).line != n.line)
                it->second.push_back(v);
            continue;
        }
        if (it != on_line.end() && is_value(t, i)) it->second.push_back(i);
    }
    for (const Marker& m : markers) {
        bool wanted = m.flux ? (req.policy.empty() ? m.app == app : m.policy == req.policy)
                             : (m.app == app && (m.env.empty() || m.env == req.env));
        if (!wanted) continue;
        std::vector<std::size_t> cands;
        for (std::size_t i : on_line[m.line]) {
            const Node& n = t.at(i);
            if (n.kind == NodeKind::null || n.offset < m.hash) cands.push_back(i);
        }
        std::string where = "line " + std::to_string(m.line + 1) + ": marker " + m.text + ": ";
        if (cands.empty()) {
            return fail(Error::Kind::invalid, where + "no value on the marked line",
                        "MarkerTarget");
        }
        std::size_t target = cands.back();
        std::size_t scalars = std::count_if(cands.begin(), cands.end(), [&](std::size_t i) {
            return t.at(i).kind == NodeKind::scalar || t.at(i).kind == NodeKind::alias;
        });
        if (scalars > 1) {
            return fail(Error::Kind::invalid,
                        where + "ambiguous: the line holds " + std::to_string(scalars) +
                            " values; put the marker on a line with one value",
                        "Ambiguous");
        }
        const Node& n = t.at(target);
        if (n.kind == NodeKind::map || n.kind == NodeKind::seq) {
            return fail(Error::Kind::invalid, where + "the marked value is not a scalar",
                        "MarkerTarget");
        }
        s.count_match();
        std::string field =
            "marker(" + (m.flux ? m.policy : m.app + (m.env.empty() ? "" : ":" + m.env)) + ")";
        std::string current = n.kind == NodeKind::scalar ? n.value : "";
        switch (m.part) {
            case Part::ref: {
                ImageRef base;
                if (current.empty()) {
                    POETRYOPS_TRY(base, parse_image_name(req.name));
                } else {
                    auto parsed = parse_image_ref(current);
                    if (!parsed)
                        return fail(Error::Kind::invalid, where + parsed.error().message,
                                    "MarkerTarget");
                    base = *parsed;
                }
                POETRYOPS_TRY_VOID(s.set_scalar(target, compose_ref(base, req), field));
                break;
            }
            case Part::tag:
                if (req.tag) POETRYOPS_TRY_VOID(s.set_scalar(target, *req.tag, field));
                break;
            case Part::digest:
                if (req.digest) {
                    POETRYOPS_TRY_VOID(s.set_scalar(target, *req.digest, field));
                } else if (req.tag) {
                    POETRYOPS_TRY_VOID(s.set_scalar(target, "", field));
                }
                break;
            case Part::name:
                if (req.new_name) POETRYOPS_TRY_VOID(s.set_scalar(target, *req.new_name, field));
                break;
        }
    }
    return ok();
}

}  // namespace poetryops::manifest::detail

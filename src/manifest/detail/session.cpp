#include "manifest/detail/session.hpp"

#include <algorithm>

namespace poetryops::manifest::detail {
namespace {

bool is_ws(char c) { return c == ' ' || c == '\t'; }

bool null_word_at(std::string_view text, std::size_t pos, std::size_t& len) {
    for (std::string_view w : {"~", "null", "Null", "NULL"}) {
        if (text.substr(pos, w.size()) == w) {
            std::size_t e = pos + w.size();
            if (e >= text.size() ||
                std::string_view(" \t\r\n,]}#").find(text[e]) != std::string_view::npos) {
                len = w.size();
                return true;
            }
        }
    }
    return false;
}

}  // namespace

std::string at_line(const Tree& tree, std::size_t i) {
    return "line " + std::to_string(tree.line_of(i)) + ": ";
}

std::size_t Session::line_end(std::size_t pos) const {
    std::size_t nlpos = text_.find('\n', pos);
    if (nlpos == std::string_view::npos) return text_.size();
    return (nlpos > 0 && text_[nlpos - 1] == '\r') ? nlpos - 1 : nlpos;
}

std::size_t Session::key_of(std::size_t i) const {
    std::size_t p = tree_.at(i).parent;
    if (p == npos || tree_.at(p).kind != NodeKind::map) return npos;
    const auto& ch = tree_.at(p).children;
    for (std::size_t k = 1; k < ch.size(); k += 2) {
        if (ch[k] == i) return ch[k - 1];
    }
    return npos;
}

std::size_t Session::node_end(std::size_t i) const {
    const Node& n = tree_.at(i);
    switch (n.kind) {
        case NodeKind::scalar: {
            auto span = locate_scalar(text_, tree_, i);
            return span ? span->end : npos;
        }
        case NodeKind::null: {
            std::size_t b = skip_properties(text_, n.offset, n.in_flow), len = 0;
            return null_word_at(text_, b, len) ? b + len : npos;
        }
        case NodeKind::alias: {
            std::size_t e = n.offset + 1;
            while (
                e < text_.size() && !is_ws(text_[e]) && text_[e] != '\r' && text_[e] != '\n' &&
                !(n.in_flow && std::string_view(",]}").find(text_[e]) != std::string_view::npos)) {
                ++e;
            }
            return e;
        }
        case NodeKind::map:
        case NodeKind::seq: {
            if (!n.flow) return n.children.empty() ? npos : node_end(n.children.back());
            std::size_t pos;
            if (n.children.empty()) {
                pos = skip_properties(text_, n.offset, n.in_flow);
                if (pos >= text_.size() || (text_[pos] != '[' && text_[pos] != '{')) return npos;
                ++pos;
            } else {
                pos = node_end(n.children.back());
                if (pos == npos) return npos;
            }
            char close = n.kind == NodeKind::map ? '}' : ']';
            while (pos < text_.size()) {
                char c = text_[pos];
                if (c == close) return pos + 1;
                if (is_ws(c) || c == '\r' || c == '\n' || c == ',') {
                    ++pos;
                } else if (c == '#') {
                    while (pos < text_.size() && text_[pos] != '\n') ++pos;
                } else {
                    return npos;
                }
            }
            return npos;
        }
    }
    return npos;
}

Result<void> Session::set_scalar(std::size_t i, std::string_view value, const std::string& field,
                                 bool as_string) {
    if (edited_.count(i) != 0) return ok();
    std::string problem = tree_.sharing_problem(i);
    if (!problem.empty())
        return fail(Error::Kind::invalid, at_line(tree_, i) + field + ": " + problem, "Alias");
    const Node& n = tree_.at(i);
    if (n.kind == NodeKind::null) {
        edited_.insert(i);
        if (value.empty()) return ok();
        std::size_t b = skip_properties(text_, n.offset, n.in_flow), len = 0;
        if (b < text_.size() && null_word_at(text_, b, len)) {
            splices_.push_back({b, b + len,
                                encode_scalar(value, ScalarStyle::plain, n.in_flow, as_string),
                                splices_.size()});
        } else {
            std::size_t k = key_of(i);
            if (k == npos)
                return fail(Error::Kind::invalid, at_line(tree_, i) + field + ": empty value",
                            "Empty");
            POETRYOPS_TRY(ScalarSpan ks, locate_scalar(text_, tree_, k));
            std::size_t colon = ks.end;
            while (colon < text_.size() && is_ws(text_[colon])) ++colon;
            if (colon >= text_.size() || text_[colon] != ':') {
                return fail(Error::Kind::invalid,
                            at_line(tree_, k) + field + ": cannot find the ':' after the key",
                            "Locate");
            }
            splices_.push_back(
                {colon + 1, colon + 1,
                 " " + encode_scalar(value, ScalarStyle::plain, n.in_flow, as_string),
                 splices_.size()});
        }
        changes_.push_back(Change{tree_.line_of(i), field, "", std::string(value)});
        return ok();
    }
    if (n.kind != NodeKind::scalar) {
        return fail(Error::Kind::invalid, at_line(tree_, i) + field + ": expected a scalar value",
                    "NotScalar");
    }
    edited_.insert(i);
    if (n.value == value) return ok();
    std::string error_field = field;
    auto span = locate_scalar(text_, tree_, i);
    if (!span) {
        Error e = span.error();
        e.message = at_line(tree_, i) + field + ": " + e.message.substr(e.message.find(": ") + 2);
        return fail(std::move(e));
    }
    splices_.push_back({span->begin, span->end,
                        encode_scalar(value, span->style, n.in_flow, as_string), splices_.size()});
    changes_.push_back(Change{tree_.line_of(i), field, n.value, std::string(value)});
    return ok();
}

void Session::insert(std::size_t at, std::string bytes, Change change) {
    splices_.push_back({at, at, std::move(bytes), splices_.size()});
    changes_.push_back(std::move(change));
}

Result<void> Session::remove_key(std::size_t map, std::string_view key, const std::string& field) {
    std::size_t v = tree_.get(map, key);
    if (v == npos) return ok();
    const Node& vn = tree_.at(v);
    if (vn.kind == NodeKind::null || (vn.kind == NodeKind::scalar && vn.value.empty())) return ok();
    std::size_t k = key_of(v);
    std::string problem = tree_.sharing_problem(v);
    if (!problem.empty())
        return fail(Error::Kind::invalid, at_line(tree_, v) + field + ": " + problem, "Alias");
    if (vn.kind != NodeKind::scalar) {
        return fail(Error::Kind::invalid, at_line(tree_, v) + field + ": expected a scalar value",
                    "NotScalar");
    }
    auto ks = locate_scalar(text_, tree_, k);
    auto vs = locate_scalar(text_, tree_, v);
    if (ks && vs && edited_.count(v) == 0) {
        if (!tree_.at(map).flow) {
            std::size_t ls = tree_.line_offset(tree_.at(k).line);
            std::size_t le = line_end(vs->end);
            bool alone =
                std::all_of(text_.begin() + ls, text_.begin() + ks->begin, is_ws) &&
                text_.substr(ks->end, vs->begin - ks->end).find('\n') == std::string_view::npos;
            std::string_view tail = text_.substr(vs->end, le - vs->end);
            auto t = tail.find_first_not_of(" \t");
            alone = alone && (t == std::string_view::npos || tail[t] == '#');
            if (alone) {
                std::size_t e = le;
                if (e < text_.size() && text_[e] == '\r') ++e;
                if (e < text_.size() && text_[e] == '\n') ++e;
                edited_.insert(v);
                splices_.push_back({ls, e, "", splices_.size()});
                changes_.push_back(Change{tree_.line_of(v), field, vn.value, ""});
                return ok();
            }
        } else {
            std::size_t b = ks->begin;
            while (b > 0 && (is_ws(text_[b - 1]) || text_[b - 1] == '\n' || text_[b - 1] == '\r'))
                --b;
            if (b > 0 && text_[b - 1] == ',') {
                edited_.insert(v);
                splices_.push_back({b - 1, vs->end, "", splices_.size()});
                changes_.push_back(Change{tree_.line_of(v), field, vn.value, ""});
                return ok();
            }
            std::size_t e = vs->end;
            while (e < text_.size() && is_ws(text_[e])) ++e;
            if (e < text_.size() && text_[e] == ',') {
                ++e;
                while (e < text_.size() && is_ws(text_[e])) ++e;
                edited_.insert(v);
                splices_.push_back({ks->begin, e, "", splices_.size()});
                changes_.push_back(Change{tree_.line_of(v), field, vn.value, ""});
                return ok();
            }
        }
    }
    // The pair cannot be cut out cleanly (e.g. it opens a "- " item): an empty value means the same
    // to kustomize.
    return set_scalar(v, "", field);
}

Result<void> Session::add_key_after(std::size_t map, std::size_t after_key, std::string_view key,
                                    std::string_view value, const std::string& field,
                                    bool as_string) {
    const auto& ch = tree_.at(map).children;
    auto it = std::find(ch.begin(), ch.end(), after_key);
    if (it == ch.end() || it + 1 == ch.end()) {
        return fail(Error::Kind::internal, at_line(tree_, map) + "key not in map", "Locate");
    }
    std::size_t end = node_end(*(it + 1));
    if (end == npos) {
        return fail(Error::Kind::invalid,
                    at_line(tree_, after_key) + "cannot add " + field +
                        " after a value that is not a plain line",
                    "Locate");
    }
    const Node& mk = tree_.at(after_key);
    bool flow = tree_.at(map).flow;
    std::string encoded = encode_scalar(value, ScalarStyle::plain, flow || mk.in_flow, as_string);
    Change change{tree_.line_of(after_key) + 1, field, "", std::string(value)};
    if (flow) {
        insert(end, ", " + std::string(key) + ": " + encoded, std::move(change));
    } else {
        std::size_t key_col = skip_properties(text_, mk.offset, false) - tree_.line_offset(mk.line);
        insert(line_end(end), nl_ + std::string(key_col, ' ') + std::string(key) + ": " + encoded,
               std::move(change));
    }
    return ok();
}

Result<EditResult> Session::finish() const {
    EditResult r;
    r.matched = matched_;
    std::vector<Splice> s = splices_;
    std::stable_sort(s.begin(), s.end(), [](const Splice& a, const Splice& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.seq < b.seq;
    });
    std::size_t pos = 0;
    r.new_text.reserve(text_.size() + 256);
    for (const Splice& sp : s) {
        if (sp.begin < pos) {
            return fail(Error::Kind::invalid, "overlapping edits (two targets share bytes)",
                        "Conflict");
        }
        r.new_text.append(text_.substr(pos, sp.begin - pos));
        r.new_text.append(sp.bytes);
        pos = sp.end;
    }
    r.new_text.append(text_.substr(pos));
    if (r.new_text == text_) {
        return EditResult{std::string(text_), {}, matched_};
    }
    r.changes = changes_;
    std::stable_sort(r.changes.begin(), r.changes.end(),
                     [](const Change& a, const Change& b) { return a.line < b.line; });
    return r;
}

}  // namespace poetryops::manifest::detail

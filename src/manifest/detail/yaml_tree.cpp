#include "manifest/detail/yaml_tree.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <charconv>
#include <istream>
#include <map>
#include <streambuf>

namespace poetryops::manifest::detail {
namespace {

// An istream over a string_view without copying the text.
class ViewBuf : public std::streambuf {
public:
    explicit ViewBuf(std::string_view s) {
        char* p = const_cast<char*>(s.data());
        setg(p, p, p + s.size());
    }
};

struct LimitExceeded {
    std::string message;
    std::string reason;
    Error::Kind kind = Error::Kind::invalid;
};

std::uint64_t sat_add(std::uint64_t a, std::uint64_t b) {
    std::uint64_t s = a + b;
    return s < a ? std::numeric_limits<std::uint64_t>::max() : s;
}

class Builder : public YAML::EventHandler {
public:
    Builder(Tree& tree, const Limits& limits) : t_(tree), limits_(limits) {}

    void OnDocumentStart(const YAML::Mark& mark) override {
        // yaml-cpp 0.7 can report new empty documents forever at one place in some malformed
        // input (CR LF and a stray flow indicator; fuzz/findings/manifest_edit-timeout-*): a
        // document that starts where the last one started, with no node between, is that loop.
        if (!t_.docs.empty() && mark.pos == last_doc_pos_ && t_.nodes.size() == last_doc_nodes_) {
            throw LimitExceeded{"line " + std::to_string(mark.line + 1) + ", column " +
                                    std::to_string(mark.column + 1) +
                                    ": invalid YAML: the parser stopped advancing (a malformed "
                                    "document)",
                                "InvalidYAML", Error::Kind::decode};
        }
        last_doc_pos_ = mark.pos;
        last_doc_nodes_ = t_.nodes.size();
        doc_anchors_.clear();
        t_.docs.push_back(Document{npos, mark.line});
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        add(NodeKind::null, mark, "", anchor);
    }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        std::size_t i = add(NodeKind::alias, mark, "", 0);
        auto it = doc_anchors_.find(anchor);
        if (it == doc_anchors_.end()) {
            throw LimitExceeded{
                "line " + std::to_string(mark.line + 1) + ": alias to an unknown anchor",
                "InvalidYAML"};
        }
        Anchor& a = t_.anchors[it->second];
        a.uses++;
        t_.nodes[i].alias_of = it->second;
        // An alias to a node still open (recursive) expands without end.
        std::uint64_t size =
            done(a.node) ? t_.nodes[a.node].expanded : std::numeric_limits<std::uint64_t>::max();
        t_.nodes[i].expanded = size;
        close(i);
    }
    void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  const std::string& value) override {
        std::size_t i = add(NodeKind::scalar, mark, tag, anchor);
        t_.nodes[i].value = value;
        close(i);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                         YAML::EmitterStyle::value style) override {
        open(NodeKind::seq, mark, tag, anchor, style == YAML::EmitterStyle::Flow);
    }
    void OnSequenceEnd() override { pop(); }
    void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                    YAML::EmitterStyle::value style) override {
        open(NodeKind::map, mark, tag, anchor, style == YAML::EmitterStyle::Flow);
    }
    void OnMapEnd() override { pop(); }
    void OnAnchor(const YAML::Mark&, const std::string& name) override {
        pending_anchor_name_ = name;
    }

private:
    int last_doc_pos_ = -1;
    std::size_t last_doc_nodes_ = 0;
    std::size_t offset_of(const YAML::Mark& m) const {
        if (m.line < 0 || static_cast<std::size_t>(m.line) >= t_.line_starts.size()) return npos;
        return t_.line_starts[m.line] + static_cast<std::size_t>(m.column) +
               (m.line == 0 ? t_.bom : 0);
    }

    std::size_t add(NodeKind kind, const YAML::Mark& mark, const std::string& tag,
                    YAML::anchor_t anchor) {
        if (t_.nodes.size() >= limits_.max_nodes) {
            throw LimitExceeded{"more than " + std::to_string(limits_.max_nodes) + " YAML nodes",
                                "TooLarge"};
        }
        Node n;
        n.kind = kind;
        n.line = mark.line;
        n.column = mark.column;
        n.offset = offset_of(mark);
        n.tag = tag;
        n.doc = t_.docs.empty() ? 0 : t_.docs.size() - 1;
        n.in_flow =
            !stack_.empty() && (t_.nodes[stack_.back()].flow || t_.nodes[stack_.back()].in_flow);
        if (!stack_.empty()) {
            n.parent = stack_.back();
        }
        std::size_t i = t_.nodes.size();
        t_.nodes.push_back(std::move(n));
        if (!stack_.empty()) {
            t_.nodes[stack_.back()].children.push_back(i);
        } else if (!t_.docs.empty() && t_.docs.back().root == npos) {
            t_.docs.back().root = i;
        }
        if (anchor != 0) {
            t_.anchors.push_back(Anchor{pending_anchor_name_, i, 0});
            doc_anchors_[anchor] = t_.anchors.size() - 1;
            t_.nodes[i].anchor = t_.anchors.size() - 1;
        }
        pending_anchor_name_.clear();
        return i;
    }

    void open(NodeKind kind, const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
              bool flow) {
        // yaml-cpp's own guard stops at 2000 levels with only "bad file"; refuse sooner and say
        // why.
        if (stack_.size() >= limits_.max_depth) {
            throw LimitExceeded{"line " + std::to_string(mark.line + 1) + ": nested more than " +
                                    std::to_string(limits_.max_depth) +
                                    " levels deep (the nesting limit)",
                                "InvalidYAML", Error::Kind::decode};
        }
        std::size_t i = add(kind, mark, tag, anchor);
        t_.nodes[i].flow = flow;
        t_.nodes[i].expanded = 0;  // accumulated from children; marks "still open" until closed
        stack_.push_back(i);
        closed_.resize(t_.nodes.size(), false);
    }

    void pop() {
        std::size_t i = stack_.back();
        stack_.pop_back();
        t_.nodes[i].expanded = sat_add(t_.nodes[i].expanded, 1);
        close(i);
    }

    bool done(std::size_t i) const { return i < closed_.size() ? closed_[i] : true; }

    // Called when node i is complete: adds its expanded size to its parent and checks the
    // document's budget.
    void close(std::size_t i) {
        if (closed_.size() < t_.nodes.size()) closed_.resize(t_.nodes.size(), false);
        closed_[i] = true;
        std::size_t p = t_.nodes[i].parent;
        if (p != npos) {
            t_.nodes[p].expanded = sat_add(t_.nodes[p].expanded, t_.nodes[i].expanded);
            if (t_.nodes[p].expanded > limits_.max_expanded_nodes) {
                throw LimitExceeded{
                    "line " + std::to_string(t_.nodes[i].line + 1) + ": alias expansion past " +
                        std::to_string(limits_.max_expanded_nodes) + " nodes (YAML bomb?)",
                    "AliasBomb"};
            }
        }
    }

    Tree& t_;
    const Limits& limits_;
    std::vector<std::size_t> stack_;
    std::vector<bool> closed_;
    std::map<YAML::anchor_t, std::size_t> doc_anchors_;
    std::string pending_anchor_name_;
};

}  // namespace

std::size_t Tree::line_offset(int line) const {
    if (line < 0) return 0;
    if (static_cast<std::size_t>(line) >= line_starts.size())
        return line_starts.empty() ? 0 : line_starts.back();
    return line_starts[line];
}

std::size_t Tree::get(std::size_t map, std::string_view key) const {
    if (map == npos || nodes[map].kind != NodeKind::map) return npos;
    const auto& ch = nodes[map].children;
    for (std::size_t k = 0; k + 1 < ch.size(); k += 2) {
        const Node& kn = nodes[ch[k]];
        if (kn.kind == NodeKind::scalar && kn.value == key) return ch[k + 1];
    }
    return npos;
}

std::string Tree::get_string(std::size_t map, std::string_view key) const {
    std::size_t v = get(map, key);
    return v != npos && nodes[v].kind == NodeKind::scalar ? nodes[v].value : std::string();
}

std::size_t Tree::path(std::size_t from, std::string_view dotted) const {
    std::size_t cur = from;
    std::size_t start = 0;
    while (cur != npos && start <= dotted.size()) {
        auto dot = dotted.find('.', start);
        std::string_view part =
            dotted.substr(start, dot == std::string_view::npos ? dotted.npos : dot - start);
        if (nodes[cur].kind == NodeKind::alias)
            cur = anchors[nodes[cur].alias_of].node;  // read through aliases
        const Node& n = nodes[cur];
        if (n.kind == NodeKind::seq) {
            std::size_t idx = 0;
            auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), idx);
            if (ec != std::errc() || p != part.data() + part.size() || idx >= n.children.size())
                return npos;
            cur = n.children[idx];
        } else {
            cur = get(cur, part);
        }
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    return cur;
}

std::string Tree::sharing_problem(std::size_t i) const {
    if (nodes[i].kind == NodeKind::alias) {
        return "the value is an alias (*" + anchors[nodes[i].alias_of].name +
               "); editing it would change the anchored value and every other alias of it";
    }
    for (std::size_t cur = i; cur != npos; cur = nodes[cur].parent) {
        const Node& n = nodes[cur];
        if (n.anchor != 0 && anchors[n.anchor].uses > 0) {
            return "the value is inside the anchored node &" + anchors[n.anchor].name + " (line " +
                   std::to_string(n.line + 1) + ") that is referenced by " +
                   std::to_string(anchors[n.anchor].uses) +
                   " alias(es); editing it would change those places too";
        }
    }
    return {};
}

Result<Tree> parse_tree(std::string_view text, const Limits& limits) {
    if (text.size() > limits.max_bytes) {
        return fail(Error::Kind::invalid,
                    "document of " + std::to_string(text.size()) +
                        " bytes is larger than the limit of " + std::to_string(limits.max_bytes) +
                        " bytes",
                    "TooLarge");
    }
    Tree t;
    if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") {
        t.bom = 3;
    } else if (text.size() >= 2 && (text.substr(0, 2) == "\xFE\xFF" ||
                                    text.substr(0, 2) == "\xFF\xFE" || (text[0] == '\0'))) {
        return fail(Error::Kind::decode,
                    "line 1: only UTF-8 YAML is supported (found a UTF-16/32 encoding)",
                    "Encoding");
    }
    t.line_starts.push_back(0);
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n') t.line_starts.push_back(i + 1);
    }
    ViewBuf buf(text);
    std::istream in(&buf);
    try {
        Builder b(t, limits);
        YAML::Parser parser(in);
        while (parser.HandleNextDocument(b)) {
        }
    } catch (const YAML::Exception& e) {
        return fail(Error::Kind::decode,
                    "line " + std::to_string(e.mark.line + 1) + ", column " +
                        std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg,
                    "InvalidYAML");
    } catch (const LimitExceeded& e) {
        return fail(e.kind, e.message, e.reason);
    } catch (const std::exception& e) {
        return fail(Error::Kind::decode, std::string("invalid YAML: ") + e.what(), "InvalidYAML");
    }
    return t;
}

}  // namespace poetryops::manifest::detail

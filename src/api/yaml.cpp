// YAML -> JSON with yaml-cpp, keeping a field-path -> line map so errors can point into the file.
#include <poetryops/api/codec.hpp>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>

namespace poetryops::api {

using nlohmann::json;

namespace {

constexpr int kMaxDepth = 64;
constexpr std::size_t kMaxNodes = 1000000;  // aliases can multiply nodes ("billion laughs")

/// A pass over the parser's events before any node is built: refuses nesting deeper than
/// kMaxDepth as soon as it is reached (yaml-cpp's own guard stops at 2000 levels and says only
/// "bad file") and a document whose aliases expand to more than kMaxNodes (a "billion laughs")
/// for the cost of its text, by counting each anchored node's size once.
class Precheck : public YAML::EventHandler {
public:
    struct Refused {
        YAML::Mark mark;
        std::string message;
    };

    void OnDocumentStart(const YAML::Mark&) override {
        anchored_.clear();
        total_ = 0;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& m, YAML::anchor_t a) override { add(m, a, 1); }
    void OnAlias(const YAML::Mark& m, YAML::anchor_t a) override {
        auto it = anchored_.find(a);
        add(m, 0, it == anchored_.end() ? 1 : it->second);
    }
    void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t a,
                  const std::string&) override {
        add(m, a, 1);
    }
    void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t a,
                         YAML::EmitterStyle::value) override {
        open(m, a);
    }
    void OnSequenceEnd() override { close(); }
    void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t a,
                    YAML::EmitterStyle::value) override {
        open(m, a);
    }
    void OnMapEnd() override { close(); }

private:
    struct Open {
        YAML::Mark mark;
        YAML::anchor_t anchor = 0;
        std::uint64_t size = 1;
    };
    std::vector<Open> open_;
    std::map<YAML::anchor_t, std::uint64_t> anchored_;  ///< expanded size of each anchored node
    std::uint64_t total_ = 0;                           ///< of the document so far

    void open(const YAML::Mark& m, YAML::anchor_t a) {
        if (open_.size() > static_cast<std::size_t>(kMaxDepth)) {
            throw Refused{m, "nested more than " + std::to_string(kMaxDepth) +
                                 " levels deep (the nesting limit)"};
        }
        open_.push_back({m, a, 1});
    }
    void close() {
        Open done = open_.back();
        open_.pop_back();
        add(done.mark, done.anchor, done.size);
    }
    /// A node of `size` nodes (aliases expanded) is complete.
    void add(const YAML::Mark& m, YAML::anchor_t a, std::uint64_t size) {
        if (a != 0) anchored_[a] = size;
        std::uint64_t& into = open_.empty() ? total_ : open_.back().size;
        into = std::min<std::uint64_t>(into + size, std::numeric_limits<std::uint32_t>::max());
        if (into > kMaxNodes) {
            throw Refused{m,
                          "aliases expand to more than 1,000,000 nodes (the node limit; a "
                          "YAML bomb?)"};
        }
    }
};

struct Converter {
    std::string_view file;
    std::map<std::string, int>* lines = nullptr;
    std::size_t nodes = 0;
    std::string error;  // first error, "file:line: message"

    bool fail_at(const YAML::Node& n, const std::string& msg) {
        if (error.empty())
            error = std::string(file) + ":" + std::to_string(n.Mark().line + 1) + ": " + msg;
        return false;
    }

    static std::string child(const std::string& path, const std::string& key) {
        return path.empty() ? key : path + "." + key;
    }

    // YAML 1.2 core schema resolution of a plain scalar.
    static json resolve_plain(const std::string& s) {
        if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
        if (s == "true" || s == "True" || s == "TRUE") return true;
        if (s == "false" || s == "False" || s == "FALSE") return false;
        std::string_view v = s;
        bool neg = false;
        std::string_view digits = v;
        if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
            neg = digits[0] == '-';
            digits.remove_prefix(1);
        }
        auto all_of = [](std::string_view d, auto pred) {
            if (d.empty()) return false;
            for (char c : d) {
                if (!pred(c)) return false;
            }
            return true;
        };
        auto is_dec = [](char c) { return c >= '0' && c <= '9'; };
        if (all_of(digits, is_dec)) {
            long long n = 0;
            auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
            if (ec == std::errc() && p == digits.data() + digits.size()) return neg ? -n : n;
            return std::strtod(s.c_str(),
                               nullptr);  // too large for int64: a float, as Go's yaml does
        }
        if (v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'o')) {
            int base = v[1] == 'x' ? 16 : 8;
            long long n = 0;
            auto [p, ec] = std::from_chars(v.data() + 2, v.data() + v.size(), n, base);
            if (ec == std::errc() && p == v.data() + v.size()) return n;
        }
        if (v == ".inf" || v == ".Inf" || v == ".INF" || v == "+.inf" || v == "+.Inf" ||
            v == "+.INF")
            return std::numeric_limits<double>::infinity();
        if (v == "-.inf" || v == "-.Inf" || v == "-.INF")
            return -std::numeric_limits<double>::infinity();
        if (v == ".nan" || v == ".NaN" || v == ".NAN")
            return std::numeric_limits<double>::quiet_NaN();
        // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
        std::size_t i = 0;
        std::string_view f = digits;
        std::size_t int_digits = 0, frac_digits = 0;
        while (i < f.size() && is_dec(f[i])) ++i, ++int_digits;
        if (i < f.size() && f[i] == '.') {
            ++i;
            while (i < f.size() && is_dec(f[i])) ++i, ++frac_digits;
        }
        if (int_digits + frac_digits == 0) return s;
        if (i < f.size() && (f[i] == 'e' || f[i] == 'E')) {
            ++i;
            if (i < f.size() && (f[i] == '+' || f[i] == '-')) ++i;
            std::size_t exp_digits = 0;
            while (i < f.size() && is_dec(f[i])) ++i, ++exp_digits;
            if (exp_digits == 0) return s;
        }
        if (i != f.size()) return s;
        return std::strtod(s.c_str(), nullptr);
    }

    bool convert(const YAML::Node& n, const std::string& path, int depth, json& out) {
        if (++nodes > kMaxNodes)
            return fail_at(n, "document too large (more than 1,000,000 nodes after aliases)");
        if (depth > kMaxDepth) return fail_at(n, "nested more than 64 levels deep");
        if (lines && !path.empty()) lines->emplace(path, n.Mark().line + 1);
        switch (n.Type()) {
            case YAML::NodeType::Undefined:
            case YAML::NodeType::Null: out = nullptr; return true;
            case YAML::NodeType::Scalar: {
                const std::string& tag = n.Tag();
                const std::string& text = n.Scalar();
                if (tag == "!" || tag == "tag:yaml.org,2002:str") {
                    out = text;  // quoted (or explicitly tagged) scalars are strings
                } else {
                    out = resolve_plain(text);
                }
                return true;
            }
            case YAML::NodeType::Sequence: {
                out = json::array();
                std::size_t i = 0;
                for (const auto& item : n) {
                    json v;
                    if (!convert(item, path + "[" + std::to_string(i) + "]", depth + 1, v))
                        return false;
                    out.push_back(std::move(v));
                    ++i;
                }
                return true;
            }
            case YAML::NodeType::Map: {
                out = json::object();
                for (const auto& kv : n) {
                    if (!kv.first.IsScalar())
                        return fail_at(kv.first, "mapping keys must be scalars");
                    std::string key = kv.first.Scalar();
                    if (out.contains(key))
                        return fail_at(kv.first, "duplicate key \"" + key + "\"");
                    json v;
                    if (!convert(kv.second, child(path, key), depth + 1, v)) return false;
                    if (lines) (*lines)[child(path, key)] = kv.first.Mark().line + 1;
                    out[key] = std::move(v);
                }
                return true;
            }
        }
        return true;
    }
};

}  // namespace

Result<std::vector<json>> yaml_to_json(std::string_view text, std::string_view file,
                                       std::vector<std::map<std::string, int>>* lines) {
    std::vector<YAML::Node> docs;
    try {
        std::istringstream in{std::string(text)};
        YAML::Parser parser(in);
        Precheck check;
        while (parser.HandleNextDocument(check)) {
        }
        docs = YAML::LoadAll(std::string(text));
    } catch (const Precheck::Refused& r) {
        return fail(Error::Kind::decode,
                    std::string(file) + ":" + std::to_string(r.mark.line + 1) + ": " + r.message);
    } catch (const YAML::Exception& e) {
        return fail(Error::Kind::decode, std::string(file) + ":" + std::to_string(e.mark.line + 1) +
                                             ": invalid YAML: " + e.msg);
    } catch (const std::exception& e) {
        return fail(Error::Kind::decode, std::string(file) + ": invalid YAML: " + e.what());
    }
    std::vector<json> out;
    if (lines) lines->clear();
    try {
        for (const auto& doc : docs) {
            if (!doc.IsDefined() || doc.IsNull()) continue;
            std::map<std::string, int> doc_lines;
            Converter c;
            c.file = file;
            c.lines = lines ? &doc_lines : nullptr;
            json j;
            if (!c.convert(doc, "", 0, j)) return fail(Error::Kind::decode, c.error);
            out.push_back(std::move(j));
            if (lines) lines->push_back(std::move(doc_lines));
        }
    } catch (const std::exception& e) {
        return fail(Error::Kind::decode, std::string(file) + ": invalid YAML: " + e.what());
    }
    return out;
}

namespace {

int line_of(const std::map<std::string, int>& lines, std::string path) {
    // The deepest prefix of the path that the file has (a missing field points at its parent).
    while (!path.empty()) {
        auto it = lines.find(path);
        if (it != lines.end()) return it->second;
        auto cut = path.find_last_of(".[");
        if (cut == std::string::npos) break;
        path.resize(cut);
    }
    auto it = lines.find("spec");
    return it != lines.end() ? it->second : 1;
}

}  // namespace

Result<std::vector<PoetryApp>> load_poetryapps_yaml(std::string_view text, std::string_view file) {
    std::vector<std::map<std::string, int>> lines;
    POETRYOPS_TRY(auto docs, yaml_to_json(text, file, &lines));
    std::vector<PoetryApp> apps;
    std::vector<std::string> problems;
    auto handle = [&](const json& obj, const std::map<std::string, int>& doc_lines,
                      const std::string& prefix) {
        if (!obj.is_object() || obj.value("kind", json()) != json(kKind)) return;
        std::vector<FieldError> errors;
        PoetryApp app = decode_poetryapp(obj, errors);
        auto more = validate(app);
        errors.insert(errors.end(), more.begin(), more.end());
        for (const auto& e : errors) {
            problems.push_back(
                std::string(file) + ":" + std::to_string(line_of(doc_lines, prefix + e.path)) +
                ": " + (app.metadata.name.empty() ? "" : "PoetryApp " + app.metadata.name + ": ") +
                e.str());
        }
        if (errors.empty()) apps.push_back(std::move(app));
    };
    for (std::size_t d = 0; d < docs.size(); ++d) {
        const json& doc = docs[d];
        if (doc.is_object() && doc.value("kind", json()) == json("List") && doc.contains("items") &&
            doc["items"].is_array()) {
            for (std::size_t i = 0; i < doc["items"].size(); ++i) {
                handle(doc["items"][i], lines[d], "items[" + std::to_string(i) + "].");
            }
        } else {
            handle(doc, lines[d], "");
        }
    }
    if (!problems.empty()) {
        std::string msg = problems.front();
        for (std::size_t i = 1; i < problems.size() && i < 5; ++i) msg += "; " + problems[i];
        if (problems.size() > 5) msg += "; and " + std::to_string(problems.size() - 5) + " more";
        return fail(Error::Kind::invalid, msg, std::string(kReasonInvalidSpec));
    }
    return apps;
}

}  // namespace poetryops::api

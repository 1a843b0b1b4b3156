#include <poetryops/kube/label_selector.hpp>

#include <poetryops/util/strings.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>

namespace poetryops::kube {
namespace {

Error bad(std::string_view text, std::string_view what) {
    return Error::make(Error::Kind::invalid,
                       "label selector \"" + std::string(text) + "\": " + std::string(what),
                       "InvalidSelector");
}

/// Splits on commas outside parentheses.
std::vector<std::string> split_top(std::string_view s) {
    std::vector<std::string> out;
    int depth = 0;
    std::string cur;
    for (char c : s) {
        if (c == '(') ++depth;
        if (c == ')') --depth;
        if (c == ',' && depth == 0) {
            out.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    out.push_back(cur);
    return out;
}

bool valid_key(std::string_view k) {
    if (k.empty() || k.size() > 316) return false;
    return std::all_of(k.begin(), k.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
               c == '/';
    });
}

}  // namespace

Result<LabelSelector> LabelSelector::parse(std::string_view text) {
    LabelSelector sel;
    if (str::trim(text).empty()) return sel;
    for (const auto& raw : split_top(text)) {
        std::string part(str::trim(raw));
        if (part.empty()) return fail(bad(text, "empty requirement"));
        Requirement r;
        if (part[0] == '!') {
            r.key = std::string(str::trim(std::string_view(part).substr(1)));
            r.op = Op::not_exists;
        } else if (auto p = part.find("!="); p != std::string::npos) {
            r.key = std::string(str::trim(std::string_view(part).substr(0, p)));
            r.op = Op::not_equals;
            r.values.emplace_back(str::trim(std::string_view(part).substr(p + 2)));
        } else if (auto p2 = part.find("=="); p2 != std::string::npos) {
            r.key = std::string(str::trim(std::string_view(part).substr(0, p2)));
            r.op = Op::equals;
            r.values.emplace_back(str::trim(std::string_view(part).substr(p2 + 2)));
        } else if (auto p3 = part.find('='); p3 != std::string::npos) {
            r.key = std::string(str::trim(std::string_view(part).substr(0, p3)));
            r.op = Op::equals;
            r.values.emplace_back(str::trim(std::string_view(part).substr(p3 + 1)));
        } else if (auto open = part.find('('); open != std::string::npos) {
            auto close = part.rfind(')');
            if (close == std::string::npos || close < open)
                return fail(bad(text, "unbalanced parentheses"));
            auto head = str::split_nonempty(part.substr(0, open), ' ');
            if (head.size() != 2 || (head[1] != "in" && head[1] != "notin")) {
                return fail(bad(text, "expected \"<key> in (...)\" or \"<key> notin (...)\" in \"" +
                                          part + "\""));
            }
            r.key = head[0];
            r.op = head[1] == "in" ? Op::in : Op::not_in;
            r.values = str::split_nonempty(part.substr(open + 1, close - open - 1), ',');
            if (r.values.empty()) return fail(bad(text, "empty value set in \"" + part + "\""));
        } else {
            r.key = part;
            r.op = Op::exists;
        }
        if (!valid_key(r.key)) return fail(bad(text, "invalid label key \"" + r.key + "\""));
        sel.reqs_.push_back(std::move(r));
    }
    return sel;
}

bool LabelSelector::matches(const std::map<std::string, std::string>& labels) const {
    for (const auto& r : reqs_) {
        auto it = labels.find(r.key);
        bool has = it != labels.end();
        switch (r.op) {
            case Op::exists:
                if (!has) return false;
                break;
            case Op::not_exists:
                if (has) return false;
                break;
            case Op::equals:
                if (!has || it->second != r.values[0]) return false;
                break;
            case Op::not_equals:
                if (has && it->second == r.values[0]) return false;
                break;
            case Op::in:
                if (!has ||
                    std::find(r.values.begin(), r.values.end(), it->second) == r.values.end())
                    return false;
                break;
            case Op::not_in:
                if (has &&
                    std::find(r.values.begin(), r.values.end(), it->second) != r.values.end())
                    return false;
                break;
        }
    }
    return true;
}

bool LabelSelector::matches(const nlohmann::json& object) const {
    if (reqs_.empty()) return true;
    std::map<std::string, std::string> labels;
    if (object.is_object()) {
        auto md = object.find("metadata");
        if (md != object.end() && md->is_object()) {
            auto l = md->find("labels");
            if (l != md->end() && l->is_object()) {
                for (auto it = l->begin(); it != l->end(); ++it) {
                    if (it.value().is_string()) labels[it.key()] = it.value().get<std::string>();
                }
            }
        }
    }
    return matches(labels);
}

}  // namespace poetryops::kube

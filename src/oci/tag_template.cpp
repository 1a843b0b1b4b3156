#include <poetryops/oci/tag_template.hpp>

#include <poetryops/oci/grammar.hpp>

#include <array>
#include <ctime>
#include <vector>

namespace poetryops::oci {
namespace {

// Characters a placeholder may render, lazily (a template's literal text decides where it ends).
constexpr std::string_view kAnyTagText = "[A-Za-z0-9_.-]+?";

constexpr std::array<TagPlaceholder, 6> kPlaceholders{{
    {"version", "the project version (PEP 440, made tag-safe: '+' becomes '-')", "1.4.2",
     kAnyTagText},
    // Read back, both stand for a commit id of 7 to 40 hex digits: tags made by other tools often
    // carry a longer short sha.
    {"shortSha", "the first 7 hex digits of the source commit", "ab12cd3", "[0-9a-f]{7,40}"},
    {"sha", "the 40 hex digits of the source commit", "ab12cd34ef567890ab12cd34ef567890ab12cd34",
     "[0-9a-f]{7,40}"},
    {"branch", "the source branch, characters outside the tag alphabet made '-'", "main",
     kAnyTagText},
    {"buildNumber", "the build's number", "57", "[0-9]+"},
    {"timestamp", "the build time, UTC, YYYYMMDDhhmmss", "20260304050607", "[0-9]{14}"},
}};

std::string known_list() {
    std::string out;
    for (const auto& p : kPlaceholders)
        out += (out.empty() ? "{" : " {") + std::string(p.name) + "}";
    return out;
}

/// A template cut into literal text and placeholders.
struct Part {
    std::string_view text;  // literal text, when placeholder is null
    const TagPlaceholder* placeholder = nullptr;
};

/// Splits the template; on unbalanced braces or an unknown name returns the problem (a predicate).
std::string split(std::string_view tmpl, std::vector<Part>& parts) {
    std::size_t i = 0;
    while (i < tmpl.size()) {
        auto open = tmpl.find_first_of("{}", i);
        if (open == std::string_view::npos) {
            parts.push_back({tmpl.substr(i)});
            break;
        }
        if (tmpl[open] == '}') return "has a '}' without a matching '{'";
        if (open > i) parts.push_back({tmpl.substr(i, open - i)});
        auto close = tmpl.find('}', open);
        if (close == std::string_view::npos) return "has a '{' without a matching '}'";
        auto name = tmpl.substr(open + 1, close - open - 1);
        const TagPlaceholder* p = find_tag_placeholder(name);
        if (p == nullptr) {
            return "has unknown placeholder {" + std::string(name) + "} (known: " + known_list() +
                   ")";
        }
        parts.push_back({{}, p});
        i = close + 1;
    }
    return "";
}

std::string format_timestamp(Clock::time_point t) {
    std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
    return buf;
}

std::string value_of(std::string_view name, const TagValues& values) {
    if (name == "version") return values.version;
    if (name == "sha") return values.sha;
    if (name == "shortSha") return values.sha.substr(0, 7);
    if (name == "branch") return values.branch;
    if (name == "buildNumber") return values.build_number;
    if (name == "timestamp" && values.timestamp != Clock::time_point{})
        return format_timestamp(values.timestamp);
    return "";
}

std::string regex_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
        out += c;
    }
    return out;
}

}  // namespace

std::span<const TagPlaceholder> tag_placeholders() { return kPlaceholders; }

const TagPlaceholder* find_tag_placeholder(std::string_view name) {
    for (const auto& p : kPlaceholders) {
        if (p.name == name) return &p;
    }
    return nullptr;
}

std::string tag_template_problem(std::string_view tmpl) {
    if (tmpl.empty()) return "must not be empty";
    std::vector<Part> parts;
    if (auto problem = split(tmpl, parts); !problem.empty()) return problem;
    std::string example;
    for (const auto& part : parts)
        example += part.placeholder ? part.placeholder->example : part.text;
    if (example.size() > kMaxTagLength) return "renders tags longer than 128 characters";
    if (!is_tag_char(example.front()) || example.front() == '.' || example.front() == '-')
        return "must render tags starting with a letter, digit or '_'";
    for (char c : example) {
        if (!is_tag_char(c)) {
            return std::string("renders tags with '") + c +
                   "', which OCI tags do not allow ([A-Za-z0-9_.-])";
        }
    }
    return "";
}

Result<void> validate_tag_template(std::string_view tmpl) {
    if (auto problem = tag_template_problem(tmpl); !problem.empty())
        return fail(Error::Kind::invalid, "tag template '" + std::string(tmpl) + "' " + problem);
    return ok();
}

Result<std::string> render_tag(std::string_view tmpl, const TagValues& values) {
    POETRYOPS_TRY_VOID(validate_tag_template(tmpl));
    std::vector<Part> parts;
    split(tmpl, parts);
    std::string out;
    for (const auto& part : parts) {
        if (!part.placeholder) {
            out += part.text;
            continue;
        }
        std::string v = value_of(part.placeholder->name, values);
        if (v.empty()) {
            return fail(Error::Kind::invalid, "tag template '" + std::string(tmpl) +
                                                  "': no value for {" +
                                                  std::string(part.placeholder->name) + "}");
        }
        out += v;
    }
    auto tag = sanitize_tag(out);
    if (tag.empty() || !is_valid_tag(tag)) {
        return fail(Error::Kind::invalid, "tag template '" + std::string(tmpl) + "' renders to '" +
                                              out + "', which cannot be made a valid OCI tag");
    }
    return tag;
}

std::string tag_template_regex(std::string_view tmpl,
                               std::initializer_list<std::string_view> capture) {
    std::vector<Part> parts;
    split(tmpl, parts);
    std::string out = "^";
    for (const auto& part : parts) {
        if (!part.placeholder) {
            out += regex_escape(part.text);
            continue;
        }
        bool captured = false;
        for (auto name : capture) captured = captured || name == part.placeholder->name;
        out += (captured ? "(" : "(?:") + std::string(part.placeholder->pattern) + ")";
    }
    return out + "$";
}

}  // namespace poetryops::oci

// Project helpers: name normalisation, groups, and the lowest Python a requires-python constraint
// allows.
#include <poetryops/python/project.hpp>

#include <algorithm>
#include <cctype>
#include <optional>

namespace poetryops::python {

std::string normalize_name(std::string_view name) {
    std::string out;
    bool in_sep = false;
    for (char c : name) {
        if (c == '-' || c == '_' || c == '.') {
            in_sep = true;
            continue;
        }
        if (in_sep && !out.empty()) out += '-';
        in_sep = false;
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

std::string module_name(std::string_view name) {
    std::string m = normalize_name(name);
    std::replace(m.begin(), m.end(), '-', '_');
    return m;
}

std::vector<std::string> Project::non_main_groups() const {
    std::vector<std::string> out;
    for (const auto& [group, deps] : groups) {
        if (group != "main") out.push_back(group);
    }
    return out;
}

namespace {

struct MajorMinor {
    long long major = 0;
    long long minor = 0;
    auto operator<=>(const MajorMinor&) const = default;
};

/// The lower bound one constraint puts on X.Y: ">=3.11" -> 3.11; "<4" -> none.
std::optional<MajorMinor> lower_bound(std::string_view c) {
    std::size_t i = 0;
    while (i < c.size() && std::string_view("^~=><!").find(c[i]) != std::string_view::npos) ++i;
    std::string_view op = c.substr(0, i);
    std::string_view ver = c.substr(i);
    while (!ver.empty() && ver.front() == ' ') ver.remove_prefix(1);
    if (op == "<" || op == "<=" || op == "!=" || ver.empty() || ver == "*") return std::nullopt;
    if (!(op.empty() || op == "^" || op == "~" || op == "~=" || op == ">=" || op == ">" ||
          op == "==" || op == "===")) {
        return std::nullopt;
    }
    MajorMinor mm;
    std::size_t pos = 0;
    auto number = [&](long long& out) {
        std::size_t start = pos;
        long long v = 0;
        while (pos < ver.size() && std::isdigit(static_cast<unsigned char>(ver[pos])) &&
               v < 1000000) {
            v = v * 10 + (ver[pos++] - '0');
        }
        out = v;
        return pos > start;
    };
    if (!number(mm.major)) return std::nullopt;
    if (pos < ver.size() && ver[pos] == '.') {
        ++pos;
        if (!number(mm.minor)) mm.minor = 0;  // "3.*"
    }
    return mm;
}

}  // namespace

std::string Project::minimum_python() const {
    std::optional<MajorMinor> lowest;
    std::string_view rest = requires_python;
    while (true) {
        std::size_t bar = rest.find("||");
        std::string_view alt = rest.substr(0, bar);
        // Within one alternative, constraints are joined by ',' (PEP 440) or spaces (Poetry): all
        // must hold, so the highest lower bound counts.
        std::optional<MajorMinor> alt_low;
        std::string token;
        auto flush = [&] {
            if (token.empty()) return;
            if (auto b = lower_bound(token); b && (!alt_low || *b > *alt_low)) alt_low = b;
            token.clear();
        };
        for (std::size_t i = 0; i < alt.size(); ++i) {
            char ch = alt[i];
            if (ch == ',' || ch == ' ' || ch == '\t') {
                // "> = 3.11" style spaces between operator and version stay within the token.
                bool op_only =
                    !token.empty() && token.find_first_not_of("^~=><!") == std::string::npos;
                if (op_only && ch != ',') continue;
                flush();
            } else {
                token += ch;
            }
        }
        flush();
        if (!alt_low) return "";  // one alternative without a lower bound: nothing usable
        if (!lowest || *alt_low < *lowest) lowest = alt_low;
        if (bar == std::string_view::npos) break;
        rest = rest.substr(bar + 2);
    }
    if (!lowest) return "";
    return std::to_string(lowest->major) + "." + std::to_string(lowest->minor);
}

}  // namespace poetryops::python

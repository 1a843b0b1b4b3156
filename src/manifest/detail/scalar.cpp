#include "manifest/detail/scalar.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace poetryops::manifest::detail {
namespace {

bool is_ws(char c) { return c == ' ' || c == '\t'; }
bool is_break(char c) { return c == '\n' || c == '\r'; }
bool is_flow_indicator(char c) { return c == ',' || c == '[' || c == ']' || c == '{' || c == '}'; }

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// Decodes the inside of a single-line double-quoted scalar; false on an escape we do not know.
bool decode_double(std::string_view raw, std::string& out) {
    for (std::size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (c != '\\') {
            out += c;
            continue;
        }
        if (++i >= raw.size()) return false;
        int hex_len = 0;
        switch (raw[i]) {
            case '0': out += '\0'; break;
            case 'a': out += '\a'; break;
            case 'b': out += '\b'; break;
            case 't':
            case '\t': out += '\t'; break;
            case 'n': out += '\n'; break;
            case 'v': out += '\v'; break;
            case 'f': out += '\f'; break;
            case 'r': out += '\r'; break;
            case 'e': out += '\x1b'; break;
            case ' ': out += ' '; break;
            case '"': out += '"'; break;
            case '/': out += '/'; break;
            case '\\': out += '\\'; break;
            case 'N': append_utf8(out, 0x85); break;
            case '_': append_utf8(out, 0xA0); break;
            case 'L': append_utf8(out, 0x2028); break;
            case 'P': append_utf8(out, 0x2029); break;
            case 'x': hex_len = 2; break;
            case 'u': hex_len = 4; break;
            case 'U': hex_len = 8; break;
            default: return false;
        }
        if (hex_len > 0) {
            if (i + hex_len >= raw.size()) return false;
            std::uint32_t cp = 0;
            for (int k = 1; k <= hex_len; ++k) {
                if (i + k >= raw.size()) return false;
                char h = raw[i + k];
                if (!std::isxdigit(static_cast<unsigned char>(h))) return false;
                cp =
                    cp * 16 + static_cast<std::uint32_t>(std::isdigit(static_cast<unsigned char>(h))
                                                             ? h - '0'
                                                             : (std::tolower(h) - 'a' + 10));
            }
            append_utf8(out, cp);
            i += hex_len;
        }
    }
    return true;
}

bool plain_safe(std::string_view v, bool in_flow) {
    if (v.empty() || is_ws(v.front()) || is_ws(v.back())) return false;
    char f = v.front();
    if (std::string_view("-?:,[]{}#&*!|>'\"%@`").find(f) != std::string_view::npos) {
        // "-", "?" and ":" may start a plain scalar when followed by a safe character.
        if (!((f == '-' || f == '?' || f == ':') && v.size() > 1 && !is_ws(v[1]) &&
              !(in_flow && is_flow_indicator(v[1])))) {
            return false;
        }
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(v[i]);
        if (c < 0x20 || c == 0x7F) return false;
        if (v[i] == ':' &&
            (i + 1 == v.size() || is_ws(v[i + 1]) || (in_flow && is_flow_indicator(v[i + 1])))) {
            return false;
        }
        if (v[i] == '#' && i > 0 && is_ws(v[i - 1])) return false;
        if (in_flow && is_flow_indicator(v[i])) return false;
    }
    if (v == "---" || v == "...") return false;
    return true;
}

std::string double_quote(std::string_view v) {
    std::string out = "\"";
    for (char c : v) {
        unsigned char u = static_cast<unsigned char>(c);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (u < 0x20 || u == 0x7F) {
                    static const char* hex = "0123456789abcdef";
                    out += "\\x";
                    out += hex[u >> 4];
                    out += hex[u & 15];
                } else {
                    out += c;
                }
        }
    }
    out += '"';
    return out;
}

bool all_digits(std::string_view s, int base) {
    if (s.empty()) return false;
    for (char c : s) {
        if (c == '_') continue;
        int d = std::isdigit(static_cast<unsigned char>(c))    ? c - '0'
                : std::isxdigit(static_cast<unsigned char>(c)) ? std::tolower(c) - 'a' + 10
                                                               : 99;
        if (d >= base) return false;
    }
    return true;
}

}  // namespace

bool resolves_non_string(std::string_view v) {
    std::string l;
    for (char c : v) l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    static const char* words[] = {"",    "~", "null", "true", "false", "yes",   "no",  "on",
                                  "off", "y", "n",    ".inf", "-.inf", "+.inf", ".nan"};
    for (const char* w : words) {
        if (l == w) return true;
    }
    std::string_view s = l;
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) s.remove_prefix(1);
    if (s.empty()) return false;
    if (s.size() > 2 && s[0] == '0' && s[1] == 'x') return all_digits(s.substr(2), 16);
    if (s.size() > 2 && s[0] == '0' && s[1] == 'o') return all_digits(s.substr(2), 8);
    if (s.size() > 2 && s[0] == '0' && s[1] == 'b') return all_digits(s.substr(2), 2);
    // Decimal integers, floats with optional exponent, YAML 1.1 sexagesimal (1:30) and '_'
    // separators.
    bool digit = false, dot = false, exp = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (std::isdigit(static_cast<unsigned char>(c)) || c == '_') {
            digit = digit || c != '_';
        } else if (c == '.' && !dot && !exp) {
            dot = true;
        } else if (c == 'e' && digit && !exp) {
            exp = true;
            if (i + 1 < s.size() && (s[i + 1] == '+' || s[i + 1] == '-')) ++i;
            if (i + 1 >= s.size()) return false;
        } else if (c == ':' && digit && !dot && !exp) {
            // 1.1 base 60
        } else {
            return false;
        }
    }
    return digit || (dot && s.size() > 1);
}

std::size_t skip_properties(std::string_view text, std::size_t pos, bool in_flow) {
    while (pos < text.size() && (text[pos] == '&' || text[pos] == '!')) {
        while (pos < text.size() && !is_ws(text[pos]) && !is_break(text[pos]) &&
               !(in_flow && is_flow_indicator(text[pos]))) {
            ++pos;
        }
        // Whitespace, comments and line breaks between properties and the content.
        while (pos < text.size()) {
            if (is_ws(text[pos]) || is_break(text[pos])) {
                ++pos;
            } else if (text[pos] == '#') {
                while (pos < text.size() && !is_break(text[pos])) ++pos;
            } else {
                break;
            }
        }
    }
    return pos;
}

Result<ScalarSpan> locate_scalar(std::string_view text, const Tree& tree, std::size_t i) {
    const Node& n = tree.at(i);
    std::string where = "line " + std::to_string(n.line + 1) + ": ";
    if (n.kind != NodeKind::scalar) {
        return fail(Error::Kind::invalid, where + "expected a scalar value", "NotScalar");
    }
    if (n.offset >= text.size()) {
        return fail(Error::Kind::internal, where + "cannot locate the scalar's bytes", "Locate");
    }
    std::size_t b = skip_properties(text, n.offset, n.in_flow);
    if (b >= text.size())
        return fail(Error::Kind::internal, where + "cannot locate the scalar's bytes", "Locate");
    ScalarSpan span;
    span.begin = b;
    std::string decoded;
    char c = text[b];
    if (c == '|' || c == '>') {
        return fail(Error::Kind::invalid,
                    where + "the value is a block scalar (" + std::string(1, c) +
                        "); refusing to rewrite it",
                    "BlockScalar");
    }
    if (c == '"') {
        std::size_t e = b + 1;
        while (e < text.size() && text[e] != '"') {
            if (is_break(text[e])) {
                return fail(Error::Kind::invalid, where + "multi-line quoted values are not edited",
                            "MultiLine");
            }
            e += text[e] == '\\' ? 2 : 1;
        }
        if (e >= text.size())
            return fail(Error::Kind::internal, where + "unterminated quoted scalar", "Locate");
        span.end = e + 1;
        span.style = ScalarStyle::double_quoted;
        if (!decode_double(text.substr(b + 1, e - b - 1), decoded)) decoded = "\x01undecodable";
    } else if (c == '\'') {
        std::size_t e = b + 1;
        while (e < text.size()) {
            if (is_break(text[e])) {
                return fail(Error::Kind::invalid, where + "multi-line quoted values are not edited",
                            "MultiLine");
            }
            if (text[e] == '\'') {
                if (e + 1 < text.size() && text[e + 1] == '\'') {
                    decoded += '\'';
                    e += 2;
                    continue;
                }
                break;
            }
            decoded += text[e++];
        }
        if (e >= text.size())
            return fail(Error::Kind::internal, where + "unterminated quoted scalar", "Locate");
        span.end = e + 1;
        span.style = ScalarStyle::single_quoted;
    } else {
        std::size_t e = b;
        while (e < text.size() && !is_break(text[e])) {
            char x = text[e];
            if (x == '#' && e > b && is_ws(text[e - 1])) break;
            if (x == ':' && (e + 1 >= text.size() || is_ws(text[e + 1]) || is_break(text[e + 1]) ||
                             (n.in_flow && is_flow_indicator(text[e + 1])))) {
                break;
            }
            if (n.in_flow && is_flow_indicator(x)) break;
            ++e;
        }
        while (e > b && is_ws(text[e - 1])) --e;
        span.end = e;
        span.style = ScalarStyle::plain;
        decoded = std::string(text.substr(b, e - b));
    }
    if (decoded != n.value) {
        return fail(
            Error::Kind::invalid,
            where + "the value spans several lines or uses a form that cannot be edited in place",
            "MultiLine");
    }
    return span;
}

std::string encode_scalar(std::string_view value, ScalarStyle style, bool in_flow, bool as_string) {
    bool printable = std::none_of(value.begin(), value.end(), [](char c) {
        unsigned char u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7F;
    });
    switch (style) {
        case ScalarStyle::plain:
            if (plain_safe(value, in_flow) && !(as_string && resolves_non_string(value))) {
                return std::string(value);
            }
            return double_quote(value);
        case ScalarStyle::single_quoted:
            if (printable) {
                std::string out = "'";
                for (char c : value) {
                    out += c;
                    if (c == '\'') out += '\'';
                }
                return out + "'";
            }
            return double_quote(value);
        case ScalarStyle::double_quoted:
        case ScalarStyle::block: break;
    }
    return double_quote(value);
}

}  // namespace poetryops::manifest::detail

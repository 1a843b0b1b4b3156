#include "python/detail/python_json.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>

namespace poetryops::python::detail {

namespace {

void append_u(std::string& out, unsigned unit) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\u%04x", unit & 0xffffu);
    out += buf;
}

/// Decodes one UTF-8 sequence at `i` (advancing past it); U+FFFD for a malformed sequence.
unsigned decode_utf8(std::string_view s, std::size_t& i) {
    auto b = static_cast<unsigned char>(s[i++]);
    int extra = b >= 0xf0 ? 3 : b >= 0xe0 ? 2 : b >= 0xc0 ? 1 : -1;
    if (extra < 0) return 0xfffd;
    unsigned cp = b & (0x3fu >> extra);
    for (int k = 0; k < extra; ++k, ++i) {
        if (i >= s.size() || (static_cast<unsigned char>(s[i]) & 0xc0u) != 0x80u) return 0xfffd;
        cp = (cp << 6) | (static_cast<unsigned char>(s[i]) & 0x3fu);
    }
    return cp;
}

}  // namespace

std::string python_json_string(std::string_view utf8) {
    std::string out = "\"";
    for (std::size_t i = 0; i < utf8.size();) {
        auto c = static_cast<unsigned char>(utf8[i]);
        if (c < 0x80) {
            ++i;
            switch (c) {
                case '"': out += "\\\""; break;
                case '\\': out += "\\\\"; break;
                case '\n': out += "\\n"; break;
                case '\r': out += "\\r"; break;
                case '\t': out += "\\t"; break;
                case '\b': out += "\\b"; break;
                case '\f': out += "\\f"; break;
                default:
                    if (c < 0x20 || c == 0x7f) {
                        append_u(out, c);
                    } else {
                        out += static_cast<char>(c);
                    }
            }
            continue;
        }
        unsigned cp = decode_utf8(utf8, i);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            append_u(out, 0xd800u | (cp >> 10));
            append_u(out, 0xdc00u | (cp & 0x3ffu));
        } else {
            append_u(out, cp);
        }
    }
    out += '"';
    return out;
}

std::string python_float_repr(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
    if (value == 0) return std::signbit(value) ? "-0.0" : "0.0";
    // The shortest digits that round-trip, as d[.ddd]e±X; Python places the point itself.
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    bool negative = sci.front() == '-';
    if (negative) sci.erase(0, 1);
    auto e = sci.find('e');
    std::string digits;
    for (char ch : sci.substr(0, e))
        if (ch != '.') digits += ch;
    int exponent = std::stoi(sci.substr(e + 1));
    int decpt = exponent + 1;  // value = 0.DIGITS x 10^decpt
    std::string out = negative ? "-" : "";
    if (decpt <= -4 || decpt > 16) {
        out += digits.substr(0, 1);
        if (digits.size() > 1) out += "." + digits.substr(1);
        char exp[16];
        std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
        out += exp;
    } else if (decpt <= 0) {
        out += "0." + std::string(static_cast<std::size_t>(-decpt), '0') + digits;
    } else if (static_cast<std::size_t>(decpt) >= digits.size()) {
        out += digits + std::string(static_cast<std::size_t>(decpt) - digits.size(), '0') + ".0";
    } else {
        out += digits.substr(0, static_cast<std::size_t>(decpt)) + "." +
               digits.substr(static_cast<std::size_t>(decpt));
    }
    return out;
}

Result<std::string> python_json_dumps(const toml::node& node, const std::string& field) {
    if (auto s = node.as_string()) return python_json_string(s->get());
    if (auto i = node.as_integer()) return std::to_string(i->get());
    if (auto f = node.as_floating_point()) return python_float_repr(f->get());
    if (auto b = node.as_boolean()) return std::string(b->get() ? "true" : "false");
    if (auto a = node.as_array()) {
        std::string out = "[";
        for (std::size_t k = 0; k < a->size(); ++k) {
            POETRYOPS_TRY(std::string v,
                          python_json_dumps(*a->get(k), field + "[" + std::to_string(k) + "]"));
            if (k) out += ", ";
            out += v;
        }
        return out + "]";
    }
    if (auto t = node.as_table()) {
        // sort_keys: Python sorts str keys by code point, which is UTF-8 byte order.
        std::map<std::string, const toml::node*> sorted;
        for (auto&& [key, value] : *t) sorted.emplace(std::string(key.str()), &value);
        std::string out = "{";
        bool first = true;
        for (const auto& [key, value] : sorted) {
            POETRYOPS_TRY(std::string v, python_json_dumps(*value, field + "." + key));
            if (!first) out += ", ";
            first = false;
            out += python_json_string(key) + ": " + v;
        }
        return out + "}";
    }
    return fail(Error::Kind::invalid,
                field + " is a TOML date or time, which Poetry cannot hash into poetry.lock",
                "UnhashableValue");
}

}  // namespace poetryops::python::detail

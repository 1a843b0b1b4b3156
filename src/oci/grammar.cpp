#include <poetryops/oci/grammar.hpp>

#include <poetryops/util/strings.hpp>

#include <algorithm>

namespace poetryops::oci {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || is_digit(c); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

Unexpected invalid(std::string msg) {
    return fail(Error::Kind::invalid, std::move(msg), "InvalidDigest");
}

}  // namespace

bool is_tag_char(char c) { return is_alnum(c) || c == '_' || c == '.' || c == '-'; }

bool is_valid_tag(std::string_view tag) {
    if (tag.empty() || tag.size() > kMaxTagLength) return false;
    if (!(is_alnum(tag.front()) || tag.front() == '_')) return false;
    return std::all_of(tag.begin(), tag.end(), is_tag_char);
}

std::string sanitize_tag(std::string_view text) {
    std::string out;
    out.reserve(std::min(text.size(), kMaxTagLength));
    for (char c : text) {
        if (out.size() == kMaxTagLength) break;
        out += is_tag_char(c) ? c : '-';
    }
    if (out.empty()) return "_";
    if (out.front() == '.' || out.front() == '-') out.front() = '_';
    return out;
}

Result<void> validate_digest(std::string_view digest) {
    auto colon = digest.find(':');
    if (colon == std::string_view::npos) {
        return invalid("digest '" + std::string(digest) +
                       "' has no algorithm (expected sha256:<64 hex>)");
    }
    auto algo = digest.substr(0, colon);
    auto hex = digest.substr(colon + 1);
    std::size_t want = 0;
    if (algo == "sha256") {
        want = 64;
    } else if (algo == "sha512") {
        want = 128;
    } else {
        return invalid("unsupported digest algorithm '" + std::string(algo) +
                       "' (expected sha256 or sha512)");
    }
    bool good = hex.size() == want && std::all_of(hex.begin(), hex.end(), [](char c) {
                    return is_digit(c) || (c >= 'a' && c <= 'f');
                });
    if (!good) {
        return invalid("malformed digest '" + std::string(digest) + "': " + std::string(algo) +
                       " needs " + std::to_string(want) + " lower-case hex characters");
    }
    return ok();
}

bool is_valid_digest(std::string_view digest) { return validate_digest(digest).has_value(); }

bool is_valid_path_component(std::string_view c) {
    if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
    for (std::size_t i = 0; i < c.size();) {
        if (is_lower_alnum(c[i])) {
            ++i;
            continue;
        }
        std::size_t j = i;
        if (c[i] == '.') {
            j = i + 1;
        } else if (c[i] == '_') {
            j = (i + 1 < c.size() && c[i + 1] == '_') ? i + 2 : i + 1;
        } else if (c[i] == '-') {
            while (j < c.size() && c[j] == '-') ++j;
        } else {
            return false;
        }
        if (j >= c.size() || !is_lower_alnum(c[j])) return false;
        i = j;
    }
    return true;
}

bool is_valid_host(std::string_view hp) {
    if (hp.empty()) return false;
    std::string_view host = hp, port;
    if (hp.front() == '[') {
        auto close = hp.find(']');
        if (close == std::string_view::npos || close < 3) return false;  // at least "[::]"
        auto literal = hp.substr(1, close - 1);
        if (!std::all_of(literal.begin(), literal.end(),
                         [](char c) { return is_hex(c) || c == ':' || c == '.'; }) ||
            literal.find(':') == std::string_view::npos) {
            return false;
        }
        auto rest = hp.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return false;
            port = rest.substr(1);
            if (port.empty()) return false;
        }
        host = {};
    } else {
        if (auto colon = hp.find(':'); colon != std::string_view::npos) {
            host = hp.substr(0, colon);
            port = hp.substr(colon + 1);
            if (port.empty()) return false;
        }
        if (host.empty() || host.size() > 253) return false;
        std::size_t start = 0;
        for (;;) {
            auto dot = host.find('.', start);
            auto label = host.substr(
                start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
            if (label.empty() || label.size() > 63 || !is_alnum(label.front()) ||
                !is_alnum(label.back()))
                return false;
            if (!std::all_of(label.begin(), label.end(),
                             [](char c) { return is_alnum(c) || c == '-'; }))
                return false;
            if (dot == std::string_view::npos) break;
            start = dot + 1;
        }
    }
    return port.empty() || str::is_port(port);
}

bool looks_like_host(std::string_view first) {
    return first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
           first == "localhost" || (!first.empty() && first.front() == '[') ||
           std::any_of(first.begin(), first.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

}  // namespace poetryops::oci

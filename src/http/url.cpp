#include <poetryops/http/url.hpp>

#include <arpa/inet.h>

#include <cctype>
#include <charconv>

namespace poetryops::http {
namespace {

bool is_ipv4(const std::string& s) {
    in_addr a{};
    return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool is_ipv6(const std::string& s) {
    in6_addr a{};
    return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool valid_host_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

/// "scheme:" at the start of a reference (RFC 3986 §3.1).
bool has_scheme(std::string_view ref) {
    if (ref.empty() || !std::isalpha(static_cast<unsigned char>(ref[0]))) return false;
    for (std::size_t i = 1; i < ref.size(); ++i) {
        char c = ref[i];
        if (c == ':') return true;
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.')
            return false;
    }
    return false;
}

/// RFC 3986 §5.2.4.
std::string remove_dot_segments(std::string_view in) {
    std::string input(in);
    std::string out;
    while (!input.empty()) {
        if (input.rfind("../", 0) == 0) {
            input.erase(0, 3);
        } else if (input.rfind("./", 0) == 0) {
            input.erase(0, 2);
        } else if (input.rfind("/./", 0) == 0) {
            input.erase(0, 2);
        } else if (input == "/.") {
            input = "/";
        } else if (input.rfind("/../", 0) == 0 || input == "/..") {
            input = input == "/.." ? "/" : input.substr(3);
            auto slash = out.rfind('/');
            out.erase(slash == std::string::npos ? 0 : slash);
        } else if (input == "." || input == "..") {
            input.clear();
        } else {
            std::size_t start = input[0] == '/' ? 1 : 0;
            std::size_t next = input.find('/', start);
            if (next == std::string::npos) next = input.size();
            out += input.substr(0, next);
            input.erase(0, next);
        }
    }
    return out;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

bool Url::is_ip_literal() const { return is_ipv4(host) || is_ipv6(host); }

std::string Url::host_port() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return h + ":" + std::to_string(port);
}

std::string Url::authority() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
    return default_port ? h : h + ":" + std::to_string(port);
}

std::string Url::origin() const { return scheme + "://" + authority(); }

std::string Url::str() const { return origin() + target; }

std::string Url::path() const { return split_target(target).first; }

std::string Url::query() const { return split_target(target).second; }

Result<Url> parse_url(std::string_view text) {
    auto sep = text.find("://");
    if (sep == std::string_view::npos) {
        return fail(Error::Kind::invalid,
                    "invalid URL: expected an absolute http:// or https:// URL", "InvalidURL");
    }
    Url url;
    url.scheme = lower(text.substr(0, sep));
    if (url.scheme != "http" && url.scheme != "https") {
        return fail(Error::Kind::invalid,
                    "invalid URL: unsupported scheme \"" + url.scheme + "\" (http or https)",
                    "InvalidURL");
    }
    std::string_view rest = text.substr(sep + 3);
    auto auth_end = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, auth_end);
    std::string_view tail =
        auth_end == std::string_view::npos ? std::string_view{} : rest.substr(auth_end);
    if (authority.find('@') != std::string_view::npos) {
        // Never echo the authority: it holds a user name and probably a password.
        return fail(Error::Kind::invalid,
                    "invalid " + url.scheme +
                        " URL: user information (user:password@) is not allowed; pass credentials "
                        "separately",
                    "InvalidURL");
    }
    std::string_view port_text;
    if (!authority.empty() && authority[0] == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos) {
            return fail(
                Error::Kind::invalid,
                "invalid URL: unterminated IPv6 literal in \"" + std::string(authority) + "\"",
                "InvalidURL");
        }
        url.host = lower(authority.substr(1, close - 1));
        if (!is_ipv6(url.host)) {
            return fail(Error::Kind::invalid, "invalid URL: bad IPv6 literal \"" + url.host + "\"",
                        "InvalidURL");
        }
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':') {
                return fail(Error::Kind::invalid,
                            "invalid URL: unexpected \"" + std::string(after) + "\" after host",
                            "InvalidURL");
            }
            port_text = after.substr(1);
            if (port_text.empty()) port_text = "-";
        }
    } else {
        auto colon = authority.rfind(':');
        std::string_view host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            port_text = authority.substr(colon + 1);
            if (port_text.empty()) port_text = "-";
        }
        if (host.empty())
            return fail(Error::Kind::invalid, "invalid URL: missing host", "InvalidURL");
        for (char c : host) {
            if (!valid_host_char(c)) {
                return fail(Error::Kind::invalid,
                            "invalid URL: bad character in host \"" + std::string(host) + "\"",
                            "InvalidURL");
            }
        }
        url.host = lower(host);
    }
    if (!port_text.empty()) {
        unsigned value = 0;
        auto [ptr, ec] =
            std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
        if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || value == 0 ||
            value > 65535) {
            return fail(
                Error::Kind::invalid,
                "invalid URL: bad port \"" + std::string(port_text) + "\" for host " + url.host,
                "InvalidURL");
        }
        url.port = static_cast<std::uint16_t>(value);
    } else {
        url.port = url.tls() ? 443 : 80;
    }
    auto hash = tail.find('#');
    if (hash != std::string_view::npos) tail = tail.substr(0, hash);
    for (char c : tail) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
            return fail(
                Error::Kind::invalid,
                "invalid URL: whitespace or control character in the path of " + url.origin(),
                "InvalidURL");
        }
    }
    url.target = std::string(tail);
    if (url.target.empty() || url.target[0] == '?') url.target.insert(0, "/");
    return url;
}

Result<Url> resolve_redirect(const Url& base, std::string_view location) {
    std::string_view ref = location;
    while (!ref.empty() && (ref.front() == ' ' || ref.front() == '\t')) ref.remove_prefix(1);
    while (!ref.empty() && (ref.back() == ' ' || ref.back() == '\t')) ref.remove_suffix(1);
    auto hash = ref.find('#');
    if (hash != std::string_view::npos) ref = ref.substr(0, hash);
    if (has_scheme(ref)) return parse_url(ref);
    if (ref.rfind("//", 0) == 0) return parse_url(base.scheme + ":" + std::string(ref));
    Url out = base;
    auto [base_path, base_query] = split_target(base.target);
    if (ref.empty()) return out;
    if (ref[0] == '?') {
        out.target = base_path + std::string(ref);
        return out;
    }
    auto q = ref.find('?');
    std::string ref_path(ref.substr(0, q));
    std::string ref_query =
        q == std::string_view::npos ? std::string{} : std::string(ref.substr(q));
    std::string merged;
    if (ref_path[0] == '/') {
        merged = ref_path;
    } else {
        auto slash = base_path.rfind('/');
        merged = (slash == std::string::npos ? std::string("/") : base_path.substr(0, slash + 1)) +
                 ref_path;
    }
    std::string path = remove_dot_segments(merged);
    if (path.empty() || path[0] != '/') path.insert(0, "/");
    for (char c : path + ref_query) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
            return fail(Error::Kind::invalid,
                        "invalid redirect Location from " + base.origin() + ": control character",
                        "InvalidURL");
        }
    }
    out.target = path + ref_query;
    return out;
}

bool same_origin(const Url& a, const Url& b) {
    return a.scheme == b.scheme && a.host == b.host && a.port == b.port;
}

bool is_redirect_status(int status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

std::pair<std::string, std::string> split_target(std::string_view target) {
    auto hash = target.find('#');
    if (hash != std::string_view::npos) target = target.substr(0, hash);
    auto q = target.find('?');
    if (q == std::string_view::npos) return {std::string(target), {}};
    return {std::string(target.substr(0, q)), std::string(target.substr(q + 1))};
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> out;
    std::size_t pos = 0;
    while (pos <= query.size()) {
        auto amp = query.find('&', pos);
        if (amp == std::string_view::npos) amp = query.size();
        std::string_view part = query.substr(pos, amp - pos);
        if (!part.empty()) {
            auto eq = part.find('=');
            if (eq == std::string_view::npos) {
                out.emplace_back(percent_decode(part, true), std::string{});
            } else {
                out.emplace_back(percent_decode(part.substr(0, eq), true),
                                 percent_decode(part.substr(eq + 1), true));
            }
        }
        pos = amp + 1;
    }
    return out;
}

std::string percent_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%' && i + 2 < s.size()) {
            int hi = hex_value(s[i + 1]);
            int lo = hex_value(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(plus_is_space && c == '+' ? ' ' : c);
    }
    return out;
}

}  // namespace poetryops::http

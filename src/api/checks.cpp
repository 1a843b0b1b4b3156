// Format checks shared by validation, the CLI and the promotion engine.
#include <poetryops/api/validation.hpp>

#include <poetryops/oci/grammar.hpp>
#include <poetryops/oci/tag_template.hpp>
#include <poetryops/util/strings.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <vector>

namespace poetryops::api {

namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool has_space_or_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(),
                       [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

// A URL authority (git and Prometheus URLs): host [":" port], host a DNS name (any case, "_"
// tolerated as git does), an IPv4 address or a bracketed IPv6 address with an optional zone.
// Registry hosts follow the stricter OCI rule (oci::is_valid_host).
bool is_url_authority(std::string_view hp) {
    if (hp.empty()) return false;
    std::string_view host = hp, port;
    if (hp.front() == '[') {
        auto close = hp.find(']');
        if (close == std::string_view::npos || close == 1) return false;
        for (char c : hp.substr(1, close - 1)) {
            if (!(is_alnum(c) || c == ':' || c == '.' || c == '%')) return false;
        }
        host = hp.substr(0, close + 1);
        std::string_view rest = hp.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return false;
            port = rest.substr(1);
            if (port.empty()) return false;
        }
    } else {
        auto colon = hp.rfind(':');
        if (colon != std::string_view::npos) {
            host = hp.substr(0, colon);
            port = hp.substr(colon + 1);
            if (port.empty()) return false;
        }
        if (host.empty() || host.size() > 253) return false;
        std::size_t start = 0;
        while (start <= host.size()) {
            auto dot = host.find('.', start);
            std::string_view label =
                host.substr(start, dot == std::string_view::npos ? host.npos : dot - start);
            if (label.empty() || label.size() > 63 || !is_alnum(label.front()) ||
                !is_alnum(label.back()))
                return false;
            for (char c : label) {
                if (!(is_alnum(c) || c == '-' || c == '_')) return false;
            }
            if (dot == std::string_view::npos) break;
            start = dot + 1;
        }
    }
    return port.empty() || str::is_port(port);
}

}  // namespace

bool is_dns1123_label(std::string_view s) {
    if (s.empty() || s.size() > 63) return false;
    if (!is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

bool is_dns1123_subdomain(std::string_view s) {
    if (s.empty() || s.size() > 253) return false;
    std::size_t start = 0;
    while (true) {
        auto dot = s.find('.', start);
        std::string_view label =
            s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
        if (label.empty() || !is_lower_alnum(label.front()) || !is_lower_alnum(label.back()))
            return false;
        if (!std::all_of(label.begin(), label.end(),
                         [](char c) { return is_lower_alnum(c) || c == '-'; }))
            return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

std::string check_repo_path(std::string_view path) {
    if (path.empty()) return "must not be empty (use \".\" for the repository root)";
    if (path.size() > 1024) return "is longer than 1024 characters";
    if (path.front() == '/') return "must be relative to the repository root, not absolute";
    if (path.find('\\') != std::string_view::npos) return "must use '/' as the separator";
    if (std::any_of(path.begin(), path.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
        return "must not contain control characters";
    std::size_t start = 0;
    while (start <= path.size()) {
        auto slash = path.find('/', start);
        std::string_view seg =
            path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
        if (seg == "..") return "must stay inside the repository (no \"..\" segments)";
        if (seg == ".git") return "must not point into the .git folder";
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return "";
}

std::string check_image_repository(std::string_view repo) {
    if (repo.empty()) return "is required";
    if (repo.size() > 255) return "is longer than 255 characters";
    if (repo.find('@') != std::string_view::npos)
        return "must not include a digest (poetryops pins digests itself)";
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (true) {
        auto slash = repo.find('/', start);
        parts.push_back(
            repo.substr(start, slash == std::string_view::npos ? repo.npos : slash - start));
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    std::size_t first_path = 0;
    if (parts.size() > 1) {
        std::string_view d = parts.front();
        if (oci::looks_like_host(d)) {
            if (!oci::is_valid_host(d))
                return "has an invalid registry host \"" + std::string(d) + "\"";
            first_path = 1;
        }
    }
    for (std::size_t i = first_path; i < parts.size(); ++i) {
        std::string_view c = parts[i];
        if (i + 1 == parts.size() && c.find(':') != std::string_view::npos)
            return "must not include a tag (set image.tagTemplate instead)";
        if (!oci::is_valid_path_component(c)) {
            return "has an invalid path component \"" + std::string(c) +
                   "\" (lower-case letters, digits and single '.', '_', '__' or '-' separators)";
        }
    }
    return "";
}

std::string check_git_url(std::string_view url) {
    if (url.empty()) return "is required";
    if (url.size() > 2048) return "is longer than 2048 characters";
    if (has_space_or_control(url)) return "must not contain spaces or control characters";
    auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) {
        // scp-like: [user@]host:path
        auto colon = url.find(':');
        auto slash = url.find('/');
        if (colon == std::string_view::npos || (slash != std::string_view::npos && slash < colon))
            return "is not a git URL (use https://, ssh://, user@host:path or file:///path)";
        std::string_view userhost = url.substr(0, colon);
        auto at = userhost.find('@');
        std::string_view host = at == std::string_view::npos ? userhost : userhost.substr(at + 1);
        if (!is_url_authority(host) || host.find(':') != std::string_view::npos)
            return "has an invalid host";
        if (colon + 1 >= url.size()) return "has no repository path";
        return "";
    }
    std::string scheme(url.substr(0, scheme_end));
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::string_view rest = url.substr(scheme_end + 3);
    if (scheme == "file") {
        if (rest.empty() || rest.front() != '/')
            return "file URLs must be absolute (file:///path/to/repo.git)";
        return "";
    }
    if (scheme != "https" && scheme != "http" && scheme != "ssh" && scheme != "git")
        return "has unsupported scheme \"" + scheme + "\" (use https, http, ssh, git or file)";
    auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    auto at = authority.rfind('@');
    if (at != std::string_view::npos) {
        std::string_view userinfo = authority.substr(0, at);
        if (userinfo.find(':') != std::string_view::npos)
            return "must not contain a password (put credentials in the secretRef Secret)";
        authority = authority.substr(at + 1);
    }
    if (!is_url_authority(authority)) return "has an invalid host";
    if (slash == std::string_view::npos || slash + 1 >= rest.size())
        return "has no repository path";
    return "";
}

std::string check_http_url(std::string_view url) {
    if (url.empty()) return "is required";
    if (has_space_or_control(url)) return "must not contain spaces or control characters";
    std::string_view rest;
    if (url.substr(0, 7) == "http://") {
        rest = url.substr(7);
    } else if (url.substr(0, 8) == "https://") {
        rest = url.substr(8);
    } else {
        return "must start with http:// or https://";
    }
    std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (authority.find('@') != std::string_view::npos)
        return "must not contain credentials (they would end up in status and logs)";
    if (!is_url_authority(authority)) return "has an invalid host";
    return "";
}

std::string check_tag_template(std::string_view tmpl) {
    // The vocabulary, the braces and the OCI tag grammar are the renderer's (oci/tag_template.hpp);
    // the PoetryApp adds one rule of its own.
    if (auto problem = oci::tag_template_problem(tmpl); !problem.empty()) return problem;
    if (tmpl.find("{version}") == std::string_view::npos)
        return "must contain {version} (the promotion engine reads versions back from tags)";
    return "";
}

std::string check_version_specifiers(std::string_view spec) {
    if (spec.empty()) return "";
    std::size_t start = 0;
    while (start <= spec.size()) {
        auto comma = spec.find(',', start);
        std::string_view clause =
            spec.substr(start, comma == std::string_view::npos ? spec.npos : comma - start);
        while (!clause.empty() && clause.front() == ' ') clause.remove_prefix(1);
        while (!clause.empty() && clause.back() == ' ') clause.remove_suffix(1);
        static constexpr std::array<std::string_view, 8> ops{
            "===", "~=", "==", "!=", "<=", ">=", "<", ">"};
        auto op = std::find_if(ops.begin(), ops.end(),
                               [&](std::string_view o) { return clause.substr(0, o.size()) == o; });
        if (op == ops.end())
            return "clause \"" + std::string(clause) +
                   "\" must start with one of ~= == != <= >= < > ===";
        std::string_view v = clause.substr(op->size());
        while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        if ((*op == "==" || *op == "!=") && v.size() > 2 && v.substr(v.size() - 2) == ".*")
            v.remove_suffix(2);
        if (v.empty()) return "clause \"" + std::string(clause) + "\" has no version";
        if (v.front() == 'v' || v.front() == 'V') v.remove_prefix(1);
        if (v.empty() || !is_digit(v.front()))
            return "clause \"" + std::string(clause) +
                   "\" has a version that does not start with a digit";
        for (char c : v) {
            if (!(is_alnum(c) || c == '.' || c == '!' || c == '+' || c == '-' || c == '_'))
                return "clause \"" + std::string(clause) + "\" has an invalid character '" +
                       std::string(1, c) + "'";
        }
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return "";
}

}  // namespace poetryops::api

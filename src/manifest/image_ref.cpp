#include <poetryops/manifest/image_ref.hpp>

#include <cctype>

namespace poetryops::manifest {
namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// host[:port]: DNS labels (letters, digits, '-', '.') or a bracketed IPv6 literal, optional numeric port.
bool valid_domain(std::string_view d) {
    if (d.empty()) return false;
    std::string_view host = d;
    std::string_view port;
    if (d.front() == '[') {
        auto close = d.find(']');
        if (close == std::string_view::npos) return false;
        host = d.substr(0, close + 1);
        std::string_view rest = d.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return false;
            port = rest.substr(1);
            if (port.empty()) return false;
        }
    } else {
        auto colon = d.find(':');
        if (colon != std::string_view::npos) {
            host = d.substr(0, colon);
            port = d.substr(colon + 1);
            if (port.empty()) return false;
        }
        if (host.empty()) return false;
        for (char c : host) {
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) return false;
        }
        if (host.front() == '-' || host.front() == '.' || host.back() == '-' || host.back() == '.') return false;
    }
    for (char c : port) {
        if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    }
    return true;
}

Unexpected bad(std::string_view text, std::string_view why) {
    return fail(Error::Kind::invalid, "image reference \"" + std::string(text) + "\": " + std::string(why),
                "InvalidImageReference");
}

}  // namespace

bool valid_path_component(std::string_view c) {
    if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) {
        return false;
    }
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


bool is_valid_digest(std::string_view digest) {
    constexpr std::string_view prefix = "sha256:";
    if (digest.size() != prefix.size() + 64 || digest.substr(0, prefix.size()) != prefix) return false;
    for (char c : digest.substr(prefix.size())) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

bool is_valid_tag(std::string_view tag) {
    if (tag.empty() || tag.size() > 128) return false;
    auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    if (!word(tag.front())) return false;
    for (char c : tag) {
        if (!(word(c) || c == '.' || c == '-')) return false;
    }
    return true;
}

std::string ImageRef::name() const { return domain.empty() ? path : domain + "/" + path; }

std::string ImageRef::normalized_name() const {
    std::string d = domain.empty() || domain == "index.docker.io" || domain == "registry-1.docker.io"
                        ? std::string("docker.io")
                        : domain;
    std::string p = path;
    if (d == "docker.io" && p.find('/') == std::string::npos) p = "library/" + p;
    return d + "/" + p;
}

std::string ImageRef::str() const {
    std::string s = name();
    if (!tag.empty()) s += ":" + tag;
    if (!digest.empty()) s += "@" + digest;
    return s;
}

Result<ImageRef> parse_image_ref(std::string_view text) {
    if (text.empty()) return bad(text, "empty");
    if (text.size() > 4096) return bad(text.substr(0, 64), "longer than 4096 characters");
    ImageRef ref;
    std::string_view rest = text;
    if (auto at = rest.find('@'); at != std::string_view::npos) {
        ref.digest = std::string(rest.substr(at + 1));
        rest = rest.substr(0, at);
        if (!is_valid_digest(ref.digest)) return bad(text, "digest must be sha256: followed by 64 lower-case hex");
    }
    // A tag is after the last ':' that follows the last '/'; a ':' before that belongs to a registry port.
    auto slash = rest.rfind('/');
    auto colon = rest.rfind(':');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
        ref.tag = std::string(rest.substr(colon + 1));
        rest = rest.substr(0, colon);
        if (!is_valid_tag(ref.tag)) return bad(text, "invalid tag \"" + ref.tag + "\"");
    }
    if (rest.empty()) return bad(text, "missing repository name");
    auto first_slash = rest.find('/');
    if (first_slash != std::string_view::npos) {
        std::string_view first = rest.substr(0, first_slash);
        if (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
            first == "localhost" || first.front() == '[') {
            ref.domain = std::string(first);
            rest = rest.substr(first_slash + 1);
            if (!valid_domain(ref.domain)) return bad(text, "invalid registry \"" + ref.domain + "\"");
        }
    }
    if (rest.empty()) return bad(text, "missing repository path");
    std::size_t start = 0;
    while (true) {
        auto end = rest.find('/', start);
        std::string_view comp = rest.substr(start, end == std::string_view::npos ? rest.npos : end - start);
        if (!valid_path_component(comp)) {
            for (char c : comp) {
                if (std::isupper(static_cast<unsigned char>(c))) {
                    return bad(text, "repository name must be lower-case");
                }
            }
            return bad(text, "invalid repository path component \"" + std::string(comp) + "\"");
        }
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    ref.path = std::string(rest);
    if (ref.name().size() > 255) return bad(text, "repository name longer than 255 characters");
    return ref;
}

Result<ImageRef> parse_image_name(std::string_view text) {
    POETRYOPS_TRY(ImageRef ref, parse_image_ref(text));
    if (!ref.tag.empty() || !ref.digest.empty()) return bad(text, "expected a name without tag or digest");
    return ref;
}

std::string normalize_image_name(std::string_view name) {
    auto ref = parse_image_ref(name);
    if (!ref) return std::string(name);
    ImageRef bare = *ref;
    bare.tag.clear();
    bare.digest.clear();
    return bare.normalized_name();
}

bool same_image_name(std::string_view a, std::string_view b) {
    return a == b || normalize_image_name(a) == normalize_image_name(b);
}

}  // namespace poetryops::manifest

#include <poetryops/manifest/image_ref.hpp>

#include <poetryops/oci/grammar.hpp>

#include <cctype>

namespace poetryops::manifest {
namespace {

Unexpected bad(std::string_view text, std::string_view why) {
    return fail(Error::Kind::invalid,
                "image reference \"" + std::string(text) + "\": " + std::string(why),
                "InvalidImageReference");
}

}  // namespace

std::string ImageRef::name() const { return domain.empty() ? path : domain + "/" + path; }

std::string ImageRef::normalized_name() const {
    std::string d =
        domain.empty() || domain == "index.docker.io" || domain == "registry-1.docker.io"
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
        if (auto d = oci::validate_digest(ref.digest); !d) return bad(text, d.error().message);
    }
    // A tag is after the last ':' that follows the last '/'; a ':' before that belongs to a
    // registry port.
    auto slash = rest.rfind('/');
    auto colon = rest.rfind(':');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
        ref.tag = std::string(rest.substr(colon + 1));
        rest = rest.substr(0, colon);
        if (!oci::is_valid_tag(ref.tag)) {
            return bad(text, "invalid tag \"" + ref.tag +
                                 "\" (allowed: " + std::string(oci::kTagGrammar) + ")");
        }
    }
    if (rest.empty()) return bad(text, "missing repository name");
    auto first_slash = rest.find('/');
    if (first_slash != std::string_view::npos) {
        std::string_view first = rest.substr(0, first_slash);
        if (oci::looks_like_host(first)) {
            ref.domain = std::string(first);
            rest = rest.substr(first_slash + 1);
            if (!oci::is_valid_host(ref.domain))
                return bad(text, "invalid registry \"" + ref.domain + "\"");
        }
    }
    if (rest.empty()) return bad(text, "missing repository path");
    std::size_t start = 0;
    while (true) {
        auto end = rest.find('/', start);
        std::string_view comp =
            rest.substr(start, end == std::string_view::npos ? rest.npos : end - start);
        if (!oci::is_valid_path_component(comp)) {
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
    if (!ref.tag.empty() || !ref.digest.empty())
        return bad(text, "expected a name without tag or digest");
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

#include <poetryops/registry/reference.hpp>

#include <poetryops/oci/grammar.hpp>

#include <poetryops/util/strings.hpp>

#include <openssl/evp.h>

#include <cctype>

namespace poetryops::registry {
namespace {

Error invalid(std::string msg) {
    return Error::make(Error::Kind::invalid, std::move(msg), "INVALID_REFERENCE");
}

Result<Reference> parse_name(std::string_view text, std::string_view whole) {
    Reference ref;
    std::string_view rest = text;
    auto slash = rest.find('/');
    if (slash != std::string_view::npos && oci::looks_like_host(rest.substr(0, slash))) {
        auto domain = rest.substr(0, slash);
        if (!oci::is_valid_host(domain)) {
            return invalid("invalid registry host '" + std::string(domain) +
                           "' in image reference '" + std::string(whole) + "'");
        }
        ref.registry = str::to_lower(domain);
        rest = rest.substr(slash + 1);
    } else {
        ref.registry = "docker.io";
    }
    if (rest.empty())
        return invalid("image reference '" + std::string(whole) + "' has no repository");
    for (const auto& part : str::split(rest, '/')) {
        if (!oci::is_valid_path_component(part)) {
            bool upper = false;
            for (char c : part) upper = upper || std::isupper(static_cast<unsigned char>(c));
            return invalid("invalid repository component '" + part + "' in image reference '" +
                           std::string(whole) + "'" +
                           (upper ? ": repository names must be lower case"
                                  : ": allowed are [a-z0-9] separated by . _ __ -"));
        }
    }
    ref.repository = std::string(rest);
    if (ref.registry == "docker.io" && ref.repository.find('/') == std::string::npos) {
        ref.repository = "library/" + ref.repository;
    }
    if (ref.name().size() > oci::kMaxNameLength) {
        return invalid("image name in '" + std::string(whole).substr(0, 80) +
                       "…' is longer than 255 characters");
    }
    return ref;
}

}  // namespace

std::string Reference::name() const { return registry + "/" + repository; }

std::string Reference::str() const {
    std::string s = name();
    if (!tag.empty()) s += ":" + tag;
    if (!digest.empty()) s += "@" + digest;
    return s;
}

std::string Reference::identifier() const {
    if (!digest.empty()) return digest;
    if (!tag.empty()) return tag;
    return "latest";
}

std::string Reference::api_host() const {
    return registry == "docker.io" ? "registry-1.docker.io" : registry;
}

std::string normalize_registry_host(std::string_view host) {
    std::string h = str::to_lower(str::trim(host));
    if (auto scheme = h.find("://"); scheme != std::string::npos) h = h.substr(scheme + 3);
    if (auto slash = h.find('/'); slash != std::string::npos) h = h.substr(0, slash);
    if (h == "index.docker.io" || h == "registry-1.docker.io" || h == "registry.hub.docker.com" ||
        h == "docker.io") {
        return "docker.io";
    }
    return h;
}

std::string compute_digest(std::string_view bytes, std::string_view algorithm) {
    const EVP_MD* md = algorithm == "sha512" ? EVP_sha512() : EVP_sha256();
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(bytes.data(), bytes.size(), out, &len, md, nullptr);
    return std::string(algorithm == "sha512" ? "sha512:" : "sha256:") +
           str::hex(std::string_view(reinterpret_cast<const char*>(out), len));
}

Result<void> verify_digest(std::string_view bytes, std::string_view digest, std::string_view what) {
    POETRYOPS_TRY_VOID(oci::validate_digest(digest));
    auto algo = digest.substr(0, digest.find(':'));
    auto actual = compute_digest(bytes, algo);
    if (actual != digest) {
        return fail(Error::Kind::invalid,
                    std::string(what) + ": content digest " + actual +
                        " does not match the expected " + std::string(digest) +
                        "; refusing the bytes",
                    "DIGEST_MISMATCH");
    }
    return ok();
}

Result<Reference> parse_repository(std::string_view text) {
    auto t = str::trim(text);
    if (t.empty()) return invalid("empty repository name");
    if (t.find_first_of("@") != std::string_view::npos) {
        return invalid("repository '" + std::string(t) + "' must not contain a digest");
    }
    auto last_slash = t.rfind('/');
    auto colon = t.rfind(':');
    if (colon != std::string_view::npos &&
        (last_slash == std::string_view::npos || colon > last_slash)) {
        return invalid("repository '" + std::string(t) + "' must not contain a tag");
    }
    return parse_name(t, t);
}

Result<Reference> parse_reference(std::string_view text) {
    auto t = str::trim(text);
    if (t.empty()) return invalid("empty image reference");
    if (t.find("://") != std::string_view::npos) {
        return invalid("image reference '" + std::string(t) + "' must not have a scheme");
    }
    std::string_view name = t;
    std::string digest;
    std::string tag;
    if (auto at = t.find('@'); at != std::string_view::npos) {
        digest = std::string(t.substr(at + 1));
        name = t.substr(0, at);
        auto checked = oci::validate_digest(digest);
        if (!checked)
            return invalid(checked.error().message + " in image reference '" + std::string(t) +
                           "'");
    }
    auto last_slash = name.rfind('/');
    auto colon = name.rfind(':');
    if (colon != std::string_view::npos &&
        (last_slash == std::string_view::npos || colon > last_slash)) {
        tag = std::string(name.substr(colon + 1));
        name = name.substr(0, colon);
        if (!oci::is_valid_tag(tag)) {
            return invalid("invalid tag '" + tag + "' in image reference '" + std::string(t) +
                           "' (allowed: " + std::string(oci::kTagGrammar) + ")");
        }
    }
    POETRYOPS_TRY(Reference ref, parse_name(name, t));
    ref.tag = std::move(tag);
    ref.digest = std::move(digest);
    return ref;
}

}  // namespace poetryops::registry

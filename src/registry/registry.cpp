#include <poetryops/registry/registry.hpp>

#include <poetryops/oci/grammar.hpp>

#include <poetryops/util/strings.hpp>

#include <nlohmann/json.hpp>

namespace poetryops::registry {

bool is_manifest_media_type(std::string_view t) {
    return t == media::oci_manifest || t == media::oci_index || t == media::docker_manifest ||
           t == media::docker_manifest_list;
}

bool is_index_media_type(std::string_view t) {
    return t == media::oci_index || t == media::docker_manifest_list;
}

std::string Platform::str() const {
    std::string s = os + "/" + architecture;
    if (!variant.empty()) s += "/" + variant;
    return s;
}

Result<Platform> parse_platform(std::string_view text) {
    auto parts = str::split(str::trim(text), '/');
    bool ok_parts = parts.size() == 2 || parts.size() == 3;
    for (const auto& p : parts) ok_parts = ok_parts && !p.empty();
    if (!ok_parts) {
        return fail(Error::Kind::invalid, "invalid platform '" + std::string(text) +
                                              "' (expected os/arch or os/arch/variant)");
    }
    Platform p{parts[0], parts[1], parts.size() == 3 ? parts[2] : ""};
    return p;
}

Descriptor Manifest::descriptor() const {
    Descriptor d;
    d.digest = digest;
    d.media_type = media_type;
    d.size = static_cast<std::int64_t>(bytes.size());
    return d;
}

Result<Descriptor> retag(Registry& registry, const Reference& src, std::string_view new_tag) {
    if (!oci::is_valid_tag(new_tag)) {
        return fail(Error::Kind::invalid, "invalid tag '" + std::string(new_tag) +
                                              "' (allowed: [A-Za-z0-9_][A-Za-z0-9._-]{0,127})");
    }
    POETRYOPS_TRY(Manifest m, registry.get_manifest(src));
    POETRYOPS_TRY(Descriptor d, registry.put_manifest(src, new_tag, m.bytes, m.media_type));
    if (d.digest != m.digest) {
        return fail(Error::Kind::internal, "retag of " + src.str() + " as '" +
                                               std::string(new_tag) + "' stored digest " +
                                               d.digest + ", expected " + m.digest);
    }
    return d;
}

Result<std::vector<Descriptor>> index_children(const Manifest& index) {
    if (!is_index_media_type(index.media_type)) {
        return fail(Error::Kind::invalid, "manifest " + index.digest + " is a " + index.media_type +
                                              ", not an image index or manifest list");
    }
    std::vector<Descriptor> out;
    try {
        auto j = nlohmann::json::parse(index.bytes);
        const auto& list = j.at("manifests");
        if (!list.is_array()) throw std::runtime_error("'manifests' is not an array");
        for (const auto& m : list) {
            Descriptor d;
            d.digest = m.at("digest").get<std::string>();
            d.media_type = m.value("mediaType", std::string());
            d.size = m.value("size", std::int64_t{-1});
            if (m.contains("platform") && m["platform"].is_object()) {
                const auto& p = m["platform"];
                d.platform =
                    Platform{p.value("os", std::string()), p.value("architecture", std::string()),
                             p.value("variant", std::string())};
            }
            POETRYOPS_TRY_VOID(oci::validate_digest(d.digest));
            out.push_back(std::move(d));
        }
    } catch (const std::exception& e) {
        return fail(Error::Kind::decode, "index " + index.digest + ": malformed JSON: " + e.what());
    }
    return out;
}

Result<Descriptor> select_platform(const Manifest& index, const Platform& platform) {
    POETRYOPS_TRY(auto children, index_children(index));
    std::vector<std::string> seen;
    for (const auto& c : children) {
        if (!c.platform) continue;
        seen.push_back(c.platform->str());
        if (c.platform->os == platform.os && c.platform->architecture == platform.architecture &&
            (platform.variant.empty() || c.platform->variant == platform.variant)) {
            return c;
        }
    }
    return fail(Error::Kind::not_found,
                "index " + index.digest + " has no manifest for platform " + platform.str() +
                    " (available: " + (seen.empty() ? std::string("none") : str::join(seen, ", ")) +
                    ")");
}

}  // namespace poetryops::registry

#include <poetryops/registry/layout.hpp>

#include <poetryops/oci/grammar.hpp>

#include <poetryops/util/fs.hpp>

#include <nlohmann/json.hpp>

#include <system_error>

namespace poetryops::registry {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path blob_path(const fs::path& dir, std::string_view digest) {
    auto colon = digest.find(':');
    return dir / "blobs" / std::string(digest.substr(0, colon)) /
           std::string(digest.substr(colon + 1));
}

Result<json> read_index(const fs::path& dir) {
    std::error_code ec;
    if (!fs::exists(dir / "oci-layout", ec)) {
        return fail(Error::Kind::not_found,
                    dir.string() + " is not an OCI image layout (no oci-layout file)");
    }
    POETRYOPS_TRY(std::string text, read_file(dir / "index.json", 16 * 1024 * 1024));
    try {
        auto j = json::parse(text);
        if (!j.is_object()) throw std::runtime_error("not a JSON object");
        if (!j.contains("manifests")) j["manifests"] = json::array();
        if (!j["manifests"].is_array()) throw std::runtime_error("'manifests' is not an array");
        for (const auto& m : j["manifests"]) {
            if (!m.is_object() || !m.contains("digest") || !m["digest"].is_string()) {
                throw std::runtime_error("an entry of 'manifests' has no digest");
            }
        }
        return j;
    } catch (const std::exception& e) {
        return fail(Error::Kind::decode,
                    (dir / "index.json").string() + ": malformed: " + e.what());
    }
}

std::string ref_name(const json& entry) {
    if (!entry.contains("annotations") || !entry["annotations"].is_object()) return {};
    const auto& a = entry["annotations"];
    auto it = a.find(std::string(ref_name_annotation));
    return it != a.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The media type a manifest declares in its own bytes, or what its shape says when it omits
// mediaType (OCI allows).
std::string sniff_media_type(std::string_view bytes) {
    try {
        auto j = json::parse(bytes);
        if (j.contains("mediaType") && j["mediaType"].is_string())
            return j["mediaType"].get<std::string>();
        if (j.contains("manifests")) return std::string(media::oci_index);
        if (j.contains("layers")) return std::string(media::oci_manifest);
    } catch (const std::exception&) {
    }
    return {};
}

}  // namespace

LayoutRegistry::LayoutRegistry(fs::path root, LayoutOptions options)
    : root_(std::move(root)), options_(options) {}

fs::path LayoutRegistry::layout_dir(const Reference& repo) const {
    return options_.repository_subdirs ? root_ / repo.repository : root_;
}

Result<void> LayoutRegistry::ensure_layout(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir / "blobs" / "sha256", ec);
    if (ec)
        return fail(Error::Kind::internal,
                    "cannot create " + (dir / "blobs").string() + ": " + ec.message());
    if (!fs::exists(dir / "oci-layout", ec)) {
        POETRYOPS_TRY_VOID(
            write_file_atomic(dir / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
    }
    if (!fs::exists(dir / "index.json", ec)) {
        json index = {
            {"schemaVersion", 2}, {"mediaType", media::oci_index}, {"manifests", json::array()}};
        POETRYOPS_TRY_VOID(write_file_atomic(dir / "index.json", index.dump()));
    }
    return ok();
}

Result<std::string> LayoutRegistry::get_blob(const Reference& repo, std::string_view digest,
                                             std::size_t max_bytes) {
    POETRYOPS_TRY_VOID(oci::validate_digest(digest));
    auto path = blob_path(layout_dir(repo), digest);
    auto bytes = read_file(path, max_bytes);
    if (!bytes) {
        if (bytes.error().kind == Error::Kind::not_found) {
            return fail(
                Error::Kind::not_found,
                "blob " + std::string(digest) + " not found in " + layout_dir(repo).string(),
                "BLOB_UNKNOWN");
        }
        return fail(std::move(bytes).error());
    }
    POETRYOPS_TRY_VOID(verify_digest(*bytes, digest, path.string()));
    return std::move(bytes).value();
}

Result<std::string> LayoutRegistry::put_blob(const Reference& repo, std::string_view bytes) {
    auto dir = layout_dir(repo);
    std::lock_guard lock(write_mu_);
    POETRYOPS_TRY_VOID(ensure_layout(dir));
    auto digest = compute_digest(bytes);
    auto path = blob_path(dir, digest);
    if (auto existing = read_file(path, bytes.size() + 1); existing && *existing == bytes)
        return digest;
    POETRYOPS_TRY_VOID(write_file_atomic(path, bytes, 0444));
    return digest;
}

Result<Manifest> LayoutRegistry::get_manifest(const Reference& ref) {
    auto dir = layout_dir(ref);
    POETRYOPS_TRY(json index, read_index(dir));
    std::string digest = ref.digest;
    std::string media_type;
    if (digest.empty()) {
        auto tag = ref.identifier();
        for (const auto& m : index["manifests"]) {
            if (ref_name(m) == tag) {
                digest = m["digest"].get<std::string>();
                media_type = m.value("mediaType", std::string());
            }
        }
        if (digest.empty()) {
            return fail(Error::Kind::not_found,
                        "tag '" + tag + "' not found in image layout " + dir.string(),
                        "MANIFEST_UNKNOWN");
        }
    } else {
        for (const auto& m : index["manifests"]) {
            if (m["digest"] == digest && m.contains("mediaType"))
                media_type = m.value("mediaType", std::string());
        }
    }
    auto bytes = get_blob(ref, digest, options_.max_manifest_bytes);
    if (!bytes) {
        auto e = std::move(bytes).error();
        if (e.kind == Error::Kind::invalid && e.reason.empty() &&
            e.message.find("larger") != std::string::npos) {
            e.message = "manifest " + digest + " in " + dir.string() + " is larger than " +
                        std::to_string(options_.max_manifest_bytes) + " bytes";
        }
        return fail(std::move(e));
    }
    Manifest m;
    m.bytes = std::move(bytes).value();
    m.digest = digest;
    m.media_type = media_type.empty() ? sniff_media_type(m.bytes) : media_type;
    if (!is_manifest_media_type(m.media_type)) {
        return fail(Error::Kind::invalid, "blob " + digest + " in " + dir.string() +
                                              " is not a manifest (media type '" + m.media_type +
                                              "')");
    }
    return m;
}

Result<Descriptor> LayoutRegistry::resolve(const Reference& ref) {
    POETRYOPS_TRY(Manifest m, get_manifest(ref));
    return m.descriptor();
}

Result<std::vector<std::string>> LayoutRegistry::list_tags(const Reference& repo) {
    POETRYOPS_TRY(json index, read_index(layout_dir(repo)));
    std::vector<std::string> tags;
    for (const auto& m : index["manifests"]) {
        auto name = ref_name(m);
        if (!name.empty() && std::find(tags.begin(), tags.end(), name) == tags.end())
            tags.push_back(name);
    }
    return tags;
}

Result<Descriptor> LayoutRegistry::put_manifest(const Reference& repo, std::string_view tag,
                                                std::string_view bytes,
                                                std::string_view media_type) {
    if (!oci::is_valid_tag(tag)) {
        return fail(Error::Kind::invalid, "invalid tag '" + std::string(tag) + "'");
    }
    if (!is_manifest_media_type(media_type)) {
        return fail(Error::Kind::invalid,
                    "media type '" + std::string(media_type) + "' is not a manifest type");
    }
    if (bytes.size() > options_.max_manifest_bytes) {
        return fail(Error::Kind::invalid,
                    "manifest of " + std::to_string(bytes.size()) + " bytes exceeds the limit");
    }
    POETRYOPS_TRY(std::string digest, put_blob(repo, bytes));
    auto dir = layout_dir(repo);
    std::lock_guard lock(write_mu_);
    POETRYOPS_TRY(json index, read_index(dir));
    json kept = json::array();
    for (auto& m : index["manifests"]) {
        if (ref_name(m) != tag) kept.push_back(std::move(m));
    }
    kept.push_back({{"mediaType", media_type},
                    {"digest", digest},
                    {"size", bytes.size()},
                    {"annotations", {{std::string(ref_name_annotation), tag}}}});
    index["manifests"] = std::move(kept);
    POETRYOPS_TRY_VOID(write_file_atomic(dir / "index.json", index.dump()));
    Descriptor d;
    d.digest = digest;
    d.media_type = std::string(media_type);
    d.size = static_cast<std::int64_t>(bytes.size());
    return d;
}

bool is_layout_reference(std::string_view text) { return text.substr(0, 4) == "oci:"; }

Result<LayoutReference> parse_layout_reference(std::string_view text) {
    if (!is_layout_reference(text)) {
        return fail(Error::Kind::invalid,
                    "'" + std::string(text) + "' is not an oci:DIR[:TAG] reference");
    }
    auto rest = text.substr(4);
    LayoutReference out;
    out.ref.registry = "oci";
    if (auto at = rest.find('@'); at != std::string_view::npos) {
        out.ref.digest = std::string(rest.substr(at + 1));
        POETRYOPS_TRY_VOID(oci::validate_digest(out.ref.digest));
        rest = rest.substr(0, at);
    } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
        out.ref.tag = std::string(rest.substr(colon + 1));
        if (!oci::is_valid_tag(out.ref.tag)) {
            return fail(Error::Kind::invalid,
                        "invalid tag '" + out.ref.tag + "' in '" + std::string(text) + "'");
        }
        rest = rest.substr(0, colon);
    }
    if (rest.empty())
        return fail(Error::Kind::invalid, "'" + std::string(text) + "' names no directory");
    out.dir = fs::path(std::string(rest));
    out.ref.repository = out.dir.string();
    return out;
}

}  // namespace poetryops::registry

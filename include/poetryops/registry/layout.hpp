#pragma once
/// An OCI image-layout directory (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`) behind the
/// Registry interface: the embedded registry of local mode, and what `skopeo copy … oci:DIR:TAG`
/// and umoci read and write. Tags are the `org.opencontainers.image.ref.name` annotations of
/// index.json entries.

#include <poetryops/registry/registry.hpp>

#include <filesystem>
#include <mutex>
#include <string>

namespace poetryops::registry {

struct LayoutOptions {
    /// false: `root` is one image layout and the repository of a reference is ignored (`oci:DIR`).
    /// true: each repository is its own layout under `root/<repository>` (local mode holding
    /// several apps).
    bool repository_subdirs = false;
    /// Manifests larger than this are refused (distribution uses 4 MiB).
    std::size_t max_manifest_bytes = 4 * 1024 * 1024;
};

/// The annotation that names a tag in index.json.
inline constexpr std::string_view ref_name_annotation = "org.opencontainers.image.ref.name";

/// Thread safety: safe within one process (writes are serialised; each file is replaced atomically
/// so a concurrent reader sees the old or the new index, never half of one).
class LayoutRegistry final : public Registry {
public:
    explicit LayoutRegistry(std::filesystem::path root, LayoutOptions options = {});

    Result<Descriptor> resolve(const Reference& ref) override;
    Result<Manifest> get_manifest(const Reference& ref) override;
    Result<std::vector<std::string>> list_tags(const Reference& repo) override;
    Result<Descriptor> put_manifest(const Reference& repo, std::string_view tag,
                                    std::string_view bytes, std::string_view media_type) override;

    /// Stores a blob under blobs/<alg>/<hex> (no-op when present and intact); returns its digest.
    Result<std::string> put_blob(const Reference& repo, std::string_view bytes);
    /// Reads a blob and verifies it against its digest.
    Result<std::string> get_blob(const Reference& repo, std::string_view digest,
                                 std::size_t max_bytes = 64 * 1024 * 1024);
    /// The layout directory a repository maps to.
    std::filesystem::path layout_dir(const Reference& repo) const;

private:
    Result<void> ensure_layout(const std::filesystem::path& dir);
    std::filesystem::path root_;
    LayoutOptions options_;
    std::mutex write_mu_;
};

/// A parsed `oci:DIR[:TAG|@DIGEST]` argument (skopeo's transport syntax).
struct LayoutReference {
    std::filesystem::path dir;
    Reference ref;  ///< registry "oci", repository = DIR, tag/digest as given
};
/// True when text starts with "oci:".
bool is_layout_reference(std::string_view text);
/// Parses "oci:DIR", "oci:DIR:TAG" or "oci:DIR@sha256:…". Error::Kind::invalid for a bad tag or
/// digest.
Result<LayoutReference> parse_layout_reference(std::string_view text);

}  // namespace poetryops::registry

#pragma once
/// The `Registry` seam: resolve references to digests, read manifests (verified), list tags, retag.
/// Implemented by the distribution HTTP client (client.hpp) and by an OCI image-layout directory
/// (layout.hpp).

#include <poetryops/registry/reference.hpp>
#include <poetryops/util/result.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::registry {

/// Manifest media types (OCI image-spec and Docker distribution schema 2).
namespace media {
inline constexpr std::string_view oci_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view oci_index = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view docker_manifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view docker_manifest_list =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// The Accept header sent with every manifest request: all four types (a registry answers 404 for
/// an OCI manifest it is not allowed to send).
inline constexpr std::string_view manifest_accept =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";
}  // namespace media

/// True for the four manifest media types above.
bool is_manifest_media_type(std::string_view media_type);
/// True for an OCI index or a Docker manifest list.
bool is_index_media_type(std::string_view media_type);

/// os/architecture[/variant], e.g. linux/arm64/v8.
struct Platform {
    std::string os;
    std::string architecture;
    std::string variant;
    std::string str() const;
    bool operator==(const Platform&) const = default;
};
/// Parses "linux/amd64" or "linux/arm64/v8"; Error::Kind::invalid otherwise.
Result<Platform> parse_platform(std::string_view text);

/// What a reference points at.
struct Descriptor {
    std::string digest;                ///< "sha256:…"
    std::string media_type;            ///< one of media::*
    std::int64_t size = -1;            ///< bytes of the manifest; -1 when the registry did not say
    std::optional<Platform> platform;  ///< set for children of an index
};

/// Manifest bytes as stored, their media type, and their digest (verified against the bytes).
struct Manifest {
    std::string bytes;
    std::string media_type;
    std::string digest;
    Descriptor descriptor() const;
};

/// A registry (or a local image layout) behind one interface. Thread safety: implementations are
/// safe to call from several threads unless they say otherwise.
class Registry {
public:
    virtual ~Registry() = default;
    /// The digest, media type and size a reference points at. A digest reference is confirmed (not
    /// assumed). Indexes resolve to the index digest, not a child's.
    virtual Result<Descriptor> resolve(const Reference& ref) = 0;
    /// The manifest bytes, verified against the digest (the reference's digest when given, else the
    /// registry's Docker-Content-Digest); a mismatch is Error::Kind::invalid with reason
    /// DIGEST_MISMATCH.
    virtual Result<Manifest> get_manifest(const Reference& ref) = 0;
    /// All tags of `repo` (tag and digest of `repo` are ignored), in the registry's order.
    virtual Result<std::vector<std::string>> list_tags(const Reference& repo) = 0;
    /// Stores exactly `bytes` under `tag` in `repo` with `media_type`; returns the descriptor
    /// (digest of the bytes).
    virtual Result<Descriptor> put_manifest(const Reference& repo, std::string_view tag,
                                            std::string_view bytes,
                                            std::string_view media_type) = 0;
};

/// Retag: reads the manifest `src` points at and PUTs the exact bytes under `new_tag` in the same
/// repository. Returns the descriptor, whose digest equals the source digest.
Result<Descriptor> retag(Registry& registry, const Reference& src, std::string_view new_tag);

/// Lists the children of an index / manifest list (Error::Kind::invalid for a non-index or
/// malformed JSON).
Result<std::vector<Descriptor>> index_children(const Manifest& index);

/// Picks the child of an index matching `platform` (an empty variant matches any variant; among
/// several, the first). Error::Kind::not_found names the platforms that are there.
Result<Descriptor> select_platform(const Manifest& index, const Platform& platform);

}  // namespace poetryops::registry

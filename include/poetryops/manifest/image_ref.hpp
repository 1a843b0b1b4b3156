#pragma once
/// Container image references: `[domain/]path[:tag][@digest]`, parsed and validated the way the
/// Docker/OCI reference grammar does (lower-case repository, `sha256:` + 64 hex digest), with
/// docker.io defaults for matching.

#include <poetryops/util/result.hpp>

#include <string>
#include <string_view>

namespace poetryops::manifest {

/// One parsed image reference. Fields hold the text as written (no normalisation); use
/// normalized_name() to compare.
struct ImageRef {
    /// registry host[:port] when written ("localhost:5000", "ghcr.io"), else empty
    std::string domain;
    std::string path;    ///< repository path ("acme/billing", "nginx")
    std::string tag;     ///< tag without ':' or empty
    std::string digest;  ///< "sha256:<64 hex>" or empty

    /// domain/path as written ("localhost:5000/app", "nginx").
    std::string name() const;
    /// The canonical name used for matching: docker.io defaults and `library/` for single-component
    /// Docker Hub names ("nginx" → "docker.io/library/nginx"; "index.docker.io/x" →
    /// "docker.io/library/x").
    std::string normalized_name() const;
    /// The reference as text: name()[:tag][@digest].
    std::string str() const;

    bool operator==(const ImageRef&) const = default;
};

/// Parses and validates a reference. Errors (kind invalid) name the reference and what is wrong
/// with it.
Result<ImageRef> parse_image_ref(std::string_view text);

/// Validates a bare image name (no tag, no digest) and returns it parsed.
Result<ImageRef> parse_image_name(std::string_view text);

/// Canonical form of an image name for matching; returns the input unchanged when it is not a valid
/// name.
std::string normalize_image_name(std::string_view name);

/// True when both names denote the same repository after normalisation ("nginx" ==
/// "docker.io/library/nginx").
bool same_image_name(std::string_view a, std::string_view b);

}  // namespace poetryops::manifest

#pragma once
/// Image references (`[registry/]repository[:tag][@digest]`) and digests, parsed by the grammar of
/// distribution/reference, with Docker Hub's normalisation (`nginx` -> `docker.io/library/nginx`).

#include <poetryops/util/result.hpp>

#include <string>
#include <string_view>

namespace poetryops::registry {

/// A parsed image reference. `tag` and `digest` may both be empty (a bare repository) or both set.
struct Reference {
    std::string registry;  ///< "docker.io", "ghcr.io", "127.0.0.1:5000"; never empty after parsing
    std::string repository;  ///< "library/nginx", "acme/billing"
    std::string tag;         ///< "1.4.2"; empty when absent
    std::string digest;      ///< "sha256:<64 hex>"; empty when absent

    /// "registry/repository[:tag][@digest]".
    std::string str() const;
    /// "registry/repository".
    std::string name() const;
    /// What to put in a manifest URL: the digest when present, else the tag, else "latest".
    std::string identifier() const;
    /// The host to connect to: Docker Hub's API host for "docker.io", else `registry`.
    std::string api_host() const;
    bool operator==(const Reference&) const = default;
};

/// Parses a reference. Errors (Error::Kind::invalid) name the offending part: upper case in the
/// repository, a bad tag, a malformed or unsupported digest, a name longer than 255 characters.
Result<Reference> parse_reference(std::string_view text);

/// Parses a repository name without tag or digest ("127.0.0.1:5000/demo/app").
Result<Reference> parse_repository(std::string_view text);

/// Canonical registry host for credentials and configuration: "docker.io" for Docker Hub's aliases
/// ("index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/"), scheme and path
/// stripped, lower case.
std::string normalize_registry_host(std::string_view host);

/// The digest of bytes with the given algorithm ("sha256" or "sha512"), e.g. "sha256:e3b0…".
std::string compute_digest(std::string_view bytes, std::string_view algorithm = "sha256");

/// Verifies that bytes hash to `digest`; Error::Kind::invalid (reason "DIGEST_MISMATCH") naming
/// `what` and both digests when they differ.
Result<void> verify_digest(std::string_view bytes, std::string_view digest, std::string_view what);

}  // namespace poetryops::registry

#pragma once
// docker-registry (distribution 2.8) for tests and benchmarks: started on 127.0.0.1 with a free
// port in a TempDir, in any of its configurations (plain, htpasswd, TLS, notifications, token
// auth), stopped by PID on destruction. Also builds and pushes small images with umoci + skopeo
// (OCI, Docker schema 2, a two-platform index).

#include "support/support.hpp"

#include <poetryops/registry/layout.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace poetryops::test {

struct TestRegistryOptions {
    bool tls = false;  ///< serve HTTPS with a certificate from `ca` (required then)
    TestCa* ca = nullptr;
    std::string user{}, password{};  ///< htpasswd auth when user is set
    std::string notify_url{};        ///< notifications endpoint (push webhooks) when set
    std::string notify_token{};      ///< sent as "Authorization: Bearer <token>"
    struct Token {
        std::string realm, service, issuer;
        std::filesystem::path rootcertbundle;
        std::string push_credentials;  ///< "user:password" skopeo uses to push (the issuer grants
                                       ///< anonymous pull only)
    };
    std::optional<Token> token{};  ///< token auth when set
};

class TestRegistry {
public:
    /// Starts the registry and waits until it accepts connections. Returns nullptr after
    /// ADD_FAILURE on error.
    static std::unique_ptr<TestRegistry> start(TestRegistryOptions options);
    ~TestRegistry();

    int port() const { return port_; }
    /// "127.0.0.1:PORT": the registry part of references.
    std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
    const std::filesystem::path& dir() const { return dir_.path(); }
    /// The registry's own log (for failure messages).
    std::string log() const;

    enum class Format { oci, docker_v2s2 };
    /// Builds a one-layer image whose only file holds `content` and pushes it to host()/repo:tag.
    /// Returns the manifest digest skopeo reports (empty after ADD_FAILURE).
    std::string push_image(const std::string& repo, const std::string& tag,
                           const std::string& content, Format format = Format::oci);
    /// Pushes an OCI index of two platforms (linux/amd64, linux/arm64) to host()/repo:tag. Returns
    /// the index digest.
    std::string push_index(const std::string& repo, const std::string& tag);
    /// skopeo's flags for the destination (TLS verification/certs, credentials).
    std::vector<std::string> skopeo_dest_flags(const std::string& creds = {}) const;
    /// A directory with only the CA certificate (for skopeo --dest-cert-dir / --cert-dir).
    std::filesystem::path cert_dir() const { return dir_.path() / "certs"; }

private:
    TestRegistry() = default;
    std::string build_layout(const std::string& name, const std::string& content,
                             const std::string& arch = "amd64");
    std::string copy_to_registry(const std::string& src, const std::string& repo,
                                 const std::string& tag, std::vector<std::string> extra);
    TestRegistryOptions options_;
    TempDir dir_{"poetryops-registry"};
    ChildProcess process_;
    int port_ = 0;
};

/// An image pushed into an OCI image layout (local mode's registry) as `repository`:`tag`, its
/// manifest unique to `seed`; returns its digest ("" after ADD_FAILURE).
std::string push_layout_image(registry::LayoutRegistry& layout, const std::string& repository,
                              const std::string& tag, const std::string& seed);

}  // namespace poetryops::test

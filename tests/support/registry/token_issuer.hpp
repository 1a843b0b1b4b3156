#pragma once
// A small token service for docker-registry's `auth: token:` mode, on the project's http::Server:
// answers GET /token?service=S&scope=repository:R:A,B with a JWT (RS256, x5c header) signed by a
// certificate the registry trusts through `rootcertbundle`.

#include <poetryops/http/server.hpp>

#include <atomic>
#include <filesystem>
#include <map>
#include <string>

namespace poetryops::test {

struct TokenIssuerOptions {
    std::string issuer = "poetryops-test-issuer";
    std::string service = "poetryops-test-registry";
    std::filesystem::path key_file;            // RSA private key (PEM)
    std::filesystem::path cert_file;           // its certificate (PEM), sent in x5c
    std::map<std::string, std::string> users;  // user -> password; anonymous gets pull only
    int expires_in = 300;
};

class TokenIssuer {
public:
    /// Starts on 127.0.0.1 with a free port; returns false (and adds a test failure) when it
    /// cannot.
    bool start(TokenIssuerOptions options);
    void stop() { server_.stop(); }
    std::string realm() const { return server_.base_url() + "/token"; }
    /// Tokens handed out and requests refused so far.
    int issued() const { return issued_.load(); }
    int refused() const { return refused_.load(); }

private:
    http::Response handle(const http::Request& request);
    TokenIssuerOptions options_;
    std::string cert_der_b64_;
    http::Server server_;
    std::atomic<int> issued_{0}, refused_{0};
};

/// Base64url without padding (JWT encoding).
std::string base64url(std::string_view bytes);
/// RS256 signature of `data` with the PEM private key in `key_file`, base64url; empty on failure.
std::string rs256_sign(const std::filesystem::path& key_file, std::string_view data);

}  // namespace poetryops::test

#pragma once
// Private: TLS contexts and peer verification for the client and the server.

#include "http/detail/asio.hpp"

#include <poetryops/http/client.hpp>
#include <poetryops/http/server.hpp>

#include <memory>
#include <string>

namespace poetryops::http::detail {

/// Client context: TLS 1.2+, trust from ca_pem/ca_file (only those) or OpenSSL default verify
/// paths, optional client certificate. Errors name the file that failed to load (never PEM
/// contents).
Result<std::shared_ptr<ssl::context>> make_client_context(const TlsOptions& options);

/// Server context: certificate chain + key, optional client-CA for mutual TLS. Nullptr result is
/// never returned.
Result<std::shared_ptr<ssl::context>> make_server_context(const ServerOptions& options);

/// Verifies the chain (OpenSSL's pre-verification) and, at the leaf, the host name or IP address
/// (DNS/IP SAN), using asio's host_name_verification. Records why verification failed in `*failure`
/// for the error message.
class PeerVerifier {
public:
    PeerVerifier(std::string host, std::shared_ptr<std::string> failure)
        : host_(std::move(host)), failure_(std::move(failure)) {}
    bool operator()(bool preverified, ssl::verify_context& ctx) const;

private:
    std::string host_;
    std::shared_ptr<std::string> failure_;
};

/// Configures a fresh client TLS stream for `host`: SNI unless an IP literal, peer verification
/// with PeerVerifier unless `insecure`. Returns false (with *failure set) when OpenSSL refuses the
/// settings.
bool prepare_client_stream(TlsStream& stream, const std::string& host, bool is_ip_literal,
                           bool insecure, const std::shared_ptr<std::string>& failure);

}  // namespace poetryops::http::detail

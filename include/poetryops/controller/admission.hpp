#pragma once
/// The PoetryApproval admission webhook served by `poetryops controller` over HTTPS
/// (`--admission-bind-address` with `--admission-tls-cert-file`/`--admission-tls-key-file`): the
/// API server calls `POST /admission/poetryapprovals` with an AdmissionReview on every CREATE of a
/// PoetryApproval (the chart's MutatingWebhookConfiguration, `admission.enabled`), and
/// api::review_approval_admission decides: stamp spec.approver/spec.groups from userInfo, or
/// refuse a forged identity. Every replica serves it, leader or not (the API server may call any).
///
/// `GET /healthz` answers 200. Bodies over api::kAdmissionMaxBodyBytes are answered 413 unread; a
/// body that is not an AdmissionReview 400. Each decision is logged (uid, user, allowed).
/// Thread safety: start()/stop() from the owning thread.

#include <poetryops/http/message.hpp>
#include <poetryops/http/server.hpp>
#include <poetryops/util/result.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace poetryops::controller {

struct AdmissionOptions {
    std::string address;  ///< "host:port" or ":port" (all interfaces)
    /// The serving certificate and key (PEM files); the API server verifies them against the
    /// caBundle of the MutatingWebhookConfiguration (or the cert-manager CA it injects).
    std::string tls_cert_file;
    std::string tls_key_file;
    /// PEM text instead of files (tests).
    std::string tls_cert_pem;
    std::string tls_key_pem;
};

/// The handler alone: POST /admission/poetryapprovals (and GET /healthz).
http::Response handle_admission(const http::Request& request);

class AdmissionServer {
public:
    /// Binds and serves. Errors name the flag (--admission-bind-address, the TLS files).
    static Result<std::unique_ptr<AdmissionServer>> start(const AdmissionOptions& options);
    ~AdmissionServer() { stop(); }
    AdmissionServer(const AdmissionServer&) = delete;
    AdmissionServer& operator=(const AdmissionServer&) = delete;
    std::uint16_t port() const { return server_.port(); }
    void stop() { server_.stop(); }

private:
    AdmissionServer() = default;
    http::Server server_;
};

}  // namespace poetryops::controller

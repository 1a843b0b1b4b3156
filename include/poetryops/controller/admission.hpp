#pragma once
/// The PoetryApproval admission webhook served by `poetryops controller` over HTTPS
/// (`--admission-bind-address` with `--admission-tls-cert-file`/`--admission-tls-key-file`): the
/// API server calls `POST /admission/poetryapprovals` with an AdmissionReview on every CREATE of a
/// PoetryApproval (the chart's MutatingWebhookConfiguration, `admission.enabled`), and
/// api::review_approval_admission decides: stamp spec.approver/spec.groups from userInfo, or
/// refuse a forged identity. Every replica serves it, leader or not (the API server may call any).
///
/// The certificate files are read again every `reload_interval`: a renewed certificate
/// (cert-manager rewriting the mounted Secret) is served to new connections without a restart. `GET
/// /healthz` answers 200. Bodies over api::kAdmissionMaxBodyBytes are answered 413 unread; a body
/// that is not an AdmissionReview 400. Each decision is logged (uid, user, allowed). Thread safety:
/// start()/stop() from the owning thread.

#include <poetryops/http/message.hpp>
#include <poetryops/http/server.hpp>
#include <poetryops/util/result.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

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
    /// How often the certificate files are checked for a renewal.
    std::chrono::milliseconds reload_interval{std::chrono::minutes(1)};
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
    /// Stops serving and the certificate watch. Idempotent.
    void stop();
    /// Certificate reloads so far (tests).
    int reloads() const { return reloads_.load(); }

private:
    AdmissionServer() = default;
    void watch_certificate();
    /// sha256 of the certificate and key files; "" when one cannot be read.
    std::string fingerprint() const;

    AdmissionOptions options_;
    http::Server server_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::atomic<int> reloads_{0};
    std::thread watcher_;
};

}  // namespace poetryops::controller

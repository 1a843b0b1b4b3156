#include "http/detail/tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <boost/asio/ssl/host_name_verification.hpp>

namespace poetryops::http::detail {
namespace {

Error tls_error(const std::string& what, const error_code& ec) {
    return Error::make(Error::Kind::invalid, "TLS: " + what + ": " + describe(ec), "TLSConfig");
}

Result<void> load_ca(ssl::context& ctx, const std::string& pem, const std::string& file,
                     const char* what) {
    error_code ec;
    if (!pem.empty()) {
        ctx.add_certificate_authority(asio::buffer(pem), ec);
        if (ec) return fail(tls_error(std::string("cannot load ") + what + " from PEM data", ec));
    } else {
        ctx.load_verify_file(file, ec);
        if (ec) return fail(tls_error(std::string("cannot load ") + what + " file " + file, ec));
    }
    return ok();
}

Result<void> load_cert_and_key(ssl::context& ctx, const std::string& cert_pem,
                               const std::string& cert_file, const std::string& key_pem,
                               const std::string& key_file, const char* what) {
    error_code ec;
    if (!cert_pem.empty()) {
        ctx.use_certificate_chain(asio::buffer(cert_pem), ec);
        if (ec)
            return fail(
                tls_error(std::string("cannot load ") + what + " certificate from PEM data", ec));
    } else {
        ctx.use_certificate_chain_file(cert_file, ec);
        if (ec)
            return fail(tls_error(
                std::string("cannot load ") + what + " certificate file " + cert_file, ec));
    }
    if (key_pem.empty() && key_file.empty()) {
        return fail(Error::Kind::invalid,
                    std::string("TLS: a ") + what + " certificate needs a private key",
                    "TLSConfig");
    }
    if (!key_pem.empty()) {
        ctx.use_private_key(asio::buffer(key_pem), ssl::context::pem, ec);
        if (ec)
            return fail(
                tls_error(std::string("cannot load ") + what + " private key from PEM data", ec));
    } else {
        ctx.use_private_key_file(key_file, ssl::context::pem, ec);
        if (ec)
            return fail(tls_error(
                std::string("cannot load ") + what + " private key file " + key_file, ec));
    }
    if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
        ERR_clear_error();
        return fail(Error::Kind::invalid,
                    std::string("TLS: the ") + what + " private key does not match its certificate",
                    "TLSConfig");
    }
    return ok();
}

}  // namespace

Result<std::shared_ptr<ssl::context>> make_client_context(const TlsOptions& options) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_compression);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    if (!options.ca_pem.empty() || !options.ca_file.empty()) {
        POETRYOPS_TRY_VOID(load_ca(*ctx, options.ca_pem, options.ca_file, "CA"));
    } else {
        // OpenSSL's defaults: SSL_CERT_FILE / SSL_CERT_DIR when set in the environment, else the
        // system store.
        error_code ec;
        ctx->set_default_verify_paths(ec);
        if (ec) return fail(tls_error("cannot load the system trust store", ec));
    }
    if (!options.cert_pem.empty() || !options.cert_file.empty()) {
        POETRYOPS_TRY_VOID(load_cert_and_key(*ctx, options.cert_pem, options.cert_file,
                                             options.key_pem, options.key_file, "client"));
    } else if (!options.key_pem.empty() || !options.key_file.empty()) {
        return fail(Error::Kind::invalid,
                    "TLS: a client key was given without a client certificate", "TLSConfig");
    }
    ctx->set_verify_mode(options.insecure_skip_verify ? ssl::verify_none : ssl::verify_peer);
    return ctx;
}

Result<std::shared_ptr<ssl::context>> make_server_context(const ServerOptions& options) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_compression |
                     ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    POETRYOPS_TRY_VOID(load_cert_and_key(*ctx, options.tls_cert_pem, options.tls_cert_file,
                                         options.tls_key_pem, options.tls_key_file, "server"));
    if (!options.client_ca_pem.empty() || !options.client_ca_file.empty()) {
        POETRYOPS_TRY_VOID(
            load_ca(*ctx, options.client_ca_pem, options.client_ca_file, "client CA"));
        ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    } else {
        ctx->set_verify_mode(ssl::verify_none);
    }
    return ctx;
}

bool PeerVerifier::operator()(bool preverified, ssl::verify_context& ctx) const {
    X509_STORE_CTX* store = ctx.native_handle();
    if (!preverified) {
        int err = X509_STORE_CTX_get_error(store);
        if (failure_ && failure_->empty()) {
            *failure_ =
                std::string("certificate verify failed: ") + X509_verify_cert_error_string(err);
        }
        return false;
    }
    if (X509_STORE_CTX_get_error_depth(store) > 0) return true;
    bool matches = ssl::host_name_verification(host_)(preverified, ctx);
    if (!matches && failure_ && failure_->empty()) {
        *failure_ = "certificate verify failed: the server certificate is not valid for " + host_;
    }
    return matches;
}

bool prepare_client_stream(TlsStream& stream, const std::string& host, bool is_ip_literal,
                           bool insecure, const std::shared_ptr<std::string>& failure) {
    if (!is_ip_literal && SSL_set_tlsext_host_name(stream.native_handle(), host.c_str()) != 1) {
        ERR_clear_error();
        *failure = "cannot set TLS server name " + host;
        return false;
    }
    if (insecure) {
        stream.set_verify_mode(ssl::verify_none);
    } else {
        stream.set_verify_mode(ssl::verify_peer);
        stream.set_verify_callback(PeerVerifier(host, failure));
    }
    return true;
}

std::string format_duration(std::chrono::milliseconds d) {
    if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
    return std::to_string(d.count()) + " ms";
}

std::string describe(const error_code& ec) {
    if (ec.category() == asio::error::get_ssl_category()) {
        std::string msg = ec.message();
        char buf[256];
        ERR_error_string_n(static_cast<unsigned long>(ec.value()), buf, sizeof buf);
        const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
        if (reason != nullptr) return reason;
        return msg.empty() ? std::string(buf) : msg;
    }
    if (ec == asio::ssl::error::stream_truncated)
        return "TLS stream truncated (peer closed without close_notify)";
    return ec.message();
}

}  // namespace poetryops::http::detail

#include "support/registry/token_issuer.hpp"

#include <poetryops/http/url.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/strings.hpp>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <memory>

namespace poetryops::test {

std::string base64url(std::string_view bytes) {
    auto s = str::base64_encode(bytes);
    for (auto& c : s) {
        if (c == '+') c = '-';
        if (c == '/') c = '_';
    }
    while (!s.empty() && s.back() == '=') s.pop_back();
    return s;
}

std::string rs256_sign(const std::filesystem::path& key_file, std::string_view data) {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(key_file.c_str(), "r"), &std::fclose);
    if (!f) return {};
    std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key(
        PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
    if (!key) return {};
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    std::size_t len = 0;
    if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len,
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
        return {};
    }
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
        return {};
    }
    sig.resize(len);
    return base64url(sig);
}

namespace {

std::string cert_der_base64(const std::filesystem::path& cert_file) {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(cert_file.c_str(), "r"), &std::fclose);
    if (!f) return {};
    std::unique_ptr<X509, void (*)(X509*)> cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr),
                                                &X509_free);
    if (!cert) return {};
    unsigned char* der = nullptr;
    int len = i2d_X509(cert.get(), &der);
    if (len <= 0) return {};
    std::string out = str::base64_encode(std::string_view(reinterpret_cast<const char*>(der), len));
    OPENSSL_free(der);
    return out;
}

}  // namespace

bool TokenIssuer::start(TokenIssuerOptions options) {
    options_ = std::move(options);
    cert_der_b64_ = cert_der_base64(options_.cert_file);
    if (cert_der_b64_.empty()) {
        ADD_FAILURE() << "token issuer: cannot read certificate " << options_.cert_file;
        return false;
    }
    auto port = server_.start({.port = 0}, [this](const http::Request& r) { return handle(r); });
    if (!port) {
        ADD_FAILURE() << "token issuer: " << port.error().message;
        return false;
    }
    return true;
}

http::Response TokenIssuer::handle(const http::Request& request) {
    auto [path, query] = http::split_target(request.url);
    if (path != "/token") return http::Response::make(404, "not found");
    std::string service, scope;
    for (const auto& [k, v] : http::parse_query(query)) {
        if (k == "service") service = v;
        if (k == "scope") scope = scope.empty() ? v : scope + " " + v;
    }
    bool authenticated = false;
    std::string subject;
    if (auto auth = request.headers.get("Authorization"); auth && auth->rfind("Basic ", 0) == 0) {
        std::string decoded;
        if (str::base64_decode(auth->substr(6), decoded)) {
            auto colon = decoded.find(':');
            auto user = decoded.substr(0, colon);
            auto it = options_.users.find(user);
            if (colon == std::string::npos || it == options_.users.end() ||
                it->second != decoded.substr(colon + 1)) {
                ++refused_;
                return http::Response::make(
                    401, R"({"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]})",
                    "application/json");
            }
            authenticated = true;
            subject = user;
        }
    }
    if (service != options_.service) {
        ++refused_;
        return http::Response::make(400, "unknown service");
    }
    nlohmann::json access = nlohmann::json::array();
    for (const auto& s : str::split_nonempty(scope, ' ')) {
        // repository:NAME:ACTIONS (NAME may not contain ':' here)
        auto first = s.find(':');
        auto last = s.rfind(':');
        if (first == std::string::npos || first == last) continue;
        nlohmann::json actions = nlohmann::json::array();
        for (const auto& a : str::split_nonempty(s.substr(last + 1), ',')) {
            if (a == "pull" || authenticated) actions.push_back(a);
        }
        access.push_back({{"type", s.substr(0, first)},
                          {"name", s.substr(first + 1, last - first - 1)},
                          {"actions", actions}});
    }
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    static std::atomic<int> serial{0};
    nlohmann::json header = {{"typ", "JWT"}, {"alg", "RS256"}, {"x5c", {cert_der_b64_}}};
    nlohmann::json claims = {
        {"iss", options_.issuer},           {"sub", subject},  {"aud", options_.service},
        {"exp", now + options_.expires_in}, {"nbf", now - 10}, {"iat", now},
        {"jti", std::to_string(++serial)},  {"access", access}};
    auto signing_input = base64url(header.dump()) + "." + base64url(claims.dump());
    auto sig = rs256_sign(options_.key_file, signing_input);
    if (sig.empty()) return http::Response::make(500, "signing failed");
    ++issued_;
    nlohmann::json body = {{"token", signing_input + "." + sig},
                           {"expires_in", options_.expires_in}};
    return http::Response::make(200, body.dump(), "application/json");
}

}  // namespace poetryops::test

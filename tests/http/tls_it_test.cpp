// Client and Server over TLS with a test CA: verification of chain and host name, SNI, client
// certificates.
#include <poetryops/http/client.hpp>

#include <poetryops/http/server.hpp>
#include <poetryops/util/fs.hpp>

#include "support/http/stall_server.hpp"
#include "support/support.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

namespace poetryops::http {
namespace {

using namespace std::chrono_literals;

Response hello(const Request& r) {
    return Response::make(200, "hello " + r.headers.get_or("host"));
}

class Tls : public ::testing::Test {
protected:
    void SetUp() override {
        auto [crt, key] = ca_.issue("server", {"DNS:localhost", "IP:127.0.0.1"});
        cert_ = crt;
        key_ = key;
    }
    ServerOptions server_options() const {
        ServerOptions o;
        o.tls_cert_file = cert_.string();
        o.tls_key_file = key_.string();
        return o;
    }
    ClientOptions trusting() const {
        ClientOptions o;
        o.tls.ca_file = ca_.ca_cert().string();
        return o;
    }
    static std::unique_ptr<Client> client(ClientOptions o) {
        auto c = Client::create(std::move(o));
        EXPECT_TRUE(c) << c.error().message;
        return std::move(c).value();
    }

    test::TestCa ca_;
    std::filesystem::path cert_, key_;
};

TEST_F(Tls, TrustedCaByIpAndByHostName) {
    Server server;
    auto port = server.start(server_options(), hello);
    ASSERT_TRUE(port) << port.error().message;
    EXPECT_EQ(server.base_url().rfind("https://127.0.0.1:", 0), 0u);
    auto c = client(trusting());
    auto by_ip = c->request({.url = server.base_url() + "/"});
    ASSERT_TRUE(by_ip) << by_ip.error().message;
    EXPECT_EQ(by_ip->body, "hello 127.0.0.1:" + std::to_string(*port));
    auto by_name = c->request({.url = "https://localhost:" + std::to_string(*port) + "/"});
    ASSERT_TRUE(by_name) << by_name.error().message;
    EXPECT_EQ(by_name->body, "hello localhost:" + std::to_string(*port));
    // Keep-alive works over TLS too: one connection per origin.
    ASSERT_TRUE(c->request({.url = server.base_url() + "/again"}));
    EXPECT_EQ(c->connections_opened(), 2u);
}

TEST_F(Tls, CaFromPemData) {
    Server server;
    ASSERT_TRUE(server.start(server_options(), hello));
    ClientOptions o;
    o.tls.ca_pem = read_file(ca_.ca_cert()).value();
    auto r = client(o)->request({.url = server.base_url() + "/"});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
}

/// A renewed certificate (cert-manager rewrites the mounted Secret's files): reload_tls() serves
/// new connections with it; a file that does not load leaves the old one in service.
TEST_F(Tls, ReloadServesTheRenewedCertificateToNewConnections) {
    const auto dir = ca_.dir() / "served";
    std::filesystem::create_directories(dir);
    std::filesystem::copy_file(cert_, dir / "tls.crt");
    std::filesystem::copy_file(key_, dir / "tls.key");
    ServerOptions o;
    o.tls_cert_file = (dir / "tls.crt").string();
    o.tls_key_file = (dir / "tls.key").string();
    Server server;
    ASSERT_TRUE(server.start(o, hello));
    ASSERT_TRUE(client(trusting())->request({.url = server.base_url() + "/"}));

    test::TestCa renewed_ca;
    auto [crt, key] = renewed_ca.issue("renewed", {"IP:127.0.0.1"});
    std::filesystem::copy_file(crt, dir / "tls.crt",
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(key, dir / "tls.key",
                               std::filesystem::copy_options::overwrite_existing);
    auto reloaded = server.reload_tls();
    ASSERT_TRUE(reloaded) << reloaded.error().message;
    ClientOptions trusts_renewed;
    trusts_renewed.tls.ca_file = renewed_ca.ca_cert().string();
    auto r = client(trusts_renewed)->request({.url = server.base_url() + "/"});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
    EXPECT_FALSE(client(trusting())->request({.url = server.base_url() + "/"}))
        << "the old certificate is no longer served";

    ASSERT_TRUE(write_file_atomic(dir / "tls.crt", "not a certificate"));
    EXPECT_FALSE(server.reload_tls());
    EXPECT_TRUE(client(trusts_renewed)->request({.url = server.base_url() + "/"}))
        << "a bad file leaves the loaded certificate in service";
}

TEST_F(Tls, WrongHostCertificateIsRefused) {
    auto [crt, key] = ca_.issue("wrong", {"DNS:wrong.example.com", "IP:10.9.9.9"});
    ServerOptions o;
    o.tls_cert_file = crt.string();
    o.tls_key_file = key.string();
    Server server;
    auto port = server.start(o, hello);
    ASSERT_TRUE(port);
    auto c = client(trusting());
    for (std::string host : {"127.0.0.1", "localhost"}) {
        auto r = c->request({.url = "https://" + host + ":" + std::to_string(*port) + "/"});
        ASSERT_FALSE(r) << host;
        EXPECT_EQ(r.error().kind, Error::Kind::transport);
        EXPECT_NE(r.error().message.find("not valid for " + host), std::string::npos)
            << r.error().message;
    }
    EXPECT_EQ(server.requests_handled(), 0u);
}

TEST_F(Tls, ServerNameOverrideVerifiesThatName) {
    auto [crt, key] = ca_.issue("named", {"DNS:api.cluster.internal"});
    ServerOptions o;
    o.tls_cert_file = crt.string();
    o.tls_key_file = key.string();
    Server server;
    ASSERT_TRUE(server.start(o, hello));
    ClientOptions co = trusting();
    co.tls.server_name = "api.cluster.internal";  // kubeconfig tls-server-name
    auto r = client(co)->request({.url = server.base_url() + "/"});
    ASSERT_TRUE(r) << r.error().message;
}

TEST_F(Tls, UntrustedCaIsRefused) {
    test::TestCa other;
    Server server;
    ASSERT_TRUE(server.start(server_options(), hello));
    ClientOptions o;
    o.tls.ca_file = other.ca_cert().string();
    auto r = client(o)->request({.url = server.base_url() + "/"});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::transport);
    EXPECT_NE(r.error().message.find("certificate verify failed"), std::string::npos)
        << r.error().message;
    EXPECT_EQ(server.requests_handled(), 0u);
}

TEST_F(Tls, DefaultTrustStoreHonoursSslCertFile) {
    Server server;
    ASSERT_TRUE(server.start(server_options(), hello));
    const char* old = std::getenv("SSL_CERT_FILE");
    std::string saved = old != nullptr ? old : "";
    // System store (whatever SSL_CERT_FILE names on this machine) does not contain the test CA.
    ::setenv("SSL_CERT_FILE", "/nonexistent/ca.pem", 1);
    auto refused = client({})->request({.url = server.base_url() + "/"});
    EXPECT_FALSE(refused);
    ::setenv("SSL_CERT_FILE", ca_.ca_cert().c_str(), 1);
    auto trusted = client({})->request({.url = server.base_url() + "/"});
    if (old != nullptr) {
        ::setenv("SSL_CERT_FILE", saved.c_str(), 1);
    } else {
        ::unsetenv("SSL_CERT_FILE");
    }
    ASSERT_TRUE(trusted) << trusted.error().message;
}

TEST_F(Tls, InsecureSkipVerifyAcceptsUntrusted) {
    auto [crt, key] = ca_.issue("wrong2", {"DNS:wrong.example.com"});
    ServerOptions o;
    o.tls_cert_file = crt.string();
    o.tls_key_file = key.string();
    Server server;
    ASSERT_TRUE(server.start(o, hello));
    ClientOptions co;
    co.tls.insecure_skip_verify = true;
    auto r = client(co)->request({.url = server.base_url() + "/"});
    ASSERT_TRUE(r) << r.error().message;
}

TEST_F(Tls, PlainClientToTlsServerFailsCleanly) {
    Server server;
    auto port = server.start(server_options(), hello);
    ASSERT_TRUE(port);
    ClientOptions o;
    o.read_timeout = 2s;
    auto r = client(o)->request({.url = "http://127.0.0.1:" + std::to_string(*port) + "/"});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().kind, Error::Kind::internal);
}

TEST_F(Tls, StalledHandshakeTimesOut) {
    test::StallServer stall;
    ClientOptions o = trusting();
    o.handshake_timeout = 300ms;
    auto start = std::chrono::steady_clock::now();
    auto r = client(o)->request({.url = "https://127.0.0.1:" + std::to_string(stall.port()) + "/"});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::timeout);
    EXPECT_NE(
        r.error().message.find("TLS handshake with 127.0.0.1:" + std::to_string(stall.port())),
        std::string::npos)
        << r.error().message;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST_F(Tls, ClientCertificateAuth) {
    ServerOptions so = server_options();
    so.client_ca_file = ca_.ca_cert().string();
    Server server;
    ASSERT_TRUE(server.start(so, hello));
    auto without = client(trusting())->request({.url = server.base_url() + "/"});
    ASSERT_FALSE(without);
    EXPECT_EQ(server.requests_handled(), 0u);

    auto [ccrt, ckey] = ca_.issue("client", {"DNS:poetryops-controller"});
    ClientOptions with = trusting();
    with.tls.cert_file = ccrt.string();
    with.tls.key_pem = read_file(ckey).value();
    auto r = client(with)->request({.url = server.base_url() + "/"});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);

    test::TestCa stranger;
    auto [scrt, skey] = stranger.issue("stranger", {"DNS:x"});
    ClientOptions bad = trusting();
    bad.tls.cert_file = scrt.string();
    bad.tls.key_file = skey.string();
    EXPECT_FALSE(client(bad)->request({.url = server.base_url() + "/"}));
}

TEST_F(Tls, BadTlsMaterialIsReportedByName) {
    ClientOptions o;
    o.tls.ca_file = "/nonexistent/ca.crt";
    auto c = Client::create(o);
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message.find("/nonexistent/ca.crt"), std::string::npos)
        << c.error().message;
    ClientOptions k;
    k.tls.cert_file = cert_.string();
    auto nokey = Client::create(k);
    ASSERT_FALSE(nokey);
    EXPECT_NE(nokey.error().message.find("private key"), std::string::npos);
    ServerOptions so;
    so.tls_cert_file = cert_.string();
    so.tls_key_file = (ca_.dir() / "ca.key").string();  // a key that does not match
    Server server;
    auto s = server.start(so, hello);
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message.find("ca.key"), std::string::npos) << s.error().message;
    EXPECT_EQ(s.error().message.find("PRIVATE KEY"), std::string::npos) << s.error().message;
}

}  // namespace
}  // namespace poetryops::http

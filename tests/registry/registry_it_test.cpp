// Against a real docker-registry (distribution 2.8): plain, htpasswd + TLS, notifications, token
// auth.
#include <poetryops/registry/client.hpp>

#include "support/registry/test_registry.hpp"
#include "support/registry/token_issuer.hpp"

#include <poetryops/http/client.hpp>
#include <poetryops/http/server.hpp>
#include <poetryops/registry/layout.hpp>
#include <poetryops/registry/webhook_http.hpp>
#include <poetryops/util/strings.hpp>

#include <gtest/gtest.h>

#include <mutex>

namespace poetryops::registry {
namespace {

using test::TestRegistry;

std::unique_ptr<RegistryClient> client_for(const TestRegistry& reg,
                                           RegistryHostConfig host = {.plain_http = true}) {
    RegistryClientOptions o;
    o.hosts[reg.host()] = host;
    o.timeout = std::chrono::seconds(10);
    return RegistryClient::create(std::move(o)).value();
}

Reference ref(const TestRegistry& reg, const std::string& rest) {
    auto r = parse_reference(reg.host() + "/" + rest);
    EXPECT_TRUE(r) << rest;
    return r.value_or(Reference{});
}

TEST(RegistryIt, PlainResolveTagsRetagAndIndexes) {
    auto reg = TestRegistry::start({});
    ASSERT_TRUE(reg);
    auto oci = reg->push_image("demo/app", "1.0.0", "one");
    auto docker = reg->push_image("demo/app", "1.1.0", "two", TestRegistry::Format::docker_v2s2);
    auto index = reg->push_index("demo/app", "multi");
    ASSERT_FALSE(oci.empty());
    ASSERT_FALSE(docker.empty());
    ASSERT_FALSE(index.empty());
    auto c = client_for(*reg);

    auto d1 = c->resolve(ref(*reg, "demo/app:1.0.0"));
    ASSERT_TRUE(d1) << d1.error().message;
    EXPECT_EQ(d1->digest, oci);
    EXPECT_EQ(d1->media_type, media::oci_manifest);
    auto m1 = c->get_manifest(ref(*reg, "demo/app:1.0.0"));
    ASSERT_TRUE(m1) << m1.error().message;
    EXPECT_EQ(d1->size, static_cast<std::int64_t>(m1->bytes.size()));  // Content-Length of the HEAD
    EXPECT_EQ(m1->digest, oci);
    auto d2 = c->resolve(ref(*reg, "demo/app:1.1.0"));
    ASSERT_TRUE(d2) << d2.error().message;
    EXPECT_EQ(d2->digest, docker);
    EXPECT_EQ(d2->media_type, media::docker_manifest);

    // The index resolves to the index digest; a platform child can be picked.
    auto di = c->resolve(ref(*reg, "demo/app:multi"));
    ASSERT_TRUE(di) << di.error().message;
    EXPECT_EQ(di->digest, index);
    EXPECT_EQ(di->media_type, media::oci_index);
    auto m = c->get_manifest(ref(*reg, "demo/app@" + index));
    ASSERT_TRUE(m) << m.error().message;
    auto arm = select_platform(*m, *parse_platform("linux/arm64"));
    ASSERT_TRUE(arm) << arm.error().message;
    auto child = c->resolve(ref(*reg, "demo/app@" + arm->digest));
    ASSERT_TRUE(child) << child.error().message;
    EXPECT_EQ(child->digest, arm->digest);
    EXPECT_FALSE(select_platform(*m, *parse_platform("windows/amd64")));

    // Retag: same digest under the new tag.
    auto moved = retag(*c, ref(*reg, "demo/app:1.1.0"), "stable");
    ASSERT_TRUE(moved) << moved.error().message;
    EXPECT_EQ(moved->digest, docker);
    EXPECT_EQ(c->resolve(ref(*reg, "demo/app:stable"))->digest, docker);
    auto tags = c->list_tags(ref(*reg, "demo/app"));
    ASSERT_TRUE(tags) << tags.error().message;
    std::sort(tags->begin(), tags->end());
    EXPECT_EQ(*tags, (std::vector<std::string>{"1.0.0", "1.1.0", "multi", "stable"}));

    auto missing = c->resolve(ref(*reg, "demo/app:nope"));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().kind, Error::Kind::not_found);
    auto no_repo = c->list_tags(ref(*reg, "demo/other"));
    ASSERT_FALSE(no_repo);
    EXPECT_EQ(no_repo.error().reason, "NAME_UNKNOWN");
    auto wrong_digest = c->get_manifest(ref(*reg, "demo/app@" + compute_digest("nothing")));
    EXPECT_FALSE(wrong_digest);

    // The same image copied into an OCI layout, then tampered with: refused.
    TempDir dir;
    auto layout = (dir.path() / "l").string();
    test::must_run({"skopeo", "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false",
                    "docker://" + reg->host() + "/demo/app:1.0.0", "oci:" + layout + ":1.0.0"});
    LayoutRegistry lr(layout);
    Reference lref;
    lref.registry = "oci";
    lref.repository = layout;
    lref.tag = "1.0.0";
    ASSERT_EQ(lr.resolve(lref).value_or(Descriptor{}).digest, oci);
    auto blob = std::filesystem::path(layout) / "blobs" / "sha256" / oci.substr(7);
    auto bytes = read_file(blob);
    ASSERT_TRUE(bytes);
    std::filesystem::permissions(blob, std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::add);
    ASSERT_TRUE(write_file_atomic(
        blob, str::replace_all(*bytes, "\"schemaVersion\"", "\"schemaVersion\" ")));
    auto tampered = lr.resolve(lref);
    ASSERT_FALSE(tampered);
    EXPECT_EQ(tampered.error().reason, "DIGEST_MISMATCH");
}

TEST(RegistryIt, HtpasswdOverTls) {
    test::TestCa ca;
    auto reg = TestRegistry::start({.tls = true, .ca = &ca, .user = "ci", .password = "s3cret-pw"});
    ASSERT_TRUE(reg);
    auto digest = reg->push_image("team/api", "2.0.0", "tls");
    ASSERT_FALSE(digest.empty());

    auto anonymous = client_for(*reg, {.ca_file = ca.ca_cert().string()});
    auto denied = anonymous->resolve(ref(*reg, "team/api:2.0.0"));
    ASSERT_FALSE(denied);
    EXPECT_EQ(denied.error().kind, Error::Kind::unauthorized);

    RegistryHostConfig wrong{.ca_file = ca.ca_cert().string(),
                             .credentials = Credentials{"ci", "nope"}};
    auto bad = client_for(*reg, wrong)->resolve(ref(*reg, "team/api:2.0.0"));
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().kind, Error::Kind::unauthorized);
    EXPECT_EQ(bad.error().message.find("nope"), std::string::npos);

    // Credentials from a Docker config.json, the CA for this registry only.
    RegistryClientOptions o;
    o.hosts[reg->host()].ca_file = ca.ca_cert().string();
    o.docker_config = *DockerConfig::parse(R"({"auths":{")" + reg->host() + R"(":{"auth":")" +
                                           str::base64_encode("ci:s3cret-pw") + R"("}}})");
    auto c = RegistryClient::create(std::move(o)).value();
    auto d = c->resolve(ref(*reg, "team/api:2.0.0"));
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->digest, digest);
    auto before = c->requests_sent();
    ASSERT_TRUE(c->resolve(ref(*reg, "team/api:2.0.0")));
    EXPECT_EQ(c->requests_sent() - before, 1u);  // basic auth sent up front once learned
    ASSERT_TRUE(retag(*c, ref(*reg, "team/api:2.0.0"), "prod"));

    // Without the CA the system trust store does not know the test CA.
    RegistryHostConfig no_ca{.credentials = Credentials{"ci", "s3cret-pw"}};
    auto untrusted = client_for(*reg, no_ca)->resolve(ref(*reg, "team/api:2.0.0"));
    ASSERT_FALSE(untrusted);
    EXPECT_EQ(untrusted.error().kind, Error::Kind::transport);
}

TEST(RegistryIt, PushNotificationsReachTheWebhookPullsDoNot) {
    std::mutex mu;
    std::vector<PushEvent> events;
    auto handler =
        WebhookHandler::create({.bearer_token = "hook-token"}, [&](std::vector<PushEvent> ev) {
            std::lock_guard lock(mu);
            events.insert(events.end(), ev.begin(), ev.end());
        });
    ASSERT_TRUE(handler);
    http::Server hook;
    auto port = hook.start({.port = 0},
                           [&](const http::Request& r) { return handle_webhook(*handler, r); });
    ASSERT_TRUE(port) << port.error().message;
    auto reg = TestRegistry::start(
        {.notify_url = hook.base_url() + "/webhooks/registry", .notify_token = "hook-token"});
    ASSERT_TRUE(reg);

    auto digest = reg->push_image("demo/hooked", "3.0.0", "hook");
    ASSERT_FALSE(digest.empty());
    auto count = [&] {
        std::lock_guard lock(mu);
        return events.size();
    };
    ASSERT_TRUE(test::wait_until([&] { return count() >= 1; }, std::chrono::seconds(15)))
        << reg->log();
    {
        std::lock_guard lock(mu);
        ASSERT_EQ(events.size(), 1u);  // layer and config blob pushes are not events
        EXPECT_EQ(events[0].registry, reg->host());
        EXPECT_EQ(events[0].repository, "demo/hooked");
        EXPECT_EQ(events[0].tag, "3.0.0");
        EXPECT_EQ(events[0].digest, digest);
    }

    // A HEAD makes the registry send a pull event: delivered to us, accepted, and ignored.
    auto handled = hook.requests_handled();
    ASSERT_TRUE(client_for(*reg)->resolve(ref(*reg, "demo/hooked:3.0.0")));
    ASSERT_TRUE(test::wait_until([&] { return hook.requests_handled() > handled; },
                                 std::chrono::seconds(15)));
    EXPECT_EQ(count(), 1u);

    // A forged delivery without the token: 401, nothing queued.
    auto client = http::Client::create().value();
    http::Request forged;
    forged.method = "POST";
    forged.url = hook.base_url() + "/webhooks/registry";
    forged.headers.set("Authorization", "Bearer guess");
    forged.headers.set("Content-Type", "application/json");
    forged.body = R"({"specversion":"1.0","type":"io.poetryops.image.pushed","id":"1","source":"x",
        "data":{"registry":"r.io","repository":"a/b","tag":"evil"}})";
    auto resp = client->request(forged);
    ASSERT_TRUE(resp) << resp.error().message;
    EXPECT_EQ(resp->status, 401);
    EXPECT_EQ(count(), 1u);
}

TEST(RegistryIt, TokenAuthWithWarmTokenIsOneRoundTrip) {
    test::TestCa ca;
    auto [cert, key] = ca.issue("token-signer", {"DNS:token-signer"});
    test::TokenIssuer issuer;
    ASSERT_TRUE(issuer.start({.key_file = key, .cert_file = cert, .users = {{"ci", "tok-pw"}}}));
    auto reg = TestRegistry::start({.token = test::TestRegistryOptions::Token{
                                        issuer.realm(), "poetryops-test-registry",
                                        "poetryops-test-issuer", ca.ca_cert(), "ci:tok-pw"}});
    ASSERT_TRUE(reg);
    auto digest = reg->push_image("secure/app", "1.0.0", "token", TestRegistry::Format::oci);
    ASSERT_FALSE(digest.empty()) << reg->log();

    RegistryHostConfig cfg{.plain_http = true, .credentials = Credentials{"ci", "tok-pw"}};
    auto c = client_for(*reg, cfg);
    auto r = ref(*reg, "secure/app:1.0.0");
    auto d = c->resolve(r);
    ASSERT_TRUE(d) << d.error().message << "\n" << reg->log();
    EXPECT_EQ(d->digest, digest);
    auto issued = issuer.issued();
    auto before = c->requests_sent();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(c->resolve(r));
    EXPECT_EQ(c->requests_sent() - before, 5u);
    EXPECT_EQ(issuer.issued(), issued);
    auto moved = retag(*c, r, "promoted");
    ASSERT_TRUE(moved) << moved.error().message;
    EXPECT_EQ(moved->digest, digest);

    // Anonymous: pull works (the issuer grants pull), push is refused by the registry.
    auto anon = client_for(*reg);
    ASSERT_TRUE(anon->resolve(r));
    auto push = retag(*anon, r, "hijack");
    ASSERT_FALSE(push);
    EXPECT_EQ(push.error().kind, Error::Kind::unauthorized);
    // Wrong password: the token service refuses.
    RegistryHostConfig wrong{.plain_http = true, .credentials = Credentials{"ci", "wrong"}};
    auto denied = client_for(*reg, wrong)->resolve(r);
    ASSERT_FALSE(denied);
    EXPECT_EQ(denied.error().kind, Error::Kind::unauthorized);
    EXPECT_GE(issuer.refused(), 1);
}

}  // namespace
}  // namespace poetryops::registry

#include <poetryops/registry/webhook.hpp>

#include <gtest/gtest.h>

namespace poetryops::registry {
namespace {

const std::string D = "sha256:" + std::string(64, 'b');

std::string distribution_body(const std::string& action, const std::string& media_type) {
    return R"({"events":[{"id":"1","timestamp":"2026-01-01T00:00:00Z","action":")" + action +
           R"(","target":{"mediaType":")" + media_type + R"(","size":528,"digest":")" + D +
           R"(","length":528,"repository":"demo/app","url":"http://127.0.0.1:5000/v2/demo/app/manifests/)" +
           D +
           R"(","tag":"1.0.0"},"request":{"id":"r","addr":"127.0.0.1:1","host":"127.0.0.1:5000","method":"PUT"}}]})";
}

TEST(WebhookPayload, DistributionPushOfAManifest) {
    auto ev =
        parse_webhook(distribution_body("push", "application/vnd.oci.image.manifest.v1+json"));
    ASSERT_TRUE(ev) << ev.error().message;
    ASSERT_EQ(ev->size(), 1u);
    EXPECT_EQ((*ev)[0], (PushEvent{"127.0.0.1:5000", "demo/app", "1.0.0", D,
                                   "application/vnd.oci.image.manifest.v1+json", "distribution"}));
}

TEST(WebhookPayload, DistributionPullsAndBlobPushesAreIgnored) {
    EXPECT_TRUE(
        parse_webhook(distribution_body("pull", "application/vnd.oci.image.manifest.v1+json"))
            ->empty());
    EXPECT_TRUE(
        parse_webhook(distribution_body("push", "application/vnd.oci.image.layer.v1.tar+gzip"))
            ->empty());
}

TEST(WebhookPayload, DockerHub) {
    auto ev = parse_webhook(
        R"({"callback_url":"https://x","push_data":{"pushed_at":1,"pusher":"u","tag":"1.2.0"},
        "repository":{"repo_name":"acme/billing","namespace":"acme","name":"billing"}})");
    ASSERT_TRUE(ev) << ev.error().message;
    ASSERT_EQ(ev->size(), 1u);
    EXPECT_EQ((*ev)[0].registry, "docker.io");
    EXPECT_EQ((*ev)[0].repository, "acme/billing");
    EXPECT_EQ((*ev)[0].tag, "1.2.0");
    EXPECT_EQ((*ev)[0].digest, "");
}

TEST(WebhookPayload, GitHubPackages) {
    auto ev = parse_webhook(
        R"({"action":"published","registry_package":{"name":"Billing","package_type":"CONTAINER",
        "owner":{"login":"Acme"},"package_version":{"version":")" +
        D + R"(","container_metadata":{"tag":{"name":"1.0","digest":")" + D + R"("}},
        "package_url":"ghcr.io/acme/billing:1.0"}}})");
    ASSERT_TRUE(ev) << ev.error().message;
    ASSERT_EQ(ev->size(), 1u);
    EXPECT_EQ((*ev)[0], (PushEvent{"ghcr.io", "acme/billing", "1.0", D, "", "github"}));
    auto npm = parse_webhook(
        R"({"action":"published","package":{"name":"x","package_type":"npm","owner":{"login":"a"}}})");
    ASSERT_TRUE(npm);
    EXPECT_TRUE(npm->empty());
}

TEST(WebhookPayload, HarborAndQuay) {
    auto h = parse_webhook(
        R"({"type":"PUSH_ARTIFACT","occur_at":1,"operator":"admin","event_data":{"resources":[
        {"digest":")" +
        D + R"(","tag":"2.0.0","resource_url":"harbor.example.com/library/app:2.0.0"}],
        "repository":{"name":"app","namespace":"library","repo_full_name":"library/app"}}})");
    ASSERT_TRUE(h) << h.error().message;
    ASSERT_EQ(h->size(), 1u);
    EXPECT_EQ((*h)[0], (PushEvent{"harbor.example.com", "library/app", "2.0.0", D, "", "harbor"}));
    EXPECT_TRUE(parse_webhook(R"({"type":"DELETE_ARTIFACT","event_data":{}})")->empty());
    auto q = parse_webhook(
        R"({"repository":"ns/repo","namespace":"ns","name":"repo","docker_url":"quay.io/ns/repo",
        "updated_tags":["a","b"]})");
    ASSERT_TRUE(q) << q.error().message;
    ASSERT_EQ(q->size(), 2u);
    EXPECT_EQ((*q)[1].tag, "b");
    EXPECT_EQ((*q)[1].registry, "quay.io");
}

TEST(WebhookPayload, CloudEvents) {
    auto ev = parse_webhook(
        R"({"specversion":"1.0","type":"io.poetryops.image.pushed","source":"ci","id":"1",
        "data":{"image":"registry.example.com/acme/app:1.0@)" +
        D + R"("}})");
    ASSERT_TRUE(ev) << ev.error().message;
    ASSERT_EQ(ev->size(), 1u);
    EXPECT_EQ((*ev)[0],
              (PushEvent{"registry.example.com", "acme/app", "1.0", D, "", "cloudevents"}));
    auto batch = parse_webhook(
        R"([{"specversion":"1.0","type":"io.poetryops.image.pushed","id":"1","source":"s",
        "data":{"registry":"r.io","repository":"a/b","tag":"x"}},{"specversion":"1.0","type":"other","id":"2","source":"s"}])");
    ASSERT_TRUE(batch);
    EXPECT_EQ(batch->size(), 1u);
}

TEST(WebhookPayload, MalformedPayloadsAreErrors) {
    EXPECT_EQ(parse_webhook("{not json").error().kind, Error::Kind::decode);
    EXPECT_EQ(parse_webhook(R"({"events":)").error().kind, Error::Kind::decode);
    EXPECT_EQ(parse_webhook(R"({"hello":"world"})").error().kind, Error::Kind::decode);
    auto bad_digest = parse_webhook(
        R"({"specversion":"1.0","type":"io.poetryops.image.pushed","id":"1","source":"s",
        "data":{"registry":"r.io","repository":"a/b","tag":"x","digest":"sha256:nothex"}})");
    ASSERT_FALSE(bad_digest);
    EXPECT_EQ(bad_digest.error().kind, Error::Kind::invalid);
    EXPECT_FALSE(parse_webhook(
        R"({"specversion":"1.0","type":"io.poetryops.image.pushed","id":"1","source":"s",
        "data":{"registry":"r.io","repository":"UPPER/case","tag":"x"}})"));
}

struct Received {
    std::vector<PushEvent> events;
    int calls = 0;
};

WebhookHandler make_handler(Received& r, WebhookConfig cfg) {
    return *WebhookHandler::create(std::move(cfg), [&r](std::vector<PushEvent> ev) {
        ++r.calls;
        r.events.insert(r.events.end(), ev.begin(), ev.end());
    });
}

TEST(WebhookHandler, BearerToken) {
    Received r;
    auto h = make_handler(r, WebhookConfig{.bearer_token = "s3cret"});
    WebhookRequest req;
    req.body = distribution_body("push", "application/vnd.oci.image.manifest.v1+json");
    req.headers = {{"Content-Type", "application/vnd.docker.distribution.events.v1+json"}};
    EXPECT_EQ(h.handle(req).status, 401);
    req.headers.push_back({"authorization", "Bearer wrong"});
    EXPECT_EQ(h.handle(req).status, 401);
    EXPECT_EQ(r.calls, 0);
    req.headers.back().second = "Bearer s3cret";
    auto resp = h.handle(req);
    EXPECT_EQ(resp.status, 202);
    EXPECT_EQ(resp.body, R"({"accepted":1})");
    EXPECT_EQ(r.calls, 1);
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].digest, D);
}

TEST(WebhookHandler, HmacSignature) {
    Received r;
    auto h = make_handler(r, WebhookConfig{.hmac_secret = "key"});
    WebhookRequest req;
    req.body = R"({"specversion":"1.0","type":"io.poetryops.image.pushed","id":"1","source":"s",
        "data":{"registry":"r.io","repository":"a/b","tag":"x"}})";
    req.headers = {{"X-Hub-Signature-256", "sha256=" + hmac_sha256_hex("key", req.body + " ")}};
    EXPECT_EQ(h.handle(req).status, 401);
    EXPECT_EQ(r.calls, 0);
    req.headers[0].second = "sha256=" + hmac_sha256_hex("key", req.body);
    EXPECT_EQ(h.handle(req).status, 202);
    EXPECT_EQ(r.calls, 1);
    // RFC 4231 test case 2
    EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(WebhookHandler, LimitsAndMalformedBodies) {
    Received r;
    auto h = make_handler(r, WebhookConfig{.bearer_token = "t", .max_body_bytes = 64});
    WebhookRequest req;
    req.headers = {{"Authorization", "Bearer t"}};
    req.body = std::string(65, ' ');
    EXPECT_EQ(h.handle(req).status, 413);
    req.body = "{garbage";
    EXPECT_EQ(h.handle(req).status, 400);
    req.body = "{}";
    req.headers.push_back({"Content-Type", "text/plain"});
    EXPECT_EQ(h.handle(req).status, 415);
    req.method = "GET";
    EXPECT_EQ(h.handle(req).status, 405);
    EXPECT_EQ(r.calls, 0);
    // A valid envelope with only pull events: accepted, nothing delivered.
    WebhookRequest pull;
    pull.headers = {{"Authorization", "Bearer t"}};
    auto h2 = make_handler(r, WebhookConfig{.bearer_token = "t"});
    pull.body = distribution_body("pull", "application/vnd.oci.image.manifest.v1+json");
    EXPECT_EQ(h2.handle(pull).status, 202);
    EXPECT_EQ(r.calls, 0);
}

TEST(WebhookHandler, RefusesToRunWithoutAuthentication) {
    EXPECT_FALSE(WebhookHandler::create(WebhookConfig{}, [](std::vector<PushEvent>) {}));
    EXPECT_TRUE(WebhookHandler::create(WebhookConfig{.allow_unauthenticated = true},
                                       [](std::vector<PushEvent>) {}));
}

}  // namespace
}  // namespace poetryops::registry

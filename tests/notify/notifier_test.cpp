// Unit tests of the notification payloads, the webhook signature and the retry policy.
#include <poetryops/notify/notifier.hpp>
#include <poetryops/util/crypto.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace poetryops;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {
notify::Message sample() {
    return {.event = "Promoted",
            .ns = "team-a",
            .name = "billing",
            .environment = "prod",
            .version = "1.2.3",
            .tag = "1.2.3-abc",
            .digest = "sha256:0123",
            .commit = "deadbeef",
            .text = "promoted 1.2.3 to prod",
            .time = "2026-12-03T07:00:00Z"};
}
}  // namespace

TEST(NotifyPayload, WebhookCarriesEveryField) {
    auto body = json::parse(notify::build_body(notify::Kind::webhook, sample()));
    EXPECT_EQ(body["event"], "Promoted");
    EXPECT_EQ(body["app"]["namespace"], "team-a");
    EXPECT_EQ(body["app"]["name"], "billing");
    EXPECT_EQ(body["environment"], "prod");
    EXPECT_EQ(body["version"], "1.2.3");
    EXPECT_EQ(body["tag"], "1.2.3-abc");
    EXPECT_EQ(body["digest"], "sha256:0123");
    EXPECT_EQ(body["commit"], "deadbeef");
    EXPECT_EQ(body["message"], "promoted 1.2.3 to prod");
    EXPECT_EQ(body["time"], "2026-12-03T07:00:00Z");
}

TEST(NotifyPayload, SlackHasFallbackTextAndBlocks) {
    auto body = json::parse(notify::build_body(notify::Kind::slack, sample()));
    EXPECT_NE(body["text"].get<std::string>().find("Promoted: team-a/billing in prod"),
              std::string::npos);
    ASSERT_TRUE(body["blocks"].is_array());
    ASSERT_GE(body["blocks"].size(), 2u);
    EXPECT_EQ(body["blocks"][0]["type"], "section");
    EXPECT_EQ(body["blocks"][0]["text"]["type"], "mrkdwn");
    auto fields = body["blocks"].back()["fields"];
    ASSERT_TRUE(fields.is_array());
    EXPECT_LE(fields.size(), 10u);
    EXPECT_NE(fields.dump().find("deadbeef"), std::string::npos);
}

TEST(NotifyPayload, TeamsIsAMessageCard) {
    auto body = json::parse(notify::build_body(notify::Kind::teams, sample()));
    EXPECT_EQ(body["@type"], "MessageCard");
    EXPECT_EQ(body["@context"], "https://schema.org/extensions");
    EXPECT_FALSE(body["summary"].get<std::string>().empty());
    auto facts = body["sections"][0]["facts"];
    ASSERT_TRUE(facts.is_array());
    EXPECT_NE(facts.dump().find("sha256:0123"), std::string::npos);
}

TEST(NotifySignature, WebhookIsSignedWithHmacOfTheBody) {
    notify::Target t{.name = "ci",
                     .kind = notify::Kind::webhook,
                     .url = "http://127.0.0.1:1/h",
                     .hmac_key = "s3cret"};
    auto r = notify::build_request(t, sample(), "deadbeef");
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.headers.get_or("X-Poetryops-Event"), "Promoted");
    EXPECT_EQ(r.headers.get_or("X-Poetryops-Delivery"), "deadbeef");
    EXPECT_EQ(r.headers.get_or("X-Poetryops-Signature"),
              "sha256=" + crypto::hmac_sha256_hex("s3cret", r.body));
    // A changed body no longer matches.
    EXPECT_NE(r.headers.get_or("X-Poetryops-Signature"),
              "sha256=" + crypto::hmac_sha256_hex("s3cret", r.body + " "));
    t.hmac_key.clear();
    EXPECT_FALSE(notify::build_request(t, sample(), "k").headers.has("X-Poetryops-Signature"));
    t.kind = notify::Kind::slack;
    EXPECT_FALSE(notify::build_request(t, sample(), "k").headers.has("X-Poetryops-Delivery"));
}

TEST(NotifyRetry, StatusesWorthRetrying) {
    for (int s : {408, 425, 429, 500, 502, 503, 504}) EXPECT_TRUE(notify::retryable_status(s)) << s;
    for (int s : {200, 301, 400, 401, 403, 404, 410})
        EXPECT_FALSE(notify::retryable_status(s)) << s;
}

TEST(NotifyRetry, RetryAfterSecondsOnly) {
    EXPECT_EQ(notify::parse_retry_after("3"), 3000ms);
    EXPECT_EQ(notify::parse_retry_after(" 0 "), 0ms);
    EXPECT_FALSE(notify::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"));
    EXPECT_FALSE(notify::parse_retry_after("-1"));
    EXPECT_FALSE(notify::parse_retry_after(""));
}

TEST(NotifyRetry, ExponentialWithJitterCappedAndRetryAfterWins) {
    notify::RetryPolicy p{.initial = 1000ms, .max_delay = 8000ms};
    EXPECT_EQ(notify::retry_delay(p, 1, std::nullopt, 1.0), 1000ms);
    EXPECT_EQ(notify::retry_delay(p, 2, std::nullopt, 1.0), 2000ms);
    EXPECT_EQ(notify::retry_delay(p, 3, std::nullopt, 1.0), 4000ms);
    EXPECT_EQ(notify::retry_delay(p, 10, std::nullopt, 1.0), 8000ms);
    EXPECT_EQ(notify::retry_delay(p, 3, std::nullopt, 0.5), 2000ms);
    EXPECT_EQ(notify::retry_delay(p, 3, std::nullopt, 0.0), 2000ms);  // clamped to 0.5
    EXPECT_EQ(notify::retry_delay(p, 1, 3000ms, 0.5), 3000ms);
    EXPECT_EQ(notify::retry_delay(p, 1, 60000ms, 0.5), 8000ms);
}

TEST(NotifyKind, NamesRoundTrip) {
    for (auto k : {notify::Kind::webhook, notify::Kind::slack, notify::Kind::teams}) {
        notify::Kind back{};
        ASSERT_TRUE(notify::parse_kind(notify::to_string(k), back));
        EXPECT_EQ(back, k);
    }
    notify::Kind k{};
    EXPECT_FALSE(notify::parse_kind("email", k));
}

#include <poetryops/util/log.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace poetryops::log {
namespace {

TEST(Redact, AuthorizationHeaderAndSchemes) {
    EXPECT_EQ(redact("Authorization: Bearer abcdefghijklmnop"), "Authorization: [REDACTED]");
    EXPECT_EQ(redact("sent bearer abcdefghijklmnop to host"), "sent bearer [REDACTED] to host");
    EXPECT_EQ(redact("header Basic dXNlcjpwYXNzd29yZA=="), "header Basic [REDACTED]");
    // Prose stays readable.
    EXPECT_EQ(redact("use basic auth for the registry"), "use basic auth for the registry");
}

TEST(Redact, UrlUserinfo) {
    EXPECT_EQ(redact("fetch https://bob:hunter2@git.example.com/a.git failed"),
              "fetch https://[REDACTED]@git.example.com/a.git failed");
    EXPECT_EQ(redact("ssh://git@host/repo"), "ssh://[REDACTED]@host/repo");
    EXPECT_EQ(redact("mail me at bob@example.com"), "mail me at bob@example.com");
    EXPECT_EQ(redact("https://example.com/a@b"), "https://example.com/a@b");
}

TEST(Redact, SensitivePairs) {
    EXPECT_EQ(redact("password=hunter2 user=bob"), "password=[REDACTED] user=bob");
    EXPECT_EQ(redact(R"({"username":"bob","password":"hun\"ter2"})"),
              R"({"username":"bob","password":"[REDACTED]"})");
    EXPECT_EQ(redact("api_token: s3cr3t"), "api_token: [REDACTED]");
    EXPECT_EQ(redact(R"({"auth":"Ym9iOmh1bnRlcjI="})"), R"({"auth":"[REDACTED]"})");
    EXPECT_EQ(redact("client-key-data: LS0tLS1CRUdJTg=="), "client-key-data: [REDACTED]");
    // Keys that only contain a sensitive word stay.
    EXPECT_EQ(redact("tokenFile=/var/run/token author=alice"),
              "tokenFile=/var/run/token author=alice");
}

TEST(Redact, PrivateKeysJwtsAndKnownTokens) {
    std::string pem =
        "key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE "
        "KEY-----\nend";
    EXPECT_EQ(redact(pem), "key:\n[REDACTED PRIVATE KEY]\nend");
    EXPECT_EQ(redact("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"),
              "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----");
    EXPECT_EQ(redact("-----BEGIN RSA PRIVATE KEY-----\nMIIEow (truncated"),
              "[REDACTED PRIVATE KEY]");
    EXPECT_EQ(redact("token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl here"),
              "token [REDACTED] here");
    EXPECT_EQ(redact("using ghp_abcdefghijklmnopqrstuvwxyz0123456789"), "using [REDACTED]");
    EXPECT_EQ(redact("key AKIAIOSFODNN7EXAMPLE ok"), "key [REDACTED] ok");
}

TEST(Log, TextAndJsonLinesAreRedactedAndLevelled) {
    std::vector<std::string> lines;
    set_sink([&](std::string_view l) { lines.emplace_back(l); });
    set_level(Level::info);
    set_format(Format::text);
    POETRYOPS_LOG(debug, "hidden");
    POETRYOPS_LOG(info, "push https://u:p@h/x", {{"password", "hunter2"}, {"repo", "a b"}});
    set_format(Format::json);
    POETRYOPS_LOG(warn, "json", {{"token", "abc"}, {"app", "billing"}});
    set_sink(nullptr);
    set_format(Format::text);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_NE(lines[0].find(" INFO push https://[REDACTED]@h/x password=[REDACTED] repo=\"a b\""),
              std::string::npos)
        << lines[0];
    EXPECT_EQ(lines[0].find("hunter2"), std::string::npos);
    auto j = nlohmann::json::parse(lines[1]);
    EXPECT_EQ(j["level"], "warn");
    EXPECT_EQ(j["msg"], "json");
    EXPECT_EQ(j["token"], "[REDACTED]");
    EXPECT_EQ(j["app"], "billing");
}

}  // namespace
}  // namespace poetryops::log

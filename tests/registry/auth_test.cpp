#include <poetryops/registry/auth.hpp>

#include <poetryops/util/strings.hpp>

#include <gtest/gtest.h>

namespace poetryops::registry {
namespace {

TEST(DockerConfig, AuthFieldAndUsernamePasswordWithHubAliases) {
    auto cfg = DockerConfig::parse(R"({"auths":{
        "https://index.docker.io/v1/":{"auth":")" +
                                   str::base64_encode("hubuser:hub:pass") + R"("},
        "127.0.0.1:5000":{"username":"u","password":"p"},
        "ghcr.io":{"identitytoken":"x"}},
        "credsStore":"desktop"})");
    ASSERT_TRUE(cfg) << cfg.error().message;
    for (auto host :
         {"docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/"}) {
        auto c = cfg->find(host);
        ASSERT_TRUE(c) << host;
        EXPECT_EQ(c->username, "hubuser");
        EXPECT_EQ(c->password, "hub:pass");  // only the first ':' separates
    }
    EXPECT_EQ(cfg->find("127.0.0.1:5000")->password, "p");
    EXPECT_FALSE(cfg->find("127.0.0.1:5001"));
    EXPECT_FALSE(cfg->find("ghcr.io"));
}

TEST(DockerConfig, LegacyDockercfgForm) {
    auto cfg = DockerConfig::parse(R"({"registry.example.com":{"auth":")" +
                                   str::base64_encode("a:b") + R"(","email":"x"}})");
    ASSERT_TRUE(cfg) << cfg.error().message;
    EXPECT_EQ(cfg->find("registry.example.com")->username, "a");
}

TEST(DockerConfig, ErrorsNameTheEntryButNeverTheSecret) {
    auto bad =
        DockerConfig::parse(R"({"auths":{"r.io":{"auth":"!!notbase64-s3cr3t"}}})", "regcred");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("r.io"), std::string::npos);
    EXPECT_NE(bad.error().message.find("regcred"), std::string::npos);
    EXPECT_EQ(bad.error().message.find("s3cr3t"), std::string::npos);
    auto nocolon = DockerConfig::parse(R"({"auths":{"r.io":{"auth":")" +
                                       str::base64_encode("s3cr3t") + R"("}}})");
    ASSERT_FALSE(nocolon);
    EXPECT_EQ(nocolon.error().message.find("s3cr3t"), std::string::npos);
    auto garbage = DockerConfig::parse(R"({"auths":{"r.io":{"password":"s3cr3t")");
    ASSERT_FALSE(garbage);
    EXPECT_EQ(garbage.error().message.find("s3cr3t"), std::string::npos);
}

TEST(WwwAuthenticate, BearerWithQuotedCommas) {
    auto ch = parse_www_authenticate(
        R"(Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push")");
    ASSERT_EQ(ch.size(), 1u);
    EXPECT_EQ(ch[0].scheme, "bearer");
    EXPECT_EQ(ch[0].param("realm"), "https://auth.example.com/token");
    EXPECT_EQ(ch[0].param("service"), "registry.example.com");
    EXPECT_EQ(ch[0].param("scope"), "repository:a/b:pull,push");
}

TEST(WwwAuthenticate, SeveralChallengesEscapesAndOddSpacing) {
    auto ch = parse_www_authenticate(
        R"(Basic realm="ci" , Bearer  realm = "https://a/t?x=1" , error="invalid_token", error_description="say \"hi\"")");
    ASSERT_EQ(ch.size(), 2u);
    EXPECT_EQ(ch[0].scheme, "basic");
    EXPECT_EQ(ch[0].param("realm"), "ci");
    EXPECT_EQ(ch[1].param("realm"), "https://a/t?x=1");
    EXPECT_EQ(ch[1].param("error"), "invalid_token");
    EXPECT_EQ(ch[1].param("error_description"), "say \"hi\"");
    auto token68 = parse_www_authenticate("Negotiate abc==, Basic realm=x");
    ASSERT_EQ(token68.size(), 2u);
    EXPECT_EQ(token68[0].param("token68"), "abc");
    EXPECT_EQ(token68[1].param("realm"), "x");
    EXPECT_TRUE(parse_www_authenticate("").empty());
    parse_www_authenticate("\"\"\"===,,,  \\");  // must not crash
}

TEST(TokenResponse, TokenOrAccessTokenAndExpiry) {
    ManualClock clock;
    auto t = parse_token_response(R"({"access_token":"abc","expires_in":300})", clock);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->token, "abc");
    EXPECT_EQ(t->expires, clock.now() + std::chrono::seconds(300));
    auto issued = parse_token_response(
        R"({"token":"x","expires_in":300,"issued_at":"2025-12-31T23:59:00Z"})", clock);
    EXPECT_EQ(issued->expires, clock.now() + std::chrono::seconds(240));
    auto short_lived = parse_token_response(R"({"token":"x","expires_in":5})", clock);
    EXPECT_EQ(short_lived->expires, clock.now() + std::chrono::seconds(60));
    EXPECT_FALSE(parse_token_response(R"({"expires_in":5})", clock));
    EXPECT_FALSE(parse_token_response("<html>", clock));
}

TEST(TokenCache, ExpiresWithTheClock) {
    ManualClock clock;
    TokenCache cache(clock);
    cache.put("k", BearerToken{"tok", clock.now() + std::chrono::seconds(60)});
    EXPECT_EQ(cache.get("k"), "tok");
    EXPECT_FALSE(cache.get("other"));
    clock.advance(std::chrono::seconds(50));
    EXPECT_EQ(cache.get("k"), "tok");
    clock.advance(std::chrono::seconds(6));
    EXPECT_FALSE(cache.get("k"));
}

}  // namespace
}  // namespace poetryops::registry

#include <poetryops/http/message.hpp>

#include <poetryops/http/client.hpp>

#include <gtest/gtest.h>

namespace poetryops::http {
namespace {

TEST(Headers, CaseInsensitiveAndOrdered) {
    Headers h{{"Content-Type", "a"}, {"Link", "<1>"}};
    h.add("link", "<2>");
    EXPECT_EQ(h.get("content-type").value_or(""), "a");
    EXPECT_EQ(h.get_all("LINK"), (std::vector<std::string>{"<1>", "<2>"}));
    h.set("LINK", "<3>");
    EXPECT_EQ(h.get_all("link"), (std::vector<std::string>{"<3>"}));
    h.remove("content-TYPE");
    EXPECT_FALSE(h.has("Content-Type"));
    EXPECT_EQ(h.get_or("missing", "x"), "x");
    EXPECT_EQ(h.size(), 1u);
}

TEST(StatusError, MapsKindsAndTerminal) {
    auto make = [](int status) {
        Response r = Response::make(status, "{\"message\":\"nope\"}");
        return status_error(r, "GET https://h/x");
    };
    EXPECT_EQ(make(401).kind, Error::Kind::unauthorized);
    EXPECT_EQ(make(403).kind, Error::Kind::unauthorized);
    EXPECT_EQ(make(404).kind, Error::Kind::not_found);
    EXPECT_EQ(make(409).kind, Error::Kind::conflict);
    EXPECT_EQ(make(410).kind, Error::Kind::gone);
    EXPECT_EQ(make(500).kind, Error::Kind::http);
    EXPECT_TRUE(make(400).terminal);
    EXPECT_FALSE(make(429).terminal);
    EXPECT_FALSE(make(503).terminal);
    Error e = make(404);
    EXPECT_EQ(e.http_status, 404);
    EXPECT_NE(e.message.find("GET https://h/x: HTTP 404 Not Found"), std::string::npos)
        << e.message;
    EXPECT_NE(e.message.find("nope"), std::string::npos);
}

TEST(StatusError, RedactsBodySecrets) {
    Response r = Response::make(500, "failed: Authorization: Bearer abcdefghijklmnop123456");
    Error e = status_error(r, "POST https://h/x");
    EXPECT_EQ(e.message.find("abcdefghijklmnop123456"), std::string::npos) << e.message;
}

TEST(Idempotent, Methods) {
    EXPECT_TRUE(is_idempotent("GET"));
    EXPECT_TRUE(is_idempotent("PUT"));
    EXPECT_TRUE(is_idempotent("DELETE"));
    EXPECT_FALSE(is_idempotent("POST"));
    EXPECT_FALSE(is_idempotent("PATCH"));
}

TEST(ReasonPhrase, Known) {
    EXPECT_EQ(reason_phrase(413), "Content Too Large");
    EXPECT_EQ(reason_phrase(799), "Unknown");
}

}  // namespace
}  // namespace poetryops::http

#include <poetryops/kube/status.hpp>

#include <gtest/gtest.h>

namespace poetryops::kube {
namespace {

std::string status(int code, const std::string& reason, const std::string& message) {
    return R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":")" + message +
           R"(","reason":")" + reason + R"(","code":)" + std::to_string(code) + "}";
}

TEST(StatusError, MapsReasonsToKindsAndKeepsTheServerMessage) {
    struct Case {
        int code;
        const char* reason;
        Error::Kind kind;
        bool (*pred)(const Error&);
        bool terminal;
    };
    const Case cases[] = {
        {404, "NotFound", Error::Kind::not_found, is_not_found, false},
        {409, "AlreadyExists", Error::Kind::conflict, is_already_exists, false},
        {409, "Conflict", Error::Kind::conflict, is_conflict, false},
        {410, "Gone", Error::Kind::gone, is_gone, false},
        {410, "Expired", Error::Kind::gone, is_gone, false},
        {422, "Invalid", Error::Kind::invalid, is_invalid, true},
        {403, "Forbidden", Error::Kind::unauthorized, is_forbidden, false},
        {401, "Unauthorized", Error::Kind::unauthorized, is_unauthorized, false},
        {429, "TooManyRequests", Error::Kind::http, is_too_many_requests, false},
    };
    for (const auto& c : cases) {
        Error e =
            status_error(c.code, status(c.code, c.reason, "the server says why"), "GET /api/v1/x");
        EXPECT_EQ(e.kind, c.kind) << c.reason;
        EXPECT_TRUE(c.pred(e)) << c.reason;
        EXPECT_EQ(e.reason, c.reason);
        EXPECT_EQ(e.http_status, c.code);
        EXPECT_EQ(e.terminal, c.terminal) << c.reason;
        EXPECT_NE(e.message.find("GET /api/v1/x: " + std::to_string(c.code) + " " + c.reason +
                                 ": the server says why"),
                  std::string::npos)
            << e.message;
    }
    EXPECT_FALSE(is_conflict(status_error(409, status(409, "AlreadyExists", "x"), "POST /x")));
    EXPECT_FALSE(is_already_exists(status_error(409, status(409, "Conflict", "x"), "PUT /x")));
}

TEST(StatusError, NonStatusBodiesStillMapByCode) {
    Error e = status_error(503, "<html>\nupstream down\n</html>", "GET /apis");
    EXPECT_EQ(e.kind, Error::Kind::http);
    EXPECT_EQ(e.reason, "ServiceUnavailable");
    EXPECT_NE(e.message.find("<html> upstream down </html>"), std::string::npos) << e.message;
    EXPECT_TRUE(is_not_found(status_error(404, "", "GET /x")));
}

TEST(StatusError, UnauthorizedExplainsLikelyCauses) {
    Error e =
        status_error(401, status(401, "Unauthorized", "Unauthorized"), "GET /api/v1/namespaces");
    EXPECT_NE(e.message.find("token may be expired"), std::string::npos) << e.message;
}

TEST(StatusError, WatchErrorEventCarriesTheCode) {
    Error e =
        status_object_error(status(410, "Expired", "too old resource version: 5 (9)"), "WATCH /x");
    EXPECT_TRUE(is_gone(e));
    EXPECT_NE(e.message.find("too old resource version"), std::string::npos);
    EXPECT_EQ(status_object_error("{}", "WATCH /x").kind, Error::Kind::decode);
}

}  // namespace
}  // namespace poetryops::kube

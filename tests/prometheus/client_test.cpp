#include <poetryops/prometheus/client.hpp>

#include <poetryops/http/server.hpp>
#include <poetryops/http/url.hpp>
#include <poetryops/util/strings.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>

namespace poetryops::prometheus {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kOne =
    R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.5"]}]}})";

// An in-process stand-in for Prometheus' API on the project's HTTP server; records requests.
class Fake {
public:
    using Fn = std::function<http::Response(const http::Request&)>;
    explicit Fake(Fn fn = {}) : fn_(std::move(fn)) {
        auto port = server_.start({.port = 0}, [this](const http::Request& r) {
            {
                std::lock_guard lock(mu_);
                seen_.push_back(r);
            }
            return fn_ ? fn_(r) : http::Response::make(200, kOne, "application/json");
        });
        EXPECT_TRUE(port);
    }
    std::string url() const { return server_.base_url(); }
    std::vector<http::Request> seen() {
        std::lock_guard lock(mu_);
        return seen_;
    }
    /// The decoded form fields of the i-th request (query string for GET, body for POST).
    std::map<std::string, std::string> params(std::size_t i) {
        auto r = seen().at(i);
        std::string q = r.method == "GET" ? http::split_target(r.url).second : r.body;
        std::map<std::string, std::string> out;
        for (auto& [k, v] : http::parse_query(q)) out[k] = v;
        return out;
    }

private:
    Fn fn_;
    std::mutex mu_;
    std::vector<http::Request> seen_;
    http::Server server_;
};

std::unique_ptr<Client> make(ClientOptions o) {
    auto c = Client::create(std::move(o));
    EXPECT_TRUE(c) << (c ? "" : c.error().message);
    return c ? std::move(c).value() : nullptr;
}

TEST(PrometheusClient, GetSendsQueryTimeAndTimeout) {
    Fake f;
    auto c = make({.address = f.url(), .timeout = std::chrono::milliseconds(2500)});
    Clock::time_point at{std::chrono::milliseconds(1767225600250)};
    auto v = c->query_value(R"(sum(rate(http_requests_total{code!~"5.."}[1m])))", at);
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_TRUE(v->ok());
    EXPECT_EQ(v->value, 0.5);
    auto r = f.seen().at(0);
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(http::split_target(r.url).first, "/api/v1/query");
    auto p = f.params(0);
    EXPECT_EQ(p["query"], R"(sum(rate(http_requests_total{code!~"5.."}[1m])))");
    EXPECT_EQ(p["time"], "1767225600.250");
    EXPECT_EQ(p["timeout"], "2500ms");
    EXPECT_FALSE(r.headers.has("Authorization"));
}

TEST(PrometheusClient, PostSendsAForm) {
    Fake f;
    auto c = make({.address = f.url(), .method = ClientOptions::Method::post});
    ASSERT_TRUE(c->query("up"));
    auto r = f.seen().at(0);
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.url, "/api/v1/query");
    EXPECT_EQ(r.headers.get_or("Content-Type"), "application/x-www-form-urlencoded");
    EXPECT_EQ(f.params(0)["query"], "up");
    EXPECT_EQ(f.params(0).count("time"), 0u);
}

TEST(PrometheusClient, PathPrefixIsKept) {
    Fake f;
    auto c = make({.address = f.url() + "/prometheus/"});
    ASSERT_TRUE(c->query("up"));
    EXPECT_EQ(http::split_target(f.seen().at(0).url).first, "/prometheus/api/v1/query");
}

TEST(PrometheusClient, BearerAndBasicAuthHeaders) {
    Fake f;
    auto bearer = make({.address = f.url(), .bearer_token = "tok-123"});
    ASSERT_TRUE(bearer->query("up"));
    EXPECT_EQ(f.seen().at(0).headers.get_or("Authorization"), "Bearer tok-123");
    auto basic = make({.address = f.url(), .basic_auth = BasicAuth{"alice", "s3cret"}});
    ASSERT_TRUE(basic->query("up"));
    EXPECT_EQ(f.seen().at(1).headers.get_or("Authorization"),
              "Basic " + str::base64_encode("alice:s3cret"));
}

TEST(PrometheusClient, UnauthorizedNeverEchoesCredentials) {
    Fake f([](const http::Request& r) {
        // Echo the header back, as a careless proxy might: the error must still not show it.
        return http::Response::make(401, "denied: " + r.headers.get_or("Authorization"));
    });
    auto c = make({.address = f.url(), .bearer_token = "tok-very-secret-42"});
    auto r = c->query("up");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::unauthorized);
    EXPECT_FALSE(is_unavailable(r.error()));
    EXPECT_THAT(r.error().message, Not(HasSubstr("tok-very-secret-42")));
    EXPECT_THAT(r.error().message, HasSubstr(f.url()));
}

TEST(PrometheusClient, OptionsAreChecked) {
    auto with_creds = Client::create({.address = "http://bob:hunter2@prom:9090"});
    ASSERT_FALSE(with_creds);
    EXPECT_EQ(with_creds.error().kind, Error::Kind::invalid);
    EXPECT_THAT(with_creds.error().message, Not(HasSubstr("hunter2")));
    EXPECT_FALSE(Client::create({.address = ""}));
    EXPECT_FALSE(Client::create({.address = "prom:9090"}));
    EXPECT_FALSE(Client::create({.address = "http://prom:9090/?x=1"}));
    auto both = Client::create(
        {.address = "http://prom:9090", .bearer_token = "t", .basic_auth = BasicAuth{"a", "b"}});
    ASSERT_FALSE(both);
    EXPECT_THAT(both.error().message, HasSubstr("not both"));
    EXPECT_FALSE(Client::create({.address = "http://prom:9090", .basic_auth = BasicAuth{}}));
    auto missing_ca =
        Client::create({.address = "https://prom:9090", .ca_file = "/nonexistent/ca.crt"});
    ASSERT_FALSE(missing_ca);
    EXPECT_THAT(missing_ca.error().message, HasSubstr("/nonexistent/ca.crt"));
}

TEST(PrometheusClient, ServiceUnavailableIsUnavailable) {
    Fake f([](const http::Request&) { return http::Response::make(503, "Service Unavailable"); });
    auto c = make({.address = f.url()});
    auto r = c->query("up");
    ASSERT_FALSE(r);
    EXPECT_TRUE(is_unavailable(r.error()));
    EXPECT_EQ(r.error().http_status, 503);
}

TEST(PrometheusClient, KeepsItsConnection) {
    Fake f;
    auto c = make({.address = f.url()});
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(c->query("up"));
    EXPECT_EQ(c->connections_opened(), 1u);
    auto post = make({.address = f.url(), .method = ClientOptions::Method::post});
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(post->query("up"));
    EXPECT_EQ(post->connections_opened(), 1u);
}

TEST(PrometheusClient, FormatTime) {
    EXPECT_EQ(format_time(Clock::time_point{std::chrono::seconds(1767225600)}), "1767225600.000");
    EXPECT_EQ(format_time(Clock::time_point{std::chrono::milliseconds(1767225600007)}),
              "1767225600.007");
}

}  // namespace
}  // namespace poetryops::prometheus

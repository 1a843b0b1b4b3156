// The client against the real Prometheus (Debian's package, 2.42) scraping real metrics targets:
// results parsed, Prometheus' own errors surfaced, every "not one number" case, auth, TLS with a
// custom CA, timeouts, and Prometheus stopped.
#include <poetryops/prometheus/client.hpp>

#include <poetryops/http/client.hpp>
#include <poetryops/http/server.hpp>
#include <poetryops/prometheus/query_template.hpp>

#include "support/http/stall_server.hpp"
#include "support/prometheus/load_generator.hpp"
#include "support/prometheus/metrics_target.hpp"
#include "support/prometheus/test_prometheus.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

namespace poetryops::prometheus {
namespace {

using test::LoadGenerator;
using test::MetricsTarget;
using test::TestPrometheus;
using ::testing::HasSubstr;
using ::testing::Not;

std::unique_ptr<Client> client_for(const TestPrometheus& p, ClientOptions extra = {}) {
    auto o = p.client_options();
    if (extra.method == ClientOptions::Method::post) o.method = extra.method;
    auto c = Client::create(o);
    EXPECT_TRUE(c) << (c ? "" : c.error().message);
    return c ? std::move(c).value() : nullptr;
}

const QueryVars kStable{
    .namespace_name = "team-a", .canary = "billing", .stable = "billing", .interval = "30s"};

// One Prometheus scraping a stable and a canary target for the whole suite: the first sample
// takes ~6-8 s to become queryable, too slow to pay per test.
class PrometheusIt : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        stable_ = new MetricsTarget();
        canary_ = new MetricsTarget();
        ASSERT_TRUE(stable_->start({.error_rate = 0.25, .delay = std::chrono::milliseconds(60)}));
        ASSERT_TRUE(canary_->start({}));
        prom_ =
            TestPrometheus::start(
                {.targets = {{.job = "billing",
                              .port = stable_->port(),
                              .labels = {{"namespace", "team-a"}, {"service", "billing"}}},
                             {.job = "billing-canary",
                              .port = canary_->port(),
                              .labels = {{"namespace", "team-a"}, {"service", "billing-canary"}}}}})
                .release();
        ASSERT_NE(prom_, nullptr);
        // A first scrape of the idle target, so that rate() sees the requests as an increase.
        ASSERT_TRUE(prom_->wait_for(R"(sum(http_requests_total{service="billing"}))",
                                    [](double v) { return v == 0; }));
        // 40 requests to the stable target: 30 answered 200, 10 answered 500 (every 4th).
        LoadGenerator load({{stable_->url(), 1}});
        ASSERT_EQ(load.send(40), 40);
        ASSERT_TRUE(prom_->wait_for(R"(sum(increase(http_requests_total{service="billing"}[30s])))",
                                    [](double v) { return v > 0; }));
        ASSERT_TRUE(prom_->wait_for(R"(sum(http_requests_total{service="billing"}))",
                                    [](double v) { return v >= 40; }));
    }
    static void TearDownTestSuite() {
        delete prom_;
        delete stable_;
        delete canary_;
        prom_ = nullptr;
    }
    void SetUp() override {
        ASSERT_NE(prom_, nullptr) << "Prometheus did not start";
        client_ = client_for(*prom_);
        ASSERT_NE(client_, nullptr);
    }

    static TestPrometheus* prom_;
    static MetricsTarget* stable_;
    static MetricsTarget* canary_;
    std::unique_ptr<Client> client_;
};
TestPrometheus* PrometheusIt::prom_ = nullptr;
MetricsTarget* PrometheusIt::stable_ = nullptr;
MetricsTarget* PrometheusIt::canary_ = nullptr;

TEST_F(PrometheusIt, AQueryResultIsParsed) {
    auto r = client_->query(R"(http_requests_total{service="billing",code="500"})");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->type, ResultType::vector);
    ASSERT_EQ(r->series.size(), 1u);
    EXPECT_EQ(r->series[0].labels.at("__name__"), "http_requests_total");
    EXPECT_EQ(r->series[0].labels.at("namespace"), "team-a");
    EXPECT_EQ(r->series[0].labels.at("job"), "billing");
    auto v = single_value(*r);
    ASSERT_TRUE(v.ok()) << v.message;
    EXPECT_EQ(v.value, 10);
    // The same through a POST form.
    auto post = client_for(*prom_, {.method = ClientOptions::Method::post});
    auto pv = post->query_value(R"(sum(http_requests_total{service="billing"}))");
    ASSERT_TRUE(pv);
    EXPECT_EQ(pv->value, 40);
}

TEST_F(PrometheusIt, BuiltinQueriesMeasureTheTarget) {
    // success-rate: 30 of 40 requests were not 5xx; rate() over the same window for numerator
    // and denominator, so the ratio is 0.75 up to Prometheus' per-series extrapolation.
    auto sr = render_query(*builtin_query("success-rate"), kStable);
    ASSERT_TRUE(sr);
    auto v = client_->query_value(*sr);
    ASSERT_TRUE(v) << v.error().message;
    ASSERT_TRUE(v->ok()) << v->message;
    EXPECT_NEAR(v->value, 0.75, 0.1);
    // latency-p99-ms: every request took at least 60 ms, so no bucket below 50 ms has any and
    // the quantile lies above 50 (usually in the (50, 75] ms bucket; on a loaded machine a slow
    // request can lift the 99th percentile into a higher one, hence the loose upper bound).
    auto p99 = render_query(*builtin_query("latency-p99-ms"), kStable);
    ASSERT_TRUE(p99);
    auto l = client_->query_value(*p99);
    ASSERT_TRUE(l);
    ASSERT_TRUE(l->ok()) << l->message;
    EXPECT_GT(l->value, 50);
    EXPECT_LE(l->value, 1000);
    // The median is not moved by a few slow requests: in the (50, 75] ms bucket.
    auto p50 = render_query(
        R"(histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="{{namespace}}",service="{{canary}}"}[{{interval}}]))) * 1000)",
        kStable);
    ASSERT_TRUE(p50);
    auto median = client_->query_value(*p50);
    ASSERT_TRUE(median);
    ASSERT_TRUE(median->ok()) << median->message;
    EXPECT_GT(median->value, 50);
    EXPECT_LE(median->value, 75);
    // request-count: the increase over the window, extrapolated; about 40.
    auto count = render_query(*builtin_query("request-count"), kStable);
    ASSERT_TRUE(count);
    auto c = client_->query_value(*count);
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->ok()) << c->message;
    EXPECT_GT(c->value, 0);
}

TEST_F(PrometheusIt, NoTrafficIsNotANumber) {
    // The canary target is scraped but served nothing: 0/0.
    QueryVars canary = kStable;
    canary.canary = "billing-canary";
    // Two scrapes of it, so that rate() has the two samples it needs.
    ASSERT_TRUE(prom_->wait_for(
        R"(count_over_time(http_requests_total{service="billing-canary",code="200"}[30s]))",
        [](double v) { return v >= 2; }));
    auto sr = render_query(*builtin_query("success-rate"), canary);
    ASSERT_TRUE(sr);
    auto v = client_->query_value(*sr);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->problem, ValueProblem::not_finite);
    EXPECT_THAT(v->message, HasSubstr("NaN"));
}

TEST_F(PrometheusIt, APromqlThatDoesNotParseCarriesPrometheusError) {
    auto r = client_->query("sum(rate(http_requests_total[1m])");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::invalid);
    EXPECT_EQ(r.error().reason, "bad_data");
    EXPECT_EQ(r.error().http_status, 400);
    EXPECT_FALSE(is_unavailable(r.error()));
    EXPECT_THAT(r.error().message, HasSubstr("Prometheus " + prom_->url()));
    EXPECT_THAT(r.error().message, HasSubstr("parse error"));
    EXPECT_THAT(r.error().message, HasSubstr("unclosed left parenthesis"));
}

TEST_F(PrometheusIt, EmptyResult) {
    auto v = client_->query_value(R"(http_requests_total{service="nothing-here"})");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->problem, ValueProblem::empty);
    // A time before the targets existed: nothing either.
    auto past = client_->query_value("sum(http_requests_total)",
                                     std::chrono::system_clock::now() - std::chrono::hours(1));
    ASSERT_TRUE(past);
    EXPECT_EQ(past->problem, ValueProblem::empty);
}

TEST_F(PrometheusIt, SeveralSeries) {
    auto v = client_->query_value(R"(http_requests_total{service="billing"})");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->problem, ValueProblem::multiple_series);
    EXPECT_THAT(v->message, HasSubstr("2 series"));
    EXPECT_THAT(v->message, HasSubstr(R"(code="200")"));
}

TEST_F(PrometheusIt, NanInfStringAndMatrix) {
    auto nan = client_->query_value("0/0");
    ASSERT_TRUE(nan);
    EXPECT_EQ(nan->problem, ValueProblem::not_finite);
    auto inf = client_->query_value("vector(1)/0");
    ASSERT_TRUE(inf);
    EXPECT_EQ(inf->problem, ValueProblem::not_finite);
    auto str = client_->query_value(R"("abc")");
    ASSERT_TRUE(str);
    EXPECT_EQ(str->problem, ValueProblem::non_numeric);
    auto matrix = client_->query_value(R"(http_requests_total{service="billing",code="200"}[5s])");
    ASSERT_TRUE(matrix);
    EXPECT_EQ(matrix->problem, ValueProblem::non_numeric);
    auto scalar = client_->query_value("scalar(vector(42))");
    ASSERT_TRUE(scalar);
    ASSERT_TRUE(scalar->ok());
    EXPECT_EQ(scalar->value, 42);
}

TEST_F(PrometheusIt, KeepsOneConnection) {
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(client_->query("vector(1)"));
    EXPECT_EQ(client_->connections_opened(), 1u);
}

TEST_F(PrometheusIt, LoadGeneratorSplitsByWeight) {
    // The fixture's own contract, seen through Prometheus: 75/25 sends exactly 5 of 20 to the
    // second backend (and 95/5 would send 5 of 100).
    LoadGenerator load({{stable_->url(), 75}, {canary_->url(), 25}});
    const auto before = canary_->requests();
    ASSERT_EQ(load.send(20), 20);
    EXPECT_EQ(load.sent(), (std::vector<std::uint64_t>{15, 5}));
    EXPECT_EQ(canary_->requests() - before, 5u);
    load.set_weights({0, 100});
    ASSERT_EQ(load.send(3), 3);
    EXPECT_EQ(load.sent(), (std::vector<std::uint64_t>{15, 8}));
    EXPECT_TRUE(prom_->wait_for(R"(sum(http_requests_total{service="billing-canary"}))",
                                [&](double v) { return v >= double(before + 8); }));
}

// The load generator paced in the background, its weights changed while it runs (as the canary's
// steps will): no Prometheus needed to check the split itself.
TEST(PrometheusFixtureIt, BackgroundLoadFollowsWeights) {
    MetricsTarget stable, canary;
    ASSERT_TRUE(stable.start());
    ASSERT_TRUE(canary.start({.error_rate = 0.5}));
    LoadGenerator load({{stable.url(), 100}, {canary.url(), 0}});
    load.start(200, 4);
    ASSERT_TRUE(test::wait_until([&] { return stable.requests() >= 40; }));
    EXPECT_EQ(canary.requests(), 0u);
    load.set_weights({50, 50});
    ASSERT_TRUE(test::wait_until([&] { return canary.requests() >= 40; }));
    load.stop();
    const auto sent = load.sent();
    EXPECT_EQ(sent[0], stable.requests());
    EXPECT_EQ(sent[1], canary.requests());
    EXPECT_EQ(load.failures(), 0u);
    EXPECT_EQ(canary.errors(), canary.requests() / 2);
    // Stopped means stopped.
    const auto after = stable.requests() + canary.requests();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(stable.requests() + canary.requests(), after);
    EXPECT_THAT(canary.exposition(), HasSubstr("http_requests_total{code=\"500\"} " +
                                               std::to_string(canary.errors()) + "\n"));
}

// ---- auth, TLS, timeouts, Prometheus gone: each with its own Prometheus or server -------------

TEST(PrometheusAuthIt, BasicAuth) {
    auto prom = TestPrometheus::start({.user = "alice", .password = "pr0m-pass-w0rd"});
    ASSERT_NE(prom, nullptr);
    auto good = client_for(*prom);
    auto v = good->query_value("vector(7)");
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_EQ(v->value, 7);

    auto o = prom->client_options();
    o.basic_auth = BasicAuth{"alice", "wrong-pass-w0rd"};
    auto bad = Client::create(o).value();
    auto r = bad->query("vector(7)");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::unauthorized);
    EXPECT_EQ(r.error().http_status, 401);
    EXPECT_THAT(r.error().message, Not(HasSubstr("wrong-pass-w0rd")));
    EXPECT_THAT(r.error().message, Not(HasSubstr("alice")));

    o.basic_auth.reset();
    auto none = Client::create(o).value()->query("vector(7)");
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().kind, Error::Kind::unauthorized);
}

// Prometheus itself has no bearer auth; it sits behind a proxy that checks the token (as
// kube-rbac-proxy or a managed Prometheus does). The proxy here is the project's HTTP server
// forwarding to the real Prometheus.
TEST(PrometheusAuthIt, BearerTokenThroughAnAuthProxy) {
    auto prom = TestPrometheus::start({});
    ASSERT_NE(prom, nullptr);
    auto upstream = http::Client::create({}).value();
    http::Server proxy;
    const std::string token = "bearer-tok-0123456789";
    auto port = proxy.start({.port = 0}, [&](const http::Request& req) {
        if (req.headers.get_or("Authorization") != "Bearer " + token) {
            return http::Response::make(401, "missing or wrong token\n");
        }
        http::Request fwd{.method = req.method, .url = prom->url() + req.url, .body = req.body};
        if (auto ct = req.headers.get("Content-Type")) fwd.headers.set("Content-Type", *ct);
        auto r = upstream->request(fwd);
        return r ? *r : http::Response::make(502, r.error().message);
    });
    ASSERT_TRUE(port);

    auto good = Client::create({.address = proxy.base_url(), .bearer_token = token}).value();
    auto v = good->query_value("vector(3)");
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_EQ(v->value, 3);
    auto parse = good->query("sum(");
    ASSERT_FALSE(parse);
    EXPECT_EQ(parse.error().reason, "bad_data");

    auto bad = Client::create({.address = proxy.base_url(), .bearer_token = "not-the-token-99"})
                   .value()
                   ->query("vector(3)");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().kind, Error::Kind::unauthorized);
    EXPECT_THAT(bad.error().message, Not(HasSubstr("not-the-token-99")));
}

TEST(PrometheusTlsIt, CustomCa) {
    test::TestCa ca;
    auto prom = TestPrometheus::start({.ca = &ca});
    ASSERT_NE(prom, nullptr);
    ASSERT_EQ(prom->url().rfind("https://", 0), 0u);
    auto trusted = client_for(*prom);
    auto v = trusted->query_value("vector(5)");
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_EQ(v->value, 5);

    // Without the CA (the system trust store, or SSL_CERT_FILE) the certificate does not verify:
    // a configuration error, not "unavailable".
    auto o = prom->client_options();
    o.ca_file.clear();
    auto untrusted = Client::create(o).value()->query("vector(5)");
    ASSERT_FALSE(untrusted);
    EXPECT_EQ(untrusted.error().kind, Error::Kind::transport);
    EXPECT_FALSE(is_unavailable(untrusted.error()));
    EXPECT_THAT(untrusted.error().message, HasSubstr("certificate"));

    // The CA as PEM text, as it would come from a Secret.
    auto pem = read_file(ca.ca_cert());
    ASSERT_TRUE(pem);
    o.ca_pem = *pem;
    auto from_pem = Client::create(o).value()->query_value("vector(5)");
    ASSERT_TRUE(from_pem) << from_pem.error().message;
}

TEST(PrometheusTimeoutIt, AServerThatNeverAnswersTimesOut) {
    test::StallServer stall;
    for (auto method : {ClientOptions::Method::get, ClientOptions::Method::post}) {
        auto c = Client::create({.address = "http://127.0.0.1:" + std::to_string(stall.port()),
                                 .bearer_token = "stall-tok-secret",
                                 .timeout = std::chrono::milliseconds(300),
                                 .method = method})
                     .value();
        auto start = std::chrono::steady_clock::now();
        auto r = c->query("up");
        auto took = std::chrono::steady_clock::now() - start;
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().kind, Error::Kind::timeout);
        EXPECT_TRUE(is_unavailable(r.error()));
        EXPECT_THAT(r.error().message, HasSubstr("is unavailable"));
        EXPECT_THAT(r.error().message, HasSubstr("timed out"));
        EXPECT_THAT(r.error().message, Not(HasSubstr("stall-tok-secret")));
        EXPECT_LT(took, std::chrono::seconds(3));
    }
}

TEST(PrometheusDownIt, StoppedPrometheusIsUnavailable) {
    auto prom = TestPrometheus::start({});
    ASSERT_NE(prom, nullptr);
    auto c = client_for(*prom);
    ASSERT_TRUE(c->query("vector(1)"));
    prom->stop();
    ASSERT_FALSE(prom->running());
    auto r = c->query("vector(1)");
    ASSERT_FALSE(r);
    EXPECT_TRUE(is_unavailable(r.error()));
    EXPECT_EQ(r.error().kind, Error::Kind::transport);
    EXPECT_THAT(r.error().message, HasSubstr("Prometheus " + prom->url() + " is unavailable"));
    // The same for a fresh client and for POST.
    auto o = prom->client_options();
    o.method = ClientOptions::Method::post;
    auto fresh = Client::create(o).value()->query("vector(1)");
    ASSERT_FALSE(fresh);
    EXPECT_TRUE(is_unavailable(fresh.error()));
    EXPECT_THAT(fresh.error().message, HasSubstr("refused"));
}

}  // namespace
}  // namespace poetryops::prometheus

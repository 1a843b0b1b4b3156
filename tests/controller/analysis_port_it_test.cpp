// PrometheusAnalysisPort against the real Prometheus scraping a stable and two canary targets (a
// good one and one answering 5 % of requests with 500) under a steady weighted load: verdicts,
// values and bounds in status, minRequests, a query Prometheus refuses, Prometheus stopped.
#include <poetryops/controller/analysis_port.hpp>

#include "support/http/fault_proxy.hpp"
#include "support/prometheus/load_generator.hpp"
#include "support/prometheus/metrics_target.hpp"
#include "support/prometheus/test_prometheus.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace poetryops::controller {
namespace {

using test::LoadGenerator;
using test::MetricsTarget;
using test::TestPrometheus;
using ::testing::HasSubstr;

api::PoetryApp app() {
    api::PoetryApp a;
    a.metadata.name = "billing";
    a.metadata.namespace_ = "team-a";
    return a;
}
// An environment whose canary Service is `canary`, analysed every 10 s.
api::EnvironmentSpec analysed_env(const std::string& address, const std::string& canary,
                                  std::vector<api::MetricSpec> metrics,
                                  std::int64_t min_requests = 0) {
    api::EnvironmentSpec e;
    e.name = "prod";
    e.canary.emplace();
    e.canary->traffic.stable = "billing";
    e.canary->traffic.canary = canary;
    api::AnalysisSpec a;
    a.prometheus.address = address;
    a.metrics = std::move(metrics);
    a.interval = api::Duration("10s");
    a.interval.value = std::chrono::seconds(10);
    a.min_requests = min_requests;
    e.canary->analysis = std::move(a);
    return e;
}
api::MetricSpec metric(std::string name, std::string query, std::optional<double> min,
                       std::optional<double> max) {
    api::MetricSpec m;
    m.name = std::move(name);
    m.query = std::move(query);
    m.min = min;
    m.max = max;
    return m;
}
api::MetricSpec success_rate() { return metric("success-rate", "", 0.99, std::nullopt); }
api::MetricSpec latency() { return metric("latency-p99-ms", "", std::nullopt, 500); }

// One Prometheus and one load for the whole suite: the first sample takes ~6-8 s to be queryable.
class AnalysisPortIt : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        stable_ = new MetricsTarget();
        good_ = new MetricsTarget();
        bad_ = new MetricsTarget();
        ASSERT_TRUE(stable_->start());
        ASSERT_TRUE(good_->start());
        ASSERT_TRUE(bad_->start({.error_rate = 0.05}));
        auto target = [](const char* service, int port) {
            return test::ScrapeTarget{.job = service,
                                      .port = port,
                                      .labels = {{"namespace", "team-a"}, {"service", service}}};
        };
        prom_ = TestPrometheus::start({.targets = {target("billing", stable_->port()),
                                                   target("billing-canary", good_->port()),
                                                   target("billing-bad", bad_->port())}})
                    .release();
        ASSERT_NE(prom_, nullptr);
        load_ = new LoadGenerator({{stable_->url(), 50}, {good_->url(), 25}, {bad_->url(), 25}});
        load_->start(80);
        // Both canaries have had traffic for a whole interval, errors of the bad one included.
        ASSERT_TRUE(prom_->wait_for(
            R"(sum(increase(http_requests_total{service="billing-bad",code="500"}[10s])))",
            [](double v) { return v >= 1; }));
        ASSERT_TRUE(
            prom_->wait_for(R"(sum(increase(http_requests_total{service="billing-canary"}[10s])))",
                            [](double v) { return v >= 20; }));
    }
    static void TearDownTestSuite() {
        if (load_ != nullptr) load_->stop();
        delete load_;
        delete prom_;
        delete stable_;
        delete good_;
        delete bad_;
        load_ = nullptr;
        prom_ = nullptr;
    }

    static api::EnvironmentSpec env(const std::string& canary, std::vector<api::MetricSpec> metrics,
                                    std::int64_t min_requests = 0) {
        return analysed_env(prom_->url(), canary, std::move(metrics), min_requests);
    }

    static inline MetricsTarget* stable_ = nullptr;
    static inline MetricsTarget* good_ = nullptr;
    static inline MetricsTarget* bad_ = nullptr;
    static inline TestPrometheus* prom_ = nullptr;
    static inline LoadGenerator* load_ = nullptr;
};

TEST_F(AnalysisPortIt, AGoodCanaryPasses) {
    PrometheusAnalysisPort port;
    auto a = port.run(app(), env("billing-canary", {success_rate(), latency()}, 10),
                      std::chrono::system_clock::now());
    ASSERT_FALSE(a.unavailable) << a.message;
    EXPECT_EQ(a.verdict, api::AnalysisVerdict::pass) << a.message;
    ASSERT_EQ(a.metrics.size(), 3u);
    EXPECT_EQ(a.metrics[0].name, "requests");
    EXPECT_EQ(a.metrics[0].bound, ">= 10");
    EXPECT_EQ(a.metrics[1].name, "success-rate");
    EXPECT_EQ(a.metrics[1].bound, ">= 0.99");
    ASSERT_TRUE(a.metrics[1].value);
    EXPECT_DOUBLE_EQ(*a.metrics[1].value, 1.0);
    EXPECT_EQ(a.metrics[2].name, "latency-p99-ms");
    EXPECT_EQ(a.metrics[2].bound, "<= 500");
    EXPECT_EQ(a.metrics[2].verdict, api::AnalysisVerdict::pass) << a.metrics[2].message;
    // The same address and no Secret: one client for every round.
    port.run(app(), env("billing-canary", {success_rate()}), std::chrono::system_clock::now());
    EXPECT_EQ(port.clients_created(), 1u);
}

TEST_F(AnalysisPortIt, FivePercentErrorsFailWithTheValueInTheMessage) {
    PrometheusAnalysisPort port;
    auto a = port.run(app(), env("billing-bad", {success_rate(), latency()}),
                      std::chrono::system_clock::now());
    ASSERT_FALSE(a.unavailable) << a.message;
    EXPECT_EQ(a.verdict, api::AnalysisVerdict::fail) << a.message;
    ASSERT_EQ(a.metrics.size(), 2u);
    EXPECT_EQ(a.metrics[0].verdict, api::AnalysisVerdict::fail);
    ASSERT_TRUE(a.metrics[0].value);
    EXPECT_NEAR(*a.metrics[0].value, 0.95, 0.02);
    EXPECT_THAT(a.message, HasSubstr("success-rate 0.9"));
    EXPECT_THAT(a.message, HasSubstr("below min 0.99"));
    EXPECT_EQ(a.metrics[1].verdict, api::AnalysisVerdict::pass) << a.metrics[1].message;
}

TEST_F(AnalysisPortIt, TooLittleTrafficIsInconclusive) {
    PrometheusAnalysisPort port;
    auto a = port.run(app(), env("billing-canary", {success_rate()}, 1'000'000),
                      std::chrono::system_clock::now());
    ASSERT_FALSE(a.unavailable) << a.message;
    EXPECT_EQ(a.verdict, api::AnalysisVerdict::inconclusive) << a.message;
    ASSERT_EQ(a.metrics.size(), 2u);
    EXPECT_EQ(a.metrics[0].name, "requests");
    EXPECT_EQ(a.metrics[0].verdict, api::AnalysisVerdict::inconclusive);
    ASSERT_TRUE(a.metrics[0].value);
    EXPECT_GT(*a.metrics[0].value, 0);
    EXPECT_EQ(a.metrics[1].verdict, api::AnalysisVerdict::pass);
}

TEST_F(AnalysisPortIt, PromqlThatDoesNotParseIsInconclusiveWithPrometheusError) {
    PrometheusAnalysisPort port;
    auto broken = metric("error-ratio",
                         R"(sum(rate(http_requests_total{service="{{canary}}"}[{{interval}}]))",
                         std::nullopt, 0.01);
    auto a = port.run(app(), env("billing-canary", {broken, success_rate()}),
                      std::chrono::system_clock::now());
    ASSERT_FALSE(a.unavailable) << a.message;
    EXPECT_EQ(a.verdict, api::AnalysisVerdict::inconclusive) << a.message;
    ASSERT_EQ(a.metrics.size(), 2u);
    EXPECT_EQ(a.metrics[0].verdict, api::AnalysisVerdict::inconclusive);
    EXPECT_THAT(a.metrics[0].message, HasSubstr("error-ratio"));
    EXPECT_THAT(a.metrics[0].message, HasSubstr("parse error"));
    EXPECT_THAT(a.message, HasSubstr("parse error"));
    EXPECT_EQ(a.metrics[1].verdict, api::AnalysisVerdict::pass);
    // The round says its analysis cannot run as configured: the canary holds on it.
    EXPECT_THAT(a.invalid, HasSubstr("error-ratio: Prometheus refused the query"));
    EXPECT_THAT(a.invalid, HasSubstr("parse error"));
}

TEST_F(AnalysisPortIt, CompareJudgesTheCanaryAgainstTheBaselineOverPastIntervals) {
    // 4 samples per side at confidence 0.95, 3 s apart: 12 s of history, windows included.
    ASSERT_TRUE(
        prom_->wait_for(R"(min(count_over_time(http_requests_total{service="billing-bad"}[14s])))",
                        [](double v) { return v >= 13; }, std::chrono::seconds(40)));
    auto compared = [](const std::string& canary) {
        auto e = env(canary, {success_rate()});
        auto& a = *e.canary->analysis;
        a.judge = api::CanaryJudge::compare;
        a.confidence = 0.95;
        a.interval = api::Duration("3s");
        a.interval.value = std::chrono::seconds(3);
        return e;
    };
    PrometheusAnalysisPort port;
    auto bad = port.run(app(), compared("billing-bad"), std::chrono::system_clock::now());
    ASSERT_FALSE(bad.unavailable) << bad.message;
    ASSERT_EQ(bad.metrics.size(), 1u);
    EXPECT_EQ(bad.metrics[0].bound, "vs stable");
    EXPECT_EQ(bad.verdict, api::AnalysisVerdict::fail) << bad.message;
    ASSERT_TRUE(bad.metrics[0].value);
    EXPECT_LT(*bad.metrics[0].value, -0.01);  // the shift canary − baseline
    EXPECT_THAT(bad.message, HasSubstr("4 canary vs 4 baseline samples"));

    auto good = port.run(app(), compared("billing-canary"), std::chrono::system_clock::now());
    EXPECT_EQ(good.verdict, api::AnalysisVerdict::pass) << good.message;
}

// A Prometheus of its own behind basic auth (no targets: no data), so the suite's keeps running.
// Issue #15 "Faults": the fault-injecting proxy (tests/support/http/fault_proxy.hpp) between the
// port and the real Prometheus. Each fault makes the round unavailable (the canary holds, the app
// is Degraded with AnalysisUnavailable) within the query timeout, never a verdict; once it is gone
// the next round judges again.
TEST_F(AnalysisPortIt, PrometheusBehindFaultsIsUnavailableBoundedAndRecovers) {
    test::FaultProxy proxy(prom_->port());
    const std::string address = "http://127.0.0.1:" + std::to_string(proxy.port());
    PrometheusAnalysisPort port({.timeout = std::chrono::seconds(2)});
    auto e = analysed_env(address, "billing-canary", {success_rate()}, 10);
    auto good = port.run(app(), e, std::chrono::system_clock::now());
    ASSERT_FALSE(good.unavailable) << good.message;
    ASSERT_EQ(good.verdict, api::AnalysisVerdict::pass) << good.message;
    using test::Fault;
    using test::FaultKind;
    for (Fault f : {Fault{FaultKind::http_status, 503, 1}, Fault{FaultKind::http_status, 500},
                    Fault{FaultKind::http_status, 502}, Fault{FaultKind::close},
                    Fault{FaultKind::reset}, Fault{.kind = FaultKind::stall, .stall_after = 100}}) {
        proxy.set(f);
        proxy.cut_all();  // the port's kept-alive connection too
        const auto t0 = std::chrono::steady_clock::now();
        auto a = port.run(app(), e, std::chrono::system_clock::now());
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        SCOPED_TRACE(std::to_string(static_cast<int>(f.kind)) + " " + std::to_string(f.status));
        EXPECT_TRUE(a.unavailable) << a.message;
        EXPECT_NE(a.verdict, api::AnalysisVerdict::pass) << a.message;
        EXPECT_NE(a.verdict, api::AnalysisVerdict::fail) << "a fault is not a failed canary";
        EXPECT_LT(s, 5.0) << "bounded by the 2 s query timeout: " << a.message;
        std::cerr << "prometheus faults: " << static_cast<int>(f.kind) << "/" << f.status << ": "
                  << s << " s: " << a.message << "\n";
        proxy.clear();
        auto back = port.run(app(), e, std::chrono::system_clock::now());
        EXPECT_FALSE(back.unavailable) << back.message;
        EXPECT_EQ(back.verdict, api::AnalysisVerdict::pass) << back.message;
    }
}

TEST(AnalysisPortStandaloneIt, SecretCredentialsThenPrometheusStoppedIsUnavailable) {
    const std::string password = "s3cret-pass-word";
    auto down = TestPrometheus::start({.user = "analyst", .password = password});
    ASSERT_NE(down, nullptr);
    auto e = analysed_env(down->url(), "billing-canary", {success_rate()}, 10);
    e.canary->analysis->prometheus.secret_ref = api::SecretRef{"prom-auth"};
    std::string version = "1";
    std::vector<std::string> asked;
    PrometheusAnalysisPort port(
        {.secrets = [&](const std::string& ns, const std::string& name) -> Result<SecretData> {
             asked.push_back(ns + "/" + name);
             return SecretData{{{"username", "analyst"}, {"password", password}}, version};
         },
         .timeout = std::chrono::seconds(2)});
    auto up = port.run(app(), e, std::chrono::system_clock::now());
    ASSERT_FALSE(up.unavailable) << up.message;
    ASSERT_THAT(asked, ::testing::ElementsAre("team-a/prom-auth"));
    // Authenticated: the query ran and found no series (no targets), nothing was refused.
    EXPECT_EQ(up.verdict, api::AnalysisVerdict::inconclusive);
    ASSERT_EQ(up.metrics.size(), 2u);
    EXPECT_THAT(up.metrics[0].message, HasSubstr("no series"));
    EXPECT_THAT(up.message, ::testing::Not(HasSubstr("refused")));
    EXPECT_EQ(up.invalid, "") << "no data is no configuration problem";
    port.run(app(), e, std::chrono::system_clock::now());
    EXPECT_EQ(port.clients_created(), 1u);
    version = "2";  // the Secret changed: a new client
    port.run(app(), e, std::chrono::system_clock::now());
    EXPECT_EQ(port.clients_created(), 2u);

    down->stop();
    auto a = port.run(app(), e, std::chrono::system_clock::now());
    EXPECT_TRUE(a.unavailable);
    EXPECT_THAT(a.message, HasSubstr(down->url()));
    EXPECT_TRUE(a.metrics.empty());
    EXPECT_THAT(a.message, ::testing::Not(HasSubstr(password)));
}

TEST(AnalysisPortStandaloneIt, SecretCredentialsWithoutASecretSourceAreAnInconclusiveRound) {
    PrometheusAnalysisPort port;
    auto e = analysed_env("http://127.0.0.1:9", "billing-canary", {success_rate()});
    e.canary->analysis->prometheus.secret_ref = api::SecretRef{"prom-auth"};
    auto a = port.run(app(), e, std::chrono::system_clock::now());
    EXPECT_FALSE(a.unavailable);
    EXPECT_EQ(a.verdict, api::AnalysisVerdict::inconclusive);
    EXPECT_THAT(a.message, HasSubstr("team-a/prom-auth"));
}

}  // namespace
}  // namespace poetryops::controller

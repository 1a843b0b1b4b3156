#include <poetryops/util/metrics.hpp>

#include <gtest/gtest.h>

namespace poetryops::metrics {
namespace {

TEST(Metrics, RendersCountersGaugesAndHistogramsInTextFormat) {
    MetricsRegistry m;
    m.describe("rest_client_requests_total", MetricType::counter, "Number of HTTP requests.");
    m.inc("rest_client_requests_total", {{"method", "GET"}, {"code", "200"}, {"host", "h:1"}});
    m.inc("rest_client_requests_total", {{"code", "200"}, {"method", "GET"}, {"host", "h:1"}}, 2);
    m.set("workqueue_depth", {{"name", "a\"b"}}, 3);
    m.describe("t_seconds", MetricType::histogram, "time", {0.1, 1});
    m.observe("t_seconds", {{"controller", "c"}}, 0.05);
    m.observe("t_seconds", {{"controller", "c"}}, 0.5);
    m.observe("t_seconds", {{"controller", "c"}}, 5);
    std::string text = m.render();
    EXPECT_NE(text.find("# HELP rest_client_requests_total Number of HTTP requests.\n"
                        "# TYPE rest_client_requests_total counter\n"
                        "rest_client_requests_total{code=\"200\",host=\"h:1\",method=\"GET\"} 3\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("workqueue_depth{name=\"a\\\"b\"} 3\n"), std::string::npos) << text;
    EXPECT_NE(text.find("t_seconds_bucket{controller=\"c\",le=\"0.1\"} 1\n"), std::string::npos)
        << text;
    EXPECT_NE(text.find("t_seconds_bucket{controller=\"c\",le=\"1\"} 2\n"), std::string::npos)
        << text;
    EXPECT_NE(text.find("t_seconds_bucket{controller=\"c\",le=\"+Inf\"} 3\n"), std::string::npos)
        << text;
    EXPECT_NE(text.find("t_seconds_sum{controller=\"c\"} 5.55\n"), std::string::npos) << text;
    EXPECT_NE(text.find("t_seconds_count{controller=\"c\"} 3\n"), std::string::npos) << text;
    EXPECT_EQ(m.value("rest_client_requests_total",
                      {{"host", "h:1"}, {"method", "GET"}, {"code", "200"}}),
              3);
    EXPECT_EQ(m.total("t_seconds"), 3);
}

TEST(Metrics, RemoveDropsTheSeriesOfADeletedObjectOnly) {
    MetricsRegistry m;
    m.set("poetryops_canary_weight", {{"app", "team/a"}, {"env", "prod"}}, 25);
    m.set("poetryops_canary_weight", {{"env", "eu"}, {"app", "team/a"}}, 10);
    m.set("poetryops_canary_weight", {{"app", "team/b"}, {"env", "prod"}}, 50);
    m.remove("poetryops_canary_weight", {{"app", "team/a"}});
    m.remove("never_declared", {{"app", "team/a"}});
    std::string text = m.render();
    EXPECT_EQ(text.find("team/a"), std::string::npos) << text;
    EXPECT_NE(text.find("poetryops_canary_weight{app=\"team/b\",env=\"prod\"} 50\n"),
              std::string::npos)
        << text;
}

TEST(Metrics, CollectorsAppendTheirText) {
    MetricsRegistry m;
    m.add_collector([] { return "# TYPE poetryops_apps gauge\npoetryops_apps 7"; });
    EXPECT_NE(m.render().find("poetryops_apps 7\n"), std::string::npos);
}

}  // namespace
}  // namespace poetryops::metrics

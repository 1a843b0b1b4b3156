#include <poetryops/prometheus/query_template.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace poetryops::prometheus {
namespace {

using ::testing::HasSubstr;

const QueryVars kVars{
    .namespace_name = "team-a", .canary = "billing-canary", .stable = "billing", .interval = "1m"};

TEST(PrometheusQueryTemplate, FillsEveryPlaceholder) {
    auto r = render_query(
        R"(sum(rate(x{namespace="{{namespace}}",service="{{canary}}"}[{{interval}}])) / sum(rate(x{service="{{stable}}"}[{{interval}}])))",
        kVars);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(
        *r,
        R"(sum(rate(x{namespace="team-a",service="billing-canary"}[1m])) / sum(rate(x{service="billing"}[1m])))");
}

TEST(PrometheusQueryTemplate, SpacesInsideTheBracesAsFlaggerWritesThem) {
    auto r = render_query(R"(up{namespace="{{ namespace }}"}[{{	interval }}])", kVars);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, R"(up{namespace="team-a"}[1m])");
}

TEST(PrometheusQueryTemplate, NoPlaceholdersIsTheQueryItself) {
    auto r = render_query("sum(up)", {});
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "sum(up)");
}

TEST(PrometheusQueryTemplate, UnknownPlaceholderIsAnErrorNamingIt) {
    auto r = render_query(R"(up{pod="{{target}}"})", kVars);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::invalid);
    EXPECT_EQ(r.error().reason, "InvalidTemplate");
    EXPECT_EQ(r.error().message,
              "query template: unknown placeholder {{target}} (known: {{namespace}}, {{canary}}, "
              "{{stable}}, {{interval}})");
}

TEST(PrometheusQueryTemplate, UnclosedPlaceholder) {
    auto r = render_query("up{{namespace", kVars);
    ASSERT_FALSE(r);
    EXPECT_THAT(r.error().message, HasSubstr("has no closing \"}}\""));
}

TEST(PrometheusQueryTemplate, ValuesAreCheckedBeforeTheyGoIn) {
    // A value that would break out of the label matcher.
    QueryVars evil = kVars;
    evil.canary = R"(x"} or vector(1) or up{a=")";
    auto r = render_query(R"(up{service="{{canary}}"})", evil);
    ASSERT_FALSE(r);
    EXPECT_THAT(r.error().message, HasSubstr("{{canary}}"));
    EXPECT_THAT(r.error().message, HasSubstr("not a Kubernetes object name"));

    QueryVars bad_interval = kVars;
    bad_interval.interval = "1.5m";
    auto i = render_query("rate(x[{{interval}}])", bad_interval);
    ASSERT_FALSE(i);
    EXPECT_THAT(i.error().message, HasSubstr("not a PromQL duration"));

    // An unused placeholder may stay empty; a used one may not.
    QueryVars partial{.namespace_name = "team-a"};
    EXPECT_TRUE(render_query(R"(up{namespace="{{namespace}}"})", partial));
    auto empty = render_query(R"(up{service="{{stable}}"})", partial);
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.error().message, "query template uses {{stable}} but it has no value");
}

TEST(PrometheusQueryTemplate, BaselineMeasuresTheStableService) {
    auto b = kVars.baseline();
    EXPECT_EQ(b.canary, "billing");
    EXPECT_EQ(b.stable, "billing");
    EXPECT_EQ(b.namespace_name, "team-a");
    auto r = render_query(*builtin_query("latency-p99-ms"), b);
    ASSERT_TRUE(r);
    EXPECT_THAT(*r, HasSubstr(R"(service="billing"})"));
}

TEST(PrometheusQueryTemplate, BuiltinsRenderToTheDocumentedQueries) {
    EXPECT_EQ(builtin_names(),
              (std::vector<std::string_view>{"success-rate", "latency-p99-ms", "request-count"}));
    auto sr = render_query(*builtin_query("success-rate"), kVars);
    ASSERT_TRUE(sr);
    EXPECT_EQ(
        *sr,
        R"(sum(rate(http_requests_total{namespace="team-a",service="billing-canary",code!~"5.."}[1m])))"
        R"( / sum(rate(http_requests_total{namespace="team-a",service="billing-canary"}[1m])))");
    auto p99 = render_query(*builtin_query("latency-p99-ms"), kVars);
    ASSERT_TRUE(p99);
    EXPECT_EQ(
        *p99,
        R"(histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="team-a",service="billing-canary"}[1m]))) * 1000)");
    auto count = render_query(*builtin_query("request-count"), kVars);
    ASSERT_TRUE(count);
    EXPECT_EQ(
        *count,
        R"(sum(increase(http_requests_total{namespace="team-a",service="billing-canary"}[1m])))");
    EXPECT_FALSE(builtin_query("error-rate"));
}

TEST(PrometheusQueryTemplate, PromqlDuration) {
    using namespace std::chrono;
    EXPECT_EQ(promql_duration(minutes(1)), "1m");
    EXPECT_EQ(promql_duration(seconds(90)), "1m30s");
    EXPECT_EQ(promql_duration(milliseconds(1500)), "1s500ms");
    EXPECT_EQ(promql_duration(hours(25)), "1d1h");
    EXPECT_EQ(promql_duration(milliseconds(0)), "0s");
}

}  // namespace
}  // namespace poetryops::prometheus

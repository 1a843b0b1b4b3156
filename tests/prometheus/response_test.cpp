#include <poetryops/prometheus/response.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace poetryops::prometheus {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kCtx = "Prometheus http://prom:9090";

QueryResult parse_ok(const std::string& body) {
    auto r = parse_query_response(200, body, kCtx);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? *r : QueryResult{};
}

// Bodies as Prometheus 2.42 sends them (captured from the real server).
TEST(PrometheusResponse, VectorWithOneSeries) {
    auto r = parse_ok(
        R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"self","service":"stable"},"value":[1796208834.508,"1"]}]}})");
    EXPECT_EQ(r.type, ResultType::vector);
    ASSERT_EQ(r.series.size(), 1u);
    EXPECT_EQ(r.series[0].labels.at("service"), "stable");
    ASSERT_EQ(r.series[0].values.size(), 1u);
    EXPECT_DOUBLE_EQ(r.series[0].values[0].timestamp, 1796208834.508);
    auto v = single_value(r);
    EXPECT_TRUE(v.ok());
    EXPECT_EQ(v.value, 1);
    EXPECT_EQ(v.labels.at("job"), "self");
    EXPECT_TRUE(v.message.empty());
}

TEST(PrometheusResponse, Scalar) {
    auto v = single_value(parse_ok(
        R"({"status":"success","data":{"resultType":"scalar","result":[1796208840.934,"0.9975"]}})"));
    EXPECT_TRUE(v.ok());
    EXPECT_DOUBLE_EQ(v.value, 0.9975);
}

TEST(PrometheusResponse, EmptyVector) {
    auto v = single_value(
        parse_ok(R"({"status":"success","data":{"resultType":"vector","result":[]}})"));
    EXPECT_EQ(v.problem, ValueProblem::empty);
    EXPECT_THAT(v.message, HasSubstr("no series"));
}

TEST(PrometheusResponse, NanAndInfAreNotFinite) {
    auto nan = single_value(parse_ok(
        R"({"status":"success","data":{"resultType":"scalar","result":[1796208825.439,"NaN"]}})"));
    EXPECT_EQ(nan.problem, ValueProblem::not_finite);
    EXPECT_TRUE(std::isnan(nan.value));
    EXPECT_THAT(nan.message, HasSubstr("NaN"));
    auto inf = single_value(parse_ok(
        R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1796208825.626,"+Inf"]}]}})"));
    EXPECT_EQ(inf.problem, ValueProblem::not_finite);
    EXPECT_EQ(inf.value, HUGE_VAL);
    EXPECT_THAT(inf.message, HasSubstr("+Inf"));
    auto minus = single_value(
        parse_ok(R"({"status":"success","data":{"resultType":"scalar","result":[1,"-Inf"]}})"));
    EXPECT_EQ(minus.problem, ValueProblem::not_finite);
    EXPECT_THAT(minus.message, HasSubstr("-Inf"));
}

TEST(PrometheusResponse, SeveralSeriesNameTheirLabels) {
    auto v = single_value(parse_ok(
        R"({"status":"success","data":{"resultType":"vector","result":[
        {"metric":{"code":"200"},"value":[1,"95"]},{"metric":{"code":"500"},"value":[1,"5"]}]}})"));
    EXPECT_EQ(v.problem, ValueProblem::multiple_series);
    EXPECT_EQ(v.message,
              "the query returned 2 series ({code=\"200\"}, {code=\"500\"}); it must return one "
              "(aggregate with sum() or similar)");
}

TEST(PrometheusResponse, StringAndMatrixAreNonNumeric) {
    auto s = single_value(parse_ok(
        R"({"status":"success","data":{"resultType":"string","result":[1796208825.565,"abc"]}})"));
    EXPECT_EQ(s.problem, ValueProblem::non_numeric);
    EXPECT_THAT(s.message, HasSubstr("string (\"abc\")"));
    auto m = parse_ok(
        R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"job":"a"},"values":[[1,"1"],[2,"1"]]}]}})");
    EXPECT_EQ(m.type, ResultType::matrix);
    ASSERT_EQ(m.series.size(), 1u);
    EXPECT_EQ(m.series[0].values.size(), 2u);
    auto mv = single_value(m);
    EXPECT_EQ(mv.problem, ValueProblem::non_numeric);
    EXPECT_THAT(mv.message, HasSubstr("range vector"));
    // A value that is no number at all (not something Prometheus sends, but never a pass).
    auto junk = single_value(parse_ok(
        R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"12abc"]}]}})"));
    EXPECT_EQ(junk.problem, ValueProblem::non_numeric);
}

TEST(PrometheusResponse, WarningsAreKept) {
    auto r = parse_ok(
        R"({"status":"success","data":{"resultType":"vector","result":[]},"warnings":["PromQL info: metric might not be a counter"]})");
    ASSERT_EQ(r.warnings.size(), 1u);
    EXPECT_THAT(r.warnings[0], HasSubstr("might not be a counter"));
}

TEST(PrometheusResponse, ParseErrorCarriesPrometheusText) {
    auto r = parse_query_response(
        400,
        R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:10: parse error: unclosed left parenthesis"})",
        kCtx);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::invalid);
    EXPECT_EQ(r.error().reason, "bad_data");
    EXPECT_EQ(r.error().http_status, 400);
    EXPECT_TRUE(r.error().terminal);
    EXPECT_FALSE(is_unavailable(r.error()));
    EXPECT_EQ(r.error().message,
              "Prometheus http://prom:9090: query failed (bad_data): invalid parameter \"query\": "
              "1:10: parse error: unclosed left parenthesis");
}

TEST(PrometheusResponse, ExecutionErrorIsTheQuerysFault) {
    auto r = parse_query_response(
        422,
        R"({"status":"error","errorType":"execution","error":"found duplicate series for the match group"})",
        kCtx);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::invalid);
    EXPECT_FALSE(is_unavailable(r.error()));
    EXPECT_THAT(r.error().message, HasSubstr("duplicate series"));
}

TEST(PrometheusResponse, ServerSideTimeoutAndUnavailableAreUnavailable) {
    for (const char* type : {"timeout", "canceled", "unavailable", "internal"}) {
        auto r =
            parse_query_response(503,
                                 std::string(R"({"status":"error","errorType":")") + type +
                                     R"(","error":"query timed out in expression evaluation"})",
                                 kCtx);
        ASSERT_FALSE(r) << type;
        EXPECT_TRUE(is_unavailable(r.error())) << type;
        EXPECT_FALSE(r.error().terminal) << type;
        EXPECT_THAT(r.error().message, HasSubstr(std::string("(") + type + ")"));
    }
}

TEST(PrometheusResponse, NonJsonAnswers) {
    // A proxy's 502 page, any bare 5xx: unavailable, not a decode error nor a refused query.
    for (int status : {500, 502, 503, 504, 507}) {
        auto bad_gateway = parse_query_response(status, "<html>Bad Gateway</html>", kCtx);
        ASSERT_FALSE(bad_gateway);
        EXPECT_TRUE(is_unavailable(bad_gateway.error())) << status;
        EXPECT_FALSE(bad_gateway.error().terminal) << status;
        EXPECT_EQ(bad_gateway.error().http_status, status);
    }
    // An error type this code does not know: unavailable from a 5xx, the query's from a 4xx.
    auto odd5 =
        parse_query_response(500, R"({"status":"error","errorType":"novel","error":"x"})", kCtx);
    ASSERT_FALSE(odd5);
    EXPECT_TRUE(is_unavailable(odd5.error()));
    auto odd4 =
        parse_query_response(418, R"({"status":"error","errorType":"novel","error":"x"})", kCtx);
    ASSERT_FALSE(odd4);
    EXPECT_FALSE(is_unavailable(odd4.error()));
    // Prometheus' own 401 (basic auth) is plain text.
    auto unauthorized = parse_query_response(401, "Unauthorized\n", kCtx);
    ASSERT_FALSE(unauthorized);
    EXPECT_EQ(unauthorized.error().kind, Error::Kind::unauthorized);
    EXPECT_FALSE(is_unavailable(unauthorized.error()));
    EXPECT_THAT(unauthorized.error().message, HasSubstr("401"));
    // Something that is not Prometheus at all.
    auto html = parse_query_response(200, "<html>hello</html>", kCtx);
    ASSERT_FALSE(html);
    EXPECT_EQ(html.error().kind, Error::Kind::decode);
    EXPECT_THAT(html.error().message, HasSubstr("not the Prometheus API's JSON"));
    auto not_found = parse_query_response(404, "404 page not found", kCtx);
    ASSERT_FALSE(not_found);
    EXPECT_EQ(not_found.error().kind, Error::Kind::not_found);
}

TEST(PrometheusResponse, MalformedApiJson) {
    for (const char* body : {
             R"({"status":"success"})",
             R"({"status":"success","data":{"resultType":"vector","result":{}}})",
             R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}})",
             R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1]}]}})",
             R"({"status":"success","data":{"resultType":"scalar","result":[1,2]}})",
             R"({"status":"success","data":{"resultType":"histogram","result":[]}})",
         }) {
        auto r = parse_query_response(200, body, kCtx);
        ASSERT_FALSE(r) << body;
        EXPECT_EQ(r.error().kind, Error::Kind::decode) << body;
        EXPECT_THAT(r.error().message, HasSubstr(kCtx)) << body;
    }
}

TEST(PrometheusResponse, ErrorTextIsRedacted) {
    auto r = parse_query_response(
        400, R"({"status":"error","errorType":"bad_data","error":"bad token=abcdef123456"})", kCtx);
    ASSERT_FALSE(r);
    EXPECT_THAT(r.error().message, Not(HasSubstr("abcdef123456")));
}

TEST(PrometheusResponse, Names) {
    EXPECT_STREQ(to_string(ValueProblem::empty), "empty");
    EXPECT_STREQ(to_string(ValueProblem::not_finite), "not-finite");
    EXPECT_STREQ(to_string(ValueProblem::multiple_series), "multiple-series");
    EXPECT_STREQ(to_string(ValueProblem::non_numeric), "non-numeric");
    EXPECT_STREQ(to_string(ResultType::matrix), "matrix");
    EXPECT_EQ(format_labels({}), "{}");
    EXPECT_EQ(format_labels({{"a", "x\"y"}, {"b", "2"}}), R"({a="x\"y",b="2"})");
}

}  // namespace
}  // namespace poetryops::prometheus

#include <poetryops/api/duration.hpp>

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using poetryops::api::format_duration;
using poetryops::api::parse_duration;

TEST(Duration, ParsesGoStyleDurations) {
    EXPECT_EQ(parse_duration("0"), 0ms);
    EXPECT_EQ(parse_duration("0s"), 0ms);
    EXPECT_EQ(parse_duration("30s"), 30s);
    EXPECT_EQ(parse_duration("10m"), 10min);
    EXPECT_EQ(parse_duration("1h30m"), 90min);
    EXPECT_EQ(parse_duration("1.5h"), 90min);
    EXPECT_EQ(parse_duration("250ms"), 250ms);
    EXPECT_EQ(parse_duration(".5s"), 500ms);
    EXPECT_EQ(parse_duration("1h0m5s"), 3605s);
    EXPECT_EQ(parse_duration("1500us"), 1ms);
    EXPECT_EQ(parse_duration("2\xC2\xB5s"), 0ms);
    EXPECT_EQ(parse_duration("1m30s500ms"), 90500ms);
}

TEST(Duration, RejectsMalformedInput) {
    for (const char* bad : {"", "10", "m", "1d", "-5m", "1h 30m", "5 m", "1.m.s", "h1", "10mins",
                            "1e3s", "99999999999999999999h"}) {
        EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
    }
}

TEST(Duration, FormatsShortestExactForm) {
    EXPECT_EQ(format_duration(0ms), "0s");
    EXPECT_EQ(format_duration(250ms), "250ms");
    EXPECT_EQ(format_duration(30s), "30s");
    EXPECT_EQ(format_duration(10min), "10m");
    EXPECT_EQ(format_duration(90min), "1h30m");
    EXPECT_EQ(format_duration(3605s), "1h5s");
    EXPECT_EQ(format_duration(1500ms), "1.5s");
    EXPECT_EQ(format_duration(61050ms), "1m1.05s");
    for (auto d : {250ms, 1500ms, 61050ms, std::chrono::milliseconds(90min),
                   std::chrono::milliseconds(3605s)}) {
        EXPECT_EQ(parse_duration(format_duration(d)), d);
    }
}

TEST(Duration, StructParsesLiteral) {
    poetryops::api::Duration d("1h30m");
    EXPECT_EQ(d.value, 90min);
    EXPECT_EQ(d.text, "1h30m");
}

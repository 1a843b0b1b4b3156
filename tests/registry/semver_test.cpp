#include <poetryops/registry/semver.hpp>

#include <gtest/gtest.h>

namespace poetryops::registry {
namespace {

bool in(std::string_view range, std::string_view version, bool pre = false) {
    auto r = SemverRange::parse(range);
    EXPECT_TRUE(r) << range << ": " << (r ? "" : r.error().message);
    auto v = parse_semver(version);
    EXPECT_TRUE(v) << version;
    return r && v && r->matches(*v, pre);
}

TEST(SemVer, ParsesAndOrders) {
    EXPECT_TRUE(parse_semver("v1.2.3"));
    EXPECT_EQ(parse_semver("1.2")->str(), "1.2.0");
    EXPECT_FALSE(parse_semver("1.2", false));
    EXPECT_FALSE(parse_semver("01.2.3"));
    EXPECT_FALSE(parse_semver("1.2.3-"));
    EXPECT_FALSE(parse_semver("latest"));
    // semver.org §11 example chain
    const char* chain[] = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
                           "1.0.0-beta",  "1.0.0-beta.2",  "1.0.0-beta.11",
                           "1.0.0-rc.1",  "1.0.0",         "1.0.1",
                           "1.10.0",      "2.0.0"};
    for (std::size_t i = 0; i + 1 < std::size(chain); ++i) {
        EXPECT_LT(*parse_semver(chain[i]), *parse_semver(chain[i + 1]))
            << chain[i] << " < " << chain[i + 1];
    }
    EXPECT_EQ(*parse_semver("1.0.0+build.1"), *parse_semver("1.0.0+build.2"));
}

TEST(SemverRange, CaretAndTilde) {
    EXPECT_TRUE(in("^1.2.3", "1.9.0"));
    EXPECT_FALSE(in("^1.2.3", "2.0.0"));
    EXPECT_FALSE(in("^1.2.3", "1.2.2"));
    EXPECT_TRUE(in("^0.2.3", "0.2.9"));
    EXPECT_FALSE(in("^0.2.3", "0.3.0"));
    EXPECT_FALSE(in("^0.0.3", "0.0.4"));
    EXPECT_TRUE(in("~1.2.3", "1.2.9"));
    EXPECT_FALSE(in("~1.2.3", "1.3.0"));
    EXPECT_TRUE(in("~1", "1.9.9"));
}

TEST(SemverRange, ComparisonsXRangesHyphenAndOr) {
    EXPECT_TRUE(in(">=1.0.0 <2.0.0", "1.5.0"));
    EXPECT_TRUE(in(">= 1.0.0, < 2.0.0", "1.5.0"));
    EXPECT_FALSE(in(">=1.0.0 <2.0.0", "2.0.0"));
    EXPECT_TRUE(in("1.x", "1.7.3"));
    EXPECT_FALSE(in("1.2.*", "1.3.0"));
    EXPECT_TRUE(in("*", "9.9.9"));
    EXPECT_TRUE(in("1.2.3 - 2.3", "2.3.9"));
    EXPECT_FALSE(in("1.2.3 - 2.3.4", "2.3.5"));
    EXPECT_TRUE(in("^1.0 || ^3.0", "3.1.0"));
    EXPECT_FALSE(in("^1.0 || ^3.0", "2.1.0"));
    EXPECT_TRUE(in(">1.2", "1.3.0"));
    EXPECT_FALSE(in(">1.2", "1.2.9"));
    EXPECT_FALSE(in("<=1.2", "1.3.0"));
    EXPECT_TRUE(in("<=1.2", "1.2.7"));
}

TEST(SemverRange, PrereleasesExcludedUnlessAskedOrNamed) {
    EXPECT_FALSE(in("^1.0.0", "1.5.0-rc.1"));
    EXPECT_TRUE(in("^1.0.0", "1.5.0-rc.1", true));
    EXPECT_TRUE(in(">=1.5.0-rc.0", "1.5.0-rc.1"));
    EXPECT_FALSE(in(">=1.5.0-rc.0", "1.6.0-rc.1"));
    EXPECT_FALSE(in("^1.0.0", "2.0.0-rc.1", true));
}

TEST(SemverRange, BadRangesAreErrors) {
    for (const char* bad : {"^a.b", ">=1.2.3.4", "1.2.3 -", "~>x.1", "=>1"}) {
        EXPECT_FALSE(SemverRange::parse(bad)) << bad;
    }
}

}  // namespace
}  // namespace poetryops::registry

#include <poetryops/registry/policy.hpp>

#include <gtest/gtest.h>

namespace poetryops::registry {
namespace {

std::vector<std::string> pick(std::string_view spec, const std::vector<std::string>& tags) {
    auto p = VersionPolicy::parse(spec);
    EXPECT_TRUE(p) << spec << ": " << (p ? "" : p.error().message);
    if (!p) return {};
    auto c = CompiledPolicy::compile(*p);
    EXPECT_TRUE(c) << spec << ": " << (c ? "" : c.error().message);
    if (!c) return {};
    std::vector<std::string> out;
    for (const auto& cand : c->select(tags)) out.push_back(cand.tag);
    return out;
}

const std::vector<std::string> kTags = {"latest", "1.10.0",      "1.2.0",        "v1.9.1",
                                        "2.0.0",  "1.11.0-rc.1", "main-abc1234", "1.2.0-ab12cd3"};

TEST(Policy, SemverOrdersNumericallyNotLexically) {
    EXPECT_EQ(pick("semver:^1.0", kTags), (std::vector<std::string>{"1.2.0", "v1.9.1", "1.10.0"}));
    EXPECT_EQ(
        pick("^1.0; prerelease", kTags),
        (std::vector<std::string>{"1.2.0-ab12cd3", "1.2.0", "v1.9.1", "1.10.0", "1.11.0-rc.1"}));
}

TEST(Policy, Pep440Specifiers) {
    std::vector<std::string> tags = {"1.4.0",    "1.4.2",     "1.4.3", "1.5.0",
                                     "1.4.5rc1", "1.4.post1", "2.0",   "1.4.5.dev0"};
    EXPECT_EQ(pick("pep440:~=1.4.0", tags),
              (std::vector<std::string>{"1.4.0", "1.4.post1", "1.4.2", "1.4.3"}));
    EXPECT_EQ(pick("~=1.4.0,!=1.4.3", tags),
              (std::vector<std::string>{"1.4.0", "1.4.post1", "1.4.2"}));
    EXPECT_EQ(pick("pep440:==1.4.*", tags),
              (std::vector<std::string>{"1.4.0", "1.4.post1", "1.4.2", "1.4.3"}));
    EXPECT_EQ(pick("pep440:~=1.4.0; prerelease", tags),
              (std::vector<std::string>{"1.4.0", "1.4.post1", "1.4.2", "1.4.3", "1.4.5.dev0",
                                        "1.4.5rc1"}));
    EXPECT_EQ(pick("pep440:>=1.4.5rc1,<2", tags), (std::vector<std::string>{"1.4.5rc1", "1.5.0"}));
    EXPECT_EQ(pick("pep440:>1.4", tags),
              (std::vector<std::string>{"1.4.2", "1.4.3", "1.5.0", "2.0"}));
    EXPECT_EQ(pick("pep440:<1.4.5", tags),
              (std::vector<std::string>{"1.4.0", "1.4.post1", "1.4.2", "1.4.3"}));
}

TEST(Policy, RegexCaptureGroupIsTheVersion) {
    std::vector<std::string> tags = {"1.2.0-ab12cd3", "1.10.0-ff00aa1", "1.9.0-0000000", "1.11.0",
                                     "junk-1.12.0-x"};
    EXPECT_EQ(pick(R"(semver:>=1.0; regex:^(\d+\.\d+\.\d+)-[0-9a-f]{7}$)", tags),
              (std::vector<std::string>{"1.2.0-ab12cd3", "1.9.0-0000000", "1.10.0-ff00aa1"}));
    std::vector<std::string> builds = {"main-9", "main-10", "main-2", "feature-50"};
    auto p = CompiledPolicy::compile(*VersionPolicy::parse(R"(natural; regex:^main-(\d+)$)"));
    ASSERT_TRUE(p);
    EXPECT_EQ(p->newest(builds)->tag, "main-10");
    EXPECT_EQ(p->newest(builds)->version, "10");
}

TEST(Policy, NewestAndNothingMatching) {
    auto p = CompiledPolicy::compile(*VersionPolicy::parse("semver:^1"));
    ASSERT_TRUE(p);
    EXPECT_EQ(p->newest(kTags)->tag, "1.10.0");
    EXPECT_FALSE(p->newest({"latest", "2.0.0"}));
}

TEST(Policy, BadSpecsAreClearErrors) {
    EXPECT_FALSE(VersionPolicy::parse("semver:^1; pep440:~=1.0"));
    EXPECT_FALSE(VersionPolicy::parse("calver:2024"));
    EXPECT_FALSE(VersionPolicy::parse("regex:"));
    auto bad_regex = CompiledPolicy::compile(*VersionPolicy::parse("regex:^(unclosed"));
    ASSERT_FALSE(bad_regex);
    EXPECT_NE(bad_regex.error().message.find("regex"), std::string::npos);
    EXPECT_FALSE(CompiledPolicy::compile(*VersionPolicy::parse("regex:^(a)(b)$")));
    EXPECT_FALSE(CompiledPolicy::compile(*VersionPolicy::parse("semver:^x.y")));
    EXPECT_FALSE(CompiledPolicy::compile(*VersionPolicy::parse("pep440:~=1")));
    EXPECT_FALSE(CompiledPolicy::compile(*VersionPolicy::parse("pep440:>=1.0.*")));
}

TEST(Policy, NaturalCompare) {
    EXPECT_LT(natural_compare("build-9", "build-10"), 0);
    EXPECT_EQ(natural_compare("a01", "a1"), 0);
    EXPECT_GT(natural_compare("b", "a9"), 0);
}

}  // namespace
}  // namespace poetryops::registry

#include <poetryops/kube/label_selector.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace poetryops::kube {
namespace {

TEST(LabelSelector, ParsesAndMatchesEveryOperator) {
    auto s =
        LabelSelector::parse("app=web, tier!=db,env in (dev, prod),!legacy,canary,zone notin (x)");
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(s->requirements().size(), 6u);
    std::map<std::string, std::string> ok = {
        {"app", "web"}, {"tier", "fe"}, {"env", "dev"}, {"canary", ""}};
    EXPECT_TRUE(s->matches(ok));
    auto bad = ok;
    bad["env"] = "staging";
    EXPECT_FALSE(s->matches(bad));
    bad = ok;
    bad["legacy"] = "1";
    EXPECT_FALSE(s->matches(bad));
    bad = ok;
    bad.erase("canary");
    EXPECT_FALSE(s->matches(bad));
    bad = ok;
    bad["zone"] = "x";
    EXPECT_FALSE(s->matches(bad));
    nlohmann::json obj = {
        {"metadata", {{"labels", {{"app", "web"}, {"env", "prod"}, {"canary", "y"}}}}}};
    EXPECT_TRUE(s->matches(obj));
}

TEST(LabelSelector, EmptyMatchesAllAndErrorsNameTheSelector) {
    auto e = LabelSelector::parse("");
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->matches(nlohmann::json::object()));
    auto bad = LabelSelector::parse("env in (dev");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("label selector \"env in (dev\""), std::string::npos);
    EXPECT_FALSE(LabelSelector::parse("a b c"));
}

}  // namespace
}  // namespace poetryops::kube

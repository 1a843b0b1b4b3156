#include <poetryops/registry/tag_template.hpp>

#include <poetryops/util/clock.hpp>

#include <gtest/gtest.h>

namespace poetryops::registry {
namespace {

TagValues values() {
    TagValues v;
    v.version = "1.4.2+local.7";
    v.sha = "ab12cd34ef567890ab12cd34ef567890ab12cd34";
    v.branch = "feature/Login";
    v.build_number = "57";
    parse_rfc3339("2026-03-04T05:06:07Z", v.timestamp);
    return v;
}

TEST(TagTemplate, RendersEveryPlaceholder) {
    EXPECT_EQ(*render_tag("{version}-{shortSha}", values()), "1.4.2-local.7-ab12cd3");
    EXPECT_EQ(*render_tag("{branch}-{buildNumber}-{timestamp}", values()),
              "feature-Login-57-20260304050607");
    EXPECT_EQ(*render_tag("sha-{sha}", values()), "sha-ab12cd34ef567890ab12cd34ef567890ab12cd34");
}

TEST(TagTemplate, UnknownPlaceholderOrMissingValueIsAnError) {
    auto r = render_tag("{version}-{commit}", values());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("{commit}"), std::string::npos);
    EXPECT_FALSE(validate_tag_template("{version"));
    EXPECT_FALSE(validate_tag_template("version}"));
    EXPECT_TRUE(validate_tag_template("{version}-{shortSha}"));
    TagValues empty;
    auto missing = render_tag("{buildNumber}", empty);
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("{buildNumber}"), std::string::npos);
}

TEST(TagTemplate, ResultIsAlwaysAValidTag) {
    auto v = values();
    v.branch = "-weird/branch name++";
    auto r = render_tag("{branch}", v);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->size() <= 128);
    EXPECT_NE(r->front(), '-');
    for (char c : *r)
        EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')
            << *r;
    v.branch = std::string(300, 'x');
    EXPECT_EQ(render_tag("{branch}", v)->size(), 128u);
}

}  // namespace
}  // namespace poetryops::registry

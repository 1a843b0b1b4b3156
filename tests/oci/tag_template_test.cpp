#include <poetryops/oci/tag_template.hpp>

#include <poetryops/util/clock.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

namespace poetryops::oci {
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

TEST(TagTemplate, ValidationIsRenderingAndReadingBack) {
    for (const auto& p : tag_placeholders()) {
        std::string tmpl = "x{" + std::string(p.name) + "}";
        EXPECT_EQ(tag_template_problem(tmpl), "") << tmpl;
        EXPECT_TRUE(validate_tag_template(tmpl)) << tmpl;
        // What the placeholder renders is what the read-back pattern matches.
        auto rendered = render_tag(tmpl, values());
        ASSERT_TRUE(rendered) << rendered.error().message;
        std::regex re(tag_template_regex(tmpl, {p.name}));
        std::smatch m;
        ASSERT_TRUE(std::regex_match(*rendered, m, re)) << tmpl << " -> " << *rendered;
        EXPECT_EQ("x" + m[1].str(), *rendered);
    }
    EXPECT_THAT(tag_template_problem("{version}-{commit}"),
                testing::HasSubstr("unknown placeholder {commit}"));
    EXPECT_THAT(tag_template_problem("{version}+1"), testing::HasSubstr("'+'"));
    EXPECT_FALSE(render_tag("{version}+1", values()))
        << "the renderer refuses what validation does";
    EXPECT_THAT(tag_template_problem("-{version}"), testing::HasSubstr("starting with"));
    EXPECT_THAT(tag_template_problem(""), testing::HasSubstr("empty"));
}

TEST(TagTemplate, RegexCapturesTheNamedPlaceholders) {
    std::smatch m;
    std::string tag = "1.4.2-local.7-ab12cd3";
    ASSERT_TRUE(std::regex_match(
        tag, m, std::regex(tag_template_regex("{version}-{shortSha}", {"version"}))));
    EXPECT_EQ(m[1].str(), "1.4.2-local.7");
    ASSERT_TRUE(std::regex_match(
        tag, m, std::regex(tag_template_regex("{version}-{shortSha}", {"shortSha", "sha"}))));
    EXPECT_EQ(m[1].str(), "ab12cd3");
    tag = "v1.4.2.build-57";
    ASSERT_TRUE(std::regex_match(
        tag, m, std::regex(tag_template_regex("v{version}.build-{buildNumber}", {"version"}))));
    EXPECT_EQ(m[1].str(), "1.4.2");
}

}  // namespace
}  // namespace poetryops::oci

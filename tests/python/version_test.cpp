#include <poetryops/python/version.hpp>

#include <poetryops/oci/grammar.hpp>

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace poetryops::python {
namespace {

std::string norm(std::string_view text) {
    auto v = parse_version(text);
    EXPECT_TRUE(v.has_value()) << text << ": " << (v ? "" : v.error().message);
    return v ? v->str() : std::string("<error>");
}

Version ver(std::string_view text) {
    auto v = parse_version(text);
    EXPECT_TRUE(v.has_value()) << text;
    return v ? *v : Version{};
}

TEST(Version, ParsesComponents) {
    Version v = ver("2!1.4.2rc1.post2.dev3+Ubuntu.01");
    EXPECT_EQ(v.epoch, 2);
    EXPECT_EQ(v.release, (std::vector<long long>{1, 4, 2}));
    ASSERT_TRUE(v.pre.has_value());
    EXPECT_EQ(v.pre->first, 'c');
    EXPECT_EQ(v.pre->second, 1);
    EXPECT_EQ(v.post, 2);
    EXPECT_EQ(v.dev, 3);
    EXPECT_EQ(v.local, (std::vector<std::string>{"ubuntu", "1"}));
    EXPECT_TRUE(v.is_prerelease());
    EXPECT_EQ(v.str(), "2!1.4.2rc1.post2.dev3+ubuntu.1");
    EXPECT_FALSE(ver("1.0.post1").is_prerelease());
    EXPECT_TRUE(ver("1.0.dev1").is_prerelease());
}

// The normalisation examples of PEP 440 ("Normalization" section).
TEST(Version, NormalisesTheSpellingsOfPep440) {
    const std::vector<std::pair<const char*, const char*>> cases = {
        {"1.0", "1.0"},
        {"1.0.0", "1.0.0"},
        {"1.1RC1", "1.1rc1"},
        {"1.1.a1", "1.1a1"},
        {"1.1-a1", "1.1a1"},
        {"1.1_a1", "1.1a1"},
        {"1.0alpha1", "1.0a1"},
        {"1.0beta2", "1.0b2"},
        {"1.0c1", "1.0rc1"},
        {"1.0pre1", "1.0rc1"},
        {"1.0preview1", "1.0rc1"},
        {"1.2.a", "1.2a0"},
        {"1.2a", "1.2a0"},
        {"1.0-alpha.1", "1.0a1"},
        {"1.2-post2", "1.2.post2"},
        {"1.2post2", "1.2.post2"},
        {"1.2_post2", "1.2.post2"},
        {"1.0.post-2", "1.0.post2"},
        {"1.0-r4", "1.0.post4"},
        {"1.0-rev4", "1.0.post4"},
        {"1.0_r1", "1.0.post1"},
        {"1.2.post", "1.2.post0"},
        {"1.0-1", "1.0.post1"},
        {"1.2-dev2", "1.2.dev2"},
        {"1.2dev2", "1.2.dev2"},
        {"1.2.dev", "1.2.dev0"},
        {"1.0+ubuntu-1", "1.0+ubuntu.1"},
        {"1.0+ubuntu_1", "1.0+ubuntu.1"},
        {"1.0+Ubuntu.007", "1.0+ubuntu.7"},
        {"00", "0"},
        {"09000", "9000"},
        {"1.0.01", "1.0.1"},
        {"v1.0", "1.0"},
        {"V1.0", "1.0"},
        {"  1.0\n", "1.0"},
        {"1!2.0", "1!2.0"},
        {"0!2.0", "2.0"},
    };
    for (const auto& [in, want] : cases) EXPECT_EQ(norm(in), want) << in;
}

TEST(Version, RejectsTextThatIsNotPep440) {
    for (const char* bad : {"",
                            "   ",
                            "abc",
                            "v",
                            "1.0+",
                            "1.0+abc..1",
                            "1.0-",
                            "1.0 beta",
                            "1..0",
                            "1.0+ab_",
                            "1.0+\xc3\xa1",
                            "1.0.",
                            "1!",
                            "!1.0",
                            "1.0a1b2",
                            "1.0-dev-x",
                            "1.0.post1.post2",
                            "1.0/2",
                            "99999999999999999999999",
                            "1.0+local space"}) {
        auto v = parse_version(bad);
        EXPECT_FALSE(v.has_value()) << "accepted: \"" << bad << "\"";
        if (!v) {
            EXPECT_EQ(v.error().kind, Error::Kind::invalid);
            EXPECT_NE(v.error().message.find("invalid PEP 440 version"), std::string::npos)
                << v.error().message;
        }
    }
}

TEST(Version, ErrorNamesTheOffendingText) {
    auto v = parse_version("1.0-banana");
    ASSERT_FALSE(v.has_value());
    EXPECT_NE(v.error().message.find("\"1.0-banana\""), std::string::npos) << v.error().message;
    EXPECT_NE(v.error().message.find("banana"), std::string::npos);
}

// PEP 440's own example of a strictly increasing sequence ("Summary of permitted suffixes and
// relative ordering").
TEST(Version, OrdersThePep440ExampleSequence) {
    const std::vector<const char*> ordered = {
        "1.dev0",
        "1.0.dev456",
        "1.0a1",
        "1.0a2.dev456",
        "1.0a12.dev456",
        "1.0a12",
        "1.0b1.dev456",
        "1.0b2",
        "1.0b2.post345.dev456",
        "1.0b2.post345",
        "1.0rc1.dev456",
        "1.0rc1",
        "1.0",
        "1.0+abc.5",
        "1.0+abc.7",
        "1.0+5",
        "1.0.post456.dev34",
        "1.0.post456",
        "1.0.15",
        "1.1.dev1",
    };
    for (std::size_t i = 0; i < ordered.size(); ++i) {
        for (std::size_t j = 0; j < ordered.size(); ++j) {
            auto c = compare(ver(ordered[i]), ver(ordered[j]));
            if (i < j) {
                EXPECT_TRUE(c < 0) << ordered[i] << " < " << ordered[j];
            } else if (i == j) {
                EXPECT_TRUE(c == 0) << ordered[i];
            } else {
                EXPECT_TRUE(c > 0) << ordered[i] << " > " << ordered[j];
            }
        }
    }
}

TEST(Version, OrdersEpochsFirst) {
    const std::vector<const char*> ordered = {"2013.10", "2014.04", "1!1.0", "1!1.1", "1!2.0"};
    for (std::size_t i = 0; i + 1 < ordered.size(); ++i) {
        EXPECT_LT(ver(ordered[i]), ver(ordered[i + 1])) << ordered[i] << " < " << ordered[i + 1];
    }
}

TEST(Version, ComparesEqualAcrossSpellingsAndTrailingZeros) {
    EXPECT_EQ(ver("1.0"), ver("1.0.0"));
    EXPECT_EQ(ver("1"), ver("1.0.0.0"));
    EXPECT_EQ(ver("1.0alpha1"), ver("1.0a1"));
    EXPECT_EQ(ver("v1.0-1"), ver("1.0.post1"));
    EXPECT_LT(ver("1.0"), ver("1.0.1"));
    EXPECT_LT(ver("1.9"), ver("1.10"));
    EXPECT_LT(ver("1.0rc1"), ver("1.0"));
    EXPECT_LT(ver("1.0a9"), ver("1.0b1"));
    EXPECT_LT(ver("1.0+abc"), ver("1.0+abc.1"));  // a prefix sorts first
    EXPECT_LT(ver("1.0+zzz"), ver("1.0+1"));  // numeric local segments sort after alphanumeric ones
    EXPECT_LT(ver("1.0+9"), ver("1.0+10"));   // and compare numerically
    EXPECT_LT(ver("1.0.post1"), ver("1.0.1"));
}

TEST(Version, OciTagMapsLocalSeparatorAndInvalidCharacters) {
    EXPECT_EQ(oci_tag(ver("1.4.2")), "1.4.2");
    EXPECT_EQ(oci_tag(ver("1.4.2rc1.post2.dev3")), "1.4.2rc1.post2.dev3");
    EXPECT_EQ(oci_tag(ver("1.0+ubuntu-1")), "1.0-ubuntu.1");
    EXPECT_EQ(oci_tag(ver("1!2.0")), "1-2.0");
    // Long local parts are cut to the 128 characters a tag may have.
    std::string long_local = "1.0+" + std::string(200, 'x');
    std::string tag = oci_tag(ver(long_local));
    EXPECT_EQ(tag.size(), 128u);
    EXPECT_TRUE(oci::is_valid_tag(tag));
    EXPECT_EQ(tag.substr(0, 5), "1.0-x");
}

}  // namespace
}  // namespace poetryops::python

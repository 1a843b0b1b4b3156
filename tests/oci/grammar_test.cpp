// The one OCI reference grammar: every module that reads or writes image references asks it.
#include <poetryops/oci/grammar.hpp>

#include <gtest/gtest.h>

#include <string>

namespace poetryops::oci {
namespace {

TEST(Tag, Grammar) {
    EXPECT_TRUE(is_valid_tag("latest"));
    EXPECT_TRUE(is_valid_tag("_x"));
    EXPECT_TRUE(is_valid_tag("1.0-rc.1_b"));
    EXPECT_TRUE(is_valid_tag("V1"));
    EXPECT_TRUE(is_valid_tag(std::string(128, 'a')));
    EXPECT_FALSE(is_valid_tag(std::string(129, 'a')));
    EXPECT_FALSE(is_valid_tag(""));
    EXPECT_FALSE(is_valid_tag(".x"));
    EXPECT_FALSE(is_valid_tag("-x"));
    EXPECT_FALSE(is_valid_tag("1.0+local"));
    EXPECT_FALSE(is_valid_tag("a/b"));
}

TEST(Tag, SanitizesArbitraryText) {
    EXPECT_EQ(sanitize_tag("feature/new thing"), "feature-new-thing");
    EXPECT_EQ(sanitize_tag("1.0+g1234"), "1.0-g1234");
    EXPECT_EQ(sanitize_tag(".hidden"), "_hidden");
    EXPECT_EQ(sanitize_tag("-x"), "_x");
    EXPECT_EQ(sanitize_tag(""), "_");
    EXPECT_EQ(sanitize_tag("Main_1.2-3"), "Main_1.2-3");
    EXPECT_EQ(sanitize_tag(std::string(300, 'a')).size(), 128u);
    for (const char* t : {"feature/new thing", ".hidden", "", "\xc3\xa9t\xc3\xa9", "a:b@c"}) {
        EXPECT_TRUE(is_valid_tag(sanitize_tag(t))) << t;
    }
}

TEST(Digest, Sha256AndSha512WithLowerCaseHex) {
    EXPECT_TRUE(is_valid_digest("sha256:" + std::string(64, 'a')));
    EXPECT_TRUE(is_valid_digest("sha512:" + std::string(128, '0')));
    EXPECT_FALSE(is_valid_digest("sha256:" + std::string(63, 'a')));
    EXPECT_FALSE(is_valid_digest("sha256:" + std::string(64, 'A')));
    EXPECT_FALSE(is_valid_digest("sha512:" + std::string(64, 'a')));
    EXPECT_FALSE(is_valid_digest(std::string(64, 'a')));
    auto md5 = validate_digest("md5:d41d8cd98f00b204e9800998ecf8427e");
    ASSERT_FALSE(md5);
    EXPECT_NE(md5.error().message.find("unsupported digest algorithm 'md5'"), std::string::npos);
    auto none = validate_digest("abc");
    ASSERT_FALSE(none);
    EXPECT_NE(none.error().message.find("has no algorithm"), std::string::npos);
}

TEST(PathComponent, Separators) {
    EXPECT_TRUE(is_valid_path_component("a"));
    EXPECT_TRUE(is_valid_path_component("b__c"));
    EXPECT_TRUE(is_valid_path_component("d-e.f"));
    EXPECT_TRUE(is_valid_path_component("a---b"));
    EXPECT_FALSE(is_valid_path_component(""));
    EXPECT_FALSE(is_valid_path_component("A"));
    EXPECT_FALSE(is_valid_path_component("a___b"));
    EXPECT_FALSE(is_valid_path_component("a..b"));
    EXPECT_FALSE(is_valid_path_component("b_"));
    EXPECT_FALSE(is_valid_path_component("-a"));
}

TEST(Host, NamesAddressesAndPorts) {
    for (const char* h :
         {"localhost", "localhost:5000", "registry.example.com", "Registry.Example.COM:443",
          "127.0.0.1:5000", "[::1]", "[::1]:5000", "[fe80::1]:443", "a-b.c"}) {
        EXPECT_TRUE(is_valid_host(h)) << h;
    }
    for (const char* h :
         {"", ":5000", "host:", "host:0", "host:65536", "host:12a", "-host", "host-", "a..b", "a_b",
          "[zz::1]", "[::1", "[]", "[::1]x", "host:5000:1"}) {
        EXPECT_FALSE(is_valid_host(h)) << h;
    }
    EXPECT_FALSE(is_valid_host(std::string(64, 'a') + ".com"))
        << "a label has at most 63 characters";
}

TEST(Host, WhatLooksLikeARegistry) {
    EXPECT_TRUE(looks_like_host("registry.example.com"));
    EXPECT_TRUE(looks_like_host("localhost"));
    EXPECT_TRUE(looks_like_host("host:5000"));
    EXPECT_TRUE(looks_like_host("[::1]"));
    EXPECT_TRUE(looks_like_host("Upper"));
    EXPECT_FALSE(looks_like_host("library"));
    EXPECT_FALSE(looks_like_host("acme"));
}

}  // namespace
}  // namespace poetryops::oci

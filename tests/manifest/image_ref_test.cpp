#include <poetryops/manifest/image_ref.hpp>

#include <gtest/gtest.h>

namespace poetryops::manifest {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

TEST(ImageRef, ParsesRegistryWithPortAndTag) {
    auto r = parse_image_ref("localhost:5000/app:1.0");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->domain, "localhost:5000");
    EXPECT_EQ(r->path, "app");
    EXPECT_EQ(r->tag, "1.0");
    EXPECT_EQ(r->digest, "");
    EXPECT_EQ(r->str(), "localhost:5000/app:1.0");
}

TEST(ImageRef, ParsesDigestOnlyAndTagPlusDigest) {
    auto d = parse_image_ref("app@" + kDigest);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->path, "app");
    EXPECT_EQ(d->tag, "");
    EXPECT_EQ(d->digest, kDigest);
    auto td = parse_image_ref("ghcr.io/acme/app:1.0@" + kDigest);
    ASSERT_TRUE(td);
    EXPECT_EQ(td->domain, "ghcr.io");
    EXPECT_EQ(td->path, "acme/app");
    EXPECT_EQ(td->tag, "1.0");
    EXPECT_EQ(td->digest, kDigest);
    EXPECT_EQ(td->str(), "ghcr.io/acme/app:1.0@" + kDigest);
}

TEST(ImageRef, RegistryPortIsNotATag) {
    auto r = parse_image_ref("localhost:5000/app");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->domain, "localhost:5000");
    EXPECT_EQ(r->tag, "");
    // "acme" has no dot or port: a Docker Hub namespace
    auto first = parse_image_ref("acme/app:2");
    ASSERT_TRUE(first);
    EXPECT_EQ(first->domain, "");
    EXPECT_EQ(first->path, "acme/app");
}

TEST(ImageRef, NormalisesDockerHubForMatching) {
    EXPECT_EQ(normalize_image_name("nginx"), "docker.io/library/nginx");
    EXPECT_EQ(normalize_image_name("docker.io/nginx"), "docker.io/library/nginx");
    EXPECT_EQ(normalize_image_name("index.docker.io/library/nginx"), "docker.io/library/nginx");
    EXPECT_EQ(normalize_image_name("acme/app"), "docker.io/acme/app");
    EXPECT_TRUE(same_image_name("nginx", "docker.io/library/nginx"));
    EXPECT_FALSE(same_image_name("nginx", "ghcr.io/nginx"));
    EXPECT_FALSE(same_image_name("acme/app", "acme/app2"));
}

TEST(ImageRef, RejectsInvalidReferencesWithAReason) {
    auto upper = parse_image_ref("Acme/App:1");
    ASSERT_FALSE(upper);
    EXPECT_NE(upper.error().message.find("lower-case"), std::string::npos);
    EXPECT_FALSE(parse_image_ref("app@sha256:abc"));                      // short digest
    EXPECT_FALSE(parse_image_ref("app@sha256:" + std::string(64, 'A')));  // upper-case hex
    EXPECT_FALSE(parse_image_ref("app:"));
    EXPECT_FALSE(parse_image_ref("app:-bad"));
    EXPECT_FALSE(parse_image_ref(""));
    EXPECT_FALSE(parse_image_ref("a//b"));
    EXPECT_FALSE(parse_image_ref("a/b_"));
    EXPECT_FALSE(parse_image_ref("{{ .Values.image }}"));
    EXPECT_TRUE(parse_image_ref("a/b__c/d-e.f:v1.2-rc_3"));
}

TEST(ImageRef, DigestsAndTagsFollowTheOneOciGrammar) {
    EXPECT_TRUE(parse_image_ref("app@" + std::string(kDigest)));
    EXPECT_TRUE(
        parse_image_ref("app@sha512:" + std::string(128, 'a')));  // as the registry accepts them
    auto short512 = parse_image_ref("app@sha512:" + std::string(64, 'a'));
    ASSERT_FALSE(short512);
    EXPECT_NE(short512.error().message.find("sha512 needs 128"), std::string::npos)
        << short512.error().message;
    EXPECT_TRUE(parse_image_ref("app:v1.2.3-rc.1_b"));
    EXPECT_FALSE(parse_image_ref("app:" + std::string(129, 'a')));
    EXPECT_FALSE(parse_image_ref("app:.x"));
}

}  // namespace
}  // namespace poetryops::manifest

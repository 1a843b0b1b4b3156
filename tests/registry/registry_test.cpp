#include <poetryops/registry/registry.hpp>

#include <gtest/gtest.h>

namespace poetryops::registry {
namespace {

const std::string A = "sha256:" + std::string(64, 'a');
const std::string B = "sha256:" + std::string(64, 'b');

Manifest index_of(std::string body, std::string_view type = media::oci_index) {
    return Manifest{std::move(body), std::string(type), "sha256:" + std::string(64, 'f')};
}

const std::string kIndex = R"({"schemaVersion":2,"manifests":[
  {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                           A + R"(","size":10,
   "platform":{"os":"linux","architecture":"amd64"}},
  {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                           B + R"(","size":11,
   "platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]})";

TEST(Platform, SelectsTheMatchingChild) {
    auto arm = select_platform(index_of(kIndex), *parse_platform("linux/arm64"));
    ASSERT_TRUE(arm) << arm.error().message;
    EXPECT_EQ(arm->digest, B);
    EXPECT_EQ(arm->platform->variant, "v8");
    EXPECT_EQ(select_platform(index_of(kIndex), *parse_platform("linux/arm64/v8"))->digest, B);
    EXPECT_FALSE(select_platform(index_of(kIndex), *parse_platform("linux/arm64/v7")));
    auto none = select_platform(index_of(kIndex), *parse_platform("windows/amd64"));
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().kind, Error::Kind::not_found);
    EXPECT_NE(none.error().message.find("linux/amd64, linux/arm64/v8"), std::string::npos)
        << none.error().message;
    EXPECT_EQ(select_platform(index_of(kIndex, media::docker_manifest_list),
                              *parse_platform("linux/amd64"))
                  ->digest,
              A);
}

TEST(Platform, NonIndexesAndGarbageAreErrors) {
    EXPECT_EQ(index_children(index_of(kIndex, media::oci_manifest)).error().kind,
              Error::Kind::invalid);
    EXPECT_EQ(index_children(index_of("{\"manifests\": [")).error().kind, Error::Kind::decode);
    EXPECT_EQ(index_children(index_of(R"({"manifests":{}})")).error().kind, Error::Kind::decode);
    EXPECT_FALSE(index_children(index_of(R"({"manifests":[{"digest":"sha256:short"}]})")));
    for (const char* bad : {"linux", "linux/", "/amd64", "a/b/c/d", ""})
        EXPECT_FALSE(parse_platform(bad)) << bad;
}

TEST(MediaTypes, ManifestAndIndexTypes) {
    EXPECT_TRUE(is_manifest_media_type(media::docker_manifest));
    EXPECT_FALSE(
        is_manifest_media_type("application/vnd.docker.distribution.manifest.v1+prettyjws"));
    EXPECT_TRUE(is_index_media_type(media::docker_manifest_list));
    EXPECT_FALSE(is_index_media_type(media::oci_manifest));
}

}  // namespace
}  // namespace poetryops::registry

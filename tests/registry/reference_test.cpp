#include <poetryops/registry/reference.hpp>

#include <poetryops/oci/grammar.hpp>

#include <gtest/gtest.h>

namespace poetryops::registry {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

TEST(Reference, DockerHubShortNamesAreNormalised) {
    auto r = parse_reference("nginx");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->registry, "docker.io");
    EXPECT_EQ(r->repository, "library/nginx");
    EXPECT_EQ(r->identifier(), "latest");
    EXPECT_EQ(r->api_host(), "registry-1.docker.io");
    EXPECT_EQ(parse_reference("acme/app:1.0")->repository, "acme/app");
}

TEST(Reference, HostPortTagAndDigest) {
    auto r = parse_reference("127.0.0.1:5000/demo/app:1.4.2@" + kDigest);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->registry, "127.0.0.1:5000");
    EXPECT_EQ(r->repository, "demo/app");
    EXPECT_EQ(r->tag, "1.4.2");
    EXPECT_EQ(r->digest, kDigest);
    EXPECT_EQ(r->identifier(), kDigest);
    EXPECT_EQ(r->str(), "127.0.0.1:5000/demo/app:1.4.2@" + kDigest);
    EXPECT_EQ(parse_reference("localhost/app")->registry, "localhost");
    EXPECT_EQ(parse_reference("[::1]:5000/app:x")->registry, "[::1]:5000");
}

TEST(Reference, RejectsUpperCaseRepository) {
    auto r = parse_reference("ghcr.io/Acme/app:1");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::invalid);
    EXPECT_NE(r.error().message.find("lower case"), std::string::npos) << r.error().message;
}

TEST(Reference, RejectsBadDigestsAndTags) {
    for (const std::string& bad : std::vector<std::string>{
             "app@sha256:abc", "app@sha256:" + std::string(64, 'A'),
             "app@md5:" + std::string(32, 'a'), "app:-bad", "app:" + std::string(129, 'a'),
             "app:", "", "https://ghcr.io/a/b", "ghcr.io/a//b", "ghcr.io/a/b-", "bad host!/a"}) {
        auto r = parse_reference(bad);
        EXPECT_FALSE(r) << bad;
        if (!r) {
            EXPECT_EQ(r.error().kind, Error::Kind::invalid);
            EXPECT_FALSE(r.error().message.empty());
        }
    }
}

TEST(Reference, RepositoryOnly) {
    EXPECT_TRUE(parse_repository("127.0.0.1:5000/demo/app"));
    EXPECT_FALSE(parse_repository("demo/app:1.0"));
    EXPECT_FALSE(parse_repository("demo/app@" + kDigest));
}

TEST(Reference, RegistryHostNormalisation) {
    EXPECT_EQ(normalize_registry_host("https://index.docker.io/v1/"), "docker.io");
    EXPECT_EQ(normalize_registry_host("registry-1.docker.io"), "docker.io");
    EXPECT_EQ(normalize_registry_host("index.docker.io"), "docker.io");
    EXPECT_EQ(normalize_registry_host("GHCR.io"), "ghcr.io");
    EXPECT_EQ(normalize_registry_host("http://127.0.0.1:5000"), "127.0.0.1:5000");
}

TEST(Digest, ComputeAndVerify) {
    EXPECT_EQ(compute_digest(""),
              "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_TRUE(verify_digest(
        "", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "x"));
    auto bad = verify_digest("tampered", compute_digest("original"), "blob");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().reason, "DIGEST_MISMATCH");
    EXPECT_TRUE(verify_digest("abc", compute_digest("abc", "sha512"), "x"));
    EXPECT_FALSE(oci::validate_digest("sha256:" + std::string(63, 'a')));
}

}  // namespace
}  // namespace poetryops::registry

#include <poetryops/registry/layout.hpp>

#include <poetryops/util/fs.hpp>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace poetryops::registry {
namespace {

const std::string kManifest =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:)" +
    std::string(64, 'c') + R"(","size":2},"layers":[]})";

Reference repo(const char* name = "demo/app") {
    return *parse_repository(std::string("localhost/") + name);
}

TEST(Layout, PutResolveListAndRetag) {
    TempDir dir;
    LayoutRegistry reg(dir.path());
    auto put = reg.put_manifest(repo(), "1.0.0", kManifest, media::oci_manifest);
    ASSERT_TRUE(put) << put.error().message;
    EXPECT_EQ(put->digest, compute_digest(kManifest));
    auto ref = repo();
    ref.tag = "1.0.0";
    auto d = reg.resolve(ref);
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->digest, put->digest);
    EXPECT_EQ(d->media_type, media::oci_manifest);
    EXPECT_EQ(d->size, static_cast<std::int64_t>(kManifest.size()));
    auto retagged = retag(reg, ref, "stable");
    ASSERT_TRUE(retagged) << retagged.error().message;
    EXPECT_EQ(retagged->digest, put->digest);
    EXPECT_EQ(*reg.list_tags(repo()), (std::vector<std::string>{"1.0.0", "stable"}));
    // Re-pointing a tag replaces the entry instead of adding a second one.
    std::string other = kManifest + " ";
    ASSERT_TRUE(reg.put_manifest(repo(), "stable", other, media::oci_manifest));
    EXPECT_EQ(reg.list_tags(repo())->size(), 2u);
    ref.tag = "stable";
    EXPECT_EQ(reg.resolve(ref)->digest, compute_digest(other));
    auto by_digest = repo();
    by_digest.digest = put->digest;
    EXPECT_EQ(reg.get_manifest(by_digest)->bytes, kManifest);
    // Layout files are what the OCI spec says.
    auto index = nlohmann::json::parse(*read_file(dir.path() / "index.json"));
    EXPECT_EQ(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "1.0.0");
    EXPECT_TRUE(std::filesystem::exists(dir.path() / "oci-layout"));
}

TEST(Layout, TamperedBlobIsRefused) {
    TempDir dir;
    LayoutRegistry reg(dir.path());
    auto put = reg.put_manifest(repo(), "1.0.0", kManifest, media::oci_manifest);
    ASSERT_TRUE(put);
    auto blob = dir.path() / "blobs" / "sha256" / put->digest.substr(7);
    std::filesystem::permissions(blob, std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::add);
    ASSERT_TRUE(write_file_atomic(blob, kManifest + "\n"));
    auto ref = repo();
    ref.tag = "1.0.0";
    auto r = reg.resolve(ref);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, "DIGEST_MISMATCH");
    EXPECT_NE(r.error().message.find(put->digest), std::string::npos);
}

TEST(Layout, MissingThingsAndGarbageAreClearErrors) {
    TempDir dir;
    LayoutRegistry reg(dir.path());
    auto ref = repo();
    ref.tag = "nope";
    EXPECT_EQ(reg.resolve(ref).error().kind, Error::Kind::not_found);  // not a layout yet
    ASSERT_TRUE(reg.put_manifest(repo(), "1", kManifest, media::oci_manifest));
    EXPECT_EQ(reg.resolve(ref).error().reason, "MANIFEST_UNKNOWN");
    ASSERT_TRUE(write_file_atomic(dir.path() / "index.json", "{\"manifests\": [ {\"digest\": 7"));
    auto r = reg.list_tags(repo());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::decode);
    EXPECT_NE(r.error().message.find("index.json"), std::string::npos);
    EXPECT_FALSE(reg.put_manifest(repo(), "bad tag", kManifest, media::oci_manifest));
    EXPECT_FALSE(reg.put_manifest(repo(), "ok", kManifest, "application/octet-stream"));
}

TEST(Layout, RepositorySubdirectories) {
    TempDir dir;
    LayoutRegistry reg(dir.path(), LayoutOptions{.repository_subdirs = true});
    ASSERT_TRUE(reg.put_manifest(repo("a/one"), "1", kManifest, media::oci_manifest));
    ASSERT_TRUE(reg.put_manifest(repo("b"), "2", kManifest, media::oci_manifest));
    EXPECT_TRUE(std::filesystem::exists(dir.path() / "a/one/index.json"));
    EXPECT_EQ(*reg.list_tags(repo("b")), std::vector<std::string>{"2"});
}

TEST(Layout, OciReferenceSyntax) {
    auto r = parse_layout_reference("oci:/tmp/x:1.0");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->dir, "/tmp/x");
    EXPECT_EQ(r->ref.tag, "1.0");
    auto d = parse_layout_reference("oci:rel/dir@sha256:" + std::string(64, 'a'));
    ASSERT_TRUE(d);
    EXPECT_EQ(d->dir, "rel/dir");
    EXPECT_FALSE(parse_layout_reference("oci:/tmp/x@sha256:zz"));
    EXPECT_FALSE(parse_layout_reference("oci:"));
}

}  // namespace
}  // namespace poetryops::registry

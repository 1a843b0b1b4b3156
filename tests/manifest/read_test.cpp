#include <poetryops/manifest/read.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace poetryops::manifest {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

SetImageRequest req(const std::string& name) {
    SetImageRequest r;
    r.name = name;
    return r;
}

TEST(FindPinnedImage, KustomizeEntryWithNewNameTagAndDigest) {
    std::string text =
        "resources: [deploy.yaml]\nimages:\n- name: other\n  newTag: '1'\n- name: acme/billing\n"
        "  newName: reg.example.com/acme/billing\n  newTag: 1.4.2\n  digest: " +
        kDigest + "\n";
    auto p = find_pinned_image(text, req("acme/billing"), Kind::kustomize);
    ASSERT_TRUE(p);
    ASSERT_TRUE(*p);
    EXPECT_EQ((*p)->image, "reg.example.com/acme/billing:1.4.2@" + kDigest);
    EXPECT_EQ((*p)->tag, "1.4.2");
    EXPECT_EQ((*p)->digest, kDigest);
    EXPECT_EQ((*p)->line, 5);
    auto none = find_pinned_image(text, req("acme/unknown"), Kind::kustomize);
    ASSERT_TRUE(none);
    EXPECT_FALSE(*none);
}

TEST(FindPinnedImage, WorkloadContainersAcrossDocumentsAndCronJobs) {
    std::string text =
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\napiVersion: batch/v1\nkind: "
        "CronJob\n"
        "spec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n"
        "          - name: sidecar\n            image: envoy:1.30\n          - name: app\n"
        "            image: localhost:5000/acme/billing:1.4.2@" +
        kDigest + "\n";
    auto p = find_pinned_image(text, req("localhost:5000/acme/billing"), Kind::yaml);
    ASSERT_TRUE(p);
    ASSERT_TRUE(*p);
    EXPECT_EQ((*p)->tag, "1.4.2");
    EXPECT_EQ((*p)->digest, kDigest);
    EXPECT_EQ((*p)->line, 16);
}

TEST(FindPinnedImage, HelmValuesTagDigestAndRepository) {
    std::string text =
        "image:\n  repository: reg/acme/billing\n  tag: \"1.4.2\"\n  digest: " + kDigest + "\n";
    auto p = find_pinned_image(text, req("reg/acme/billing"), Kind::helm);
    ASSERT_TRUE(p);
    ASSERT_TRUE(*p);
    EXPECT_EQ((*p)->image, "reg/acme/billing:1.4.2@" + kDigest);
    std::string combined = "image:\n  tag: 1.4.2@" + kDigest + "\n";
    SetImageRequest r = req("reg/acme/billing");
    r.helm_digest_path.clear();
    p = find_pinned_image(combined, r, Kind::helm);
    ASSERT_TRUE(p && *p);
    EXPECT_EQ((*p)->tag, "1.4.2");
    EXPECT_EQ((*p)->digest, kDigest);
    auto other = find_pinned_image(text, req("reg/acme/other"), Kind::helm);
    ASSERT_TRUE(other);
    EXPECT_FALSE(*other);
}

// The environment folder of a canary: a stable and a canary workload running the same image.
const std::string kTwoWorkloads =
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: billing\nspec:\n  template:\n"
    "    spec:\n      containers:\n      - name: app\n        image: reg/acme/billing:1.3.0@" +
    kDigest +
    "\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: billing-canary\nspec:\n"
    "  template:\n    spec:\n      containers:\n      - name: app\n"
    "        image: reg/acme/billing:1.4.2@sha256:" +
    std::string(64, 'b') + "\n";

TEST(FindPinnedImage, WorkloadReadsOnlyThatWorkload) {
    SetImageRequest r = req("reg/acme/billing");
    auto first = find_pinned_image(kTwoWorkloads, r, Kind::yaml);
    ASSERT_TRUE(first && *first);
    EXPECT_EQ((*first)->tag, "1.3.0");  // without a workload: the first container running it
    r.workload = "billing-canary";
    auto canary = find_pinned_image(kTwoWorkloads, r, Kind::yaml);
    ASSERT_TRUE(canary && *canary);
    EXPECT_EQ((*canary)->tag, "1.4.2");
    EXPECT_EQ((*canary)->line, 21);
    r.workload = "billing";
    auto stable = find_pinned_image(kTwoWorkloads, r, Kind::yaml);
    ASSERT_TRUE(stable && *stable);
    EXPECT_EQ((*stable)->tag, "1.3.0");
    r.workload = "billing-v2";
    auto none = find_pinned_image(kTwoWorkloads, r, Kind::yaml);
    ASSERT_TRUE(none);
    EXPECT_FALSE(*none);
    // A Service of that name runs no containers; a document without metadata is no workload.
    r.workload = "svc";
    auto svc = find_pinned_image(
        "kind: Service\nmetadata: {name: svc}\nspec: {}\n---\nkind: Pod\nspec:\n  containers:\n"
        "  - {name: a, image: reg/acme/billing:1}\n",
        r, Kind::yaml);
    ASSERT_TRUE(svc) << svc.error().message;
    EXPECT_FALSE(*svc);
}

TEST(FindPinnedImage, WorkloadWithAnotherKindIsRefusedNamingTheField) {
    SetImageRequest r = req("reg/acme/billing");
    r.workload = "billing-canary";
    for (Kind k : {Kind::kustomize, Kind::helm, Kind::auto_detect, Kind::marker}) {
        auto p = find_pinned_image(kTwoWorkloads, r, k);
        ASSERT_FALSE(p);
        EXPECT_EQ(p.error().reason, "InvalidRequest");
        EXPECT_THAT(p.error().message, testing::HasSubstr("workload \"billing-canary\""));
    }
}

TEST(FindPinnedImage, InvalidYamlNamesTheLine) {
    auto p = find_pinned_image("images:\n- name: [unclosed\n", req("x"), Kind::kustomize);
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().kind, Error::Kind::decode);
    EXPECT_EQ(p.error().message.rfind("line ", 0), 0u) << p.error().message;
}

TEST(FindPinnedImage, ABillionLaughsOrDeepNestingIsRefusedAtOnceNotWalked) {
    // Nine levels of ten aliases under a Deployment: 10^9 nodes when walked; a few hundred bytes.
    std::string bomb =
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\n"
        "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i <= 9; ++i) {
        std::string prev = "*a" + std::to_string(i - 1);
        bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
        for (int k = 0; k < 10; ++k) bomb += (k ? ", " : "") + prev;
        bomb += "]\n";
    }
    bomb +=
        "spec: {template: {spec: {containers: [{name: app, image: acme/billing:1}]}}}\n"
        "x: *a9\n";
    for (Kind kind : {Kind::yaml, Kind::helm, Kind::kustomize, Kind::auto_detect}) {
        const auto t0 = std::chrono::steady_clock::now();
        auto p = find_pinned_image(bomb, req("acme/billing"), kind);
        const auto took = std::chrono::steady_clock::now() - t0;
        ASSERT_FALSE(p) << "kind " << static_cast<int>(kind);
        EXPECT_EQ(p.error().reason, "AliasBomb") << p.error().message;
        EXPECT_LT(took, std::chrono::seconds(1)) << "refused before walking it";
    }
    const std::string deep = "a: " + std::string(10000, '[') + std::string(10000, ']') + "\n";
    auto d = find_pinned_image(deep, req("acme/billing"), Kind::yaml);
    ASSERT_FALSE(d);
    EXPECT_NE(d.error().message.find("nested more than"), std::string::npos) << d.error().message;
}

}  // namespace
}  // namespace poetryops::manifest

// Byte-exact preservation and the set_image targets.
#include <poetryops/manifest/edit.hpp>

#include <gtest/gtest.h>

namespace poetryops::manifest {
namespace {

const std::string kOld = "sha256:" + std::string(64, 'a');
const std::string kNew = "sha256:" + std::string(64, 'b');

SetImageRequest req(const std::string& arg) {
    auto r = parse_set_image_arg(arg);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : SetImageRequest{};
}

std::string edit(const std::string& text, const SetImageRequest& r, Kind kind = Kind::auto_detect) {
    auto out = set_image(text, r, kind);
    EXPECT_TRUE(out) << out.error().message;
    return out ? out->new_text : std::string("<error>");
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
    auto p = s.find(from);
    EXPECT_NE(p, std::string::npos) << from;
    return p == std::string::npos ? s : s.replace(p, from.size(), to);
}

const std::string kDeployment =
    "# top comment\n"
    "apiVersion: apps/v1\n"
    "kind: Deployment   # trailing\n"
    "metadata:\n"
    "  name: billing\n"
    "  annotations:\n"
    "    note: |\n"
    "      keep   this\n"
    "        block scalar\n"
    "\n"
    "spec:\n"
    "  template:\n"
    "    spec:\n"
    "      initContainers:\n"
    "        - name: migrate\n"
    "          image: registry.example.com/acme/billing:1.0   # same image\n"
    "      containers:\n"
    "      - name: app\n"
    "        image: \"registry.example.com/acme/billing:1.0\"\n"
    "        args: [\"--port\", '8080', {x: y}]\n"
    "      - name: sidecar\n"
    "        image: 'envoyproxy/envoy:v1.29'\n";

TEST(Preserve, OnlyTheImageScalarsChangeKeepingTheirQuotes) {
    auto out = set_image(kDeployment, req("registry.example.com/acme/billing:1.1"));
    ASSERT_TRUE(out) << out.error().message;
    std::string want = replace(kDeployment, "billing:1.0   # same", "billing:1.1   # same");
    want = replace(want, "\"registry.example.com/acme/billing:1.0\"",
                   "\"registry.example.com/acme/billing:1.1\"");
    EXPECT_EQ(out->new_text, want);
    ASSERT_EQ(out->changes.size(), 2u);
    EXPECT_EQ(out->changes[0].line, 16);
    EXPECT_EQ(out->changes[0].old_value, "registry.example.com/acme/billing:1.0");
    EXPECT_EQ(out->changes[0].new_value, "registry.example.com/acme/billing:1.1");
    EXPECT_EQ(out->changes[1].line, 19);
    EXPECT_EQ(out->matched, 2u);
}

TEST(Preserve, SingleQuotedStaysSingleQuoted) {
    EXPECT_EQ(edit(kDeployment, req("envoyproxy/envoy:v1.30")),
              replace(kDeployment, "'envoyproxy/envoy:v1.29'", "'envoyproxy/envoy:v1.30'"));
}

TEST(Preserve, CrlfBomAndMissingFinalNewline) {
    std::string text =
        "\xEF\xBB\xBF# c\r\napiVersion: v1\r\nkind: Pod\r\nmetadata: {name: p}\r\nspec:\r\n  "
        "containers:\r\n"
        "  - name: a\r\n    image: app:1   # keep\r\n\r\n  - name: b\r\n    image: other:2";
    std::string want = replace(text, "app:1   #", "app:2   #");
    EXPECT_EQ(edit(text, req("app:2")), want);
    EXPECT_EQ(edit(text, req("other:3")), replace(text, "other:2", "other:3"));
}

TEST(Preserve, MultiDocumentWithMarkersAndBomPositionsStayExact) {
    // A BOM and CRLF in a multi-document stream: yaml-cpp's byte positions drift here, its
    // line/column do not.
    std::string doc =
        "apiVersion: batch/v1\r\nkind: CronJob\r\nmetadata:\r\n  name: n\r\nspec:\r\n  "
        "jobTemplate:\r\n"
        "    spec:\r\n      template:\r\n        spec:\r\n          containers:\r\n"
        "          - image: app:1\r\n";
    std::string text =
        "\xEF\xBB\xBF"
        "a: \"x\"\r\n---\r\n" +
        doc + "...\r\n--- \r\n# between\r\n" + doc;
    std::string want = text;
    for (std::size_t p = want.find("app:1"); p != std::string::npos; p = want.find("app:1", p)) {
        want.replace(p, 5, "app:2");
    }
    auto out = set_image(text, req("app:2"));
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(out->new_text, want);
    EXPECT_EQ(out->changes.size(), 2u);
}

TEST(Preserve, AnchorsElsewhereFlowStyleAndDocumentMarkersSurvive) {
    std::string text =
        "---\n"
        "defaults: &d {cpu: 1}\n"
        "apiVersion: apps/v1\n"
        "kind: StatefulSet\n"
        "spec: {template: {spec: {containers: [{name: a, image: app:1}], resources: *d}}}\n"
        "...\n";
    EXPECT_EQ(edit(text, req("app@" + kNew)),
              replace(text, "image: app:1}", "image: app@" + kNew + "}"));
}

TEST(Preserve, NothingToChangeLeavesTextIdenticalAndCountsTheMatch) {
    std::string text =
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: app:2@" + kNew + "\n";
    auto out = set_image(text, req("app:2@" + kNew));
    ASSERT_TRUE(out);
    EXPECT_FALSE(out->changed());
    EXPECT_EQ(out->new_text, text);
    EXPECT_EQ(out->matched, 1u);
    auto none = set_image(text, req("other:2"));
    ASSERT_TRUE(none);
    EXPECT_EQ(none->matched, 0u);
}

TEST(Preserve, PlainValuesThatWouldReadAsNumbersGetQuoted) {
    std::string text = "image:\n  repository: app\n  tag: 1.0\n";
    auto out = set_image(text, req("app:1.10"), Kind::helm);
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(out->new_text, "image:\n  repository: app\n  tag: \"1.10\"\n");
}

TEST(Workloads, EveryKindAndDockerHubNormalisation) {
    for (std::string kind :
         {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Rollout"}) {
        std::string text = "apiVersion: x/v1\nkind: " + kind +
                           "\nspec:\n  template:\n    spec:\n      containers:\n      - image: "
                           "docker.io/library/nginx:1.25\n";
        EXPECT_EQ(edit(text, req("nginx:1.26")), replace(text, "nginx:1.25", "nginx:1.26")) << kind;
    }
    std::string svc =
        "apiVersion: v1\nkind: Service\nspec:\n  template:\n    spec:\n      containers:\n      - "
        "image: nginx:1\n";
    auto out = set_image(svc, req("nginx:2"));
    ASSERT_TRUE(out);
    EXPECT_EQ(out->matched, 0u);  // not a workload
}

TEST(Workloads, TagOrDigestAloneReplacesBothRenameKeepsThem) {
    std::string text =
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: app:1@" + kOld + "\n";
    EXPECT_EQ(edit(text, req("app:2")), replace(text, "app:1@" + kOld, "app:2"));
    EXPECT_EQ(edit(text, req("app@" + kNew)), replace(text, "app:1@" + kOld, "app@" + kNew));
    EXPECT_EQ(edit(text, req("app=ghcr.io/acme/app")),
              replace(text, "app:1@", "ghcr.io/acme/app:1@"));
    // Renamed already: matching by the new name keeps the edit idempotent.
    std::string renamed = edit(text, req("app=ghcr.io/acme/app:3"));
    auto again = set_image(renamed, req("app=ghcr.io/acme/app:3"));
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->changed());
    EXPECT_EQ(again->matched, 1u);
}

TEST(Kustomize, UpdatesEntryAddsMissingKeysAndDropsStaleDigest) {
    std::string text =
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - "
        "deploy.yaml\n"
        "images:\n  - name: app   # ours\n    newTag: \"1.0\"\n    digest: " +
        kOld + "\n  - name: other\n    newTag: x\n";
    std::string want = replace(text, "newTag: \"1.0\"", "newTag: \"1.1\"");
    want = replace(want, "    digest: " + kOld + "\n", "");
    EXPECT_EQ(edit(text, req("app:1.1")), want);
    std::string with_digest = replace(text, "newTag: \"1.0\"", "newTag: \"2\"");
    with_digest = replace(with_digest, kOld, kNew);
    EXPECT_EQ(edit(text, req("app:2@" + kNew)), with_digest);
    // newName added after the entry's last key, at the entry's indentation.
    std::string only_name = "kind: Kustomization\nimages:\n- name: app\nresources: [a.yaml]\n";
    EXPECT_EQ(edit(only_name, req("app=ghcr.io/x/app:3")),
              "kind: Kustomization\nimages:\n- name: app\n  newName: ghcr.io/x/app\n  newTag: "
              "\"3\"\nresources: [a.yaml]\n");
}

TEST(Kustomize, AddsEntryAndImagesKeyInTheFilesStyle) {
    std::string indented =
        "kind: Kustomization\nresources:\n  - a.yaml\nimages:\n  - name: other\n    newTag: x\n";
    EXPECT_EQ(edit(indented, req("app:1")), indented + "  - name: app\n    newTag: \"1\"\n");
    std::string no_images = "kind: Kustomization\r\nresources:\r\n  - a.yaml";
    EXPECT_EQ(edit(no_images, req("app:v2@" + kNew)),
              no_images + "\r\nimages:\r\n  - name: app\r\n    newTag: v2\r\n    digest: " + kNew);
    std::string flow = "kind: Kustomization\nimages: []\n";
    EXPECT_EQ(edit(flow, req("app:v2")),
              "kind: Kustomization\nimages: [{name: app, newTag: v2}]\n");
    std::string flow2 = "kind: Kustomization\nimages: [{name: b, newTag: c}]  # x\n";
    EXPECT_EQ(
        edit(flow2, req("app:v2")),
        "kind: Kustomization\nimages: [{name: b, newTag: c}, {name: app, newTag: v2}]  # x\n");
    std::string empty = "kind: Kustomization\nimages:   # none yet\nresources: []\n";
    EXPECT_EQ(
        edit(empty, req("app:v2")),
        "kind: Kustomization\nimages:   # none yet\n- name: app\n  newTag: v2\nresources: []\n");
}

TEST(Kustomize, KindlessKustomizationIsDetected) {
    std::string text = "resources:\n- a.yaml\nimages:\n- name: app\n  newTag: v1\n";
    EXPECT_EQ(edit(text, req("app:v2")), replace(text, "v1", "v2"));
}

TEST(Helm, DottedPathsListIndexAndRepository) {
    std::string text =
        "image:\n  repository: ghcr.io/acme/app  # repo\n  tag: v1\n  digest: \"\"\nother: 1\n";
    EXPECT_EQ(edit(text, req("ghcr.io/acme/app:v2@" + kNew)),
              "image:\n  repository: ghcr.io/acme/app  # repo\n  tag: v2\n  digest: \"" + kNew +
                  "\"\nother: 1\n");
    // auto mode only edits values whose repository names the image.
    auto other = set_image(text, req("ghcr.io/acme/zzz:v2"));
    ASSERT_TRUE(other);
    EXPECT_EQ(other->matched, 0u);
    SetImageRequest r = req("ghcr.io/acme/app:v3");
    r.helm_tag_path = "containers.0.tag";
    r.helm_repository_path = "containers.0.repository";
    r.helm_digest_path = "";
    std::string list =
        "containers:\n- repository: ghcr.io/acme/app\n  tag: v1\n- repository: x\n  tag: v1\n";
    EXPECT_EQ(edit(list, r, Kind::helm), replace(list, "app\n  tag: v1", "app\n  tag: v3"));
    auto values = set_values("a:\n  b: [x, {c: old}]\n", {{"a.b.1.c", "new"}});
    ASSERT_TRUE(values) << values.error().message;
    EXPECT_EQ(values->new_text, "a:\n  b: [x, {c: new}]\n");
    auto missing = set_values("a: 1\n", {{"a.b", "x"}});
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().reason, "MissingPath");
}

TEST(Helm, SplitRegistryAndEmptyValues) {
    std::string text = "image:\n  registry: ghcr.io\n  repository: acme/app\n  tag:\n  digest: ~\n";
    EXPECT_EQ(
        edit(text, req("ghcr.io/acme/app:v2@" + kNew)),
        "image:\n  registry: ghcr.io\n  repository: acme/app\n  tag: v2\n  digest: " + kNew + "\n");
}

TEST(Markers, PoetryopsMarkerWithEnvAndPart) {
    std::string text =
        "app:\n  image: ghcr.io/acme/billing:1.0 # poetryops: billing\n"
        "  tag: \"1.0\"  # poetryops: billing:prod:tag\n"
        "  other: ghcr.io/acme/billing:1.0\n";
    SetImageRequest r = req("ghcr.io/acme/billing:1.1");
    r.env = "prod";
    EXPECT_EQ(edit(text, r, Kind::marker),
              "app:\n  image: ghcr.io/acme/billing:1.1 # poetryops: billing\n"
              "  tag: \"1.1\"  # poetryops: billing:prod:tag\n"
              "  other: ghcr.io/acme/billing:1.0\n");
    r.env = "dev";  // the prod marker is not dev's
    EXPECT_EQ(edit(text, r, Kind::marker),
              replace(text, "billing:1.0 # poetryops", "billing:1.1 # poetryops"));
}

TEST(Markers, FluxImagePolicyMarkers) {
    std::string text =
        "spec:\n  values:\n    image:\n      repository: ghcr.io/acme/billing # {\"$imagepolicy\": "
        "\"flux-system:billing:name\"}\n"
        "      tag: 1.0.0 # {\"$imagepolicy\": \"flux-system:billing:tag\"}\n"
        "    full: ghcr.io/acme/billing:1.0.0 # {\"$imagepolicy\": \"flux-system:billing\"}\n";
    SetImageRequest r = req("ghcr.io/acme/billing:1.0.1");
    r.policy = "flux-system:billing";
    std::string want = replace(text, "tag: 1.0.0", "tag: 1.0.1");
    want = replace(want, "billing:1.0.0 #", "billing:1.0.1 #");
    EXPECT_EQ(edit(text, r), want);
    r.policy = "flux-system:other";
    auto none = set_image(text, r, Kind::marker);
    ASSERT_TRUE(none);
    EXPECT_EQ(none->matched, 0u);
}

TEST(Markers, MarkerTextInsideAStringIsNotAMarker) {
    std::string text = "args: [\"# poetryops: billing\"]\nimage: x:1\n";
    auto out = set_image(text, req("ghcr.io/acme/billing:2"), Kind::marker);
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(out->matched, 0u);
}

TEST(Request, ParsesCliForms) {
    auto a = parse_set_image_arg("app=ghcr.io/acme/app:1@" + kNew);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->name, "app");
    EXPECT_EQ(*a->new_name, "ghcr.io/acme/app");
    EXPECT_EQ(*a->tag, "1");
    EXPECT_EQ(*a->digest, kNew);
    auto b = parse_set_image_arg("localhost:5000/app:2");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->name, "localhost:5000/app");
    EXPECT_FALSE(b->new_name);
    EXPECT_FALSE(parse_set_image_arg("app"));  // nothing to set
    EXPECT_FALSE(parse_set_image_arg("App:1"));
    EXPECT_FALSE(parse_set_image_arg("app=x@sha256:12"));
}

}  // namespace
}  // namespace poetryops::manifest

namespace poetryops::manifest {
namespace {

TEST(Workloads, AWorkloadNameEditsOnlyThatWorkload) {
    const std::string digest = "sha256:" + std::string(64, 'c');
    std::string text =
        "# stable first, then the canary\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: billing\nspec:\n"
        "  template:\n    spec:\n      containers:\n"
        "      - name: app\n        image: reg/acme/billing:1.3.0  # stable\n"
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: billing-canary\nspec:\n"
        "  template:\n    spec:\n      initContainers:\n"
        "      - {name: migrate, image: reg/acme/billing:1.3.0}\n      containers:\n"
        "      - name: app\n        image: reg/acme/billing:1.3.0\n"
        "---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {name: billing-canary-report}\nspec:\n"
        "  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n"
        "          - {name: r, image: reg/acme/billing:1.3.0}\n";
    SetImageRequest r;
    r.name = "reg/acme/billing";
    r.tag = "1.4.2";
    r.digest = digest;
    r.workload = "billing-canary";
    auto out = set_image(text, r, Kind::yaml);
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(out->matched, 2u);  // the canary's init container and its app container
    // The 2nd and 3rd occurrences are the canary's; the 1st is stable's, the 4th the CronJob's.
    const std::string old_ref = "reg/acme/billing:1.3.0";
    const std::string pinned = "reg/acme/billing:1.4.2@" + digest;
    std::string want = text;
    auto nth = [&](int n) {
        std::size_t at = want.find(old_ref);
        for (int i = 0; i < n; ++i) at = want.find(old_ref, at + 1);
        return at;
    };
    want.replace(nth(2), old_ref.size(), pinned);  // the later one first: offsets before it hold
    want.replace(nth(1), old_ref.size(), pinned);
    EXPECT_EQ(out->new_text, want);
    // Neither the stable Deployment nor the CronJob moved.
    EXPECT_NE(out->new_text.find("image: reg/acme/billing:1.3.0  # stable"), std::string::npos);
    EXPECT_NE(out->new_text.find("{name: r, image: reg/acme/billing:1.3.0}"), std::string::npos);

    r.workload = "billing-v2";
    auto none = set_image(text, r, Kind::yaml);
    ASSERT_TRUE(none);
    EXPECT_EQ(none->matched, 0u);
    EXPECT_FALSE(none->changed());

    r.workload = "billing-canary-report";
    auto cron = set_image(text, r, Kind::yaml);
    ASSERT_TRUE(cron);
    EXPECT_EQ(cron->matched, 1u);
}

TEST(Workloads, AWorkloadNameWithAnotherKindIsAnInvalidRequest) {
    SetImageRequest r;
    r.name = "reg/acme/billing";
    r.tag = "1.4.2";
    r.workload = "billing-canary";
    for (Kind k : {Kind::kustomize, Kind::helm, Kind::marker, Kind::auto_detect}) {
        auto out = set_image("images:\n- name: reg/acme/billing\n  newTag: '1'\n", r, k);
        ASSERT_FALSE(out);
        EXPECT_EQ(out.error().kind, Error::Kind::invalid);
        EXPECT_EQ(out.error().reason, "InvalidRequest");
        EXPECT_NE(out.error().message.find("workload \"billing-canary\""), std::string::npos);
    }
}

}  // namespace
}  // namespace poetryops::manifest

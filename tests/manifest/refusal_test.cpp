// Refusals: each names the line and the reason, and nothing is edited.
#include <poetryops/manifest/edit.hpp>
#include <poetryops/manifest/read.hpp>
#include <poetryops/util/fs.hpp>

#include "support/support.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace poetryops::manifest {
namespace {

SetImageRequest req(const std::string& arg) { return *parse_set_image_arg(arg); }

Error refused(const std::string& text, const SetImageRequest& r, Kind kind = Kind::auto_detect,
              const Limits& limits = {}) {
    auto out = set_image(text, r, kind, limits);
    EXPECT_FALSE(out) << "expected a refusal, got:\n" << (out ? out->new_text : "");
    return out ? Error{} : out.error();
}

TEST(Refuse, InvalidYamlWithYamlCppsMessageAndLine) {
    Error e = refused("a: 1\nb: [unclosed\nc: 2\n", req("app:1"));
    EXPECT_EQ(e.kind, Error::Kind::decode);
    EXPECT_EQ(e.reason, "InvalidYAML");
    EXPECT_EQ(e.message.rfind("line ", 0), 0u) << e.message;
    EXPECT_NE(e.message.find("invalid YAML"), std::string::npos);
}

TEST(Refuse, ImageThatIsAnAlias) {
    std::string text =
        "x-img: &img app:1\napiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: *img\n";
    Error e = refused(text, req("app:2"));
    EXPECT_EQ(e.reason, "Alias");
    EXPECT_NE(e.message.find("line 6"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("*img"), std::string::npos) << e.message;
}

TEST(Refuse, AnchoredNodeReferencedElsewhere) {
    std::string text =
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - &c {name: a, image: app:1}\n"
        "  initContainers:\n  - *c\n";
    Error e = refused(text, req("app:2"));
    EXPECT_EQ(e.reason, "Alias");
    EXPECT_NE(e.message.find("&c"), std::string::npos) << e.message;
    // An anchor nobody references is an ordinary node.
    std::string unused =
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - &c {name: a, image: app:1}\n";
    auto out = set_image(unused, req("app:2"));
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_TRUE(out->changed());
}

TEST(Refuse, AmbiguousKustomizeEntries) {
    std::string text =
        "kind: Kustomization\nimages:\n- name: nginx\n  newTag: a\n- name: "
        "docker.io/library/nginx\n"
        "  newTag: b\n";
    Error e = refused(text, req("nginx:c"));
    EXPECT_EQ(e.reason, "Ambiguous");
    EXPECT_NE(e.message.find("lines 3, 5"), std::string::npos) << e.message;
}

TEST(Refuse, AmbiguousMarkerLine) {
    Error e = refused("x: {a: app:1, b: app:1}  # poetryops: app\n", req("app:2"), Kind::marker);
    EXPECT_EQ(e.reason, "Ambiguous");
    EXPECT_NE(e.message.find("line 1"), std::string::npos);
}

TEST(Refuse, BlockScalarTarget) {
    std::string text =
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: >-\n      app:1\n";
    Error e = refused(text, req("app:2"));
    EXPECT_EQ(e.reason, "BlockScalar");
    EXPECT_NE(e.message.find("line 5"), std::string::npos) << e.message;
}

TEST(Refuse, DocumentPastTheSizeLimit) {
    Limits small;
    small.max_bytes = 64;
    Error e = refused(std::string(100, '#'), req("app:2"), Kind::auto_detect, small);
    EXPECT_EQ(e.reason, "TooLarge");
}

TEST(Refuse, YamlBombStopsAtTheExpansionLimit) {
    // Nine levels of ten aliases each: 10^9 nodes when expanded, a few hundred bytes of text.
    std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i <= 9; ++i) {
        std::string prev = "*a" + std::to_string(i - 1);
        text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
        for (int k = 0; k < 10; ++k) text += (k ? ", " : "") + prev;
        text += "]\n";
    }
    Error e = refused(text, req("app:2"));
    EXPECT_EQ(e.reason, "AliasBomb");
    EXPECT_NE(e.message.find("line "), std::string::npos);
}

TEST(Refuse, DeepNestingIsRefusedNamingTheLimitNotBadFile) {
    // 10,000 levels: yaml-cpp alone stops at 2,000 with only "bad file".
    std::string text = "a: " + std::string(10000, '[') + std::string(10000, ']') + "\n";
    Error e = refused(text, req("app:2"));
    EXPECT_EQ(e.kind, Error::Kind::decode);
    EXPECT_EQ(e.reason, "InvalidYAML");
    EXPECT_NE(e.message.find("nested more than 256 levels deep"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("line 1"), std::string::npos) << e.message;
    EXPECT_EQ(e.message.find("bad file"), std::string::npos) << e.message;
    // 200 levels are fine.
    std::string deep =
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: app:1\n"
        "x: " +
        std::string(200, '[') + std::string(200, ']') + "\n";
    EXPECT_TRUE(set_image(deep, req("app:2"))) << "a deep but sane document still edits";
}

// Inputs libFuzzer found on which yaml-cpp 0.7 reports empty documents at one place forever
// (fuzz/findings/manifest_edit-timeout-*): refused at once as invalid YAML, for the editor and the
// reader of pinned images alike.
TEST(Refuse, AParserThatStopsAdvancingIsInvalidYamlNotAHang) {
    for (const char* name : {"manifest_edit-timeout-1", "manifest_edit-timeout-2"}) {
        SCOPED_TRACE(name);
        auto text = read_file(test::source_dir() / "fuzz/findings" / name);
        ASSERT_TRUE(text);
        const auto t0 = std::chrono::steady_clock::now();
        auto out = set_image(*text, req("app:2"));
        auto pinned = find_pinned_image(*text, req("app:2"), Kind::auto_detect);
        const auto took = std::chrono::steady_clock::now() - t0;
        EXPECT_LT(took, std::chrono::seconds(2));
        ASSERT_FALSE(out);
        EXPECT_EQ(out.error().reason, "InvalidYAML") << out.error().message;
        EXPECT_EQ(out.error().message.rfind("line ", 0), 0u) << out.error().message;
        ASSERT_FALSE(pinned);
        EXPECT_EQ(pinned.error().reason, "InvalidYAML") << pinned.error().message;
    }
    // Many real empty documents still parse.
    EXPECT_TRUE(
        set_image("---\n---\n---\napiVersion: v1\nkind: Pod\nspec:\n  containers:\n"
                  "  - image: app:1\n",
                  req("app:2")));
}

TEST(Refuse, BadRequestValues) {
    SetImageRequest r;
    r.name = "app";
    r.tag = "bad tag";
    EXPECT_FALSE(set_image("a: 1\n", r));
    r.tag.reset();
    r.digest = "sha256:xyz";
    EXPECT_FALSE(set_image("a: 1\n", r));
}

TEST(Refuse, Utf16IsNotSilentlyMisread) {
    std::string text(
        "\xFF\xFE"
        "a\0:\0 \0"
        "1\0",
        10);
    Error e = refused(text, req("app:2"));
    EXPECT_EQ(e.reason, "Encoding");
}

TEST(Refuse, DeepNestingIsAnErrorNotACrash) {
    std::string text(100000, '[');
    Error e = refused(text, req("app:2"));
    EXPECT_EQ(e.kind, Error::Kind::decode);
}

TEST(Refuse, TooManyNodes) {
    Limits small;
    small.max_nodes = 100;
    std::string text = "a: [";
    for (int i = 0; i < 200; ++i) text += "x, ";
    text += "y]\n";
    Error e = refused(text, req("app:2"), Kind::auto_detect, small);
    EXPECT_EQ(e.reason, "TooLarge");
}

TEST(Refuse, ManyAliasesToASmallAnchorAreFine) {
    // Shared anchors that do not blow up are ordinary YAML (Helm values do this).
    std::string text =
        "x: &x {cpu: 1}\napiVersion: v1\nkind: Pod\nspec:\n  a: *x\n  b: *x\n  containers:\n  - "
        "image: app:1\n";
    auto out = set_image(text, req("app:2"));
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_TRUE(out->changed());
}

}  // namespace
}  // namespace poetryops::manifest

// The canary examples: examples/poetryapps/canary.yaml has one environment per traffic kind, and
// examples/canary-<kind>/ is the folder such an environment holds (docs/canary.md#the-environments-
// folder). Each folder is read the way the canary reads it: its route through read_weights, its
// canary workload through find_pinned_image, and a canary's edits touch only what they should.
#include <poetryops/api/codec.hpp>

#include <poetryops/manifest/edit.hpp>
#include <poetryops/manifest/read.hpp>
#include <poetryops/util/fs.hpp>
#include <support/support.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>

using namespace poetryops;
namespace fs = std::filesystem;

namespace {

std::string read_example(const fs::path& path) {
    auto text = read_file(path);
    EXPECT_TRUE(text) << path << ": " << text.error().message;
    return text ? *text : std::string();
}

}  // namespace

TEST(Examples, CanaryFoldersHoldWhatTheirPoetryAppSays) {
    const fs::path examples = test::source_dir() / "examples";
    std::string app_text = read_example(examples / "poetryapps/canary.yaml");
    auto apps = api::load_poetryapps_yaml(app_text, "canary.yaml");
    ASSERT_TRUE(apps) << apps.error().message;
    ASSERT_EQ(apps->size(), 1u);
    const api::PoetryApp& app = apps->front();
    const std::string new_digest = "sha256:" + std::string(64, 'd');

    std::set<std::string> kinds;
    for (const auto& env : app.spec.environments) {
        if (!env.canary) continue;
        const api::CanarySpec& canary = *env.canary;
        const std::string kind(api::to_string(canary.traffic.kind));
        SCOPED_TRACE(env.name + " (" + kind + ")");
        EXPECT_TRUE(kinds.insert(kind).second) << "two environments of kind " << kind;
        const fs::path folder = examples / ("canary-" + kind);
        ASSERT_TRUE(fs::is_directory(folder)) << folder;

        // Every file parses, and the kustomization lists exactly the folder's other files.
        std::set<std::string> files, resources;
        for (const auto& entry : fs::directory_iterator(folder)) {
            auto docs = api::yaml_to_json(read_example(entry.path()), entry.path().string());
            ASSERT_TRUE(docs) << docs.error().message;
            if (entry.path().filename() != "kustomization.yaml") {
                files.insert(entry.path().filename().string());
                continue;
            }
            for (const auto& r : docs->front()["resources"]) resources.insert(r.get<std::string>());
            EXPECT_FALSE(docs->front().contains("images"))
                << "a kustomize images: entry would pin both workloads at once";
        }
        EXPECT_EQ(resources, files);

        // The canary pins its own workload, named by canary.workload (default traffic.canary).
        ASSERT_EQ(env.update.kind, api::UpdateKind::manifest);
        const std::string workloads = read_example(folder / env.update.effective_file());
        manifest::SetImageRequest pin;
        pin.name = app.spec.image.repository;
        pin.workload = canary.effective_workload();
        auto canary_image = manifest::find_pinned_image(workloads, pin, manifest::Kind::yaml);
        ASSERT_TRUE(canary_image) << canary_image.error().message;
        ASSERT_TRUE(*canary_image)
            << "no workload " << pin.workload << " running " << pin.name << " in " << folder;
        // The stable workload comes first: what the environment runs is read from it.
        manifest::SetImageRequest any;
        any.name = app.spec.image.repository;
        auto first = manifest::find_pinned_image(workloads, any, manifest::Kind::yaml);
        ASSERT_TRUE(first && *first);
        EXPECT_LT((*first)->line, (*canary_image)->line) << "list the stable workload first";

        // Starting a canary edits only the canary workload.
        pin.digest = new_digest;
        pin.tag = "1.4.2-ab12cd3";
        auto started = manifest::set_image(workloads, pin, manifest::Kind::yaml);
        ASSERT_TRUE(started) << started.error().message;
        EXPECT_EQ(started->matched, 1u);
        EXPECT_EQ(started->changes.size(), 1u);
        auto still = manifest::find_pinned_image(started->new_text, any, manifest::Kind::yaml);
        ASSERT_TRUE(still && *still);
        EXPECT_EQ((*still)->digest, (*first)->digest);
        pin.tag.reset();
        pin.digest.reset();
        auto pinned = manifest::find_pinned_image(started->new_text, pin, manifest::Kind::yaml);
        ASSERT_TRUE(pinned && *pinned);
        EXPECT_EQ((*pinned)->digest, new_digest);

        // The route: all traffic on stable at rest, and a step changes only its weights.
        ASSERT_FALSE(canary.traffic.file.empty());
        const std::string route = read_example(folder / canary.traffic.file);
        const std::vector<std::string> backends{canary.traffic.stable, canary.traffic.canary};
        auto weights =
            manifest::read_weights(route, canary.traffic.kind, backends, canary.traffic.route);
        ASSERT_TRUE(weights) << weights.error().message;
        ASSERT_TRUE(*weights) << "no " << kind << " route " << canary.traffic.route << " in "
                              << folder / canary.traffic.file;
        EXPECT_EQ((**weights)[0].weight, 100);
        EXPECT_EQ((**weights)[1].weight, 0);
        auto step = manifest::set_weights(
            route, canary.traffic.kind, {{canary.traffic.stable, 75}, {canary.traffic.canary, 25}},
            canary.traffic.route);
        ASSERT_TRUE(step) << step.error().message;
        EXPECT_EQ(step->matched, 1u);
        for (const auto& c : step->changes)
            EXPECT_THAT(c.field, testing::HasSubstr("weight")) << c.line;
        auto after = manifest::read_weights(step->new_text, canary.traffic.kind, backends,
                                            canary.traffic.route);
        ASSERT_TRUE(after && *after);
        EXPECT_EQ((**after)[0].weight, 75);
        EXPECT_EQ((**after)[1].weight, 25);
    }
    EXPECT_EQ(kinds.size(), manifest::kTrafficKindNames.size()) << "one environment per kind";
}

#include <poetryops/controller/notifications.hpp>

#include <poetryops/util/fs.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

namespace poetryops::controller {
namespace {

api::PoetryApp app_with_two_environments() {
    api::PoetryApp app;
    app.metadata.name = "billing";
    app.metadata.namespace_ = "team-a";
    app.metadata.uid = "uid-1";
    app.spec.environments.resize(2);
    app.spec.environments[0].name = "dev";
    app.spec.environments[1].name = "prod";
    return app;
}

std::vector<std::string> keys(const std::vector<NotificationFact>& facts) {
    std::vector<std::string> out;
    for (const auto& f : facts) out.push_back(f.key);
    return out;
}

}  // namespace

TEST(NotificationFacts, TheNewestPromotionOrRollbackPerEnvironmentKeyedByItsCommit) {
    api::PoetryApp app = app_with_two_environments();
    api::PoetryAppStatus st;
    // Newest first: dev's rollback, dev's older promotion, prod's promotion, a canary step.
    st.history.push_back(
        {"prod", api::HistoryKind::canary, "1.3.0", "1.3.0", "sha256:c", "c3", {}, ""});
    st.history.push_back(
        {"dev", api::HistoryKind::rollback, "1.1.0", "1.1.0", "sha256:a", "c2", {}, ""});
    st.history.push_back(
        {"dev", api::HistoryKind::promote, "1.2.0", "1.2.0", "sha256:b", "c1", {}, ""});
    st.history.push_back(
        {"prod", api::HistoryKind::promote, "1.1.0", "1.1.0", "sha256:a", "c0", {}, ""});
    auto facts = notification_facts(app, st);
    ASSERT_EQ(keys(facts), (std::vector<std::string>{"c2", "c0"}));
    EXPECT_EQ(facts[0].event, api::NotificationEvent::rolled_back);
    EXPECT_EQ(facts[0].message.event, "RolledBack");
    EXPECT_EQ(facts[0].message.environment, "dev");
    EXPECT_EQ(facts[0].message.commit, "c2");
    EXPECT_EQ(facts[1].event, api::NotificationEvent::promoted);
    EXPECT_EQ(facts[1].message.ns, "team-a");
    EXPECT_EQ(facts[1].message.name, "billing");
    EXPECT_EQ(facts[1].message.digest, "sha256:a");
}

TEST(NotificationFacts, WaitingHeldAbortedAndAFailedBuildAreKeyedByAppEnvironmentDigestReason) {
    api::PoetryApp app = app_with_two_environments();
    api::PoetryAppStatus st;
    api::EnvironmentStatus dev;
    dev.name = "dev";
    dev.held = true;
    dev.held_image = "registry.example.com/billing:1.0@sha256:h";
    st.environments.push_back(dev);
    api::EnvironmentStatus prod;
    prod.name = "prod";
    prod.waiting = api::WaitingArtifact{"1.2.0", "1.2.0", "sha256:w", "WaitingForApproval"};
    prod.canary.emplace();
    prod.canary->phase = api::CanaryPhase::aborted;
    prod.canary->digest = "sha256:x";
    st.environments.push_back(prod);
    api::BuildStatus b;
    b.commit = "abc";
    b.phase = api::BuildPhase::failed;
    b.reason = "BuildFailed";
    st.builds.push_back(b);
    EXPECT_EQ(keys(notification_facts(app, st)),
              (std::vector<std::string>{
                  "uid-1/dev/sha256:h/Held", "uid-1/prod/sha256:w/WaitingForApproval",
                  "uid-1/prod/sha256:x/CanaryAborted", "uid-1/build/abc/BuildFailed"}));
    // Other waits are not notified; without a uid (local mode) the key names the app.
    st.environments[1].waiting->reason = "Soaking";
    st.environments[1].canary.reset();
    st.environments[0].held = false;
    st.builds[0].reason = "Superseded";
    EXPECT_TRUE(notification_facts(app, st).empty());
    st.environments[1].waiting->reason = "WaitingForApproval";
    app.metadata.uid.clear();
    EXPECT_EQ(keys(notification_facts(app, st)),
              (std::vector<std::string>{"team-a/billing/prod/sha256:w/WaitingForApproval"}));
}

TEST(NotificationFacts, TheApiSpellsTheNotifiersKinds) {
    for (auto k : {notify::Kind::webhook, notify::Kind::slack, notify::Kind::teams})
        EXPECT_EQ(api::to_string(k), notify::to_string(k));
}

TEST(LocalSecretSource, ReadsDirNamespaceNameKeyAndNamesWhatIsMissing) {
    TempDir dir("secrets");
    std::filesystem::create_directories(dir.path() / "team-a/hooks");
    ASSERT_TRUE(write_file_atomic(dir.path() / "team-a/hooks/url", "https://hooks.example.com/x"));
    auto read = local_secret_source(dir.path());
    auto s = read("team-a", "hooks");
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(s->data.at("url"), "https://hooks.example.com/x");
    auto missing = read("team-b", "hooks");
    ASSERT_FALSE(missing);
    EXPECT_THAT(missing.error().message, testing::HasSubstr("Secret team-b/hooks"));
    auto none = local_secret_source({})("team-a", "hooks");
    ASSERT_FALSE(none);
    EXPECT_THAT(none.error().message, testing::HasSubstr("--secrets-dir"));
}

}  // namespace poetryops::controller

// Informers against the real Kubernetes lane, and against the fake API server for injected
// faults. The raw watch tests are in tests/kube/watch_it_test.cpp.
#include <poetryops/runtime/informer.hpp>

#include "kube/kube_fixture.hpp"
#include "support/support.hpp"

#include <gtest/gtest.h>

#include <mutex>

namespace poetryops::runtime {
namespace {

using namespace std::chrono_literals;
using kube::testenv::KubeServerTest;

class WatchIt : public KubeServerTest {};
/// Faults a real API server cannot produce on demand: the fake server only.
class WatchFaultIt : public WatchIt {};
/// What a real API server does on its own clock (a BOOKMARK about once a minute).
class WatchRealIt : public WatchIt {};

nlohmann::json cm(const std::string& ns, const std::string& name, const std::string& value) {
    return {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata", {{"name", name}, {"namespace", ns}, {"labels", {{"app", "w"}}}}},
            {"data", {{"v", value}}}};
}

/// Records handler calls.
struct Recorder {
    std::mutex mu;
    std::vector<std::string> log;
    ResourceEventHandler handler() {
        return {[this](const nlohmann::json& o) { push("add " + key_of(o)); },
                [this](const nlohmann::json&, const nlohmann::json& n) {
                    push("update " + key_of(n) + "=" + n["data"].value("v", ""));
                },
                [this](const nlohmann::json& o) { push("delete " + key_of(o)); }};
    }
    void push(std::string s) {
        std::lock_guard lock(mu);
        log.push_back(std::move(s));
    }
    bool saw(const std::string& s) {
        std::lock_guard lock(mu);
        return std::find(log.begin(), log.end(), s) != log.end();
    }
};

TEST_P(WatchIt, InformerSyncsAndFollowsChanges) {
    auto client = make_client();
    ASSERT_TRUE(client);
    std::string ns = fresh_namespace(*client);
    kube::ResourceRef cms = kube::resources::configmaps().in(ns);
    for (int i = 0; i < 5; ++i)
        ASSERT_TRUE(client->create(cms, cm(ns, "c" + std::to_string(i), "0")));
    auto other = cm(ns, "unlabelled", "0");
    other["metadata"]["labels"] = {{"app", "other"}};
    ASSERT_TRUE(client->create(cms, other));

    InformerOptions io;
    io.resource = cms;
    io.label_selector = "app=w";
    io.page_size = 2;
    io.backoff_base = 20ms;
    Informer inf(*client, io);
    Recorder rec;
    inf.add_handler(rec.handler());
    inf.start();
    ASSERT_TRUE(inf.wait_for_sync(20s));
    EXPECT_EQ(inf.size(), 5u);
    EXPECT_TRUE(rec.saw("add " + ns + "/c0"));
    EXPECT_FALSE(rec.saw("add " + ns + "/unlabelled"));

    ASSERT_TRUE(client->patch(cms.named("c1"), kube::PatchType::merge, {{"data", {{"v", "9"}}}}));
    ASSERT_TRUE(client->remove(cms.named("c2")));
    ASSERT_TRUE(client->create(cms, cm(ns, "c9", "0")));
    ASSERT_TRUE(test::wait_until([&] {
        return rec.saw("update " + ns + "/c1=9") && rec.saw("delete " + ns + "/c2") &&
               rec.saw("add " + ns + "/c9");
    }));
    EXPECT_EQ(inf.get(ns + "/c1")->at("data").at("v"), "9");
    EXPECT_EQ(inf.get(ns + "/c2"), nullptr);
    EXPECT_EQ(inf.size(), 5u);
    EXPECT_EQ(inf.lists(), 1u);

    // A handler added late is told about what is already cached.
    Recorder late;
    inf.add_handler(late.handler());
    EXPECT_TRUE(late.saw("add " + ns + "/c9"));
    inf.stop();
}

TEST_P(WatchFaultIt, InformerResumesAfterADroppedWatchWithoutRelisting) {
    auto client = make_client();
    ASSERT_TRUE(client);
    kube::ResourceRef cms = kube::resources::configmaps().in("default");
    InformerOptions io;
    io.resource = cms;
    io.backoff_base = 10ms;
    Informer inf(*client, io);
    Recorder rec;
    inf.add_handler(rec.handler());
    inf.start();
    ASSERT_TRUE(inf.wait_for_sync(20s));
    ASSERT_TRUE(test::wait_until([&] { return fake()->open_watches() == 1; }));
    fake()->drop_watches();
    ASSERT_TRUE(client->create(cms, cm("default", "while-dropped", "1")));
    ASSERT_TRUE(test::wait_until([&] { return rec.saw("add default/while-dropped"); }));
    EXPECT_GE(inf.watches(), 2u);
    EXPECT_EQ(inf.lists(), 1u) << "a dropped watch resumes from its resourceVersion";
}

void expect_relist_after_410(kube::testenv::KubeServerTest& t, kube::fake::FakeApiServer& server,
                             bool as_http, kube::RestClient& client) {
    kube::ResourceRef cms = kube::resources::configmaps().in("default");
    InformerOptions io;
    io.resource = cms;
    io.backoff_base = 10ms;
    Informer inf(client, io);
    Recorder rec;
    inf.add_handler(rec.handler());
    inf.start();
    ASSERT_TRUE(inf.wait_for_sync(20s));
    ASSERT_TRUE(test::wait_until([&] { return server.open_watches() == 1; }));
    // While nobody watches, an object changes and the history is compacted: a resume must fail with
    // 410.
    server.drop_watches();
    ASSERT_TRUE(client.create(cms, cm("default", "during-gap", "1")));
    server.expire_history(as_http);
    ASSERT_TRUE(test::wait_until([&] { return rec.saw("add default/during-gap"); }));
    // The add may reach the informer through a watch resumed before the create; the 410 of the
    // next resume then relists a moment later (CI saw lists() == 1 right here once).
    EXPECT_TRUE(test::wait_until([&] { return inf.lists() >= 2u; })) << "410 → relist";
    ASSERT_TRUE(client.create(cms, cm("default", "after-relist", "1")));
    ASSERT_TRUE(test::wait_until([&] { return rec.saw("add default/after-relist"); }));
}

TEST_P(WatchFaultIt, GoneAsHttp410Relists) {
    auto client = make_client();
    ASSERT_TRUE(client);
    expect_relist_after_410(*this, *fake(), true, *client);
}

TEST_P(WatchFaultIt, GoneAsErrorEventInA200StreamRelists) {
    auto client = make_client();
    ASSERT_TRUE(client);
    expect_relist_after_410(*this, *fake(), false, *client);
}

TEST_P(WatchFaultIt, GarbageInTheStreamRelistsWithoutCrashing) {
    auto client = make_client();
    ASSERT_TRUE(client);
    kube::ResourceRef cms = kube::resources::configmaps().in("default");
    InformerOptions io;
    io.resource = cms;
    io.backoff_base = 10ms;
    Informer inf(*client, io);
    Recorder rec;
    inf.add_handler(rec.handler());
    inf.start();
    ASSERT_TRUE(inf.wait_for_sync(20s));
    ASSERT_TRUE(test::wait_until([&] { return fake()->open_watches() == 1; }));
    fake()->garbage_in_watches();
    ASSERT_TRUE(test::wait_until([&] { return inf.lists() >= 2; }));
    ASSERT_TRUE(client->create(cms, cm("default", "after-garbage", "1")));
    ASSERT_TRUE(test::wait_until([&] { return rec.saw("add default/after-garbage"); }));
}

TEST_P(WatchFaultIt, BookmarksAdvanceTheResumeVersion) {
    auto client = make_client();
    ASSERT_TRUE(client);
    InformerOptions io;
    io.resource = kube::resources::configmaps().in("default");
    Informer inf(*client, io);
    inf.start();
    ASSERT_TRUE(inf.wait_for_sync(20s));
    std::string rv0 = inf.resource_version();
    // A change in another namespace moves the global version; only a bookmark can tell this watch
    // about it.
    std::string ns = fresh_namespace(*client);
    ASSERT_TRUE(
        test::wait_until([&] { return std::stoll(inf.resource_version()) > std::stoll(rv0); }, 5s));
}

TEST_P(WatchRealIt, BookmarksFromARealServerAdvanceTheResumeVersion) {
    auto client = make_client();
    ASSERT_TRUE(client);
    std::string ns = fresh_namespace(*client);
    InformerOptions io;
    io.resource = kube::resources::configmaps().in(ns);
    // nothing matches: only a bookmark can move the version
    io.label_selector = "poetryops.io/test=bookmarks";
    Informer inf(*client, io);
    inf.start();
    ASSERT_TRUE(inf.wait_for_sync(20s));
    std::string rv0 = inf.resource_version();
    // A ConfigMap elsewhere moves the ConfigMaps watch cache's version (a namespace alone moves
    // it only once kube-controller-manager publishes kube-root-ca.crt there, which can lag).
    std::string other = fresh_namespace(*client);
    ASSERT_TRUE(client->create(kube::resources::configmaps().in(other),
                               {{"apiVersion", "v1"},
                                {"kind", "ConfigMap"},
                                {"metadata", {{"name", "moves-the-version"}}}}));
    // kube-apiserver's watch cache sends a BOOKMARK about once a minute.
    EXPECT_TRUE(test::wait_until(
        [&] { return std::stoll(inf.resource_version()) > std::stoll(rv0); }, 100s))
        << "no bookmark in 100 s; resourceVersion still " << inf.resource_version();
    EXPECT_EQ(inf.lists(), 1u) << "a bookmark moves the resume point without a relist";
}

POETRYOPS_KUBE_SERVERS(WatchIt);
POETRYOPS_KUBE_FAKE_ONLY(WatchFaultIt);
POETRYOPS_KUBE_REAL_ONLY(WatchRealIt);

}  // namespace
}  // namespace poetryops::runtime

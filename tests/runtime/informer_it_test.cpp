// The informer's compact cache against an API server: after a paged list, watch
// adds/updates/deletes and a relist, every cached object equals what the server returns for it.
#include <poetryops/runtime/informer.hpp>

#include "kube/kube_fixture.hpp"
#include "support/support.hpp"

#include <gtest/gtest.h>

namespace poetryops::runtime {
namespace {

using namespace std::chrono_literals;
using kube::testenv::KubeServerTest;
using nlohmann::json;

class InformerCacheIt : public KubeServerTest {};

json cm(const std::string& ns, const std::string& name, int i) {
    return {
        {"apiVersion", "v1"},
        {"kind", "ConfigMap"},
        {"metadata",
         {{"name", name},
          {"namespace", ns},
          {"labels", {{"app", "cache"}}},
          {"annotations", {{"note", "ünïcode ✓ " + std::to_string(i)}}}}},
        {"data",
         {{"v", std::to_string(i)}, {"text", std::string(static_cast<std::size_t>(50 + i), 'x')}}}};
}

/// Every object the server lists equals the informer's copy (managedFields aside: the default
/// transform drops them).
void expect_cache_matches_server(kube::RestClient& client, const kube::ResourceRef& ref,
                                 Informer& inf) {
    auto listed = client.list_all(ref, kube::ListOptions{.label_selector = "app=cache"});
    ASSERT_TRUE(listed) << listed.error().message;
    EXPECT_EQ(inf.size(), listed->items.size());
    for (auto& item : listed->items) {
        strip_managed_fields(item);
        auto cached = inf.get(key_of(item));
        ASSERT_TRUE(cached) << key_of(item);
        EXPECT_EQ(*cached, item);
    }
}

TEST_P(InformerCacheIt, CacheEqualsTheServerAfterListWatchAndRelist) {
    auto client = make_client();
    ASSERT_TRUE(client);
    std::string ns = fresh_namespace(*client);
    kube::ResourceRef cms = kube::resources::configmaps().in(ns);
    for (int i = 0; i < 12; ++i)
        ASSERT_TRUE(client->create(cms, cm(ns, "c" + std::to_string(i), i)));

    InformerOptions io;
    io.resource = cms;
    io.label_selector = "app=cache";
    io.page_size = 5;  // three pages
    io.backoff_base = 10ms;
    Informer inf(*client, io);
    inf.start();
    ASSERT_TRUE(inf.wait_for_sync(20s));
    expect_cache_matches_server(*client, cms, inf);

    ASSERT_TRUE(
        client->patch(cms.named("c3"), kube::PatchType::merge, {{"data", {{"v", "changed"}}}}));
    ASSERT_TRUE(client->remove(cms.named("c4")));
    ASSERT_TRUE(client->create(cms, cm(ns, "late", 99)));
    ASSERT_TRUE(test::wait_until([&] {
        auto c3 = inf.get(ns + "/c3");
        return c3 && c3->at("data").at("v") == "changed" && !inf.get(ns + "/c4") &&
               inf.get(ns + "/late");
    }));
    expect_cache_matches_server(*client, cms, inf);

    if (!fake()) return;  // expiring history needs the fake server
    ASSERT_TRUE(test::wait_until([&] { return fake()->open_watches() == 1; }));
    fake()->drop_watches();
    ASSERT_TRUE(
        client->patch(cms.named("c5"), kube::PatchType::merge, {{"data", {{"v", "during-gap"}}}}));
    ASSERT_TRUE(client->remove(cms.named("c6")));
    fake()->expire_history(true);
    ASSERT_TRUE(test::wait_until([&] { return inf.lists() >= 2 && !inf.get(ns + "/c6"); }));
    expect_cache_matches_server(*client, cms, inf);
}

POETRYOPS_KUBE_SERVERS(InformerCacheIt);

}  // namespace
}  // namespace poetryops::runtime

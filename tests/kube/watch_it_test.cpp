// Watches against the real Kubernetes lane, and against the fake API server for injected faults.
// The informer tests that ran here are in tests/runtime/informer_watch_it_test.cpp.
#include <poetryops/kube/client.hpp>

#include "kube/kube_fixture.hpp"
#include "support/support.hpp"

#include <poetryops/kube/status.hpp>

#include <gtest/gtest.h>

namespace poetryops::kube {
namespace {

using namespace std::chrono_literals;
using testenv::KubeServerTest;

class WatchIt : public KubeServerTest {};
/// Faults a real API server cannot produce on demand: the fake server only.
class WatchFaultIt : public WatchIt {};

nlohmann::json cm(const std::string& ns, const std::string& name, const std::string& value) {
    return {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata", {{"name", name}, {"namespace", ns}, {"labels", {{"app", "w"}}}}},
            {"data", {{"v", value}}}};
}

TEST_P(WatchIt, WatchResumesFromTheLastResourceVersion) {
    auto client = make_client();
    ASSERT_TRUE(client);
    std::string ns = fresh_namespace(*client);
    ResourceRef cms = resources::configmaps().in(ns);
    ASSERT_TRUE(client->create(cms, cm(ns, "a", "1")));
    auto list = client->list(cms);
    ASSERT_TRUE(list);
    ASSERT_TRUE(client->create(cms, cm(ns, "b", "1")));
    ASSERT_TRUE(client->patch(cms.named("a"), PatchType::merge, {{"data", {{"v", "2"}}}}));

    WatchOptions wo;
    wo.resource_version = list->resource_version;
    wo.timeout_seconds = 30;
    auto w = client->watch(cms, wo);
    ASSERT_TRUE(w) << w.error().message;
    std::vector<std::string> seen;
    while (seen.size() < 2) {
        auto ev = (*w)->next();
        ASSERT_TRUE(ev) << ev.error().message;
        ASSERT_TRUE(ev->has_value());
        if ((*ev)->type == WatchEventType::bookmark) continue;
        seen.push_back(std::string(to_string((*ev)->type)) + " " +
                       (*ev)->object["metadata"]["name"].get<std::string>());
    }
    EXPECT_EQ(seen, (std::vector<std::string>{"ADDED b", "MODIFIED a"}))
        << "only changes after the list, in order";
}

TEST_P(WatchFaultIt, ErrorEventOnAnOpenWatchIsGone) {
    auto client = make_client();
    ASSERT_TRUE(client);
    auto list = client->list(resources::configmaps().in("default"));
    ASSERT_TRUE(list);
    WatchOptions wo;
    wo.resource_version = list->resource_version;
    wo.allow_bookmarks = false;
    auto w = client->watch(resources::configmaps().in("default"), wo);
    ASSERT_TRUE(w);
    ASSERT_TRUE(test::wait_until([&] { return fake()->open_watches() == 1; }));
    fake()->expire_history(false);
    auto ev = (*w)->next();
    ASSERT_FALSE(ev);
    EXPECT_TRUE(is_gone(ev.error())) << ev.error().message;
    EXPECT_NE(ev.error().message.find("too old resource version"), std::string::npos);
}

TEST_P(WatchIt, IdleTimeoutDetectsASilentConnection) {
    auto client = make_client();
    ASSERT_TRUE(client);
    // A namespace of its own and a selector nothing matches: on the shared real cluster other tests
    // write ConfigMaps into "default", and kube-controller-manager publishes kube-root-ca.crt into
    // every new namespace.
    std::string ns = fresh_namespace(*client);
    auto list = client->list(resources::configmaps().in(ns));
    ASSERT_TRUE(list);
    WatchOptions wo;
    wo.resource_version = list->resource_version;
    wo.label_selector = "poetryops.io/test=nothing-matches";
    wo.allow_bookmarks = false;  // nothing will arrive
    wo.idle_timeout = 300ms;
    auto w = client->watch(resources::configmaps().in(ns), wo);
    ASSERT_TRUE(w);
    auto start = std::chrono::steady_clock::now();
    auto ev = (*w)->next();
    ASSERT_FALSE(ev);
    EXPECT_EQ(ev.error().kind, Error::Kind::timeout) << ev.error().message;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

POETRYOPS_KUBE_SERVERS(WatchIt);
POETRYOPS_KUBE_FAKE_ONLY(WatchFaultIt);

}  // namespace
}  // namespace poetryops::kube

// Events (EventRecorder) against the real Kubernetes lane and the fake API server.
#include <poetryops/kube/events.hpp>

#include "kube/kube_fixture.hpp"
#include "support/support.hpp"

#include <gtest/gtest.h>

namespace poetryops::kube {
namespace {

using testenv::KubeServerTest;

class EventsIt : public KubeServerTest {};

TEST_P(EventsIt, RepeatedEventsAreCountedNotDuplicated) {
    auto client = make_client();
    ASSERT_TRUE(client);
    std::string ns = fresh_namespace(*client);
    nlohmann::json obj = {{"apiVersion", "v1"},
                          {"kind", "ConfigMap"},
                          {"metadata", {{"name", "app"}, {"namespace", ns}}}};
    auto created = client->create(resources::configmaps().in(ns), obj);
    ASSERT_TRUE(created);
    EventRecorder rec(*client, {.component = "poetryops-test"});
    for (int i = 0; i < 3; ++i)
        rec.record(*created, EventType::warning, "InvalidSpec", "spec.x: bad (token=abc123)");
    rec.record(*created, EventType::normal, "Reconciled", "all good");
    EXPECT_EQ(rec.created(), 2u);
    EXPECT_EQ(rec.patched(), 2u);
    auto events = client->list(resources::events().in(ns));
    ASSERT_TRUE(events) << events.error().message;
    ASSERT_EQ(events->items.size(), 2u);
    for (const auto& e : events->items) {
        EXPECT_EQ(e["involvedObject"]["name"], "app");
        if (e["reason"] == "InvalidSpec") {
            EXPECT_EQ(e["count"], 3);
            EXPECT_EQ(e["type"], "Warning");
            EXPECT_EQ(e["message"].get<std::string>().find("abc123"), std::string::npos)
                << "messages are redacted";
        } else {
            EXPECT_EQ(e["count"], 1);
        }
    }
}

POETRYOPS_KUBE_SERVERS(EventsIt);

}  // namespace
}  // namespace poetryops::kube

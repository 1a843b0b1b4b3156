// Integration tests: the Notifier against a real HTTP server on 127.0.0.1 (the project's own
// http::Server) and against a listener that never answers (tests/support/http/stall_server.hpp).
#include <poetryops/http/server.hpp>
#include <poetryops/notify/notifier.hpp>
#include <poetryops/util/crypto.hpp>

#include "support/http/stall_server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <vector>

using namespace poetryops;
using namespace std::chrono_literals;

namespace {

struct Outcomes {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<notify::Outcome> all;
    notify::Notifier::OnOutcome sink() {
        return [this](const notify::Outcome& o) {
            std::lock_guard lock(mu);
            all.push_back(o);
            cv.notify_all();
        };
    }
    bool wait(std::size_t n, std::chrono::milliseconds d) {
        std::unique_lock lock(mu);
        return cv.wait_for(lock, d, [&] { return all.size() >= n; });
    }
};

notify::Message message() {
    return {.event = "Promoted",
            .ns = "team-a",
            .name = "billing",
            .environment = "prod",
            .version = "1.2.3",
            .commit = "deadbeef",
            .text = "promoted"};
}

}  // namespace

TEST(NotifierIt, SignedWebhookArrives) {
    std::mutex mu;
    std::vector<http::Request> seen;
    http::Server server;
    auto port = server.start({.port = 0}, [&](const http::Request& r) {
        std::lock_guard lock(mu);
        seen.push_back(r);
        return http::Response::make(204);
    });
    ASSERT_TRUE(port) << port.error().message;
    metrics::MetricsRegistry registry;
    Outcomes outcomes;
    auto n = notify::Notifier::create({.metrics = &registry}, outcomes.sink());
    ASSERT_TRUE(n);
    notify::Target t{.name = "ci",
                     .kind = notify::Kind::webhook,
                     .url = "http://127.0.0.1:" + std::to_string(*port) + "/hook",
                     .hmac_key = "k3y"};
    (*n)->enqueue({.target = t, .message = message(), .key = "deadbeef"});
    ASSERT_TRUE(outcomes.wait(1, 10s));
    EXPECT_TRUE(outcomes.all[0].delivered) << outcomes.all[0].error;
    std::lock_guard lock(mu);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].method, "POST");
    EXPECT_EQ(seen[0].headers.get_or("X-Poetryops-Signature"),
              "sha256=" + crypto::hmac_sha256_hex("k3y", seen[0].body));
    EXPECT_EQ(seen[0].headers.get_or("X-Poetryops-Delivery"), "deadbeef");
    EXPECT_EQ(nlohmann::json::parse(seen[0].body)["commit"], "deadbeef");
    EXPECT_EQ(registry.value("poetryops_notifications_total",
                             {{"kind", "webhook"}, {"result", "delivered"}}),
              1);
}

TEST(NotifierIt, RetriesAfter503HonouringRetryAfter) {
    std::atomic<int> calls{0};
    std::vector<std::chrono::steady_clock::time_point> at;
    std::mutex mu;
    http::Server server;
    auto port = server.start({.port = 0}, [&](const http::Request&) {
        {
            std::lock_guard lock(mu);
            at.push_back(std::chrono::steady_clock::now());
        }
        if (calls++ == 0) {
            auto r = http::Response::make(503, "busy");
            r.headers.set("Retry-After", "1");
            return r;
        }
        return http::Response::make(200);
    });
    ASSERT_TRUE(port);
    Outcomes outcomes;
    auto n = notify::Notifier::create({.retry = {.initial = 10ms}}, outcomes.sink());
    ASSERT_TRUE(n);
    notify::Target t{.name = "slack",
                     .kind = notify::Kind::slack,
                     .url = "http://127.0.0.1:" + std::to_string(*port) + "/services/T/B/x"};
    (*n)->enqueue({.target = t, .message = message(), .key = "k"});
    ASSERT_TRUE(outcomes.wait(1, 15s));
    EXPECT_TRUE(outcomes.all[0].delivered);
    EXPECT_EQ(outcomes.all[0].attempts, 2);
    std::lock_guard lock(mu);
    ASSERT_EQ(at.size(), 2u);
    EXPECT_GE(at[1] - at[0], 900ms) << "Retry-After: 1 was not honoured";
}

TEST(NotifierIt, HangingEndpointNeverBlocksEnqueueAndEndsInAFailure) {
    test::StallServer stall;
    Outcomes outcomes;
    auto n =
        notify::Notifier::create({.retry = {.initial = 10ms, .max_attempts = 2}}, outcomes.sink());
    ASSERT_TRUE(n);
    notify::Target t{.name = "teams",
                     .kind = notify::Kind::teams,
                     .url = "http://127.0.0.1:" + std::to_string(stall.port()) + "/webhook/secret",
                     .timeout = 300ms};
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 100; ++i)
        (*n)->enqueue({.target = t, .message = message(), .key = std::to_string(i)});
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 50ms) << "enqueue blocked";
    ASSERT_TRUE(outcomes.wait(1, 10s));
    EXPECT_FALSE(outcomes.all[0].delivered);
    EXPECT_EQ(outcomes.all[0].attempts, 2);
    EXPECT_FALSE(outcomes.all[0].error.empty());
    EXPECT_EQ(outcomes.all[0].error.find("secret"), std::string::npos) << outcomes.all[0].error;
    const auto s0 = std::chrono::steady_clock::now();
    (*n)->stop();
    EXPECT_LT(std::chrono::steady_clock::now() - s0, 2s)
        << "stop() waited for the hanging endpoint";
}

TEST(NotifierIt, FullQueueDropsTheOldestAndCountsIt) {
    test::StallServer stall;
    metrics::MetricsRegistry registry;
    auto n = notify::Notifier::create({.capacity = 2, .metrics = &registry}, nullptr);
    ASSERT_TRUE(n);
    notify::Target t{
        .name = "w", .url = "http://127.0.0.1:" + std::to_string(stall.port()), .timeout = 2000ms};
    int accepted = 0;
    for (int i = 0; i < 10; ++i)
        accepted += (*n)->enqueue({.target = t, .message = message(), .key = std::to_string(i)});
    EXPECT_LE((*n)->depth(), 2u);
    EXPECT_GE(registry.value("poetryops_notifications_total",
                             {{"kind", "webhook"}, {"result", "dropped"}}),
              7);
    EXPECT_LT(accepted, 10);
}

// controller::Notifications against a real receiver on 127.0.0.1 (the project's http::Server):
// what process() sends, what it records in status.notifications, and what it does not send again.
// The CLI and cluster paths are tested end to end in tests/cli/run_notifications_it_test.cpp and
// cluster_promotion_it_test.cpp.
#include <poetryops/controller/notifications.hpp>

#include <poetryops/http/server.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <thread>
#include <vector>

namespace poetryops::controller {
namespace {

using namespace std::chrono_literals;

class NotificationsIt : public ::testing::Test {
protected:
    void SetUp() override {
        auto port = receiver_.start({.port = 0}, [this](const http::Request& r) {
            std::lock_guard lock(mu_);
            seen_.push_back(r);
            return http::Response::make(204);
        });
        ASSERT_TRUE(port) << port.error().message;
        url_ = "http://127.0.0.1:" + std::to_string(*port) + "/hook";
        auto n = notify::Notifier::create({}, [this](const notify::Outcome& o) {
            if (notifications_) notifications_->on_outcome(o);
        });
        ASSERT_TRUE(n);
        notifier_ = std::move(n).value();
        SecretSource secrets = [this](const std::string& ns,
                                      const std::string& name) -> Result<SecretData> {
            if (ns != "team" || name != "hooks")
                return fail(Error::Kind::not_found, "Secret " + ns + "/" + name + ": not found");
            return SecretData{{{"url", url_}}, "1"};
        };
        notifications_ = std::make_unique<Notifications>(
            *notifier_, secrets, SystemClock::instance(), [this](const std::string& key) {
                std::lock_guard lock(mu_);
                woken_.push_back(key);
            });
        app_.metadata.name = "app";
        app_.metadata.namespace_ = "team";
        app_.metadata.uid = "u1";
        app_.spec.environments.resize(1);
        app_.spec.environments[0].name = "dev";
        api::NotificationSpec ops;
        ops.name = "ops";
        ops.url_from = {"hooks", "url"};
        app_.spec.notifications.push_back(ops);
    }

    void TearDown() override {
        if (notifier_) notifier_->stop();
    }

    /// A status whose dev runs what commit `c` promoted.
    static api::PoetryAppStatus promoted(const std::string& c) {
        api::PoetryAppStatus st;
        st.history.push_back(
            {"dev", api::HistoryKind::promote, "1.0", "1.0", "sha256:" + c, c, {}, ""});
        return st;
    }

    std::size_t woken() {
        std::lock_guard lock(mu_);
        return woken_.size();
    }

    std::size_t seen() {
        std::lock_guard lock(mu_);
        return seen_.size();
    }

    http::Server receiver_;
    std::string url_;
    std::mutex mu_;
    std::vector<http::Request> seen_;
    std::vector<std::string> woken_;
    std::unique_ptr<notify::Notifier> notifier_;
    std::unique_ptr<Notifications> notifications_;
    api::PoetryApp app_;
};

TEST_F(NotificationsIt, SendsOnceRecordsTheKeyAndANewTargetStartsFromTheStoredState) {
    // The app already ran c0 before the target existed: it is taken as sent.
    app_.status = promoted("c0");
    api::PoetryAppStatus st = app_.status;
    std::vector<promote::Event> events;
    notifications_->process(app_, st, events);
    ASSERT_EQ(st.notifications.size(), 1u);
    EXPECT_EQ(st.notifications[0].keys, (std::vector<std::string>{"c0"}));
    EXPECT_EQ(notifications_->in_flight(), 0u);

    // c1 is promoted: sent once, even when reconciled again before the outcome is recorded.
    app_.status = st;
    st = promoted("c1");
    notifications_->process(app_, st, events);
    notifications_->process(app_, st, events);
    ASSERT_TRUE(notifications_->wait_idle(10s));
    EXPECT_EQ(seen(), 1u);
    // The wake-up follows the outcome (outside the lock wait_idle waits on).
    for (int i = 0; i < 500 && woken() == 0; ++i) std::this_thread::sleep_for(10ms);
    {
        std::lock_guard lock(mu_);
        EXPECT_EQ(woken_, (std::vector<std::string>{"team/app"}));
        EXPECT_EQ(seen_[0].headers.get_or("X-Poetryops-Delivery"), "c1");
    }
    // The next reconcile records it; the one after that (the status stored) sends nothing.
    notifications_->process(app_, st, events);
    EXPECT_THAT(st.notifications[0].keys, testing::ElementsAre("c0", "c1"));
    app_.status = st;
    notifications_->process(app_, st, events);
    EXPECT_EQ(notifications_->in_flight(), 0u);
    EXPECT_EQ(seen(), 1u);
    EXPECT_TRUE(events.empty());
    EXPECT_EQ(api::find_condition(st.conditions, "Notified"), nullptr);
}

TEST_F(NotificationsIt, KeysAreBoundedButACurrentFactsKeyIsNeverDropped) {
    api::PoetryAppStatus st = promoted("current");
    api::NotificationStatus ns;
    ns.name = "ops";
    ns.keys.push_back("current");  // the oldest, and still current
    for (int i = 0; i < 30; ++i) ns.keys.push_back("old-" + std::to_string(i));
    st.notifications.push_back(ns);
    app_.status = st;
    std::vector<promote::Event> events;
    notifications_->process(app_, st, events);
    const auto& keys = st.notifications[0].keys;
    ASSERT_EQ(keys.size(), api::kNotificationKeysKept + 1);
    EXPECT_EQ(keys.front(), "current");
    EXPECT_EQ(keys[1], "old-10");
    EXPECT_EQ(keys.back(), "old-29");
    EXPECT_EQ(notifications_->in_flight(), 0u);
}

TEST_F(NotificationsIt, AnUnreadableSecretIsNamedOnceAndNothingIsSent) {
    app_.spec.notifications[0].url_from = {"missing", "url"};
    app_.status.notifications.push_back({"ops", {}, std::nullopt});
    api::PoetryAppStatus st = promoted("c1");
    st.notifications = app_.status.notifications;
    std::vector<promote::Event> events;
    notifications_->process(app_, st, events);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_TRUE(events[0].warning);
    EXPECT_EQ(events[0].reason, "NotificationFailed");
    EXPECT_THAT(events[0].message, testing::HasSubstr("notification target ops"));
    EXPECT_THAT(events[0].message, testing::HasSubstr("Secret team/missing"));
    ASSERT_TRUE(st.notifications[0].last_failure);
    EXPECT_EQ(st.notifications[0].last_failure->key, "c1");
    const api::Condition* notified = api::find_condition(st.conditions, "Notified");
    ASSERT_NE(notified, nullptr);
    EXPECT_EQ(notified->status, "False");
    // Stored, the same failure is not reported again; the key stays unsent (retried).
    app_.status = st;
    events.clear();
    notifications_->process(app_, st, events);
    EXPECT_TRUE(events.empty());
    EXPECT_TRUE(st.notifications[0].keys.empty());
    EXPECT_EQ(seen(), 0u);
    // Once the Secret is there, it is sent.
    app_.spec.notifications[0].url_from = {"hooks", "url"};
    notifications_->process(app_, st, events);
    ASSERT_TRUE(notifications_->wait_idle(10s));
    EXPECT_EQ(seen(), 1u);
    notifications_->process(app_, st, events);
    EXPECT_FALSE(st.notifications[0].last_failure);
    notified = api::find_condition(st.conditions, "Notified");
    ASSERT_NE(notified, nullptr);
    EXPECT_EQ(notified->status, "True");
}

}  // namespace
}  // namespace poetryops::controller

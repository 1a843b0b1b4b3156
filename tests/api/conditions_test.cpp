#include <poetryops/api/conditions.hpp>

#include <gtest/gtest.h>

using namespace poetryops::api;
using namespace std::chrono_literals;

namespace {
Condition ready(std::string status, std::string reason, std::string message, std::int64_t gen) {
    Condition c;
    c.type = "Ready";
    c.status = std::move(status);
    c.reason = std::move(reason);
    c.message = std::move(message);
    c.observed_generation = gen;
    return c;
}
}  // namespace

TEST(Conditions, TransitionTimeChangesOnlyWhenStatusFlips) {
    std::vector<Condition> conds;
    auto t0 = std::chrono::system_clock::time_point{} + 1000h;
    EXPECT_TRUE(set_condition(conds, ready("False", "InvalidSpec", "spec.x: bad", 1), t0));
    ASSERT_EQ(conds.size(), 1u);
    EXPECT_EQ(conds[0].last_transition_time, t0);

    // Same status, new message and generation: updated, transition time kept.
    EXPECT_TRUE(set_condition(conds, ready("False", "InvalidSpec", "spec.y: bad", 2), t0 + 1min));
    EXPECT_EQ(conds[0].message, "spec.y: bad");
    EXPECT_EQ(conds[0].observed_generation, 2);
    EXPECT_EQ(conds[0].last_transition_time, t0);

    // Nothing new: no change reported (so no status write).
    EXPECT_FALSE(set_condition(conds, ready("False", "InvalidSpec", "spec.y: bad", 2), t0 + 2min));
    EXPECT_EQ(conds[0].last_transition_time, t0);

    // Flip: the transition time moves.
    EXPECT_TRUE(set_condition(conds, ready("True", "SpecValid", "ok", 3), t0 + 3min));
    EXPECT_EQ(conds[0].last_transition_time, t0 + 3min);
    EXPECT_EQ(conds[0].status, "True");
    EXPECT_TRUE(is_condition_true(conds, "Ready"));
}

TEST(Conditions, KeepsOtherTypesAndCanRemove) {
    std::vector<Condition> conds;
    auto t0 = std::chrono::system_clock::time_point{} + 1000h;
    set_condition(conds, ready("True", "SpecValid", "", 1), t0);
    Condition degraded;
    degraded.type = "Degraded";
    degraded.status = "True";
    degraded.reason = "RegistryUnavailable";
    set_condition(conds, degraded, t0);
    EXPECT_EQ(conds.size(), 2u);
    ASSERT_NE(find_condition(conds, "Degraded"), nullptr);
    EXPECT_EQ(find_condition(conds, "Degraded")->reason, "RegistryUnavailable");
    EXPECT_TRUE(remove_condition(conds, "Degraded"));
    EXPECT_FALSE(remove_condition(conds, "Degraded"));
    EXPECT_EQ(find_condition(conds, "Degraded"), nullptr);
    EXPECT_EQ(conds.size(), 1u);
}

TEST(Conditions, TruncatesHugeMessagesAndSecondPrecision) {
    std::vector<Condition> conds;
    auto t0 = std::chrono::system_clock::time_point{} + 1000h + 1500ms;
    set_condition(conds, ready("False", "InvalidSpec", std::string(40000, 'x'), 1), t0);
    EXPECT_EQ(conds[0].message.size(), 32768u);
    EXPECT_EQ(conds[0].last_transition_time, std::chrono::system_clock::time_point{} + 1000h + 1s);
}

TEST(ConditionReason, EveryVocabularyBecomesCamelCase) {
    using poetryops::api::condition_reason;
    EXPECT_EQ(condition_reason("MANIFEST_UNKNOWN", "RegistryUnavailable"), "ManifestUnknown");
    EXPECT_EQ(condition_reason("DIGEST_MISMATCH", "X"), "DigestMismatch");
    EXPECT_EQ(condition_reason("UNAUTHORIZED", "X"), "Unauthorized");
    EXPECT_EQ(condition_reason("NotFound", "X"), "NotFound");
    EXPECT_EQ(condition_reason("PushRejected", "X"), "PushRejected");
    EXPECT_EQ(condition_reason("", "GitOpsUnavailable"), "GitOpsUnavailable");
    EXPECT_EQ(condition_reason("__", "DependencyFailed"), "DependencyFailed");
    EXPECT_EQ(condition_reason("tls handshake", "X"), "TlsHandshake");
    EXPECT_EQ(condition_reason("429", "TooManyRequests"), "TooManyRequests")
        << "a reason starts with a letter";
}

#include "git/detail/coprocess.hpp"

#include "git/detail/cat_file.hpp"

#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

namespace poetryops::git::detail {
namespace {

using namespace std::chrono_literals;

ProcessOptions clean_env() {
    ProcessOptions o;
    o.inherit_env = false;
    o.env["PATH"] = "/usr/bin:/bin";
    return o;
}

auto lines(std::size_t n) {
    return [n](std::string_view out) {
        return static_cast<std::size_t>(std::count(out.begin(), out.end(), '\n')) >= n;
    };
}

bool gone(int pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

TEST(Coprocess, AnswersSeveralExchangesWithOneProcess) {
    auto c = Coprocess::start({"cat"}, clean_env());
    ASSERT_TRUE(c) << c.error().message;
    for (const std::string msg : {"one\n", "two\nthree\n"}) {
        std::string out;
        auto r = (*c)->exchange(msg, out, lines(std::count(msg.begin(), msg.end(), '\n')), 5s);
        ASSERT_TRUE(r) << r.error().message;
        EXPECT_EQ(out, msg);
    }
    EXPECT_TRUE((*c)->usable());
}

TEST(Coprocess, ALargeRequestDoesNotDeadlockOnFullPipes) {
    // More than both pipe buffers: writing everything before reading would block forever.
    auto c = Coprocess::start({"cat"}, clean_env());
    ASSERT_TRUE(c) << c.error().message;
    std::string big;
    for (int i = 0; i < 100000; ++i) big += "line " + std::to_string(i) + "\n";
    std::string out;
    auto r = (*c)->exchange(big, out, lines(100000), 20s);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(out, big);
}

TEST(Coprocess, NoAnswerInTimeIsATimeoutAndTheProcessIsKilled) {
    auto c = Coprocess::start({"sleep", "60"}, clean_env());
    ASSERT_TRUE(c) << c.error().message;
    int pid = (*c)->pid();
    std::string out;
    auto t0 = std::chrono::steady_clock::now();
    auto r = (*c)->exchange("hello\n", out, lines(1), 300ms);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::timeout);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
    EXPECT_FALSE((*c)->usable());
    EXPECT_TRUE(gone(pid));  // killed and reaped
}

TEST(Coprocess, AProcessThatExitsIsAnErrorWithItsLastWords) {
    auto c = Coprocess::start(
        {"sh", "-c", "read x; echo partial; echo 'fatal: gave up' >&2; exit 3"}, clean_env());
    ASSERT_TRUE(c) << c.error().message;
    std::string out;
    auto r = (*c)->exchange("a\nb\n", out, lines(2), 5s);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::internal);
    EXPECT_EQ(out, "partial\n");
    EXPECT_NE((*c)->stderr_tail().find("fatal: gave up"), std::string::npos);
    EXPECT_FALSE((*c)->usable());
}

TEST(Coprocess, DestructionKillsTheProcessGroup) {
    int pid = -1;
    {
        auto c = Coprocess::start({"sleep", "60"}, clean_env());
        ASSERT_TRUE(c) << c.error().message;
        pid = (*c)->pid();
        EXPECT_FALSE(gone(pid));
    }
    EXPECT_TRUE(gone(pid));
}

TEST(Coprocess, AProgramNotInPathIsNotFound) {
    auto c = Coprocess::start({"no-such-program-poetryops"}, clean_env());
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().kind, Error::Kind::not_found);
}

TEST(CatFileOutput, CountsOnlyCompleteAnswers) {
    std::string out = "abc missing\n";
    out += "1111 blob 5\nhel";
    std::size_t pos = 0, count = 0;
    count_batch_answers(out, pos, count, 3);
    EXPECT_EQ(count, 1u);  // the blob is not complete yet
    out += "lo\n";
    count_batch_answers(out, pos, count, 3);
    EXPECT_EQ(count, 2u);
    // A body that happens to end in " missing" is content, not an answer.
    out += "2222 blob 9\nx missing\n";
    count_batch_answers(out, pos, count, 3);
    EXPECT_EQ(count, 3u);
    EXPECT_EQ(pos, out.size());
}

}  // namespace
}  // namespace poetryops::git::detail

#include <poetryops/util/subprocess.hpp>

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

#include <poetryops/util/fs.hpp>

namespace poetryops {
namespace {

TEST(RunProcess, CapturesOutputStdinAndExitCode) {
    ProcessOptions o;
    o.stdin_data = "hello from stdin";
    auto r = run_process({"sh", "-c", "cat; echo err >&2; exit 3"}, o);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->out, "hello from stdin");
    EXPECT_EQ(r->err, "err\n");
    EXPECT_EQ(r->exit_code, 3);
    EXPECT_FALSE(r->ok());
}

TEST(RunProcess, LinesArriveAsTheyAreWrittenAndOutputIsStillCollected) {
    ProcessOptions o;
    std::vector<std::string> lines;
    std::vector<std::chrono::steady_clock::time_point> at;
    o.on_line = [&](std::string_view line) {
        lines.emplace_back(line);
        at.push_back(std::chrono::steady_clock::now());
    };
    auto r = run_process(
        {"sh", "-c",
         "echo STEP 1/2; sleep 0.3; echo oops >&2; sleep 0.2; printf 'STEP 2/2\nno newline'"},
        o);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(lines, (std::vector<std::string>{"STEP 1/2", "oops", "STEP 2/2", "no newline"}));
    ASSERT_EQ(at.size(), 4u);
    EXPECT_GE(at[1] - at[0], std::chrono::milliseconds(200));  // the first came before the sleep
    EXPECT_EQ(r->out, "STEP 1/2\nSTEP 2/2\nno newline");
}

TEST(RunProcess, CancelKillsTheProcessGroup) {
    std::atomic<bool> cancel{false};
    ProcessOptions o;
    o.cancel = &cancel;
    std::thread canceller([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        cancel = true;
    });
    auto start = std::chrono::steady_clock::now();
    auto r = run_process({"sh", "-c", "sleep 30 & sleep 30"}, o);
    canceller.join();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->cancelled);
    EXPECT_FALSE(r->timed_out);
    EXPECT_FALSE(r->ok());
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(RunProcess, ArgvIsNeverInterpretedByAShell) {
    auto r = run_process({"echo", "$(id)", "a;b", "*"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->out, "$(id) a;b *\n");
}

TEST(RunProcess, EnvironmentControl) {
    setenv("POETRYOPS_TEST_INHERITED", "yes", 1);
    ProcessOptions o;
    o.env["POETRYOPS_TEST_SET"] = "set";
    o.unset_env = {"POETRYOPS_TEST_INHERITED"};
    auto r = run_process(
        {"sh", "-c", "echo ${POETRYOPS_TEST_SET}-${POETRYOPS_TEST_INHERITED:-unset}"}, o);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->out, "set-unset\n");
    ProcessOptions clean;
    clean.inherit_env = false;
    clean.env["PATH"] = "/usr/bin:/bin";
    r = run_process({"sh", "-c", "echo ${POETRYOPS_TEST_INHERITED:-none}"}, clean);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->out, "none\n");
}

TEST(RunProcess, TimeoutKillsTheWholeProcessGroup) {
    TempDir dir;
    auto marker = dir.path() / "grandchild-survived";
    ProcessOptions o;
    o.timeout = std::chrono::milliseconds(300);
    // The grandchild would write the marker after 1.5 s if it survived the group kill.
    auto start = std::chrono::steady_clock::now();
    auto r = run_process({"sh", "-c", "(sleep 1.5; touch " + marker.string() + ") & sleep 30"}, o);
    auto took = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->timed_out);
    EXPECT_FALSE(r->ok());
    EXPECT_LT(took, std::chrono::seconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(1800));
    EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST(RunProcess, OutputLimitTruncates) {
    ProcessOptions o;
    o.max_output = 1000;
    auto r = run_process({"head", "-c", "100000", "/dev/zero"}, o);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->out.size(), 1000u);
    EXPECT_TRUE(r->out_truncated);
    EXPECT_EQ(r->exit_code, 0);
}

TEST(RunProcess, MissingProgramAndWorkingDirectory) {
    auto r = run_process({"poetryops-no-such-program"});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::not_found);
    EXPECT_NE(r.error().message.find("poetryops-no-such-program"), std::string::npos);
    TempDir dir;
    ProcessOptions o;
    o.cwd = dir.path().string();
    auto pwd = run_process({"pwd"}, o);
    ASSERT_TRUE(pwd);
    EXPECT_EQ(pwd->out, dir.path().string() + "\n");
}

TEST(ChildProcess, StopKillsServerAndItsChildren) {
    TempDir dir;
    auto log = (dir.path() / "log").string();
    auto c = ChildProcess::spawn({"sh", "-c", "echo started; sleep 30 & wait"}, {}, log);
    ASSERT_TRUE(c);
    int pid = c->pid();
    EXPECT_TRUE(c->running());
    for (int i = 0; i < 250 && read_file(log).value_or("").empty(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    c->stop(std::chrono::milliseconds(500));
    // No live process of the group is left (an orphaned zombie may linger until init reaps it).
    auto alive_in_group = [pid] {
        for (auto& e : std::filesystem::directory_iterator("/proc")) {
            auto stat = read_file(e.path() / "stat");
            if (!stat) continue;
            auto close = stat->rfind(')');
            if (close == std::string::npos) continue;
            char state = 0;
            int ppid = 0, pgrp = 0;
            if (std::sscanf(stat->c_str() + close + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 &&
                pgrp == pid && state != 'Z')
                return true;
        }
        return false;
    };
    EXPECT_FALSE(alive_in_group());
    auto text = read_file(log);
    ASSERT_TRUE(text);
    EXPECT_EQ(*text, "started\n");
}

TEST(FormatArgv, QuotesForDisplay) {
    EXPECT_EQ(format_argv({"git", "commit", "-m", "it's done"}), "git commit -m 'it'\\''s done'");
}

}  // namespace
}  // namespace poetryops

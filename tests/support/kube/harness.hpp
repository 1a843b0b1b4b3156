#pragma once
/// Small helpers shared by the real-cluster harness (cluster.cpp, node.cpp and their supervisors):
/// no gtest, so the supervisor programs can use them too.

#include <poetryops/util/result.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace poetryops::test::kube::harness {

/// The variable's value, or `fallback` when unset or empty.
std::string env_or(const char* name, const std::string& fallback = {});
/// The last `max` bytes of a log file, for an error message ("(no log)" when unreadable).
std::string tail_of(const std::filesystem::path& log, std::size_t max = 2000);
/// Runs `openssl ARGS…` in `cwd`; fails with its stderr.
Result<void> openssl(const std::vector<std::string>& args, const std::filesystem::path& cwd);
/// Seconds since `t0` as "1.2 s".
std::string secs_since(std::chrono::steady_clock::time_point t0);
/// Whether a process exists (zombies included), and which executable it runs ("" when gone or
/// unreadable).
bool alive(int pid);
std::string exe_of(int pid);

}  // namespace poetryops::test::kube::harness

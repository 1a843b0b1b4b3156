#pragma once
// What the benchmarks share: elapsed time, percentiles and medians, this process' memory from
// /proc/self/status, and a bare repository's branch tip read without running git.
#include <poetryops/util/fs.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace poetryops::bench {

using Steady = std::chrono::steady_clock;

inline double ms_between(Steady::time_point a, Steady::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

inline double seconds_since(Steady::time_point t) {
    return std::chrono::duration<double>(Steady::now() - t).count();
}

/// The nearest-rank percentile `p` (0-100) of `v`; 0 when empty.
inline double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

/// The median of `v` (the mean of the middle two for an even count); 0 when empty.
inline double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

/// A memory field of /proc/self/status ("VmRSS", "VmHWM") in MiB; 0 when absent.
inline double proc_mib(const std::string& field = "VmRSS") {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(field + ":", 0) == 0)
            return std::atof(line.c_str() + field.size() + 1) / 1024.0;
    }
    return 0;
}

/// The commit `branch` of the bare repository `bare` points at (loose or packed ref); "" when
/// none.
inline std::string read_tip(const std::filesystem::path& bare, const std::string& branch = "main") {
    if (auto loose = read_file(bare / "refs/heads" / branch); loose && loose->size() >= 40)
        return loose->substr(0, 40);
    auto packed = read_file(bare / "packed-refs");
    if (!packed) return "";
    auto p = packed->find(" refs/heads/" + branch + "\n");
    return (p == std::string::npos || p < 40) ? "" : packed->substr(p - 40, 40);
}

}  // namespace poetryops::bench

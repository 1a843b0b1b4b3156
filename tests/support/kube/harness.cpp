#include "support/kube/harness.hpp"

#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace poetryops::test::kube::harness {

std::string env_or(const char* name, const std::string& fallback) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

std::string tail_of(const std::filesystem::path& log, std::size_t max) {
    auto text = read_file(log);
    if (!text) return "(no log)";
    std::string t = *text;
    if (t.size() > max) t = "..." + t.substr(t.size() - max);
    return t;
}

Result<void> openssl(const std::vector<std::string>& args, const std::filesystem::path& cwd) {
    std::vector<std::string> argv{"openssl"};
    argv.insert(argv.end(), args.begin(), args.end());
    POETRYOPS_TRY(auto r,
                  run_process(argv, {.cwd = cwd.string(), .timeout = std::chrono::seconds(60)}));
    if (!r.ok()) return fail(Error::Kind::internal, format_argv(argv) + ": " + r.err);
    return ok();
}

std::string secs_since(std::chrono::steady_clock::time_point t0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s",
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return buf;
}

bool alive(int pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

std::string exe_of(int pid) {
    std::error_code ec;
    auto p = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
    return ec ? std::string() : p.string();
}

}  // namespace poetryops::test::kube::harness

#pragma once
// What the chaos tests share (tests/chaos): a foreign writer on the GitOps branch, the processes
// and temp files a killed run could leave, and reading git output.

#include <poetryops/util/subprocess.hpp>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/git/git_servers.hpp"

namespace poetryops::test::chaos {

namespace fs = std::filesystem;

inline std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        if (!l.empty()) out.push_back(l);
    return out;
}

/// Processes (other than this one) whose working directory or command line is inside `dir`: what
/// a killed run could have left behind.
inline std::vector<std::string> processes_inside(const fs::path& dir) {
    std::vector<std::string> found;
    const std::string prefix = dir.string();
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/proc", ec)) {
        const std::string pid = e.path().filename().string();
        if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
        if (std::stoi(pid) == getpid()) continue;
        std::error_code ec2;
        auto cwd = fs::read_symlink(e.path() / "cwd", ec2).string();
        std::ifstream f(e.path() / "cmdline");
        std::string cmd((std::istreambuf_iterator<char>(f)), {});
        for (auto& c : cmd)
            if (c == '\0') c = ' ';
        if (cwd.rfind(prefix, 0) == 0 || cmd.find(prefix) != std::string::npos)
            found.push_back(pid + " " + cmd);
    }
    return found;
}

/// Files under `dir` whose name starts with one of `prefixes`.
inline std::vector<std::string> leftovers(const fs::path& dir,
                                          const std::vector<std::string>& prefixes) {
    std::vector<std::string> found;
    std::error_code ec;
    if (!fs::exists(dir, ec)) return found;
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        const auto name = it->path().filename().string();
        for (const auto& p : prefixes)
            if (name.rfind(p, 0) == 0) found.push_back(it->path().string());
    }
    return found;
}

/// Pushes a commit touching only foreign/ every ~100 ms from its own clone until `stop`; a
/// rejected push (poetryops moved the branch) is rebased and retried, as a person would.
class ForeignWriter {
public:
    ForeignWriter(const std::string& url, const std::string& user, const std::string& password,
                  const fs::path& work)
        : work_(work) {
        fs::create_directories(work_);
        auto cred =
            "http://" + user + ":" + password + "@" + url.substr(std::string("http://").size());
        test::plain_git({"clone", "-q", cred, (work_ / "clone").string()});
        thread_ = std::thread([this] { loop(); });
    }
    ~ForeignWriter() { stop(); }
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    std::vector<std::string> pushed() const {
        std::lock_guard lock(mu_);
        return pushed_;
    }
    int rejected() const { return rejected_; }

private:
    void loop() {
        const auto clone = work_ / "clone";
        auto git = [&](std::vector<std::string> args) {
            std::vector<std::string> full{"-c", "user.name=other", "-c", "user.email=o@x"};
            full.insert(full.end(), args.begin(), args.end());
            return test::plain_git(full, clone);
        };
        for (int n = 0; !stop_; ++n) {
            fs::create_directories(clone / "foreign");
            std::ofstream(clone / "foreign" / ("note-" + std::to_string(n) + ".txt")) << n << "\n";
            git({"add", "-A"});
            git({"commit", "-qm", "foreign note " + std::to_string(n)});
            for (int attempt = 0; attempt < 50 && !stop_; ++attempt) {
                if (git({"push", "-q", "origin", "HEAD:main"}).exit_code == 0) {
                    std::lock_guard lock(mu_);
                    pushed_.push_back(git({"rev-parse", "HEAD"}).out.substr(0, 40));
                    break;
                }
                ++rejected_;
                git({"pull", "-q", "--rebase", "origin", "main"});
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }

    fs::path work_;
    std::atomic<bool> stop_{false};
    std::atomic<int> rejected_{0};
    mutable std::mutex mu_;
    std::vector<std::string> pushed_;
    std::thread thread_;
};

/// `ancestor` is `rev` or an ancestor of it in the bare repository.
inline bool is_ancestor(const fs::path& bare, const std::string& ancestor, const std::string& rev) {
    return plain_git({"--git-dir", bare.string(), "merge-base", "--is-ancestor", ancestor, rev})
               .exit_code == 0;
}

/// The commits of `commits` that are not on `branch` (lost).
inline std::vector<std::string> not_on_branch(const fs::path& bare,
                                              const std::vector<std::string>& commits,
                                              const std::string& branch = "main") {
    std::vector<std::string> lost;
    for (const auto& c : commits)
        if (!is_ancestor(bare, c, branch)) lost.push_back(c);
    return lost;
}

/// How many commits on `branch` carry each Poetryops-Promotion trailer value; a value counted
/// twice is a duplicate promotion.
inline std::map<std::string, int> promotion_trailers(const fs::path& bare,
                                                     const std::string& branch = "main") {
    auto log = plain_git({"--git-dir", bare.string(), "log", branch,
                          "--format=%(trailers:key=Poetryops-Promotion,valueonly)"});
    std::map<std::string, int> count;
    for (const auto& t : lines_of(log.out)) ++count[t];
    return count;
}

/// The updates of `branch` in a bare repository's reflog (BareRepos keeps one) whose old value is
/// not an ancestor of the new one: force pushes. `updates` gets the number of updates.
inline std::vector<std::string> forced_updates(const fs::path& bare, int& updates,
                                               const std::string& branch = "main") {
    std::vector<std::string> forced;
    updates = 0;
    std::ifstream f(bare / "logs/refs/heads" / branch);
    for (std::string line; std::getline(f, line);) {
        if (line.size() < 81) continue;
        ++updates;
        const auto old_sha = line.substr(0, 40), new_sha = line.substr(41, 40);
        if (old_sha.find_first_not_of('0') == std::string::npos) continue;  // creation
        if (!is_ancestor(bare, old_sha, new_sha)) forced.push_back(line);
    }
    return forced;
}

}  // namespace poetryops::test::chaos

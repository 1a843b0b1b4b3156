// Security review, issue #15: a secret never leaks. `poetryops run` (the real binary, debug
// logging) promotes an image from a real TLS registry with htpasswd auth into a real HTTPS git
// server with basic auth, takes registry webhooks with a bearer token (one refused with a wrong
// token), refuses an app whose repoURL carries a password in its userinfo, and fails on every pass
// for a second app whose repository does not exist. Secrets of every kind are unique random
// strings; the test looks for each of them in everything a person or another process could see:
// stdout and stderr (logs, Events, errors), every file under --state (status, the git cache), and,
// sampled every few milliseconds while it runs, the argv of poetryops and of every process it
// starts, and their environment.
//
// One exception, by design and stated in SECURITY.md: the git password is in the environment of
// the git processes started with poetryops' askpass helper (GIT_ASKPASS), because that helper is
// their child and reads it from there. The test checks that no other process has it in its
// environment, and that no process has any secret in argv.
#include <poetryops/util/fs.hpp>
#include <poetryops/util/strings.hpp>
#include <poetryops/util/subprocess.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "support/git/git_servers.hpp"
#include "support/registry/test_registry.hpp"
#include "support/support.hpp"

using namespace poetryops;
namespace fs = std::filesystem;

namespace {

std::string random_secret(const std::string& kind) {
    std::random_device rd;
    std::ostringstream s;
    s << kind << "-";
    for (int i = 0; i < 4; ++i) s << std::hex << rd();
    return s.str();
}

/// The file's bytes; "" when it cannot be read (a /proc file of a process that just exited fails
/// mid-read with ESRCH, which libstdc++'s streambuf iterator throws).
std::string slurp(const fs::path& p) {
    try {
        std::ifstream f(p, std::ios::binary);
        return std::string((std::istreambuf_iterator<char>(f)), {});
    } catch (const std::exception&) {
        return {};
    }
}

/// pid → parent pid of every process now.
std::map<int, int> parents() {
    std::map<int, int> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/proc", ec)) {
        const std::string name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after ')'.
        const std::string stat = slurp(e.path() / "stat");
        const auto close = stat.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream rest(stat.substr(close + 1));
        std::string state;
        int ppid = 0;
        rest >> state >> ppid;
        out[std::stoi(name)] = ppid;
    }
    return out;
}

/// What one sample of a process showed.
struct Seen {
    int pid = 0;
    std::string comm;
    std::string argv;
    std::string environ;
};

/// Samples `root` and its descendants until stopped.
class ProcessSampler {
public:
    explicit ProcessSampler(int root) : root_(root), thread_([this] { loop(); }) {}
    ~ProcessSampler() { stop(); }
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    std::vector<Seen> seen() const {
        std::lock_guard lock(mu_);
        return seen_;
    }
    int samples() const { return samples_; }

private:
    void loop() {
        while (!stop_) {
            auto pp = parents();
            std::set<int> tree{root_};
            for (bool grew = true; grew;) {
                grew = false;
                for (const auto& [pid, ppid] : pp)
                    if (tree.count(ppid) && tree.insert(pid).second) grew = true;
            }
            for (int pid : tree) {
                const fs::path p = "/proc/" + std::to_string(pid);
                Seen s{pid, slurp(p / "comm"), slurp(p / "cmdline"), slurp(p / "environ")};
                if (s.comm.empty()) continue;  // gone already
                std::lock_guard lock(mu_);
                seen_.push_back(std::move(s));
            }
            ++samples_;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
    int root_;
    std::atomic<bool> stop_{false};
    std::atomic<int> samples_{0};
    mutable std::mutex mu_;
    std::vector<Seen> seen_;
    std::thread thread_;
};

TEST(Secrets, NoSecretOfAnyKindAppearsInLogsStatusFilesArgvOrAnotherProcesssEnvironment) {
    ASSERT_TRUE(test::require_tools({"git", "lighttpd", "docker-registry", "skopeo", "umoci"}));
    TempDir dir("poetryops-secrets");
    const std::string git_password = random_secret("gitpw");
    const std::string registry_password = random_secret("regpw");
    const std::string webhook_token = random_secret("hooktoken");
    const std::string url_password = random_secret("urlpw");
    const std::map<std::string, std::string> secrets{{"git password", git_password},
                                                     {"registry password", registry_password},
                                                     {"webhook token", webhook_token},
                                                     {"password in a repoURL", url_password}};

    test::TestCa ca;
    test::BareRepos repos;
    repos.create("gitops.git");
    repos.commit_files("gitops.git",
                       {{"envs/dev/kustomization.yaml", "images:\n- name: REPO\n  newTag: old\n"}});
    test::HttpGitServer git(repos, ca, "gitops", git_password);
    ASSERT_TRUE(git.started()) << git.error_log();
    auto registry = test::TestRegistry::start(
        {.tls = true, .ca = &ca, .user = "puller", .password = registry_password});
    ASSERT_TRUE(registry);
    const std::string repo = registry->host() + "/team/app";
    // The overlay names the image as the app does.
    repos.commit_files("gitops.git", {{"envs/dev/kustomization.yaml",
                                       "images:\n- name: " + repo + "\n  newTag: old\n"}});

    ASSERT_TRUE(write_file_atomic(dir.path() / "docker-config.json",
                                  R"({"auths":{")" + registry->host() + R"(":{"auth":")" +
                                      str::base64_encode("puller:" + registry_password) +
                                      R"("}}})"));
    fs::create_directories(dir.path() / "apps");
    auto app = [&](const std::string& name, const std::string& url) {
        return "apiVersion: poetryops.io/v1alpha1\nkind: PoetryApp\nmetadata:\n  name: " + name +
               "\n  namespace: team\nspec:\n  image:\n    repository: " + repo +
               "\n    tagTemplate: \"{version}\"\n    policy: {pollInterval: 1s}\n"
               "  gitops: {repoURL: \"" +
               url + "\"}\n  environments:\n  - {name: dev, path: envs/dev}\n";
    };
    ASSERT_TRUE(
        write_file_atomic(dir.path() / "apps/app.yaml", app("app", git.https_url("gitops.git"))));
    // A repoURL that carries a password is refused at start, naming the field, not the password.
    std::string url_with_password = git.https_url("gitops.git");
    url_with_password.insert(std::string("https://").size(), "someone:" + url_password + "@");
    fs::create_directories(dir.path() / "bad");
    ASSERT_TRUE(write_file_atomic(dir.path() / "bad/app.yaml", app("bad", url_with_password)));
    auto refused = run_process({POETRYOPS_BIN, "run", "--once", "-f", (dir.path() / "bad").string(),
                                "--state", (dir.path() / "state").string()});
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->exit_code, 2) << refused->err;
    EXPECT_THAT(refused->err, testing::HasSubstr("spec.gitops.repoURL"));
    const std::string refused_output = refused->out + refused->err;
    // A second app for a repository that does not exist: it fails every pass while the first is
    // promoted, and its errors name the URL.
    ASSERT_TRUE(write_file_atomic(dir.path() / "apps/other.yaml",
                                  app("other", git.https_url("missing.git"))));

    const int webhook_port = test::free_port();
    ProcessOptions o;
    o.env = {{"POETRYOPS_GIT_PASSWORD", git_password},
             {"POETRYOPS_WEBHOOK_TOKEN", webhook_token},
             {"TMPDIR", dir.path().string()}};
    const auto out_path = dir.path() / "run.log";
    auto run = ChildProcess::spawn(
        {POETRYOPS_BIN, "--log-level", "debug", "run", "-f", (dir.path() / "apps").string(),
         "--state", (dir.path() / "state").string(), "--git-username", "gitops", "--git-ca-file",
         ca.ca_cert().string(), "--registry-config", (dir.path() / "docker-config.json").string(),
         "--registry-ca-file", registry->host() + "=" + ca.ca_cert().string(),
         "--webhook-bind-address", "127.0.0.1:" + std::to_string(webhook_port)},
        o, out_path.string());
    ASSERT_TRUE(run) << run.error().message;
    const int root_pid = run->pid();
    ProcessSampler sampler(root_pid);

    const std::string digest = registry->push_image("team/app", "1.0.0", "v1");
    ASSERT_FALSE(digest.empty());
    ASSERT_TRUE(test::wait_until([&] { return test::port_open(webhook_port); })) << slurp(out_path);
    // A push webhook with a wrong token (refused), then with the right one.
    const std::string body = R"({"events":[{"action":"push","target":{"repository":"team/app",)"
                             R"("tag":"1.0.0","digest":")" +
                             digest + R"("},"request":{"host":")" + registry->host() + R"("}}]})";
    for (const std::string& token :
         {std::string("wrong-") + webhook_token.substr(0, 6), webhook_token}) {
        auto r = run_process(
            {"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H",
             "Authorization: Bearer " + token, "-H",
             "Content-Type: application/vnd.docker.distribution.events.v1+json", "--data-binary",
             body, "http://127.0.0.1:" + std::to_string(webhook_port) + "/webhooks/registry"});
        ASSERT_TRUE(r);
    }
    const bool promoted = test::wait_until(
        [&] {
            return repos.show("gitops.git", "main:envs/dev/kustomization.yaml").find(digest) !=
                   std::string::npos;
        },
        std::chrono::seconds(60));
    // Let the failing app retry and report at least once more.
    std::this_thread::sleep_for(std::chrono::seconds(2));
    sampler.stop();
    (void)run->stop();
    ASSERT_TRUE(promoted) << slurp(out_path);

    const std::string logs = slurp(out_path) + refused_output;
    EXPECT_THAT(logs, testing::HasSubstr("missing.git")) << "the failing app was reported";
    EXPECT_GT(sampler.samples(), 10);
    std::string root_argv;
    for (const auto& s : sampler.seen())
        if (s.pid == root_pid) root_argv = s.argv;
    ASSERT_FALSE(root_argv.empty());
    std::set<std::string> programs;
    for (const auto& s : sampler.seen())
        if (s.pid != root_pid && s.argv != root_argv) programs.insert(s.comm);
    EXPECT_THAT(programs, testing::Contains("git\n")) << "the first clone runs git: it was sampled";
    for (const auto& [kind, secret] : secrets) {
        EXPECT_EQ(logs.find(secret), std::string::npos) << kind << " in the output";
        std::error_code ec;
        for (auto it = fs::recursive_directory_iterator(dir.path() / "state", ec);
             it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (ec) break;
            if (!it->is_regular_file()) continue;
            EXPECT_EQ(slurp(it->path()).find(secret), std::string::npos)
                << kind << " in " << it->path();
        }
        for (const auto& s : sampler.seen()) {
            EXPECT_EQ(s.argv.find(secret), std::string::npos)
                << kind << " in the argv of " << s.comm;
            // poetryops itself was given the git password and the webhook token in its
            // environment, as a user starts it.
            if (s.pid == root_pid || s.environ.find(secret) == std::string::npos) continue;
            // A child between fork and exec is still a copy of poetryops (same argv and
            // environment); what counts is what it runs after exec.
            if (s.argv == root_argv) continue;
            // git and what git starts to ask for the password: the askpass script itself, run
            // by /bin/sh (comm "sh" or "askpass", its path in argv).
            const bool askpass_git =
                secret == git_password && s.environ.find("GIT_ASKPASS=") != std::string::npos &&
                (s.comm.rfind("git", 0) == 0 || s.comm.rfind("askpass", 0) == 0 ||
                 s.argv.find("/askpass") != std::string::npos);
            std::string argv = s.argv;
            std::replace(argv.begin(), argv.end(), '\0', ' ');
            EXPECT_TRUE(askpass_git)
                << kind << " in the environment of " << s.comm << " (" << argv << ")";
        }
    }
    // The status of the failing app says why, without the password.
    auto status = read_file(dir.path() / "state/status/team.other.json");
    ASSERT_TRUE(status);
    EXPECT_THAT(*status, testing::HasSubstr("missing.git"));
}

}  // namespace

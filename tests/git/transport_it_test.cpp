#include <poetryops/git/committer.hpp>

#include "support/git/git_servers.hpp"

#include <poetryops/util/log.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

namespace poetryops::git {
namespace {

using test::BareRepos;

/// Reads a /proc file with plain read(2): the process may be gone by then (streams would throw).
std::string read_proc(const std::string& path) {
    std::string out;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
        out.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return out;
}

class TransportIt : public ::testing::Test {
protected:
    void SetUp() override {
        repos.create("gitops.git");
        base = repos.commit_files("gitops.git",
                                  {{"apps/web/values.yaml", "tag: old\n"}, {"README.md", "x\n"}});
        auto c = RepoCache::create(cache_dir.path());
        ASSERT_TRUE(c) << c.error().message;
        cache = std::move(c).value();
    }

    /// One promotion through a committer; returns its outcome.
    Result<EditOutcome> promote(const Remote& remote, const std::string& tag) {
        POETRYOPS_TRY(std::shared_ptr<Repo> repo, cache->open(remote));
        CommitterOptions o;
        o.window = std::chrono::milliseconds(10);
        Committer committer(repo, o);
        EditRequest r;
        r.edits = {set_file("apps/web/values.yaml", "tag: " + tag + "\n")};
        r.message.app = "web";
        r.message.env = "prod";
        return committer.submit(std::move(r)).get();
    }

    BareRepos repos;
    TempDir cache_dir{"poetryops-gitcache"};
    std::string base;
    std::unique_ptr<RepoCache> cache;
};

class HttpTransportIt : public TransportIt {
protected:
    Remote http_remote() {
        Remote r;
        r.url = server.http_url("gitops.git");
        r.username = server.user();
        r.password = server.password();
        r.timeout = std::chrono::seconds(30);
        return r;
    }
    test::TestCa ca;
    test::HttpGitServer server{repos, ca};
};

TEST_F(HttpTransportIt, CommitsOverHttpWithBasicAuth) {
    ASSERT_TRUE(server.started());
    auto r = promote(http_remote(), "http");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->changed);
    EXPECT_EQ(repos.tip("gitops.git"), r->commit);
    EXPECT_EQ(repos.show("gitops.git", "main:apps/web/values.yaml"), "tag: http\n");
}

TEST_F(HttpTransportIt, CommitsOverHttpsWithTheGivenCaWhateverTheEnvironmentSays) {
    ASSERT_TRUE(server.started());
    // This machine exports GIT_SSL_CAINFO; a wrong one must not matter when the remote names its
    // CA.
    const char* old = std::getenv("GIT_SSL_CAINFO");
    std::string saved = old ? old : "";
    ::setenv("GIT_SSL_CAINFO", "/nonexistent/ca.pem", 1);
    Remote remote = http_remote();
    remote.url = server.https_url("gitops.git");
    remote.ca_file = ca.ca_cert();
    auto r = promote(remote, "https");
    if (old)
        ::setenv("GIT_SSL_CAINFO", saved.c_str(), 1);
    else
        ::unsetenv("GIT_SSL_CAINFO");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(repos.show("gitops.git", "main:apps/web/values.yaml"), "tag: https\n");
}

TEST_F(HttpTransportIt, HttpsWithoutTheCaIsRefused) {
    ASSERT_TRUE(server.started());
    Remote remote = http_remote();
    remote.url = server.https_url("gitops.git");
    auto r = promote(remote, "x");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, "TLSVerificationFailed") << r.error().message;
    EXPECT_EQ(repos.tip("gitops.git"), base);
}

TEST_F(HttpTransportIt, WrongPasswordIsAClearErrorWithoutTheSecret) {
    ASSERT_TRUE(server.started());
    Remote remote = http_remote();
    remote.password = "wrong-Pa55word-xyz";
    auto start = std::chrono::steady_clock::now();
    auto r = promote(remote, "x");
    ASSERT_FALSE(r);
    EXPECT_LT(std::chrono::steady_clock::now() - start,
              std::chrono::seconds(15));  // no prompt, no hang
    EXPECT_EQ(r.error().kind, Error::Kind::unauthorized) << r.error().message;
    EXPECT_NE(r.error().message.find(server.http_url("gitops.git")), std::string::npos)
        << r.error().message;
    EXPECT_EQ(r.error().message.find("wrong-Pa55word-xyz"), std::string::npos);
    remote.password.clear();  // no credentials at all: refused, not prompted
    auto r2 = promote(remote, "x");
    ASSERT_FALSE(r2);
    EXPECT_EQ(r2.error().kind, Error::Kind::unauthorized) << r2.error().message;
    EXPECT_EQ(repos.tip("gitops.git"), base);
}

TEST_F(HttpTransportIt, SecretsNeverAppearInArgvLogsOrTheCache) {
    ASSERT_TRUE(server.started());
    std::vector<std::string> log_lines;
    std::mutex log_mu;
    log::set_level(log::Level::debug);
    log::set_sink([&](std::string_view line) {
        std::lock_guard<std::mutex> g(log_mu);
        log_lines.emplace_back(line);
    });
    // Watch every process's command line while git runs.
    std::atomic<bool> stop{false};
    std::atomic<int> seen_git{0};
    std::vector<std::string> leaks;
    std::thread watcher([&] {
        while (!stop) {
            for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
                std::string cmd = read_proc((entry.path() / "cmdline").string());
                if (cmd.find("git") != std::string::npos) ++seen_git;
                if (cmd.find(server.password()) != std::string::npos) leaks.push_back(cmd);
            }
        }
    });
    for (int i = 0; i < 3; ++i) {
        auto r = promote(http_remote(), "leak" + std::to_string(i));
        EXPECT_TRUE(r) << r.error().message;
    }
    stop = true;
    watcher.join();
    log::set_sink([](std::string_view line) {
        std::fprintf(stderr, "%.*s\n", int(line.size()), line.data());
    });
    log::set_level(log::Level::info);
    EXPECT_GT(seen_git.load(), 0);  // the watcher did see git processes
    EXPECT_TRUE(leaks.empty()) << leaks.front();
    bool logged_git = false;
    for (const auto& l : log_lines) {
        EXPECT_EQ(l.find(server.password()), std::string::npos) << l;
        logged_git = logged_git || l.find("git") != std::string::npos;
    }
    EXPECT_TRUE(logged_git);
    for (const auto& f : std::filesystem::recursive_directory_iterator(cache_dir.path())) {
        if (!f.is_regular_file()) continue;
        std::ifstream in(f.path(), std::ios::binary);
        std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        EXPECT_EQ(content.find(server.password()), std::string::npos) << f.path();
    }
}

TEST_F(TransportIt, ServerDownFailsQuicklyWithATransportError) {
    Remote remote;
    remote.url = "http://127.0.0.1:" + std::to_string(test::free_port()) + "/git/gitops.git";
    auto start = std::chrono::steady_clock::now();
    auto r = promote(remote, "x");
    ASSERT_FALSE(r);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
    EXPECT_EQ(r.error().kind, Error::Kind::transport) << r.error().message;
    EXPECT_NE(r.error().message.find(remote.url), std::string::npos);
}

TEST_F(TransportIt, AServerThatNeverAnswersTimesOut) {
    // A listening socket that never accepts: the TCP handshake completes, nothing is ever said.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(fd, 16), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    Remote remote;
    remote.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/git/gitops.git";
    remote.timeout = std::chrono::seconds(3);
    remote.connect_timeout = std::chrono::seconds(1);
    auto start = std::chrono::steady_clock::now();
    auto r = promote(remote, "x");
    ::close(fd);
    ASSERT_FALSE(r);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
    EXPECT_EQ(r.error().kind, Error::Kind::timeout) << r.error().message;
}

class SshTransportIt : public TransportIt {
protected:
    Remote ssh_remote() {
        Remote r;
        r.url = server.url("gitops.git");
        r.ssh_key = server.client_key();
        r.known_hosts = server.known_hosts();
        r.timeout = std::chrono::seconds(30);
        return r;
    }
    test::SshGitServer server{repos};
};

TEST_F(SshTransportIt, CommitsOverSshWithAnEd25519Key) {
    ASSERT_TRUE(server.started());
    auto r = promote(ssh_remote(), "ssh");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(repos.show("gitops.git", "main:apps/web/values.yaml"), "tag: ssh\n");
}

TEST_F(SshTransportIt, UnknownOrChangedHostKeyIsRefused) {
    ASSERT_TRUE(server.started());
    Remote remote = ssh_remote();
    remote.known_hosts = server.wrong_known_hosts();
    auto r = promote(remote, "x");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, "HostKeyVerificationFailed") << r.error().message;
    TempDir empty("poetryops-kh");
    auto kh = empty.path() / "known_hosts";
    ASSERT_TRUE(write_file_atomic(kh, ""));
    remote.known_hosts = kh;
    auto r2 = promote(remote, "x");
    ASSERT_FALSE(r2);
    EXPECT_EQ(r2.error().reason, "HostKeyVerificationFailed") << r2.error().message;
    EXPECT_EQ(std::filesystem::file_size(kh), 0u);  // nothing was learned on first use
    EXPECT_EQ(repos.tip("gitops.git"), base);
}

TEST_F(SshTransportIt, AKeyTheServerDoesNotKnowIsUnauthorized) {
    ASSERT_TRUE(server.started());
    TempDir d("poetryops-key");
    test::must_run(
        {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", (d.path() / "k").string()});
    Remote remote = ssh_remote();
    remote.ssh_key = d.path() / "k";
    auto r = promote(remote, "x");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::unauthorized) << r.error().message;
}

}  // namespace
}  // namespace poetryops::git

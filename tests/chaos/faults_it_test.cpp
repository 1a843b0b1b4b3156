// Chaos, issue #15 "Faults", local mode: a fault-injecting proxy
// (tests/support/http/fault_proxy.hpp) sits between `poetryops run --once` (the real binary) and
// each real server — docker-registry over plain HTTP and lighttpd + git-http-backend with basic
// auth. For each fault the run ends within its timeouts, promotes nothing it could not verify,
// reports Degraded with a reason and exit 1 while the fault lasts, and promotes by itself once it
// is gone; a transient fault is retried within the same run. Figures (elapsed per fault) go to
// stderr, and to POETRYOPS_FAULTS_REPORT=FILE as JSON (docs/reliability.md).
#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "support/git/git_servers.hpp"
#include "support/http/fault_proxy.hpp"
#include "support/registry/test_registry.hpp"
#include "support/support.hpp"

using namespace poetryops;
using test::Fault;
using test::FaultKind;
namespace fs = std::filesystem;

namespace {

std::string describe(const Fault& f) {
    switch (f.kind) {
        case FaultKind::pass: return "pass";
        case FaultKind::close: return "close";
        case FaultKind::reset: return "reset";
        case FaultKind::http_status:
            return std::to_string(f.status) +
                   (f.retry_after >= 0 ? " Retry-After " + std::to_string(f.retry_after) : "");
        case FaultKind::stall: return "stall after " + std::to_string(f.stall_after) + " bytes";
    }
    return "?";
}

class FaultsTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(test::require_tools({"git", "lighttpd", "docker-registry", "skopeo", "umoci"}));
        registry_ = test::TestRegistry::start({});
        ASSERT_TRUE(registry_);
        registry_proxy_ = std::make_unique<test::FaultProxy>(registry_->port());
        repos_.create("gitops.git");
        git_ = std::make_unique<test::HttpGitServer>(repos_, ca_);
        ASSERT_TRUE(git_->started()) << git_->error_log();
        git_proxy_ = std::make_unique<test::FaultProxy>(git_->http_port());
        repository_ = "127.0.0.1:" + std::to_string(registry_proxy_->port()) + "/team/app";
        repos_.commit_files("gitops.git",
                            {{"envs/dev/kustomization.yaml",
                              "images:\n- name: " + repository_ + "\n  newTag: old\n"}});
        fs::create_directories(dir_.path() / "apps");
        ASSERT_TRUE(write_file_atomic(
            dir_.path() / "apps/app.yaml",
            "apiVersion: poetryops.io/v1alpha1\nkind: PoetryApp\nmetadata:\n  name: app\n"
            "  namespace: team\nspec:\n  image:\n    repository: " +
                repository_ +
                "\n    tagTemplate: \"{version}\"\n  gitops: {repoURL: \"http://127.0.0.1:" +
                std::to_string(git_proxy_->port()) +
                "/git/gitops.git\"}\n  environments:\n  - {name: dev, path: envs/dev}\n"));
    }

    /// Pushes version 1.<n>.0 straight to the registry (not through the proxy).
    std::string push(int n) {
        return registry_->push_image("team/app", "1." + std::to_string(n) + ".0",
                                     "v" + std::to_string(n));
    }

    /// Points the app at the git server's https port through a proxy of its own (TLS faults).
    void use_https_git() {
        git_tls_proxy_ = std::make_unique<test::FaultProxy>(git_->https_port());
        ASSERT_TRUE(write_file_atomic(
            dir_.path() / "apps/app.yaml",
            "apiVersion: poetryops.io/v1alpha1\nkind: PoetryApp\nmetadata:\n  name: app\n"
            "  namespace: team\nspec:\n  image:\n    repository: " +
                repository_ +
                "\n    tagTemplate: \"{version}\"\n  gitops: {repoURL: \"https://127.0.0.1:" +
                std::to_string(git_tls_proxy_->port()) +
                "/git/gitops.git\"}\n  environments:\n  - {name: dev, path: envs/dev}\n"));
        extra_args_ = {"--git-ca-file", ca_.ca_cert().string()};
    }

    ProcessResult run_once() {
        ProcessOptions o;
        o.env = {{"POETRYOPS_GIT_PASSWORD", git_->password()}, {"TMPDIR", dir_.path().string()}};
        o.timeout = std::chrono::minutes(4);
        std::vector<std::string> argv = {POETRYOPS_BIN,
                                         "run",
                                         "--once",
                                         "-f",
                                         (dir_.path() / "apps").string(),
                                         "--state",
                                         (dir_.path() / "state").string(),
                                         "--plain-http",
                                         "127.0.0.1:" + std::to_string(registry_proxy_->port()),
                                         "--git-username",
                                         git_->user()};
        argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
        auto r = run_process(argv, o);
        EXPECT_TRUE(r);
        return r ? *r : ProcessResult{};
    }

    std::string pinned() { return repos_.show("gitops.git", "main:envs/dev/kustomization.yaml"); }

    /// The Degraded condition of the app's status: {status, reason, message}.
    std::tuple<std::string, std::string, std::string> degraded() {
        auto text = read_file(dir_.path() / "state/status/team.app.json");
        if (!text) return {};
        auto status = nlohmann::json::parse(*text, nullptr, false);
        for (const auto& c : status.value("conditions", nlohmann::json::array()))
            if (c.value("type", "") == "Degraded")
                return {c.value("status", ""), c.value("reason", ""), c.value("message", "")};
        return {};
    }

    /// One fault that lasts: the run fails and says so, nothing is promoted; once cleared the next
    /// run promotes. Returns the failing run's seconds.
    double lasting(test::FaultProxy& proxy, Fault fault, int version) {
        const std::string digest = push(version);
        const std::string before = pinned();
        proxy.set(fault);
        const int faulted_before = proxy.faulted();
        auto failed = run_once();
        const double seconds = std::chrono::duration<double>(failed.elapsed).count();
        proxy.clear();
        SCOPED_TRACE(describe(fault));
        EXPECT_GT(proxy.faulted(), faulted_before) << "the fault was applied";
        EXPECT_FALSE(failed.timed_out);
        EXPECT_EQ(failed.exit_code, 1) << failed.err;
        EXPECT_EQ(pinned(), before) << "nothing is promoted while the fault lasts";
        auto [status, reason, message] = degraded();
        EXPECT_EQ(status, "True") << message;
        EXPECT_FALSE(reason.empty());
        std::cerr << "faults: " << describe(fault) << ": exit " << failed.exit_code << " after "
                  << seconds << " s, Degraded " << reason << ": " << message << "\n";

        auto recovered = run_once();
        EXPECT_EQ(recovered.exit_code, 0) << recovered.err;
        EXPECT_THAT(pinned(), testing::HasSubstr(digest)) << "promoted once the fault is gone";
        EXPECT_EQ(std::get<0>(degraded()), "False");
        figures_.push_back({{"fault", describe(fault)},
                            {"lasting", true},
                            {"seconds", seconds},
                            {"reason", reason}});
        return seconds;
    }

    /// A fault on the next few connections only: the same run retries past it and promotes.
    double transient(test::FaultProxy& proxy, Fault fault, int version) {
        const std::string digest = push(version);
        proxy.set(fault);
        const int faulted_before = proxy.faulted();
        auto r = run_once();
        proxy.clear();
        const double seconds = std::chrono::duration<double>(r.elapsed).count();
        SCOPED_TRACE(describe(fault));
        EXPECT_GT(proxy.faulted(), faulted_before) << "the fault was applied";
        EXPECT_EQ(r.exit_code, 0) << r.err;
        EXPECT_THAT(pinned(), testing::HasSubstr(digest)) << "promoted in the same run";
        std::cerr << "faults: transient " << describe(fault) << " x" << fault.count
                  << ": recovered in the same run, " << seconds << " s\n";
        figures_.push_back({{"fault", describe(fault) + " x" + std::to_string(fault.count)},
                            {"lasting", false},
                            {"seconds", seconds}});
        return seconds;
    }

    void TearDown() override {
        if (const char* f = std::getenv("POETRYOPS_FAULTS_REPORT"); f && *f) {
            std::ofstream out(f, std::ios::app);
            out << nlohmann::json{{"test",
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name()},
                                  {"faults", figures_}}
                       .dump()
                << "\n";
        }
    }

    TempDir dir_{"poetryops-faults"};
    test::TestCa ca_;
    test::BareRepos repos_;
    std::unique_ptr<test::TestRegistry> registry_;
    std::unique_ptr<test::HttpGitServer> git_;
    std::unique_ptr<test::FaultProxy> registry_proxy_, git_proxy_, git_tls_proxy_;
    std::vector<std::string> extra_args_;
    std::string repository_;
    nlohmann::json figures_ = nlohmann::json::array();
};

TEST_F(FaultsTest, TheRegistryFailingIsDegradedPromotesNothingAndRecoversByItself) {
    const std::string first = push(0);
    ASSERT_EQ(run_once().exit_code, 0);
    ASSERT_THAT(pinned(), testing::HasSubstr(first));
    int version = 1;
    for (Fault f :
         {Fault{FaultKind::http_status, 503, 1}, Fault{FaultKind::http_status, 500},
          Fault{FaultKind::http_status, 502}, Fault{FaultKind::close}, Fault{FaultKind::reset}}) {
        const double seconds = lasting(*registry_proxy_, f, version++);
        EXPECT_LT(seconds, 60.0) << describe(f) << ": bounded by the retry budget";
    }
    for (Fault f :
         {Fault{.kind = FaultKind::http_status, .status = 429, .retry_after = 1, .count = 2},
          Fault{.kind = FaultKind::http_status, .status = 503, .count = 2},
          Fault{.kind = FaultKind::reset, .count = 1}})
        transient(*registry_proxy_, f, version++);
}

TEST_F(FaultsTest, ARegistryAnswerThatStallsMidwayIsCutByTheTimeoutAndRetried) {
    const std::string first = push(0);
    ASSERT_EQ(run_once().exit_code, 0);
    // The next connection forwards 300 bytes of the answer (inside its headers or body) and then
    // nothing: the request times out (30 s per phase) and the retry on a new connection succeeds.
    const double seconds =
        transient(*registry_proxy_, {.kind = FaultKind::stall, .stall_after = 300, .count = 1}, 1);
    EXPECT_LT(seconds, 90.0) << "one timeout and a retry";
}

TEST_F(FaultsTest, TheGitServerFailingIsDegradedPushesNothingAndRecoversByItself) {
    const std::string first = push(0);
    ASSERT_EQ(run_once().exit_code, 0);
    ASSERT_THAT(pinned(), testing::HasSubstr(first));
    int version = 1;
    for (Fault f : {Fault{FaultKind::http_status, 503, 1}, Fault{FaultKind::http_status, 500},
                    Fault{FaultKind::close}, Fault{FaultKind::reset}}) {
        const double seconds = lasting(*git_proxy_, f, version++);
        EXPECT_LT(seconds, 150.0) << describe(f) << ": bounded by git's timeouts";
    }
}

// TLS faults: the connection reset before or during the handshake, the server's handshake cut
// after its first bytes, a handshake that stalls. Each is reported and bounded; nothing is pushed.
TEST_F(FaultsTest, TlsResetsAndStalledHandshakesAreDegradedAndRecoverByThemselves) {
    use_https_git();
    const std::string first = push(0);
    auto r = run_once();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_THAT(pinned(), testing::HasSubstr(first));
    int version = 1;
    for (Fault f : {Fault{FaultKind::reset}, Fault{FaultKind::close},
                    Fault{.kind = FaultKind::stall, .stall_after = 200}}) {
        const double seconds = lasting(*git_tls_proxy_, f, version++);
        EXPECT_LT(seconds, 150.0) << describe(f) << ": bounded by git's timeouts";
    }
    transient(*git_tls_proxy_, {.kind = FaultKind::reset, .count = 1}, version++);
}

}  // namespace

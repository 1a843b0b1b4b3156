// spec.notifications in local mode as a user runs it (issue #16): `poetryops run --once` against a
// file:// GitOps remote and an OCI layout promotes, and a real HTTP receiver on 127.0.0.1 (the
// project's own http::Server) gets exactly one signed Promoted webhook; a second run (a restart)
// does not send it again; a receiver that never answers (tests/support/http/stall_server.hpp)
// does not hold up the promotion; bad targets are refused at start naming the field.
#include <poetryops/http/server.hpp>
#include <poetryops/registry/layout.hpp>
#include <poetryops/util/crypto.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>

#include "support/http/stall_server.hpp"
#include "support/registry/test_registry.hpp"
#include "support/support.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <vector>

using namespace poetryops;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

ProcessOptions git_env(const fs::path& home) {
    ProcessOptions o;
    o.inherit_env = false;
    o.env = {{"PATH", "/usr/bin:/bin"},   {"HOME", home.string()},
             {"GIT_AUTHOR_NAME", "t"},    {"GIT_AUTHOR_EMAIL", "t@x"},
             {"GIT_COMMITTER_NAME", "t"}, {"GIT_COMMITTER_EMAIL", "t@x"}};
    return o;
}

class RunNotifications : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(test::require_tools({"git"}));
        // The GitOps repository: a bare repo whose main pins an old tag in envs/dev.
        auto o = git_env(dir.path());
        test::must_run({"git", "init", "-q", "--bare", "-b", "main", deploy().string()}, o);
        test::must_run({"git", "init", "-q", "-b", "main", (dir.path() / "seed").string()}, o);
        fs::create_directories(dir.path() / "seed/envs/dev");
        ASSERT_TRUE(write_file_atomic(dir.path() / "seed/envs/dev/kustomization.yaml",
                                      "images:\n- name: registry.local/team/app\n  newTag: old\n"));
        o.cwd = (dir.path() / "seed").string();
        test::must_run({"git", "add", "-A"}, o);
        test::must_run({"git", "commit", "-qm", "seed"}, o);
        test::must_run({"git", "push", "-q", deploy().string(), "main"}, o);
        // The registry: an OCI layout holding 1.0.0.
        registry::LayoutOptions lo;
        lo.repository_subdirs = true;
        registry::LayoutRegistry layout(dir.path() / "registry", lo);
        digest = test::push_layout_image(layout, "registry.local/team/app", "1.0.0", "one");
        ASSERT_FALSE(digest.empty());
        // The Secret, as local mode reads it: --secrets-dir/<namespace>/<name>/<key>.
        fs::create_directories(dir.path() / "secrets/team/hooks");
        ASSERT_TRUE(write_file_atomic(dir.path() / "secrets/team/hooks/hmac", "k3y"));
        fs::create_directories(dir.path() / "apps");
    }

    fs::path deploy() const { return dir.path() / "deploy.git"; }

    void write_app(int port, const std::string& extra_targets = "") {
        ASSERT_TRUE(write_file_atomic(dir.path() / "secrets/team/hooks/url",
                                      "http://127.0.0.1:" + std::to_string(port) + "/hook\n"));
        std::string yaml =
            "apiVersion: poetryops.io/v1alpha1\nkind: PoetryApp\nmetadata: {name: app, "
            "namespace: team}\nspec:\n"
            "  image: {repository: registry.local/team/app, tagTemplate: \"{version}\"}\n"
            "  gitops: {repoURL: \"file://" +
            deploy().string() +
            "\"}\n"
            "  environments:\n  - {name: dev, path: envs/dev}\n"
            "  notifications:\n"
            "  - name: ci\n"
            "    urlFrom: {secretKeyRef: {name: hooks, key: url}}\n"
            "    hmacKeyFrom: {secretKeyRef: {name: hooks, key: hmac}}\n"
            "    events: [Promoted, RolledBack]\n" +
            extra_targets;
        ASSERT_TRUE(write_file_atomic(dir.path() / "apps/app.yaml", yaml));
    }

    ProcessResult run_once(const std::vector<std::string>& extra = {}) {
        std::vector<std::string> argv{std::string(POETRYOPS_BIN),
                                      "run",
                                      "-f",
                                      (dir.path() / "apps").string(),
                                      "--state",
                                      (dir.path() / "state").string(),
                                      "--registry-layout",
                                      (dir.path() / "registry").string(),
                                      "--secrets-dir",
                                      (dir.path() / "secrets").string(),
                                      "--once"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        ProcessOptions o;
        o.timeout = std::chrono::seconds(90);
        auto r = run_process(argv, o);
        EXPECT_TRUE(r) << r.error().message;
        return r ? *r : ProcessResult{};
    }

    std::string tip() {
        auto o = git_env(dir.path());
        auto r = test::must_run({"git", "--git-dir", deploy().string(), "rev-parse", "main"}, o);
        std::string sha = r.out;
        while (!sha.empty() && (sha.back() == '\n' || sha.back() == '\r')) sha.pop_back();
        return sha;
    }

    json status() {
        auto text = read_file(dir.path() / "state/status/team.app.json");
        EXPECT_TRUE(text);
        return text ? json::parse(*text) : json::object();
    }

    TempDir dir{"run-notify"};
    std::string digest;
};

}  // namespace

TEST_F(RunNotifications, OnePromotedWebhookSignedAndNotSentAgainAfterARestart) {
    std::mutex mu;
    std::vector<http::Request> seen;
    http::Server receiver;
    auto port = receiver.start({.port = 0}, [&](const http::Request& r) {
        std::lock_guard lock(mu);
        seen.push_back(r);
        return http::Response::make(204);
    });
    ASSERT_TRUE(port) << port.error().message;
    write_app(*port);

    auto first = run_once();
    ASSERT_EQ(first.exit_code, 0) << first.err;
    EXPECT_THAT(first.out, testing::HasSubstr("1 promotion(s) committed"));
    const std::string commit = tip();
    {
        std::lock_guard lock(mu);
        ASSERT_EQ(seen.size(), 1u) << first.err;
        const http::Request& r = seen[0];
        EXPECT_EQ(r.method, "POST");
        EXPECT_EQ(r.headers.get_or("X-Poetryops-Event"), "Promoted");
        EXPECT_EQ(r.headers.get_or("X-Poetryops-Delivery"), commit);
        EXPECT_EQ(r.headers.get_or("X-Poetryops-Signature"),
                  "sha256=" + crypto::hmac_sha256_hex("k3y", r.body));
        json body = json::parse(r.body);
        EXPECT_EQ(body["event"], "Promoted");
        EXPECT_EQ(body["app"], (json{{"namespace", "team"}, {"name", "app"}}));
        EXPECT_EQ(body["environment"], "dev");
        EXPECT_EQ(body["version"], "1.0.0");
        EXPECT_EQ(body["digest"], digest);
        EXPECT_EQ(body["commit"], commit);
    }
    // The key is in status: what a restart reads.
    json st = status();
    ASSERT_TRUE(st.contains("notifications")) << st.dump(2);
    EXPECT_EQ(st["notifications"][0]["name"], "ci");
    EXPECT_THAT(st["notifications"][0]["keys"].get<std::vector<std::string>>(),
                testing::Contains(commit));
    // Neither the URL nor the key is in status, on stdout or stderr.
    const std::string url = "127.0.0.1:" + std::to_string(*port);
    EXPECT_EQ(st.dump().find(url), std::string::npos);
    EXPECT_EQ(first.err.find(url), std::string::npos) << first.err;
    EXPECT_EQ(first.err.find("k3y"), std::string::npos);

    // A restart: nothing new happened, nothing is sent again.
    auto second = run_once();
    ASSERT_EQ(second.exit_code, 0) << second.err;
    EXPECT_THAT(second.out, testing::HasSubstr("0 promotion(s) committed"));
    EXPECT_EQ(tip(), commit);
    std::lock_guard lock(mu);
    EXPECT_EQ(seen.size(), 1u) << second.err;
}

TEST_F(RunNotifications, AReceiverThatNeverAnswersDoesNotHoldUpThePromotion) {
    test::StallServer stall;
    write_app(stall.port());
    const auto started = std::chrono::steady_clock::now();
    auto r = run_once({"--notification-wait", "1s"});
    const auto took = std::chrono::steady_clock::now() - started;
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, testing::HasSubstr("1 promotion(s) committed"));
    // The promotion is in git and in status.
    const std::string commit = tip();
    json st = status();
    EXPECT_EQ(st["environments"][0]["commit"], commit) << st.dump(2);
    EXPECT_EQ(st["environments"][0]["phase"], "Healthy");
    // Bounded: the wait (1 s) plus at most one attempt's timeout (10 s) while the notifier stops,
    // plus the promotion itself; the receiver's retries (minutes) are not waited for.
    EXPECT_LT(took, std::chrono::seconds(40));
    EXPECT_THAT(r.err, testing::HasSubstr("notifications still in flight"));
    // Not delivered, so not recorded: the next run sends it again.
    ASSERT_TRUE(st.contains("notifications")) << st.dump(2);
    EXPECT_THAT(st["notifications"][0]["keys"].get<std::vector<std::string>>(),
                testing::Not(testing::Contains(commit)));
}

TEST_F(RunNotifications, BadTargetsAreRefusedAtStartNamingTheField) {
    write_app(1,
              "  - name: mail\n    type: email\n"
              "    urlFrom: {secretKeyRef: {name: hooks, key: url}}\n");
    auto r = run_once();
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_THAT(r.err, testing::HasSubstr("spec.notifications[1].type: unsupported value "
                                          "\"email\": must be one of \"webhook\", \"slack\", "
                                          "\"teams\""));
    EXPECT_EQ(tip().size(), 40u);
    EXPECT_FALSE(fs::exists(dir.path() / "state/status/team.app.json"));
}

#include <poetryops/controller/local.hpp>

#include <poetryops/api/conditions.hpp>
#include <poetryops/controller/demo.hpp>
#include <poetryops/registry/layout.hpp>
#include <poetryops/registry/reference.hpp>
#include <poetryops/util/fs.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <sstream>
#include <thread>

#include "support/registry/test_registry.hpp"
#include "support/support.hpp"

namespace poetryops::controller {
namespace {

namespace fs = std::filesystem;

ProcessOptions git_env(const fs::path& home) {
    ProcessOptions o;
    o.inherit_env = false;
    o.env = {{"PATH", "/usr/bin:/bin"},   {"HOME", home.string()},
             {"GIT_AUTHOR_NAME", "t"},    {"GIT_AUTHOR_EMAIL", "t@x"},
             {"GIT_COMMITTER_NAME", "t"}, {"GIT_COMMITTER_EMAIL", "t@x"}};
    return o;
}

/// An image in the layout under `tag` whose manifest is unique to `seed`.
std::string push(registry::LayoutRegistry& reg, const std::string& tag, const std::string& seed) {
    return test::push_layout_image(reg, "registry.local/team/app", tag, seed);
}

/// A bare GitOps repository DIR/deploy.git whose main holds `files` (path → text), pushed from a
/// seed clone as a user would.
void seed_gitops(const fs::path& dir, const std::map<std::string, std::string>& files) {
    auto o = git_env(dir);
    test::must_run({"git", "init", "-q", "--bare", "-b", "main", (dir / "deploy.git").string()}, o);
    test::must_run({"git", "init", "-q", "-b", "main", (dir / "seed").string()}, o);
    for (const auto& [path, text] : files) {
        fs::create_directories((dir / "seed" / path).parent_path());
        ASSERT_TRUE(write_file_atomic(dir / "seed" / path, text)) << path;
    }
    o.cwd = (dir / "seed").string();
    test::must_run({"git", "add", "-A"}, o);
    test::must_run({"git", "commit", "-qm", "seed"}, o);
    test::must_run({"git", "push", "-q", (dir / "deploy.git").string(), "main"}, o);
}

class LocalModeTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(test::require_tools({"git"}));
        seed_gitops(dir.path(), {{"envs/dev/kustomization.yaml",
                                  "resources: [../../base]\n# keep this comment\nimages:\n"
                                  "- name: registry.local/team/app\n  newTag: old\n"},
                                 {"envs/prod/values.yaml",
                                  "image:\n  repository: registry.local/team/app\n  tag: old\n"}});
        fs::create_directories(dir.path() / "apps");
        write_app("");
    }

    /// The app, with `annotations` (YAML lines under metadata) and prod's `promotion`.
    void write_app(const std::string& annotations,
                   const std::string& prod_promotion = "{from: dev, approval: {required: true}}") {
        std::string yaml =
            "apiVersion: poetryops.io/v1alpha1\nkind: PoetryApp\nmetadata:\n  name: app\n"
            "  namespace: team\n" +
            annotations +
            "spec:\n  image: {repository: registry.local/team/app, tagTemplate: \"{version}\"}\n"
            "  gitops: {repoURL: \"file://" +
            (dir.path() / "deploy.git").string() +
            "\"}\n"
            "  environments:\n  - {name: dev, path: envs/dev}\n"
            "  - {name: prod, path: envs/prod, update: {kind: helm},\n"
            "     promotion: " +
            prod_promotion + "}\n";
        ASSERT_TRUE(write_file_atomic(dir.path() / "apps/app.yaml", yaml));
    }

    std::unique_ptr<LocalRunner> runner() {
        LocalOptions o;
        o.inputs = {dir.path() / "apps"};
        o.state_dir = dir.path() / "state";
        o.layout_dir = dir.path() / "registry";
        o.committer.window = std::chrono::milliseconds(10);
        o.on_event = [this](const api::PoetryApp&, const promote::Event& e) {
            events.push_back(e.reason);
        };
        auto r = LocalRunner::create(o);
        EXPECT_TRUE(r) << (r ? "" : r.error().message);
        return r ? std::move(r).value() : nullptr;
    }

    /// Runs `script` (sh) in the seed clone, then commits what it staged and pushes.
    void change_gitops(const std::string& script) {
        auto o = git_env(dir.path());
        o.cwd = (dir.path() / "seed").string();
        test::must_run({"sh", "-ec", script}, o);
        test::must_run({"git", "commit", "-qm", "change"}, o);
        test::must_run({"git", "push", "-q", (dir.path() / "deploy.git").string(), "main"}, o);
    }

    /// Runs until settled; the app's Ready and Degraded conditions and the pass's errors.
    struct Unreadable {
        const api::Condition* ready = nullptr;
        const api::Condition* degraded = nullptr;
        std::vector<std::string> errors;
        api::PoetryAppStatus status;
    };
    Unreadable settle() {
        Unreadable u;
        auto r = runner();
        if (!r) return u;
        auto pass = r->run_until_settled();
        EXPECT_TRUE(pass) << pass.error().message;
        if (!pass) return u;
        u.errors = pass->errors;
        auto status = r->status_of("team/app");
        EXPECT_TRUE(status);
        if (!status) return u;
        u.status = *status;
        u.ready = api::find_condition(u.status.conditions, api::kConditionReady);
        u.degraded = api::find_condition(u.status.conditions, api::kConditionDegraded);
        return u;
    }

    std::string remote_file(const std::string& path) {
        auto r = run_process(
            {"git", "--git-dir", (dir.path() / "deploy.git").string(), "show", "main:" + path});
        return r ? r->out : "";
    }

    TempDir dir{"poetryops-local"};
    std::vector<std::string> events;
};

TEST_F(LocalModeTest, PromotesIntoARealGitRepoAndKeepsStatusAcrossRuns) {
    registry::LayoutOptions lo;
    lo.repository_subdirs = true;
    registry::LayoutRegistry reg(dir.path() / "registry", lo);
    std::string d1 = push(reg, "1.0.0", "one");
    push(reg, "not-a-version", "x");

    auto r = runner();
    ASSERT_TRUE(r);
    auto pass = r->run_until_settled();
    ASSERT_TRUE(pass) << pass.error().message;
    EXPECT_EQ(pass->commits, 1u);  // dev only: prod needs an approval
    EXPECT_EQ(
        remote_file("envs/dev/kustomization.yaml"),
        "resources: [../../base]\n# keep this comment\nimages:\n- name: registry.local/team/app\n"
        "  newTag: 1.0.0\n  digest: " +
            d1 + "\n");
    auto status = r->status_of("team/app");
    ASSERT_TRUE(status);
    EXPECT_EQ(status->summary, "dev=1.0.0 prod=old");
    EXPECT_TRUE(fs::exists(dir.path() / "state/status/team.app.json"));

    // A new runner (a restart) reads status from the state dir: nothing is committed again.
    r.reset();
    write_app("  annotations:\n    poetryops.io/approve.prod: \"" + d1 + "\"\n");
    auto r2 = runner();
    pass = r2->run_until_settled();
    ASSERT_TRUE(pass) << pass.error().message;
    EXPECT_EQ(pass->commits, 1u);  // prod, approved
    EXPECT_EQ(remote_file("envs/prod/values.yaml"),
              "image:\n  repository: registry.local/team/app\n  tag: 1.0.0@" + d1 + "\n");
    auto log = run_process(
        {"git", "--git-dir", (dir.path() / "deploy.git").string(), "log", "--format=%s%n%b"});
    ASSERT_TRUE(log);
    EXPECT_NE(log->out.find("Poetryops-Promotion: team/app/prod/" + d1), std::string::npos);
    EXPECT_NE(log->out.find("Poetryops-Promotion: team/app/dev/" + d1), std::string::npos);
}

/// A promotion window that is closed keeps an approved digest out of prod, says so in status, and
/// lets it in once the window no longer closes it (issue #16, promotion windows).
TEST_F(LocalModeTest, AClosedPromotionWindowKeepsAnApprovedDigestWaiting) {
    registry::LayoutOptions lo;
    lo.repository_subdirs = true;
    registry::LayoutRegistry reg(dir.path() / "registry", lo);
    std::string d1 = push(reg, "1.0.0", "one");
    const std::string approved = "  annotations:\n    poetryops.io/approve.prod: \"" + d1 + "\"\n";
    write_app(approved,
              "{from: dev, approval: {required: true}, windows: [{rrule: \"FREQ=DAILY\", "
              "duration: 24h, kind: deny, timezone: UTC}]}");
    auto u = settle();
    EXPECT_TRUE(u.errors.empty());
    EXPECT_EQ(u.status.summary, "dev=1.0.0 prod=old");
    EXPECT_EQ(remote_file("envs/prod/values.yaml"),
              "image:\n  repository: registry.local/team/app\n  tag: old\n");
    const auto* prod = u.status.find_environment("prod");
    ASSERT_NE(prod, nullptr);
    ASSERT_TRUE(prod->waiting);
    EXPECT_EQ(prod->waiting->reason, "OutsidePromotionWindow");
    EXPECT_EQ(prod->waiting->digest, d1);
    ASSERT_TRUE(prod->window);
    EXPECT_FALSE(prod->window->open);
    EXPECT_EQ(prod->window->message, "inside deny window 1");
    EXPECT_THAT(prod->message, testing::HasSubstr("(no window opens within a year)"));
    // The status file says the same (what kubectl-less users read).
    auto text = read_file(dir.path() / "state/status/team.app.json");
    ASSERT_TRUE(text);
    EXPECT_THAT(*text, testing::HasSubstr("\"OutsidePromotionWindow\""));

    write_app(approved);  // the window is gone
    u = settle();
    EXPECT_EQ(u.status.summary, "dev=1.0.0 prod=1.0.0");
    EXPECT_FALSE(u.status.find_environment("prod")->window);
}

/// A hold is reported once: passes after it leave the status as it is (Ready=False/Held keeps its
/// lastTransitionTime; the validation step used to flip Ready to True before the planner set it
/// back, so every pass rewrote the status).
TEST_F(LocalModeTest, AHeldEnvironmentDoesNotRewriteStatusOnEveryPass) {
    registry::LayoutOptions lo;
    lo.repository_subdirs = true;
    registry::LayoutRegistry reg(dir.path() / "registry", lo);
    push(reg, "1.0.0", "one");
    auto r = runner();
    ASSERT_TRUE(r);
    ASSERT_TRUE(r->run_until_settled());
    // Someone pins dev by hand.
    auto o = git_env(dir.path());
    o.cwd = (dir.path() / "seed").string();
    test::must_run({"git", "pull", "-q", (dir.path() / "deploy.git").string(), "main"}, o);
    ASSERT_TRUE(write_file_atomic(dir.path() / "seed/envs/dev/kustomization.yaml",
                                  "resources: [../../base]\nimages:\n"
                                  "- name: registry.local/team/app\n  newTag: hotfix\n"));
    test::must_run({"git", "commit", "-qam", "hotfix"}, o);
    test::must_run({"git", "push", "-q", (dir.path() / "deploy.git").string(), "main"}, o);
    ASSERT_TRUE(r->run_until_settled());
    auto held = r->status_of("team/app");
    ASSERT_TRUE(held);
    const api::Condition* ready = api::find_condition(held->conditions, "Ready");
    ASSERT_NE(ready, nullptr);
    ASSERT_EQ(ready->reason, "Held");
    const fs::path file = dir.path() / "state/status/team.app.json";
    auto before = read_file(file);
    ASSERT_TRUE(before);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // status times are seconds
    ASSERT_TRUE(r->run_until_settled());
    auto after = r->status_of("team/app");
    ASSERT_TRUE(after);
    const api::Condition* still = api::find_condition(after->conditions, "Ready");
    ASSERT_NE(still, nullptr);
    EXPECT_EQ(still->reason, "Held");
    EXPECT_EQ(still->last_transition_time, ready->last_transition_time);
    EXPECT_EQ(read_file(file).value_or(""), *before) << "the status file was rewritten";
}

TEST_F(LocalModeTest, MalformedFileNamesTheFileAndFieldAndDoesNothing) {
    ASSERT_TRUE(write_file_atomic(
        dir.path() / "apps/bad.yaml",
        "apiVersion: poetryops.io/v1alpha1\nkind: PoetryApp\nmetadata: {name: bad}\n"
        "spec:\n  image: {repository: registry.local/team/bad}\n"
        "  gitops: {repoURL: \"file:///nowhere\"}\n"
        "  environments:\n  - {name: dev, path: envs/dev}\n"
        "  - {name: prod, path: envs/prod, promotion: {from: qa}}\n"));
    auto r = runner();
    auto pass = r->run_pass();
    ASSERT_FALSE(pass);
    EXPECT_NE(pass.error().message.find("bad.yaml"), std::string::npos) << pass.error().message;
    EXPECT_NE(pass.error().message.find("spec.environments[1].promotion.from"), std::string::npos)
        << pass.error().message;
    EXPECT_EQ(remote_file("envs/dev/kustomization.yaml").find("digest"), std::string::npos);
}

TEST_F(LocalModeTest, MissingRegistryImageIsNothingToDo) {
    auto r = runner();
    auto pass = r->run_until_settled();
    ASSERT_TRUE(pass) << pass.error().message;
    EXPECT_EQ(pass->commits, 0u);
}

// An environment whose file cannot be read is never Ready, and the pass reports it (run --once
// exits 1), whether the path is refused (a submodule, like a symlink) or the file is over the size
// limit or missing.
TEST_F(LocalModeTest, AnOversizedEnvironmentFileIsNotReadyAndFailsThePass) {
    // 17 MB: over the 16 MiB limit of a manifest document.
    change_gitops(
        "printf 'image:\\n  repository: registry.local/team/app\\n  tag: old\\n' > "
        "envs/prod/values.yaml; head -c 17000000 /dev/zero | tr '\\0' x | "
        "sed 's/^/# /' >> envs/prod/values.yaml; git add envs/prod/values.yaml");
    Unreadable u = settle();
    ASSERT_EQ(u.errors.size(), 1u);
    EXPECT_THAT(u.errors[0], testing::HasSubstr("envs/prod/values.yaml: document of "));
    EXPECT_THAT(u.errors[0], testing::HasSubstr("bytes is over the limit of 16777216"));
    ASSERT_NE(u.ready, nullptr);
    EXPECT_EQ(u.ready->status, "False");
    EXPECT_EQ(u.ready->reason, "TooLarge");
    EXPECT_THAT(u.ready->message, testing::HasSubstr("prod: cannot read the GitOps repo"));
    ASSERT_NE(u.degraded, nullptr);
    EXPECT_EQ(u.degraded->status, "True");
    EXPECT_EQ(u.degraded->reason, "TooLarge");
}

TEST_F(LocalModeTest, ASubmoduleEnvironmentFolderIsNamedAndNotReady) {
    change_gitops(
        "git rm -rq envs/prod && git update-index --add --cacheinfo "
        "160000,1234567890123456789012345678901234567890,envs/prod");
    Unreadable u = settle();
    ASSERT_EQ(u.errors.size(), 1u);
    EXPECT_THAT(u.errors[0], testing::HasSubstr("'envs/prod' is a submodule"));
    ASSERT_NE(u.ready, nullptr);
    EXPECT_EQ(u.ready->status, "False");
    EXPECT_EQ(u.ready->reason, "InvalidPath");
    EXPECT_THAT(u.ready->message, testing::HasSubstr("is a submodule"));
}

TEST_F(LocalModeTest, AMissingEnvironmentFileIsNotReady) {
    change_gitops("git rm -q envs/prod/values.yaml");
    Unreadable u = settle();
    ASSERT_EQ(u.errors.size(), 1u);
    EXPECT_THAT(u.errors[0],
                testing::HasSubstr("envs/prod/values.yaml does not exist on branch main"));
    ASSERT_NE(u.ready, nullptr);
    EXPECT_EQ(u.ready->status, "False");
    EXPECT_EQ(u.ready->reason, "FileNotFound");
    EXPECT_EQ(u.status.environments.at(0).message.find("cannot read"), std::string::npos)
        << "dev reads fine: " << u.status.environments.at(0).message;
}

TEST(Demo, WalksPromotionsHoldReleaseRollbackAndCanariesInARealRepo) {
    TempDir dir("poetryops-demo-test");
    std::ostringstream out;
    auto r = run_demo(DemoOptions{dir.path() / "work"}, out);
    ASSERT_TRUE(r) << r.error().message << "\n" << out.str();
    std::string text = out.str();
    for (const char* expected :
         {"Promoted", "! Held", "HoldReleased", "RolledBack", "dev=1.3.0 staging=1.3.0 prod=1.0.0",
          "Pin staging to 1.0.0 while we debug", "scripted inside the demo, not Prometheus"}) {
        EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
    }
    // The canaries as they happen, in order: 1.2.0 is checked at each weight (its scripted metrics
    // pass) and completes; 1.3.0 fails its checks at 10 % twice (failureLimit 2) and aborts.
    std::vector<std::string> timeline = {
        "CanaryStarted",
        "shifting to 10%",
        "metrics (scripted)    prod at 10%: success-rate 0.998 (>= 0.99) pass; latency-p99-ms 41 "
        "(<= 500) pass; verdict pass",
        "shifting to 25%",
        "metrics (scripted)    prod at 25%",
        "shifting to 50%",
        "metrics (scripted)    prod at 50%",
        "CanaryCompleted",
        "RolledBack",
        "CanaryStarted",
        "shifting to 10%",
        "! metrics (scripted)    prod at 10%: success-rate 0.95 (>= 0.99) fail; latency-p99-ms 47 "
        "(<= 500) pass; verdict fail",
        "CanaryCheckFailed",
        "! metrics (scripted)    prod at 10%",
        "CanaryCheckFailed",
        "CanaryAborted",
        "The GitOps repository's log",
        "Poetryops-Canary: demo/hello/prod/"};
    std::size_t at = 0;
    for (const auto& line : timeline) {
        auto found = text.find(line, at);
        EXPECT_NE(found, std::string::npos) << "missing, or out of order: " << line << "\n" << text;
        if (found != std::string::npos) at = found + 1;
    }
    EXPECT_EQ(text.find("prod at 25%: success-rate 0.95"), std::string::npos) << text;

    // The repos stay for inspection with --workdir, and every promotion carries its trailer.
    const std::string git_dir = (dir.path() / "work/gitops.git").string();
    auto log = run_process({"git", "--git-dir", git_dir, "log", "--reverse", "--format=%B"});
    ASSERT_TRUE(log);
    std::size_t trailers = 0;
    for (auto p = log->out.find("Poetryops-Promotion: demo/hello/"); p != std::string::npos;
         p = log->out.find("Poetryops-Promotion: demo/hello/", p + 1))
        ++trailers;
    // dev and staging 4 each, prod 1.0.0, 1.2.0's canary completing, the rollback to 1.0.0
    EXPECT_EQ(trailers, 11u);
    // Each canary commit carries its trailer: the weights in git, per digest, in order.
    std::vector<std::pair<std::string, std::vector<int>>> canaries;
    std::istringstream lines(log->out);
    const std::string key = "Poetryops-Canary: demo/hello/prod/";
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind(key, 0) != 0) continue;
        std::string digest = line.substr(key.size(), line.find(' ', key.size()) - key.size());
        auto w = line.find(" weight=");
        ASSERT_NE(w, std::string::npos) << line;
        if (canaries.empty() || canaries.back().first != digest) canaries.push_back({digest, {}});
        canaries.back().second.push_back(std::stoi(line.substr(w + 8)));
    }
    ASSERT_EQ(canaries.size(), 2u) << log->out;
    // deploy at 0 %, the three steps, complete (back to 0 % with 1.2.0 stable)
    EXPECT_EQ(canaries[0].second, (std::vector<int>{0, 10, 25, 50, 0})) << log->out;
    // deploy at 0 %, 10 %, abort (back to 0 %)
    EXPECT_EQ(canaries[1].second, (std::vector<int>{0, 10, 0})) << log->out;
    // The abort is the last commit: the canary workload runs what prod runs (1.0.0, rolled back to
    // by hand) and the route sends it nothing; 1.3.0 is pinned nowhere in prod.
    auto show = [&](const std::string& path) {
        auto r = run_process({"git", "--git-dir", git_dir, "show", "main:" + path});
        return r ? r->out : std::string();
    };
    std::string deployment = show("envs/prod/deployment.yaml");
    EXPECT_EQ(deployment.find(canaries[1].first), std::string::npos) << deployment;
    auto canary_at = deployment.find("name: hello-canary");
    ASSERT_NE(canary_at, std::string::npos) << deployment;
    EXPECT_NE(deployment.find("image: registry.local/demo/hello:1.0.0-", canary_at),
              std::string::npos)
        << deployment;
    std::string route = show("envs/prod/route.yaml");
    EXPECT_NE(route.find("- name: hello\n      port: 80\n      weight: 100\n"), std::string::npos)
        << route;
    EXPECT_NE(route.find("- name: hello-canary\n      port: 80\n      weight: 0\n"),
              std::string::npos)
        << route;
    auto last = run_process({"git", "--git-dir", git_dir, "log", "-1", "--format=%B"});
    ASSERT_TRUE(last);
    EXPECT_NE(last->out.find(key + canaries[1].first), std::string::npos) << last->out;

    // A non-empty workdir is refused rather than mixed into.
    std::ostringstream again;
    auto refused = run_demo(DemoOptions{dir.path() / "work"}, again);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("not empty"), std::string::npos);
}

}  // namespace
}  // namespace poetryops::controller

namespace poetryops::controller {
namespace {

/// A canary in git mode, end to end on a real repository: prod's folder holds the stable and the
/// canary Deployment and the user's HTTPRoute (docs/canary.md); steps of 1 s, no analysis.
class LocalCanaryTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(test::require_tools({"git"}));
        auto deployment = [](const std::string& name, const std::string& track) {
            return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name +
                   "\nspec:\n  template:\n    metadata:\n      labels: {track: " + track +
                   "}\n    spec:\n      containers:\n      - name: app\n"
                   "        image: registry.local/team/app:old  # pinned by poetryops\n";
        };
        seed_gitops(dir.path(),
                    {{"envs/dev/kustomization.yaml",
                      "images:\n- name: registry.local/team/app\n  newTag: old\n"},
                     {"envs/prod/deployment.yaml",
                      deployment("app", "stable") + "---\n" + deployment("app-canary", "canary")},
                     {"envs/prod/route.yaml", kRoute}});
        fs::create_directories(dir.path() / "apps");
        ASSERT_TRUE(write_file_atomic(
            dir.path() / "apps/app.yaml",
            "apiVersion: poetryops.io/v1alpha1\nkind: PoetryApp\nmetadata:\n  name: app\n"
            "  namespace: team\nspec:\n"
            "  image: {repository: registry.local/team/app, tagTemplate: \"{version}\"}\n"
            "  gitops: {repoURL: \"file://" +
                (dir.path() / "deploy.git").string() +
                "\"}\n"
                "  environments:\n  - {name: dev, path: envs/dev}\n"
                "  - name: prod\n    path: envs/prod\n    promotion: {from: dev}\n"
                "    update: {kind: manifest, file: deployment.yaml}\n"
                "    canary:\n"
                "      traffic: {kind: gateway-api, route: app, stable: app, canary: app-canary,"
                " file: route.yaml}\n"
                "      steps: [{weight: 10, pause: 1s}, {weight: 50, pause: 1s}]\n"));
    }

    std::unique_ptr<LocalRunner> runner(
        std::function<void(const api::PoetryApp&, const promote::Event&)> on_event = {}) {
        LocalOptions o;
        o.inputs = {dir.path() / "apps"};
        o.state_dir = dir.path() / "state";
        o.layout_dir = dir.path() / "registry";
        o.committer.window = std::chrono::milliseconds(10);
        o.on_event = std::move(on_event);
        auto r = LocalRunner::create(o);
        EXPECT_TRUE(r) << (r ? "" : r.error().message);
        return r ? std::move(r).value() : nullptr;
    }

    std::string remote_file(const std::string& path) {
        auto r = run_process(
            {"git", "--git-dir", (dir.path() / "deploy.git").string(), "show", "main:" + path});
        return r ? r->out : "";
    }

    /// Passes until `done` or 60 s.
    bool run_until(LocalRunner& r, const std::function<bool()>& done) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (std::chrono::steady_clock::now() < deadline) {
            auto pass = r.run_pass();
            EXPECT_TRUE(pass) << (pass ? "" : pass.error().message);
            if (done()) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        return false;
    }

    static constexpr const char* kRoute =
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: app\n"
        "spec:\n  rules:\n  - matches:  # testers reach the canary with a header\n"
        "    - headers: [{name: x-canary, value: always}]\n"
        "    backendRefs: [{name: app-canary, port: 8080}]\n"
        "  - timeouts: {request: 10s}\n    backendRefs:\n"
        "    - {name: app, port: 8080, weight: 100}\n"
        "    - {name: app-canary, port: 8080, weight: 0}\n";

    TempDir dir{"poetryops-local-canary"};
};

TEST_F(LocalCanaryTest, ASecondImageWalksTheStepsInGitAndCompletes) {
    registry::LayoutOptions lo;
    lo.repository_subdirs = true;
    registry::LayoutRegistry reg(dir.path() / "registry", lo);
    std::string d1 = push(reg, "1.0.0", "one");
    auto r = runner();
    ASSERT_TRUE(r);
    // The first image of prod goes straight in: no canary without a stable version.
    ASSERT_TRUE(run_until(*r, [&] {
        return remote_file("envs/prod/deployment.yaml").find(d1) != std::string::npos;
    }));
    EXPECT_EQ(remote_file("envs/prod/route.yaml"), kRoute);

    std::string d2 = push(reg, "2.0.0", "two");
    ASSERT_TRUE(run_until(*r, [&] {
        auto s = r->status_of("team/app");
        return s && s->find_environment("prod") && s->find_environment("prod")->digest == d2;
    })) << "the canary of 2.0.0 did not complete";

    // Every stable and canary container runs 2.0.0 now, the route is back to 100/0, and the other
    // rule and the comments are as the user wrote them.
    std::string deploy = remote_file("envs/prod/deployment.yaml");
    EXPECT_EQ(deploy.find(d1), std::string::npos);
    EXPECT_NE(deploy.find("registry.local/team/app:2.0.0@" + d2 + "  # pinned by poetryops"),
              std::string::npos)
        << deploy;
    EXPECT_EQ(remote_file("envs/prod/route.yaml"), kRoute);

    // git log is the audit trail: deploy at 0 %, 10 %, 50 %, then the promotion.
    auto log = run_process({"git", "--git-dir", (dir.path() / "deploy.git").string(), "log",
                            "--reverse", "--format=%s%n%b"});
    ASSERT_TRUE(log);
    const std::string subject = "team/app/prod/" + d2;
    std::vector<std::string> expected = {
        "Poetryops-Canary: " + subject + " action=deploy step=0/2 weight=0 verdict=start",
        "Poetryops-Canary: " + subject + " action=shift step=1/2 weight=10 verdict=start",
        "Poetryops-Canary: " + subject + " action=shift step=2/2 weight=50 verdict=pause",
        "Poetryops-Promotion: " + subject,  // the completing commit carries both
        "Poetryops-Canary: " + subject + " action=complete step=2/2 weight=0 verdict=pause"};
    std::size_t at = 0;
    for (const auto& line : expected) {
        auto found = log->out.find(line, at);
        EXPECT_NE(found, std::string::npos) << "missing, or out of order: " << line << "\n"
                                            << log->out;
        if (found != std::string::npos) at = found;
    }
    auto s = r->status_of("team/app");
    ASSERT_TRUE(s);
    const auto* prod = s->find_environment("prod");
    ASSERT_TRUE(prod && prod->canary);
    EXPECT_EQ(prod->canary->phase, api::CanaryPhase::succeeded);
    EXPECT_EQ(s->summary, "dev=2.0.0 prod=2.0.0");
}

TEST_F(LocalCanaryTest, AStepWhoseStatusWriteWasLostIsFoundInGitNotTakenForAHumanEdit) {
    registry::LayoutOptions lo;
    lo.repository_subdirs = true;
    registry::LayoutRegistry reg(dir.path() / "registry", lo);
    std::string d1 = push(reg, "1.0.0", "one");
    const fs::path status_file = dir.path() / "state/status/team.app.json";
    std::string at_ten;  // the status as it was at 10 %
    {
        auto r = runner();
        ASSERT_TRUE(r);
        ASSERT_TRUE(run_until(*r, [&] {
            return remote_file("envs/prod/deployment.yaml").find(d1) != std::string::npos;
        }));
        push(reg, "2.0.0", "two");
        ASSERT_TRUE(run_until(*r, [&] {
            auto s = r->status_of("team/app");
            const auto* prod = s ? s->find_environment("prod") : nullptr;
            return prod && prod->canary && prod->canary->weight == 10;
        }));
        auto text = read_file(status_file);
        ASSERT_TRUE(text) << text.error().message;
        at_ten = *text;
        ASSERT_TRUE(run_until(*r, [&] {
            return remote_file("envs/prod/route.yaml").find("weight: 50") != std::string::npos;
        }));
    }
    // The controller "crashed" after pushing the 50 % step and before writing its status.
    ASSERT_TRUE(write_file_atomic(status_file, at_ten));
    std::vector<std::string> events;
    auto r = runner([&](const api::PoetryApp&, const promote::Event& e) {
        events.push_back(e.reason + ": " + e.message);
    });
    ASSERT_TRUE(r);
    ASSERT_TRUE(run_until(*r, [&] {
        auto s = r->status_of("team/app");
        const auto* prod = s ? s->find_environment("prod") : nullptr;
        return prod && prod->canary && prod->canary->phase == api::CanaryPhase::succeeded;
    })) << "the canary did not complete after the restart";
    std::string joined;
    for (const auto& e : events) joined += e + "\n";
    EXPECT_NE(joined.find("CanaryAdopted: prod: took shift to 50%"), std::string::npos) << joined;
    EXPECT_EQ(joined.find("changed outside poetryops"), std::string::npos) << joined;
    // Each step is in git once: the 50 % step was not committed again.
    auto log = run_process(
        {"git", "--git-dir", (dir.path() / "deploy.git").string(), "log", "--format=%b"});
    ASSERT_TRUE(log);
    const std::string fifty = "action=shift step=2/2 weight=50";
    std::size_t fifties = 0;
    for (auto at = log->out.find(fifty); at != std::string::npos; at = log->out.find(fifty, at + 1))
        ++fifties;
    EXPECT_EQ(fifties, 1u) << log->out;
}

}  // namespace
}  // namespace poetryops::controller

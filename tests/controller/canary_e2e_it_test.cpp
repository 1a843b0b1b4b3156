// Issue 13 end to end: a canary in local mode (LocalRunner on a real bare GitOps repository and an
// OCI layout registry) judged by a real Prometheus scraping the stable and the canary version of
// the app (two MetricsTargets labelled namespace/service as a ServiceMonitor would), while a load
// generator splits its requests by the weights committed in git — read back from route.yaml after
// every pass, as a route would apply them. Each test asserts what a user sees: git history and its
// trailers, the files in git, status and events.
#include <poetryops/controller/local.hpp>

#include <poetryops/api/codec.hpp>
#include <poetryops/api/conditions.hpp>
#include <poetryops/manifest/read.hpp>
#include <poetryops/registry/layout.hpp>
#include <poetryops/registry/reference.hpp>
#include <poetryops/util/fs.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/git/git_servers.hpp"
#include "support/prometheus/load_generator.hpp"
#include "support/prometheus/metrics_target.hpp"
#include "support/prometheus/test_prometheus.hpp"
#include "support/registry/test_registry.hpp"
#include "support/support.hpp"

namespace poetryops::controller {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using test::LoadGenerator;
using test::MetricsTarget;
using test::TestPrometheus;

/// An image in the layout under `tag` whose manifest is unique to `seed`.
std::string push(registry::LayoutRegistry& reg, const std::string& tag, const std::string& seed) {
    return test::push_layout_image(reg, "registry.local/team/app", tag, seed);
}

/// One `Poetryops-Canary` trailer: "<ns>/<app>/<env>/<digest> step=1/2 weight=10 verdict=pass"
/// (fields read by name, so a field added later does not break the test).
struct CanaryCommit {
    std::string subject;
    std::map<std::string, std::string> fields;
    bool promotion = false;  ///< the same commit carries a Poetryops-Promotion trailer

    int weight() const {
        auto it = fields.find("weight");
        return it == fields.end() ? -1 : std::stoi(it->second);
    }
    std::string field(const std::string& name) const {
        auto it = fields.find(name);
        return it == fields.end() ? "" : it->second;
    }
};

std::string weights_of(const std::vector<CanaryCommit>& commits) {
    std::string out;
    for (const auto& c : commits) {
        out += (out.empty() ? "" : " → ") + std::to_string(c.weight()) + " (" + c.field("verdict") +
               ")";
    }
    return out;
}

/// The app's prod environment: a stable and a canary Deployment and the user's HTTPRoute
/// (docs/canary.md "The environment's folder"), analysed by the Prometheus of the test.
class CanaryE2eTest : public ::testing::Test {
protected:
    static constexpr const char* kRoute =
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: app\n"
        "spec:\n  rules:\n  - backendRefs:\n"
        "    - {name: app, port: 8080, weight: 100}\n"
        "    - {name: app-canary, port: 8080, weight: 0}\n";

    /// Seeds git, starts both versions of the app, Prometheus scraping them and the load (`rate`
    /// requests/s, split as route.yaml says), and puts 1.0.0 in dev and prod (prod's first image
    /// goes straight in). The canary target answers 500 at `canary_error_rate`.
    void start(double rate, double canary_error_rate) {
        ASSERT_TRUE(test::require_tools({"git", "prometheus"}));
        auto deployment = [](const std::string& name, const std::string& track) {
            return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name +
                   "\nspec:\n  template:\n    metadata:\n      labels: {track: " + track +
                   "}\n    spec:\n      containers:\n      - name: app\n"
                   "        image: registry.local/team/app:old\n";
        };
        repos_.create("deploy.git");
        repos_.commit_files("deploy.git",
                            {{"envs/dev/kustomization.yaml",
                              "images:\n- name: registry.local/team/app\n  newTag: old\n"},
                             {"envs/prod/deployment.yaml", deployment("app", "stable") + "---\n" +
                                                               deployment("app-canary", "canary")},
                             {"envs/prod/route.yaml", kRoute}});

        ASSERT_TRUE(stable_.start());
        ASSERT_TRUE(canary_.start({.error_rate = canary_error_rate}));
        prom_ = TestPrometheus::start(
            {.targets = {scrape("app", stable_.port()), scrape("app-canary", canary_.port())}});
        ASSERT_NE(prom_, nullptr);
        load_ = std::make_unique<LoadGenerator>(
            std::vector<test::Backend>{{stable_.url(), 100}, {canary_.url(), 0}});
        load_->start(rate);

        registry::LayoutOptions lo;
        lo.repository_subdirs = true;
        reg_ = std::make_unique<registry::LayoutRegistry>(dir.path() / "registry", lo);
        d1_ = push(*reg_, "1.0.0", "one");
        fs::create_directories(dir.path() / "apps");
    }

    static test::ScrapeTarget scrape(const std::string& service, int port) {
        return {
            .job = service, .port = port, .labels = {{"namespace", "team"}, {"service", service}}};
    }

    /// Writes the PoetryApp: prod's canary has steps 10 % and 50 % (pause 2 s) and `analysis`
    /// (YAML lines under `analysis:`, indented 8) against the test's Prometheus.
    void write_app(const std::string& analysis) {
        ASSERT_TRUE(write_file_atomic(
            dir.path() / "apps/app.yaml",
            "apiVersion: poetryops.io/v1alpha1\nkind: PoetryApp\nmetadata:\n  name: app\n"
            "  namespace: team\nspec:\n"
            "  image: {repository: registry.local/team/app, tagTemplate: \"{version}\"}\n"
            "  gitops: {repoURL: \"file://" +
                bare().string() +
                "\"}\n"
                "  environments:\n  - {name: dev, path: envs/dev}\n"
                "  - name: prod\n    path: envs/prod\n    promotion: {from: dev}\n"
                "    update: {kind: manifest, file: deployment.yaml}\n"
                "    canary:\n"
                "      traffic: {kind: gateway-api, route: app, stable: app, canary: app-canary,"
                " file: route.yaml}\n"
                "      steps: [{weight: 10, pause: 2s}, {weight: 50, pause: 2s}]\n"
                "      analysis:\n        prometheus: {address: \"" +
                prom_->url() + "\"}\n" + analysis));
        LocalOptions lo;
        lo.inputs = {dir.path() / "apps"};
        lo.state_dir = dir.path() / "state";
        lo.layout_dir = dir.path() / "registry";
        lo.committer.window = std::chrono::milliseconds(10);
        lo.on_event = [this](const api::PoetryApp&, const promote::Event& e) {
            std::lock_guard lock(events_mu_);
            events_.push_back(e);
        };
        auto r = LocalRunner::create(lo);
        ASSERT_TRUE(r) << r.error().message;
        runner_ = std::move(r).value();
    }

    /// 1.0.0 runs in prod (no canary: nothing stable yet), Prometheus has the app's series, and
    /// 2.0.0 is pushed: its canary starts with the next pass.
    void deploy_first_then_push_second() {
        ASSERT_TRUE(
            run_until([&] { return prod() && prod()->digest == d1_; }, std::chrono::seconds(30)))
            << "1.0.0 did not reach prod";
        ASSERT_TRUE(prom_->wait_for(R"(sum(http_requests_total{namespace="team",service="app"}))",
                                    [](double v) { return v > 0; }));
        ASSERT_TRUE(prom_->wait_for(R"(count(up{service="app-canary"} == 1))",
                                    [](double v) { return v == 1; }));
        d2_ = push(*reg_, "2.0.0", "two");
        canary_started_ = Clock::now();
    }

    fs::path bare() const { return repos_.path("deploy.git"); }

    std::string remote_file(const std::string& path) const {
        return repos_.show("deploy.git", "main:" + path);
    }

    /// The route's weights in git, {stable, canary}; {-1, -1} when unreadable.
    std::vector<int> git_weights() const {
        auto w = manifest::read_weights(remote_file("envs/prod/route.yaml"),
                                        manifest::TrafficKind::gateway_api, {"app", "app-canary"});
        if (!w || !*w || (*w)->size() != 2) return {-1, -1};
        return {(**w)[0].weight, (**w)[1].weight};
    }

    /// What git pins on `workload` in prod's deployment.yaml.
    std::string pinned_digest(const std::string& workload) const {
        manifest::SetImageRequest req;
        req.name = "registry.local/team/app";
        req.workload = workload;
        auto p = manifest::find_pinned_image(remote_file("envs/prod/deployment.yaml"), req,
                                             manifest::Kind::yaml);
        return p && *p ? (*p)->digest : "";
    }

    /// One pass, then the load follows the weights committed in git (as the route would).
    void pass() {
        auto r = runner_->run_pass();
        ASSERT_TRUE(r) << r.error().message;
        for (const auto& e : r->errors) last_pass_errors_ = e;
        auto w = git_weights();
        ASSERT_GE(w[0], 0) << remote_file("envs/prod/route.yaml");
        load_->set_weights(w);
        if (followed_.empty() || followed_.back() != w[1]) followed_.push_back(w[1]);
        // What changed, for failure messages: git's weight and the canary's status.
        if (const auto* c = canary(); c && c->digest == d2_) {
            std::ostringstream line;
            line << "git " << w[1] << "%, status " << api::to_string(c->phase) << " at "
                 << c->weight << "% failures " << c->failures << " inconclusive " << c->inconclusive
                 << ": " << c->message;
            if (timeline_.empty() || timeline_.back().second != line.str()) {
                timeline_.emplace_back(seconds_since(canary_started_), line.str());
            }
        }
    }

    /// Passes (every 200 ms) until `done`, or false after `timeout`.
    bool run_until(const std::function<bool()>& done,
                   std::chrono::seconds timeout = std::chrono::seconds(45)) {
        auto deadline = Clock::now() + timeout;
        while (Clock::now() < deadline) {
            pass();
            if (::testing::Test::HasFatalFailure()) return false;
            if (done()) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        return false;
    }

    std::optional<api::PoetryAppStatus> status() const { return runner_->status_of("team/app"); }
    /// prod's status as of the last pass (nullptr before the first).
    const api::EnvironmentStatus* prod() {
        last_status_ = status();
        return last_status_ ? last_status_->find_environment("prod") : nullptr;
    }
    const api::CanaryStatus* canary() {
        const auto* p = prod();
        return p && p->canary ? &*p->canary : nullptr;
    }
    bool canary_in(api::CanaryPhase phase) {
        const auto* c = canary();
        return c && c->digest == d2_ && c->phase == phase;
    }

    /// The canary commits of 2.0.0 in prod, oldest first.
    std::vector<CanaryCommit> canary_commits() const {
        auto log = run_process(
            {"git", "--git-dir", bare().string(), "log", "--reverse", "--format=%B%x00", "main"});
        std::vector<CanaryCommit> out;
        if (!log) return out;
        const std::string subject = "team/app/prod/" + d2_;
        std::istringstream commits(log->out);
        for (std::string body; std::getline(commits, body, '\0');) {
            std::optional<CanaryCommit> found;
            bool promotion = false;
            std::istringstream lines(body);
            for (std::string line; std::getline(lines, line);) {
                if (line == "Poetryops-Promotion: " + subject) promotion = true;
                const std::string key = "Poetryops-Canary: ";
                if (line.rfind(key, 0) != 0) continue;
                std::istringstream fields(line.substr(key.size()));
                CanaryCommit c;
                fields >> c.subject;
                for (std::string f; fields >> f;) {
                    auto eq = f.find('=');
                    if (eq != std::string::npos) c.fields[f.substr(0, eq)] = f.substr(eq + 1);
                }
                if (c.subject == subject) found = std::move(c);
            }
            if (found) {
                found->promotion = promotion;
                out.push_back(std::move(*found));
            }
        }
        return out;
    }

    std::vector<promote::Event> events() {
        std::lock_guard lock(events_mu_);
        return events_;
    }
    /// The events of `reason`, as "W message" (warning) or "N message".
    std::vector<std::string> events_of(const std::string& reason) {
        std::vector<std::string> out;
        for (const auto& e : events()) {
            if (e.reason == reason) out.push_back((e.warning ? "W " : "N ") + e.message);
        }
        return out;
    }
    std::string all_events() {
        std::string out;
        for (const auto& e : events()) {
            out += (e.warning ? "  W " : "  N ") + e.reason + ": " + e.message + "\n";
        }
        return out;
    }
    /// Everything that explains a failure: git's trailers, the weights the load followed, status,
    /// events.
    std::string story() {
        std::string out = "canary commits: " + weights_of(canary_commits()) + "\nload followed:";
        for (int w : followed_) out += " " + std::to_string(w);
        auto s = status();
        out += "\nstatus: " + (s ? api::encode_status(*s).dump() : std::string("none")) +
               "\nevents:\n" + all_events();
        if (!last_pass_errors_.empty()) out += "last pass error: " + last_pass_errors_ + "\n";
        out += "canary target: " + std::to_string(canary_.requests()) + " requests, " +
               std::to_string(canary_.errors()) +
               " errors; stable target: " + std::to_string(stable_.requests()) +
               " requests\ntimeline (s after the push):\n";
        for (const auto& [t, line] : timeline_) {
            char at[32];
            std::snprintf(at, sizeof at, "  %6.2f ", t);
            out += at + line + "\n";
        }
        return out;
    }
    double seconds_since(Clock::time_point t) const {
        return std::chrono::duration<double>(Clock::now() - t).count();
    }

    void TearDown() override {
        if (load_) load_->stop();
        runner_.reset();
        std::cout << "[ timing   ] canary: " << seconds_since(canary_started_)
                  << " s after 2.0.0 was pushed\n";
    }

    TempDir dir{"poetryops-canary-e2e"};
    test::BareRepos repos_;
    MetricsTarget stable_, canary_;
    std::unique_ptr<TestPrometheus> prom_;
    std::unique_ptr<LoadGenerator> load_;
    std::unique_ptr<registry::LayoutRegistry> reg_;
    std::unique_ptr<LocalRunner> runner_;
    std::string d1_, d2_;
    Clock::time_point canary_started_ = Clock::now();
    std::vector<int> followed_;  ///< the canary weights the load followed, in order
    std::optional<api::PoetryAppStatus> last_status_;
    std::string last_pass_errors_;
    std::vector<std::pair<double, std::string>> timeline_;
    std::mutex events_mu_;
    std::vector<promote::Event> events_;
};

TEST_F(CanaryE2eTest, AGoodCanaryWalksEveryStepAndCompletes) {
    start(80, 0);
    ASSERT_NO_FATAL_FAILURE(write_app(
        "        interval: 3s\n        minRequests: 5\n        metrics:\n"
        "        - {name: success-rate, min: 0.99}\n        - {name: latency-p99-ms, max: 500}\n"));
    ASSERT_NO_FATAL_FAILURE(deploy_first_then_push_second());

    ASSERT_TRUE(run_until([&] { return canary_in(api::CanaryPhase::succeeded); })) << story();
    ASSERT_TRUE(run_until([&] { return prod()->phase == api::Phase::healthy; })) << story();

    // git: deploy at 0 %, 10 %, 50 % after a passed check, then the completing commit (which is
    // also prod's promotion) back at 0 %.
    auto commits = canary_commits();
    ASSERT_EQ(commits.size(), 4u) << story();
    EXPECT_EQ(weights_of(commits), "0 (start) → 10 (start) → 50 (pass) → 0 (pass)") << story();
    EXPECT_EQ(commits[1].field("step"), "1/2");
    EXPECT_EQ(commits[2].field("step"), "2/2");
    EXPECT_TRUE(commits[3].promotion) << "the completing commit pins the stable workload";
    // The traffic followed git: the canary got 10 %, then 50 % of the requests, then none.
    EXPECT_EQ(followed_, (std::vector<int>{0, 10, 50, 0})) << story();
    EXPECT_GT(canary_.requests(), 0u);
    EXPECT_EQ(canary_.errors(), 0u);

    EXPECT_EQ(pinned_digest("app"), d2_) << remote_file("envs/prod/deployment.yaml");
    EXPECT_EQ(pinned_digest("app-canary"), d2_);
    EXPECT_EQ(git_weights(), (std::vector<int>{100, 0}));
    const auto* p = prod();
    EXPECT_EQ(p->digest, d2_);
    EXPECT_EQ(p->phase, api::Phase::healthy);
    EXPECT_EQ(p->canary->weight, 0);
    EXPECT_EQ(p->canary->failures, 0);
    // The last round's checks, each with its bound: requests, success-rate 1, latency.
    ASSERT_EQ(p->canary->analysis.size(), 3u) << story();
    for (const auto& m : p->canary->analysis) {
        EXPECT_EQ(m.verdict, api::AnalysisVerdict::pass) << m.name << ": " << m.message;
    }
    EXPECT_EQ(p->canary->analysis[1].name, "success-rate");
    EXPECT_EQ(p->canary->analysis[1].value, 1.0);
    EXPECT_EQ(last_status_->summary, "dev=2.0.0 prod=2.0.0");
    EXPECT_FALSE(api::is_condition_true(last_status_->conditions, api::kConditionDegraded));
    EXPECT_EQ(events_of("CanaryStep").size(), 2u) << all_events();
    EXPECT_EQ(events_of("CanaryCompleted").size(), 1u) << all_events();
    EXPECT_TRUE(events_of("CanaryAborted").empty()) << all_events();
}

TEST_F(CanaryE2eTest, FivePercentErrorsAbortAndRollBack) {
    start(80, 0.05);
    ASSERT_NO_FATAL_FAILURE(
        write_app("        interval: 3s\n        metrics:\n"
                  "        - {name: success-rate, min: 0.99}\n"));
    ASSERT_NO_FATAL_FAILURE(deploy_first_then_push_second());

    ASSERT_TRUE(run_until([&] { return canary_in(api::CanaryPhase::aborted); })) << story();

    // git: deployed, shifted to 10 % (and to 50 % if a first window held no error), then the
    // abort: weight 0, verdict fail.
    auto commits = canary_commits();
    ASSERT_GE(commits.size(), 3u) << story();
    ASSERT_LE(commits.size(), 4u) << story();
    EXPECT_EQ(commits[0].weight(), 0);
    EXPECT_EQ(commits[1].weight(), 10);
    if (commits.size() == 4) {
        EXPECT_EQ(commits[2].weight(), 50) << story();
    }
    std::cout << "[ info     ] aborted at " << commits[commits.size() - 2].weight() << "%\n";
    EXPECT_EQ(commits.back().weight(), 0);
    EXPECT_EQ(commits.back().field("verdict"), "fail") << story();
    EXPECT_FALSE(commits.back().promotion);
    // Rolled back: the route sends the canary nothing and its workload runs 1.0.0 again.
    EXPECT_EQ(git_weights(), (std::vector<int>{100, 0}));
    EXPECT_EQ(pinned_digest("app-canary"), d1_) << remote_file("envs/prod/deployment.yaml");
    EXPECT_EQ(pinned_digest("app"), d1_);
    EXPECT_EQ(followed_.back(), 0);
    EXPECT_GT(canary_.errors(), 0u);

    const auto* p = prod();
    EXPECT_EQ(p->digest, d1_);
    EXPECT_EQ(p->phase, api::Phase::failed);
    EXPECT_EQ(p->reason, "CanaryAborted");
    EXPECT_NE(std::find(p->rejected_digests.begin(), p->rejected_digests.end(), d2_),
              p->rejected_digests.end())
        << story();
    EXPECT_EQ(p->canary->failures, 2);
    ASSERT_FALSE(p->canary->analysis.empty());
    const auto& rate = p->canary->analysis.back();
    EXPECT_EQ(rate.name, "success-rate");
    EXPECT_EQ(rate.verdict, api::AnalysisVerdict::fail) << rate.message;
    ASSERT_TRUE(rate.value);
    EXPECT_LT(*rate.value, 0.99);
    EXPECT_GT(*rate.value, 0.8);
    auto aborted = events_of("CanaryAborted");
    ASSERT_EQ(aborted.size(), 1u) << all_events();
    EXPECT_EQ(aborted[0].rfind("W prod: canary of 2.0.0", 0), 0u) << aborted[0];
    EXPECT_EQ(events_of("CanaryCheckFailed").size(), 2u) << all_events();

    // The rejected digest never comes back: more passes commit nothing.
    auto before = canary_commits().size();
    for (int i = 0; i < 5; ++i) ASSERT_NO_FATAL_FAILURE(pass());
    EXPECT_EQ(canary_commits().size(), before);
    EXPECT_EQ(prod()->digest, d1_);
}

TEST_F(CanaryE2eTest, TooLittleTrafficIsInconclusiveAndARunOfThreeCountsAsAFailure) {
    // 4 requests/s: at 10 % the canary serves ~1 request in a 2 s interval, far below minRequests.
    start(4, 0);
    ASSERT_NO_FATAL_FAILURE(
        write_app("        interval: 2s\n        minRequests: 500\n"
                  "        metrics:\n"
                  "        - {name: success-rate, min: 0.99}\n"));
    ASSERT_NO_FATAL_FAILURE(deploy_first_then_push_second());

    // Inconclusive rounds are counted in status while the weight holds at the first step.
    int most_inconclusive = 0;
    bool saw_one_failure = false;
    ASSERT_TRUE(run_until([&] {
        const auto* c = canary();
        if (c && c->digest == d2_) {
            most_inconclusive = std::max(most_inconclusive, c->inconclusive);
            if (c->failures == 1 && c->phase == api::CanaryPhase::progressing) {
                saw_one_failure = true;
                EXPECT_EQ(c->weight, 10);
                EXPECT_FALSE(c->analysis.empty());
                if (!c->analysis.empty()) {
                    EXPECT_EQ(c->analysis[0].name, "requests");
                    EXPECT_EQ(c->analysis[0].verdict, api::AnalysisVerdict::inconclusive);
                    EXPECT_NE(c->analysis[0].message.find("fewer than minRequests 500"),
                              std::string::npos)
                        << c->analysis[0].message;
                }
            }
        }
        return canary_in(api::CanaryPhase::aborted);
    })) << story();
    EXPECT_EQ(most_inconclusive, 2) << "a run of 3 inconclusive rounds counts as one failure";
    EXPECT_TRUE(saw_one_failure) << story();

    // docs/canary.md: a run of inconclusiveLimit (3) inconclusive rounds counts as one failure,
    // failureLimit (2) failures abort: six rounds at 10 %, never a step further, then roll back.
    auto commits = canary_commits();
    ASSERT_EQ(commits.size(), 3u) << story();
    EXPECT_EQ(weights_of(commits), "0 (start) → 10 (start) → 0 (fail)") << story();
    EXPECT_EQ(followed_, (std::vector<int>{0, 10, 0})) << story();
    auto failed = events_of("CanaryCheckFailed");
    ASSERT_EQ(failed.size(), 2u) << all_events();
    EXPECT_EQ(failed[0], "W prod: 3 inconclusive checks in a row count as a failure (1/2)");
    EXPECT_EQ(failed[1], "W prod: 3 inconclusive checks in a row count as a failure (2/2)");
    EXPECT_EQ(events_of("CanaryAborted").size(), 1u) << all_events();
    const auto* p = prod();
    EXPECT_EQ(p->phase, api::Phase::failed);
    EXPECT_EQ(p->digest, d1_);
    EXPECT_NE(std::find(p->rejected_digests.begin(), p->rejected_digests.end(), d2_),
              p->rejected_digests.end());
    EXPECT_EQ(pinned_digest("app-canary"), d1_);
    EXPECT_EQ(git_weights(), (std::vector<int>{100, 0}));
}

TEST_F(CanaryE2eTest, PrometheusDownHoldsTheWeightUntilItIsBack) {
    start(80, 0);
    // A Prometheus started again has no data for its first ~8 s: those rounds are inconclusive,
    // and the runner keeps running through them.
    ASSERT_NO_FATAL_FAILURE(
        write_app("        interval: 3s\n        inconclusiveLimit: 10\n"
                  "        metrics:\n"
                  "        - {name: success-rate, min: 0.99}\n"));
    ASSERT_NO_FATAL_FAILURE(deploy_first_then_push_second());

    // At 10 %, before its first round (one interval after the step's commit), Prometheus goes.
    ASSERT_TRUE(run_until([&] {
        const auto* c = canary();
        return c && c->digest == d2_ && c->weight == 10;
    })) << story();
    const int port = prom_->port();
    prom_->stop();
    const auto commits_at_stop = canary_commits().size();

    // The app is Degraded (AnalysisUnavailable) and the weight holds for several intervals.
    ASSERT_TRUE(run_until([&] {
        return status() && api::is_condition_true(status()->conditions, api::kConditionDegraded);
    })) << story();
    auto s = status();
    const auto* degraded = api::find_condition(s->conditions, api::kConditionDegraded);
    ASSERT_NE(degraded, nullptr);
    EXPECT_EQ(degraded->reason, "AnalysisUnavailable");
    EXPECT_NE(degraded->message.find("unavailable"), std::string::npos) << degraded->message;
    auto held_since = Clock::now();
    ASSERT_FALSE(run_until([&] { return canary_commits().size() != commits_at_stop; },
                           std::chrono::seconds(10)))
        << "a commit while Prometheus was down: " << story();
    EXPECT_GE(seconds_since(held_since), 9.0);
    {
        const auto* c = canary();
        ASSERT_NE(c, nullptr);
        EXPECT_EQ(c->phase, api::CanaryPhase::progressing);
        EXPECT_EQ(c->weight, 10);
        EXPECT_EQ(c->failures, 0) << "an unavailable round is no failure";
        EXPECT_EQ(c->inconclusive, 0) << "nor inconclusive";
        EXPECT_NE(c->message.find("analysis unavailable"), std::string::npos) << c->message;
        EXPECT_TRUE(api::is_condition_true(last_status_->conditions, api::kConditionDegraded));
    }
    EXPECT_EQ(git_weights(), (std::vector<int>{90, 10}));
    EXPECT_TRUE(events_of("CanaryAborted").empty()) << all_events();

    // Prometheus is back (the same address, an empty database): the canary goes on and completes.
    prom_ = TestPrometheus::start(
        {.targets = {scrape("app", stable_.port()), scrape("app-canary", canary_.port())},
         .port = port});
    ASSERT_NE(prom_, nullptr);
    ASSERT_TRUE(run_until([&] { return canary_in(api::CanaryPhase::succeeded); })) << story();
    ASSERT_TRUE(run_until([&] {
        return !api::is_condition_true(status()->conditions, api::kConditionDegraded);
    })) << story();
    EXPECT_EQ(weights_of(canary_commits()), "0 (start) → 10 (start) → 50 (pass) → 0 (pass)")
        << story();
    EXPECT_EQ(pinned_digest("app"), d2_);
    EXPECT_EQ(prod()->digest, d2_);
}

}  // namespace
}  // namespace poetryops::controller

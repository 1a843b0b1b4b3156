// Local mode builds, with real parts only: a source repository and a GitOps repository on the
// lighttpd git server over HTTPS with basic auth, a real docker-registry, and real buildah on the
// local Debian base images. A commit becomes a verified digest pinned in dev; a stale lock builds
// nothing and the next commit still builds; a project whose own Dockerfile fails reports
// BuildFailed with buildah's output and promotes nothing; a commit pushed while the previous one
// builds cancels that build; a tag already in the registry is adopted without building.
#include <poetryops/controller/local.hpp>

#include <poetryops/api/codec.hpp>
#include <poetryops/registry/client.hpp>
#include <poetryops/registry/reference.hpp>
#include <poetryops/util/fs.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <poetryops/util/crypto.hpp>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <thread>

#include "support/buildah/buildah_store.hpp"
#include "support/git/git_servers.hpp"
#include "support/registry/test_registry.hpp"
#include "support/support.hpp"

namespace poetryops::controller {
namespace {

namespace fs = std::filesystem;
using testing::HasSubstr;
using testing::Not;

/// PIDs of the processes whose command line (arguments joined by spaces) contains `text`.
std::vector<int> processes_with(const std::string& text) {
    std::vector<int> pids;
    std::error_code ec;
    for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream in(it->path() / "cmdline", std::ios::binary);
        std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
        if (cmdline.find(text) != std::string::npos) pids.push_back(std::stoi(name));
    }
    return pids;
}

class LocalBuildIt : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(test::require_tools(
            {"git", "lighttpd", "buildah", "docker-registry", "debootstrap", "tar", "flock"}));
        auto store = test::BuildahStore::create(test::source_dir());
        ASSERT_TRUE(store) << store.error().message;
        store_.emplace(std::move(store).value());
        registry_ = test::TestRegistry::start({});
        ASSERT_TRUE(registry_);
        repos_.create("source.git");
        repos_.create("deploy.git");
        git_.emplace(repos_, ca_);
        ASSERT_TRUE(git_->started()) << git_->error_log();
        repos_.commit_files("deploy.git", {{"envs/dev/kustomization.yaml",
                                            "resources: [../../base]\nimages:\n- name: " + image() +
                                                "\n  newTag: old\n"}});
        fs::create_directories(dir_.path() / "apps");
    }

    std::string image() const { return registry_->host() + "/team/hello"; }

    void write_app(const std::string& build, const std::string& source_extra = "") {
        std::string yaml =
            "apiVersion: poetryops.io/v1alpha1\nkind: PoetryApp\nmetadata:\n"
            "  name: hello\n  namespace: team\nspec:\n  image: {repository: " +
            image() + "}\n  source: {repoURL: \"" + git_->https_url("source.git") +
            "\", ref: main" + source_extra + "}\n  build: " + build + "\n  gitops: {repoURL: \"" +
            git_->https_url("deploy.git") +
            "\"}\n  environments:\n  - {name: dev, path: envs/dev}\n";
        ASSERT_TRUE(write_file_atomic(dir_.path() / "apps/hello.yaml", yaml));
    }

    std::unique_ptr<LocalRunner> runner(const std::function<void(LocalOptions&)>& more = {}) {
        LocalOptions o;
        o.inputs = {dir_.path() / "apps"};
        o.state_dir = dir_.path() / "state";
        o.registry.hosts[registry_->host()].plain_http = true;
        o.git.username = git_->user();
        o.git.password = git_->password();
        o.git.ca_file = ca_.ca_cert();
        o.committer.window = std::chrono::milliseconds(10);
        LocalBuildOptions b;
        b.buildah.root = store_->root();
        b.buildah.runroot = store_->runroot();
        b.buildah.storage_driver = "overlay";
        b.plain_http = {registry_->host()};
        b.generate.build_image = store_->build_image();
        b.generate.runtime_image = store_->runtime_image();
        b.generate.poetry = "preinstalled";
        b.work_dir = dir_.path() / "builds";
        o.builds = b;
        o.on_event = [this](const api::PoetryApp&, const promote::Event& e) {
            std::lock_guard lock(mu_);
            events_.push_back(e.reason + ": " + e.message);
        };
        if (more) more(o);
        auto r = LocalRunner::create(o);
        EXPECT_TRUE(r) << (r ? "" : r.error().message);
        return r ? std::move(r).value() : nullptr;
    }

    /// The status file a running runner writes (status_of() is for the thread that drives it).
    api::PoetryAppStatus stored_status() {
        auto text = read_file(dir_.path() / "state/status/team.hello.json");
        if (!text) return {};
        auto j = nlohmann::json::parse(*text, nullptr, false);
        if (j.is_discarded()) return {};
        std::vector<api::FieldError> errors;
        return api::decode_status(j, errors);
    }

    /// The newest build in the status file ({} before the first).
    api::BuildStatus newest_build() {
        auto status = stored_status();
        return status.builds.empty() ? api::BuildStatus{} : status.builds[0];
    }

    std::string newest_build_commit() { return newest_build().commit; }

    /// LocalRunner::run() on its own thread, as `poetryops run` does, until the loop goes away.
    /// `max_wait` bounds the wait between passes when nothing wakes it.
    struct Loop {
        Loop(LocalRunner& r, std::chrono::seconds max_wait)
            : runner(r), thread([this, max_wait] { (void)runner.run(stop, max_wait); }) {}
        ~Loop() {
            stop = true;
            runner.wake();
            thread.join();
        }
        LocalRunner& runner;
        std::atomic<bool> stop{false};
        std::thread thread;
    };

    std::string dev_file() { return repos_.show("deploy.git", "main:envs/dev/kustomization.yaml"); }

    /// What the registry itself says the tag is.
    std::string registry_digest(const std::string& tag) {
        registry::RegistryClientOptions o;
        o.hosts[registry_->host()].plain_http = true;
        auto client = registry::RegistryClient::create(o);
        EXPECT_TRUE(client);
        auto ref = registry::parse_repository(image());
        EXPECT_TRUE(ref);
        ref->tag = tag;
        auto d = (*client)->resolve(*ref);
        return d ? d->digest : "";
    }

    /// Every image and container in the buildah store, by full id.
    std::string store_contents() {
        std::string all;
        for (const auto& args :
             {std::vector<std::string>{"images", "--all", "--quiet", "--no-trunc"},
              std::vector<std::string>{"containers", "--all", "--quiet", "--notruncate"}}) {
            auto out = store_->buildah(args);
            EXPECT_TRUE(out && out->ok()) << (out ? out->err : out.error().message);
            if (out) all += out->out;
        }
        return all;
    }

    std::string joined_events() {
        std::lock_guard lock(mu_);
        std::string all;
        for (const auto& e : events_) all += e + "\n";
        return all;
    }

    TempDir dir_{"poetryops-local-build"};
    test::TestCa ca_;
    test::BareRepos repos_;
    std::optional<test::HttpGitServer> git_;
    std::unique_ptr<test::TestRegistry> registry_;
    std::optional<test::BuildahStore> store_;
    std::mutex mu_;
    std::vector<std::string> events_;
};

TEST_F(LocalBuildIt, ACommitBecomesAVerifiedDigestPinnedInDevAndAStaleLockBuildsNothing) {
    auto files = test::example_files("hello");
    std::string first = repos_.commit_files("source.git", files);
    write_app("{engine: buildah}");
    auto r = runner();
    ASSERT_TRUE(r);

    auto pass = r->run_until_settled();
    ASSERT_TRUE(pass) << pass.error().message;
    EXPECT_TRUE(pass->errors.empty()) << testing::PrintToString(pass->errors);
    auto status = r->status_of("team/hello");
    ASSERT_TRUE(status);
    ASSERT_FALSE(status->builds.empty()) << joined_events();
    const api::BuildStatus b1 = status->builds[0];  // a copy: status is read again below
    const std::string tag1 = "0.1.0-" + first.substr(0, 7);
    EXPECT_EQ(b1.commit, first);
    EXPECT_EQ(b1.tag, tag1);
    ASSERT_EQ(b1.phase, api::BuildPhase::succeeded) << b1.message << "\n" << joined_events();
    ASSERT_EQ(b1.digest.size(), 71u);
    EXPECT_EQ(registry_digest(tag1), b1.digest);
    EXPECT_EQ(dev_file(), "resources: [../../base]\nimages:\n- name: " + image() +
                              "\n  newTag: " + tag1 + "\n  digest: " + b1.digest + "\n");
    EXPECT_THAT(joined_events(), HasSubstr("BuildStarted"));

    // A stale lock: pyproject.toml gains a dependency poetry.lock does not have. No build; the
    // build says why and names the file; dev keeps the first digest.
    auto stale = files;
    stale["pyproject.toml"] += "\n[tool.poetry.group.extra.dependencies]\nrequests = \"^2\"\n";
    std::string second = repos_.commit_files("source.git", stale, "main", "stale lock");
    pass = r->run_until_settled();
    ASSERT_TRUE(pass) << pass.error().message;
    status = r->status_of("team/hello");
    ASSERT_TRUE(status);
    ASSERT_FALSE(status->builds.empty());
    EXPECT_EQ(status->builds[0].commit, second);
    EXPECT_EQ(status->builds[0].phase, api::BuildPhase::failed);
    EXPECT_THAT(status->builds[0].message, HasSubstr("poetry.lock"));
    EXPECT_TRUE(status->builds[0].job_name.empty());  // nothing ran
    EXPECT_THAT(dev_file(), HasSubstr(b1.digest));

    // The next commit (a code change, the lock fresh again) builds and reaches dev.
    auto fixed = files;
    fixed["hello/main.py"] += "\n# a code-only change\n";
    std::string third = repos_.commit_files("source.git", fixed, "main", "code change");
    pass = r->run_until_settled();
    ASSERT_TRUE(pass) << pass.error().message;
    status = r->status_of("team/hello");
    ASSERT_TRUE(status);
    const api::BuildStatus& b3 = status->builds[0];
    EXPECT_EQ(b3.commit, third);
    ASSERT_EQ(b3.phase, api::BuildPhase::succeeded) << b3.message;
    EXPECT_NE(b3.digest, b1.digest);
    EXPECT_THAT(dev_file(), HasSubstr("newTag: 0.1.0-" + third.substr(0, 7)));
    EXPECT_THAT(dev_file(), HasSubstr(b3.digest));
}

TEST_F(LocalBuildIt, AFailingBuildReportsBuildahsOutputAndPromotesNothing) {
    auto files = test::example_files("hello");
    files["Dockerfile"] =
        "FROM " + store_->runtime_image() + "\nRUN echo 'the project cannot build' && exit 3\n";
    repos_.commit_files("source.git", files);
    write_app("{engine: buildah, dockerfile: Dockerfile}");
    auto r = runner();
    ASSERT_TRUE(r);
    auto pass = r->run_until_settled();
    ASSERT_TRUE(pass) << pass.error().message;
    auto status = r->status_of("team/hello");
    ASSERT_TRUE(status);
    ASSERT_FALSE(status->builds.empty());
    EXPECT_EQ(status->builds[0].phase, api::BuildPhase::failed);
    EXPECT_THAT(status->builds[0].message, HasSubstr("the project cannot build"));
    const api::Condition* ready = api::find_condition(status->conditions, "Ready");
    ASSERT_NE(ready, nullptr);
    EXPECT_EQ(ready->status, "False");
    EXPECT_THAT(dev_file(), HasSubstr("newTag: old"));
}

TEST_F(LocalBuildIt, ASourceWebhookWakesTheRunnerLongBeforeItsPoll) {
    auto files = test::example_files("hello");
    std::string first = repos_.commit_files("source.git", files);
    write_app("{engine: buildah}", ", pollInterval: 10m");
    const int port = test::free_port();
    const std::string secret = "hook-s3cret";
    auto r = runner([&](LocalOptions& o) {
        o.webhook_address = "127.0.0.1:" + std::to_string(port);
        o.source_webhook.secret = secret;
    });
    ASSERT_TRUE(r);
    Loop loop(*r, std::chrono::minutes(10));
    ASSERT_TRUE(
        test::wait_until([&] { return newest_build_commit() == first; }, std::chrono::seconds(60)));

    files["hello/main.py"] += "\n# pushed\n";
    std::string second = repos_.commit_files("source.git", files, "main", "second");
    nlohmann::json push = {{"ref", "refs/heads/main"},
                           {"before", first},
                           {"after", second},
                           {"created", false},
                           {"deleted", false},
                           {"forced", false},
                           {"commits", nlohmann::json::array()},
                           {"repository",
                            {{"clone_url", git_->https_url("source.git")},
                             {"html_url", git_->https_url("source.git")},
                             {"full_name", "team/source"}}}};
    const std::string body = push.dump();
    ASSERT_TRUE(write_file_atomic(dir_.path() / "push.json", body));
    auto post = [&](const std::string& signature) {
        auto out = run_process({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                                "-H", "Content-Type: application/json", "-H",
                                "X-GitHub-Event: push", "-H", "X-Hub-Signature-256: " + signature,
                                "--data-binary", "@" + (dir_.path() / "push.json").string(),
                                "http://127.0.0.1:" + std::to_string(port) + "/webhooks/source"});
        return out ? out->out : std::string();
    };
    // A forged delivery is refused and wakes nothing.
    EXPECT_EQ(post("sha256=" + crypto::hmac_sha256_hex("wrong", body)), "401");
    std::this_thread::sleep_for(std::chrono::seconds(2));
    EXPECT_EQ(newest_build_commit(), first);
    // The forge's signed delivery: the runner reads the source again at once (its poll is 10
    // minutes) and the new commit takes over from the one building.
    auto sent = std::chrono::steady_clock::now();
    EXPECT_EQ(post("sha256=" + crypto::hmac_sha256_hex(secret, body)), "202");
    ASSERT_TRUE(test::wait_until([&] { return newest_build_commit() == second; },
                                 std::chrono::seconds(30)));
    EXPECT_LT(std::chrono::steady_clock::now() - sent, std::chrono::seconds(30));
}

TEST_F(LocalBuildIt, ASecondCommitWhileTheFirstBuildsCancelsIt) {
    // Commit A's own Dockerfile sleeps in a RUN step far longer than the test runs, so A is still
    // building whenever B arrives, and B (one build at a time) can only start once A's buildah is
    // gone. B's Dockerfile does not sleep.
    const std::string sleep = "sleep " + std::to_string(100000 + ::getpid());
    const std::string from = "FROM " + store_->runtime_image() + "\nCOPY hello /app/hello\n";
    auto files = test::example_files("hello");
    files["Dockerfile"] = from + "RUN " + sleep + "\n";
    const std::string a = repos_.commit_files("source.git", files, "main", "A: slow");
    const std::string tag_a = "0.1.0-" + a.substr(0, 7);
    write_app("{engine: buildah, dockerfile: Dockerfile}");
    auto r = runner();
    ASSERT_TRUE(r);
    Loop loop(*r, std::chrono::minutes(10));
    // Caught mid-build: status says A is Running, and buildah is in A's RUN step.
    ASSERT_TRUE(test::wait_until(
        [&] {
            auto b = newest_build();
            return b.commit == a && b.phase == api::BuildPhase::running &&
                   !processes_with(sleep).empty();
        },
        std::chrono::minutes(2)))
        << joined_events();

    files["Dockerfile"] = from + "CMD [\"python3\", \"-m\", \"hello.main\"]\n";
    const std::string b = repos_.commit_files("source.git", files, "main", "B: fast");
    const std::string tag_b = "0.1.0-" + b.substr(0, 7);
    r->wake();  // the next pass reads the source tip again
    ASSERT_TRUE(test::wait_until(
        [&] {
            auto built = newest_build();
            return built.commit == b && built.phase == api::BuildPhase::succeeded &&
                   dev_file().find(built.digest) != std::string::npos;
        },
        std::chrono::minutes(3)))
        << testing::PrintToString(stored_status().builds.size()) << " builds\n"
        << joined_events();
    // A's buildah was killed with its RUN step, not left to finish.
    EXPECT_TRUE(
        test::wait_until([&] { return processes_with(sleep).empty(); }, std::chrono::seconds(10)))
        << testing::PrintToString(processes_with(sleep));

    const auto status = stored_status();
    ASSERT_GE(status.builds.size(), 2u);
    const api::BuildStatus& built = status.builds[0];
    const api::BuildStatus& cancelled = status.builds[1];
    EXPECT_EQ(cancelled.commit, a);
    EXPECT_EQ(cancelled.phase, api::BuildPhase::cancelled) << cancelled.message;
    EXPECT_EQ(cancelled.reason, "Superseded");
    EXPECT_THAT(cancelled.message, HasSubstr(b.substr(0, 7)));
    EXPECT_EQ(built.tag, tag_b);
    EXPECT_EQ(built.reason, "Built") << built.message;  // verified in the registry, not adopted
    ASSERT_EQ(built.digest.size(), 71u);
    EXPECT_EQ(registry_digest(tag_b), built.digest);
    EXPECT_EQ(dev_file(), "resources: [../../base]\nimages:\n- name: " + image() +
                              "\n  newTag: " + tag_b + "\n  digest: " + built.digest + "\n");
    EXPECT_THAT(joined_events(), HasSubstr("BuildCancelled"));
    // Nothing of A anywhere: no tag in the registry, no commit of the GitOps repo names it.
    EXPECT_EQ(registry_digest(tag_a), "");
    auto log = test::plain_git(
        {"--git-dir", repos_.path("deploy.git").string(), "log", "-p", "--format=%H %s", "main"});
    ASSERT_TRUE(log.ok()) << log.err;
    EXPECT_THAT(log.out, Not(HasSubstr(tag_a)));
    EXPECT_THAT(log.out, HasSubstr(tag_b));
}

TEST_F(LocalBuildIt, ATagThatAlreadyExistsIsAdoptedWithoutBuilding) {
    const std::string commit = repos_.commit_files("source.git", test::example_files("hello"));
    const std::string tag = "0.1.0-" + commit.substr(0, 7);  // what the default tagTemplate renders
    // Someone (a CI job, an earlier run) pushed exactly that tag before the runner saw the commit.
    const std::string pushed = registry_->push_image("team/hello", tag, "built elsewhere");
    ASSERT_EQ(pushed.size(), 71u);
    const std::string store_before = store_contents();
    write_app("{engine: buildah}");
    auto r = runner();
    ASSERT_TRUE(r);
    auto pass = r->run_until_settled();
    ASSERT_TRUE(pass) << pass.error().message;
    EXPECT_TRUE(pass->errors.empty()) << testing::PrintToString(pass->errors);
    auto status = r->status_of("team/hello");
    ASSERT_TRUE(status);
    ASSERT_EQ(status->builds.size(), 1u) << joined_events();
    const api::BuildStatus& b = status->builds[0];
    EXPECT_EQ(b.commit, commit);
    EXPECT_EQ(b.tag, tag);
    EXPECT_EQ(b.phase, api::BuildPhase::succeeded) << b.message;
    EXPECT_EQ(b.reason, "ImageAdopted");
    EXPECT_EQ(b.digest, pushed);
    EXPECT_TRUE(b.job_name.empty()) << b.job_name;  // no build was started
    EXPECT_EQ(dev_file(), "resources: [../../base]\nimages:\n- name: " + image() +
                              "\n  newTag: " + tag + "\n  digest: " + pushed + "\n");
    EXPECT_THAT(joined_events(), HasSubstr("ImageAdopted"));
    EXPECT_THAT(joined_events(), Not(HasSubstr("BuildStarted")));
    // buildah did nothing: no image or container in its store, no build context exported, and the
    // tag still points at what was pushed.
    EXPECT_EQ(store_contents(), store_before);
    EXPECT_FALSE(fs::exists(dir_.path() / "builds"));
    EXPECT_EQ(registry_digest(tag), pushed);
}

}  // namespace
}  // namespace poetryops::controller

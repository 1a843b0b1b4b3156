// The cluster's BuildPort against the real Kubernetes lane (kube-apiserver, etcd and
// kube-controller-manager, whose Job controller and garbage collector act on our Jobs): a build is
// a Job created once, owned by its PoetryApp and labelled; its Pod and the Job's conditions are
// watched, and a change calls back with the app's key; a success is read back with the digest
// from the builder's termination message, a failure with the container that failed and its
// message; a cancel deletes the Job; beyond --max-concurrent-builds a Job waits suspended and is
// resumed when a slot frees.
//
// No node runs these Pods (their nodeSelector matches no node, so the node lane's kubelet never
// takes them): the test writes each Pod's status as a kubelet would (pods/status), and the real
// Job controller turns it into the Job's Complete or Failed condition. Pods that really run are
// the node lane's (tests/node).
#include <poetryops/controller/kube_builds.hpp>

#include <poetryops/api/codec.hpp>
#include <poetryops/kube/status.hpp>
#include <support/support.hpp>

#include "kube/kube_fixture.hpp"
#include "support/kube/cluster.hpp"
#include "support/kube/crds.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>

using namespace poetryops;
using kube::testenv::KubeServerTest;
using nlohmann::json;
using testing::HasSubstr;
using testing::Not;

namespace {

const std::string kShaA = "aaaaaaa456789abcdef0123456789abcdef01234";
const std::string kShaB = "bbbbbbb456789abcdef0123456789abcdef01234";
const std::string kDigest =
    "sha256:4f3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e";

kube::ResourceRef poetryapps() {
    return {std::string(api::kGroup), std::string(api::kVersion), std::string(api::kPlural)};
}

class KubeBuildsIt : public KubeServerTest {
protected:
    void SetUp() override {
        KubeServerTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        admin_ = make_client();
        ASSERT_TRUE(admin_);
        auto crds = test::kube::apply_crds(
            *admin_, {test::source_dir() / "crds/poetryops.io_poetryapps.yaml"});
        ASSERT_TRUE(crds) << crds.error().message;
        ns_ = fresh_namespace(*admin_);
    }

    /// A PoetryApp stored in the cluster (so its Jobs have a real owner), as the engine reads it.
    api::PoetryApp create_app(const std::string& name) {
        api::PoetryApp app;
        app.metadata.name = name;
        app.metadata.namespace_ = ns_;
        app.spec.source = api::SourceSpec{};
        app.spec.source->repo_url = "https://git.example.com/acme/" + name + ".git";
        app.spec.image.repository = "registry.example.com/acme/" + name;
        app.spec.build = api::BuildSpec{};
        app.spec.build->engine = api::BuildEngine::buildah;
        api::EnvironmentSpec dev;
        dev.name = "dev";
        dev.path = "envs/dev";
        app.spec.environments.push_back(dev);
        app.spec.gitops.repo_url = "https://git.example.com/acme/deploy.git";
        json object = api::encode_poetryapp(app);
        object["metadata"].erase("uid");
        object.erase("status");
        auto created = admin_->create(poetryapps().in(ns_), object);
        EXPECT_TRUE(created) << created.error().message;
        if (created) app.metadata.uid = (*created)["metadata"]["uid"];
        return app;
    }

    static build::Action start_action(const api::PoetryApp& app, const std::string& sha) {
        build::Action a;
        a.kind = build::ActionKind::start;
        a.commit = sha;
        a.version = "1.4.2";
        a.tag = "1.4.2-" + sha.substr(0, 7);
        a.job_name = build::job_name(app.metadata.namespace_, app.metadata.name, sha);
        return a;
    }

    controller::KubeBuildOptions options(int max_concurrent = 0) {
        controller::KubeBuildOptions o;
        // No node has this label: the node lane's kubelet (when it runs) never takes these Pods,
        // so the statuses this test writes are the only ones.
        o.job.node_selector = {{"poetryops-tests/no-node", "true"}};
        o.max_concurrent = max_concurrent;
        // This test's namespace only: the limit counts every build Job the port watches, and other
        // tests of the run leave theirs running in the same cluster.
        o.namespaces = {ns_};
        o.sync_timeout = std::chrono::seconds(20);
        return o;
    }

    void listen(controller::KubeBuildPort& port) {
        port.on_change([this](const std::string& key) {
            std::lock_guard lock(mu_);
            changes_.push_back(key);
        });
    }
    std::size_t changes_of(const std::string& key) {
        std::lock_guard lock(mu_);
        return static_cast<std::size_t>(std::count(changes_.begin(), changes_.end(), key));
    }

    /// The Pod the Job controller made for `job` (waits for it).
    json pod_of(const std::string& job) {
        json found;
        EXPECT_TRUE(test::wait_until(
            [&] {
                kube::ListOptions lo;
                lo.label_selector = "batch.kubernetes.io/job-name=" + job;
                auto pods = admin_->list(kube::resources::pods().in(ns_), lo);
                if (!pods || pods->items.empty()) return false;
                found = pods->items.front();
                return true;
            },
            std::chrono::seconds(30)))
            << "the Job controller made no Pod for " << job;
        return found;
    }

    /// Writes what a kubelet writes when the Pod's containers ran: prepare exited 0, the builder
    /// exited `exit_code` with `message` as its termination message.
    void finish_pod(const std::string& job, int exit_code, const std::string& message) {
        json pod = pod_of(job);
        ASSERT_FALSE(pod.is_null());
        auto terminated = [](const std::string& name, int code, const std::string& msg) {
            json t{{"exitCode", code},
                   {"reason", code == 0 ? "Completed" : "Error"},
                   {"startedAt", "2026-12-02T10:00:00Z"},
                   {"finishedAt", "2026-12-02T10:01:00Z"}};
            if (!msg.empty()) t["message"] = msg;
            return json{{"name", name},   {"image", "builder"}, {"imageID", ""},
                        {"ready", false}, {"restartCount", 0},  {"state", {{"terminated", t}}}};
        };
        pod["status"]["phase"] = exit_code == 0 ? "Succeeded" : "Failed";
        pod["status"]["initContainerStatuses"] =
            json::array({terminated(std::string(build::kPrepareContainer), 0, "")});
        pod["status"]["containerStatuses"] =
            json::array({terminated(std::string(build::kBuildContainer), exit_code, message)});
        auto written = admin_->update_status(
            kube::resources::pods().in(ns_).named(pod["metadata"]["name"].get<std::string>()), pod);
        ASSERT_TRUE(written) << written.error().message;
    }

    /// builds(app) once `done` holds for its Job `job`.
    std::optional<build::JobObservation> wait_for(
        controller::KubeBuildPort& port, const api::PoetryApp& app, const std::string& job,
        const std::function<bool(const build::JobObservation&)>& done) {
        std::optional<build::JobObservation> seen;
        test::wait_until(
            [&] {
                auto all = port.builds(app);
                if (!all) return false;
                for (const auto& o : *all) {
                    if (o.name == job && done(o)) {
                        seen = o;
                        return true;
                    }
                }
                return false;
            },
            std::chrono::seconds(60));
        return seen;
    }

    std::unique_ptr<kube::RestClient> admin_;
    std::string ns_;
    std::mutex mu_;
    std::vector<std::string> changes_;
};

TEST_P(KubeBuildsIt, AJobIsCreatedOnceOwnedWatchedAndItsDigestIsReadBack) {
    api::PoetryApp app = create_app("billing");
    controller::KubeBuildPort port(*admin_, options());
    listen(port);
    auto action = start_action(app, kShaA);

    auto started = port.start(app, action);
    ASSERT_TRUE(started) << started.error().message;
    // A restarted controller starts the same commit again: the same Job, not a second one.
    auto again = port.start(app, action);
    ASSERT_TRUE(again) << again.error().message;
    auto jobs = admin_->list(kube::resources::jobs().in(ns_));
    ASSERT_TRUE(jobs) << jobs.error().message;
    ASSERT_EQ(jobs->items.size(), 1u);
    const json& job = jobs->items[0];
    EXPECT_EQ(job["metadata"]["name"], action.job_name);
    EXPECT_EQ(job["metadata"]["ownerReferences"][0]["uid"], app.metadata.uid);
    EXPECT_EQ(job["metadata"]["ownerReferences"][0]["controller"], true);
    EXPECT_EQ(job["metadata"]["labels"][std::string(build::kCommitLabel)], kShaA);
    EXPECT_EQ(job["metadata"]["labels"][std::string(build::kAppLabel)], "billing");

    auto pending = wait_for(port, app, action.job_name, [](const build::JobObservation& o) {
        return o.phase == build::JobPhase::pending;
    });
    ASSERT_TRUE(pending);
    EXPECT_EQ(pending->commit, kShaA);
    EXPECT_EQ(pending->tag, action.tag);

    // The builder finishes: the Job controller marks the Job Complete, the port's watch calls back
    // and the digest comes from the termination message.
    const std::size_t before = changes_of(app.key());
    finish_pod(action.job_name, 0, kDigest + "\n");
    auto done = wait_for(port, app, action.job_name, [](const build::JobObservation& o) {
        return o.phase == build::JobPhase::succeeded;
    });
    ASSERT_TRUE(done) << "the Job never read back as succeeded";
    EXPECT_EQ(done->digest, kDigest);
    EXPECT_TRUE(done->completion_time.has_value());
    EXPECT_GT(changes_of(app.key()), before) << "no change was reported for " << app.key();
}

TEST_P(KubeBuildsIt, AFailedBuildNamesItsContainerAndMessageRedactedAndCancelDeletesTheJob) {
    api::PoetryApp app = create_app("orders");
    controller::KubeBuildPort port(*admin_, options());
    listen(port);
    auto first = start_action(app, kShaA);
    ASSERT_TRUE(port.start(app, first));
    finish_pod(first.job_name, 1,
               "STEP 7/9: RUN python -m compileall app\n"
               "  File \"app/main.py\", line 3\n"
               "SyntaxError: invalid syntax (token=ghp_abcdefghijklmnopqrstuvwxyz0123456789)");
    auto failed = wait_for(port, app, first.job_name, [](const build::JobObservation& o) {
        return o.phase == build::JobPhase::failed;
    });
    ASSERT_TRUE(failed) << "the Job never read back as failed";
    // No kubelet ran it, so the pods/log API has nothing: the termination message is the tail.
    EXPECT_THAT(failed->message, HasSubstr("build container: Error (exit code 1)"));
    EXPECT_THAT(failed->message, HasSubstr("SyntaxError: invalid syntax"));
    EXPECT_THAT(failed->message, Not(HasSubstr("ghp_abcdefghijklmnopqrstuvwxyz0123456789")));
    EXPECT_EQ(failed->reason, "BackoffLimitExceeded");

    // The next commit still builds; cancelling it deletes its Job (and so its Pod).
    auto second = start_action(app, kShaB);
    ASSERT_TRUE(port.start(app, second));
    json pod = pod_of(second.job_name);
    const std::size_t before = changes_of(app.key());
    auto cancelled = port.cancel(app, second.job_name);
    ASSERT_TRUE(cancelled) << cancelled.error().message;
    EXPECT_TRUE(test::wait_until(
        [&] {
            auto all = port.builds(app);
            return all && std::none_of(all->begin(), all->end(),
                                       [&](const auto& o) { return o.name == second.job_name; });
        },
        std::chrono::seconds(30)))
        << "the cancelled Job is still there";
    EXPECT_GT(changes_of(app.key()), before);
    EXPECT_TRUE(test::wait_until(
        [&] {
            auto p = admin_->get(
                kube::resources::pods().in(ns_).named(pod["metadata"]["name"].get<std::string>()));
            return !p && kube::is_not_found(p.error());
        },
        std::chrono::seconds(60)))
        << "the cancelled Job's Pod was not collected";
    // Cancelling what is gone is success.
    EXPECT_TRUE(port.cancel(app, second.job_name));
}

TEST_P(KubeBuildsIt, BeyondMaxConcurrentBuildsAJobWaitsSuspendedUntilASlotFrees) {
    api::PoetryApp a = create_app("first");
    api::PoetryApp b = create_app("second");
    controller::KubeBuildPort port(*admin_, options(1));
    listen(port);
    auto build_a = start_action(a, kShaA);
    auto build_b = start_action(b, kShaB);
    ASSERT_TRUE(port.start(a, build_a));
    ASSERT_TRUE(port.start(b, build_b));

    auto job_b = admin_->get(kube::resources::jobs().in(ns_).named(build_b.job_name));
    ASSERT_TRUE(job_b) << job_b.error().message;
    EXPECT_EQ((*job_b)["spec"].value("suspend", false), true) << "the second build was not queued";
    auto queued = wait_for(port, b, build_b.job_name,
                           [](const build::JobObservation& o) { return o.reason == "Queued"; });
    ASSERT_TRUE(queued);
    EXPECT_EQ(queued->phase, build::JobPhase::pending);
    EXPECT_THAT(queued->message, HasSubstr("--max-concurrent-builds"));
    // A suspended Job has no Pod: nothing runs while it waits.
    kube::ListOptions lo;
    lo.label_selector = "batch.kubernetes.io/job-name=" + build_b.job_name;
    auto none = admin_->list(kube::resources::pods().in(ns_), lo);
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->items.empty());

    // The first build ends; the next read of the builds resumes the queued one.
    finish_pod(build_a.job_name, 0, kDigest);
    ASSERT_TRUE(wait_for(port, a, build_a.job_name, [](const build::JobObservation& o) {
        return o.phase == build::JobPhase::succeeded;
    }));
    EXPECT_TRUE(test::wait_until(
        [&] {
            (void)port.builds(a);
            auto j = admin_->get(kube::resources::jobs().in(ns_).named(build_b.job_name));
            return j && !(*j)["spec"].value("suspend", false);
        },
        std::chrono::seconds(30)))
        << "the queued build was not resumed";
    auto resumed = wait_for(port, b, build_b.job_name,
                            [](const build::JobObservation& o) { return o.reason != "Queued"; });
    ASSERT_TRUE(resumed);
    json pod = pod_of(build_b.job_name);
    EXPECT_FALSE(pod.is_null()) << "the resumed Job made no Pod";
}

TEST_P(KubeBuildsIt, ACallerThatMayNotListJobsIsToldWhichRightIsMissing) {
    // A ServiceAccount with no rights in the namespace: the error names the resource and the RBAC
    // the controller needs, not a bare 403.
    kube::ResourceRef sas{"", "v1", "serviceaccounts"};
    ASSERT_TRUE(admin_->create(
        sas.in(ns_),
        {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", "nobody"}}}}));
    auto token = test::kube::request_token(*admin_, ns_, "nobody");
    ASSERT_TRUE(token) << token.error().message;
    auto nobody = kube::RestClient::create(test::kube::config_with_token(*env().cluster(), *token),
                                           {.request_timeout = std::chrono::seconds(10)});
    ASSERT_TRUE(nobody) << nobody.error().message;
    controller::KubeBuildPort port(**nobody, options());
    api::PoetryApp app;
    app.metadata.name = "billing";
    app.metadata.namespace_ = ns_;
    auto r = port.builds(app);
    ASSERT_FALSE(r);
    EXPECT_THAT(r.error().message, HasSubstr("cannot list jobs in namespace " + ns_));
    EXPECT_THAT(r.error().message, HasSubstr("list and watch"));
}

}  // namespace

POETRYOPS_KUBE_REAL_ONLY(KubeBuildsIt);

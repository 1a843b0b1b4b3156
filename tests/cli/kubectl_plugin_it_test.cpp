// The real `kubectl-poetryops` binary against the real Kubernetes lane: PoetryApps created with a
// status written through the status subresource as the controller writes it, then each verb as a
// user runs it with a kubeconfig — the table (no colour off a TTY), why, approve (the waiting
// digest, the same one named, another one refused), rollback --previous, release, hold, history,
// logs of a build Job, and the errors: an unknown app or environment, a forbidden verb named.
#include <poetryops/api/codec.hpp>
#include <poetryops/build/job.hpp>
#include <poetryops/controller/admission.hpp>
#include <poetryops/controller/resources.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/util/clock.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/strings.hpp>
#include <poetryops/util/subprocess.hpp>
#include <support/support.hpp>

#include "kube/kube_fixture.hpp"
#include "support/kube/crds.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

using namespace poetryops;
using kube::testenv::KubeServerTest;
using nlohmann::json;
using testing::HasSubstr;
using testing::Not;

namespace {

std::string digest_of(char c) { return "sha256:" + std::string(64, c); }

const std::string kD0 = digest_of('0');  // 1.3.9
const std::string kD1 = digest_of('1');  // 1.4.0
const std::string kD2 = digest_of('2');  // 1.4.1
const std::string kD3 = digest_of('3');  // 1.4.2

using Clock = std::chrono::system_clock;

api::EnvironmentStatus env_status(const std::string& name, const std::string& version,
                                  const std::string& digest, Clock::duration ago) {
    api::EnvironmentStatus s;
    s.name = name;
    s.version = version;
    s.tag = version + "-abc1234";
    s.digest = digest;
    s.commit = "0123456789abcdef0123456789abcdef01234567";
    s.phase = api::Phase::healthy;
    s.since = std::chrono::time_point_cast<std::chrono::seconds>(Clock::now() - ago);
    s.reason = "Healthy";
    s.message = "pushed (health gate: none)";
    return s;
}

api::HistoryEntry entry(const std::string& env, const std::string& version,
                        const std::string& digest, Clock::duration ago) {
    api::HistoryEntry h;
    h.environment = env;
    h.kind = api::HistoryKind::promote;
    h.version = version;
    h.tag = version + "-abc1234";
    h.digest = digest;
    h.commit = "89abcdef0123456789abcdef0123456789abcdef";
    h.time = std::chrono::time_point_cast<std::chrono::seconds>(Clock::now() - ago);
    h.reason = "promoted";
    return h;
}

class KubectlPluginIt : public KubeServerTest {
protected:
    void SetUp() override {
        KubeServerTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        ASSERT_TRUE(std::filesystem::exists(KUBECTL_POETRYOPS_BIN)) << KUBECTL_POETRYOPS_BIN;
        admin_ = make_client();
        ASSERT_TRUE(admin_);
        auto crds = test::kube::apply_crds(
            *admin_, {test::source_dir() / "crds/poetryops.io_poetryapps.yaml",
                      test::source_dir() / "crds/poetryops.io_poetryapprovals.yaml"});
        ASSERT_TRUE(crds) << crds.error().message;
        ns_ = fresh_namespace(*admin_);
    }

    /// dev → staging (approval required) → prod (approval required, soak 1h). dev runs 1.4.2,
    /// staging 1.4.1 (1.4.2 waits for approval), prod 1.4.0 since 3 days (1.4.1 soaks in staging
    /// for 30 more minutes).
    api::PoetryApp billing(const std::string& name = "billing") {
        api::PoetryApp app;
        app.metadata.name = name;
        app.metadata.namespace_ = ns_;
        app.spec.image.repository = "registry.example.com/acme/" + name;
        app.spec.gitops.repo_url = "https://git.example.com/acme/deploy.git";
        for (std::string env : {"dev", "staging", "prod"}) {
            api::EnvironmentSpec e;
            e.name = env;
            e.path = "envs/" + env;
            if (env != "dev") e.promotion.approval.required = true;
            if (env == "prod") e.promotion.soak = api::Duration("1h");
            app.spec.environments.push_back(e);
        }
        using namespace std::chrono_literals;
        app.status.latest = api::ArtifactStatus{"1.4.2", "1.4.2-abc1234", kD3, "", std::nullopt};
        app.status.environments = {env_status("dev", "1.4.2", kD3, 2h),
                                   env_status("staging", "1.4.1", kD2, 30min),
                                   env_status("prod", "1.4.0", kD1, 72h)};
        app.status.environments[1].message =
            "waiting for approval of 1.4.2 (sha256:333333333333): annotate "
            "poetryops.io/approve.staging=" +
            kD3;
        app.status.history = {
            entry("dev", "1.4.2", kD3, 2h),      entry("staging", "1.4.1", kD2, 30min),
            entry("dev", "1.4.1", kD2, 3h),      entry("prod", "1.4.0", kD1, 72h),
            entry("staging", "1.4.0", kD1, 80h), entry("prod", "1.3.9", kD0, 200h)};
        return app;
    }

    /// Creates the app, then writes its status through the status subresource as the controller
    /// does.
    void create(const api::PoetryApp& app) {
        json object = api::encode_poetryapp(app);
        object["metadata"].erase("uid");
        object["metadata"].erase("resourceVersion");
        object.erase("status");
        auto created = admin_->create(controller::poetryapps().in(ns_), object);
        ASSERT_TRUE(created) << created.error().message;
        json with_status = *created;
        with_status["status"] = api::encode_status(app.status);
        auto written = admin_->update_status(
            controller::poetryapps().in(ns_).named(app.metadata.name), with_status);
        ASSERT_TRUE(written) << written.error().message;
    }

    json annotations(const std::string& name) {
        auto got = admin_->get(controller::poetryapps().in(ns_).named(name));
        EXPECT_TRUE(got) << got.error().message;
        return got ? got->value("/metadata/annotations"_json_pointer, json::object())
                   : json::object();
    }

    /// kubectl-poetryops ARGS --kubeconfig K -n NS (stdout is a pipe: not a TTY).
    ProcessResult plugin(std::vector<std::string> args, std::filesystem::path kubeconfig = {}) {
        std::vector<std::string> argv{KUBECTL_POETRYOPS_BIN};
        argv.insert(argv.end(), args.begin(), args.end());
        argv.insert(argv.end(),
                    {"--kubeconfig",
                     (kubeconfig.empty() ? env().kubeconfig() : kubeconfig).string(), "-n", ns_});
        auto r = run_process(argv, {.timeout = std::chrono::seconds(60)});
        EXPECT_TRUE(r) << r.error().message;
        return r ? *r : ProcessResult{};
    }

    static long lines(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }

    std::unique_ptr<kube::RestClient> admin_;
    std::string ns_;
};

TEST_P(KubectlPluginIt, GetPrintsOneTableWithoutColourOffATty) {
    create(billing());
    auto r = plugin({"get"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("APP"));
    EXPECT_THAT(r.out, HasSubstr("ENV"));
    EXPECT_THAT(r.out, HasSubstr("DIGEST"));
    EXPECT_THAT(r.out, HasSubstr("SINCE"));
    EXPECT_THAT(r.out, HasSubstr("CANARY"));
    EXPECT_THAT(r.out, HasSubstr("WHY"));
    EXPECT_EQ(lines(r.out), 4) << r.out;  // the header and one row per environment
    EXPECT_THAT(r.out,
                testing::ContainsRegex("billing +dev +1\\.4\\.2 +333333333333 +Healthy +2h"));
    EXPECT_THAT(r.out,
                testing::ContainsRegex("billing +prod +1\\.4\\.0 +111111111111 +Healthy +3d"));
    EXPECT_THAT(r.out, HasSubstr("waiting for approval of 1.4.2 (sha256:333333333333): annotate "
                                 "poetryops.io/approve.staging=sha256:333333333333…\n"));
    EXPECT_THAT(r.out, Not(HasSubstr("\033"))) << "colour only on a TTY";
    EXPECT_TRUE(r.err.empty()) << r.err;

    auto all = plugin({"get", "-A"});
    ASSERT_EQ(all.exit_code, 0) << all.err;
    EXPECT_THAT(all.out, HasSubstr("NAMESPACE"));
    EXPECT_THAT(all.out, testing::ContainsRegex(ns_ + " +billing +staging"));

    auto one = plugin({"get", "billing"});
    ASSERT_EQ(one.exit_code, 0) << one.err;
    EXPECT_EQ(lines(one.out), 4) << one.out;
}

TEST_P(KubectlPluginIt, GetColoursThePhaseOnATty) {
    if (!test::require_tools({"script"})) return;  // util-linux: a pseudo-terminal
    create(billing());
    std::string cmd = std::string(KUBECTL_POETRYOPS_BIN) + " get --kubeconfig " +
                      env().kubeconfig().string() + " -n " + ns_;
    auto r = run_process({"script", "-qec", cmd, "/dev/null"},
                         {.env = {{"TERM", "xterm"}}, .unset_env = {"NO_COLOR"}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->exit_code, 0) << r->out << r->err;
    EXPECT_THAT(r->out, HasSubstr("\033[32mHealthy\033[0m"));
}

TEST_P(KubectlPluginIt, WhyNamesTheGateAndUntilWhen) {
    create(billing());
    auto staging = plugin({"why", "billing", "staging"});
    ASSERT_EQ(staging.exit_code, 0) << staging.err;
    EXPECT_EQ(lines(staging.out), 2) << staging.out;
    EXPECT_THAT(staging.out, HasSubstr("staging runs 1.4.1 (sha256:222222222222), Healthy"));
    EXPECT_THAT(staging.out, HasSubstr("next: 1.4.2 (sha256:333333333333) from dev, waiting for "
                                       "approval (`kubectl poetryops approve billing staging`)"));

    auto prod = plugin({"why", "billing", "prod"});
    ASSERT_EQ(prod.exit_code, 0) << prod.err;
    EXPECT_THAT(prod.out, HasSubstr("next: 1.4.1 (sha256:222222222222) from staging, soaking in "
                                    "staging until "));
    EXPECT_THAT(prod.out,
                testing::ContainsRegex("\\((29m[0-9]*s?|30m) left\\), then needs approval"));

    auto dev = plugin({"why", "billing", "dev"});
    ASSERT_EQ(dev.exit_code, 0) << dev.err;
    EXPECT_THAT(dev.out, HasSubstr("nothing newer: it runs the newest eligible image"));
}

TEST_P(KubectlPluginIt, ApproveTakesTheWaitingDigestAndRefusesAnother) {
    create(billing());
    const std::string key = "poetryops.io/approve.staging";

    auto wrong = plugin({"approve", "billing", "staging", kD1, "--annotation"});
    EXPECT_EQ(wrong.exit_code, 2);
    EXPECT_EQ(lines(wrong.err), 1) << wrong.err;
    EXPECT_THAT(wrong.err, HasSubstr("kubectl poetryops approve: " + kD1 +
                                     " is not the digest waiting in staging of " + ns_ +
                                     "/billing: that is " + kD3));
    EXPECT_FALSE(annotations("billing").contains(key));

    auto by_default = plugin({"approve", "billing", "staging", "--annotation"});
    ASSERT_EQ(by_default.exit_code, 0) << by_default.err;
    EXPECT_THAT(by_default.out, HasSubstr("approved 1.4.2 (sha256:333333333333) for staging"));
    EXPECT_EQ(annotations("billing").value(key, ""), kD3);

    // Named explicitly: the same digest, the same annotation.
    ASSERT_TRUE(admin_->patch(controller::poetryapps().in(ns_).named("billing"),
                              kube::PatchType::merge,
                              json{{"metadata", {{"annotations", {{key, nullptr}}}}}}));
    auto named = plugin({"approve", "billing", "staging", kD3, "--annotation"});
    ASSERT_EQ(named.exit_code, 0) << named.err;
    EXPECT_EQ(annotations("billing").value(key, ""), kD3);

    // dev takes each digest by itself; prod waits for staging's 1.4.1, not for 1.4.2.
    auto dev = plugin({"approve", "billing", "dev", "--annotation"});
    EXPECT_EQ(dev.exit_code, 2);
    EXPECT_THAT(dev.err, HasSubstr("dev of " + ns_ + "/billing needs no approval"));
    auto prod = plugin({"approve", "billing", "prod", "--annotation"});
    ASSERT_EQ(prod.exit_code, 0) << prod.err;
    EXPECT_EQ(annotations("billing").value("poetryops.io/approve.prod", ""), kD2);
}

/// With the controller's admission webhook registered (real API server only; the webhook scoped to
/// this namespace), approve says who the API server stamped as the approver.
TEST_P(KubectlPluginIt, WithTheAdmissionWebhookApproveSaysWhoWasStamped) {
    if (fake()) GTEST_SKIP() << "admission webhooks: real API server only";
    test::TestCa ca;
    auto [cert, key] = ca.issue("admission", {"IP:127.0.0.1"});
    controller::AdmissionOptions o;
    o.address = "127.0.0.1:0";
    o.tls_cert_file = cert.string();
    o.tls_key_file = key.string();
    auto server = controller::AdmissionServer::start(o);
    ASSERT_TRUE(server) << server.error().message;
    const kube::ResourceRef webhooks{"admissionregistration.k8s.io", "v1",
                                     "mutatingwebhookconfigurations", true};
    const std::string name = "poetryops-plugin-test-" + ns_;
    json hook{{"name", "poetryapprovals.admission.poetryops.io"},
              {"clientConfig",
               {{"url", "https://127.0.0.1:" + std::to_string((*server)->port()) +
                            "/admission/poetryapprovals"},
                {"caBundle", str::base64_encode(*read_file(ca.ca_cert()))}}},
              {"rules",
               {{{"apiGroups", {"poetryops.io"}},
                 {"apiVersions", {"*"}},
                 {"operations", {"CREATE"}},
                 {"resources", {"poetryapprovals"}}}}},
              {"namespaceSelector", {{"matchLabels", {{"kubernetes.io/metadata.name", ns_}}}}},
              {"failurePolicy", "Fail"},
              {"sideEffects", "None"},
              {"admissionReviewVersions", {"v1"}}};
    ASSERT_TRUE(admin_->create(webhooks, {{"apiVersion", "admissionregistration.k8s.io/v1"},
                                          {"kind", "MutatingWebhookConfiguration"},
                                          {"metadata", {{"name", name}}},
                                          {"webhooks", {hook}}}));
    struct Remove {
        kube::RestClient& c;
        kube::ResourceRef ref;
        ~Remove() { (void)c.remove(ref); }
    } remove{*admin_, webhooks.named(name)};
    create(billing());
    // The API server picks the configuration up from its informer: until then the approval is
    // created unstamped (and says no approver).
    std::string out;
    ASSERT_TRUE(test::wait_until(
        [&] {
            auto r = plugin({"approve", "billing", "staging"});
            out = r.out + r.err;
            return r.exit_code == 0 && r.out.find(", approver ") != std::string::npos;
        },
        std::chrono::seconds(30)))
        << out;
    auto listed = admin_->list(controller::poetryapprovals().in(ns_));
    ASSERT_TRUE(listed);
    std::string approver;
    for (const auto& a : listed->items)
        if (a["spec"].contains("approver")) approver = a["spec"]["approver"];
    ASSERT_FALSE(approver.empty());
    EXPECT_THAT(out, HasSubstr("approved 1.4.2 (sha256:333333333333) for staging of " + ns_ +
                               "/billing (PoetryApproval billing-staging-333333333333-"));
    EXPECT_THAT(out, HasSubstr(", approver " + approver + ")"));
}

/// Without --annotation, approve creates a PoetryApproval bound to the waiting digest (no approver
/// written: the webhook stamps it), reject one with decision reject and its reason; the API server
/// keeps them immutable.
TEST_P(KubectlPluginIt, ApproveAndRejectCreatePoetryApprovalsThatCannotBeEdited) {
    create(billing());
    auto approved = plugin({"approve", "billing", "staging", "--comment", "looks good"});
    ASSERT_EQ(approved.exit_code, 0) << approved.err;
    EXPECT_THAT(approved.out,
                HasSubstr("approved 1.4.2 (sha256:333333333333) for staging of " + ns_ +
                          "/billing (PoetryApproval billing-staging-"
                          "333333333333-"));
    EXPECT_FALSE(annotations("billing").contains("poetryops.io/approve.staging"));
    auto listed = admin_->list(controller::poetryapprovals().in(ns_));
    ASSERT_TRUE(listed) << listed.error().message;
    ASSERT_EQ(listed->items.size(), 1u);
    const json a = listed->items[0];
    EXPECT_EQ(a["spec"]["app"], "billing");
    EXPECT_EQ(a["spec"]["environment"], "staging");
    EXPECT_EQ(a["spec"]["digest"], kD3);
    EXPECT_EQ(a["spec"]["decision"], "approve");
    EXPECT_EQ(a["spec"]["comment"], "looks good");
    EXPECT_FALSE(a["spec"].contains("approver"));
    auto decoded = api::load_poetryapproval(a);
    ASSERT_TRUE(decoded) << decoded.error().message;
    EXPECT_EQ(decoded->manager, "kubectl-poetryops") << "the weak identity: the field manager";

    // Immutable: the API server refuses an edit of the digest (the CRD's CEL rule).
    auto edited = admin_->patch(
        controller::poetryapprovals().in(ns_).named(a["metadata"]["name"].get<std::string>()),
        kube::PatchType::merge, json{{"spec", {{"digest", kD2}}}});
    ASSERT_FALSE(edited);
    EXPECT_THAT(edited.error().message, HasSubstr("immutable"));

    auto no_reason = plugin({"reject", "billing", "prod"});
    EXPECT_EQ(no_reason.exit_code, 2);
    EXPECT_THAT(no_reason.err, HasSubstr("kubectl poetryops reject: --reason is required"));
    auto not_digest = plugin({"reject", "billing", "prod", "sha256:zz", "--reason", "x"});
    EXPECT_EQ(not_digest.exit_code, 2);
    EXPECT_THAT(not_digest.err, HasSubstr("is not a digest"));
    auto rejected = plugin({"reject", "billing", "prod", "--reason", "CVE-2026-1234"});
    ASSERT_EQ(rejected.exit_code, 0) << rejected.err;
    EXPECT_THAT(rejected.out, HasSubstr("rejected 1.4.1 (sha256:222222222222) for prod of " + ns_ +
                                        "/billing (PoetryApproval billing-prod-"));
    listed = admin_->list(controller::poetryapprovals().in(ns_));
    ASSERT_TRUE(listed);
    ASSERT_EQ(listed->items.size(), 2u);
    bool found = false;
    for (const auto& item : listed->items) {
        if (item["spec"]["decision"] != "reject") continue;
        found = true;
        EXPECT_EQ(item["spec"]["digest"], kD2);
        EXPECT_EQ(item["spec"]["reason"], "CVE-2026-1234");
    }
    EXPECT_TRUE(found);
}

TEST_P(KubectlPluginIt, RollbackPreviousPinsTheDigestBeforeAndReleaseUnpins) {
    create(billing());
    const std::string key = "poetryops.io/rollback.prod";

    auto both = plugin({"rollback", "billing", "prod", kD0, "--previous"});
    EXPECT_EQ(both.exit_code, 2);
    EXPECT_THAT(both.err, HasSubstr("not both"));
    auto never = plugin({"rollback", "billing", "prod", kD3});
    EXPECT_EQ(never.exit_code, 2);
    EXPECT_THAT(never.err, HasSubstr(kD3 + " never ran in prod of " + ns_ + "/billing"));
    EXPECT_FALSE(annotations("billing").contains(key));

    auto previous = plugin({"rollback", "billing", "prod", "--previous"});
    ASSERT_EQ(previous.exit_code, 0) << previous.err;
    EXPECT_THAT(previous.out, HasSubstr("rolling back prod of " + ns_ +
                                        "/billing to 1.3.9 (sha256:000000000000)"));
    EXPECT_EQ(annotations("billing").value(key, ""), kD0);

    auto why = plugin({"why", "billing", "prod"});
    EXPECT_THAT(why.out, HasSubstr("pinned by poetryops.io/rollback.prod=" + kD0));

    auto release = plugin({"release", "billing", "prod"});
    ASSERT_EQ(release.exit_code, 0) << release.err;
    EXPECT_THAT(release.out, HasSubstr("removing poetryops.io/rollback.prod"));
    EXPECT_FALSE(annotations("billing").contains(key));

    auto explicit_digest = plugin({"rollback", "billing", "staging", kD1});
    ASSERT_EQ(explicit_digest.exit_code, 0) << explicit_digest.err;
    EXPECT_EQ(annotations("billing").value("poetryops.io/rollback.staging", ""), kD1);
}

TEST_P(KubectlPluginIt, ReleaseAHoldFromGitAndHoldACanary) {
    auto app = billing();
    using namespace std::chrono_literals;
    app.status.environments[2].phase = api::Phase::held;
    app.status.environments[2].held = true;
    app.status.environments[2].held_image =
        "registry.example.com/acme/billing:hotfix@" + digest_of('f');
    // staging runs a canary of 1.4.2 at 10 %.
    api::CanarySpec canary;
    canary.traffic.route = "billing";
    canary.traffic.stable = "billing";
    canary.traffic.canary = "billing-canary";
    app.spec.environments[1].canary = canary;
    api::CanaryStatus c;
    c.phase = api::CanaryPhase::progressing;
    c.version = "1.4.2";
    c.tag = "1.4.2-abc1234";
    c.digest = kD3;
    c.step = 0;
    c.weight = 10;
    c.step_started = std::chrono::time_point_cast<std::chrono::seconds>(Clock::now() - 1min);
    c.commit = "fedcba9876543210fedcba9876543210fedcba98";
    app.status.environments[1].canary = c;
    create(app);

    auto get = plugin({"get"});
    ASSERT_EQ(get.exit_code, 0) << get.err;
    EXPECT_THAT(get.out, testing::ContainsRegex("staging .* 10% 1/2 "));
    EXPECT_THAT(get.out, testing::ContainsRegex("prod +1\\.4\\.0 +111111111111 +Held"));

    auto why = plugin({"why", "billing", "staging"});
    EXPECT_THAT(why.out, HasSubstr("canary of 1.4.2 (sha256:333333333333) at 10% (step 1/2), next "
                                   "step until "));

    auto released = plugin({"release", "billing", "prod"});
    ASSERT_EQ(released.exit_code, 0) << released.err;
    EXPECT_EQ(annotations("billing").value("poetryops.io/release.prod", ""), digest_of('f'));

    auto hold_dev = plugin({"hold", "billing", "dev", "--reason", "incident 42"});
    ASSERT_EQ(hold_dev.exit_code, 0) << hold_dev.err;
    EXPECT_EQ(annotations("billing").value("poetryops.io/hold.dev", ""), "incident 42");
    auto again = plugin({"hold", "billing", "dev"});
    EXPECT_EQ(again.exit_code, 2);
    EXPECT_THAT(again.err, HasSubstr("already held"));
    auto release_dev = plugin({"release", "billing", "dev"});
    ASSERT_EQ(release_dev.exit_code, 0) << release_dev.err;
    EXPECT_FALSE(annotations("billing").contains("poetryops.io/hold.dev"));

    auto hold = plugin({"hold", "billing", "staging"});
    ASSERT_EQ(hold.exit_code, 0) << hold.err;
    EXPECT_EQ(annotations("billing").value("poetryops.io/canary.staging", ""), "pause@" + kD3);

    auto not_held = plugin({"release", "billing", "dev"});
    EXPECT_EQ(not_held.exit_code, 2);
    EXPECT_THAT(not_held.err, HasSubstr("dev of " + ns_ + "/billing is not held"));
}

TEST_P(KubectlPluginIt, HistoryListsNewestFirst) {
    create(billing());
    auto all = plugin({"history", "billing"});
    ASSERT_EQ(all.exit_code, 0) << all.err;
    EXPECT_EQ(lines(all.out), 7) << all.out;
    EXPECT_THAT(all.out,
                testing::ContainsRegex("TIME +ENV +KIND +VERSION +DIGEST +COMMIT +REASON"));
    EXPECT_THAT(all.out, testing::ContainsRegex("dev +Promote +1\\.4\\.2 +333333333333 +89abcde"));
    auto prod = plugin({"history", "billing", "prod"});
    ASSERT_EQ(prod.exit_code, 0) << prod.err;
    EXPECT_EQ(lines(prod.out), 3) << prod.out;
    EXPECT_LT(prod.out.find("1.4.0"), prod.out.find("1.3.9"));
}

TEST_P(KubectlPluginIt, UnknownAppOrEnvironmentIsNamed) {
    create(billing());
    auto app = plugin({"why", "nope", "dev"});
    EXPECT_EQ(app.exit_code, 2);
    EXPECT_EQ(app.err, "kubectl poetryops why: PoetryApp " + ns_ + "/nope not found (kubectl get " +
                           "poetryapps -n " + ns_ + " lists them)\n");
    auto env = plugin({"approve", "billing", "qa"});
    EXPECT_EQ(env.exit_code, 2);
    EXPECT_THAT(env.err, HasSubstr("PoetryApp " + ns_ +
                                   "/billing has no environment \"qa\" (its environments: dev, "
                                   "staging, prod)"));
    auto flag = plugin({"get", "--bogus"});
    EXPECT_EQ(flag.exit_code, 2);
    EXPECT_THAT(flag.err, HasSubstr("kubectl poetryops get --help"));
}

TEST_P(KubectlPluginIt, AForbiddenAnswerNamesTheVerbAndResource) {
    const auto* cluster = env().cluster();
    ASSERT_NE(cluster, nullptr);
    create(billing());
    auto denied = plugin({"get", "billing"}, cluster->user_kubeconfig);
    EXPECT_EQ(denied.exit_code, 2);
    EXPECT_EQ(lines(denied.err), 1) << denied.err;
    EXPECT_THAT(denied.err, HasSubstr("kubectl poetryops get: forbidden: your kubeconfig's user "
                                      "may not get poetryapps.poetryops.io in namespace " +
                                      ns_));

    // May read, may not write: approve names the patch it lacks.
    json role = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                 {"kind", "Role"},
                 {"metadata", {{"name", "papp-view"}, {"namespace", ns_}}},
                 {"rules", json::array({{{"apiGroups", {"poetryops.io"}},
                                         {"resources", {"poetryapps"}},
                                         {"verbs", {"get", "list"}}}})}};
    json binding = {
        {"apiVersion", "rbac.authorization.k8s.io/v1"},
        {"kind", "RoleBinding"},
        {"metadata", {{"name", "papp-view"}, {"namespace", ns_}}},
        {"roleRef",
         {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", "papp-view"}}},
        {"subjects", json::array({{{"kind", "User"},
                                   {"apiGroup", "rbac.authorization.k8s.io"},
                                   {"name", cluster->user_name}}})}};
    kube::ResourceRef roles{"rbac.authorization.k8s.io", "v1", "roles"};
    kube::ResourceRef bindings{"rbac.authorization.k8s.io", "v1", "rolebindings"};
    ASSERT_TRUE(admin_->create(roles.in(ns_), role));
    ASSERT_TRUE(admin_->create(bindings.in(ns_), binding));
    ProcessResult approve;
    ASSERT_TRUE(test::wait_until(
        [&] {
            approve = plugin({"approve", "billing", "staging"}, cluster->user_kubeconfig);
            return approve.err.find("may not get") == std::string::npos;
        },
        std::chrono::seconds(10)));
    EXPECT_EQ(approve.exit_code, 2);
    EXPECT_THAT(approve.err, HasSubstr("kubectl poetryops approve: forbidden: your kubeconfig's "
                                       "user may not create poetryapprovals.poetryops.io in "
                                       "namespace " +
                                       ns_));
    auto annotate =
        plugin({"approve", "billing", "staging", "--annotation"}, cluster->user_kubeconfig);
    EXPECT_THAT(annotate.err, HasSubstr("kubectl poetryops approve: forbidden: your kubeconfig's "
                                        "user may not patch poetryapps.poetryops.io in namespace " +
                                        ns_));
    auto get = plugin({"get", "billing"}, cluster->user_kubeconfig);
    EXPECT_EQ(get.exit_code, 0) << get.err;
}

TEST_P(KubectlPluginIt, LogsReadsTheNewestBuildJobsPod) {
    create(billing());
    auto none = plugin({"logs", "billing", "--build"});
    EXPECT_EQ(none.exit_code, 1);
    EXPECT_THAT(none.err, HasSubstr("no build Job of " + ns_ +
                                    "/billing (Jobs labelled "
                                    "poetryops.io/app=billing)"));
    auto no_flag = plugin({"logs", "billing"});
    EXPECT_EQ(no_flag.exit_code, 2);
    EXPECT_THAT(no_flag.err, HasSubstr("logs needs --build"));

    // A build Job as the controller labels it; no node takes its Pod (its nodeSelector matches
    // none), so the API server has no log to give: the one line names the Pod, the Job and why.
    const std::string job = build::job_name(ns_, "billing", std::string(40, 'a'));
    json labels = {{std::string(build::kAppLabel), build::app_label("billing")}};
    json object = {
        {"apiVersion", "batch/v1"},
        {"kind", "Job"},
        {"metadata",
         {{"name", job},
          {"namespace", ns_},
          {"labels", labels},
          {"annotations", {{std::string(build::kAppAnnotation), ns_ + "/billing"}}}}},
        {"spec",
         {{"backoffLimit", 0},
          {"template",
           {{"metadata", {{"labels", labels}}},
            {"spec",
             {{"restartPolicy", "Never"},
              {"nodeSelector", {{"poetryops-tests/no-node", "true"}}},
              {"containers",
               json::array({{{"name", "build"}, {"image", "registry.invalid/builder:1"}}})}}}}}}}};
    ASSERT_TRUE(admin_->create(kube::resources::jobs().in(ns_), object));
    ASSERT_TRUE(test::wait_until(
        [&] {
            auto pods = admin_->list(kube::resources::pods().in(ns_));
            return pods && !pods->items.empty();
        },
        std::chrono::seconds(30)))
        << "the Job controller made no Pod";
    auto logs = plugin({"logs", "billing", "--build"});
    EXPECT_EQ(logs.exit_code, 1);
    EXPECT_TRUE(logs.out.empty()) << logs.out;
    EXPECT_EQ(lines(logs.err), 1) << logs.err;
    EXPECT_THAT(logs.err,
                HasSubstr("kubectl poetryops logs: the log of container build of Pod " + job));
    EXPECT_THAT(logs.err, HasSubstr("(build Job " + job + ") is empty; the Pod is Pending"));
    auto prepare = plugin({"logs", "billing", "--build", "-c", "prepare"});
    EXPECT_NE(prepare.exit_code, 0);
    EXPECT_THAT(prepare.err, HasSubstr("prepare"));
}

/// An API server without the PoetryApp CRD: the fake, since the real lane's cluster is shared by
/// the run's tests and has it installed.
class KubectlPluginNoCrdIt : public KubeServerTest {};

TEST_P(KubectlPluginNoCrdIt, AMissingCrdIsNamedNotAMissingApp) {
    for (std::vector<std::string> args :
         {std::vector<std::string>{"get"}, std::vector<std::string>{"why", "billing", "dev"}}) {
        args.insert(args.end(), {"--kubeconfig", env().kubeconfig().string(), "-n", "default"});
        args.insert(args.begin(), KUBECTL_POETRYOPS_BIN);
        auto r = run_process(args);
        ASSERT_TRUE(r) << r.error().message;
        EXPECT_EQ(r->exit_code, 2) << r->err;
        EXPECT_EQ(std::count(r->err.begin(), r->err.end(), '\n'), 1) << r->err;
        EXPECT_THAT(r->err, HasSubstr("the API server does not serve poetryapps.poetryops.io: the "
                                      "PoetryApp CRD is not installed"));
        EXPECT_THAT(r->err, Not(HasSubstr("PoetryApp default/billing not found")));
    }
}

}  // namespace

POETRYOPS_KUBE_REAL_ONLY(KubectlPluginIt);
POETRYOPS_KUBE_FAKE_ONLY(KubectlPluginNoCrdIt);

// Build Jobs: the golden Job of each engine, the naming rules, where each engine finds its
// credentials, and reading Jobs and Pods back in the shapes a real API server returns.
//
// Golden files: tests/build/golden/<engine>.json. After an intended change to the Jobs, regenerate
// them and review the diff:
//   POETRYOPS_UPDATE_GOLDEN=1 build/tests/build/test_build --gtest_filter='BuildJob.Golden*'
#include <poetryops/build/job.hpp>

#include <poetryops/api/validation.hpp>
#include <poetryops/util/fs.hpp>
#include <support/support.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <string>
#include <vector>

using namespace poetryops;
using nlohmann::json;
using testing::HasSubstr;

namespace {

const std::string kSha = "0123456789abcdef0123456789abcdef01234567";
const std::string kDigest = "sha256:" + std::string(64, 'e');

api::PoetryApp make_app(api::BuildEngine engine) {
    api::PoetryApp app;
    app.metadata.name = "billing";
    app.metadata.namespace_ = "team-a";
    app.metadata.uid = "2f1c6e5a-7a51-4c4e-9d1e-0a4b7c9e0001";
    app.spec.source = api::SourceSpec{};
    app.spec.source->repo_url = "https://git.example.com/acme/mono.git";
    app.spec.source->ref = "main";
    app.spec.source->path = "services/billing";
    app.spec.source->secret_ref = api::SecretRef{"billing-git"};
    app.spec.image.repository = "registry.example.com/acme/billing";
    app.spec.image.secret_ref = api::SecretRef{"regcred"};
    app.spec.build = api::BuildSpec{};
    app.spec.build->engine = engine;
    app.spec.build->python = "3.12";
    return app;
}

build::BuildRequest request() { return {kSha, "1.4.2", "1.4.2-0123456"}; }

json make(const api::PoetryApp& app, const build::JobOptions& o = {}) {
    auto job = build::make_job(app, request(), o);
    EXPECT_TRUE(job) << job.error().message;
    return job ? *job : json();
}

const json& builder(const json& job) { return job["spec"]["template"]["spec"]["containers"][0]; }
const json& prepare(const json& job) {
    return job["spec"]["template"]["spec"]["initContainers"][0];
}

std::string env_of(const json& container, const std::string& name) {
    for (const auto& e : container.value("env", json::array())) {
        if (e["name"] == name) return e["value"];
    }
    return "<unset>";
}

std::string mount_path(const json& container, const std::string& volume) {
    for (const auto& m : container.value("volumeMounts", json::array())) {
        if (m["name"] == volume) return m["mountPath"];
    }
    return "<not mounted>";
}

const json* volume(const json& job, const std::string& name) {
    for (const auto& v : job["spec"]["template"]["spec"]["volumes"]) {
        if (v["name"] == name) return &v;
    }
    return nullptr;
}

void check_golden(const std::string& engine, const json& job) {
    auto path = test::source_dir() / "tests/build/golden" / (engine + ".json");
    if (const char* update = std::getenv("POETRYOPS_UPDATE_GOLDEN"); update && *update == '1') {
        ASSERT_TRUE(write_file_atomic(path, job.dump(2) + "\n"));
        return;
    }
    auto text = read_file(path);
    ASSERT_TRUE(text) << path << ": " << text.error().message
                      << " (POETRYOPS_UPDATE_GOLDEN=1 writes it)";
    json golden = json::parse(*text);
    EXPECT_EQ(job, golden) << "differs from " << path
                           << " (POETRYOPS_UPDATE_GOLDEN=1 rewrites it; review the diff)\n"
                           << json::diff(golden, job).dump(2);
}

json pod_of(const json& job, json status) {
    return json{{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata",
                 {{"name", job["metadata"]["name"].get<std::string>() + "-x7k2p"},
                  {"creationTimestamp", "2026-05-04T10:00:05Z"},
                  {"labels",
                   {{"batch.kubernetes.io/job-name", job["metadata"]["name"]},
                    {"job-name", job["metadata"]["name"]}}},
                  {"ownerReferences", json::array({{{"apiVersion", "batch/v1"},
                                                    {"kind", "Job"},
                                                    {"name", job["metadata"]["name"]},
                                                    {"uid", job["metadata"]["uid"]},
                                                    {"controller", true}}})}}},
                {"status", std::move(status)}};
}

/// The Job as the API server returns it: a uid, and the given status.
json served(json job, json status) {
    job["metadata"]["uid"] = "7d3b1c2a-0000-4000-8000-00000000beef";
    job["status"] = std::move(status);
    return job;
}

}  // namespace

TEST(BuildJob, GoldenBuildkit) {
    check_golden("buildkit", make(make_app(api::BuildEngine::buildkit)));
}
TEST(BuildJob, GoldenKaniko) { check_golden("kaniko", make(make_app(api::BuildEngine::kaniko))); }
TEST(BuildJob, GoldenBuildah) {
    check_golden("buildah", make(make_app(api::BuildEngine::buildah)));
}

TEST(BuildJob, EveryJobIsOwnedLabelledBoundedAndNeverRetried) {
    for (auto engine :
         {api::BuildEngine::buildkit, api::BuildEngine::kaniko, api::BuildEngine::buildah}) {
        api::PoetryApp app = make_app(engine);
        app.spec.build->timeout = api::Duration("45m");
        build::JobOptions o;
        o.ttl_seconds_after_finished = 600;
        json job = make(app, o);
        SCOPED_TRACE(std::string(api::to_string(engine)));
        EXPECT_EQ(job["apiVersion"], "batch/v1");
        EXPECT_EQ(job["kind"], "Job");
        EXPECT_EQ(job["metadata"]["name"], build::job_name("team-a", "billing", kSha));
        EXPECT_EQ(job["metadata"]["namespace"], "team-a");
        const json& owner = job["metadata"]["ownerReferences"][0];
        EXPECT_EQ(owner["apiVersion"], "poetryops.io/v1alpha1");
        EXPECT_EQ(owner["kind"], "PoetryApp");
        EXPECT_EQ(owner["name"], "billing");
        EXPECT_EQ(owner["uid"], app.metadata.uid);
        EXPECT_EQ(owner["controller"], true);
        EXPECT_EQ(owner["blockOwnerDeletion"], true);
        for (const json* labels :
             {&job["metadata"]["labels"], &job["spec"]["template"]["metadata"]["labels"]}) {
            EXPECT_EQ((*labels)["poetryops.io/app"], "billing");
            EXPECT_EQ((*labels)["poetryops.io/commit"], kSha);
        }
        EXPECT_EQ(job["metadata"]["annotations"]["poetryops.io/app"], "team-a/billing");
        EXPECT_EQ(job["metadata"]["annotations"]["poetryops.io/tag"], "1.4.2-0123456");
        EXPECT_EQ(job["spec"]["backoffLimit"], 0);
        EXPECT_EQ(job["spec"]["activeDeadlineSeconds"], 45 * 60);
        EXPECT_EQ(job["spec"]["ttlSecondsAfterFinished"], 600);
        const json& pod = job["spec"]["template"]["spec"];
        EXPECT_EQ(pod["restartPolicy"], "Never");
        EXPECT_EQ(pod["automountServiceAccountToken"], false);
        EXPECT_EQ(builder(job)["name"], "build");
        EXPECT_EQ(builder(job)["terminationMessagePolicy"], "FallbackToLogsOnError");
        EXPECT_EQ(builder(job)["terminationMessagePath"], "/dev/termination-log");
        EXPECT_EQ(mount_path(builder(job), "workspace"), "/workspace");
        EXPECT_EQ(mount_path(prepare(job), "workspace"), "/workspace");
        ASSERT_NE(volume(job, "workspace"), nullptr);
        EXPECT_TRUE((*volume(job, "workspace")).contains("emptyDir"));
        // The source Secret only in the init container, read-only; the registry Secret only in
        // the builder.
        EXPECT_EQ(mount_path(prepare(job), "source-credentials"), "/etc/poetryops/source");
        EXPECT_EQ(mount_path(builder(job), "source-credentials"), "<not mounted>");
        EXPECT_EQ(mount_path(prepare(job), "registry-credentials"), "<not mounted>");
        for (const auto& m : prepare(job)["volumeMounts"]) {
            if (m["name"] == "source-credentials") {
                EXPECT_EQ(m["readOnly"], true);
            }
        }
        for (const auto& m : builder(job)["volumeMounts"]) {
            if (m["name"] == "registry-credentials") {
                EXPECT_EQ(m["readOnly"], true);
            }
        }
        EXPECT_EQ((*volume(job, "source-credentials"))["secret"]["secretName"], "billing-git");
        const json& reg = (*volume(job, "registry-credentials"))["secret"];
        EXPECT_EQ(reg["secretName"], "regcred");
        EXPECT_EQ(reg["items"][0]["key"], ".dockerconfigjson");
        EXPECT_EQ(reg["items"][0]["path"], "config.json");
        // The prepare step is restricted whatever the engine.
        const json& sc = prepare(job)["securityContext"];
        EXPECT_EQ(sc["runAsNonRoot"], true);
        EXPECT_EQ(sc["allowPrivilegeEscalation"], false);
        EXPECT_EQ(sc["readOnlyRootFilesystem"], true);
        EXPECT_EQ(sc["capabilities"]["drop"], json::array({"ALL"}));
        EXPECT_EQ(builder(job)["securityContext"].value("privileged", false), false);
        // The name is a DNS-1123 label short enough for the Pods' job-name label.
        EXPECT_TRUE(api::is_dns1123_label(job["metadata"]["name"].get<std::string>()));
    }
}

TEST(BuildJob, ThePrepareStepGetsExactlyTheCommitAndTheDockerfileChoice) {
    api::PoetryApp app = make_app(api::BuildEngine::kaniko);
    app.spec.build->dockerfile = "docker/Dockerfile.prod";
    app.spec.build->poetry = "1.8.3";
    json job = make(app);
    EXPECT_EQ(prepare(job)["image"], build::JobOptions{}.poetryops_image);
    EXPECT_EQ(prepare(job)["command"], json::array({"poetryops"}));
    EXPECT_EQ(prepare(job)["args"], json::array({"build",
                                                 "prepare",
                                                 "--source",
                                                 "https://git.example.com/acme/mono.git",
                                                 "--ref",
                                                 "main",
                                                 "--commit",
                                                 kSha,
                                                 "--path",
                                                 "services/billing",
                                                 "--dockerfile",
                                                 "docker/Dockerfile.prod",
                                                 "--out",
                                                 "/workspace",
                                                 "--python",
                                                 "3.12",
                                                 "--poetry",
                                                 "1.8.3",
                                                 "--credentials-dir",
                                                 "/etc/poetryops/source"}));
    // No source Secret: no credentials flag, no volume.
    app.spec.source->secret_ref.reset();
    job = make(app);
    EXPECT_THAT(prepare(job)["args"].dump(), testing::Not(HasSubstr("--credentials-dir")));
    EXPECT_EQ(volume(job, "source-credentials"), nullptr);
}

TEST(BuildJob, EachEngineFindsTheRegistrySecretWhereItLooks) {
    json bk = make(make_app(api::BuildEngine::buildkit));
    EXPECT_EQ(env_of(builder(bk), "DOCKER_CONFIG"), "/etc/poetryops/registry");
    EXPECT_EQ(mount_path(builder(bk), "registry-credentials"), "/etc/poetryops/registry");
    json kn = make(make_app(api::BuildEngine::kaniko));
    EXPECT_EQ(mount_path(builder(kn), "registry-credentials"), "/kaniko/.docker");
    EXPECT_EQ(env_of(builder(kn), "DOCKER_CONFIG"), "/kaniko/.docker");
    json bh = make(make_app(api::BuildEngine::buildah));
    EXPECT_EQ(env_of(builder(bh), "REGISTRY_AUTH_FILE"), "/etc/poetryops/registry/config.json");
    EXPECT_EQ(mount_path(builder(bh), "registry-credentials"), "/etc/poetryops/registry");

    // Without image.secretRef nothing is mounted or pointed at.
    for (auto engine :
         {api::BuildEngine::buildkit, api::BuildEngine::kaniko, api::BuildEngine::buildah}) {
        api::PoetryApp app = make_app(engine);
        app.spec.image.secret_ref.reset();
        json job = make(app);
        EXPECT_EQ(volume(job, "registry-credentials"), nullptr);
        EXPECT_EQ(mount_path(builder(job), "registry-credentials"), "<not mounted>");
        EXPECT_EQ(env_of(builder(job), "REGISTRY_AUTH_FILE"), "<unset>");
    }
}

TEST(BuildJob, TheBuilderCommandsPushTheTagAndReportTheDigest) {
    json bk = make(make_app(api::BuildEngine::buildkit));
    std::string args = builder(bk)["args"].dump();
    EXPECT_THAT(
        args,
        HasSubstr("type=image,name=registry.example.com/acme/billing:1.4.2-0123456,push=true"));
    EXPECT_THAT(args, HasSubstr("type=registry,ref=registry.example.com/acme/"
                                "billing:buildcache,mode=max,image-manifest=true"));
    EXPECT_THAT(args, HasSubstr("\"--import-cache\",\"type=registry,ref=registry.example.com/acme/"
                                "billing:buildcache\""));
    EXPECT_THAT(args, HasSubstr("\"--metadata-file\""));
    EXPECT_THAT(builder(bk)["command"][2].get<std::string>(), HasSubstr("containerimage.digest"));
    EXPECT_THAT(builder(bk)["command"][2].get<std::string>(), HasSubstr("/dev/termination-log"));
    EXPECT_EQ(env_of(builder(bk), "BUILDKITD_FLAGS"), "--oci-worker-no-process-sandbox");
    EXPECT_EQ(bk["spec"]["template"]["metadata"]["annotations"]
                ["container.apparmor.security.beta.kubernetes.io/build"],
              "unconfined");

    json kn = make(make_app(api::BuildEngine::kaniko));
    EXPECT_THAT(builder(kn)["args"],
                testing::IsSupersetOf(
                    {json("--context=dir:///workspace/context"),
                     json("--dockerfile=/workspace/dockerfile/Dockerfile"),
                     json("--destination=registry.example.com/acme/billing:1.4.2-0123456"),
                     json("--digest-file=/dev/termination-log"), json("--cache=true"),
                     json("--cache-repo=registry.example.com/acme/billing/cache")}));

    json bh = make(make_app(api::BuildEngine::buildah));
    std::string script = builder(bh)["command"][2];
    EXPECT_THAT(script, HasSubstr("bud --isolation chroot"));
    EXPECT_THAT(script, HasSubstr("--storage-driver vfs"));
    EXPECT_THAT(script, HasSubstr("push --tls-verify=\"$2\" --digestfile /dev/termination-log"));
    EXPECT_EQ(builder(bh)["command"][4], "registry.example.com/acme/billing:1.4.2-0123456");
    EXPECT_EQ(builder(bh)["command"][5], "true");

    // A plain-HTTP test registry.
    build::JobOptions insecure;
    insecure.insecure_registry = true;
    EXPECT_THAT(builder(make(make_app(api::BuildEngine::buildkit), insecure))["args"].dump(),
                HasSubstr("push=true,registry.insecure=true"));
    EXPECT_THAT(builder(make(make_app(api::BuildEngine::kaniko), insecure))["args"],
                testing::Contains(json("--insecure")));
    EXPECT_EQ(builder(make(make_app(api::BuildEngine::buildah), insecure))["command"][5], "false");
}

TEST(BuildJob, OptionsReachThePod) {
    build::JobOptions o;
    o.buildkit_image = "registry.internal/mirror/buildkit:v0.23.2-rootless";
    o.poetryops_image = "registry.internal/poetryops:1.0.0";
    o.resources = {{"limits", {{"memory", "4Gi"}}}, {"requests", {{"cpu", "1"}}}};
    o.node_selector = {{"pool", "builds"}};
    o.tolerations =
        json::array({{{"key", "builds"}, {"operator", "Exists"}, {"effect", "NoSchedule"}}});
    o.service_account_name = "poetryops-builder";
    o.workspace_size_limit = "20Gi";
    json job = make(make_app(api::BuildEngine::buildkit), o);
    const json& pod = job["spec"]["template"]["spec"];
    EXPECT_EQ(builder(job)["image"], o.buildkit_image);
    EXPECT_EQ(prepare(job)["image"], o.poetryops_image);
    EXPECT_EQ(builder(job)["resources"], o.resources);
    EXPECT_EQ(pod["nodeSelector"]["pool"], "builds");
    EXPECT_EQ(pod["tolerations"], o.tolerations);
    EXPECT_EQ(pod["serviceAccountName"], "poetryops-builder");
    EXPECT_EQ((*volume(job, "workspace"))["emptyDir"]["sizeLimit"], "20Gi");
}

TEST(BuildJob, BadInputIsRefusedNamingTheField) {
    api::PoetryApp app = make_app(api::BuildEngine::buildkit);
    app.metadata.uid.clear();
    auto r = build::make_job(app, request(), {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::invalid);
    EXPECT_THAT(r.error().message, HasSubstr("metadata.uid"));

    app = make_app(api::BuildEngine::buildkit);
    auto bad = request();
    bad.commit = "main";
    EXPECT_THAT(build::make_job(app, bad, {}).error().message, HasSubstr("40-hex"));
    bad = request();
    bad.tag = "1.4.2+local";
    EXPECT_THAT(build::make_job(app, bad, {}).error().message, HasSubstr("not a valid OCI tag"));
    app.spec.build->dockerfile = "../Dockerfile";
    EXPECT_THAT(build::make_job(app, request(), {}).error().message,
                HasSubstr("spec.build.dockerfile"));
    app = make_app(api::BuildEngine::buildkit);
    app.spec.build.reset();
    EXPECT_THAT(build::make_job(app, request(), {}).error().message, HasSubstr("spec.build"));
}

TEST(BuildJobName, IsDeterministicShortAndDistinct) {
    EXPECT_EQ(build::job_name("team-a", "billing", kSha),
              build::job_name("team-a", "billing", kSha));
    std::string n = build::job_name("team-a", "billing", kSha);
    EXPECT_THAT(n, testing::StartsWith("billing-0123456-"));
    EXPECT_EQ(n.size(), std::string("billing-0123456-").size() + 8);
    EXPECT_NE(n, build::job_name("team-b", "billing", kSha)) << "namespaces differ";
    EXPECT_NE(n, build::job_name("team-a", "billing", std::string(40, 'f'))) << "commits differ";

    // Long names that cut alike still get distinct, valid names of at most 63 characters.
    std::string stem(80, 'a');
    std::set<std::string> names;
    for (const char* tail : {"-one", "-two", ".three", "-four"}) {
        std::string name = build::job_name("ns", stem + tail, kSha);
        EXPECT_LE(name.size(), 63u) << name;
        EXPECT_TRUE(api::is_dns1123_label(name)) << name;
        names.insert(name);
    }
    EXPECT_EQ(names.size(), 4u);
    // Subdomain characters become a label's.
    std::string dotted = build::job_name("ns", "Billing.API_v2", kSha);
    EXPECT_TRUE(api::is_dns1123_label(dotted)) << dotted;
    EXPECT_THAT(dotted, testing::StartsWith("billing-api-v2-0123456-"));
}

TEST(BuildJobName, AppLabelFitsALabelValue) {
    EXPECT_EQ(build::app_label("billing"), "billing");
    EXPECT_EQ(build::app_label("api.v2"), "api.v2");
    std::string long_name(100, 'x');
    std::string a = build::app_label(long_name + "-a");
    std::string b = build::app_label(long_name + "-b");
    EXPECT_LE(a.size(), 63u);
    EXPECT_NE(a, b);
    EXPECT_EQ(a, build::app_label(long_name + "-a"));
    json job = make(make_app(api::BuildEngine::buildkit));
    EXPECT_EQ(job["metadata"]["labels"]["poetryops.io/app"], build::app_label("billing"));
}

TEST(BuildJobRead, ACompleteJobReportsTheBuildersDigest) {
    json job = served(make(make_app(api::BuildEngine::buildkit)), json::parse(R"({
        "startTime": "2026-05-04T10:00:02Z", "completionTime": "2026-05-04T10:02:33Z",
        "succeeded": 1, "ready": 0, "terminating": 0,
        "uncountedTerminatedPods": {},
        "conditions": [
          {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": "2026-05-04T10:02:33Z", "lastProbeTime": "2026-05-04T10:02:33Z"},
          {"type": "Complete", "status": "True", "lastTransitionTime": "2026-05-04T10:02:33Z", "lastProbeTime": "2026-05-04T10:02:33Z"}]})"));
    json pod = pod_of(job, json::parse(R"({"phase": "Succeeded",
        "initContainerStatuses": [{"name": "prepare", "ready": true, "restartCount": 0, "image": "p", "imageID": "p",
          "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2026-05-04T10:00:05Z", "finishedAt": "2026-05-04T10:00:09Z"}}}],
        "containerStatuses": [{"name": "build", "ready": false, "restartCount": 0, "image": "b", "imageID": "b",
          "state": {"terminated": {"exitCode": 0, "reason": "Completed", "message": ")" +
                                       kDigest + R"(",
            "startedAt": "2026-05-04T10:00:10Z", "finishedAt": "2026-05-04T10:02:31Z"}}}]})"));
    std::vector<json> pods{pod};
    auto o = build::read_job(job, pods);
    EXPECT_EQ(o.phase, build::JobPhase::succeeded);
    EXPECT_EQ(o.digest, kDigest);
    EXPECT_EQ(o.name, job["metadata"]["name"]);
    EXPECT_EQ(o.commit, kSha);
    EXPECT_EQ(o.tag, "1.4.2-0123456");
    EXPECT_EQ(o.version, "1.4.2");
    ASSERT_TRUE(o.start_time && o.completion_time);
    EXPECT_EQ(*o.completion_time - *o.start_time, std::chrono::seconds(151));

    // A termination message that is not a sha256 digest is no digest.
    for (const char* junk : {"", "sha256:1234", "sha512:abc", "built!"}) {
        pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]["message"] = junk;
        auto bad = build::read_job(job, pods);
        EXPECT_EQ(bad.phase, build::JobPhase::succeeded) << junk;
        EXPECT_EQ(bad.digest, "") << junk;
        EXPECT_EQ(bad.reason, "NoDigest") << junk;
    }
    // A trailing newline is not part of the digest.
    pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]["message"] = kDigest + "\n";
    EXPECT_EQ(build::read_job(job, pods).digest, kDigest);
}

TEST(BuildJobRead, FailuresSayWhichContainerAndWhy) {
    json job = served(make(make_app(api::BuildEngine::kaniko)), json::parse(R"({
        "startTime": "2026-05-04T10:00:02Z", "failed": 1,
        "conditions": [
          {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastTransitionTime": "2026-05-04T10:01:02Z"},
          {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastTransitionTime": "2026-05-04T10:01:03Z"}]})"));
    std::string log = "INFO[0040] RUN poetry install --only main\n" + std::string(3000, '.') +
                      "\nerror building image: error building stage: failed to execute command: "
                      "waiting for process to exit: exit status 1\n";
    json pod = pod_of(
        job,
        {{"phase", "Failed"},
         {"initContainerStatuses",
          json::array({{{"name", "prepare"},
                        {"state", {{"terminated", {{"exitCode", 0}, {"reason", "Completed"}}}}}}})},
         {"containerStatuses",
          json::array(
              {{{"name", "build"},
                {"state",
                 {{"terminated", {{"exitCode", 1}, {"reason", "Error"}, {"message", log}}}}}}})}});
    std::vector<json> pods{pod};
    auto o = build::read_job(job, pods);
    EXPECT_EQ(o.phase, build::JobPhase::failed);
    EXPECT_EQ(o.reason, "BackoffLimitExceeded");
    EXPECT_THAT(o.message, HasSubstr("build container: Error (exit code 1)"));
    EXPECT_THAT(o.message, HasSubstr("exit status 1"));
    EXPECT_LT(o.message.size(), 1200u) << "the log tail is bounded";
    EXPECT_EQ(o.message.find('\n'), std::string::npos) << "one line";
    ASSERT_TRUE(o.completion_time);
    // Which log explains it: the builder container of this Pod.
    EXPECT_EQ(o.failed_pod, pod["metadata"]["name"]);
    EXPECT_EQ(o.failed_container, "build");

    // The pods/log API's tail replaces the termination message, one bounded line; a blank log
    // changes nothing.
    build::JobObservation with = o;
    build::with_log(with, "STEP 5/9: RUN poetry install\n" + std::string(4000, 'x') +
                              "\nError: building at STEP \"RUN poetry install\": exit status 1\n");
    EXPECT_THAT(with.message, testing::StartsWith("build container: Error (exit code 1): "));
    EXPECT_THAT(with.message, HasSubstr("Error: building at STEP"));
    EXPECT_LT(with.message.size(), 1600u);
    EXPECT_EQ(with.message.find('\n'), std::string::npos);
    build::JobObservation blank = o;
    build::with_log(blank, "  \n");
    EXPECT_EQ(blank.message, o.message);

    // OOMKilled is the reason that matters.
    pods[0]["status"]["containerStatuses"][0]["state"]["terminated"] =
        json{{"exitCode", 137}, {"reason", "OOMKilled"}};
    o = build::read_job(job, pods);
    EXPECT_EQ(o.reason, "OOMKilled");
    EXPECT_THAT(o.message, HasSubstr("OOMKilled (exit code 137)"));

    // The prepare step failed: its message (poetryops' one error line) is the story.
    pods[0]["status"]["initContainerStatuses"][0]["state"]["terminated"] =
        json{{"exitCode", 2},
             {"reason", "Error"},
             {"message",
              "poetryops build prepare: services/billing/pyproject.toml: not found at 0123456\n"}};
    pods[0]["status"]["containerStatuses"][0]["state"] =
        json{{"waiting", {{"reason", "PodInitializing"}}}};
    o = build::read_job(job, pods);
    EXPECT_THAT(o.message, HasSubstr("prepare container: Error (exit code 2)"));
    EXPECT_THAT(o.message, HasSubstr("pyproject.toml: not found"));

    // Past activeDeadlineSeconds: the Job's reason, its Pods already gone.
    job["status"]["conditions"] = json::parse(R"([{"type": "Failed", "status": "True",
        "reason": "DeadlineExceeded", "message": "Job was active longer than specified deadline",
        "lastTransitionTime": "2026-05-04T10:30:02Z"}])");
    o = build::read_job(job, {});
    EXPECT_EQ(o.phase, build::JobPhase::failed);
    EXPECT_EQ(o.reason, "DeadlineExceeded");
    EXPECT_EQ(o.message, "Job was active longer than specified deadline");
}

TEST(BuildJobRead, PendingAndRunning) {
    json job =
        served(make(make_app(api::BuildEngine::buildah)),
               json::parse(R"({"startTime": "2026-05-04T10:00:02Z", "active": 1, "ready": 0})"));
    EXPECT_EQ(build::read_job(job, {}).phase, build::JobPhase::pending);

    // Suspended (beyond --max-concurrent-builds): queued, and says for what.
    json queued = job;
    queued["spec"]["suspend"] = true;
    queued["status"] = json::object();
    auto q = build::read_job(queued, {});
    EXPECT_EQ(q.phase, build::JobPhase::pending);
    EXPECT_EQ(q.reason, "Queued");
    EXPECT_THAT(q.message, HasSubstr("--max-concurrent-builds"));

    json unscheduled = pod_of(job, json::parse(R"({"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
         "message": "0/3 nodes are available: 3 Insufficient memory."}]})"));
    std::vector<json> pods{unscheduled};
    auto o = build::read_job(job, pods);
    EXPECT_EQ(o.phase, build::JobPhase::pending);
    EXPECT_EQ(o.reason, "Unschedulable");
    EXPECT_THAT(o.message, HasSubstr("Insufficient memory"));

    json pulling = pod_of(job, json::parse(R"({"phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "True"}],
        "initContainerStatuses": [{"name": "prepare", "state": {"waiting": {"reason": "ImagePullBackOff",
          "message": "Back-off pulling image \"ghcr.io/poetryops/poetryops:0.1.0\""}}}],
        "containerStatuses": [{"name": "build", "state": {"waiting": {"reason": "PodInitializing"}}}]})"));
    pods = {pulling};
    o = build::read_job(job, pods);
    EXPECT_EQ(o.phase, build::JobPhase::pending);
    EXPECT_EQ(o.reason, "ImagePullBackOff");
    EXPECT_THAT(o.message, HasSubstr("prepare container: ImagePullBackOff"));

    // The prepare step running counts as building.
    json preparing = pod_of(job, json::parse(R"({"phase": "Pending",
        "initContainerStatuses": [{"name": "prepare", "state": {"running": {"startedAt": "2026-05-04T10:00:06Z"}}}],
        "containerStatuses": [{"name": "build", "state": {"waiting": {"reason": "PodInitializing"}}}]})"));
    pods = {preparing};
    EXPECT_EQ(build::read_job(job, pods).phase, build::JobPhase::running);
    json running = pod_of(job, json::parse(R"({"phase": "Running"})"));
    pods = {running};
    EXPECT_EQ(build::read_job(job, pods).phase, build::JobPhase::running);

    // Pods of another Job (an earlier one of the same name, or another name) are not read.
    json other = running;
    other["metadata"]["ownerReferences"][0]["uid"] = "another-uid";
    pods = {other};
    EXPECT_EQ(build::read_job(job, pods).phase, build::JobPhase::pending);
}

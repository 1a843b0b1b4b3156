#include <poetryops/api/codec.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <limits>

using namespace poetryops::api;
using nlohmann::json;

namespace {
const char* kMinimal = R"(
apiVersion: poetryops.io/v1alpha1
kind: PoetryApp
metadata: {name: hello, namespace: ns, generation: 2, annotations: {poetryops.io/approve.prod: "sha256:abc"}}
spec:
  image: {repository: localhost:5000/demo/hello}
  gitops: {repoURL: "file:///srv/git/deploy.git"}
  futureField: {anything: [1, 2]}
  environments:
  - {name: dev, path: envs/dev, unknownToo: true}
  - {name: prod, path: envs/prod, canary: {traffic: {route: r, stable: s, canary: c}}}
)";
}

TEST(Codec, YamlDefaultsAndUnknownFieldsTolerated) {
    auto apps = load_poetryapps_yaml(kMinimal, "hello.yaml");
    ASSERT_TRUE(apps) << apps.error().message;
    ASSERT_EQ(apps->size(), 1u);
    const PoetryApp& app = apps->front();
    EXPECT_EQ(app.key(), "ns/hello");
    EXPECT_EQ(app.metadata.generation, 2);
    EXPECT_EQ(app.metadata.annotations.at("poetryops.io/approve.prod"), "sha256:abc");
    EXPECT_EQ(app.spec.gitops.branch, "main");
    EXPECT_EQ(app.spec.image.tag_template, "{version}-{shortSha}");
    EXPECT_EQ(app.spec.environments[0].update.kind, UpdateKind::kustomize);
    EXPECT_EQ(app.spec.environments[0].update.effective_file(), "kustomization.yaml");
    EXPECT_TRUE(app.spec.environments[1].promotion.auto_promote);
    EXPECT_EQ(app.spec.environments[1].health.kind(), HealthKind::none);
    EXPECT_EQ(app.spec.upstream_of(1), std::optional<std::string>("dev"));
    EXPECT_EQ(app.spec.upstream_of(0), std::nullopt);
    ASSERT_TRUE(app.spec.environments[1].canary);
    EXPECT_EQ(app.spec.environments[1].canary->steps.size(), 2u);
    EXPECT_EQ(app.spec.environments[1].canary->steps[0].weight, 10);
    EXPECT_EQ(app.spec.history_limit, 10);
}

TEST(Codec, SpecRoundTripsThroughJson) {
    auto apps = load_poetryapps_yaml(kMinimal, "hello.yaml");
    ASSERT_TRUE(apps);
    json once = encode_poetryapp(apps->front());
    std::vector<FieldError> errors;
    PoetryApp again = decode_poetryapp(once, errors);
    EXPECT_TRUE(errors.empty());
    EXPECT_EQ(encode_poetryapp(again), once);
}

TEST(Codec, StatusRoundTripsAndSummary) {
    PoetryAppStatus st;
    st.observed_generation = 4;
    auto t = std::chrono::sys_days{std::chrono::year{2026} / 3 / 1} + std::chrono::hours(5);
    set_condition(st.conditions, Condition{"Ready", "True", 4, {}, "SpecValid", "ok"}, t);
    EnvironmentStatus dev;
    dev.name = "dev";
    dev.version = "1.4.2";
    dev.digest = "sha256:aa";
    dev.phase = Phase::healthy;
    dev.since = t;
    EnvironmentStatus prod;
    prod.name = "prod";
    prod.version = "1.3.0";
    prod.phase = Phase::held;
    prod.held = true;
    prod.held_image = "r/x:hotfix";
    st.environments = {dev, prod};
    for (int i = 0; i < 5; ++i) {
        HistoryEntry h;
        h.environment = "dev";
        h.version = "1.4." + std::to_string(i);
        h.kind = i == 4 ? HistoryKind::rollback : HistoryKind::promote;
        h.time = t;
        record_history(st, h, 3);
    }
    ASSERT_EQ(st.history.size(), 3u);
    EXPECT_EQ(st.history[0].version, "1.4.4");
    EXPECT_EQ(st.history[0].kind, HistoryKind::rollback);

    PoetryAppSpec spec;
    for (const char* name : {"dev", "staging", "prod"}) {
        EnvironmentSpec env;
        env.name = name;
        env.path = std::string("envs/") + name;
        spec.environments.push_back(env);
    }
    st.summary = make_summary(spec, st);
    EXPECT_EQ(st.summary, "dev=1.4.2 staging=- prod=1.3.0(held)");

    json j = encode_status(st);
    EXPECT_EQ(j["conditions"][0]["lastTransitionTime"], "2026-03-01T05:00:00Z");
    EXPECT_EQ(j["history"][0]["kind"], "Rollback");
    EXPECT_EQ(j["environments"][1]["phase"], "Held");
    std::vector<FieldError> errors;
    PoetryAppStatus back = decode_status(j, errors);
    EXPECT_TRUE(errors.empty());
    EXPECT_EQ(encode_status(back), j);
    EXPECT_EQ(back.conditions, st.conditions);
}

TEST(Codec, WrongTypesReportedWithPaths) {
    json j = json::parse(
        R"({"apiVersion": "poetryops.io/v1", "kind": "PoetryApp", "metadata": {"name": "x"},
        "spec": {"image": "registry/x", "gitops": {"repoURL": "file:///g"}, "historyLimit": "ten",
                 "environments": [{"name": "dev", "path": "d", "promotion": {"auto": "yes"}}, 7]}})");
    std::vector<FieldError> errors;
    decode_poetryapp(j, errors);
    std::vector<std::string> paths;
    for (const auto& e : errors) paths.push_back(e.path);
    EXPECT_THAT(paths, testing::UnorderedElementsAre("apiVersion", "spec.image",
                                                     "spec.environments[0].promotion.auto",
                                                     "spec.environments[1]", "spec.historyLimit"));
}

TEST(Codec, YamlScalarsFollowTheCoreSchema) {
    auto docs = yaml_to_json(
        "a: 1\nb: '1'\nc: true\nd: \"true\"\ne: ~\nf: 1.5\ng: 0x1F\nh: 1.4.2\ni: yes\nj: -3\n"
        "k: 1e3\nl:\n",
        "t.yaml");
    ASSERT_TRUE(docs) << docs.error().message;
    const json& d = docs->front();
    EXPECT_EQ(d["a"], 1);
    EXPECT_EQ(d["b"], "1");
    EXPECT_EQ(d["c"], true);
    EXPECT_EQ(d["d"], "true");
    EXPECT_TRUE(d["e"].is_null());
    EXPECT_EQ(d["f"], 1.5);
    EXPECT_EQ(d["g"], 31);
    EXPECT_EQ(d["h"], "1.4.2");
    EXPECT_EQ(d["i"], "yes");  // YAML 1.1 booleans are strings in the 1.2 core schema
    EXPECT_EQ(d["j"], -3);
    EXPECT_EQ(d["k"], 1000.0);
    EXPECT_TRUE(d["l"].is_null());
}

TEST(Codec, YamlErrorsNameFileAndLine) {
    auto bad = yaml_to_json("a: 1\nb: [1, 2\n", "broken.yaml");
    ASSERT_FALSE(bad);
    EXPECT_THAT(bad.error().message, testing::StartsWith("broken.yaml:"));
    auto dup = yaml_to_json("a: 1\nb: 2\na: 3\n", "dup.yaml");
    ASSERT_FALSE(dup);
    EXPECT_THAT(dup.error().message, testing::HasSubstr("dup.yaml:3: duplicate key \"a\""));
    auto deep = yaml_to_json(std::string(200, '[') + std::string(200, ']'), "deep.yaml");
    ASSERT_FALSE(deep);
    EXPECT_THAT(deep.error().message, testing::HasSubstr("nested"));
}

// Refused by the limit they pass, naming it, before a node tree is built: 10,000 levels once gave
// "invalid YAML: bad file" (yaml-cpp's own guard), and a billion laughs in an ignored field cost
// 200 MB and seconds before the converter's node count stopped it.
TEST(Codec, NestingAndAliasBombsAreRefusedByTheirLimitAtOnce) {
    const std::string head =
        "apiVersion: poetryops.io/v1alpha1\nkind: PoetryApp\n"
        "metadata: {name: a}\nspec:\n";
    auto deep = load_poetryapps_yaml(
        head + "  x: " + std::string(10000, '[') + std::string(10000, ']') + "\n", "deep.yaml");
    ASSERT_FALSE(deep);
    EXPECT_EQ(deep.error().message,
              "deep.yaml:5: nested more than 64 levels deep (the nesting limit)");

    std::string bomb =
        head + "  ignored:\n    a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
    std::string prev = "a";
    for (std::string name : {"b", "c", "d", "e", "f", "g", "h", "i"}) {
        bomb += "    " + name + ": &" + name + " [";
        for (int k = 0; k < 9; ++k) bomb += (k ? ", *" : "*") + prev;
        bomb += "]\n";
        prev = name;
    }
    auto started = std::chrono::steady_clock::now();
    auto r = load_poetryapps_yaml(bomb, "bomb.yaml");
    auto took = std::chrono::steady_clock::now() - started;
    ASSERT_FALSE(r);
    EXPECT_THAT(r.error().message, testing::StartsWith("bomb.yaml:"));
    EXPECT_THAT(r.error().message,
                testing::HasSubstr("aliases expand to more than 1,000,000 nodes (the node limit"));
    EXPECT_LT(took, std::chrono::milliseconds(500));
}

TEST(Codec, ValidationErrorsPointAtTheLine) {
    std::string text = std::string(kMinimal) + "---\n" + R"(apiVersion: poetryops.io/v1alpha1
kind: PoetryApp
metadata: {name: second}
spec:
  image: {repository: localhost:5000/demo/hello}
  gitops: {repoURL: "file:///srv/git/deploy.git"}
  environments:
  - name: dev
    path: envs/dev
  - name: prod
    path: envs/prod
    promotion:
      from: qa
)";
    auto r = load_poetryapps_yaml(text, "apps.yaml");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message,
              "apps.yaml:25: PoetryApp second: spec.environments[1].promotion.from: names \"qa\", "
              "which is not an "
              "environment of this app");
}

TEST(Codec, ListsAndOtherKindsInOneFile) {
    const char* text = R"(apiVersion: v1
kind: ConfigMap
metadata: {name: not-ours}
---
apiVersion: v1
kind: List
items:
- apiVersion: poetryops.io/v1alpha1
  kind: PoetryApp
  metadata: {name: a}
  spec: {image: {repository: r/a}, gitops: {repoURL: "file:///g"}, environments: [{name: dev, path: d}]}
- apiVersion: poetryops.io/v1alpha1
  kind: PoetryApp
  metadata: {name: b}
  spec: {image: {repository: r/b}, gitops: {repoURL: "file:///g"}, environments: [{name: dev, path: d}]}
)";
    auto r = load_poetryapps_yaml(text, "list.yaml");
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[1].metadata.name, "b");
}

TEST(Codec, BuildSpecAndBuildsRoundTrip) {
    auto t = std::chrono::sys_days{std::chrono::year{2026} / 3 / 1} + std::chrono::hours(5);
    json spec_part = json::parse(R"({"engine": "kaniko", "cancelOutdated": false})");
    json object = encode_poetryapp(load_poetryapps_yaml(kMinimal, "hello.yaml")->front());
    object["spec"]["source"] = json{{"repoURL", "https://git.example.com/a.git"}};
    object["spec"]["build"] = spec_part;
    std::vector<FieldError> errors;
    PoetryApp app = decode_poetryapp(object, errors);
    ASSERT_TRUE(errors.empty()) << join_errors(errors);
    ASSERT_TRUE(app.spec.build);
    EXPECT_FALSE(app.spec.build->cancel_outdated);
    EXPECT_EQ(app.spec.build->engine, BuildEngine::kaniko);
    EXPECT_EQ(encode_spec(app.spec)["build"]["cancelOutdated"], false);
    // Absent: the default, true (the CRD's default too, Crd.DefaultsMatchTheCode).
    object["spec"]["build"] = json::object();
    EXPECT_TRUE(decode_poetryapp(object, errors).spec.build->cancel_outdated);
    object["spec"]["build"] = json{{"cancelOutdated", "yes"}};
    errors.clear();
    decode_poetryapp(object, errors);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].path, "spec.build.cancelOutdated");

    PoetryAppStatus st;
    BuildStatus running;
    running.commit = std::string(40, 'b');
    running.version = "1.5.0";
    running.tag = "1.5.0-bbbbbbb";
    running.engine = BuildEngine::buildah;
    running.phase = BuildPhase::running;
    running.start_time = t;
    running.job_name = "hello-bbbbbbb-1a2b3c";
    running.reason = "Building";
    BuildStatus failed;
    failed.commit = std::string(40, 'a');
    failed.version = "1.4.0";
    failed.phase = BuildPhase::failed;
    failed.start_time = t - std::chrono::minutes(10);
    failed.duration = "2m31s";
    failed.reason = "StaleLock";
    failed.message = "poetry.lock: stale";
    st.builds = {running, failed};
    st.building = "bbbbbbb";
    json j = encode_status(st);
    EXPECT_EQ(j["builds"][0]["phase"], "Running");
    EXPECT_EQ(j["builds"][0]["engine"], "buildah");
    EXPECT_EQ(j["builds"][0]["startTime"], "2026-03-01T05:00:00Z");
    EXPECT_EQ(j["builds"][0]["jobName"], "hello-bbbbbbb-1a2b3c");
    EXPECT_FALSE(j["builds"][0].contains("digest"));
    EXPECT_EQ(j["builds"][1]["duration"], "2m31s");
    EXPECT_EQ(j["building"], "bbbbbbb");
    errors.clear();
    PoetryAppStatus back = decode_status(j, errors);
    EXPECT_TRUE(errors.empty()) << join_errors(errors);
    ASSERT_EQ(back.builds.size(), 2u);
    EXPECT_EQ(back.builds[1].reason, "StaleLock");
    EXPECT_EQ(encode_status(back), j);

    j["builds"][0]["phase"] = "Done";
    j["builds"][1]["startTime"] = "yesterday";
    errors.clear();
    decode_status(j, errors);
    std::vector<std::string> paths;
    for (const auto& e : errors) paths.push_back(e.path);
    EXPECT_THAT(paths, testing::UnorderedElementsAre("status.builds[0].phase",
                                                     "status.builds[1].startTime"));
}

TEST(Codec, CanarySpecFieldsDefaultDecodeAndRoundTrip) {
    auto apps = load_poetryapps_yaml(kMinimal, "hello.yaml");
    ASSERT_TRUE(apps) << apps.error().message;
    const CanarySpec& minimal = *apps->front().spec.environments[1].canary;
    EXPECT_EQ(minimal.workload, "");
    EXPECT_EQ(minimal.effective_workload(), "c");

    const char* full = R"(
apiVersion: poetryops.io/v1alpha1
kind: PoetryApp
metadata: {name: billing}
spec:
  image: {repository: registry.example.com/acme/billing}
  gitops: {repoURL: "https://git.example.com/acme/deploy.git"}
  environments:
  - name: prod
    path: envs/prod
    canary:
      workload: billing-canary-v2
      traffic: {route: billing, stable: billing, canary: billing-canary}
      analysis:
        prometheus: {address: "https://prom:9090", secretRef: {name: prom-auth}}
        judge: compare
        inconclusiveLimit: 5
        onUnavailable: abort
        tolerance: 0.5
        confidence: 0.95
        metrics:
        - {name: success-rate}
        - {name: latency-p99-ms, max: 500}
        - {name: queue-depth, query: 'sum(queue{service="{{ canary }}"})', direction: Either}
        - {name: throughput, query: 'sum(rate(x{service="{{canary}}"}[1m]))', direction: LowerIsWorse}
)";
    auto loaded = load_poetryapps_yaml(full, "full.yaml");
    ASSERT_TRUE(loaded) << loaded.error().message;
    const CanarySpec& c = *loaded->front().spec.environments[0].canary;
    EXPECT_EQ(c.workload, "billing-canary-v2");
    EXPECT_EQ(c.effective_workload(), "billing-canary-v2");
    const AnalysisSpec& a = *c.analysis;
    EXPECT_EQ(a.judge, CanaryJudge::compare);
    EXPECT_EQ(a.inconclusive_limit, 5);
    EXPECT_EQ(a.on_unavailable, OnUnavailable::abort);
    EXPECT_DOUBLE_EQ(a.tolerance, 0.5);
    EXPECT_DOUBLE_EQ(a.confidence, 0.95);
    ASSERT_TRUE(a.prometheus.secret_ref);
    EXPECT_EQ(a.prometheus.secret_ref->name, "prom-auth");
    ASSERT_EQ(a.metrics.size(), 4u);
    EXPECT_EQ(a.metrics[0].direction, std::nullopt);
    EXPECT_EQ(a.metrics[0].effective_direction(), MetricDirection::lower_is_worse);
    EXPECT_EQ(a.metrics[1].effective_direction(), MetricDirection::higher_is_worse);
    EXPECT_EQ(a.metrics[2].effective_direction(), MetricDirection::either);
    EXPECT_EQ(a.metrics[3].direction, MetricDirection::lower_is_worse);

    json once = encode_poetryapp(loaded->front());
    const json& ja = once["spec"]["environments"][0]["canary"]["analysis"];
    EXPECT_EQ(ja["judge"], "compare");
    EXPECT_EQ(ja["onUnavailable"], "abort");
    EXPECT_EQ(ja["prometheus"]["secretRef"]["name"], "prom-auth");
    EXPECT_FALSE(ja["metrics"][0].contains("direction"));  // unset stays unset
    EXPECT_EQ(ja["metrics"][3]["direction"], "LowerIsWorse");
    EXPECT_EQ(once["spec"]["environments"][0]["canary"]["workload"], "billing-canary-v2");
    std::vector<FieldError> errors;
    PoetryApp again = decode_poetryapp(once, errors);
    EXPECT_TRUE(errors.empty()) << join_errors(errors);
    EXPECT_EQ(encode_poetryapp(again), once);

    // Defaults when the analysis says nothing of them.
    AnalysisSpec defaults;
    EXPECT_EQ(defaults.judge, CanaryJudge::threshold);
    EXPECT_EQ(defaults.inconclusive_limit, 3);
    EXPECT_EQ(defaults.on_unavailable, OnUnavailable::hold);
    EXPECT_DOUBLE_EQ(defaults.tolerance, 0.25);
    EXPECT_DOUBLE_EQ(defaults.confidence, 0.98);
}

TEST(Codec, CanaryEnumsAreReportedWithTheirAllowedValues) {
    json j = json::parse(R"({"apiVersion": "poetryops.io/v1alpha1", "kind": "PoetryApp",
      "metadata": {"name": "x"},
      "spec": {"image": {"repository": "r/x"}, "gitops": {"repoURL": "https://g/x.git"},
        "environments": [{"name": "prod", "path": "p",
          "canary": {"traffic": {"route": "r", "stable": "s", "canary": "c"},
                     "analysis": {"prometheus": {"address": "http://p:9090"}, "judge": "kayenta",
                                  "onUnavailable": "retry", "tolerance": "high",
                                  "metrics": [{"name": "success-rate", "min": 0.9,
                                               "direction": "higher-is-worse"}]}}}]}})");
    std::vector<FieldError> errors;
    decode_poetryapp(j, errors);
    std::vector<std::string> messages;
    for (const auto& e : errors) messages.push_back(e.str());
    EXPECT_THAT(
        messages,
        testing::UnorderedElementsAre(
            testing::AllOf(testing::StartsWith("spec.environments[0].canary.analysis.judge:"),
                           testing::HasSubstr("\"threshold\", \"compare\"")),
            testing::AllOf(
                testing::StartsWith("spec.environments[0].canary.analysis.onUnavailable:"),
                testing::HasSubstr("\"hold\", \"abort\"")),
            testing::StartsWith("spec.environments[0].canary.analysis.tolerance: must be a number"),
            testing::AllOf(
                testing::StartsWith("spec.environments[0].canary.analysis.metrics[0].direction:"),
                testing::HasSubstr("\"HigherIsWorse\", \"LowerIsWorse\", \"Either\""))));
}

TEST(Codec, CanaryStatusRoundTripsAndShowsInTheSummary) {
    auto t = std::chrono::sys_days{std::chrono::year{2026} / 3 / 1} + std::chrono::hours(5);
    PoetryAppStatus st;
    EnvironmentStatus prod;
    prod.name = "prod";
    prod.version = "1.3.0";
    prod.phase = Phase::healthy;
    CanaryStatus c;
    c.phase = CanaryPhase::progressing;
    c.version = "1.4.2";
    c.tag = "1.4.2-ab12cd3";
    c.digest = "sha256:" + std::string(64, 'b');
    c.step = 1;
    c.weight = 25;
    c.started = t;
    c.step_started = t + std::chrono::minutes(5);
    c.last_analysis = t + std::chrono::minutes(6);
    c.failures = 1;
    c.inconclusive = 2;
    c.analysis = {
        MetricResult{"success-rate", 0.997, ">= 0.99", AnalysisVerdict::pass, "ok"},
        MetricResult{"latency-p99-ms", std::nullopt, "<= 500", AnalysisVerdict::inconclusive,
                     "no series"},
        MetricResult{"errors", std::numeric_limits<double>::quiet_NaN(), "<= 1",
                     AnalysisVerdict::inconclusive, "NaN"},
    };
    c.commit = std::string(40, 'c');
    c.message = "step 2/3 at 25%";
    prod.canary = c;
    st.environments = {prod};

    PoetryAppSpec spec;
    for (const char* name : {"dev", "prod"}) {
        EnvironmentSpec env;
        env.name = name;
        env.path = std::string("envs/") + name;
        spec.environments.push_back(env);
    }
    EXPECT_EQ(make_summary(spec, st), "dev=- prod=1.4.2(canary 25%)");
    st.environments[0].canary->phase = CanaryPhase::paused;
    EXPECT_EQ(make_summary(spec, st), "dev=- prod=1.4.2(canary 25%)");
    st.environments[0].canary->phase = CanaryPhase::aborted;
    EXPECT_EQ(make_summary(spec, st), "dev=- prod=1.3.0");
    st.environments[0].canary->phase = CanaryPhase::succeeded;
    EXPECT_EQ(make_summary(spec, st), "dev=- prod=1.3.0");
    st.environments[0].canary->phase = CanaryPhase::progressing;

    json j = encode_status(st);
    const json& jc = j["environments"][0]["canary"];
    EXPECT_EQ(jc["phase"], "Progressing");
    EXPECT_EQ(jc["weight"], 25);
    EXPECT_EQ(jc["stepStarted"], "2026-03-01T05:05:00Z");
    EXPECT_EQ(jc["analysis"][0]["verdict"], "Pass");
    EXPECT_EQ(jc["analysis"][0]["value"], 0.997);
    EXPECT_FALSE(jc["analysis"][1].contains("value"));
    EXPECT_FALSE(jc["analysis"][2].contains("value"));  // NaN is not JSON
    EXPECT_EQ(jc["analysis"][2]["verdict"], "Inconclusive");
    std::vector<FieldError> errors;
    PoetryAppStatus back = decode_status(j, errors);
    EXPECT_TRUE(errors.empty()) << join_errors(errors);
    EXPECT_EQ(encode_status(back), j);
    ASSERT_TRUE(back.environments[0].canary);
    EXPECT_EQ(back.environments[0].canary->analysis[0].value, 0.997);
    EXPECT_EQ(back.environments[0].canary->started, t);
}

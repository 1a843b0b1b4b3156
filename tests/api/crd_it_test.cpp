// The CRD against a real kube-apiserver (the run's cluster, tests/support/kube): every CRD in crds/
// is accepted and Established, every example is accepted, the server's defaults are poetryops' own,
// and every rule of docs/api.md that the schema or CEL states is enforced by the server — and by
// poetryops' own validation, which gives the same answer in local mode.
#include <poetryops/controller/resources.hpp>
#include "support/kube/cluster.hpp"
#include "support/kube/crds.hpp"
#include "support/support.hpp"

#include <poetryops/api/codec.hpp>
#include <poetryops/api/poetryapp.hpp>
#include <poetryops/api/validation.hpp>
#include <poetryops/kube/client.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/util/fs.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <string>

using namespace poetryops;
using nlohmann::json;
namespace fs = std::filesystem;
namespace tk = poetryops::test::kube;

namespace {

class CrdIt : public ::testing::Test {
protected:
    void SetUp() override {
        auto cluster = tk::shared_cluster();
        if (!cluster && cluster.error().reason == "Skip") GTEST_SKIP() << cluster.error().message;
        ASSERT_TRUE(cluster) << cluster.error().message;
        auto cfg = (*cluster)->admin();
        ASSERT_TRUE(cfg) << cfg.error().message;
        auto client = kube::RestClient::create(*cfg, {.request_timeout = std::chrono::seconds(20)});
        ASSERT_TRUE(client) << client.error().message;
        client_ = std::move(client).value();
        auto names = tk::apply_crds(*client_, tk::yaml_files(test::source_dir() / "crds"));
        ASSERT_TRUE(names) << names.error().message;
    }

    /// A server-side dry-run create of a PoetryApp in `ns`: the object as the server would store
    /// it, or its refusal.
    Result<json> dry_run_create(const json& object, const std::string& ns = "default") {
        json o = object;
        o["metadata"]["namespace"] = ns;
        auto path = controller::poetryapps().in(ns).path() + "?dryRun=All&fieldValidation=Strict";
        POETRYOPS_TRY(auto body, client_->raw("POST", path, o.dump(), "application/json"));
        return json::parse(body);
    }

    void ensure_namespace(const std::string& ns) {
        json o = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}};
        auto r = client_->apply(kube::resources::namespaces().named(ns), o, "poetryops-tests");
        ASSERT_TRUE(r) << r.error().message;
    }

    std::unique_ptr<kube::RestClient> client_;
};

json base_app() {
    return json::parse(R"({
      "apiVersion": "poetryops.io/v1alpha1", "kind": "PoetryApp", "metadata": {"name": "rules"},
      "spec": {
        "image": {"repository": "registry.example.com/acme/rules"},
        "gitops": {"repoURL": "https://git.example.com/acme/deploy.git"},
        "environments": [
          {"name": "dev", "path": "envs/dev"},
          {"name": "staging", "path": "envs/staging", "promotion": {"from": "dev"}},
          {"name": "prod", "path": "envs/prod", "promotion": {"from": "staging"},
           "canary": {"traffic": {"route": "web", "stable": "web-stable", "canary": "web-canary"},
                      "steps": [{"weight": 10}, {"weight": 50}],
                      "analysis": {"prometheus": {"address": "http://prometheus:9090"},
                                   "metrics": [{"name": "success-rate", "min": 0.99}]}}}
        ]
      }})");
}

}  // namespace

TEST_F(CrdIt, EveryCrdInCrdsIsAcceptedAndEstablished) {
    // SetUp applied them; a second apply is a no-op, not a conflict, and the PoetryApp resource is
    // served.
    auto names = tk::apply_crds(*client_, tk::yaml_files(test::source_dir() / "crds"));
    ASSERT_TRUE(names) << names.error().message;
    EXPECT_THAT(*names, testing::Contains("poetryapps.poetryops.io"));
    auto list = client_->list(controller::poetryapps());
    EXPECT_TRUE(list) << list.error().message;
    auto crd = client_->get(kube::resources::crds().named("poetryapps.poetryops.io"));
    ASSERT_TRUE(crd);
    EXPECT_EQ((*crd)["status"]["acceptedNames"]["shortNames"], json::array({"papp"}));
}

TEST_F(CrdIt, ThirdPartyCrdsTheGatesReadInstall) {
    fs::path dir = tk::shared_crds_dir(test::source_dir());
    if (dir.empty()) {
        if (tk::lane_required())
            FAIL() << "no ../shared/k8s/crds while POETRYOPS_REQUIRE_KUBE_LANE=1";
        GTEST_SKIP() << "no ../shared/k8s/crds (set POETRYOPS_SHARED_K8S_CRDS)";
    }
    auto names = tk::apply_crds(*client_, tk::yaml_files(dir), std::chrono::seconds(60));
    ASSERT_TRUE(names) << names.error().message;
    EXPECT_THAT(*names, testing::IsSupersetOf({"applications.argoproj.io",
                                               "kustomizations.kustomize.toolkit.fluxcd.io",
                                               "httproutes.gateway.networking.k8s.io"}));
}

TEST_F(CrdIt, EveryExampleIsAcceptedWithTheServerDefaultsPoetryopsApplies) {
    int count = 0;
    for (const auto& file : tk::yaml_files(test::source_dir() / "examples/poetryapps")) {
        auto text = read_file(file);
        ASSERT_TRUE(text);
        auto docs = api::yaml_to_json(*text, file.filename().string());
        ASSERT_TRUE(docs) << docs.error().message;
        for (const auto& doc : *docs) {
            if (doc.value("kind", "") != "PoetryApp") continue;
            std::string ns = doc["metadata"].value("namespace", "default");
            ensure_namespace(ns);
            auto stored = dry_run_create(doc, ns);
            ASSERT_TRUE(stored) << file << ": " << stored.error().message;
            auto app = api::load_poetryapp(doc);
            ASSERT_TRUE(app) << file << ": " << app.error().message;
            EXPECT_EQ((*stored)["spec"], api::encode_spec(app->spec))
                << file << "\nserver: " << (*stored)["spec"].dump()
                << "\nours:   " << api::encode_spec(app->spec).dump();
            ++count;
        }
    }
    EXPECT_GE(count, 4);
}

TEST_F(CrdIt, SparseSpecGetsTheSameDefaultsFromTheServerAndFromPoetryops) {
    json o = base_app();
    o["spec"]["source"] = {{"repoURL", "https://git.example.com/acme/rules.git"}};
    o["spec"]["build"] = json::object();
    o["spec"]["environments"][0]["health"] = {{"argocd", {{"application", "rules-dev"}}}};
    o["spec"]["environments"][1]["health"] = {{"flux", {{"kustomization", "rules"}}}};
    o["spec"]["environments"][2]["health"] = {{"deployment", {{"name", "rules"}}}};
    o["spec"]["environments"][2]["canary"].erase("steps");
    o["spec"]["notifications"] = json::parse(
        R"([{"name": "ops", "urlFrom": {"secretKeyRef": {"name": "hooks", "key": "url"}}}])");
    auto stored = dry_run_create(o);
    ASSERT_TRUE(stored) << stored.error().message;
    auto app = api::load_poetryapp(o);
    ASSERT_TRUE(app) << app.error().message;
    EXPECT_EQ((*stored)["spec"], api::encode_spec(app->spec))
        << "server: " << (*stored)["spec"].dump()
        << "\nours:   " << api::encode_spec(app->spec).dump();
}

struct RuleCase {
    const char* name;
    std::function<void(json& spec)> mutate;
    const char* server_says;  // a substring of the API server's refusal
};

TEST_F(CrdIt, EveryRuleIsEnforcedByTheServerAndByPoetryops) {
    const RuleCase cases[] = {
        {"first environment with promotion.from",
         [](json& s) {
             s["environments"][0]["promotion"] = {{"from", "prod"}};
         },
         "the first environment cannot have promotion.from"},
        {"promotion.from names a later environment",
         [](json& s) { s["environments"][1]["promotion"]["from"] = "prod"; },
         "promotion.from must name an earlier environment"},
        {"promotion.from names itself",
         [](json& s) { s["environments"][1]["promotion"]["from"] = "staging"; },
         "promotion.from must name an earlier environment"},
        {"promotion.from names no environment",
         [](json& s) { s["environments"][2]["promotion"]["from"] = "qa"; },
         "promotion.from must name an earlier environment"},
        {"weights decrease",
         [](json& s) {
             s["environments"][2]["canary"]["steps"] =
                 json::parse(R"([{"weight": 50}, {"weight": 10}])");
         },
         "canary step weights must strictly increase"},
        {"weights repeat (identical steps)",
         [](json& s) {
             s["environments"][2]["canary"]["steps"] =
                 json::parse(R"([{"weight": 10, "pause": "1m"}, {"weight": 10, "pause": "1m"}])");
         },
         "canary step weights must strictly increase"},
        {"weights repeat (different pauses)",
         [](json& s) {
             s["environments"][2]["canary"]["steps"] = json::parse(
                 R"([{"weight": 10, "pause": "1m"}, {"weight": 20}, {"weight": 20, "pause": "2m"}])");
         },
         "canary step weights must strictly increase"},
        {"weight above 100",
         [](json& s) { s["environments"][2]["canary"]["steps"][1]["weight"] = 101; },
         "should be less than or equal to 100"},
        {"two health gates",
         [](json& s) {
             s["environments"][0]["health"] = {{"argocd", {{"application", "a"}}},
                                               {"flux", {{"kustomization", "k"}}}};
         },
         "set at most one of argocd, flux and deployment"},
        {"update.tag without helm",
         [](json& s) {
             s["environments"][0]["update"] = {{"kind", "kustomize"}, {"tag", "image.tag"}};
         },
         "update.tag and update.digest are only used with kind helm"},
        {"update.container without manifest",
         [](json& s) {
             s["environments"][0]["update"] = {{"kind", "helm"}, {"container", "web"}};
         },
         "update.container is only used with kind manifest"},
        {"stable equals canary",
         [](json& s) { s["environments"][2]["canary"]["traffic"]["canary"] = "web-stable"; },
         "traffic.canary must differ from traffic.stable"},
        {"custom metric without query",
         [](json& s) {
             s["environments"][2]["canary"]["analysis"]["metrics"][0]["name"] = "errors";
         },
         "query is required unless name is a built-in metric"},
        {"metric without bounds",
         [](json& s) { s["environments"][2]["canary"]["analysis"]["metrics"][0].erase("min"); },
         "set min, max or both"},
        {"min above max",
         [](json& s) { s["environments"][2]["canary"]["analysis"]["metrics"][0]["max"] = 0.5; },
         "min must not be greater than max"},
        {"inconclusiveLimit below 1",
         [](json& s) { s["environments"][2]["canary"]["analysis"]["inconclusiveLimit"] = 0; },
         "should be greater than or equal to 1"},
        {"tolerance 0",
         [](json& s) { s["environments"][2]["canary"]["analysis"]["tolerance"] = 0; },
         "should be greater than 0"},
        {"confidence 1",
         [](json& s) { s["environments"][2]["canary"]["analysis"]["confidence"] = 1; },
         "should be less than 1"},
        {"confidence 0.5",
         [](json& s) { s["environments"][2]["canary"]["analysis"]["confidence"] = 0.5; },
         "should be greater than 0.5"},
        {"unknown judge",
         [](json& s) { s["environments"][2]["canary"]["analysis"]["judge"] = "kayenta"; },
         "Unsupported value"},
        {"compare with a query that does not select through {{canary}}",
         [](json& s) {
             json& a = s["environments"][2]["canary"]["analysis"];
             a["judge"] = "compare";
             a["metrics"][0] = {{"name", "errors"}, {"query", "sum(errors{service=\"web\"})"}};
         },
         "with judge compare each query must select the canary through {{canary}}"},
        {"build without source", [](json& s) { s["build"] = json::object(); },
         "spec.source is required when spec.build is set"},
        {"duplicate environment names",
         [](json& s) {
             s["environments"][1]["name"] = "dev";
             s["environments"][1].erase("promotion");
         },
         "Duplicate value"},
        {"environment name not a DNS label",
         [](json& s) { s["environments"][0]["name"] = "Dev_1"; }, "should match"},
        {"absolute path", [](json& s) { s["environments"][0]["path"] = "/etc"; }, "should match"},
        {"no environments", [](json& s) { s["environments"] = json::array(); },
         "should have at least 1 items"},
        {"notification type not a known receiver",
         [](json& s) {
             s["notifications"] = json::parse(
                 R"([{"name": "mail", "type": "email", "urlFrom": {"secretKeyRef": {"name": "h", "key": "u"}}}])");
         },
         "Unsupported value"},
        {"hmacKeyFrom on a slack target",
         [](json& s) {
             s["notifications"] = json::parse(
                 R"([{"name": "chat", "type": "slack", "urlFrom": {"secretKeyRef": {"name": "h", "key": "u"}},
                      "hmacKeyFrom": {"secretKeyRef": {"name": "h", "key": "k"}}}])");
         },
         "hmacKeyFrom is only used with type webhook"},
        {"notification event unknown",
         [](json& s) {
             s["notifications"] = json::parse(
                 R"([{"name": "ops", "urlFrom": {"secretKeyRef": {"name": "h", "key": "u"}}, "events": ["Deployed"]}])");
         },
         "Unsupported value"},
        {"duplicate notification names",
         [](json& s) {
             s["notifications"] = json::parse(
                 R"([{"name": "ops", "urlFrom": {"secretKeyRef": {"name": "h", "key": "u"}}},
                     {"name": "ops", "urlFrom": {"secretKeyRef": {"name": "h", "key": "v"}}}])");
         },
         "Duplicate value"},
        {"notification without urlFrom",
         [](json& s) { s["notifications"] = json::parse(R"([{"name": "ops"}])"); },
         "Required value"},
    };
    // The base is valid for both.
    {
        auto stored = dry_run_create(base_app());
        ASSERT_TRUE(stored) << stored.error().message;
        auto app = api::load_poetryapp(base_app());
        ASSERT_TRUE(app) << app.error().message;
    }
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        json o = base_app();
        c.mutate(o["spec"]);
        auto stored = dry_run_create(o);
        ASSERT_FALSE(stored) << c.name << ": the API server accepted " << o["spec"].dump();
        EXPECT_EQ(stored.error().http_status, 422) << stored.error().message;
        EXPECT_THAT(stored.error().message, testing::HasSubstr(c.server_says));
        auto ours = api::load_poetryapp(o);
        EXPECT_FALSE(ours) << c.name
                           << ": poetryops' own validation accepted what the server refuses";
    }
}

TEST_F(CrdIt, FanOutAndIncreasingWeightsAreAccepted) {
    json o = base_app();
    // Two environments promoted from the same upstream, and a long increasing ladder.
    o["spec"]["environments"][2]["promotion"]["from"] = "dev";
    o["spec"]["environments"][2]["canary"]["steps"] = json::parse(
        R"([{"weight": 1}, {"weight": 5}, {"weight": 25}, {"weight": 50}, {"weight": 99}])");
    auto stored = dry_run_create(o);
    ASSERT_TRUE(stored) << stored.error().message;
    EXPECT_TRUE(api::load_poetryapp(o));
}

TEST_F(CrdIt, CompareNeedsNoBoundsAndAcceptsSpacesInThePlaceholder) {
    json o = base_app();
    json& a = o["spec"]["environments"][2]["canary"]["analysis"];
    a["judge"] = "compare";
    a["metrics"] = json::parse(R"J([{"name": "success-rate"},
        {"name": "errors", "query": "sum(rate(errors{service=\"{{ canary }}\"}[{{interval}}]))",
         "direction": "HigherIsWorse"},
        {"name": "tabbed", "query": "sum(x{service=\"{{\tcanary}}\"})"}])J");
    o["spec"]["environments"][2]["canary"]["workload"] = "web-canary-v2";
    a["prometheus"]["secretRef"] = {{"name", "prom-auth"}};
    auto stored = dry_run_create(o);
    ASSERT_TRUE(stored) << stored.error().message;
    auto app = api::load_poetryapp(o);
    ASSERT_TRUE(app) << app.error().message;
    EXPECT_EQ((*stored)["spec"], api::encode_spec(app->spec))
        << "server: " << (*stored)["spec"].dump()
        << "\nours:   " << api::encode_spec(app->spec).dump();
}

TEST_F(CrdIt, CanaryStatusSurvivesTheStatusSubresource) {
    const std::string ns = "crd-canary";
    ensure_namespace(ns);
    json o = base_app();
    o["metadata"]["name"] = "canary";
    o["metadata"]["namespace"] = ns;
    auto ref = controller::poetryapps().in(ns).named("canary");
    (void)client_->remove(ref);
    auto created = client_->create(controller::poetryapps().in(ns), o);
    ASSERT_TRUE(created) << created.error().message;

    auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    api::PoetryAppStatus st;
    api::EnvironmentStatus prod;
    prod.name = "prod";
    prod.version = "1.3.0";
    prod.phase = api::Phase::healthy;
    api::CanaryStatus c;
    c.phase = api::CanaryPhase::paused;
    c.version = "1.4.2";
    c.tag = "1.4.2-ab12cd3";
    c.digest = "sha256:" + std::string(64, 'e');
    c.step = 1;
    c.weight = 25;
    c.started = now - std::chrono::minutes(7);
    c.step_started = now - std::chrono::minutes(2);
    c.last_analysis = now;
    c.failures = 1;
    c.inconclusive = 2;
    c.analysis = {
        {"success-rate", 0.9975, ">= 0.99", api::AnalysisVerdict::pass, "ok"},
        {"latency-p99-ms", std::nullopt, "<= 500", api::AnalysisVerdict::inconclusive, "no series"},
        {"requests", 42, ">= 100", api::AnalysisVerdict::fail, "too few"}};
    c.commit = std::string(40, 'a');
    c.message = "paused by poetryops.io/canary.prod";
    prod.canary = c;
    st.environments = {prod};
    api::PoetryAppSpec spec;
    std::vector<api::FieldError> spec_errors;
    spec = api::decode_poetryapp(o, spec_errors).spec;
    st.summary = api::make_summary(spec, st);
    EXPECT_EQ(st.summary, "dev=- staging=- prod=1.4.2(canary 25%)");
    json with_status = *created;
    with_status["status"] = api::encode_status(st);
    auto written = client_->update_status(ref, with_status);
    ASSERT_TRUE(written) << written.error().message;
    auto read = client_->get(ref);
    ASSERT_TRUE(read) << read.error().message;
    std::vector<api::FieldError> errors;
    api::PoetryAppStatus back = api::decode_status((*read)["status"], errors);
    EXPECT_TRUE(errors.empty()) << api::join_errors(errors);
    // Nothing pruned: what we wrote is what the server keeps.
    EXPECT_EQ(api::encode_status(back), api::encode_status(st)) << (*read)["status"].dump();
    EXPECT_TRUE(client_->remove(ref));
}

TEST_F(CrdIt, BuildStatusSurvivesTheStatusSubresourceAndFeedsTheBuildColumn) {
    const std::string ns = "crd-builds";
    ensure_namespace(ns);
    json o = base_app();
    o["metadata"]["name"] = "builds";
    o["metadata"]["namespace"] = ns;
    o["spec"]["source"] = {{"repoURL", "https://git.example.com/acme/rules.git"}};
    o["spec"]["build"] = {{"cancelOutdated", false}};
    auto ref = controller::poetryapps().in(ns).named("builds");
    (void)client_->remove(ref);
    auto created = client_->create(controller::poetryapps().in(ns), o);
    ASSERT_TRUE(created) << created.error().message;
    EXPECT_EQ((*created)["spec"]["build"]["cancelOutdated"], false);

    api::PoetryAppStatus st;
    api::BuildStatus b;
    b.commit = "0123456789abcdef0123456789abcdef01234567";
    b.version = "1.5.0";
    b.tag = "1.5.0-0123456";
    b.engine = api::BuildEngine::kaniko;
    b.phase = api::BuildPhase::running;
    b.start_time =
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    b.job_name = "builds-0123456-abcdef";
    b.reason = std::string(api::kReasonBuilding);
    b.message = "building";
    api::BuildStatus old = b;
    old.commit = "fedcba9876543210fedcba9876543210fedcba98";
    old.phase = api::BuildPhase::failed;
    old.duration = "1m2s";
    old.reason = std::string(api::kReasonStaleLock);
    old.message = "poetry.lock does not match pyproject.toml";
    st.builds = {b, old};
    st.building = "0123456";
    json with_status = *created;
    with_status["status"] = api::encode_status(st);
    auto written = client_->update_status(ref, with_status);
    ASSERT_TRUE(written) << written.error().message;
    auto read = client_->get(ref);
    ASSERT_TRUE(read) << read.error().message;
    std::vector<api::FieldError> errors;
    api::PoetryAppStatus back = api::decode_status((*read)["status"], errors);
    EXPECT_TRUE(errors.empty()) << api::join_errors(errors);
    // Nothing pruned: what we wrote is what the server keeps.
    EXPECT_EQ(api::encode_status(back), api::encode_status(st)) << (*read)["status"].dump();
    // The Build printer column reads .status.building.
    auto crd = client_->get(kube::resources::crds().named("poetryapps.poetryops.io"));
    ASSERT_TRUE(crd);
    bool found = false;
    for (const auto& c : (*crd)["spec"]["versions"][0]["additionalPrinterColumns"]) {
        if (c["name"] == "Build") {
            found = true;
            EXPECT_EQ(c["jsonPath"], ".status.building");
        }
    }
    EXPECT_TRUE(found);
    EXPECT_TRUE(client_->remove(ref));
}

/// promotion.approval changed from a string to an object: the API server refuses the old form with
/// the field path (never a silent change), accepts the object with its defaults, and keeps
/// status.environments[].approvals through the status subresource.
TEST_F(CrdIt, TheOldApprovalStringIsRefusedAndApprovalsStatusSurvives) {
    json old = base_app();
    old["spec"]["environments"][2]["promotion"]["approval"] = "required";
    auto refused = dry_run_create(old);
    ASSERT_FALSE(refused);
    EXPECT_THAT(refused.error().message,
                testing::HasSubstr("spec.environments[2].promotion.approval"));
    EXPECT_THAT(refused.error().message, testing::HasSubstr("object"));

    json now = base_app();
    now["spec"]["environments"][2]["promotion"]["approval"] = {{"required", true}};
    auto stored = dry_run_create(now);
    ASSERT_TRUE(stored) << stored.error().message;
    EXPECT_EQ((*stored)["spec"]["environments"][2]["promotion"]["approval"],
              (json{{"required", true}, {"approvers", 1}}));
    now["spec"]["environments"][2]["promotion"]["approval"] = {{"required", true},
                                                               {"approvers", 0}};
    EXPECT_FALSE(dry_run_create(now));

    const std::string ns = "crd-approvals";
    ensure_namespace(ns);
    json o = base_app();
    o["metadata"]["name"] = "approvals";
    o["metadata"]["namespace"] = ns;
    auto ref = controller::poetryapps().in(ns).named("approvals");
    (void)client_->remove(ref);
    auto created = client_->create(controller::poetryapps().in(ns), o);
    ASSERT_TRUE(created) << created.error().message;
    api::PoetryAppStatus st;
    api::EnvironmentStatus prod;
    prod.name = "prod";
    prod.phase = api::Phase::pending;
    api::ApprovalRecord r;
    r.name = "approvals-prod-eeeeeeeeeeee-x1";
    r.digest = "sha256:" + std::string(64, 'e');
    r.approver = "kubectl-poetryops";
    r.source = api::IdentitySource::managed_fields;
    r.decision = api::ApprovalDecision::reject;
    r.reason = "CVE";
    r.time = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    r.message = "blocks sha256:eeeeeeeeeeee in prod: CVE";
    prod.approvals = {r};
    st.environments = {prod};
    json with_status = *created;
    with_status["status"] = api::encode_status(st);
    auto written = client_->update_status(ref, with_status);
    ASSERT_TRUE(written) << written.error().message;
    auto read = client_->get(ref);
    ASSERT_TRUE(read);
    std::vector<api::FieldError> errors;
    api::PoetryAppStatus back = api::decode_status((*read)["status"], errors);
    EXPECT_TRUE(errors.empty()) << api::join_errors(errors);
    EXPECT_EQ(api::encode_status(back), api::encode_status(st)) << (*read)["status"].dump();
    EXPECT_TRUE(client_->remove(ref));
}

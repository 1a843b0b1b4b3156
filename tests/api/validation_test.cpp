#include <poetryops/api/validation.hpp>

#include <poetryops/api/codec.hpp>
#include <poetryops/oci/tag_template.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace poetryops::api;
using nlohmann::json;

namespace {

json base_app() {
    return json::parse(R"({
      "apiVersion": "poetryops.io/v1alpha1", "kind": "PoetryApp",
      "metadata": {"name": "billing", "namespace": "team-a", "generation": 3},
      "spec": {
        "source": {"repoURL": "https://git.example.com/acme/billing.git"},
        "image": {"repository": "registry.example.com/acme/billing"},
        "build": {},
        "gitops": {"repoURL": "ssh://git@git.example.com/acme/deploy.git"},
        "environments": [
          {"name": "dev", "path": "envs/dev"},
          {"name": "staging", "path": "envs/staging", "promotion": {"from": "dev", "soak": "10m"}},
          {"name": "prod", "path": "envs/prod", "promotion": {"from": "staging", "approval": {"required": true}},
           "canary": {"traffic": {"route": "billing", "stable": "billing", "canary": "billing-canary"},
                      "steps": [{"weight": 5, "pause": "5m"}, {"weight": 25}, {"weight": 50}],
                      "analysis": {"prometheus": {"address": "http://prometheus.monitoring:9090"},
                                   "metrics": [{"name": "success-rate", "min": 0.99}]}}}
        ]
      }})");
}

std::vector<std::string> paths_of(const json& obj) {
    std::vector<FieldError> errors;
    PoetryApp app = decode_poetryapp(obj, errors);
    auto more = validate(app);
    errors.insert(errors.end(), more.begin(), more.end());
    std::vector<std::string> paths;
    for (const auto& e : errors) paths.push_back(e.path);
    return paths;
}

std::string message_for(const json& obj, const std::string& path) {
    std::vector<FieldError> errors;
    PoetryApp app = decode_poetryapp(obj, errors);
    auto more = validate(app);
    errors.insert(errors.end(), more.begin(), more.end());
    for (const auto& e : errors) {
        if (e.path == path) return e.message;
    }
    return "<no error at " + path + ">";
}

}  // namespace

TEST(Validation, BaseAppIsValidAndDurationsParsed) {
    auto r = load_poetryapp(base_app());
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->spec.environments[1].promotion.soak.value, std::chrono::minutes(10));
    EXPECT_EQ(r->spec.environments[2].canary->steps[1].pause.value, std::chrono::minutes(1));
}

TEST(Validation, PromotionFromMustNameAnEarlierEnvironment) {
    json j = base_app();
    j["spec"]["environments"][1]["promotion"]["from"] = "prod";
    EXPECT_THAT(paths_of(j), testing::ElementsAre("spec.environments[1].promotion.from"));
    EXPECT_THAT(message_for(j, "spec.environments[1].promotion.from"),
                testing::HasSubstr("not an earlier"));

    j = base_app();
    j["spec"]["environments"][1]["promotion"]["from"] = "qa";
    EXPECT_THAT(message_for(j, "spec.environments[1].promotion.from"),
                testing::HasSubstr("\"qa\""));

    j = base_app();
    j["spec"]["environments"][2]["promotion"]["from"] = "prod";
    EXPECT_THAT(message_for(j, "spec.environments[2].promotion.from"),
                testing::HasSubstr("itself"));

    j = base_app();
    j["spec"]["environments"][0]["promotion"] = {{"from", "staging"}};
    EXPECT_THAT(paths_of(j), testing::ElementsAre("spec.environments[0].promotion.from"));
}

TEST(Validation, EnvironmentNamesUniqueDnsLabels) {
    json j = base_app();
    j["spec"]["environments"][2]["name"] = "dev";
    j["spec"]["environments"][2]["promotion"]["from"] = "staging";
    EXPECT_THAT(paths_of(j), testing::Contains("spec.environments[2].name"));
    EXPECT_THAT(message_for(j, "spec.environments[2].name"),
                testing::HasSubstr("spec.environments[0]"));

    j = base_app();
    j["spec"]["environments"][0]["name"] = "Dev_1";
    EXPECT_THAT(paths_of(j), testing::Contains("spec.environments[0].name"));
    j["spec"]["environments"] = json::array();
    EXPECT_THAT(paths_of(j), testing::ElementsAre("spec.environments"));
}

TEST(Validation, CanaryWeightsStrictlyIncreasingWithin1To100) {
    json j = base_app();
    j["spec"]["environments"][2]["canary"]["steps"][1]["weight"] = 5;
    EXPECT_THAT(paths_of(j), testing::ElementsAre("spec.environments[2].canary.steps[1].weight"));
    j["spec"]["environments"][2]["canary"]["steps"][1]["weight"] = 0;
    EXPECT_THAT(message_for(j, "spec.environments[2].canary.steps[1].weight"),
                testing::HasSubstr("1..100"));
    j["spec"]["environments"][2]["canary"]["steps"][1]["weight"] = 101;
    EXPECT_THAT(paths_of(j), testing::ElementsAre("spec.environments[2].canary.steps[1].weight"));
    j["spec"]["environments"][2]["canary"]["steps"] =
        json::parse(R"([{"weight": 50}, {"weight": 100}])");
    EXPECT_TRUE(paths_of(j).empty());
}

TEST(Validation, DurationsMustParse) {
    json j = base_app();
    j["spec"]["environments"][1]["promotion"]["soak"] = "10 minutes";
    EXPECT_THAT(paths_of(j), testing::ElementsAre("spec.environments[1].promotion.soak"));
    j = base_app();
    j["spec"]["environments"][2]["canary"]["steps"][0]["pause"] = "1d";
    EXPECT_THAT(paths_of(j), testing::ElementsAre("spec.environments[2].canary.steps[0].pause"));
    j = base_app();
    j["spec"]["image"]["policy"] = {{"pollInterval", "0s"}};
    EXPECT_THAT(message_for(j, "spec.image.policy.pollInterval"),
                testing::HasSubstr("at least 1s"));
    j = base_app();
    j["spec"]["environments"][1]["promotion"]["soak"] = 10;  // a number, not a duration string
    EXPECT_THAT(paths_of(j), testing::ElementsAre("spec.environments[1].promotion.soak"));
}

TEST(Validation, PathsStayInsideTheRepository) {
    for (const char* bad : {"../other", "/etc", "envs/../../x", "envs\\dev", ".git/hooks", ""}) {
        json j = base_app();
        j["spec"]["environments"][0]["path"] = bad;
        EXPECT_THAT(paths_of(j), testing::ElementsAre("spec.environments[0].path")) << bad;
    }
    json j = base_app();
    j["spec"]["environments"][0]["update"] = {{"file", "../values.yaml"}};
    EXPECT_THAT(paths_of(j), testing::ElementsAre("spec.environments[0].update.file"));
    j = base_app();
    j["spec"]["source"]["path"] = "/abs";
    EXPECT_THAT(paths_of(j), testing::ElementsAre("spec.source.path"));
    EXPECT_EQ(check_repo_path("."), "");
    EXPECT_EQ(check_repo_path("envs/dev..old"), "");
}

TEST(Validation, ImageRepositoryIsAReference) {
    for (const char* ok :
         {"registry.example.com/acme/billing", "localhost:5000/demo/hello", "ghcr.io/a/b-c_d.e",
          "billing", "acme/billing", "[::1]:5000/x", "127.0.0.1:5000/a__b/c---d"}) {
        EXPECT_EQ(check_image_repository(ok), "") << ok;
    }
    for (const char* bad :
         {"", "Registry.example.com/Acme", "acme/billing:1.0", "acme/billing@sha256:abc",
          "acme//billing", "-acme/x", "host:99999/x", "acme/bil ling"}) {
        EXPECT_NE(check_image_repository(bad), "") << bad;
    }
    json j = base_app();
    j["spec"]["image"]["repository"] = "registry.example.com/acme/billing:latest";
    EXPECT_THAT(message_for(j, "spec.image.repository"), testing::HasSubstr("tag"));
}

TEST(Validation, UrlsParseAndCarryNoPasswords) {
    for (const char* ok :
         {"https://git.example.com/a/b.git", "ssh://git@host:2222/a.git", "git@github.com:a/b.git",
          "file:///srv/git/x.git", "http://127.0.0.1:8080/git/r.git"}) {
        EXPECT_EQ(check_git_url(ok), "") << ok;
    }
    for (const char* bad :
         {"", "not a url", "ftp://host/x", "https://", "https://host", "/srv/git/x.git",
          "file://relative", "https://user:hunter2@host/x.git"}) {
        EXPECT_NE(check_git_url(bad), "") << bad;
    }
    json j = base_app();
    j["spec"]["gitops"]["repoURL"] = "https://bot:s3cr3t-token@git.example.com/acme/deploy.git";
    std::string msg = message_for(j, "spec.gitops.repoURL");
    EXPECT_THAT(msg, testing::HasSubstr("password"));
    EXPECT_THAT(msg, testing::Not(testing::HasSubstr("s3cr3t")));

    j = base_app();
    j["spec"]["environments"][2]["canary"]["analysis"]["prometheus"]["address"] = "prometheus:9090";
    EXPECT_THAT(paths_of(j),
                testing::ElementsAre("spec.environments[2].canary.analysis.prometheus.address"));
}

TEST(Validation, EnumsReportAllowedValues) {
    json j = base_app();
    j["spec"]["build"]["engine"] = "docker";
    EXPECT_THAT(paths_of(j), testing::ElementsAre("spec.build.engine"));
    EXPECT_THAT(message_for(j, "spec.build.engine"),
                testing::HasSubstr("\"buildkit\", \"kaniko\", \"buildah\""));
    j = base_app();
    j["spec"]["environments"][2]["promotion"]["approval"] = "Required";
    EXPECT_THAT(paths_of(j), testing::ElementsAre("spec.environments[2].promotion.approval"));
}

// The string form of promotion.approval (before approvals had identities) is a clear error naming
// the object that replaces it, not a silent change of meaning.
TEST(Validation, TheOldApprovalStringIsAClearErrorNamingTheNewForm) {
    json j = base_app();
    j["spec"]["environments"][2]["promotion"]["approval"] = "required";
    EXPECT_THAT(message_for(j, "spec.environments[2].promotion.approval"),
                testing::HasSubstr("replace \"required\" with {required: true}"));
    j["spec"]["environments"][2]["promotion"]["approval"] = "none";
    EXPECT_THAT(message_for(j, "spec.environments[2].promotion.approval"),
                testing::HasSubstr("{required: false}"));
    j["spec"]["environments"][2]["promotion"]["approval"] =
        json{{"required", true}, {"approvers", 0}, {"groups", {"ops", ""}}};
    EXPECT_THAT(paths_of(j),
                testing::ElementsAre("spec.environments[2].promotion.approval.approvers",
                                     "spec.environments[2].promotion.approval.groups[1]"));
    j["spec"]["environments"][2]["promotion"]["approval"] =
        json{{"required", true}, {"approvers", 2}, {"groups", {"ops"}}};
    EXPECT_THAT(paths_of(j), testing::IsEmpty());
}

TEST(Validation, HealthAtMostOneGateAndCrossFieldRules) {
    json j = base_app();
    j["spec"]["environments"][1]["health"] =
        json::parse(R"({"argocd": {"application": "a"}, "flux": {"kustomization": "b"}})");
    EXPECT_THAT(paths_of(j), testing::ElementsAre("spec.environments[1].health"));

    j = base_app();
    j["spec"]["environments"][0]["update"] = {{"kind", "kustomize"}, {"tag", "image.tag"}};
    EXPECT_THAT(paths_of(j), testing::ElementsAre("spec.environments[0].update.tag"));

    j = base_app();
    j["spec"].erase("source");
    EXPECT_THAT(paths_of(j), testing::ElementsAre("spec.source"));

    j = base_app();
    j["spec"]["environments"][2]["canary"]["analysis"]["metrics"] =
        json::parse(R"([{"name": "error-budget", "max": 1}, {"name": "success-rate"}])");
    EXPECT_THAT(paths_of(j),
                testing::ElementsAre("spec.environments[2].canary.analysis.metrics[0].query",
                                     "spec.environments[2].canary.analysis.metrics[1]"));
}

TEST(Validation, TagTemplateAndVersionSpecifiers) {
    EXPECT_EQ(check_tag_template("{version}-{shortSha}"), "");
    EXPECT_EQ(check_tag_template("v{version}"), "");
    EXPECT_THAT(check_tag_template("{shortSha}"), testing::HasSubstr("{version}"));
    EXPECT_THAT(check_tag_template("{version}-{commit}"),
                testing::HasSubstr("unknown placeholder"));
    EXPECT_THAT(check_tag_template("{version}+{sha}"), testing::HasSubstr("'+'"));
    EXPECT_THAT(check_tag_template("{version"), testing::HasSubstr("matching"));
    EXPECT_EQ(check_version_specifiers(">=1.4,<2"), "");
    EXPECT_EQ(check_version_specifiers("~=1.4.0, !=1.4.3"), "");
    EXPECT_EQ(check_version_specifiers("==1.4.*"), "");
    EXPECT_NE(check_version_specifiers("1.4"), "");
    EXPECT_NE(check_version_specifiers(">=one"), "");
}

TEST(Validation, ReportsEveryProblemNotJustTheFirst) {
    json j = base_app();
    j["spec"]["image"]["repository"] = "";
    j["spec"]["gitops"]["branch"] = "bad..branch";
    j["spec"]["historyLimit"] = 0;
    EXPECT_THAT(paths_of(j), testing::ElementsAre("spec.image.repository", "spec.gitops.branch",
                                                  "spec.historyLimit"));
    auto r = load_poetryapp(j);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, "InvalidSpec");
    EXPECT_THAT(r.error().message,
                testing::StartsWith("PoetryApp team-a/billing: spec.image.repository: "));
}

TEST(Validation, DnsHelpers) {
    EXPECT_TRUE(is_dns1123_label("prod-eu-1"));
    EXPECT_FALSE(is_dns1123_label("prod.eu"));
    EXPECT_FALSE(is_dns1123_label(std::string(64, 'a')));
    EXPECT_TRUE(is_dns1123_subdomain("billing.v2"));
    EXPECT_FALSE(is_dns1123_subdomain("billing..v2"));
}

// One vocabulary: every placeholder the renderer supports passes validation and renders; an unknown
// one is rejected with the field path (and refused by the renderer too).
TEST(Validation, TagTemplateAcceptsEveryPlaceholderTheRendererSupports) {
    poetryops::oci::TagValues values;
    values.version = "1.4.2";
    values.sha = "ab12cd34ef567890ab12cd34ef567890ab12cd34";
    values.branch = "main";
    values.build_number = "57";
    values.timestamp = poetryops::Clock::time_point{std::chrono::seconds(1772600767)};
    ASSERT_FALSE(poetryops::oci::tag_placeholders().empty());
    for (const auto& p : poetryops::oci::tag_placeholders()) {
        std::string tmpl =
            p.name == "version" ? "v{version}" : "{version}-{" + std::string(p.name) + "}";
        EXPECT_EQ(check_tag_template(tmpl), "") << tmpl;
        json j = base_app();
        j["spec"]["image"]["tagTemplate"] = tmpl;
        EXPECT_THAT(paths_of(j), testing::IsEmpty()) << tmpl;
        auto rendered = poetryops::oci::render_tag(tmpl, values);
        EXPECT_TRUE(rendered) << tmpl << ": " << rendered.error().message;
    }

    json j = base_app();
    j["spec"]["image"]["tagTemplate"] = "{version}-{commit}";
    EXPECT_THAT(paths_of(j), testing::ElementsAre("spec.image.tagTemplate"));
    EXPECT_THAT(message_for(j, "spec.image.tagTemplate"),
                testing::HasSubstr("unknown placeholder {commit}"));
    auto loaded = load_poetryapp(j);
    ASSERT_FALSE(loaded);
    EXPECT_THAT(loaded.error().message, testing::HasSubstr("spec.image.tagTemplate"));
    EXPECT_FALSE(poetryops::oci::render_tag("{version}-{commit}", values));
}

TEST(Validation, CanaryAnalysisParameters) {
    auto analysis = [](json& j) -> json& {
        return j["spec"]["environments"][2]["canary"]["analysis"];
    };
    const std::string ap = "spec.environments[2].canary.analysis";
    json j = base_app();
    analysis(j)["inconclusiveLimit"] = 0;
    analysis(j)["tolerance"] = 0;
    analysis(j)["confidence"] = 0.5;
    analysis(j)["interval"] = "0s";
    EXPECT_THAT(paths_of(j),
                testing::UnorderedElementsAre(ap + ".inconclusiveLimit", ap + ".tolerance",
                                              ap + ".confidence", ap + ".interval"));
    analysis(j)["inconclusiveLimit"] = 1;
    analysis(j)["tolerance"] = 1;
    analysis(j)["confidence"] = 0.999;
    analysis(j)["interval"] = "30s";
    EXPECT_TRUE(paths_of(j).empty());
    analysis(j)["tolerance"] = 1.5;
    analysis(j)["confidence"] = 1;
    EXPECT_THAT(paths_of(j), testing::UnorderedElementsAre(ap + ".tolerance", ap + ".confidence"));
    EXPECT_THAT(message_for(j, ap + ".confidence"), testing::HasSubstr("less than 1"));
}

TEST(Validation, CompareNeedsNoBoundsButQueriesThatSelectTheCanary) {
    json j = base_app();
    json& a = j["spec"]["environments"][2]["canary"]["analysis"];
    const std::string mp = "spec.environments[2].canary.analysis.metrics";
    a["metrics"] = json::parse(R"J([{"name": "success-rate"},
        {"name": "queue", "query": "sum(queue{service=\"{{ canary }}\"})"},
        {"name": "fixed", "query": "sum(queue{service=\"billing-canary\"})"}])J");
    // threshold: every metric needs a bound.
    EXPECT_THAT(paths_of(j), testing::UnorderedElementsAre(mp + "[0]", mp + "[1]", mp + "[2]"));
    EXPECT_THAT(message_for(j, mp + "[0]"), testing::HasSubstr("set min, max or both"));
    // compare: bounds are optional, but the baseline is measured by swapping {{canary}}.
    a["judge"] = "compare";
    EXPECT_THAT(paths_of(j), testing::ElementsAre(mp + "[2].query"));
    EXPECT_THAT(message_for(j, mp + "[2].query"), testing::HasSubstr("{{canary}}"));
    a["metrics"].erase(2);
    EXPECT_TRUE(paths_of(j).empty());
    // Built-in or query, under either judge.
    a["metrics"][0]["name"] = "errors";
    EXPECT_THAT(paths_of(j), testing::ElementsAre(mp + "[0].query"));
}

TEST(Validation, CanaryWorkloadAndPrometheusSecret) {
    json j = base_app();
    json& c = j["spec"]["environments"][2]["canary"];
    c["workload"] = "Billing_Canary";
    c["analysis"]["prometheus"]["secretRef"] = {{"name", ""}};
    EXPECT_THAT(paths_of(j), testing::UnorderedElementsAre(
                                 "spec.environments[2].canary.workload",
                                 "spec.environments[2].canary.analysis.prometheus.secretRef.name"));
    c["workload"] = "billing-canary";
    c["analysis"]["prometheus"]["secretRef"]["name"] = "prom-auth";
    EXPECT_TRUE(paths_of(j).empty());
}

// spec.notifications (issue #16): each bad entry is named by its index and field.
TEST(Validation, NotificationTargetsNameTheBadField) {
    json app = base_app();
    app["spec"]["notifications"] = json::parse(R"([
      {"name": "ops", "urlFrom": {"secretKeyRef": {"name": "hooks", "key": "url"}},
       "hmacKeyFrom": {"secretKeyRef": {"name": "hooks", "key": "hmac"}}},
      {"name": "mail", "type": "email", "urlFrom": {"secretKeyRef": {"name": "hooks", "key": "m"}}},
      {"name": "chat", "type": "slack", "urlFrom": {"secretKeyRef": {"name": "hooks", "key": "s"}},
       "hmacKeyFrom": {"secretKeyRef": {"name": "hooks", "key": "hmac"}}, "events": ["Promoted", "Deployed"]},
      {"name": "ops", "urlFrom": {"secretKeyRef": {"name": "hooks"}}, "events": []}
    ])");
    EXPECT_THAT(
        paths_of(app),
        testing::UnorderedElementsAre(
            "spec.notifications[1].type", "spec.notifications[2].hmacKeyFrom",
            "spec.notifications[2].events[1]", "spec.notifications[3].name",
            "spec.notifications[3].urlFrom.secretKeyRef.key", "spec.notifications[3].events"));
    EXPECT_EQ(message_for(app, "spec.notifications[1].type"),
              "unsupported value \"email\": must be one of \"webhook\", \"slack\", \"teams\"");
    EXPECT_EQ(message_for(app, "spec.notifications[2].hmacKeyFrom"),
              "only webhook targets are signed (type is slack)");
    EXPECT_EQ(
        message_for(app, "spec.notifications[2].events[1]"),
        "unsupported value \"Deployed\": must be one of \"Promoted\", \"WaitingForApproval\", "
        "\"Held\", \"BuildFailed\", \"CanaryAborted\", \"RolledBack\"");
    EXPECT_EQ(message_for(app, "spec.notifications[3].name"),
              "\"ops\" is also the name of spec.notifications[0]");
}

TEST(Validation, NotificationTargetsDefaultToEveryEventAndRoundTrip) {
    json app = base_app();
    app["spec"]["notifications"] = json::parse(R"([
      {"name": "ops", "urlFrom": {"secretKeyRef": {"name": "hooks", "key": "url"}}},
      {"name": "team", "type": "teams", "urlFrom": {"secretKeyRef": {"name": "hooks", "key": "teams"}},
       "events": ["RolledBack"]}
    ])");
    auto loaded = load_poetryapp(app);
    ASSERT_TRUE(loaded) << loaded.error().message;
    ASSERT_EQ(loaded->spec.notifications.size(), 2u);
    const auto& ops = loaded->spec.notifications[0];
    EXPECT_EQ(ops.type, NotificationType::webhook);
    EXPECT_EQ(ops.events.size(), 6u);
    EXPECT_TRUE(ops.wants(NotificationEvent::waiting_for_approval));
    EXPECT_FALSE(ops.hmac_key_from);
    const auto& team = loaded->spec.notifications[1];
    EXPECT_EQ(team.type, NotificationType::teams);
    EXPECT_EQ(team.url_from.key, "teams");
    EXPECT_TRUE(team.wants(NotificationEvent::rolled_back));
    EXPECT_FALSE(team.wants(NotificationEvent::promoted));
    json encoded = encode_spec(loaded->spec);
    EXPECT_EQ(encoded["notifications"][1]["events"], json::array({"RolledBack"}));
    std::vector<FieldError> errors;
    json object = app;
    object["spec"] = encoded;
    EXPECT_EQ(encode_spec(decode_poetryapp(object, errors).spec), encoded);
    EXPECT_TRUE(errors.empty());
}

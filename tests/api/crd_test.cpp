// The CRD and the C++ API must agree: structure, enums, defaults, patterns, and every field we
// write.
#include <poetryops/api/codec.hpp>

#include <poetryops/util/fs.hpp>
#include <support/support.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <regex>
#include <set>

using namespace poetryops::api;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json load_crd() {
    auto text =
        poetryops::read_file(poetryops::test::source_dir() / "crds/poetryops.io_poetryapps.yaml");
    EXPECT_TRUE(text) << text.error().message;
    auto docs = yaml_to_json(*text, "poetryops.io_poetryapps.yaml");
    EXPECT_TRUE(docs) << docs.error().message;
    EXPECT_EQ(docs->size(), 1u);
    return docs->front();
}

const json& schema_root(const json& crd) {
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
}

// The schema node at a dotted path ("spec.environments[].promotion.approval").
const json* schema_at(const json& root, const std::string& path) {
    const json* node = &root;
    std::size_t start = 0;
    while (start < path.size()) {
        auto dot = path.find('.', start);
        std::string part =
            path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        bool item = part.size() > 2 && part.compare(part.size() - 2, 2, "[]") == 0;
        if (item) part.resize(part.size() - 2);
        if (!node->contains("properties") || !(*node)["properties"].contains(part)) return nullptr;
        node = &(*node)["properties"][part];
        if (item) node = &(*node)["items"];
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return node;
}

void check_structural(const json& node, const std::string& path, bool need_description) {
    ASSERT_TRUE(node.contains("type")) << path << " has no type";
    if (need_description) {
        EXPECT_TRUE(node.contains("description")) << path << " has no description";
    }
    const std::string type = node["type"];
    if (type == "object") {
        if (path == "metadata") return;
        ASSERT_TRUE(node.contains("properties")) << path << " is an object without properties";
        EXPECT_FALSE(node.contains("additionalProperties")) << path;
        for (auto& [k, v] : node["properties"].items()) {
            check_structural(v, path.empty() ? k : path + "." + k, need_description);
        }
        if (node.contains("required")) {
            for (const auto& r : node["required"])
                EXPECT_TRUE(node["properties"].contains(r)) << path << "." << r;
        }
    } else if (type == "array") {
        ASSERT_TRUE(node.contains("items")) << path << " is an array without items";
        if (node.value("x-kubernetes-list-type", "") == "map") {
            for (const auto& key : node["x-kubernetes-list-map-keys"]) {
                EXPECT_THAT(node["items"]["required"], testing::Contains(key))
                    << path << " map key " << key;
            }
        }
        check_structural(node["items"], path + "[]", need_description);
    }
}

// Applies the schema's defaults the way the API server does: for each object present, missing
// properties with a default get it; then recurse into present values.
void apply_schema_defaults(const json& schema, json& value) {
    if (schema.value("type", "") == "object" && value.is_object() &&
        schema.contains("properties")) {
        for (auto& [k, prop] : schema["properties"].items()) {
            if (!value.contains(k) && prop.contains("default")) value[k] = prop["default"];
            if (value.contains(k)) apply_schema_defaults(prop, value[k]);
        }
    } else if (schema.value("type", "") == "array" && value.is_array()) {
        for (auto& item : value) apply_schema_defaults(schema["items"], item);
    }
}

// Every key of `value` must be declared in the schema, or the API server would prune it (lost
// data).
void check_declared(const json& schema, const json& value, const std::string& path) {
    if (value.is_object()) {
        ASSERT_TRUE(schema.contains("properties")) << path;
        for (auto& [k, v] : value.items()) {
            ASSERT_TRUE(schema["properties"].contains(k))
                << path << "." << k << " is not in the CRD schema";
            check_declared(schema["properties"][k], v, path + "." + k);
        }
    } else if (value.is_array()) {
        for (const auto& item : value) check_declared(schema["items"], item, path + "[]");
    }
}

template <class E>
std::vector<std::string> names() {
    std::vector<std::string> out;
    for (auto n : enum_names<E>()) out.emplace_back(n);
    return out;
}

std::vector<std::string> schema_enum(const json& root, const std::string& path) {
    const json* node = schema_at(root, path);
    if (!node || !node->contains("enum")) return {"<no enum at " + path + ">"};
    return (*node)["enum"].get<std::vector<std::string>>();
}

PoetryApp maximal_app() {
    auto text =
        poetryops::read_file(poetryops::test::source_dir() / "examples/poetryapps/billing.yaml");
    auto apps = load_poetryapps_yaml(*text, "billing.yaml");
    EXPECT_TRUE(apps) << apps.error().message;
    return apps->front();
}

}  // namespace

TEST(Crd, IsStructuralAndDescribed) {
    json crd = load_crd();
    EXPECT_EQ(crd["apiVersion"], "apiextensions.k8s.io/v1");
    EXPECT_EQ(crd["metadata"]["name"], std::string(kPlural) + "." + std::string(kGroup));
    EXPECT_EQ(crd["spec"]["group"], kGroup);
    EXPECT_EQ(crd["spec"]["names"]["kind"], kKind);
    EXPECT_EQ(crd["spec"]["names"]["plural"], kPlural);
    EXPECT_THAT(crd["spec"]["names"]["shortNames"], testing::Contains("papp"));
    const json& v = crd["spec"]["versions"][0];
    EXPECT_EQ(v["name"], kVersion);
    EXPECT_TRUE(v["subresources"].contains("status"));
    std::set<std::string> columns;
    for (const auto& c : v["additionalPrinterColumns"])
        columns.insert(c["name"].get<std::string>());
    EXPECT_THAT(columns, testing::IsSupersetOf({"Summary", "Ready", "Build", "Age"}));
    for (const auto& c : v["additionalPrinterColumns"]) {
        if (c["name"] == "Build") {
            EXPECT_EQ(c["jsonPath"], ".status.building");
        }
    }
    const json& root = schema_root(crd);
    check_structural(root, "", false);
    check_structural(root["properties"]["spec"], "spec", true);
    check_structural(root["properties"]["status"], "status", true);
}

TEST(Crd, EnumsMatchTheCode) {
    const json crd = load_crd();
    const json& root = schema_root(crd);
    EXPECT_EQ(schema_enum(root, "spec.build.engine"), names<BuildEngine>());
    EXPECT_EQ(schema_enum(root, "spec.environments[].update.kind"), names<UpdateKind>());
    EXPECT_EQ(schema_enum(root, "status.environments[].approvals[].source"),
              names<IdentitySource>());
    EXPECT_EQ(schema_enum(root, "status.environments[].approvals[].decision"),
              names<ApprovalDecision>());
    EXPECT_EQ(schema_enum(root, "spec.environments[].promotion.windows[].kind"),
              names<WindowKind>());
    EXPECT_EQ(schema_enum(root, "spec.environments[].canary.mode"), names<CanaryMode>());
    EXPECT_EQ(schema_enum(root, "spec.environments[].canary.traffic.kind"), names<TrafficKind>());
    EXPECT_EQ(schema_enum(root, "spec.environments[].canary.analysis.judge"), names<CanaryJudge>());
    EXPECT_EQ(schema_enum(root, "spec.environments[].canary.analysis.onUnavailable"),
              names<OnUnavailable>());
    EXPECT_EQ(schema_enum(root, "spec.environments[].canary.analysis.metrics[].direction"),
              names<MetricDirection>());
    EXPECT_EQ(schema_enum(root, "status.environments[].phase"), names<Phase>());
    EXPECT_EQ(schema_enum(root, "status.environments[].canary.phase"), names<CanaryPhase>());
    EXPECT_EQ(schema_enum(root, "status.environments[].canary.analysis[].verdict"),
              names<AnalysisVerdict>());
    EXPECT_EQ(schema_enum(root, "status.history[].kind"), names<HistoryKind>());
    EXPECT_EQ(schema_enum(root, "status.builds[].phase"), names<BuildPhase>());
    EXPECT_EQ(schema_enum(root, "status.builds[].engine"), names<BuildEngine>());
    EXPECT_EQ(schema_enum(root, "spec.notifications[].type"), names<NotificationType>());
    EXPECT_EQ(schema_enum(root, "spec.notifications[].events[]"), names<NotificationEvent>());
    EXPECT_EQ((*schema_at(root, "spec.notifications[].events"))["default"],
              json(names<NotificationEvent>()));
    // Health kinds are the members of `health` (none = no member).
    std::vector<std::string> health{"none"};
    for (auto& [k, v] : (*schema_at(root, "spec.environments[].health"))["properties"].items()) {
        if (v.value("type", "") == "object") health.push_back(k);
    }
    EXPECT_THAT(health, testing::UnorderedElementsAreArray(names<HealthKind>()));
}

TEST(Crd, DefaultsMatchTheCode) {
    const json crd = load_crd();
    const json& root = schema_root(crd);
    // A sparse object touching every optional object, so every nested default can apply.
    json sparse = json::parse(R"({
      "source": {"repoURL": "https://git.example.com/a.git"},
      "image": {"repository": "registry.example.com/a"},
      "build": {},
      "gitops": {"repoURL": "https://git.example.com/d.git"},
      "environments": [
        {"name": "dev", "path": "d", "health": {"argocd": {"application": "a"}}},
        {"name": "qa", "path": "q", "health": {"flux": {"kustomization": "k"}}},
        {"name": "prod", "path": "p", "health": {"deployment": {"name": "x"}},
         "canary": {"traffic": {"route": "r", "stable": "s", "canary": "c"},
                    "analysis": {"prometheus": {"address": "http://p:9090"}, "metrics": [{"name": "success-rate", "min": 0.9}]}}},
        {"name": "extra", "path": "e", "canary": {"traffic": {"route": "r", "stable": "s", "canary": "c"},
                                                   "steps": [{"weight": 20}]}}
      ],
      "notifications": [{"name": "ops", "urlFrom": {"secretKeyRef": {"name": "hooks", "key": "url"}}}]})");
    json by_server = sparse;
    apply_schema_defaults(root["properties"]["spec"], by_server);

    json object{{"apiVersion", kApiVersion},
                {"kind", kKind},
                {"metadata", {{"name", "a"}}},
                {"spec", sparse}};
    auto app = load_poetryapp(object);
    ASSERT_TRUE(app) << app.error().message;
    json by_code = encode_spec(app->spec);
    EXPECT_EQ(by_code, by_server) << "code:   " << by_code.dump()
                                  << "\nserver: " << by_server.dump();
}

TEST(Crd, EverythingWeWriteIsDeclared) {
    const json crd = load_crd();
    const json& root = schema_root(crd);
    PoetryApp app = maximal_app();
    app.spec.image.policy.versions = ">=1";
    app.spec.environments[0].update.image = "billing";
    app.spec.environments[2].canary->traffic.file = "route.yaml";
    app.spec.environments[2].canary->workload = "billing-canary";
    app.spec.environments[2].canary->analysis->prometheus.secret_ref = SecretRef{"prom"};
    app.spec.environments[2].canary->analysis->metrics[0].direction =
        MetricDirection::lower_is_worse;
    app.spec.environments[2].canary->analysis->metrics[1].query = "sum(up)";
    app.spec.environments[2].promotion.windows = {
        {"FREQ=DAILY;BYHOUR=9", Duration("8h"), WindowKind::deny, "Europe/Paris", true}};
    NotificationSpec webhook;
    webhook.name = "ops";
    webhook.url_from = SecretKeyRef{"hooks", "url"};
    webhook.hmac_key_from = SecretKeyRef{"hooks", "hmac"};
    app.spec.notifications.push_back(webhook);
    check_declared(root["properties"]["spec"], encode_spec(app.spec), "spec");
    const json& window_schema = *schema_at(root, "spec.environments[].promotion.windows");
    for (auto& [k, v] : window_schema["items"]["properties"].items())
        EXPECT_TRUE(encode_spec(app.spec)["environments"][2]["promotion"]["windows"][0].contains(k))
            << "spec.environments[].promotion.windows[]." << k;
    // Every notification field declared is one the code writes.
    json target = encode_spec(app.spec)["notifications"][0];
    for (auto& [k, v] : (*schema_at(root, "spec.notifications[]"))["properties"].items())
        EXPECT_TRUE(target.contains(k)) << "spec.notifications[]." << k;
    // Every canary field declared is one the code writes.
    json canary = encode_spec(app.spec)["environments"][2]["canary"];
    const json& canary_schema = *schema_at(root, "spec.environments[].canary");
    for (auto& [k, v] : canary_schema["properties"].items())
        EXPECT_TRUE(canary.contains(k)) << "spec.environments[].canary." << k;
    for (auto& [k, v] : canary_schema["properties"]["analysis"]["properties"].items())
        EXPECT_TRUE(canary["analysis"].contains(k)) << "spec.environments[].canary.analysis." << k;
    for (auto& [k, v] :
         canary_schema["properties"]["analysis"]["properties"]["metrics"]["items"]["properties"]
             .items()) {
        bool written = false;
        for (const auto& m : canary["analysis"]["metrics"]) written = written || m.contains(k);
        EXPECT_TRUE(written) << "spec.environments[].canary.analysis.metrics[]." << k;
    }

    PoetryAppStatus st;
    st.observed_generation = 1;
    set_condition(st.conditions, Condition{"Ready", "False", 1, {}, "InvalidSpec", "spec.x: y"},
                  std::chrono::system_clock::now());
    EnvironmentStatus e;
    e.name = "dev";
    e.version = e.tag = e.digest = e.commit = e.reason = e.message = e.held_image = "x";
    e.held = true;
    e.rejected_digests = {"x"};
    e.waiting = WaitingArtifact{"x", "x", "x", "x"};
    e.window = WindowStatus{false, std::chrono::system_clock::now(),
                            std::chrono::system_clock::now(), "x"};
    ApprovalRecord ar;
    ar.name = ar.digest = ar.approver = ar.reason = ar.message = "x";
    ar.groups = {"x"};
    ar.time = std::chrono::system_clock::now();
    e.approvals.push_back(ar);
    e.since = std::chrono::system_clock::now();
    CanaryStatus c;
    c.version = c.tag = c.digest = c.commit = c.message = "x";
    c.started = c.step_started = c.last_analysis = std::chrono::system_clock::now();
    c.analysis.push_back(MetricResult{"m", 1.5, ">= 1", AnalysisVerdict::pass, "x"});
    e.canary = c;
    st.environments.push_back(e);
    HistoryEntry h;
    h.environment = h.version = h.tag = h.digest = h.commit = h.reason = "x";
    h.time = std::chrono::system_clock::now();
    st.history.push_back(h);
    st.latest = ArtifactStatus{"1", "t", "d", "c", std::chrono::system_clock::now()};
    st.summary = "dev=x";
    BuildStatus b;
    b.commit = b.version = b.tag = b.digest = b.duration = b.job_name = b.reason = b.message = "x";
    b.start_time = std::chrono::system_clock::now();
    st.builds.push_back(b);
    st.building = "x";
    st.notifications.push_back(NotificationStatus{
        "ops", {"x"}, NotificationFailure{"x", "Promoted", "x", std::chrono::system_clock::now()}});
    json status = encode_status(st);
    check_declared(root["properties"]["status"], status, "status");
    // And the reverse: every status field in the CRD is one the code writes (no stale schema).
    for (auto& [k, v] : root["properties"]["status"]["properties"].items())
        EXPECT_TRUE(status.contains(k)) << k;
    for (auto& [k, v] :
         root["properties"]["status"]["properties"]["environments"]["items"]["properties"].items())
        EXPECT_TRUE(status["environments"][0].contains(k)) << k;
    const json& canary_status = *schema_at(root, "status.environments[].canary");
    for (auto& [k, v] : canary_status["properties"].items())
        EXPECT_TRUE(status["environments"][0]["canary"].contains(k)) << "canary." << k;
    for (auto& [k, v] : canary_status["properties"]["analysis"]["items"]["properties"].items())
        EXPECT_TRUE(status["environments"][0]["canary"]["analysis"][0].contains(k))
            << "canary.analysis[]." << k;
    for (auto& [k, v] :
         root["properties"]["status"]["properties"]["builds"]["items"]["properties"].items())
        EXPECT_TRUE(status["builds"][0].contains(k)) << k;
    const json& notified = *schema_at(root, "status.notifications[]");
    for (auto& [k, v] : notified["properties"].items())
        EXPECT_TRUE(status["notifications"][0].contains(k)) << "notifications[]." << k;
    for (auto& [k, v] : notified["properties"]["lastFailure"]["properties"].items())
        EXPECT_TRUE(status["notifications"][0]["lastFailure"].contains(k))
            << "notifications[].lastFailure." << k;
    // The build spec the same way: every field declared, every declared field written.
    json build = encode_spec(app.spec)["build"];
    for (auto& [k, v] : root["properties"]["spec"]["properties"]["build"]["properties"].items()) {
        EXPECT_TRUE(build.contains(k)) << "spec.build." << k;
    }
}

TEST(Crd, PatternsAgreeWithTheValidator) {
    const json crd = load_crd();
    const json& root = schema_root(crd);
    std::regex duration(
        (*schema_at(root, "spec.environments[].promotion.soak"))["pattern"].get<std::string>());
    for (const char* s : {"0", "0s", "30s", "10m", "1h30m", "1.5h", "250ms", ".5s", "10", "1d",
                          "-5m", "1h 30m", "m", ""}) {
        EXPECT_EQ(std::regex_match(s, duration), parse_duration(s).has_value()) << s;
    }
    std::regex label((*schema_at(root, "spec.environments[].name"))["pattern"].get<std::string>());
    for (const char* s : {"dev", "prod-eu-1", "Dev", "-dev", "dev-", "a.b", "a_b", "9"}) {
        EXPECT_EQ(std::regex_match(s, label), is_dns1123_label(s)) << s;
    }
    std::regex relative(
        (*schema_at(root, "spec.environments[].path"))["pattern"].get<std::string>());
    EXPECT_FALSE(std::regex_search("/etc", relative));
    EXPECT_TRUE(std::regex_search("envs/dev", relative));
}

TEST(Crd, CrossFieldRulesAreDeclared) {
    const json crd = load_crd();
    const json& root = schema_root(crd);
    auto rules = [&](const std::string& path) {
        std::vector<std::string> out;
        const json* n = schema_at(root, path);
        if (n && n->contains("x-kubernetes-validations")) {
            for (const auto& r : (*n)["x-kubernetes-validations"]) out.push_back(r["rule"]);
        }
        return out;
    };
    EXPECT_THAT(rules("spec.environments"),
                testing::Contains(testing::HasSubstr("e.promotion.from")));
    EXPECT_EQ((*schema_at(root, "spec.environments"))["x-kubernetes-list-type"], "map");
    EXPECT_THAT(rules("spec.environments[].canary.steps"),
                testing::Contains(testing::HasSubstr(".weight < s.weight")));
    EXPECT_THAT(rules("spec.environments[].health"),
                testing::Contains(testing::HasSubstr("has(self.argocd)")));
    EXPECT_THAT(rules("spec"), testing::Contains(testing::HasSubstr("has(self.source)")));
    // Bounds are required with the threshold judge only, and compared queries select through
    // {{canary}}: rules on the analysis, which knows the judge.
    EXPECT_THAT(rules("spec.environments[].canary.analysis"),
                testing::IsSupersetOf({testing::HasSubstr("has(m.min) || has(m.max)"),
                                       testing::HasSubstr("canary")}));
    EXPECT_TRUE(rules("spec.environments[].canary.analysis.metrics[]").size() >= 1);
    // kube-apiserver 1.28 refuses the CRD when a rule's estimated cost is unbounded
    // (tests/api/crd_it_test.cpp applies it for real): every list and string a rule walks needs a
    // bound, and a list made by map() has none.
    for (const char* path : {"spec.environments", "spec.environments[].canary.steps"}) {
        for (const auto& r : rules(path))
            EXPECT_EQ(r.find(".map("), std::string::npos) << path << ": " << r;
    }
    EXPECT_TRUE(schema_at(root, "spec.environments")->contains("maxItems"));
    EXPECT_TRUE(schema_at(root, "spec.environments[].name")->contains("maxLength"));
    EXPECT_TRUE(schema_at(root, "spec.environments[].promotion.from")->contains("maxLength"));
    EXPECT_TRUE(schema_at(root, "spec.environments[].canary.steps")->contains("maxItems"));
}

TEST(Examples, AllValidateThroughTheSameCode) {
    int count = 0;
    for (const auto& entry :
         fs::directory_iterator(poetryops::test::source_dir() / "examples/poetryapps")) {
        if (entry.path().extension() != ".yaml") continue;
        auto text = poetryops::read_file(entry.path());
        ASSERT_TRUE(text);
        auto apps = load_poetryapps_yaml(*text, entry.path().filename().string());
        ASSERT_TRUE(apps) << apps.error().message;
        EXPECT_FALSE(apps->empty()) << entry.path();
        count += static_cast<int>(apps->size());
    }
    EXPECT_GE(count, 4);
}

TEST(Examples, InvalidTestdataFailsWithExpectedPaths) {
    int files = 0;
    for (const auto& entry :
         fs::directory_iterator(poetryops::test::source_dir() / "tests/api/testdata")) {
        if (entry.path().filename().string().rfind("invalid-", 0) != 0) continue;
        ++files;
        auto text = poetryops::read_file(entry.path());
        ASSERT_TRUE(text);
        std::vector<std::string> expected;
        std::istringstream in(*text);
        for (std::string line; std::getline(in, line);) {
            if (line.rfind("# expect: ", 0) == 0) expected.push_back(line.substr(10));
        }
        auto docs = yaml_to_json(*text, entry.path().filename().string());
        ASSERT_TRUE(docs) << docs.error().message;
        std::vector<FieldError> errors;
        PoetryApp app = decode_poetryapp(docs->front(), errors);
        auto more = validate(app);
        errors.insert(errors.end(), more.begin(), more.end());
        std::vector<std::string> paths;
        for (const auto& e : errors) paths.push_back(e.path);
        EXPECT_THAT(paths, testing::UnorderedElementsAreArray(expected))
            << entry.path() << ": " << join_errors(errors, 20);
        auto loaded = load_poetryapps_yaml(*text, entry.path().filename().string());
        EXPECT_FALSE(loaded) << entry.path();
    }
    EXPECT_GE(files, 4);
}

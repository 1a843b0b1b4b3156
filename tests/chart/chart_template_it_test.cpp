// The Helm chart charts/poetryops as Helm itself sees it, without a cluster: `helm lint`, renders
// for a matrix of values (defaults, a namespaced watch, cluster-wide, sharding, digest pinning, the
// optional objects), the values schema refusing typos with Helm's message, the chart's CRD being
// crds/'s file, the controller's rules being docs/operations.md's permission table, and every
// argument the chart passes being a flag the real `poetryops` binary accepts.
#include "support/helm/helm.hpp"

#include <poetryops/util/fs.hpp>
#include <support/support.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

using namespace poetryops;
using nlohmann::json;
using testing::HasSubstr;
namespace helm = test::helm;

namespace {

const std::string kDigest =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A file comparison: runs without Helm too. Every CRD of crds/ (PoetryApp, PoetryApproval) is in
/// the chart's crds/ byte for byte, and nothing else is.
TEST(ChartFiles, TheChartsCrdIsCrdsFileByteForByte) {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(test::source_dir() / "crds"))
        names.push_back(e.path().filename().string());
    EXPECT_THAT(names, testing::UnorderedElementsAre("poetryops.io_poetryapps.yaml",
                                                     "poetryops.io_poetryapprovals.yaml"));
    for (const auto& name : names) {
        auto ours = read_file(test::source_dir() / "crds" / name);
        auto charts = read_file(helm::chart_dir() / "crds" / name);
        ASSERT_TRUE(ours);
        ASSERT_TRUE(charts) << "charts/poetryops/crds/ lacks " << name;
        EXPECT_TRUE(*ours == *charts)
            << "charts/poetryops/crds/" << name << " differs from crds/: cp crds/" << name
            << " charts/poetryops/crds/";
    }
    // Nothing else in the chart's crds/ folder.
    std::size_t files = 0;
    for ([[maybe_unused]] const auto& e :
         std::filesystem::directory_iterator(helm::chart_dir() / "crds"))
        ++files;
    EXPECT_EQ(files, names.size());
}

class ChartTemplateIt : public ::testing::Test {
protected:
    void SetUp() override {
        auto h = helm::binary();
        if (!h && h.error().reason == "Skip") GTEST_SKIP() << h.error().message;
        ASSERT_TRUE(h) << h.error().message;
    }

    /// Renders with `--set` pairs (and extra helm arguments); fails the test when Helm refuses.
    std::vector<json> render(const std::vector<std::string>& sets,
                             std::vector<std::string> extra = {}) {
        for (const auto& s : sets) extra.insert(extra.end(), {"--set", s});
        auto r = helm::render(extra);
        EXPECT_TRUE(r) << r.error().message;
        return r ? *r : std::vector<json>{};
    }

    /// What Helm says when it refuses to render.
    std::string refusal(const std::vector<std::string>& sets, std::vector<std::string> extra = {}) {
        for (const auto& s : sets) extra.insert(extra.end(), {"--set", s});
        auto r = helm::render(extra);
        EXPECT_FALSE(r) << "rendered although it should not: " << testing::PrintToString(sets);
        return r ? "" : r.error().message;
    }

    static json deployment(const std::vector<json>& objs) {
        auto d = helm::objects(objs, "Deployment");
        EXPECT_EQ(d.size(), 1u);
        return d.empty() ? json::object() : d.front();
    }
    static json container(const std::vector<json>& objs) {
        return deployment(objs).value("/spec/template/spec/containers/0"_json_pointer,
                                      json::object());
    }
    static std::vector<std::string> args(const std::vector<json>& objs) {
        return container(objs).value("args", std::vector<std::string>{});
    }
};

TEST_F(ChartTemplateIt, LintPassesForTheDefaultsAndANamespacedShard) {
    for (const std::vector<std::string>& extra :
         {std::vector<std::string>{},
          {"--set", "watch.namespaces={team-a,team-b}", "--set", "watch.selector=shard=a", "--set",
           "image.digest=" + kDigest, "--set", "networkPolicy.enabled=true"}}) {
        std::vector<std::string> argv{"lint", "--strict", helm::chart_dir().string()};
        argv.insert(argv.end(), extra.begin(), extra.end());
        auto r = helm::run(argv);
        ASSERT_TRUE(r) << r.error().message;
        EXPECT_TRUE(r->ok()) << r->out << r->err;
        EXPECT_THAT(r->out, HasSubstr("1 chart(s) linted, 0 chart(s) failed"));
    }
}

TEST_F(ChartTemplateIt, DefaultsAreTwoLeaderElectedRestrictedReplicasWatchingEverything) {
    auto objs = render({});
    auto d = deployment(objs);
    EXPECT_EQ(d["spec"]["replicas"], 2);
    auto a = args(objs);
    EXPECT_THAT(a, testing::Contains("controller"));
    EXPECT_THAT(a, testing::Contains("--leader-elect"));
    EXPECT_THAT(a, testing::Contains("--leader-election-namespace=poetryops-system"));
    EXPECT_THAT(a, testing::Contains("--metrics-bind-address=:8080"));
    EXPECT_THAT(a, testing::Contains("--health-probe-bind-address=:8081"));
    EXPECT_THAT(a, testing::Not(testing::Contains(testing::StartsWith("--namespace"))));
    EXPECT_THAT(a, testing::Not(testing::Contains(testing::StartsWith("--webhook-bind-address"))));
    json c = container(objs);
    EXPECT_EQ(c["image"], "ghcr.io/poetryops/poetryops:0.1.0");
    // Restricted: non-root, read-only root filesystem, no privilege escalation, seccomp
    // RuntimeDefault, every capability dropped.
    const json& sc = c["securityContext"];
    EXPECT_EQ(sc["runAsNonRoot"], true);
    EXPECT_EQ(sc["readOnlyRootFilesystem"], true);
    EXPECT_EQ(sc["allowPrivilegeEscalation"], false);
    EXPECT_EQ(sc["capabilities"]["drop"], json::array({"ALL"}));
    EXPECT_EQ(sc["seccompProfile"]["type"], "RuntimeDefault");
    const json& pod = d["spec"]["template"]["spec"];
    EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true);
    EXPECT_GT(pod["securityContext"]["runAsUser"].get<int>(), 0);
    EXPECT_EQ(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    // Probes on the health port; the cache on a volume since the root filesystem is read-only.
    EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    EXPECT_EQ(c["livenessProbe"]["httpGet"]["port"], "health");
    bool health_port = false;
    for (const auto& p : c["ports"])
        health_port = health_port || (p["name"] == "health" && p["containerPort"] == 8081);
    EXPECT_TRUE(health_port) << c["ports"].dump();
    EXPECT_THAT(a, testing::Contains("--cache-dir=/var/cache/poetryops"));
    bool cache_mounted = false;
    for (const auto& m : c["volumeMounts"])
        cache_mounted = cache_mounted || m["mountPath"] == "/var/cache/poetryops";
    EXPECT_TRUE(cache_mounted);
    ASSERT_GE(pod["topologySpreadConstraints"].size(), 1u);
    EXPECT_EQ(pod["topologySpreadConstraints"][0]["topologyKey"], "kubernetes.io/hostname");
    auto pdb = helm::objects(objs, "PodDisruptionBudget");
    ASSERT_EQ(pdb.size(), 1u);
    EXPECT_EQ(pdb[0]["spec"]["maxUnavailable"], 1);
    EXPECT_EQ(helm::objects(objs, "ServiceAccount").size(), 1u);
    EXPECT_EQ(helm::objects(objs, "Service", "poetryops-metrics").size(), 1u);
    // Cluster-wide: one ClusterRole of the controller, the user roles, the Lease's Role.
    EXPECT_EQ(helm::objects(objs, "ClusterRole", "poetryops-system-poetryops").size(), 1u);
    EXPECT_EQ(helm::objects(objs, "ClusterRoleBinding", "poetryops-system-poetryops").size(), 1u);
    for (const char* role : {"poetryops-view", "poetryops-edit", "poetryops-approver"})
        EXPECT_EQ(helm::objects(objs, "ClusterRole", role).size(), 1u) << role;
    EXPECT_EQ(helm::objects(objs, "Role", "poetryops-leader-election").size(), 1u);
    EXPECT_EQ(helm::objects(objs, "Role").size(), 1u);
    for (const char* kind : {"ServiceMonitor", "NetworkPolicy", "Ingress", "HTTPRoute", "Secret"})
        EXPECT_TRUE(helm::objects(objs, kind).empty()) << kind << " rendered by default";
}

TEST_F(ChartTemplateIt, TheControllersRulesAreTheDocumentedTableNoMoreNoLess) {
    auto documented = helm::documented_permissions();
    ASSERT_GE(documented.size(), 20u) << "docs/operations.md's permission table did not parse";
    // With webhooks, where the leader labels its own Pod (patch pods): every rule the chart has.
    auto objs = render({"webhook.enabled=true", "webhook.token=t"});
    auto cr = helm::objects(objs, "ClusterRole", "poetryops-system-poetryops");
    auto le = helm::objects(objs, "Role", "poetryops-leader-election");
    ASSERT_EQ(cr.size(), 1u);
    ASSERT_EQ(le.size(), 1u);
    auto granted = helm::permissions(cr[0]["rules"]);
    for (const auto& p : helm::permissions(le[0]["rules"])) granted.push_back(p);
    std::sort(granted.begin(), granted.end());
    std::vector<std::string> missing, extra;
    for (const auto& p : documented)
        if (!std::binary_search(granted.begin(), granted.end(), p)) missing.push_back(p.str());
    for (const auto& p : granted)
        if (!std::binary_search(documented.begin(), documented.end(), p)) extra.push_back(p.str());
    EXPECT_THAT(missing, testing::IsEmpty()) << "documented but not granted by the chart";
    EXPECT_THAT(extra, testing::IsEmpty()) << "granted by the chart but not documented";
    // The Lease: create anywhere in the namespace (RBAC cannot limit create by name), get and
    // update only the controller's own.
    bool by_name = false;
    for (const auto& r : le[0]["rules"])
        by_name = by_name || (r.value("resourceNames", json::array()) ==
                                  json::array({"poetryops-controller"}) &&
                              r["verbs"] == json::array({"get", "update"}));
    EXPECT_TRUE(by_name) << le[0].dump();
}

TEST_F(ChartTemplateIt, ANamespacedWatchHasRolesThereAndNothingClusterWide) {
    auto objs = render({"watch.namespaces={team-a,team-b}", "rbac.healthGates.namespaces={argocd}",
                        "rbac.secrets.resourceNames={git-creds,registry-creds}"});
    auto a = args(objs);
    EXPECT_THAT(a, testing::Contains("--namespace=team-a"));
    EXPECT_THAT(a, testing::Contains("--namespace=team-b"));
    EXPECT_TRUE(helm::objects(objs, "ClusterRole", "poetryops-system-poetryops").empty());
    EXPECT_TRUE(helm::objects(objs, "ClusterRoleBinding").empty());
    std::map<std::string, json> roles;
    for (const auto& r : helm::objects(objs, "Role", "poetryops-system-poetryops"))
        roles[r["metadata"]["namespace"]] = r["rules"];
    ASSERT_EQ(roles.size(), 3u) << "Roles in team-a, team-b and argocd";
    for (const char* ns : {"team-a", "team-b"}) {
        bool secrets_by_name = false;
        for (const auto& rule : roles[ns])
            if (rule["resources"] == json::array({"secrets"}))
                secrets_by_name = rule.value("resourceNames", json::array()) ==
                                  json::array({"git-creds", "registry-creds"});
        EXPECT_TRUE(secrets_by_name) << roles[ns].dump();
    }
    // argocd: read-only gate objects, nothing else.
    for (const auto& p : helm::permissions(roles["argocd"]))
        EXPECT_THAT(p.verb, testing::AnyOf("get", "list", "watch")) << p.str();
    EXPECT_EQ(helm::objects(objs, "RoleBinding").size(), 4u);  // 3 + the Lease's
}

TEST_F(ChartTemplateIt, ShardingPassesTheSelectorAndLeavesTheUserRolesToOneRelease) {
    auto objs =
        render({"watch.selector=poetryops.io/shard in (a\\,b)", "rbac.userRoles.create=false"});
    EXPECT_THAT(args(objs), testing::Contains("--selector=poetryops.io/shard in (a,b)"));
    EXPECT_TRUE(helm::objects(objs, "ClusterRole", "poetryops-view").empty());
    // Two shards in two namespaces never share a cluster-scoped name.
    auto a = helm::render({}, "poetryops", "shard-a");
    auto b = helm::render({}, "poetryops", "shard-b");
    ASSERT_TRUE(a && b);
    EXPECT_EQ(helm::objects(*a, "ClusterRole", "shard-a-poetryops").size(), 1u);
    EXPECT_EQ(helm::objects(*b, "ClusterRole", "shard-b-poetryops").size(), 1u);
}

TEST_F(ChartTemplateIt, ADigestPinsTheControllerAndTheBuildsPrepareImage) {
    auto objs = render({"image.digest=" + kDigest, "image.tag=1.2.3"});
    std::string pinned = "ghcr.io/poetryops/poetryops:1.2.3@" + kDigest;
    EXPECT_EQ(container(objs)["image"], pinned);
    EXPECT_THAT(args(objs), testing::Contains("--poetryops-image=" + pinned));
    EXPECT_THAT(refusal({"image.digest=sha256:abc"}),
                HasSubstr("image.digest: Does not match pattern"));
}

TEST_F(ChartTemplateIt, OptionalObjectsRenderWhenAskedAndTheirApisAreNamedWhenAbsent) {
    const std::vector<std::string> on{"webhook.enabled=true",
                                      "webhook.token=s3cret",
                                      "webhook.ingress.enabled=true",
                                      "webhook.httpRoute.enabled=true",
                                      "webhook.httpRoute.parentRefs[0].name=public",
                                      "metrics.serviceMonitor.enabled=true",
                                      "networkPolicy.enabled=true",
                                      "extraEnv[0].name=HTTPS_PROXY",
                                      "extraEnv[0].value=http://proxy:3128",
                                      "extraVolumes[0].name=extra",
                                      "extraVolumes[0].emptyDir.medium=Memory",
                                      "extraVolumeMounts[0].name=extra",
                                      "extraVolumeMounts[0].mountPath=/extra",
                                      "resources.limits.memory=1Gi"};
    auto objs = render(on, {"--api-versions", "monitoring.coreos.com/v1/ServiceMonitor",
                            "--api-versions", "gateway.networking.k8s.io/v1/HTTPRoute"});
    EXPECT_EQ(helm::objects(objs, "ServiceMonitor").size(), 1u);
    EXPECT_EQ(helm::objects(objs, "NetworkPolicy").size(), 1u);
    auto ing = helm::objects(objs, "Ingress");
    ASSERT_EQ(ing.size(), 1u);
    EXPECT_EQ(ing[0]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
              "poetryops-webhook");
    auto route = helm::objects(objs, "HTTPRoute");
    ASSERT_EQ(route.size(), 1u);
    EXPECT_EQ(route[0]["spec"]["parentRefs"][0]["name"], "public");
    EXPECT_EQ(helm::objects(objs, "Service", "poetryops-webhook").size(), 1u);
    auto secret = helm::objects(objs, "Secret", "poetryops-webhook");
    ASSERT_EQ(secret.size(), 1u);
    EXPECT_EQ(secret[0]["stringData"]["token"], "s3cret");
    EXPECT_THAT(args(objs), testing::Contains("--webhook-bind-address=:9443"));
    // Only the leader reconciles, so the webhook Service reaches only the Pod the leader labels.
    EXPECT_THAT(args(objs), testing::Contains("--leader-pod=$(POD_NAMESPACE)/$(POD_NAME)"));
    EXPECT_EQ(helm::objects(objs, "Service", "poetryops-webhook")[0]["spec"]["selector"].value(
                  "poetryops.io/leader", ""),
              "true");
    EXPECT_THAT(helm::objects(objs, "Role", "poetryops-leader-election")[0]["rules"].dump(),
                HasSubstr("\"pods\""));
    json c = container(objs);
    std::string env = c["env"].dump();
    EXPECT_THAT(env, HasSubstr("POETRYOPS_WEBHOOK_TOKEN"));
    EXPECT_THAT(env, HasSubstr("HTTPS_PROXY"));
    EXPECT_THAT(c["volumeMounts"].dump(), HasSubstr("/extra"));
    EXPECT_EQ(c["resources"]["limits"]["memory"], "1Gi");
    // The webhook's port is in the NetworkPolicy, the metrics' too.
    std::string np = helm::objects(objs, "NetworkPolicy")[0].dump();
    EXPECT_THAT(np, HasSubstr("\"webhook\""));
    EXPECT_THAT(np, HasSubstr("\"metrics\""));

    // Without the APIs (a cluster with no Prometheus Operator or Gateway API), the CRD is named.
    EXPECT_THAT(refusal({"metrics.serviceMonitor.enabled=true"}),
                HasSubstr("servicemonitors.monitoring.coreos.com"));
    EXPECT_THAT(
        refusal({"webhook.enabled=true", "webhook.token=t", "webhook.httpRoute.enabled=true",
                 "webhook.httpRoute.parentRefs[0].name=gw"}),
        HasSubstr("httproutes.gateway.networking.k8s.io"));
    EXPECT_THAT(refusal({"webhook.enabled=true"}), HasSubstr("webhook.existingSecret"));
    EXPECT_THAT(refusal({"webhook.ingress.enabled=true"}), HasSubstr("needs webhook.enabled=true"));
    EXPECT_THAT(refusal({"webhook.enabled=true", "webhook.token=t", "webhook.port=8080",
                         "metrics.port=8080"}),
                HasSubstr("never shares a port with metrics or probes"));
}

/// The PoetryApproval admission webhook (admission.enabled): a MutatingWebhookConfiguration on
/// CREATE of poetryapprovals, failurePolicy Fail and sideEffects None, calling a Service that
/// reaches every controller Pod (not only the leader), the controller's HTTPS listener with the
/// certificate from the Secret the user provides (caBundle given) or from cert-manager (the CA
/// injected); what is missing is named.
TEST_F(ChartTemplateIt, TheAdmissionWebhookIsRegisteredFailClosedWithItsCertificate) {
    auto off = render({});
    EXPECT_TRUE(helm::objects(off, "MutatingWebhookConfiguration").empty());
    EXPECT_TRUE(helm::objects(off, "Service", "poetryops-admission").empty());
    EXPECT_THAT(args(off), testing::Not(testing::Contains(testing::StartsWith("--admission"))));

    auto objs = render(
        {"admission.enabled=true", "admission.tls.caBundle=Q0EK", "networkPolicy.enabled=true"});
    auto mwc = helm::objects(objs, "MutatingWebhookConfiguration");
    ASSERT_EQ(mwc.size(), 1u);
    EXPECT_EQ(mwc[0]["metadata"]["name"], "poetryops-system-poetryops-approvals");
    ASSERT_EQ(mwc[0]["webhooks"].size(), 1u);
    const json& hook = mwc[0]["webhooks"][0];
    EXPECT_EQ(hook["failurePolicy"], "Fail");
    EXPECT_EQ(hook["sideEffects"], "None");
    EXPECT_EQ(hook["admissionReviewVersions"], json({"v1"}));
    EXPECT_EQ(hook["timeoutSeconds"], 10);
    EXPECT_EQ(hook["rules"], json::parse(R"([{"apiGroups": ["poetryops.io"], "apiVersions": ["*"],
        "operations": ["CREATE"], "resources": ["poetryapprovals"], "scope": "Namespaced"}])"));
    EXPECT_FALSE(hook.contains("namespaceSelector"))
        << "every namespace: an approval the webhook did not see would be trusted";
    EXPECT_EQ(hook["clientConfig"]["caBundle"], "Q0EK");
    EXPECT_EQ(hook["clientConfig"]["service"],
              json::parse(R"({"name": "poetryops-admission", "namespace": "poetryops-system",
                              "path": "/admission/poetryapprovals", "port": 443})"));
    auto svc = helm::objects(objs, "Service", "poetryops-admission");
    ASSERT_EQ(svc.size(), 1u);
    EXPECT_FALSE(svc[0]["spec"]["selector"].contains("poetryops.io/leader"))
        << "every replica admits, leader or not";
    EXPECT_EQ(svc[0]["spec"]["ports"][0]["targetPort"], "admission");
    auto a = args(objs);
    EXPECT_THAT(a, testing::Contains("--admission-bind-address=:8443"));
    EXPECT_THAT(
        a, testing::Contains("--admission-tls-cert-file=/etc/poetryops/admission-tls/tls.crt"));
    EXPECT_THAT(a,
                testing::Contains("--admission-tls-key-file=/etc/poetryops/admission-tls/tls.key"));
    json c = container(objs);
    EXPECT_THAT(c["ports"].dump(), HasSubstr(R"("containerPort":8443,"name":"admission")"));
    EXPECT_THAT(c["volumeMounts"].dump(), HasSubstr("/etc/poetryops/admission-tls"));
    EXPECT_THAT(deployment(objs)["spec"]["template"]["spec"]["volumes"].dump(),
                HasSubstr(R"("secretName":"poetryops-admission-tls")"));
    EXPECT_THAT(helm::objects(objs, "NetworkPolicy")[0].dump(), HasSubstr("\"admission\""));
    EXPECT_TRUE(helm::objects(objs, "Certificate").empty());

    auto cm = render({"admission.enabled=true", "admission.tls.source=certManager",
                      "admission.tls.certManager.issuerRef.name=cluster-ca",
                      "admission.tls.certManager.issuerRef.kind=ClusterIssuer"},
                     {"--api-versions", "cert-manager.io/v1/Certificate"});
    auto cert = helm::objects(cm, "Certificate");
    ASSERT_EQ(cert.size(), 1u);
    EXPECT_EQ(cert[0]["spec"]["secretName"], "poetryops-admission-tls");
    EXPECT_THAT(cert[0]["spec"]["dnsNames"],
                testing::Contains("poetryops-admission.poetryops-system.svc"));
    EXPECT_EQ(cert[0]["spec"]["issuerRef"]["kind"], "ClusterIssuer");
    auto injected = helm::objects(cm, "MutatingWebhookConfiguration");
    ASSERT_EQ(injected.size(), 1u);
    EXPECT_EQ(injected[0]["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
              "poetryops-system/poetryops-admission");
    EXPECT_FALSE(injected[0]["webhooks"][0]["clientConfig"].contains("caBundle"));

    EXPECT_THAT(refusal({"admission.enabled=true"}), HasSubstr("admission.tls.caBundle"));
    EXPECT_THAT(refusal({"admission.enabled=true", "admission.tls.source=certManager",
                         "admission.tls.certManager.issuerRef.name=ca"}),
                HasSubstr("certificates.cert-manager.io"));
    EXPECT_THAT(refusal({"admission.enabled=true", "admission.tls.source=certManager"},
                        {"--api-versions", "cert-manager.io/v1/Certificate"}),
                HasSubstr("admission.tls.certManager.issuerRef.name"));
    EXPECT_THAT(
        refusal({"admission.enabled=true", "admission.tls.caBundle=Q0EK", "admission.port=8080"}),
        HasSubstr("its own HTTPS listener"));
    EXPECT_THAT(refusal({"admission.tls.source=vault"}), HasSubstr("admission.tls.source"));
    EXPECT_THAT(refusal({"admission.failurePolicy=Ignore"}),
                HasSubstr("Additional property failurePolicy is not allowed"));
}

TEST_F(ChartTemplateIt, TheSchemaRejectsTyposAndWrongTypesWithHelmsMessage) {
    EXPECT_THAT(refusal({"replicaCunt=3"}),
                HasSubstr("Additional property replicaCunt is not allowed"));
    EXPECT_THAT(refusal({"webhook.tokn=x"}),
                HasSubstr("webhook: Additional property tokn is not allowed"));
    EXPECT_THAT(refusal({"rbac.secrets.resourceName={a}"}),
                HasSubstr("Additional property resourceName is not allowed"));
    EXPECT_THAT(refusal({"replicaCount=two"}), HasSubstr("replicaCount: Invalid type"));
    EXPECT_THAT(refusal({"controller.logLevel=verbose"}), HasSubstr("controller.logLevel"));
    EXPECT_THAT(refusal({"rbac.canary.routes={routes.example.com}"}),
                HasSubstr("rbac.canary.routes"));
    EXPECT_THAT(refusal({"replicaCount=2", "leaderElection.enabled=false"}),
                HasSubstr("more than one replica needs leader election"));
}

/// Every argument the chart passes is a flag of the binary: with an unreadable kubeconfig appended,
/// the binary gets past flag parsing and stops at the kubeconfig (exit 2 naming it), which it would
/// not do for a flag it does not know or a value it refuses.
TEST_F(ChartTemplateIt, EveryArgumentTheChartPassesIsAFlagOfTheBinary) {
    ASSERT_TRUE(std::filesystem::exists(std::string(POETRYOPS_BIN))) << POETRYOPS_BIN;
    const std::vector<std::vector<std::string>> matrix{
        {},
        {"watch.namespaces={a,b}", "watch.selector=poetryops.io/shard=a"},
        {"webhook.enabled=true", "webhook.token=t", "controller.plainHTTPRegistries={reg:5000}",
         "controller.registryCAs[0].host=registry.example.com",
         "controller.registryCAs[0].secretName=ca", "builds.serviceAccount=builder",
         "builds.images.buildkit=b:1", "builds.images.kaniko=k:1", "builds.images.buildah=h:1",
         "builds.resources.requests.cpu=1", "builds.prepareResources.limits.memory=1Gi",
         "builds.nodeSelector.pool=builds", "builds.tolerations[0].key=builds",
         "builds.tolerations[0].operator=Exists", "builds.workspaceSizeLimit=20Gi",
         "builds.insecureRegistry=true", "controller.logLevel=debug", "controller.logFormat=text"},
        {"builds.enabled=false", "replicaCount=1", "leaderElection.enabled=false"},
        {"controller.promotion=false"},
        {"admission.enabled=true", "admission.tls.caBundle=Q0EK"},
    };
    for (const auto& sets : matrix) {
        auto objs = render(sets);
        std::vector<std::string> argv{POETRYOPS_BIN};
        for (const auto& a : args(objs)) argv.push_back(a);
        argv.insert(argv.end(), {"--kubeconfig", "/nonexistent/poetryops-chart-test"});
        ProcessOptions o;
        o.env = {{"POETRYOPS_WEBHOOK_TOKEN", "t"}};
        auto r = run_process(argv, o);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->exit_code, 2) << format_argv(argv) << "\n" << r->err;
        EXPECT_THAT(r->err, HasSubstr("kubeconfig /nonexistent/poetryops-chart-test"))
            << format_argv(argv);
    }
}

/// The PrometheusRule's alerts, loaded by the real promtool (Debian's Prometheus 2.42): they parse,
/// and `promtool test rules` shows each firing on the series the controller exports (names and
/// labels as /metrics has them, with the job and namespace labels of a ServiceMonitor scrape) and
/// staying quiet on healthy ones.
TEST_F(ChartTemplateIt, TheAlertsParseInPrometheusAndFireOnTheSeriesTheControllerExports) {
    ASSERT_TRUE(test::require_tools({"promtool"}));
    EXPECT_THAT(refusal({"metrics.prometheusRule.enabled=true"}),
                HasSubstr("prometheusrules.monitoring.coreos.com"));
    EXPECT_THAT(refusal({"metrics.prometheusRule.notReadyFor=half an hour"}),
                HasSubstr("notReadyFor"));
    auto objs = render({"metrics.prometheusRule.enabled=true",
                        "metrics.prometheusRule.labels.release=kube-prometheus-stack"},
                       {"--api-versions", "monitoring.coreos.com/v1/PrometheusRule"});
    auto rules = helm::objects(objs, "PrometheusRule");
    ASSERT_EQ(rules.size(), 1u);
    EXPECT_EQ(rules[0]["metadata"]["labels"]["release"], "kube-prometheus-stack");
    TempDir dir("poetryops-alerts");
    // JSON is YAML: promtool reads the rendered spec as a rule file.
    ASSERT_TRUE(write_file_atomic(dir.path() / "rules.yaml", rules[0]["spec"].dump()));
    auto checked =
        run_process({"promtool", "check", "rules", (dir.path() / "rules.yaml").string()});
    ASSERT_TRUE(checked);
    EXPECT_TRUE(checked->ok()) << checked->out << checked->err;
    EXPECT_THAT(checked->out, HasSubstr("SUCCESS: 7 rules found"));

    const std::string t = R"(job="poetryops-metrics",namespace="poetryops-system")";
    const std::string tests = R"(rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
- interval: 1m
  input_series:
  - {series: 'up{)" + t + R"(}', values: '1x60'}
  - {series: 'leader_election_master_status{)" +
                              t + R"(,name="poetryops-controller",pod="a"}', values: '1x60'}
  - {series: 'leader_election_master_status{)" +
                              t + R"(,name="poetryops-controller",pod="b"}', values: '0x60'}
  - {series: 'poetryops_app_condition{)" +
                              t + R"(,app="team/api",condition="Ready"}', values: '1x10 0x50'}
  - {series: 'poetryops_app_condition{)" +
                              t + R"(,app="team/web",condition="Ready"}', values: '1x60'}
  - {series: 'poetryops_app_condition{)" +
                              t + R"(,app="team/web",condition="Degraded"}', values: '0x5 1x55'}
  - {series: 'poetryops_canary_steps_total{)" +
                              t + R"(,result="abort"}', values: '0x20 1x40'}
  - {series: 'poetryops_canary_steps_total{)" +
                              t + R"(,result="shift"}', values: '0+1x60'}
  - {series: 'controller_runtime_reconcile_errors_total{)" +
                              t + R"(,controller="poetryapps"}', values: '0x60'}
  - {series: 'workqueue_depth{)" +
                              t + R"(,name="poetryapps"}', values: '3x60'}
  alert_rule_test:
  - {eval_time: 35m, alertname: PoetryAppNotReady, exp_alerts: []}
  - eval_time: 45m
    alertname: PoetryAppNotReady
    exp_alerts:
    - exp_labels: {severity: warning, app: team/api}
      exp_annotations:
        summary: PoetryApp team/api is not Ready
        description: An invalid spec, a hold, a failed promotion, a blocked canary or an environment that cannot be read (the GitOps repo unreachable, a file refused). kubectl poetryops why, or kubectl describe poetryapp.
  - eval_time: 25m
    alertname: PoetryAppDegraded
    exp_alerts:
    - exp_labels: {severity: warning, app: team/web}
      exp_annotations:
        summary: PoetryApp team/web cannot reach its registry, git server or Prometheus
        description: Nothing is promoted for it meanwhile; the Degraded condition names the dependency and the error.
  - {eval_time: 15m, alertname: PoetryopsCanaryAborted, exp_alerts: []}
  - eval_time: 25m
    alertname: PoetryopsCanaryAborted
    exp_alerts:
    - exp_labels: {severity: warning}
      exp_annotations:
        summary: A canary of poetryops release poetryops was rolled back
        description: The analysis failed and traffic went back to the stable digest; kubectl poetryops history shows which app and why.
  - {eval_time: 50m, alertname: PoetryopsControllerDown, exp_alerts: []}
  - {eval_time: 50m, alertname: PoetryopsNoLeader, exp_alerts: []}
  - {eval_time: 50m, alertname: PoetryopsReconcileErrors, exp_alerts: []}
  - {eval_time: 50m, alertname: PoetryopsWorkqueueBacklog, exp_alerts: []}
- interval: 1m
  input_series:
  - {series: 'up{)" + t + R"(}', values: '1x5 0x30'}
  - {series: 'leader_election_master_status{)" +
                              t + R"(,name="poetryops-controller",pod="a"}', values: '1x5 0x30'}
  - {series: 'controller_runtime_reconcile_errors_total{)" +
                              t + R"(,controller="poetryapps"}', values: '0+2x35'}
  - {series: 'workqueue_depth{)" +
                              t + R"(,name="poetryapps"}', values: '150x35'}
  alert_rule_test:
  - eval_time: 15m
    alertname: PoetryopsControllerDown
    exp_alerts:
    - exp_labels: {severity: critical}
      exp_annotations:
        summary: No poetryops controller of release poetryops is scraped
        description: Nothing promotes, builds or rolls back while it is down. kubectl -n poetryops-system get pods,events
  - eval_time: 15m
    alertname: PoetryopsNoLeader
    exp_alerts:
    - exp_labels: {severity: critical}
      exp_annotations:
        summary: No replica of poetryops release poetryops holds the Lease
        description: Replicas run but none leads, so nothing is reconciled. kubectl -n poetryops-system get lease poetryops-controller -o yaml, and the replicas' logs.
  - {eval_time: 10m, alertname: PoetryopsReconcileErrors, exp_alerts: []}
  - eval_time: 25m
    alertname: PoetryopsReconcileErrors
    exp_alerts:
    - exp_labels: {severity: warning}
      exp_annotations:
        summary: Reconciles of poetryops release poetryops keep failing
        description: The API server refuses status writes or is unreachable; see the leader's log (poetryops_status_writes_total{result="error"}, rest_client_requests_total by code).
  - eval_time: 20m
    alertname: PoetryopsWorkqueueBacklog
    exp_alerts:
    - exp_labels: {severity: warning}
      exp_annotations:
        summary: More than 100 PoetryApps wait to be reconciled
        description: 'The controller falls behind: raise controller.maxConcurrentReconciles or resources.limits.cpu, or shard across releases (watch.selector).'
)";
    ASSERT_TRUE(write_file_atomic(dir.path() / "alerts_test.yaml", tests));
    ProcessOptions o;
    o.cwd = dir.path().string();
    auto tested = run_process({"promtool", "test", "rules", "alerts_test.yaml"}, o);
    ASSERT_TRUE(tested);
    EXPECT_TRUE(tested->ok()) << tested->out << tested->err;
    EXPECT_THAT(tested->out, HasSubstr("SUCCESS"));
}

}  // namespace

#include <poetryops/kube/config.hpp>

#include <poetryops/util/fs.hpp>
#include <poetryops/util/log.hpp>
#include <poetryops/util/strings.hpp>

#include <gtest/gtest.h>

#include <map>
#include <mutex>

namespace poetryops::kube {
namespace {

std::string kubeconfig(const std::string& cluster_extra, const std::string& user) {
    return "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
           "clusters:\n- name: c1\n  cluster:\n    server: https://10.1.2.3:6443/\n" +
           cluster_extra +
           "- name: c2\n  cluster:\n    server: https://other:443\n"
           "users:\n- name: u1\n  user:\n" +
           user +
           "contexts:\n- name: dev\n  context:\n    cluster: c1\n    user: u1\n    namespace: "
           "team-a\n"
           "- name: prod\n  context:\n    cluster: c2\n    user: u1\n";
}

TEST(Kubeconfig, ReadsCurrentContextWithInlineCaAndToken) {
    std::string ca =
        str::base64_encode("-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n");
    auto cfg = parse_kubeconfig(
        kubeconfig("    certificate-authority-data: " + ca + "\n", "    token: s3cret\n"), "mem",
        "/nonexistent");
    ASSERT_TRUE(cfg) << cfg.error().message;
    EXPECT_EQ(cfg->server, "https://10.1.2.3:6443");
    EXPECT_EQ(cfg->namespace_, "team-a");
    EXPECT_EQ(cfg->token, "s3cret");
    EXPECT_NE(cfg->ca_pem.find("BEGIN CERTIFICATE"), std::string::npos);
    EXPECT_EQ(cfg->context, "dev");
    EXPECT_EQ(cfg->describe().find("s3cret"), std::string::npos)
        << "describe() must not leak the token";
}

TEST(Kubeconfig, ContextOverrideAndDefaultNamespace) {
    auto cfg = parse_kubeconfig(kubeconfig("", "    token: t\n"), "mem", "/", "prod");
    ASSERT_TRUE(cfg) << cfg.error().message;
    EXPECT_EQ(cfg->server, "https://other:443");
    EXPECT_EQ(cfg->namespace_, "default");
}

TEST(Kubeconfig, ReadsFilesRelativeToTheKubeconfig) {
    TempDir dir;
    ASSERT_TRUE(write_file_atomic(dir.path() / "ca.crt", "CA-PEM"));
    ASSERT_TRUE(write_file_atomic(dir.path() / "client.crt", "CERT-PEM"));
    ASSERT_TRUE(write_file_atomic(dir.path() / "client.key", "KEY-PEM"));
    ASSERT_TRUE(write_file_atomic(dir.path() / "token", "tok\n"));
    ASSERT_TRUE(write_file_atomic(
        dir.path() / "config",
        kubeconfig("    certificate-authority: ca.crt\n",
                   "    client-certificate: client.crt\n    client-key: " +
                       (dir.path() / "client.key").string() + "\n    tokenFile: token\n")));
    auto cfg = load_kubeconfig(dir.path() / "config");
    ASSERT_TRUE(cfg) << cfg.error().message;
    EXPECT_EQ(cfg->ca_pem, "CA-PEM");
    EXPECT_EQ(cfg->client_cert_pem, "CERT-PEM");
    EXPECT_EQ(cfg->client_key_pem, "KEY-PEM");
    EXPECT_EQ(cfg->token_file, (dir.path() / "token").string());
    TokenSource ts(*cfg);
    EXPECT_EQ(ts.token(), "tok");
}

struct BadCase {
    std::string yaml;
    std::string context;
    std::string expect;  // substring of the message
};

TEST(Kubeconfig, ErrorsNameTheFieldOrFile) {
    std::vector<BadCase> cases = {
        {kubeconfig("",
                    "    client-key: /no/such/key.pem\n    client-certificate-data: Q0VSVA==\n"),
         "", "users[u1].user.client-key: cannot read /no/such/key.pem"},
        {kubeconfig("    certificate-authority: /no/ca.crt\n", "    token: t\n"), "",
         "clusters[c1].cluster.certificate-authority: cannot read /no/ca.crt"},
        {kubeconfig("", "    client-certificate-data: Q0VSVA==\n"), "",
         "users[u1].user.client-key: is missing"},
        {kubeconfig("", "    token: t\n"), "staging",
         "context \"staging\" not found (available: dev, prod)"},
        {kubeconfig("", "    exec:\n      command: aws\n"), "", "users[u1].user.exec"},
        {kubeconfig("    certificate-authority-data: '%%%'\n", "    token: t\n"), "",
         "clusters[c1].cluster.certificate-authority-data: is not valid base64"},
        {kubeconfig("    insecure-skip-tls-verify: true\n    certificate-authority-data: Q0E=\n",
                    "    token: t\n"),
         "", "clusters[c1].cluster.insecure-skip-tls-verify: cannot be combined"},
        {"apiVersion: v1\nclusters:\n- name: c\n  cluster: {}\ncontexts:\n- name: x\n  context: "
         "{cluster: c}\n",
         "x", "clusters[c].cluster.server: is missing"},
        {"apiVersion: v1\ncontexts: []\n", "", "current-context: is not set"},
        {"apiVersion: v1\ncontexts:\n- name: x\n  context: {cluster: nope}\n", "x",
         "names cluster \"nope\" which is not in clusters"},
        {"key: [unclosed\n", "", "not valid YAML: line"},
    };
    for (const auto& c : cases) {
        auto cfg = parse_kubeconfig(c.yaml, "/home/u/.kube/config", "/", c.context);
        ASSERT_FALSE(cfg) << c.expect;
        EXPECT_NE(cfg.error().message.find("kubeconfig /home/u/.kube/config: "), std::string::npos)
            << cfg.error().message;
        EXPECT_NE(cfg.error().message.find(c.expect), std::string::npos) << cfg.error().message;
    }
}

TEST(Kubeconfig, UnreadableFileIsNamed) {
    auto cfg = load_kubeconfig("/no/such/kubeconfig");
    ASSERT_FALSE(cfg);
    EXPECT_NE(cfg.error().message.find("kubeconfig /no/such/kubeconfig: cannot read"),
              std::string::npos);
}

TEST(Kubeconfig, InsecureSkipVerifyIsAllowedWithALoudWarning) {
    std::vector<std::string> lines;
    std::mutex mu;
    log::set_sink([&](std::string_view l) {
        std::lock_guard lock(mu);
        lines.emplace_back(l);
    });
    auto cfg = parse_kubeconfig(
        kubeconfig("    insecure-skip-tls-verify: true\n", "    token: t\n"), "mem", "/");
    log::set_sink(nullptr);
    ASSERT_TRUE(cfg) << cfg.error().message;
    EXPECT_TRUE(cfg->insecure_skip_tls_verify);
    bool warned = false;
    for (const auto& l : lines)
        warned |= l.find("TLS VERIFICATION IS DISABLED") != std::string::npos;
    EXPECT_TRUE(warned);
    EXPECT_NE(cfg->describe().find("TLS verification DISABLED"), std::string::npos);
}

EnvLookup env_of(std::map<std::string, std::string> vars) {
    return [vars](const std::string& k) -> std::optional<std::string> {
        auto it = vars.find(k);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

TEST(InCluster, ReadsServiceAccountFilesAndEnv) {
    TempDir dir;
    InClusterPaths p{dir.path() / "token", dir.path() / "ca.crt", dir.path() / "namespace"};
    ASSERT_TRUE(write_file_atomic(p.token, "sa-token"));
    ASSERT_TRUE(write_file_atomic(p.ca, "CA"));
    ASSERT_TRUE(write_file_atomic(p.namespace_file, "poetryops-system\n"));
    auto cfg = load_in_cluster(
        env_of({{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT", "443"}}), p);
    ASSERT_TRUE(cfg) << cfg.error().message;
    EXPECT_EQ(cfg->server, "https://[fd00::1]:443");
    EXPECT_EQ(cfg->namespace_, "poetryops-system");
    EXPECT_EQ(cfg->ca_pem, "CA");
    EXPECT_EQ(cfg->token_file, p.token.string());

    auto missing = load_in_cluster(env_of({}), p);
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("KUBERNETES_SERVICE_HOST"), std::string::npos);
    InClusterPaths bad = p;
    bad.token = dir.path() / "nope";
    auto no_token = load_in_cluster(
        env_of({{"KUBERNETES_SERVICE_HOST", "h"}, {"KUBERNETES_SERVICE_PORT", "1"}}), bad);
    ASSERT_FALSE(no_token);
    EXPECT_NE(no_token.error().message.find((dir.path() / "nope").string()), std::string::npos);
}

TEST(InCluster, TokenIsReReadAboutEveryMinute) {
    TempDir dir;
    ManualClock clock;
    KubeConfig cfg;
    cfg.token_file = (dir.path() / "token").string();
    ASSERT_TRUE(write_file_atomic(cfg.token_file, "one"));
    TokenSource ts(cfg, clock);
    EXPECT_EQ(ts.token(), "one");
    ASSERT_TRUE(write_file_atomic(cfg.token_file, "two"));
    clock.advance(std::chrono::seconds(30));
    EXPECT_EQ(ts.token(), "one") << "cached within the refresh period";
    clock.advance(std::chrono::seconds(31));
    EXPECT_EQ(ts.token(), "two");
    std::filesystem::remove(cfg.token_file);
    clock.advance(std::chrono::seconds(61));
    EXPECT_EQ(ts.token(), "two") << "a failed re-read keeps the last token";
}

TEST(LoadConfig, ResolutionOrder) {
    TempDir dir;
    ASSERT_TRUE(write_file_atomic(dir.path() / "kc", kubeconfig("", "    token: t\n")));
    ConfigOptions o;
    o.env = env_of({{"KUBECONFIG", "/missing:" + (dir.path() / "kc").string()},
                    {"KUBERNETES_SERVICE_HOST", "10.0.0.1"},
                    {"KUBERNETES_SERVICE_PORT", "443"}});
    auto cfg = load_config(o);
    ASSERT_TRUE(cfg) << cfg.error().message;
    EXPECT_EQ(cfg->server, "https://10.1.2.3:6443") << "KUBECONFIG wins over in-cluster";
    o.env = env_of({{"HOME", dir.path().string()}});
    auto none = load_config(o);
    ASSERT_FALSE(none);
    EXPECT_NE(none.error().message.find("--kubeconfig"), std::string::npos);
}

}  // namespace
}  // namespace poetryops::kube

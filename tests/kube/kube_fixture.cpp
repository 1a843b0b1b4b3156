#include "kube/kube_fixture.hpp"

#include "support/support.hpp"

#include <poetryops/kube/status.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>

#include <atomic>
#include <cstdlib>

#include <unistd.h>

namespace poetryops::kube::testenv {
namespace {

const char* kToken = "poetryops-test-token";

class FakeEnv final : public KubeTestEnv {
public:
    Result<void> start() {
        POETRYOPS_TRY_VOID(server_.start({.token = kToken, .bookmark_interval = std::chrono::milliseconds(200)}));
        POETRYOPS_TRY_VOID(server_.write_kubeconfig(dir_.path() / "kubeconfig"));
        return ok();
    }
    KubeConfig config() const override { return server_.config(); }
    fake::FakeApiServer* fake() override { return &server_; }
    std::filesystem::path kubeconfig() const override { return dir_.path() / "kubeconfig"; }

private:
    TempDir dir_{"poetryops-fakekube"};
    fake::FakeApiServer server_;
};

/// etcd + kube-apiserver on loopback, stopped (by PID, process group) when destroyed.
class RealEnv final : public KubeTestEnv {
public:
    Result<void> start(const std::string& apiserver, const std::string& etcd) {
        auto dir = dir_.path();
        int etcd_client = test::free_port();
        int etcd_peer = test::free_port();
        std::string etcd_url = "http://127.0.0.1:" + std::to_string(etcd_client);
        POETRYOPS_TRY(etcd_, ChildProcess::spawn({etcd, "--data-dir", (dir / "etcd").string(), "--listen-client-urls",
                                                  etcd_url, "--advertise-client-urls", etcd_url, "--listen-peer-urls",
                                                  "http://127.0.0.1:" + std::to_string(etcd_peer),
                                                  "--initial-advertise-peer-urls",
                                                  "http://127.0.0.1:" + std::to_string(etcd_peer), "--initial-cluster",
                                                  "default=http://127.0.0.1:" + std::to_string(etcd_peer)},
                                                 {}, (dir / "etcd.log").string()));
        if (!test::wait_until([&] { return test::port_open(etcd_client); }, std::chrono::seconds(30))) {
            return fail(Error::make(Error::Kind::timeout, "etcd did not listen; see " + (dir / "etcd.log").string()));
        }
        auto [cert, key] = ca_.issue("apiserver", {"IP:127.0.0.1", "DNS:localhost"});
        auto sa_key = dir / "sa.key";
        auto sa_pub = dir / "sa.pub";
        POETRYOPS_TRY(auto gen, run_process({"openssl", "genrsa", "-out", sa_key.string(), "2048"}));
        POETRYOPS_TRY(auto pub, run_process({"openssl", "rsa", "-in", sa_key.string(), "-pubout", "-out",
                                             sa_pub.string()}));
        if (!gen.ok() || !pub.ok()) return fail(Error::make(Error::Kind::internal, "openssl: " + gen.err + pub.err));
        POETRYOPS_TRY_VOID(write_file_atomic(dir / "tokens.csv",
                                             std::string(kToken) + ",poetryops-admin,poetryops-admin,system:masters\n"));
        port_ = test::free_port();
        POETRYOPS_TRY(apiserver_,
                      ChildProcess::spawn({apiserver, "--etcd-servers", etcd_url, "--bind-address", "127.0.0.1",
                                           "--secure-port", std::to_string(port_), "--tls-cert-file", cert.string(),
                                           "--tls-private-key-file", key.string(), "--client-ca-file",
                                           ca_.ca_cert().string(), "--token-auth-file", (dir / "tokens.csv").string(),
                                           "--service-account-key-file", sa_pub.string(),
                                           "--service-account-signing-key-file", sa_key.string(),
                                           "--service-account-issuer", "https://kubernetes.default.svc",
                                           "--service-cluster-ip-range", "10.0.0.0/24", "--authorization-mode",
                                           "RBAC", "--allow-privileged=true",
                                           "--disable-admission-plugins", "ServiceAccount"},
                                          {}, (dir / "apiserver.log").string()));
        KubeConfig c = config();
        auto client = RestClient::create(c);
        if (!client) return fail(std::move(client).error());
        bool ready = test::wait_until([&] { return (*client)->raw("GET", "/readyz").has_value(); },
                                      std::chrono::seconds(60));
        if (!ready) {
            return fail(Error::make(Error::Kind::timeout,
                                    "kube-apiserver not ready; see " + (dir / "apiserver.log").string()));
        }
        std::string y = "apiVersion: v1\nkind: Config\ncurrent-context: envtest\nclusters:\n- name: envtest\n"
                        "  cluster:\n    server: " + c.server + "\n    certificate-authority: " +
                        ca_.ca_cert().string() + "\nusers:\n- name: envtest\n  user:\n    token: " + kToken +
                        "\ncontexts:\n- name: envtest\n  context:\n    cluster: envtest\n    user: envtest\n";
        POETRYOPS_TRY_VOID(write_file_atomic(dir / "kubeconfig", y, 0600));
        return ok();
    }
    KubeConfig config() const override {
        KubeConfig c;
        c.server = "https://127.0.0.1:" + std::to_string(port_);
        c.ca_pem = read_file(ca_.ca_cert()).value_or(std::string());
        c.token = kToken;
        c.context = "envtest";
        c.source = "envtest";
        return c;
    }
    std::filesystem::path kubeconfig() const override { return dir_.path() / "kubeconfig"; }

private:
    TempDir dir_{"poetryops-envtest"};
    test::TestCa ca_;
    ChildProcess etcd_;
    ChildProcess apiserver_;
    int port_ = 0;
};

}  // namespace

std::string real_lane_skip_reason() {
    const char* api = std::getenv("POETRYOPS_TEST_KUBE_APISERVER");
    const char* etcd = std::getenv("POETRYOPS_TEST_ETCD");
    if (api == nullptr || *api == '\0' || etcd == nullptr || *etcd == '\0') {
        return "envtest lane skipped: set POETRYOPS_TEST_KUBE_APISERVER and POETRYOPS_TEST_ETCD to kube-apiserver "
               "and etcd binaries to run this test against a real API server";
    }
    std::error_code ec;
    if (!std::filesystem::exists(api, ec)) return std::string("POETRYOPS_TEST_KUBE_APISERVER=") + api + " does not exist";
    if (!std::filesystem::exists(etcd, ec)) return std::string("POETRYOPS_TEST_ETCD=") + etcd + " does not exist";
    return {};
}

Result<std::unique_ptr<KubeTestEnv>> start_env(ServerKind kind) {
    if (kind == ServerKind::fake) {
        auto env = std::make_unique<FakeEnv>();
        POETRYOPS_TRY_VOID(env->start());
        return std::unique_ptr<KubeTestEnv>(std::move(env));
    }
    std::string why = real_lane_skip_reason();
    if (!why.empty()) return fail(Error::make(Error::Kind::not_found, why, "Skip"));
    auto env = std::make_unique<RealEnv>();
    POETRYOPS_TRY_VOID(env->start(std::getenv("POETRYOPS_TEST_KUBE_APISERVER"), std::getenv("POETRYOPS_TEST_ETCD")));
    return std::unique_ptr<KubeTestEnv>(std::move(env));
}

void KubeServerTest::SetUp() {
    auto env = start_env(GetParam());
    if (!env && env.error().reason == "Skip") GTEST_SKIP() << env.error().message;
    ASSERT_TRUE(env) << env.error().message;
    env_ = std::move(env).value();
}

void KubeServerTest::TearDown() { env_.reset(); }

std::unique_ptr<RestClient> KubeServerTest::make_client(MetricsRegistry* metrics) {
    RestClientOptions o;
    o.metrics = metrics;
    o.request_timeout = std::chrono::seconds(10);
    auto c = RestClient::create(env_->config(), o);
    EXPECT_TRUE(c) << c.error().message;
    return c ? std::move(c).value() : nullptr;
}

std::string KubeServerTest::fresh_namespace(RestClient& client) {
    static std::atomic<int> seq{0};
    std::string name = "t" + std::to_string(::getpid()) + "-" + std::to_string(++seq);
    nlohmann::json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}};
    auto r = client.create(resources::namespaces(), ns);
    EXPECT_TRUE(r || is_already_exists(r.error())) << (r ? "" : r.error().message);
    return name;
}

std::string server_kind_name(const ::testing::TestParamInfo<ServerKind>& info) {
    return info.param == ServerKind::fake ? "Fake" : "RealApiServer";
}

}  // namespace poetryops::kube::testenv

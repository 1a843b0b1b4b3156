#include "kube/kube_fixture.hpp"

#include "support/kube/cluster.hpp"
#include "support/support.hpp"

#include <poetryops/kube/status.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>

#include <unistd.h>

namespace poetryops::kube::testenv {
namespace {

const char* kToken = "poetryops-test-token";

class FakeEnv final : public KubeTestEnv {
public:
    Result<void> start() {
        POETRYOPS_TRY_VOID(
            server_.start({.token = kToken, .bookmark_interval = std::chrono::milliseconds(200)}));
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

/// The run's real cluster (tests/support/kube/cluster.hpp): shared, so nothing is stopped here.
class RealEnv final : public KubeTestEnv {
public:
    explicit RealEnv(const test::kube::ClusterInfo& info, KubeConfig config)
        : info_(info), config_(std::move(config)) {}
    KubeConfig config() const override { return config_; }
    std::filesystem::path kubeconfig() const override { return info_.admin_kubeconfig; }
    const test::kube::ClusterInfo* cluster() const override { return &info_; }

private:
    const test::kube::ClusterInfo& info_;
    KubeConfig config_;
};

}  // namespace

std::string real_lane_skip_reason() { return test::kube::lane_skip_reason(); }

Result<std::unique_ptr<KubeTestEnv>> start_env(ServerKind kind) {
    if (kind == ServerKind::fake) {
        auto env = std::make_unique<FakeEnv>();
        POETRYOPS_TRY_VOID(env->start());
        return std::unique_ptr<KubeTestEnv>(std::move(env));
    }
    POETRYOPS_TRY(const test::kube::ClusterInfo* cluster, test::kube::shared_cluster());
    POETRYOPS_TRY(auto config, cluster->admin());
    return std::unique_ptr<KubeTestEnv>(std::make_unique<RealEnv>(*cluster, std::move(config)));
}

void KubeServerTest::SetUp() {
    auto env = start_env(GetParam());
    if (!env && env.error().reason == "Skip") GTEST_SKIP() << env.error().message;
    ASSERT_TRUE(env) << env.error().message;
    env_ = std::move(env).value();
}

void KubeServerTest::TearDown() { env_.reset(); }

std::unique_ptr<RestClient> KubeServerTest::make_client(metrics::MetricsRegistry* metrics) {
    RestClientOptions o;
    o.metrics = metrics;
    o.request_timeout = std::chrono::seconds(10);
    auto c = RestClient::create(env_->config(), o);
    EXPECT_TRUE(c) << c.error().message;
    return c ? std::move(c).value() : nullptr;
}

std::string KubeServerTest::fresh_namespace(RestClient& client) {
    return test::kube::create_namespace(client, "t");
}

std::string server_kind_name(const ::testing::TestParamInfo<ServerKind>& info) {
    return info.param == ServerKind::fake ? "Fake" : "RealApiServer";
}

}  // namespace poetryops::kube::testenv

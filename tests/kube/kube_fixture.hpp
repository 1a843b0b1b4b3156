#pragma once
/// Every kube integration test runs against the real Kubernetes lane (a real kube-apiserver + etcd
/// + kube-controller-manager shared by the whole ctest run, tests/support/kube/cluster.hpp) and,
/// for the faults a real server cannot produce on demand, against the in-repo fake API server.
/// Where the lane cannot run (a fresh clone without ../shared/k8s) the real instances skip with one
/// line saying how to enable it; with POETRYOPS_REQUIRE_KUBE_LANE=1 (CI) they fail instead.
///
///   class MyIt : public kube::testenv::KubeServerTest {};
///   TEST_P(MyIt, Works) { auto client = make_client(); ... if (!fake()) GTEST_SKIP() << "fault
///   switch"; } POETRYOPS_KUBE_SERVERS(MyIt);

#include "kube/fake_apiserver.hpp"
#include "support/kube/cluster.hpp"

#include <poetryops/kube/client.hpp>
#include <poetryops/kube/config.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

namespace poetryops::kube::testenv {

enum class ServerKind { fake, real };

/// A running API server for one test.
class KubeTestEnv {
public:
    virtual ~KubeTestEnv() = default;
    virtual KubeConfig config() const = 0;
    /// The fake server's controls; null against a real API server.
    virtual fake::FakeApiServer* fake() { return nullptr; }
    /// A kubeconfig file for this server.
    virtual std::filesystem::path kubeconfig() const = 0;
    /// The real cluster (identities, CA, its folder); null for the fake.
    virtual const test::kube::ClusterInfo* cluster() const { return nullptr; }
};

/// Empty when the real lane can run, else why not.
std::string real_lane_skip_reason();

/// Starts a server (fake) or connects to the run's cluster (real). For `real`, fails with reason
/// "Skip" (message = why) when the lane cannot run here and is not required.
Result<std::unique_ptr<KubeTestEnv>> start_env(ServerKind kind);

/// Base fixture: SetUp starts the server of GetParam() (skipping the real lane when not
/// configured).
class KubeServerTest : public ::testing::TestWithParam<ServerKind> {
protected:
    void SetUp() override;
    void TearDown() override;
    /// A RestClient for the server (fails the test when it cannot be made).
    std::unique_ptr<RestClient> make_client(metrics::MetricsRegistry* metrics = nullptr);
    fake::FakeApiServer* fake() { return env_ ? env_->fake() : nullptr; }
    KubeTestEnv& env() { return *env_; }
    /// Creates a namespace unique to this test and returns its name.
    std::string fresh_namespace(RestClient& client);

    std::unique_ptr<KubeTestEnv> env_;
};

std::string server_kind_name(const ::testing::TestParamInfo<ServerKind>& info);

}  // namespace poetryops::kube::testenv

#define POETRYOPS_KUBE_SERVERS(Fixture)                                                       \
    INSTANTIATE_TEST_SUITE_P(Servers, Fixture,                                                \
                             ::testing::Values(::poetryops::kube::testenv::ServerKind::fake,  \
                                               ::poetryops::kube::testenv::ServerKind::real), \
                             ::poetryops::kube::testenv::server_kind_name)

/// Faults a real API server cannot be made to produce on demand (a watch cut mid-event, a 410 at a
/// chosen moment, a 500 storm, a rotated token): the fake only.
#define POETRYOPS_KUBE_FAKE_ONLY(Fixture)                                                     \
    INSTANTIATE_TEST_SUITE_P(Servers, Fixture,                                                \
                             ::testing::Values(::poetryops::kube::testenv::ServerKind::fake), \
                             ::poetryops::kube::testenv::server_kind_name)

/// What only a real API server does (OpenAPI and CEL validation, the watch cache's window, RBAC,
/// controllers).
#define POETRYOPS_KUBE_REAL_ONLY(Fixture)                                                     \
    INSTANTIATE_TEST_SUITE_P(Servers, Fixture,                                                \
                             ::testing::Values(::poetryops::kube::testenv::ServerKind::real), \
                             ::poetryops::kube::testenv::server_kind_name)

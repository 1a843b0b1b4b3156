#pragma once
/// The envtest-style lane: every kube integration test runs against the in-repo fake API server and, when
/// POETRYOPS_TEST_KUBE_APISERVER and POETRYOPS_TEST_ETCD name real binaries (like controller-runtime's envtest and
/// KUBEBUILDER_ASSETS), against a real kube-apiserver + etcd started on loopback with generated certificates
/// (TestCa), a service-account key and a static token. Without them the real lane is skipped with the reason.
///
///   class MyIt : public kube::testenv::KubeServerTest {};
///   TEST_P(MyIt, Works) { auto client = make_client(); ... if (!fake()) GTEST_SKIP() << "fault switch"; }
///   POETRYOPS_KUBE_SERVERS(MyIt);

#include "kube/fake_apiserver.hpp"

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
};

/// Empty when the real lane can run, else why not.
std::string real_lane_skip_reason();

/// Starts a server. For `real`, fails with reason "Skip" (message = why) when the lane is not configured.
Result<std::unique_ptr<KubeTestEnv>> start_env(ServerKind kind);

/// Base fixture: SetUp starts the server of GetParam() (skipping the real lane when not configured).
class KubeServerTest : public ::testing::TestWithParam<ServerKind> {
protected:
    void SetUp() override;
    void TearDown() override;
    /// A RestClient for the server (fails the test when it cannot be made).
    std::unique_ptr<RestClient> make_client(MetricsRegistry* metrics = nullptr);
    fake::FakeApiServer* fake() { return env_ ? env_->fake() : nullptr; }
    KubeTestEnv& env() { return *env_; }
    /// Creates a namespace unique to this test and returns its name.
    std::string fresh_namespace(RestClient& client);

    std::unique_ptr<KubeTestEnv> env_;
};

std::string server_kind_name(const ::testing::TestParamInfo<ServerKind>& info);

}  // namespace poetryops::kube::testenv

#define POETRYOPS_KUBE_SERVERS(Fixture)                                                                  \
    INSTANTIATE_TEST_SUITE_P(Servers, Fixture,                                                           \
                             ::testing::Values(::poetryops::kube::testenv::ServerKind::fake,             \
                                               ::poetryops::kube::testenv::ServerKind::real),            \
                             ::poetryops::kube::testenv::server_kind_name)

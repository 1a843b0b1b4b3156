// The real `poetryops controller` binary against the fake API server: bad configuration exits 2 with one line,
// SIGTERM finishes in-flight work, releases the lease and exits 0.
#include <poetryops/controller/app_controller.hpp>

#include <poetryops/api/codec.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>
#include <support/support.hpp>

#include "kube/fake_apiserver.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

using namespace poetryops;
using nlohmann::json;

namespace {

std::string binary() {
    // <build>/tests/controller/test_controller_it → <build>/poetryops
    return (std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path().parent_path() / "poetryops")
        .string();
}

json app(const std::string& name, const std::string& ns) {
    return json{{"apiVersion", "poetryops.io/v1alpha1"},
                {"kind", "PoetryApp"},
                {"metadata", {{"name", name}, {"namespace", ns}}},
                {"spec",
                 {{"image", {{"repository", "registry.example.com/acme/" + name}}},
                  {"gitops", {{"repoURL", "https://git.example.com/acme/deploy.git"}}},
                  {"environments", json::array({json{{"name", "dev"}, {"path", "envs/dev"}}})}}}};
}

}  // namespace

TEST(ControllerCommand, MissingKubeconfigExits2WithOneClearLine) {
    ASSERT_TRUE(std::filesystem::exists(binary())) << binary();
    auto r = run_process({binary(), "controller", "--kubeconfig", "/nonexistent/kubeconfig"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->exit_code, 2);
    EXPECT_THAT(r->err, testing::HasSubstr("/nonexistent/kubeconfig"));
    EXPECT_EQ(std::count(r->err.begin(), r->err.end(), '\n'), 1) << r->err;
}

TEST(ControllerCommand, BadFlagsExit2) {
    auto r = run_process({binary(), "controller", "--max-concurrent-reconciles", "0"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->exit_code, 2);
    auto bind = run_process({binary(), "controller", "--kubeconfig", "/dev/null", "--metrics-bind-address", "nope"});
    ASSERT_TRUE(bind);
    EXPECT_EQ(bind->exit_code, 2) << bind->err;
}

TEST(ControllerCommand, ReconcilesThenSigtermIsGracefulAndReleasesTheLease) {
    kube::fake::FakeApiServer server;
    ASSERT_TRUE(server.start());
    server.register_type({kube::resources::poetryapps(), "PoetryApp", true});
    server.ensure_namespace("team-a");
    ASSERT_TRUE(server.put(kube::resources::poetryapps(), app("billing", "team-a")));
    TempDir dir("controller-cmd");
    ASSERT_TRUE(server.write_kubeconfig(dir.path() / "kubeconfig"));
    int health = test::free_port();
    auto child = ChildProcess::spawn({binary(), "controller", "--kubeconfig", (dir.path() / "kubeconfig").string(),
                                      "--namespace", "team-a", "--leader-elect", "--leader-election-namespace",
                                      "team-a", "--metrics-bind-address", "0", "--health-probe-bind-address",
                                      "127.0.0.1:" + std::to_string(health), "--no-promotion"},
                                     {}, (dir.path() / "controller.log").string());
    ASSERT_TRUE(child) << child.error().message;
    auto ref = kube::resources::poetryapps().in("team-a").named("billing");
    bool ready = test::wait_until([&] {
        auto o = server.get(ref);
        return o && o->contains("status") && (*o)["status"].value("observedGeneration", 0) == 1;
    });
    auto log = read_file(dir.path() / "controller.log");
    ASSERT_TRUE(ready) << (log ? *log : "");
    EXPECT_EQ((*server.get(ref))["status"]["conditions"][0]["status"], "True");
    auto lease_ref = kube::resources::leases().in("team-a").named("poetryops-controller");
    auto lease = server.get(lease_ref);
    ASSERT_TRUE(lease);
    EXPECT_NE((*lease)["spec"].value("holderIdentity", ""), "");
    EXPECT_EQ(child->stop(std::chrono::seconds(20)), 0);  // SIGTERM → graceful → exit 0
    lease = server.get(lease_ref);
    ASSERT_TRUE(lease);
    EXPECT_EQ((*lease)["spec"].value("holderIdentity", ""), "") << lease->dump();
}

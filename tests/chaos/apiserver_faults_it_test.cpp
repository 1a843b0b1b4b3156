// Chaos, issue #15 "Faults" on the API server: `poetryops controller` (the real binary) reaches
// the real kube-apiserver through the fault-injecting TCP proxy
// (tests/support/http/fault_proxy.hpp; TLS passes through it untouched). While specs of its
// PoetryApps keep changing (written straight to the API server, not through the proxy), the proxy
// cuts every open connection — the watch streams among them — again and again, and resets the first
// connections after each cut (the relist fails and is retried). No spec change may be lost:
// afterwards every app's status.observedGeneration reaches its metadata.generation well before the
// 10-minute resync could have caught it up.
#include <poetryops/controller/resources.hpp>
#include <poetryops/kube/client.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <random>
#include <thread>

#include "support/http/fault_proxy.hpp"
#include "support/kube/cluster.hpp"
#include "support/kube/crds.hpp"
#include "support/support.hpp"

using namespace poetryops;
using nlohmann::json;
using Steady = std::chrono::steady_clock;
namespace fs = std::filesystem;
namespace tk = poetryops::test::kube;

namespace {

json app(const std::string& name, const std::string& ns) {
    return json{{"apiVersion", "poetryops.io/v1alpha1"},
                {"kind", "PoetryApp"},
                {"metadata", {{"name", name}, {"namespace", ns}}},
                {"spec",
                 {{"image", {{"repository", "registry.example.com/acme/" + name}}},
                  {"gitops", {{"repoURL", "https://git.example.com/acme/deploy.git"}}},
                  {"environments", json::array({json{{"name", "dev"}, {"path", "envs/dev"}}})}}}};
}

TEST(ApiServerFaults, CutWatchStreamsAndFailedRelistsLoseNoSpecChange) {
    auto cluster = tk::shared_cluster();
    if (!cluster && cluster.error().reason == "Skip") GTEST_SKIP() << cluster.error().message;
    ASSERT_TRUE(cluster) << cluster.error().message;
    auto cfg = kube::load_kubeconfig((*cluster)->admin_kubeconfig);
    ASSERT_TRUE(cfg) << cfg.error().message;
    auto admin = kube::RestClient::create(*cfg);
    ASSERT_TRUE(admin) << admin.error().message;
    ASSERT_TRUE(tk::apply_crds(**admin, tk::yaml_files(test::source_dir() / "crds")));
    const std::string ns = tk::create_namespace(**admin, "apifaults");
    constexpr int kApps = 20;
    for (int i = 0; i < kApps; ++i)
        ASSERT_TRUE(
            (*admin)->create(controller::poetryapps().in(ns), app("app" + std::to_string(i), ns)));

    // The controller's kubeconfig names the proxy instead of the API server.
    const std::string server = (*cluster)->server;  // https://127.0.0.1:PORT
    const int api_port = std::stoi(server.substr(server.rfind(':') + 1));
    test::FaultProxy proxy(api_port);
    TempDir dir("poetryops-apifaults");
    auto text = read_file((*cluster)->admin_kubeconfig);
    ASSERT_TRUE(text);
    std::string proxied = *text;
    for (auto at = proxied.find(server); at != std::string::npos; at = proxied.find(server, at))
        proxied.replace(at, server.size(), "https://127.0.0.1:" + std::to_string(proxy.port()));
    ASSERT_NE(proxied, *text) << "the kubeconfig names " << server;
    ASSERT_TRUE(write_file_atomic(dir.path() / "kubeconfig", proxied));

    auto controller = ChildProcess::spawn(
        {POETRYOPS_BIN, "controller", "--kubeconfig", (dir.path() / "kubeconfig").string(),
         "--namespace", ns, "--no-promotion", "--metrics-bind-address", "0",
         "--health-probe-bind-address", "0"},
        {}, (dir.path() / "controller.log").string());
    ASSERT_TRUE(controller) << controller.error().message;

    auto generations_reconciled = [&](int& behind) {
        behind = 0;
        auto list = (*admin)->list(controller::poetryapps().in(ns), {});
        if (!list) return false;
        for (const auto& o : list->items) {
            const auto gen = o["metadata"].value("generation", 0);
            const auto seen = o.contains("status") ? o["status"].value("observedGeneration", 0) : 0;
            if (seen < gen) ++behind;
        }
        return behind == 0;
    };
    int behind = 0;
    ASSERT_TRUE(
        test::wait_until([&] { return generations_reconciled(behind); }, std::chrono::seconds(60)))
        << behind << " apps never reconciled\n"
        << read_file(dir.path() / "controller.log").value_or("");

    // 15 s of spec changes (one every 50 ms, round robin over the apps); every second the proxy
    // cuts every open connection and resets the next two it accepts.
    std::mt19937 rng(42);
    int edits = 0, cuts = 0;
    const auto start = Steady::now();
    auto next_cut = start + std::chrono::seconds(1);
    while (Steady::now() - start < std::chrono::seconds(15)) {
        const std::string name = "app" + std::to_string(edits % kApps);
        auto r =
            (*admin)->patch(controller::poetryapps().in(ns).named(name), kube::PatchType::merge,
                            {{"spec", {{"historyLimit", 2 + static_cast<int>(rng() % 50)}}}});
        if (r) ++edits;
        if (Steady::now() >= next_cut) {
            proxy.cut_all();
            proxy.set({.kind = test::FaultKind::reset, .count = 2});
            ++cuts;
            next_cut += std::chrono::seconds(1);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    proxy.clear();
    const auto t0 = Steady::now();
    const bool caught_up =
        test::wait_until([&] { return generations_reconciled(behind); }, std::chrono::seconds(90));
    const double catch_up_s = std::chrono::duration<double>(Steady::now() - t0).count();
    std::cerr << "apiserver faults: " << edits << " spec changes, " << cuts
              << " cuts of every connection, " << proxy.faulted() << " connections reset, "
              << proxy.connections() << " connections; caught up " << catch_up_s
              << " s after the last change\n";
    EXPECT_TRUE(caught_up) << behind << " apps behind their generation\n"
                           << read_file(dir.path() / "controller.log").value_or("");
    EXPECT_GE(cuts, 10);
    EXPECT_GT(proxy.faulted(), 0);
    EXPECT_TRUE(controller->running()) << "the controller rode it out";
    EXPECT_EQ(controller->stop(std::chrono::seconds(20)), 0);
}

}  // namespace

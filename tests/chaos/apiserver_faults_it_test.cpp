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
#include <poetryops/kube/status.hpp>
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

/// The real controller watching kApps PoetryApps through the proxy, every app reconciled.
class ApiServerFaults : public ::testing::Test {
protected:
    static constexpr int kApps = 20;

    void SetUp() override {
        auto cluster = tk::shared_cluster();
        if (!cluster && cluster.error().reason == "Skip") GTEST_SKIP() << cluster.error().message;
        ASSERT_TRUE(cluster) << cluster.error().message;
        auto cfg = kube::load_kubeconfig((*cluster)->admin_kubeconfig);
        ASSERT_TRUE(cfg) << cfg.error().message;
        auto admin = kube::RestClient::create(*cfg);
        ASSERT_TRUE(admin) << admin.error().message;
        admin_ = std::move(*admin);
        ASSERT_TRUE(tk::apply_crds(*admin_, tk::yaml_files(test::source_dir() / "crds")));
        ns_ = tk::create_namespace(*admin_, "apifaults");
        for (int i = 0; i < kApps; ++i)
            ASSERT_TRUE(admin_->create(controller::poetryapps().in(ns_),
                                       app("app" + std::to_string(i), ns_)));

        // The controller's kubeconfig names the proxy instead of the API server.
        const std::string server = (*cluster)->server;  // https://127.0.0.1:PORT
        const int api_port = std::stoi(server.substr(server.rfind(':') + 1));
        proxy_ = std::make_unique<test::FaultProxy>(api_port);
        auto text = read_file((*cluster)->admin_kubeconfig);
        ASSERT_TRUE(text);
        std::string proxied = *text;
        for (auto at = proxied.find(server); at != std::string::npos; at = proxied.find(server, at))
            proxied.replace(at, server.size(),
                            "https://127.0.0.1:" + std::to_string(proxy_->port()));
        ASSERT_NE(proxied, *text) << "the kubeconfig names " << server;
        ASSERT_TRUE(write_file_atomic(dir_.path() / "kubeconfig", proxied));

        auto controller = ChildProcess::spawn(
            {POETRYOPS_BIN, "controller", "--kubeconfig", (dir_.path() / "kubeconfig").string(),
             "--namespace", ns_, "--no-promotion", "--metrics-bind-address", "0",
             "--health-probe-bind-address", "0"},
            {}, (dir_.path() / "controller.log").string());
        ASSERT_TRUE(controller) << controller.error().message;
        controller_ = std::move(*controller);
        int behind = 0;
        ASSERT_TRUE(test::wait_until([&] { return generations_reconciled(behind); },
                                     std::chrono::seconds(60)))
            << behind << " apps never reconciled\n"
            << log();
    }

    /// Every app's status.observedGeneration has reached its metadata.generation; `behind`
    /// counts those that have not.
    bool generations_reconciled(int& behind) {
        behind = 0;
        auto list = admin_->list(controller::poetryapps().in(ns_), {});
        if (!list) return false;
        for (const auto& o : list->items) {
            const auto gen = o["metadata"].value("generation", 0);
            const auto seen = o.contains("status") ? o["status"].value("observedGeneration", 0) : 0;
            if (seen < gen) ++behind;
        }
        return behind == 0;
    }

    /// One spec change of app `i % kApps`, straight to the API server.
    bool edit(int i, int history_limit) {
        return static_cast<bool>(
            admin_->patch(controller::poetryapps().in(ns_).named("app" + std::to_string(i % kApps)),
                          kube::PatchType::merge, {{"spec", {{"historyLimit", history_limit}}}}));
    }

    std::string log() const { return read_file(dir_.path() / "controller.log").value_or(""); }

    std::unique_ptr<kube::RestClient> admin_;
    std::string ns_;
    std::unique_ptr<test::FaultProxy> proxy_;
    TempDir dir_{"poetryops-apifaults"};
    std::optional<ChildProcess> controller_;
};

TEST_F(ApiServerFaults, CutWatchStreamsAndFailedRelistsLoseNoSpecChange) {
    test::FaultProxy& proxy = *proxy_;
    auto& controller = controller_;
    int behind = 0;
    // 15 s of spec changes (one every 50 ms, round robin over the apps); every second the proxy
    // cuts every open connection and resets the next two it accepts.
    std::mt19937 rng(42);
    int edits = 0, cuts = 0;
    const auto start = Steady::now();
    auto next_cut = start + std::chrono::seconds(1);
    while (Steady::now() - start < std::chrono::seconds(15)) {
        if (edit(edits, 2 + static_cast<int>(rng() % 50))) ++edits;
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
    EXPECT_TRUE(caught_up) << behind << " apps behind their generation\n" << log();
    EXPECT_GE(cuts, 10);
    EXPECT_GT(proxy.faulted(), 0);
    EXPECT_TRUE(controller->running()) << "the controller rode it out";
    EXPECT_EQ(controller->stop(std::chrono::seconds(20)), 0);
}

// A real 410 Gone: while the controller cannot reach the API server, its watch cache (v1.28:
// at least 100 events, grown while its oldest event is under 75 s old, trimmed once that is older)
// drops every event since the resourceVersion the controller last saw, so the watch it resumes is
// refused as expired and it must list again. The test waits until the cache's events are stale,
// then changes specs until a watch from that resourceVersion is refused, and only then lets the
// controller back. No change may be lost.
TEST_F(ApiServerFaults, AnExpiredResourceVersionForcesARelistThatLosesNoSpecChange) {
    auto listed = admin_->list(controller::poetryapps().in(ns_), {});
    ASSERT_TRUE(listed) << listed.error().message;
    const std::string seen = listed->resource_version;  // the controller is in sync with it
    proxy_->set({.kind = test::FaultKind::reset});
    proxy_->cut_all();
    auto expired = [&] {
        kube::WatchOptions wo;
        wo.resource_version = seen;
        wo.timeout_seconds = 2;
        auto w = admin_->watch(controller::poetryapps().in(ns_), wo);
        if (!w) return kube::is_gone(w.error());
        auto ev = (*w)->next();
        (*w)->cancel();
        return !ev && kube::is_gone(ev.error());
    };
    ASSERT_FALSE(expired()) << "the watch cache already lost " << seen;
    std::this_thread::sleep_for(std::chrono::seconds(80));
    int edits = 0;
    bool gone = false;
    const auto start = Steady::now();
    while (!gone && Steady::now() - start < std::chrono::minutes(4)) {
        for (int i = 0; i < 50; ++i) edits += edit(edits, 2 + edits % 50) ? 1 : 0;
        gone = expired();
    }
    ASSERT_TRUE(gone) << edits << " spec changes and a watch from " << seen << " still resumes";
    proxy_->clear();
    const auto t0 = Steady::now();
    int behind = 0;
    const bool caught_up =
        test::wait_until([&] { return generations_reconciled(behind); }, std::chrono::seconds(90));
    const double catch_up_s = std::chrono::duration<double>(Steady::now() - t0).count();
    const std::string text = log();
    std::cerr << "apiserver faults: 410 Gone after " << edits
              << " spec changes while unreachable; caught up " << catch_up_s
              << " s after it came back\n";
    EXPECT_TRUE(caught_up) << behind << " apps behind their generation\n" << text;
    EXPECT_THAT(text, testing::HasSubstr("relisting"))
        << "the API server answered 410 Gone to the resumed watch";
    EXPECT_TRUE(controller_->running());
    EXPECT_EQ(controller_->stop(std::chrono::seconds(20)), 0);
}

}  // namespace

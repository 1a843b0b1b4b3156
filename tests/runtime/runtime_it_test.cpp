// Leader election and the manager against the real Kubernetes lane and the fake API server (Events:
// tests/kube/events_it_test.cpp).
#include <poetryops/runtime/manager.hpp>

#include "kube/kube_fixture.hpp"
#include "support/support.hpp"

#include <poetryops/http/client.hpp>
#include <poetryops/kube/status.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <set>

namespace poetryops::runtime {
namespace {

using namespace std::chrono_literals;
using kube::testenv::KubeServerTest;

class RuntimeIt : public KubeServerTest {};

LeaderElectionConfig fast_election(const std::string& ns, const std::string& id) {
    LeaderElectionConfig c;
    c.lease_namespace = ns;
    c.lease_name = "poetryops-it";
    c.identity = id;
    c.lease_duration = 1500ms;
    c.renew_deadline = 1000ms;
    c.retry_period = 100ms;
    return c;
}

TEST_P(RuntimeIt, SecondCandidateTakesOverWhenTheLeaderStopsRenewing) {
    auto client_a = make_client();
    auto client_b = make_client();
    ASSERT_TRUE(client_a && client_b);
    std::string ns = fresh_namespace(*client_a);
    std::atomic<bool> a_leads{false}, b_leads{false}, a_lost{false};
    auto ca = fast_election(ns, "candidate-a");
    ca.on_started_leading = [&] { a_leads = true; };
    ca.on_stopped_leading = [&] { a_lost = true; };
    auto cb = fast_election(ns, "candidate-b");
    cb.on_started_leading = [&] { b_leads = true; };
    LeaderElector a(*client_a, ca);
    LeaderElector b(*client_b, cb);
    std::thread ta([&] { a.run(); });
    ASSERT_TRUE(test::wait_until([&] { return a_leads.load(); }, 10s));
    std::thread tb([&] { b.run(); });
    std::this_thread::sleep_for(
        600ms);  // several retry periods: b must keep waiting while a renews
    EXPECT_FALSE(b_leads.load()) << "b must not lead while a renews";
    EXPECT_EQ(b.observed_holder(), "candidate-a");

    // a stops renewing without releasing (a crashed leader): simulate by failing its renewals.
    auto started = std::chrono::steady_clock::now();
    if (fake()) {
        fake()->fail_next(1000, 500,
                          "PUT");  // all lease updates fail, including b's first attempts
        ASSERT_TRUE(test::wait_until([&] { return a_lost.load(); }, 10s));
        fake()->fail_next(0, 500);
    } else {
        a.stop();  // real server: no fault switch; a deliberate stop releases instead
    }
    ASSERT_TRUE(test::wait_until([&] { return b_leads.load(); }, 15s));
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
    auto lease = client_b->get(kube::resources::leases().in(ns).named("poetryops-it"));
    ASSERT_TRUE(lease);
    EXPECT_EQ((*lease)["spec"]["holderIdentity"], "candidate-b");
    EXPECT_GE((*lease)["spec"].value("leaseTransitions", 0), 1);
    b.stop();
    a.stop();
    ta.join();
    tb.join();
    lease = client_b->get(kube::resources::leases().in(ns).named("poetryops-it"));
    ASSERT_TRUE(lease);
    EXPECT_EQ((*lease)["spec"]["holderIdentity"], "") << "a stopped leader releases the lease";
}

/// Counts reconciles per key; fails "bad" keys, throws for "boom".
class CountingReconciler final : public Reconciler {
public:
    Result<ReconcileResult> reconcile(const std::string& key) override {
        {
            std::lock_guard lock(mu);
            ++counts[key];
            if (!in_flight.insert(key).second) concurrent = true;
        }
        std::this_thread::sleep_for(slow);
        {
            std::lock_guard lock(mu);
            in_flight.erase(key);
        }
        if (key.find("boom") != std::string::npos) throw std::runtime_error("kaboom");
        if (key.find("bad") != std::string::npos) {
            Error e = Error::make(Error::Kind::invalid, "spec is invalid");
            e.terminal = true;
            return fail(e);
        }
        return ReconcileResult{};
    }
    int count(const std::string& k) {
        std::lock_guard lock(mu);
        return counts[k];
    }
    std::mutex mu;
    std::map<std::string, int> counts;
    std::set<std::string> in_flight;
    bool concurrent = false;
    std::chrono::milliseconds slow{0};
};

std::string http_get(int port, const std::string& path, int* status) {
    auto c = http::Client::create();
    if (!c) return {};
    auto r =
        (*c)->request({.method = "GET", .url = "http://127.0.0.1:" + std::to_string(port) + path});
    if (!r) return {};
    *status = r->status;
    return r->body;
}

TEST_P(RuntimeIt, ManagerReconcilesServesProbesAndMetricsAndStopsCleanly) {
    auto client = make_client();
    ASSERT_TRUE(client);
    std::string ns = fresh_namespace(*client);
    kube::ResourceRef cms = kube::resources::configmaps().in(ns);
    for (const char* name : {"good-1", "good-2", "bad-1", "boom-1"}) {
        ASSERT_TRUE(client->create(cms, {{"apiVersion", "v1"},
                                         {"kind", "ConfigMap"},
                                         {"metadata", {{"name", name}, {"namespace", ns}}}}));
    }
    ManagerOptions mo;
    mo.metrics_bind_address = "127.0.0.1:0";
    mo.health_probe_bind_address = "127.0.0.1:0";
    mo.leader_election = true;
    mo.leader_election_namespace = ns;
    mo.leader_identity = "manager-under-test";
    mo.retry_period = 100ms;
    std::atomic<bool> lost{false};
    mo.on_lost_leadership = [&] { lost = true; };
    Manager mgr(*client, mo);
    auto& inf = mgr.add_informer({.resource = cms});
    CountingReconciler rec;
    rec.slow = 20ms;
    auto& ctl = mgr.add_controller({.name = "configmaps", .max_concurrent_reconciles = 3}, rec);
    ctl.watch(inf);
    ASSERT_TRUE(mgr.start());
    ASSERT_TRUE(test::wait_until([&] { return mgr.controllers_started(); }, 20s));
    EXPECT_TRUE(mgr.is_leader());
    ASSERT_TRUE(test::wait_until([&] {
        return rec.count(ns + "/good-1") >= 1 && rec.count(ns + "/good-2") >= 1 &&
               rec.count(ns + "/bad-1") >= 1 && rec.count(ns + "/boom-1") >= 2;
    }));
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(rec.count(ns + "/bad-1"), 1) << "terminal errors are not retried";
    // A change wakes its key again.
    ASSERT_TRUE(
        client->patch(cms.named("good-1"), kube::PatchType::merge, {{"data", {{"x", "1"}}}}));
    ASSERT_TRUE(test::wait_until([&] { return rec.count(ns + "/good-1") >= 2; }));
    EXPECT_FALSE(rec.concurrent);

    int status = 0;
    EXPECT_EQ(http_get(mgr.health_port(), "/healthz", &status), "ok");
    EXPECT_EQ(status, 200);
    http_get(mgr.health_port(), "/readyz", &status);
    EXPECT_EQ(status, 200);
    std::string metrics = http_get(mgr.metrics_port(), "/metrics", &status);
    EXPECT_EQ(status, 200);
    for (const char* needle :
         {"controller_runtime_reconcile_total{controller=\"configmaps\",result=\"success\"}",
          "controller_runtime_reconcile_total{controller=\"configmaps\",result=\"error\"}",
          "controller_runtime_reconcile_time_seconds_bucket{controller=\"configmaps\",le=\"0."
          "025\"}",
          "controller_runtime_reconcile_panics_total{controller=\"configmaps\"}",
          "controller_runtime_reconcile_errors_total{controller=\"configmaps\"}",
          "workqueue_depth{name=\"configmaps\"}", "workqueue_adds_total{name=\"configmaps\"}",
          "workqueue_retries_total{name=\"configmaps\"}",
          "leader_election_master_status{name=\"poetryops-controller\"} 1"}) {
        EXPECT_NE(metrics.find(needle), std::string::npos) << needle << "\n" << metrics;
    }
    EXPECT_GE(mgr.metrics().value("controller_runtime_reconcile_panics_total",
                                  {{"controller", "configmaps"}}),
              2);

    // Graceful stop (what SIGTERM triggers): in-flight reconciles finish, the lease is released.
    rec.slow = 300ms;
    ASSERT_TRUE(
        client->patch(cms.named("good-2"), kube::PatchType::merge, {{"data", {{"x", "1"}}}}));
    ASSERT_TRUE(test::wait_until([&] {
        std::lock_guard lock(rec.mu);
        return !rec.in_flight.empty();
    }));
    mgr.stop();
    {
        std::lock_guard lock(rec.mu);
        EXPECT_TRUE(rec.in_flight.empty()) << "stop() waits for in-flight reconciles";
    }
    auto lease = client->get(kube::resources::leases().in(ns).named("poetryops-controller"));
    ASSERT_TRUE(lease);
    EXPECT_EQ((*lease)["spec"]["holderIdentity"], "");
    EXPECT_FALSE(lost.load());
}

/// --leader-pod: the leader labels its own Pod poetryops.io/leader=true (what the chart's webhook
/// Service selects), a replica that starts unlabels its own (a restarted container keeps its Pod's
/// labels), a graceful stop gives the label up with the lease, and a Pod that is not there is an
/// error at start naming the flag.
TEST_P(RuntimeIt, TheLeaderLabelsItsOwnPodAndOnlyTheLeaderKeepsTheLabel) {
    auto client = make_client();
    ASSERT_TRUE(client);
    std::string ns = fresh_namespace(*client);
    // The API server admits Pods once the namespace's default ServiceAccount exists.
    ASSERT_TRUE(test::wait_until(
        [&] {
            return fake() ||
                   bool(client->get(
                       kube::ResourceRef("", "v1", "serviceaccounts").in(ns).named("default")));
        },
        60s));
    kube::ResourceRef pods = kube::resources::pods().in(ns);
    auto make_pod = [&](const std::string& name, bool labelled) {
        nlohmann::json pod = {
            {"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"namespace", ns}}},
            {"spec",
             {{"automountServiceAccountToken", false},
              {"containers", {{{"name", "controller"}, {"image", "example.invalid/poetryops"}}}}}}};
        if (labelled) pod["metadata"]["labels"] = {{"poetryops.io/leader", "true"}};
        auto r = client->create(pods, pod);
        ASSERT_TRUE(r) << r.error().message;
    };
    make_pod("first", false);
    make_pod("second", true);  // led before its container restarted
    auto label = [&](const std::string& name) {
        auto p = client->get(pods.named(name));
        EXPECT_TRUE(p) << p.error().message;
        return p ? p->value("/metadata/labels/poetryops.io~1leader"_json_pointer, std::string())
                 : std::string("?");
    };
    auto options = [&](const std::string& pod) {
        ManagerOptions mo;
        mo.metrics_bind_address = "0";
        mo.health_probe_bind_address = "0";
        mo.leader_election = true;
        mo.leader_election_namespace = ns;
        mo.leader_identity = pod;
        mo.lease_duration = 1500ms;
        mo.renew_deadline = 1000ms;
        mo.retry_period = 100ms;
        mo.leader_pod = ns + "/" + pod;
        mo.on_lost_leadership = [] {};
        return mo;
    };
    Manager first(*client, options("first"));
    ASSERT_TRUE(first.start());
    ASSERT_TRUE(test::wait_until([&] { return label("first") == "true"; }, 20s));
    EXPECT_TRUE(first.is_leader());
    Manager second(*client, options("second"));
    ASSERT_TRUE(second.start());
    EXPECT_EQ(label("second"), "") << "a standby keeps no leader label from before";
    std::this_thread::sleep_for(300ms);
    EXPECT_FALSE(second.is_leader());
    EXPECT_EQ(label("second"), "");
    first.stop();
    EXPECT_EQ(label("first"), "") << "a leader that stops gives the label up";
    ASSERT_TRUE(test::wait_until([&] { return label("second") == "true"; }, 20s));
    EXPECT_EQ(label("first"), "");
    second.stop();

    Manager lost(*client, options("not-there"));
    auto started = lost.start();
    ASSERT_FALSE(started);
    EXPECT_NE(started.error().message.find("--leader-pod " + ns + "/not-there"), std::string::npos)
        << started.error().message;
    EXPECT_NE(started.error().message.find("not found"), std::string::npos)
        << started.error().message;
}

POETRYOPS_KUBE_SERVERS(RuntimeIt);

}  // namespace
}  // namespace poetryops::runtime

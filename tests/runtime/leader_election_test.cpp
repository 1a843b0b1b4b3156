#include <poetryops/runtime/leader_election.hpp>

#include <poetryops/kube/status.hpp>
#include <poetryops/util/metrics.hpp>

#include <gtest/gtest.h>

#include <map>
#include <mutex>

namespace poetryops::runtime {
namespace {

using namespace std::chrono_literals;

/// Just enough of the API for Leases: get/create/update with resourceVersion checks.
class MemoryLeases final : public kube::KubeClient {
public:
    Result<nlohmann::json> get(const kube::ResourceRef& ref) override {
        std::lock_guard lock(mu_);
        if (fail_reads) return fail(Error::make(Error::Kind::transport, "connection refused"));
        auto it = objects_.find(ref.name);
        if (it == objects_.end()) return fail(kube::status_error(404, "", "GET lease"));
        return it->second;
    }
    Result<nlohmann::json> create(const kube::ResourceRef&, const nlohmann::json& o) override {
        std::lock_guard lock(mu_);
        std::string name = o["metadata"]["name"];
        if (objects_.count(name) != 0) {
            return fail(kube::status_error(
                409, R"({"kind":"Status","reason":"AlreadyExists","code":409})", "POST"));
        }
        auto obj = o;
        obj["metadata"]["resourceVersion"] = std::to_string(++rv_);
        objects_[name] = obj;
        ++writes;
        return obj;
    }
    Result<nlohmann::json> update(const kube::ResourceRef&, const nlohmann::json& o) override {
        std::lock_guard lock(mu_);
        if (fail_writes) return fail(Error::make(Error::Kind::transport, "connection refused"));
        std::string name = o["metadata"]["name"];
        auto it = objects_.find(name);
        if (it == objects_.end()) return fail(kube::status_error(404, "", "PUT"));
        if (it->second["metadata"]["resourceVersion"] != o["metadata"]["resourceVersion"]) {
            return fail(kube::status_error(
                409, R"({"kind":"Status","reason":"Conflict","code":409})", "PUT"));
        }
        auto obj = o;
        obj["metadata"]["resourceVersion"] = std::to_string(++rv_);
        it->second = obj;
        ++writes;
        return obj;
    }
    Result<kube::ObjectList> list(const kube::ResourceRef&, const kube::ListOptions&) override {
        return kube::ObjectList{};
    }
    Result<nlohmann::json> patch(const kube::ResourceRef&, kube::PatchType, const nlohmann::json&,
                                 const kube::PatchOptions&) override {
        return fail(Error::make(Error::Kind::internal, "unused"));
    }
    Result<void> remove(const kube::ResourceRef&, const kube::DeleteOptions&) override {
        return ok();
    }
    Result<std::unique_ptr<kube::WatchStream>> watch(const kube::ResourceRef&,
                                                     const kube::WatchOptions&) override {
        return fail(Error::make(Error::Kind::internal, "unused"));
    }
    nlohmann::json lease(const std::string& name) {
        std::lock_guard lock(mu_);
        return objects_[name];
    }
    bool fail_reads = false;
    bool fail_writes = false;
    int writes = 0;

private:
    std::mutex mu_;
    std::map<std::string, nlohmann::json> objects_;
    int rv_ = 0;
};

LeaderElectionConfig cfg(const std::string& id, metrics::MetricsRegistry* m = nullptr) {
    LeaderElectionConfig c;
    c.lease_namespace = "ns";
    c.lease_name = "poetryops";
    c.identity = id;
    c.metrics = m;
    return c;
}

TEST(LeaderElection, FirstCandidateCreatesTheLeaseSecondWaitsForExpiryOnItsOwnClock) {
    MemoryLeases api;
    ManualClock clock;
    metrics::MetricsRegistry m;
    LeaderElector a(api, cfg("a", &m), clock);
    LeaderElector b(api, cfg("b"), clock);
    EXPECT_TRUE(a.try_acquire_or_renew());
    EXPECT_TRUE(a.is_leader());
    EXPECT_EQ(m.value("leader_election_master_status", {{"name", "poetryops"}}), 1);
    auto lease = api.lease("poetryops");
    EXPECT_EQ(lease["spec"]["holderIdentity"], "a");
    EXPECT_EQ(lease["spec"]["leaseDurationSeconds"], 15);
    EXPECT_EQ(lease["spec"]["renewTime"].get<std::string>().size(),
              std::string("2026-01-01T00:00:00.000000Z").size());

    EXPECT_FALSE(b.try_acquire_or_renew());
    EXPECT_EQ(b.observed_holder(), "a");
    clock.advance(10s);
    EXPECT_TRUE(a.try_acquire_or_renew()) << "renewal";
    clock.advance(10s);
    EXPECT_FALSE(b.try_acquire_or_renew()) << "a renewed 10 s ago (b saw the record change)";
    clock.advance(14s);
    EXPECT_FALSE(b.try_acquire_or_renew()) << "14 s since b observed the change";
    clock.advance(2s);
    EXPECT_TRUE(b.try_acquire_or_renew()) << "a stopped renewing for > 15 s";
    lease = api.lease("poetryops");
    EXPECT_EQ(lease["spec"]["holderIdentity"], "b");
    EXPECT_EQ(lease["spec"]["leaseTransitions"], 1);
    EXPECT_FALSE(a.try_acquire_or_renew());
    EXPECT_FALSE(a.is_leader()) << "a sees b holding the lease";
    EXPECT_EQ(m.value("leader_election_master_status", {{"name", "poetryops"}}), 0);
}

TEST(LeaderElection, ReleaseClearsTheHolderSoASuccessorTakesOverAtOnce) {
    MemoryLeases api;
    ManualClock clock;
    LeaderElector a(api, cfg("a"), clock);
    LeaderElector b(api, cfg("b"), clock);
    ASSERT_TRUE(a.try_acquire_or_renew());
    EXPECT_FALSE(b.try_acquire_or_renew());
    ASSERT_TRUE(a.release());
    EXPECT_FALSE(a.is_leader());
    EXPECT_EQ(api.lease("poetryops")["spec"]["holderIdentity"], "");
    EXPECT_TRUE(b.try_acquire_or_renew());
}

TEST(LeaderElection, AFreedLeaseGoesToOneCandidateOnly) {
    MemoryLeases api;
    ManualClock clock;
    LeaderElector a(api, cfg("a"), clock);
    ASSERT_TRUE(a.try_acquire_or_renew());
    ASSERT_TRUE(a.release());
    // Two candidates find the lease free; the first takes it, the second then sees a live holder.
    LeaderElector b(api, cfg("b"), clock);
    LeaderElector c(api, cfg("c"), clock);
    bool rb = b.try_acquire_or_renew();
    bool rc = c.try_acquire_or_renew();
    EXPECT_TRUE(rb);
    EXPECT_FALSE(rc);
}

TEST(LeaderElection, RunStopsLeadingWhenRenewalsFailPastTheDeadline) {
    MemoryLeases api;
    auto c = cfg("a");
    c.lease_duration = 300ms;
    c.renew_deadline = 200ms;
    c.retry_period = 20ms;
    std::atomic<bool> started{false}, stopped{false};
    c.on_started_leading = [&] { started = true; };
    c.on_stopped_leading = [&] { stopped = true; };
    LeaderElector a(api, c);
    std::thread t([&] { a.run(); });
    for (int i = 0; i < 200 && !started; ++i) std::this_thread::sleep_for(5ms);
    ASSERT_TRUE(started);
    api.fail_writes = true;
    t.join();  // run() returns after losing the lease
    EXPECT_TRUE(stopped);
    EXPECT_FALSE(a.is_leader());
}

TEST(LeaderElection, StopReleasesTheLease) {
    MemoryLeases api;
    auto c = cfg("a");
    c.retry_period = 10ms;
    std::atomic<bool> started{false};
    bool stopped_leading = false;
    c.on_started_leading = [&] { started = true; };
    c.on_stopped_leading = [&] { stopped_leading = true; };
    LeaderElector a(api, c);
    std::thread t([&] { a.run(); });
    for (int i = 0; i < 200 && !started; ++i) std::this_thread::sleep_for(5ms);
    ASSERT_TRUE(started);
    a.stop();
    t.join();
    EXPECT_EQ(api.lease("poetryops")["spec"]["holderIdentity"], "");
    EXPECT_FALSE(stopped_leading) << "a deliberate stop is not a loss";
}

}  // namespace
}  // namespace poetryops::runtime

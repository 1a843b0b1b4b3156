// `poetryops controller` in-process against the real Kubernetes lane (and the fake API server for
// faults): informer → workqueue → AppReconciler → status subresource, Events, metrics, probes,
// leader election.
#include <poetryops/controller/app_controller.hpp>
#include <poetryops/controller/resources.hpp>

#include <poetryops/api/codec.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/log.hpp>
#include <support/support.hpp>

#include "kube/kube_fixture.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

using namespace poetryops;
using kube::testenv::KubeServerTest;
using nlohmann::json;

namespace {

/// Forwards to a real client and counts status writes (so "no write when unchanged" is observable).
class CountingClient final : public kube::KubeClient {
public:
    explicit CountingClient(std::unique_ptr<kube::KubeClient> inner) : inner_(std::move(inner)) {}
    Result<json> get(const kube::ResourceRef& ref) override { return inner_->get(ref); }
    Result<kube::ObjectList> list(const kube::ResourceRef& ref,
                                  const kube::ListOptions& o) override {
        return inner_->list(ref, o);
    }
    Result<json> create(const kube::ResourceRef& ref, const json& object) override {
        return inner_->create(ref, object);
    }
    Result<json> update(const kube::ResourceRef& ref, const json& object) override {
        if (ref.subresource == "status") ++status_writes;
        return inner_->update(ref, object);
    }
    Result<json> patch(const kube::ResourceRef& ref, kube::PatchType t, const json& p,
                       const kube::PatchOptions& o) override {
        if (ref.subresource == "status") ++status_writes;
        return inner_->patch(ref, t, p, o);
    }
    Result<void> remove(const kube::ResourceRef& ref, const kube::DeleteOptions& o) override {
        return inner_->remove(ref, o);
    }
    Result<std::unique_ptr<kube::WatchStream>> watch(const kube::ResourceRef& ref,
                                                     const kube::WatchOptions& o) override {
        return inner_->watch(ref, o);
    }
    std::atomic<int> status_writes{0};

private:
    std::unique_ptr<kube::KubeClient> inner_;
};

json app(const std::string& name, const std::string& ns, const std::string& repository) {
    return json{{"apiVersion", "poetryops.io/v1alpha1"},
                {"kind", "PoetryApp"},
                {"metadata", {{"name", name}, {"namespace", ns}}},
                {"spec",
                 {{"image", {{"repository", repository}}},
                  {"gitops", {{"repoURL", "https://git.example.com/acme/deploy.git"}}},
                  {"environments", json::array({json{{"name", "dev"}, {"path", "envs/dev"}},
                                                json{{"name", "prod"}, {"path", "envs/prod"}}})}}}};
}

class AppControllerIt : public KubeServerTest {
protected:
    void SetUp() override {
        if (std::getenv("POETRYOPS_TEST_DEBUG")) log::set_level(log::Level::debug);
        KubeServerTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        admin_ = make_client();
        ASSERT_TRUE(admin_);
        install_crd();
        ns_ = fresh_namespace(*admin_);
    }

    void TearDown() override {
        if (ctl_) ctl_->stop();
        ctl_.reset();
        KubeServerTest::TearDown();
    }

    void install_crd() {
        auto text = read_file(test::source_dir() / "crds/poetryops.io_poetryapps.yaml");
        ASSERT_TRUE(text);
        auto docs = api::yaml_to_json(*text, "crd");
        ASSERT_TRUE(docs);
        auto created = admin_->create(kube::resources::crds(), docs->front());
        ASSERT_TRUE(created || kube::is_already_exists(created.error())) << created.error().message;
        // A real API server serves the new resource once the CRD is Established.
        ASSERT_TRUE(test::wait_until(
            [&] { return admin_->list(controller::poetryapps(), {}).has_value(); }));
    }

    void start_controller(controller::AppControllerConfig cfg = {}) {
        auto counting = std::make_unique<CountingClient>(make_client());
        counter_ = counting.get();
        if (cfg.namespaces.empty()) cfg.namespaces = {ns_};
        cfg.metrics_bind_address = "127.0.0.1:0";
        cfg.health_probe_bind_address = "127.0.0.1:0";
        cfg.max_concurrent_reconciles = 2;
        auto c = controller::AppController::create(cfg, std::move(counting), ns_);
        ASSERT_TRUE(c) << c.error().message;
        ctl_ = std::move(*c);
        auto started = ctl_->start();
        ASSERT_TRUE(started) << started.error().message;
    }

    kube::ResourceRef ref(const std::string& name) {
        return controller::poetryapps().in(ns_).named(name);
    }

    json get(const std::string& name) {
        auto o = admin_->get(ref(name));
        return o ? *o : json();
    }

    /// Waits until Ready has `status` for `generation`; returns the object.
    json wait_ready(const std::string& name, const std::string& status, std::int64_t generation) {
        json last;
        bool ok = test::wait_until([&] {
            last = get(name);
            if (!last.is_object() || !last.contains("status")) return false;
            std::vector<api::FieldError> ignored;
            auto st = api::decode_status(last["status"], ignored);
            const api::Condition* c = api::find_condition(st.conditions, "Ready");
            return c && c->status == status && c->observed_generation == generation &&
                   st.observed_generation == generation;
        });
        EXPECT_TRUE(ok) << "Ready never became " << status << " for generation " << generation
                        << ": " << last.dump() << " (reconciles " << (ctl_ ? ctl_->reconciles() : 0)
                        << ", status PUTs " << (counter_ ? counter_->status_writes.load() : 0)
                        << ", conflicts " << (ctl_ ? ctl_->reconciler().conflicts() : 0)
                        << ", cached " << (ctl_ ? ctl_->informers().front()->size() : 0)
                        << ", informer watches "
                        << (ctl_ ? ctl_->informers().front()->watches() : 0) << ")";
        return last;
    }

    std::vector<json> events_for(const std::string& name) {
        std::vector<json> out;
        auto list = admin_->list(kube::resources::events().in(ns_), {});
        if (!list) return out;
        for (const auto& e : list->items) {
            if (e["involvedObject"].value("name", "") == name) out.push_back(e);
        }
        return out;
    }

    /// Waits until the controller has finished at least `n` more reconciles than `before`.
    void wait_reconciles(std::uint64_t before, std::uint64_t n = 1) {
        EXPECT_TRUE(test::wait_until([&] { return ctl_->reconciles() >= before + n; }));
    }

    std::unique_ptr<kube::RestClient> admin_;
    std::string ns_;
    std::unique_ptr<controller::AppController> ctl_;
    CountingClient* counter_ = nullptr;
};
/// Faults a real API server cannot produce on demand: the fake server only.
class AppControllerFaultIt : public AppControllerIt {};
/// What only a real API server does (CRD schema and CEL validation).
class AppControllerRealIt : public AppControllerIt {};

}  // namespace

TEST_P(AppControllerIt, ValidAppBecomesReadyWithObservedGeneration) {
    start_controller();
    ASSERT_TRUE(admin_->create(ref(""), app("billing", ns_, "registry.example.com/acme/billing")));
    json obj = wait_ready("billing", "True", 1);
    EXPECT_EQ(obj["status"]["summary"], "dev=- prod=-");
    EXPECT_EQ(obj["status"]["conditions"][0]["reason"], "SpecValid");
    EXPECT_TRUE(events_for("billing").empty());
}

TEST_P(AppControllerIt, InvalidAppGetsFieldPathAndOneEventAndNothingElse) {
    start_controller();
    // A tag in the repository: the CRD schema admits it, our validation does not (works on a real
    // server too).
    ASSERT_TRUE(
        admin_->create(ref(""), app("broken", ns_, "registry.example.com/acme/broken:latest")));
    json obj = wait_ready("broken", "False", 1);
    const json& cond = obj["status"]["conditions"][0];
    EXPECT_EQ(cond["reason"], "InvalidSpec");
    EXPECT_THAT(cond["message"].get<std::string>(), testing::StartsWith("spec.image.repository: "));
    ASSERT_TRUE(test::wait_until([&] { return events_for("broken").size() == 1; }));
    json ev = events_for("broken").front();
    EXPECT_EQ(ev["reason"], "InvalidSpec");
    EXPECT_EQ(ev["type"], "Warning");
    EXPECT_THAT(ev["message"].get<std::string>(), testing::HasSubstr("spec.image.repository"));

    // Re-reconciling (a metadata-only change) writes nothing and records no further Event.
    int writes = counter_->status_writes.load();
    auto before = ctl_->reconciles();
    ASSERT_TRUE(admin_->patch(ref("broken"), kube::PatchType::merge,
                              json{{"metadata", {{"annotations", {{"touched", "1"}}}}}}));
    wait_reconciles(before);
    EXPECT_EQ(counter_->status_writes.load(), writes);
    auto events = events_for("broken");
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events.front().value("count", 1), 1);
    // Nothing else was done: no Jobs, no other objects in the namespace.
    auto jobs = admin_->list(kube::resources::jobs().in(ns_), {});
    ASSERT_TRUE(jobs);
    EXPECT_TRUE(jobs->items.empty());
}

TEST_P(AppControllerIt, SpecChangesBumpGenerationAndStatusFollows) {
    start_controller();
    ASSERT_TRUE(admin_->create(ref(""), app("shop", ns_, "registry.example.com/acme/shop")));
    wait_ready("shop", "True", 1);
    // Make it invalid: promotion.from naming a later environment is caught by the CRD's CEL rule on
    // a real server, so use a path outside the repository, which only our validation catches.
    ASSERT_TRUE(admin_->patch(
        ref("shop"), kube::PatchType::json,
        json::parse(
            R"([{"op": "replace", "path": "/spec/environments/1/path", "value": "../prod"}])")));
    json bad = wait_ready("shop", "False", 2);
    EXPECT_THAT(bad["status"]["conditions"][0]["message"].get<std::string>(),
                testing::StartsWith("spec.environments[1].path: "));
    ASSERT_TRUE(admin_->patch(
        ref("shop"), kube::PatchType::json,
        json::parse(
            R"([{"op": "replace", "path": "/spec/environments/1/path", "value": "envs/prod"}])")));
    json good = wait_ready("shop", "True", 3);
    EXPECT_EQ(good["status"]["conditions"][0]["message"], "spec is valid");
}

TEST_P(AppControllerIt, UnchangedStatusIsNotWrittenAgain) {
    start_controller();
    ASSERT_TRUE(admin_->create(ref(""), app("quiet", ns_, "registry.example.com/acme/quiet")));
    json first = wait_ready("quiet", "True", 1);
    // Our own status write comes back as a watch event and is reconciled once more: wait for that
    // to settle.
    ASSERT_TRUE(test::wait_until([&] { return ctl_->reconciles() >= 2; }));
    int writes = counter_->status_writes.load();
    EXPECT_EQ(writes, 1);
    for (int i = 0; i < 3; ++i) {
        auto before = ctl_->reconciles();
        ASSERT_TRUE(
            admin_->patch(ref("quiet"), kube::PatchType::merge,
                          json{{"metadata", {{"labels", {{"round", std::to_string(i)}}}}}}));
        wait_reconciles(before);
    }
    EXPECT_EQ(counter_->status_writes.load(), writes);
    EXPECT_EQ(get("quiet")["status"], first["status"]);
}

TEST_P(AppControllerFaultIt, ConflictOnStatusWriteIsRequeuedAndEventuallyWritten) {
    start_controller();
    fake()->fail_next(2, 409, "PUT");
    ASSERT_TRUE(admin_->create(ref(""), app("racy", ns_, "registry.example.com/acme/racy")));
    wait_ready("racy", "True", 1);
    EXPECT_GE(ctl_->reconciler().conflicts(), 1u);
    // The server has the status before the reconciler's PUT call returns and counts it.
    EXPECT_TRUE(test::wait_until([&] { return ctl_->reconciler().status_writes() >= 1u; }));
}

TEST_P(AppControllerFaultIt, AConflictIsRetriedAtOnceEvenWhenThePromotionHookAskedForALaterPoll) {
    // The promotion engine's hook asks to come back at the poll interval (minutes); a 409 on the
    // status write must still be retried with the rate limiter's backoff, not after that interval.
    ASSERT_TRUE(admin_->create(ref(""), app("polled", ns_, "registry.example.com/acme/polled")));
    auto obj = admin_->get(ref("polled"));
    ASSERT_TRUE(obj);
    auto shared = std::make_shared<const json>(*obj);
    // An engine whose promotion succeeded and asks for the next poll in 5 minutes.
    struct PolledEngine : controller::Engine {
        PolledEngine() : Engine(SystemClock::instance()) {}
        controller::EngineOutcome reconcile(const api::PoetryApp& app,
                                            std::vector<api::FieldError> errors) override {
            auto out = Engine::reconcile(app, std::move(errors));
            out.poll = std::chrono::minutes(5);
            return out;
        }
    } engine;
    controller::AppReconcilerOptions o;
    o.engine = &engine;
    controller::AppReconciler r(
        *admin_, [&](const std::string&) { return shared; }, SystemClock::instance(), o);
    fake()->fail_next(1, 409, "PUT");
    auto result = r.reconcile(ns_ + "/polled");
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_TRUE(result->requeue);
    EXPECT_EQ(result->requeue_after.count(), 0)
        << "the conflict must not wait for the 5 minute poll";
    EXPECT_EQ(r.conflicts(), 1u);
    // Without the conflict the hook's interval stands.
    auto again = r.reconcile(ns_ + "/polled");
    ASSERT_TRUE(again);
    EXPECT_EQ(again->requeue_after, std::chrono::minutes(5));
}

TEST_P(AppControllerIt, ProbesAndMetricsAreServed) {
    start_controller();
    ASSERT_TRUE(admin_->create(ref(""), app("seen", ns_, "registry.example.com/acme/seen")));
    wait_ready("seen", "True", 1);
    auto port = ctl_->manager().health_port();
    auto readyz =
        test::must_run({"curl", "-sf", "http://127.0.0.1:" + std::to_string(port) + "/readyz"});
    EXPECT_TRUE(readyz.ok()) << readyz.err;
    auto metrics = test::must_run(
        {"curl", "-sf",
         "http://127.0.0.1:" + std::to_string(ctl_->manager().metrics_port()) + "/metrics"});
    EXPECT_THAT(metrics.out, testing::HasSubstr("controller_runtime_reconcile_total"));
    EXPECT_THAT(metrics.out,
                testing::HasSubstr("poetryops_status_writes_total{result=\"written\"}"));
    // Each app's conditions, for alerts (a Ready app 1, an invalid one 0); a deleted app's go.
    ASSERT_TRUE(
        admin_->create(ref(""), app("broken", ns_, "registry.example.com/acme/broken:latest")));
    wait_ready("broken", "False", 1);
    auto scrape = [&] {
        return test::must_run({"curl", "-sf",
                               "http://127.0.0.1:" +
                                   std::to_string(ctl_->manager().metrics_port()) + "/metrics"})
            .out;
    };
    auto series = [&](const std::string& name) {
        return "poetryops_app_condition{app=\"" + ns_ + "/" + name + "\",condition=\"Ready\"} ";
    };
    metrics.out = scrape();
    EXPECT_THAT(metrics.out, testing::HasSubstr(series("seen") + "1\n"));
    EXPECT_THAT(metrics.out, testing::HasSubstr(series("broken") + "0\n"));
    ASSERT_TRUE(admin_->remove(ref("seen")));
    EXPECT_TRUE(test::wait_until([&] {
        return scrape().find(series("seen")) == std::string::npos;
    })) << "a deleted app's series stays";
    EXPECT_THAT(scrape(), testing::HasSubstr(series("broken") + "0\n"));
}

TEST_P(AppControllerIt, LeaderElectionHoldsAndReleasesTheLease) {
    controller::AppControllerConfig cfg;
    cfg.leader_elect = true;
    cfg.leader_election_namespace = ns_;
    start_controller(cfg);
    auto lease_ref = kube::resources::leases().in(ns_).named("poetryops-controller");
    ASSERT_TRUE(test::wait_until([&] {
        auto l = admin_->get(lease_ref);
        return l && !(*l)["spec"].value("holderIdentity", "").empty();
    }));
    ASSERT_TRUE(admin_->create(ref(""), app("led", ns_, "registry.example.com/acme/led")));
    wait_ready("led", "True", 1);
    ctl_->stop();
    auto lease = admin_->get(lease_ref);
    ASSERT_TRUE(lease);
    EXPECT_EQ((*lease)["spec"].value("holderIdentity", ""), "") << lease->dump();
}

TEST_P(AppControllerRealIt, CrdRejectsCrossFieldErrorsOnARealServer) {
    json bad = app("later", ns_, "registry.example.com/acme/later");
    bad["spec"]["environments"][0]["promotion"] = {{"from", "prod"}};
    auto created = admin_->create(ref(""), bad);
    ASSERT_FALSE(created);
    EXPECT_TRUE(kube::is_invalid(created.error())) << created.error().message;
    bad = app("weights", ns_, "registry.example.com/acme/weights");
    bad["spec"]["environments"][1]["canary"] = json::parse(
        R"({"traffic": {"route": "r", "stable": "s", "canary": "c"}, "steps": [{"weight": 50}, {"weight": 20}]})");
    created = admin_->create(ref(""), bad);
    ASSERT_FALSE(created);
    EXPECT_THAT(created.error().message, testing::HasSubstr("strictly increase"));
}

POETRYOPS_KUBE_SERVERS(AppControllerIt);
POETRYOPS_KUBE_FAKE_ONLY(AppControllerFaultIt);
POETRYOPS_KUBE_REAL_ONLY(AppControllerRealIt);

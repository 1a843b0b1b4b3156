// The real `poetryops controller` binary against the real Kubernetes lane: bad configuration exits
// 2 with one line; SIGTERM finishes in-flight work, releases the lease and exits 0; two processes
// elect one leader and fail over; and on a cluster of the test's own: a missing CRD is one clear
// log line and a non-ready /readyz (not a crash loop), and an etcd that dies mid-run is reported
// and recovered from.
#include <poetryops/controller/app_controller.hpp>
#include <poetryops/controller/resources.hpp>

#include <poetryops/api/codec.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>
#include <support/support.hpp>

#include "support/kube/cluster.hpp"
#include "support/kube/crds.hpp"

#include <poetryops/kube/client.hpp>
#include <poetryops/kube/status.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

using namespace poetryops;
using nlohmann::json;

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

}  // namespace

TEST(ControllerCommand, MissingKubeconfigExits2WithOneClearLine) {
    ASSERT_TRUE(std::filesystem::exists(std::string(POETRYOPS_BIN))) << std::string(POETRYOPS_BIN);
    auto r = run_process(
        {std::string(POETRYOPS_BIN), "controller", "--kubeconfig", "/nonexistent/kubeconfig"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->exit_code, 2);
    EXPECT_THAT(r->err, testing::HasSubstr("/nonexistent/kubeconfig"));
    EXPECT_EQ(std::count(r->err.begin(), r->err.end(), '\n'), 1) << r->err;
}

TEST(ControllerCommand, ASelectorThatDoesNotParseExits2NamingIt) {
    auto r = run_process({std::string(POETRYOPS_BIN), "controller", "--selector",
                          "poetryops.io/shard in (a", "--kubeconfig", "/nonexistent/kubeconfig"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->exit_code, 2);
    EXPECT_THAT(r->err, testing::HasSubstr("--selector poetryops.io/shard in (a"));
    EXPECT_EQ(std::count(r->err.begin(), r->err.end(), '\n'), 1) << r->err;
}

TEST(ControllerCommand, TheWebhookListenerNeverSharesAPortWithMetricsOrProbes) {
    for (const std::string other : {"--metrics-bind-address", "--health-probe-bind-address"}) {
        ProcessOptions o;
        o.env = {{"POETRYOPS_WEBHOOK_TOKEN", "t0ken"}};
        auto r = run_process(
            {std::string(POETRYOPS_BIN), "controller", "--kubeconfig", "/nonexistent/kubeconfig",
             "--webhook-bind-address", ":9443", other, "127.0.0.1:9443"},
            o);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->exit_code, 2) << other;
        EXPECT_THAT(r->err, testing::HasSubstr("--webhook-bind-address :9443 and " + other))
            << r->err;
        EXPECT_EQ(std::count(r->err.begin(), r->err.end(), '\n'), 1) << r->err;
    }
}

/// The admission webhook is HTTPS only and on its own port: a listener without its certificate, or
/// on the port of another listener, is a configuration error naming the flags.
TEST(ControllerCommand, TheAdmissionWebhookNeedsItsCertificateAndItsOwnPort) {
    const std::string bin = POETRYOPS_BIN;
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
        {{"--admission-bind-address", ":8443"},
         "--admission-bind-address needs --admission-tls-cert-file and --admission-tls-key-file"},
        {{"--admission-tls-cert-file", "/tls.crt", "--admission-tls-key-file", "/tls.key"},
         "need --admission-bind-address"},
        {{"--admission-bind-address", ":8080", "--admission-tls-cert-file", "/tls.crt",
          "--admission-tls-key-file", "/tls.key"},
         "--admission-bind-address :8080 and --metrics-bind-address :8080 name the same port"},
    };
    for (const auto& [flags, message] : cases) {
        std::vector<std::string> argv{bin, "controller", "--kubeconfig", "/nonexistent/kubeconfig"};
        argv.insert(argv.end(), flags.begin(), flags.end());
        auto r = run_process(argv);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->exit_code, 2) << format_argv(argv);
        EXPECT_THAT(r->err, testing::HasSubstr(message)) << r->err;
        EXPECT_EQ(std::count(r->err.begin(), r->err.end(), '\n'), 1) << r->err;
    }
}

TEST(ControllerCommand, BadFlagsExit2) {
    auto r =
        run_process({std::string(POETRYOPS_BIN), "controller", "--max-concurrent-reconciles", "0"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->exit_code, 2);
    auto bind = run_process({std::string(POETRYOPS_BIN), "controller", "--kubeconfig", "/dev/null",
                             "--metrics-bind-address", "nope"});
    ASSERT_TRUE(bind);
    EXPECT_EQ(bind->exit_code, 2) << bind->err;
}

namespace {

namespace tk = test::kube;

/// Runs `poetryops controller` as a child against a cluster; the log goes to a file in `dir`.
struct ControllerProcess {
    ChildProcess child;
    std::filesystem::path log;
    int health = 0;
    int metrics = 0;

    static ControllerProcess start(const std::filesystem::path& kubeconfig,
                                   const std::filesystem::path& dir, const std::string& ns,
                                   const std::string& name, bool leader_elect = true) {
        ControllerProcess p;
        p.log = dir / (name + ".log");
        p.health = test::free_port();
        p.metrics = test::free_port();
        std::vector<std::string> argv{std::string(POETRYOPS_BIN),
                                      "controller",
                                      "--kubeconfig",
                                      kubeconfig.string(),
                                      "--namespace",
                                      ns,
                                      "--metrics-bind-address",
                                      "127.0.0.1:" + std::to_string(p.metrics),
                                      "--health-probe-bind-address",
                                      "127.0.0.1:" + std::to_string(p.health),
                                      "--no-promotion"};
        if (leader_elect) {
            argv.insert(argv.end(), {"--leader-elect", "--leader-election-namespace", ns});
        }
        auto c = ChildProcess::spawn(argv, {}, p.log.string());
        EXPECT_TRUE(c) << c.error().message;
        if (c) p.child = std::move(*c);
        return p;
    }

    std::string get(const std::string& path, int port) const {
        auto r = run_process({"curl", "-s", "-m", "2", "-w", " %{http_code}",
                              "http://127.0.0.1:" + std::to_string(port) + path});
        return r && r->exit_code == 0 ? r->out : "";
    }
    std::string readyz() const { return get("/readyz", health); }
    bool leading() const {
        auto m = get("/metrics", metrics);
        return m.find("leader_election_master_status{name=\"poetryops-controller\"} 1") !=
               std::string::npos;
    }
    std::string log_text() const { return read_file(log).value_or(""); }
};

class ControllerProcessIt : public ::testing::Test {
protected:
    void SetUp() override {
        auto cluster = tk::shared_cluster();
        if (!cluster && cluster.error().reason == "Skip") GTEST_SKIP() << cluster.error().message;
        ASSERT_TRUE(cluster) << cluster.error().message;
        cluster_ = *cluster;
        connect(cluster_->admin_kubeconfig);
        auto crds = tk::apply_crds(*admin_, tk::yaml_files(test::source_dir() / "crds"));
        ASSERT_TRUE(crds) << crds.error().message;
        ns_ = make_namespace();
    }

    void connect(const std::filesystem::path& kubeconfig) {
        kubeconfig_ = kubeconfig;
        auto cfg = kube::load_kubeconfig(kubeconfig);
        ASSERT_TRUE(cfg) << cfg.error().message;
        auto c = kube::RestClient::create(*cfg, {.request_timeout = std::chrono::seconds(5),
                                                 .connect_timeout = std::chrono::seconds(2)});
        ASSERT_TRUE(c) << c.error().message;
        admin_ = std::move(*c);
    }

    std::string make_namespace() {
        static int seq = 0;
        std::string ns = "cp-" + std::to_string(::getpid()) + "-" + std::to_string(++seq);
        auto r = admin_->create(
            kube::resources::namespaces(),
            {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
        EXPECT_TRUE(r || kube::is_already_exists(r.error())) << (r ? "" : r.error().message);
        return ns;
    }

    kube::ResourceRef ref(const std::string& name) const {
        return controller::poetryapps().in(ns_).named(name);
    }

    /// Waits until the app's status has observedGeneration >= `generation` and Ready=True.
    bool wait_reconciled(const std::string& name, std::int64_t generation,
                         std::chrono::seconds timeout) {
        return test::wait_until(
            [&] {
                auto o = admin_->get(ref(name));
                return o && o->contains("status") &&
                       (*o)["status"].value("observedGeneration", 0) >= generation &&
                       (*o)["status"]["conditions"][0]["status"] == "True";
            },
            timeout);
    }

    Result<json> bump_spec(const std::string& name) {
        return admin_->patch(ref(name), kube::PatchType::merge, {{"spec", {{"historyLimit", 7}}}});
    }

    const tk::ClusterInfo* cluster_ = nullptr;
    std::filesystem::path kubeconfig_;
    std::unique_ptr<kube::RestClient> admin_;
    std::string ns_;
    TempDir dir_{"controller-process"};
};

}  // namespace

TEST_F(ControllerProcessIt, ReconcilesThenSigtermIsGracefulAndReleasesTheLease) {
    ASSERT_TRUE(admin_->create(controller::poetryapps().in(ns_), app("billing", ns_)));
    auto p = ControllerProcess::start(kubeconfig_, dir_.path(), ns_, "one");
    ASSERT_TRUE(wait_reconciled("billing", 1, std::chrono::seconds(30))) << p.log_text();
    auto lease_ref = kube::resources::leases().in(ns_).named("poetryops-controller");
    auto lease = admin_->get(lease_ref);
    ASSERT_TRUE(lease);
    EXPECT_NE((*lease)["spec"].value("holderIdentity", ""), "");
    EXPECT_EQ(p.child.stop(std::chrono::seconds(20)), 0)
        << p.log_text();  // SIGTERM → graceful → exit 0
    lease = admin_->get(lease_ref);
    ASSERT_TRUE(lease);
    EXPECT_EQ((*lease)["spec"].value("holderIdentity", ""), "") << lease->dump();
}

TEST_F(ControllerProcessIt, TwoProcessesElectOneLeaderAndFailOver) {
    ASSERT_TRUE(admin_->create(controller::poetryapps().in(ns_), app("billing", ns_)));
    auto a = ControllerProcess::start(kubeconfig_, dir_.path(), ns_, "a");
    ASSERT_TRUE(wait_reconciled("billing", 1, std::chrono::seconds(30))) << a.log_text();
    auto b = ControllerProcess::start(kubeconfig_, dir_.path(), ns_, "b");
    ASSERT_TRUE(test::wait_until([&] { return a.leading(); }, std::chrono::seconds(10)));
    auto lease_ref = kube::resources::leases().in(ns_).named("poetryops-controller");
    auto first = admin_->get(lease_ref);
    ASSERT_TRUE(first);
    std::string a_identity = (*first)["spec"].value("holderIdentity", "");
    // b runs, is healthy, and waits: not leading while a renews.
    ASSERT_TRUE(test::wait_until([&] { return !b.get("/healthz", b.health).empty(); },
                                 std::chrono::seconds(10)))
        << b.log_text();
    std::this_thread::sleep_for(std::chrono::seconds(3));
    EXPECT_FALSE(b.leading()) << b.log_text();
    // The leader goes (SIGTERM releases the Lease): b takes over and reconciles the next change.
    auto took_from = std::chrono::steady_clock::now();
    EXPECT_EQ(a.child.stop(std::chrono::seconds(20)), 0);
    ASSERT_TRUE(test::wait_until([&] { return b.leading(); }, std::chrono::seconds(30)))
        << b.log_text();
    auto takeover = std::chrono::steady_clock::now() - took_from;
    EXPECT_LT(takeover, std::chrono::seconds(10))
        << "a released Lease is taken at the next retry (2 s), not after "
           "the 15 s lease duration";
    auto lease = admin_->get(lease_ref);
    ASSERT_TRUE(lease);
    EXPECT_NE((*lease)["spec"].value("holderIdentity", ""), "");
    EXPECT_NE((*lease)["spec"].value("holderIdentity", ""), a_identity);
    ASSERT_TRUE(bump_spec("billing"));
    EXPECT_TRUE(wait_reconciled("billing", 2, std::chrono::seconds(30))) << b.log_text();
}

/// A cluster of the test's own, for faults the shared one must not suffer (no CRD, a dead etcd).
class ControllerOwnClusterIt : public ControllerProcessIt {
protected:
    void SetUp() override {
        std::string why = tk::lane_skip_reason();
        if (!why.empty()) {
            if (tk::lane_required()) FAIL() << why;
            GTEST_SKIP() << why;
        }
        auto started = own_.start(dir_.path() / "cluster", {.controller_manager = false});
        ASSERT_TRUE(started) << started.error().message;
        connect(own_.info().admin_kubeconfig);
        ns_ = make_namespace();
    }
    tk::Cluster own_;
};

TEST_F(ControllerOwnClusterIt, MissingCrdIsOneClearLogLineAndNotReadyUntilItIsInstalled) {
    auto p =
        ControllerProcess::start(kubeconfig_, dir_.path(), ns_, "nocrd", /*leader_elect=*/false);
    // It keeps running, says why once, and is not ready.
    std::this_thread::sleep_for(std::chrono::seconds(6));
    ASSERT_TRUE(p.child.running()) << p.log_text();
    EXPECT_THAT(p.readyz(), testing::HasSubstr("503"));
    std::string log = p.log_text();
    std::size_t lines = 0;
    for (std::size_t at = 0;
         (at = log.find("does not serve poetryapps.poetryops.io", at)) != std::string::npos; ++at) {
        ++lines;
    }
    EXPECT_EQ(lines, 1u) << log;
    EXPECT_THAT(log, testing::HasSubstr("CustomResourceDefinition"));
    // Installing the CRD is all it takes.
    auto crds = tk::apply_crds(*admin_, tk::yaml_files(test::source_dir() / "crds"));
    ASSERT_TRUE(crds) << crds.error().message;
    ASSERT_TRUE(admin_->create(controller::poetryapps().in(ns_), app("billing", ns_)));
    EXPECT_TRUE(wait_reconciled("billing", 1, std::chrono::seconds(60))) << p.log_text();
    EXPECT_THAT(p.readyz(), testing::HasSubstr("200"));
    EXPECT_EQ(p.child.stop(std::chrono::seconds(20)), 0);
}

TEST_F(ControllerOwnClusterIt, EtcdDyingMidRunIsReportedAndRecoveredFrom) {
    auto crds = tk::apply_crds(*admin_, tk::yaml_files(test::source_dir() / "crds"));
    ASSERT_TRUE(crds) << crds.error().message;
    ASSERT_TRUE(admin_->create(controller::poetryapps().in(ns_), app("billing", ns_)));
    auto p =
        ControllerProcess::start(kubeconfig_, dir_.path(), ns_, "etcd", /*leader_elect=*/false);
    ASSERT_TRUE(wait_reconciled("billing", 1, std::chrono::seconds(30))) << p.log_text();
    ASSERT_TRUE(own_.kill_server("etcd"));
    std::this_thread::sleep_for(std::chrono::seconds(5));
    EXPECT_TRUE(p.child.running()) << "the controller must not die with etcd\n" << p.log_text();
    ASSERT_TRUE(own_.restart_server("etcd"));
    // The API server reconnects to etcd; a change made afterwards is reconciled.
    ASSERT_TRUE(test::wait_until([&] { return bump_spec("billing").has_value(); },
                                 std::chrono::seconds(60)));
    EXPECT_TRUE(wait_reconciled("billing", 2, std::chrono::seconds(60))) << p.log_text();
    EXPECT_TRUE(p.child.running());
    EXPECT_EQ(p.child.stop(std::chrono::seconds(20)), 0);
}

TEST_F(ControllerOwnClusterIt, AnApiServerThatIsNotReadyYetIsWaitedFor) {
    auto crds = tk::apply_crds(*admin_, tk::yaml_files(test::source_dir() / "crds"));
    ASSERT_TRUE(crds) << crds.error().message;
    ASSERT_TRUE(admin_->create(controller::poetryapps().in(ns_), app("billing", ns_)));
    ASSERT_TRUE(own_.kill_server("kube-apiserver"));
    auto p =
        ControllerProcess::start(kubeconfig_, dir_.path(), ns_, "early", /*leader_elect=*/false);
    std::this_thread::sleep_for(std::chrono::seconds(3));
    ASSERT_TRUE(p.child.running()) << "no API server yet is not a reason to exit\n" << p.log_text();
    ASSERT_TRUE(own_.restart_server("kube-apiserver"));
    EXPECT_TRUE(wait_reconciled("billing", 1, std::chrono::seconds(90))) << p.log_text();
    EXPECT_EQ(p.child.stop(std::chrono::seconds(20)), 0);
}

// Chaos, issue #15 "crash anywhere", cluster mode on the real Kubernetes lane: `poetryops
// controller` (the real binary) promotes new images of many PoetryApps from a real docker-registry
// into one GitOps repository on a real git server (HTTP, credentials from a Secret) while it is
// SIGKILLed at random moments and restarted, and while a foreign writer pushes to the same branch.
// Afterwards: every environment pins the newest image, no promotion commit is duplicated, every
// promotion the status on the API server records is on the branch, the foreign writer lost
// nothing and nothing was force-pushed, the status of every app converges within one resync of
// the last start, and no process or temp file of a killed run is left.
//
// Profile: POETRYOPS_CHAOS_APPS (default 10), POETRYOPS_CHAOS_ROUNDS (default 3),
// POETRYOPS_CHAOS_KILL_MS (default 300-2000), POETRYOPS_CHAOS_REPORT=FILE.
#include <poetryops/controller/resources.hpp>
#include <poetryops/http/client.hpp>
#include <poetryops/kube/client.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/registry/client.hpp>
#include <poetryops/registry/reference.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/strings.hpp>
#include <poetryops/util/subprocess.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <signal.h>

#include <iostream>
#include <map>
#include <random>

#include "chaos/chaos_support.hpp"
#include "support/git/git_servers.hpp"
#include "support/kube/cluster.hpp"
#include "support/kube/crds.hpp"
#include "support/registry/test_registry.hpp"
#include "support/support.hpp"

using namespace poetryops;
using namespace poetryops::test::chaos;
using nlohmann::json;
using Steady = std::chrono::steady_clock;
namespace tk = poetryops::test::kube;

namespace {

int env_int(const char* name, int fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::atoi(v) : fallback;
}

std::pair<int, int> kill_range() {
    const char* v = std::getenv("POETRYOPS_CHAOS_KILL_MS");
    if (!v || !*v) return {300, 2000};
    std::string s(v);
    auto dash = s.find('-');
    if (dash == std::string::npos) return {std::atoi(v), std::atoi(v)};
    return {std::atoi(s.substr(0, dash).c_str()), std::atoi(s.substr(dash + 1).c_str())};
}

std::string app_name(int i) { return "app" + std::to_string(i); }

class ClusterChaosTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(test::require_tools({"git", "lighttpd", "docker-registry", "skopeo", "umoci"}));
        auto cluster = tk::shared_cluster();
        if (!cluster && cluster.error().reason == "Skip") GTEST_SKIP() << cluster.error().message;
        ASSERT_TRUE(cluster) << cluster.error().message;
        kubeconfig_ = (*cluster)->admin_kubeconfig;
        auto cfg = kube::load_kubeconfig(kubeconfig_);
        ASSERT_TRUE(cfg) << cfg.error().message;
        auto c = kube::RestClient::create(*cfg);
        ASSERT_TRUE(c) << c.error().message;
        admin_ = std::move(*c);
        ASSERT_TRUE(tk::apply_crds(*admin_, tk::yaml_files(test::source_dir() / "crds")));
        ns_ = tk::create_namespace(*admin_, "chaos");
        apps_ = env_int("POETRYOPS_CHAOS_APPS", 10);
        rounds_ = env_int("POETRYOPS_CHAOS_ROUNDS", 3);
        kill_ms_ = kill_range();

        registry_ = test::TestRegistry::start({});
        ASSERT_TRUE(registry_);
        ASSERT_FALSE(registry_->push_image("chaos/base", "base", "chaos payload").empty());
        registry::RegistryClientOptions ro;
        ro.hosts[registry_->host()].plain_http = true;
        pusher_ = registry::RegistryClient::create(ro).value();
        auto base = pusher_->get_manifest(
            registry::parse_reference(registry_->host() + "/chaos/base:base").value());
        ASSERT_TRUE(base) << base.error().message;
        base_ = json::parse(base->bytes);
        media_type_ = base->media_type;
        std::vector<std::string> blobs{base_["config"]["digest"].get<std::string>()};
        for (const auto& l : base_["layers"]) blobs.push_back(l["digest"].get<std::string>());
        auto http = http::Client::create({}).value();
        for (int i = 0; i < apps_; ++i)
            for (const auto& blob : blobs) {
                http::Request req;
                req.method = "POST";
                req.url = "http://" + registry_->host() + "/v2/chaos/" + app_name(i) +
                          "/blobs/uploads/?mount=" + blob + "&from=chaos/base";
                auto r = http->request(req);
                ASSERT_TRUE(r && r->status == 201) << app_name(i);
            }

        bare_ = repos_.create("gitops.git");
        std::map<std::string, std::string> files{{"README.md", "chaos\n"}};
        for (int i = 0; i < apps_; ++i)
            for (const char* env : {"dev", "staging"})
                files["apps/" + app_name(i) + "/" + env + "/kustomization.yaml"] =
                    "images:\n- name: " + image(i) + "\n  newTag: old\n";
        repos_.commit_files("gitops.git", files);
        git_ = std::make_unique<test::HttpGitServer>(repos_, ca_);
        ASSERT_TRUE(git_->started()) << git_->error_log();
        ASSERT_TRUE(admin_->create(kube::resources::secrets().in(ns_),
                                   {{"apiVersion", "v1"},
                                    {"kind", "Secret"},
                                    {"metadata", {{"name", "gitops"}, {"namespace", ns_}}},
                                    {"data",
                                     {{"username", str::base64_encode(git_->user())},
                                      {"password", str::base64_encode(git_->password())}}}}));
        for (int i = 0; i < apps_; ++i) {
            json app = {{"apiVersion", "poetryops.io/v1alpha1"},
                        {"kind", "PoetryApp"},
                        {"metadata", {{"name", app_name(i)}, {"namespace", ns_}}},
                        {"spec",
                         {{"image",
                           {{"repository", image(i)},
                            {"tagTemplate", "{version}"},
                            {"policy", {{"pollInterval", "1s"}}}}},
                          {"gitops",
                           {{"repoURL", git_->http_url("gitops.git")},
                            {"secretRef", {{"name", "gitops"}}}}},
                          {"environments",
                           json::array({{{"name", "dev"}, {"path", "apps/" + app_name(i) + "/dev"}},
                                        {{"name", "staging"},
                                         {"path", "apps/" + app_name(i) + "/staging"}}})}}}};
            ASSERT_TRUE(admin_->create(controller::poetryapps().in(ns_), app));
        }
        fs::create_directories(dir_.path() / "tmp");
    }

    std::string image(int i) const { return registry_->host() + "/chaos/" + app_name(i); }

    std::string push(int i, int round) {
        json m = base_;
        m["annotations"]["org.opencontainers.image.title"] = app_name(i);
        m["annotations"]["org.opencontainers.image.version"] = std::to_string(round);
        auto d = pusher_->put_manifest(registry::parse_repository(image(i)).value(),
                                       "1." + std::to_string(round) + ".0", m.dump(), media_type_);
        EXPECT_TRUE(d) << (d ? "" : d.error().message);
        return d ? d->digest : "";
    }

    Result<ChildProcess> start_controller() {
        ProcessOptions o;
        o.env = {{"TMPDIR", (dir_.path() / "tmp").string()}};
        return ChildProcess::spawn(
            {POETRYOPS_BIN, "controller", "--kubeconfig", kubeconfig_.string(), "--namespace", ns_,
             "--cache-dir", (dir_.path() / "cache").string(), "--plain-http", registry_->host(),
             "--no-builds", "--metrics-bind-address", "0", "--health-probe-bind-address", "0"},
            o, (dir_.path() / "controller.log").string());
    }

    /// How many apps' `env` on the server pins its digest in `digests`.
    int pinned(const std::string& env, const std::vector<std::string>& digests) {
        int n = 0;
        for (int i = 0; i < apps_; ++i)
            if (repos_
                    .show("gitops.git",
                          "main:apps/" + app_name(i) + "/" + env + "/kustomization.yaml")
                    .find(digests[static_cast<std::size_t>(i)]) != std::string::npos)
                ++n;
        return n;
    }

    /// Apps whose status says Ready and pins `digests` in both environments.
    int converged(const std::vector<std::string>& digests) {
        int n = 0;
        for (int i = 0; i < apps_; ++i) {
            auto o = admin_->get(controller::poetryapps().in(ns_).named(app_name(i)));
            if (!o || !o->contains("status")) continue;
            const json& st = (*o)["status"];
            bool ready = false;
            for (const auto& c : st.value("conditions", json::array()))
                if (c.value("type", "") == "Ready") ready = c.value("status", "") == "True";
            int envs = 0;
            for (const auto& e : st.value("environments", json::array()))
                if (e.value("digest", "") == digests[static_cast<std::size_t>(i)]) ++envs;
            if (ready && envs == 2) ++n;
        }
        return n;
    }

    fs::path kubeconfig_;
    std::unique_ptr<kube::RestClient> admin_;
    std::string ns_;
    int apps_ = 0, rounds_ = 0;
    std::pair<int, int> kill_ms_;
    std::unique_ptr<test::TestRegistry> registry_;
    std::unique_ptr<registry::RegistryClient> pusher_;
    json base_;
    std::string media_type_;
    TempDir dir_{"poetryops-cluster-chaos"};
    test::TestCa ca_;
    test::BareRepos repos_;
    fs::path bare_;
    std::unique_ptr<test::HttpGitServer> git_;
};

TEST_F(ClusterChaosTest, KilledAnywhereTheControllerLosesAndDuplicatesNoPromotion) {
    const auto started = Steady::now();
    std::cerr << "cluster chaos: " << apps_ << " apps x " << rounds_ << " rounds, SIGKILL every "
              << kill_ms_.first << "-" << kill_ms_.second << " ms\n";
    std::vector<std::string> newest;
    for (int i = 0; i < apps_; ++i) newest.push_back(push(i, 0));
    ForeignWriter writer(git_->http_url("gitops.git"), git_->user(), git_->password(),
                         dir_.path() / "foreign");
    std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> life(kill_ms_.first, kill_ms_.second);
    int kills = 0;
    for (int round = 0; round <= rounds_; ++round) {
        if (round > 0)
            for (int i = 0; i < apps_; ++i) newest[static_cast<std::size_t>(i)] = push(i, round);
        const auto deadline = Steady::now() + std::chrono::seconds(180 + 2 * apps_);
        int dev = 0, last_dev = -1;
        double stretch = 1;  // a loaded machine may need longer lives to make any progress
        while ((dev = pinned("dev", newest)) < apps_ && Steady::now() < deadline) {
            stretch = dev > last_dev ? 1 : std::min(stretch * 1.5, 10.0);
            last_dev = dev;
            auto child = start_controller();
            if (!child) {
                ADD_FAILURE() << child.error().message;
                break;
            }
            std::this_thread::sleep_for(
                std::chrono::milliseconds(static_cast<int>(life(rng) * stretch)));
            if (child->running()) {
                ::kill(child->pid(), SIGKILL);
                ++kills;
            }
            (void)child->stop(std::chrono::milliseconds(0));
        }
        std::cerr << "cluster chaos: round " << round << ": dev pins it in " << dev << "/" << apps_
                  << " apps after " << kills << " kills so far\n";
        ASSERT_EQ(dev, apps_) << read_file(dir_.path() / "controller.log").value_or("");
    }
    writer.stop();

    // The last start, left running: every status converges within one resync (10 min; measured).
    auto last = start_controller();
    ASSERT_TRUE(last) << last.error().message;
    const auto t0 = Steady::now();
    const bool all =
        test::wait_until([&] { return converged(newest) == apps_; }, std::chrono::seconds(180));
    const double converge_s = std::chrono::duration<double>(Steady::now() - t0).count();
    EXPECT_TRUE(all) << converged(newest) << "/" << apps_
                     << " converged; the last controller's log:\n"
                     << [&] {
                            auto log = read_file(dir_.path() / "controller.log").value_or("");
                            return log.size() > 6000 ? log.substr(log.size() - 6000) : log;
                        }();
    EXPECT_EQ(pinned("staging", newest), apps_);
    EXPECT_EQ(last->stop(std::chrono::seconds(20)), 0) << "SIGTERM is a clean stop";

    const auto count = promotion_trailers(bare_);
    int duplicates = 0;
    for (const auto& [value, n] : count)
        if (n > 1) {
            ++duplicates;
            ADD_FAILURE() << "promotion committed " << n << " times: " << value;
        }
    int lost = 0;
    for (int i = 0; i < apps_; ++i) {
        auto o = admin_->get(controller::poetryapps().in(ns_).named(app_name(i)));
        ASSERT_TRUE(o);
        for (const auto& h : (*o)["status"].value("history", json::array())) {
            const auto commit = h.value("commit", "");
            if (!commit.empty() && !is_ancestor(bare_, commit, "main")) {
                ++lost;
                ADD_FAILURE() << app_name(i) << ": status records " << commit << ", not on main";
            }
        }
    }
    const auto foreign_missing = not_on_branch(bare_, writer.pushed());
    EXPECT_THAT(foreign_missing, testing::IsEmpty()) << "foreign commits lost";
    const int foreign_lost = static_cast<int>(foreign_missing.size());
    int updates = 0;
    const auto forced_lines = forced_updates(bare_, updates);
    EXPECT_THAT(forced_lines, testing::IsEmpty()) << "forced updates of main";
    const int forced = static_cast<int>(forced_lines.size());
    std::vector<std::string> orphans;
    test::wait_until([&] { return (orphans = processes_inside(dir_.path())).empty(); },
                     std::chrono::seconds(10));
    EXPECT_THAT(orphans, testing::IsEmpty());
    EXPECT_THAT(leftovers(dir_.path() / "tmp", {"poetryops-git-"}), testing::IsEmpty());
    EXPECT_THAT(leftovers(dir_.path() / "cache", {"tmp_obj_"}), testing::IsEmpty());

    json report = {{"mode", "cluster"},
                   {"apps", apps_},
                   {"rounds", rounds_},
                   {"kills", kills},
                   {"promotion_commits", count.size()},
                   {"duplicate_promotion_commits", duplicates},
                   {"lost_promotions", lost},
                   {"foreign_commits", writer.pushed().size()},
                   {"foreign_commits_lost", foreign_lost},
                   {"forced_updates", forced},
                   {"orphan_processes", orphans.size()},
                   {"converged_after_last_start_s", converge_s},
                   {"seconds", std::chrono::duration<double>(Steady::now() - started).count()}};
    std::cerr << "cluster chaos: " << report.dump() << "\n";
    if (const char* f = std::getenv("POETRYOPS_CHAOS_REPORT"); f && *f)
        std::ofstream(f, std::ios::app) << report.dump() << "\n";
}

}  // namespace

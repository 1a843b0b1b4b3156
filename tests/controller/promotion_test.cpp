#include <poetryops/controller/promotion.hpp>

#include <poetryops/controller/artifact_port.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>

namespace poetryops::controller {
namespace {

using namespace std::chrono_literals;

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');
const std::string kRepo = "registry.example.com/acme/billing";

/// An in-memory GitOps repo: files, a linear history of commits with their messages.
class FakeGitOps final : public GitOpsPort {
public:
    std::map<std::string, std::string> files;
    std::vector<std::pair<std::string, std::string>> commits;  // sha, message
    bool down = false;
    int submits = 0;
    int fetches = 0;

    Result<GitSnapshot> read_files(const api::PoetryApp&,
                                   const std::vector<std::string>& paths) override {
        if (down) return fail(Error::Kind::transport, "git.example.com: connection refused");
        ++fetches;
        GitSnapshot snap;
        snap.commit = commits.empty() ? "root" : commits.back().first;
        for (const auto& p : paths) {
            auto it = files.find(p);
            snap.files.push_back(it == files.end() ? std::nullopt
                                                   : std::optional<std::string>(it->second));
        }
        return snap;
    }
    Result<std::string> find_promotion(const api::PoetryApp&, const std::string& trailer) override {
        for (auto it = commits.rbegin(); it != commits.rend(); ++it) {
            if (it->second.find("Poetryops-Promotion: " + trailer) != std::string::npos)
                return it->first;
        }
        return std::string();
    }
    Result<std::optional<git::FoundCommit>> find_trailer(const api::PoetryApp&,
                                                         std::string_view key,
                                                         const std::string& prefix) override {
        const std::string line = std::string(key) + ": " + prefix;
        for (auto it = commits.rbegin(); it != commits.rend(); ++it) {
            auto at = it->second.find(line);
            if (at == std::string::npos) continue;
            auto end = it->second.find('\n', at);
            std::string value = it->second.substr(
                at + key.size() + 2,
                end == std::string::npos ? std::string::npos : end - at - key.size() - 2);
            return std::optional<git::FoundCommit>(git::FoundCommit{it->first, value});
        }
        return std::optional<git::FoundCommit>();
    }
    Result<bool> contains(const api::PoetryApp&, const std::string& commit,
                          const std::string& revision) override {
        // A linear history: revision contains commit when it comes at or after it.
        auto index = [&](const std::string& sha) {
            for (std::size_t i = 0; i < commits.size(); ++i) {
                if (commits[i].first == sha) return static_cast<int>(i);
            }
            return -1;
        };
        int c = index(commit), r = index(revision);
        return c >= 0 && r >= c;
    }
    std::future<Result<git::EditOutcome>> submit(const api::PoetryApp&,
                                                 git::EditRequest request) override {
        ++submits;
        std::promise<Result<git::EditOutcome>> p;
        bool changed = false;
        for (auto& e : request.edits) {
            std::optional<std::string_view> cur;
            if (auto it = files.find(e.path); it != files.end()) cur = it->second;
            auto r = e.apply(cur);
            if (!r) {
                p.set_value(r.error());
                return p.get_future();
            }
            if (*r) {
                files[e.path] = **r;
                changed = true;
            }
        }
        git::EditOutcome o;
        o.changed = changed;
        if (changed) {
            std::string msg = git::render_batch_message({&request.message});
            commits.emplace_back("c" + std::to_string(commits.size() + 1) + std::string(39, '0'),
                                 msg);
        }
        o.commit = commits.empty() ? "" : commits.back().first;
        p.set_value(o);
        return p.get_future();
    }
};

class FakeArtifacts final : public ArtifactPort {
public:
    std::optional<promote::Artifact> newest_artifact;
    bool down = false;
    Result<std::optional<promote::Artifact>> newest(const api::PoetryApp&) override {
        if (down) return fail(Error::Kind::transport, "registry.example.com: connection refused");
        return newest_artifact;
    }
    Result<std::optional<std::string>> digest_of(const api::PoetryApp&,
                                                 const std::string& tag) override {
        if (down) return fail(Error::Kind::transport, "registry.example.com: connection refused");
        if (newest_artifact && newest_artifact->tag == tag)
            return std::optional<std::string>(newest_artifact->digest);
        return std::optional<std::string>{};
    }
};

api::PoetryApp make_app() {
    api::PoetryApp app;
    app.metadata.name = "billing";
    app.metadata.namespace_ = "team-a";
    app.metadata.generation = 1;
    app.spec.image.repository = kRepo;
    app.spec.gitops.repo_url = "https://git.example.com/deploy.git";
    api::EnvironmentSpec dev;
    dev.name = "dev";
    dev.path = "envs/dev";
    api::EnvironmentSpec staging;
    staging.name = "staging";
    staging.path = "envs/staging";
    staging.update.kind = api::UpdateKind::helm;
    staging.update.digest = "image.digest";
    app.spec.environments = {dev, staging};
    return app;
}

class PromotionReconcilerTest : public ::testing::Test {
protected:
    void SetUp() override {
        git.files["envs/dev/kustomization.yaml"] =
            "# dev overlay\nresources:\n- ../../base\nimages:\n- name: " + kRepo +
            "  # poetryops pins this\n"
            "  newTag: 0.9.0\n";
        git.files["envs/staging/values.yaml"] =
            "replicas: 2\nimage:\n  tag: \"0.9.0\"\n  digest: \"\"\n";
    }
    FakeGitOps git;
    FakeArtifacts artifacts;
    ManualClock clock;
    api::PoetryApp app = make_app();
};

TEST_F(PromotionReconcilerTest, AnAppThatBuildsPromotesItsNewestVerifiedBuild) {
    // Two commits of one project version: the registry's version order cannot tell them apart,
    // the builds can. The newest build failed, so the one before it is the candidate.
    app.spec.build = api::BuildSpec{};
    artifacts.newest_artifact = promote::Artifact{"1.4.2", "1.4.2-0000000", kB, "0000000"};
    api::BuildStatus failed;
    failed.commit = "ccccccc";
    failed.version = "1.4.2";
    failed.tag = "1.4.2-ccccccc";
    failed.phase = api::BuildPhase::failed;
    api::BuildStatus built;
    built.commit = "ab12cd3";
    built.version = "1.4.2";
    built.tag = "1.4.2-ab12cd3";
    built.digest = kA;
    built.phase = api::BuildPhase::succeeded;
    app.status.builds = {failed, built};
    PromotionReconciler r(git, artifacts, nullptr, clock);
    auto out = r.reconcile(app);
    ASSERT_FALSE(out.error) << out.error->message;
    ASSERT_EQ(out.committed.size(), 1u);
    EXPECT_NE(
        git.files["envs/dev/kustomization.yaml"].find("newTag: 1.4.2-ab12cd3\n  digest: " + kA),
        std::string::npos)
        << git.files["envs/dev/kustomization.yaml"];

    // Nothing built yet: nothing to promote, whatever the registry holds.
    app.status = {};
    app.status.builds = {failed};
    git.files["envs/dev/kustomization.yaml"] = "images:\n- name: " + kRepo + "\n  newTag: old\n";
    auto none = r.reconcile(app);
    EXPECT_TRUE(none.committed.empty());
}

TEST_F(PromotionReconcilerTest, PromotesThroughKustomizeAndHelmWithByteExactEdits) {
    artifacts.newest_artifact = promote::Artifact{"1.4.2", "1.4.2-ab12cd3", kA, "ab12cd3"};
    PromotionReconciler r(git, artifacts, nullptr, clock);
    auto out = r.reconcile(app);
    ASSERT_FALSE(out.error) << out.error->message;
    // First sight: both environments adopt what git pins by tag; dev then takes the newest
    // artifact.
    ASSERT_EQ(out.committed.size(), 1u);
    EXPECT_EQ(out.committed[0].environment, "dev");
    EXPECT_EQ(git.files["envs/dev/kustomization.yaml"],
              "# dev overlay\nresources:\n- ../../base\nimages:\n- name: " + kRepo +
                  "  # poetryops pins this\n"
                  "  newTag: 1.4.2-ab12cd3\n  digest: " +
                  kA + "\n");
    ASSERT_EQ(git.commits.size(), 1u);
    EXPECT_NE(git.commits[0].second.find("Poetryops-Promotion: team-a/billing/dev/" + kA),
              std::string::npos);
    const auto* dev = out.status.find_environment("dev");
    EXPECT_EQ(dev->digest, kA);
    EXPECT_EQ(dev->commit, git.commits[0].first);
    EXPECT_EQ(dev->phase, api::Phase::healthy);

    // Next reconcile: staging (helm, digest path) takes the same digest.
    app.status = out.status;
    clock.advance(1min);
    out = r.reconcile(app);
    ASSERT_EQ(out.committed.size(), 1u);
    EXPECT_EQ(out.committed[0].environment, "staging");
    EXPECT_EQ(git.files["envs/staging/values.yaml"],
              "replicas: 2\nimage:\n  tag: \"1.4.2-ab12cd3\"\n  digest: \"" + kA + "\"\n");
    EXPECT_EQ(out.status.summary, "dev=1.4.2 staging=1.4.2");

    // Steady state: nothing to commit, nothing submitted.
    app.status = out.status;
    int before = git.submits;
    out = r.reconcile(app);
    EXPECT_TRUE(out.committed.empty());
    EXPECT_EQ(git.submits, before);
}

TEST_F(PromotionReconcilerTest, RegistryDownIsDegradedAndPromotesNothing) {
    artifacts.down = true;
    PromotionReconciler r(git, artifacts, nullptr, clock);
    auto out = r.reconcile(app);
    ASSERT_TRUE(out.error);
    EXPECT_TRUE(out.committed.empty());
    EXPECT_EQ(git.submits, 0);
    const auto* c = api::find_condition(out.status.conditions, "Degraded");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->status, "True");
    EXPECT_NE(c->message.find("connection refused"), std::string::npos);
}

TEST_F(PromotionReconcilerTest, CrashAfterPushIsRecoveredFromTheTrailerNotCommittedAgain) {
    artifacts.newest_artifact = promote::Artifact{"1.4.2", "1.4.2-ab12cd3", kA, "ab12cd3"};
    PromotionReconciler r(git, artifacts, nullptr, clock);
    auto first = r.reconcile(app);
    ASSERT_EQ(git.commits.size(), 1u);
    // The status write was lost: reconcile from the old status.
    std::string dev_commit = git.commits[0].first;
    auto again = r.reconcile(app);
    for (const auto& a : again.committed)
        EXPECT_NE(a.environment, "dev");  // dev is not committed again
    int dev_commits = 0;
    for (const auto& c : git.commits) {
        if (c.second.find("team-a/billing/dev/") != std::string::npos) ++dev_commits;
    }
    EXPECT_EQ(dev_commits, 1);
    EXPECT_EQ(again.status.find_environment("dev")->commit, dev_commit);
    EXPECT_EQ(again.status.find_environment("dev")->digest, kA);
    EXPECT_TRUE(std::any_of(again.events.begin(), again.events.end(),
                            [](const promote::Event& e) { return e.reason == "Healthy"; }));
}

TEST_F(PromotionReconcilerTest, HumanEditIsHeldAndNotOverwritten) {
    artifacts.newest_artifact = promote::Artifact{"1.4.2", "1.4.2-ab12cd3", kA, "ab12cd3"};
    PromotionReconciler r(git, artifacts, nullptr, clock);
    app.status = r.reconcile(app).status;
    std::string human = "# dev overlay\nresources:\n- ../../base\nimages:\n- name: " + kRepo +
                        "  # poetryops pins this\n  newTag: hotfix\n  digest: " + kB + "\n";
    git.files["envs/dev/kustomization.yaml"] = human;
    artifacts.newest_artifact =
        promote::Artifact{"1.4.3", "1.4.3-ab12cd4", "sha256:" + std::string(64, 'c'), ""};
    auto out = r.reconcile(app);
    EXPECT_TRUE(out.committed.empty());
    EXPECT_EQ(git.files["envs/dev/kustomization.yaml"], human);
    EXPECT_TRUE(out.status.find_environment("dev")->held);
}

TEST_F(PromotionReconcilerTest, RevertToAnOlderPromotedDigestIsAHoldNotARecovery) {
    // dev gets A, then B; then a human pins A again. The commit that once promoted A carries our
    // trailer, but it is older than the commit status records, so this is a human revert: hold,
    // never overwrite.
    PromotionReconciler r(git, artifacts, nullptr, clock);
    artifacts.newest_artifact = promote::Artifact{"1.4.2", "1.4.2-ab12cd3", kA, "ab12cd3"};
    app.status = r.reconcile(app).status;
    artifacts.newest_artifact = promote::Artifact{"1.4.3", "1.4.3-ab12cd4", kB, "ab12cd4"};
    app.status = r.reconcile(app).status;
    ASSERT_EQ(app.status.find_environment("dev")->digest, kB);
    std::string& dev = git.files["envs/dev/kustomization.yaml"];
    dev.replace(dev.find(kB), kB.size(), kA);
    dev.replace(dev.find("1.4.3-ab12cd4"), 13, "1.4.2-ab12cd3");
    git.commits.emplace_back("human" + std::string(35, '0'), "Revert dev to 1.4.2");
    std::string human = dev;
    auto out = r.reconcile(app);
    const auto* st = out.status.find_environment("dev");
    EXPECT_TRUE(st->held);
    EXPECT_EQ(st->phase, api::Phase::held);
    for (const auto& a : out.committed) EXPECT_NE(a.environment, "dev");
    EXPECT_EQ(git.files["envs/dev/kustomization.yaml"], human);
}

TEST_F(PromotionReconcilerTest, OneFetchPerReconcileAndTagOnlyPinsAdoptedOnce) {
    PromotionReconciler r(git, artifacts, nullptr, clock);
    auto out = r.reconcile(app);  // no artifact yet: both environments adopt their 0.9.0 tag pins
    EXPECT_EQ(git.fetches, 1);
    int adopted = 0;
    for (const auto& e : out.events) adopted += e.reason == "Adopted";
    EXPECT_EQ(adopted, 2);
    app.status = out.status;
    out = r.reconcile(app);
    EXPECT_EQ(git.fetches, 2);
    for (const auto& e : out.events) EXPECT_NE(e.reason, "Adopted") << e.message;
    EXPECT_FALSE(out.status.find_environment("dev")->held);
    EXPECT_EQ(out.status.summary, "dev=0.9.0 staging=0.9.0");
}

TEST_F(PromotionReconcilerTest, MissingImageInTheFileFailsOnlyThatEnvironment) {
    git.files["envs/dev/kustomization.yaml"] =
        "resources:\n- ../../base\nimages:\n- name: other/app\n  newTag: '1'\n";
    artifacts.newest_artifact = promote::Artifact{"1.4.2", "1.4.2-ab12cd3", kA, "ab12cd3"};
    PromotionReconciler r(git, artifacts, nullptr, clock);
    auto out = r.reconcile(app);
    // kustomize adds a missing entry (like `kustomize edit set image`), so dev is pinned.
    ASSERT_EQ(out.committed.size(), 1u);
    EXPECT_NE(git.files["envs/dev/kustomization.yaml"].find("name: " + kRepo), std::string::npos);
}

TEST(ObserveCanary, TheRouteIsFoundInRouteYamlOrTheUpdateFileAndBadFoldersAreNamed) {
    api::PoetryApp app = make_app();
    api::EnvironmentSpec env;
    env.name = "prod";
    env.path = "envs/prod";
    env.update.kind = api::UpdateKind::manifest;
    env.update.file = "deployment.yaml";
    api::CanarySpec c;
    c.traffic.route = "billing";
    c.traffic.stable = "billing";
    c.traffic.canary = "billing-canary";
    env.canary = c;
    auto workload = [](const std::string& name, const std::string& digest) {
        return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name +
               "\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n"
               "        image: " +
               kRepo + ":1.0@" + digest + "\n";
    };
    const std::string deploy = workload("billing", kA) + "---\n" + workload("billing-canary", kB);
    auto route = [](int canary) {
        return "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n"
               "  name: billing\nspec:\n  rules:\n  - backendRefs:\n"
               "    - {name: billing, port: 80, weight: " +
               std::to_string(100 - canary) +
               "}\n    - {name: billing-canary, port: 80, weight: " + std::to_string(canary) +
               "}\n";
    };
    EXPECT_EQ(route_files(env),
              (std::vector<std::string>{"envs/prod/route.yaml", "envs/prod/deployment.yaml"}));

    // In route.yaml (the convention).
    auto v = observe_canary(
        app, env, deploy,
        {{"envs/prod/route.yaml", route(10)}, {"envs/prod/deployment.yaml", deploy}});
    ASSERT_TRUE(v.read_ok) << v.read_error;
    EXPECT_EQ(v.route_file, "envs/prod/route.yaml");
    EXPECT_EQ(v.canary_weight, 10);
    EXPECT_EQ(v.canary_digest, kB);

    // In the update file, beside the workloads.
    const std::string together = deploy + "---\n" + route(25);
    v = observe_canary(
        app, env, together,
        {{"envs/prod/route.yaml", std::nullopt}, {"envs/prod/deployment.yaml", together}});
    ASSERT_TRUE(v.read_ok) << v.read_error;
    EXPECT_EQ(v.route_file, "envs/prod/deployment.yaml");
    EXPECT_EQ(v.canary_weight, 25);

    // In both: which one would poetryops edit? Refused, naming both.
    v = observe_canary(
        app, env, together,
        {{"envs/prod/route.yaml", route(0)}, {"envs/prod/deployment.yaml", together}});
    EXPECT_FALSE(v.read_ok);
    EXPECT_THAT(v.read_error,
                testing::HasSubstr("envs/prod/route.yaml and envs/prod/deployment.yaml"));
    EXPECT_THAT(v.read_error, testing::HasSubstr("canary.traffic.file"));

    // Nowhere.
    v = observe_canary(
        app, env, deploy,
        {{"envs/prod/route.yaml", std::nullopt}, {"envs/prod/deployment.yaml", deploy}});
    EXPECT_FALSE(v.read_ok);
    EXPECT_THAT(v.read_error,
                testing::HasSubstr("no gateway-api route billing in envs/prod/route.yaml, "
                                   "envs/prod/deployment.yaml"));

    // Named, but missing; or without the canary backend; or no canary workload.
    env.canary->traffic.file = "split.yaml";
    v = observe_canary(app, env, deploy, {{"envs/prod/split.yaml", std::nullopt}});
    EXPECT_FALSE(v.read_ok);
    EXPECT_THAT(v.read_error, testing::HasSubstr("envs/prod/split.yaml does not exist"));
    std::string other = route(0);
    other.replace(other.find("billing-canary"), 14, "billing-next");
    v = observe_canary(app, env, deploy, {{"envs/prod/split.yaml", other}});
    EXPECT_FALSE(v.read_ok);
    EXPECT_THAT(v.read_error, testing::HasSubstr("envs/prod/split.yaml"));
    EXPECT_THAT(v.read_error, testing::HasSubstr("billing-canary"));
    v = observe_canary(app, env, workload("billing", kA), {{"envs/prod/split.yaml", route(0)}});
    EXPECT_FALSE(v.read_ok);
    EXPECT_THAT(v.read_error, testing::HasSubstr("no workload billing-canary"));

    // Cluster mode without a Kubernetes API (local mode) says so.
    env.canary->mode = api::CanaryMode::cluster;
    v = observe_canary(app, env, deploy, {});
    EXPECT_FALSE(v.read_ok);
    EXPECT_THAT(v.read_error, testing::HasSubstr("local mode"));
}

TEST(TagTemplate, RegexExtractsVersionFromRenderedTags) {
    std::regex re(tag_template_regex("{version}-{shortSha}"));
    std::smatch m;
    std::string tag = "1.4.2-ab12cd3";
    ASSERT_TRUE(std::regex_match(tag, m, re));
    EXPECT_EQ(m[1].str(), "1.4.2");
    tag = "1.4.2rc1-deadbeef12";
    ASSERT_TRUE(std::regex_match(tag, m, re));
    EXPECT_EQ(m[1].str(), "1.4.2rc1");
    tag = "latest";
    EXPECT_FALSE(std::regex_match(tag, m, re));
    std::regex plain(tag_template_regex("v{version}"));
    tag = "v2.0.0";
    ASSERT_TRUE(std::regex_match(tag, m, plain));
    EXPECT_EQ(m[1].str(), "2.0.0");
}

}  // namespace
}  // namespace poetryops::controller

namespace poetryops::controller {
namespace {

/// A registry whose tag list lags behind its manifests (as docker-registry's does right after a
/// push notification).
class LaggingRegistry final : public registry::Registry {
public:
    std::vector<std::string> listed = {"1.0.0"};
    std::map<std::string, std::string> digests = {{"1.0.0", kA}};
    Result<registry::Descriptor> resolve(const registry::Reference& ref) override {
        auto it = digests.find(ref.tag);
        if (it == digests.end()) return fail(Error::Kind::not_found, "MANIFEST_UNKNOWN " + ref.tag);
        return registry::Descriptor{it->second, std::string(registry::media::oci_manifest), 2,
                                    std::nullopt};
    }
    Result<registry::Manifest> get_manifest(const registry::Reference&) override {
        return fail(Error::Kind::internal, "unused");
    }
    Result<std::vector<std::string>> list_tags(const registry::Reference&) override {
        return listed;
    }
    Result<registry::Descriptor> put_manifest(const registry::Reference&, std::string_view,
                                              std::string_view, std::string_view) override {
        return fail(Error::Kind::internal, "unused");
    }
};

TEST(RegistryArtifactPort, PushedTagIsTriedBeforeTheListShowsItAndNothingStaleIsCached) {
    auto reg = std::make_shared<LaggingRegistry>();
    ManualClock clock;
    RegistryArtifactPort port(
        [reg](const api::PoetryApp&) -> Result<std::shared_ptr<registry::Registry>> {
            return std::shared_ptr<registry::Registry>(reg);
        },
        clock);
    api::PoetryApp app = make_app();
    app.spec.image.tag_template = "{version}";
    auto first = port.newest(app);
    ASSERT_TRUE(first && *first);
    EXPECT_EQ((*first)->tag, "1.0.0");

    // The webhook for 1.1.0 arrives before the registry can even resolve it: an error (retry), not
    // the stale 1.0.0.
    port.hint_push("registry.example.com/acme/billing", "1.1.0");
    auto early = port.newest(app);
    ASSERT_FALSE(early);
    // Resolvable but not listed yet: it is found anyway.
    reg->digests["1.1.0"] = kB;
    auto found = port.newest(app);
    ASSERT_TRUE(found && *found) << (found ? "" : found.error().message);
    EXPECT_EQ((*found)->tag, "1.1.0");
    EXPECT_EQ((*found)->digest, kB);
}

}  // namespace
}  // namespace poetryops::controller

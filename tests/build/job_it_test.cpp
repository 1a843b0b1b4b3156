// Build Jobs against the real Kubernetes lane: the Job of every engine is accepted by a real
// kube-apiserver (server-side dry-run, strict field validation, so no field is unknown or
// dropped); one Job created for real is owned by a real PoetryApp, labelled so its Pods are found,
// read back as pending while no node runs it, and collected with its owner.
#include <poetryops/build/job.hpp>

#include <poetryops/api/codec.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/util/fs.hpp>
#include <support/support.hpp>

#include "kube/kube_fixture.hpp"
#include "support/kube/crds.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace poetryops;
using kube::testenv::KubeServerTest;
using nlohmann::json;

namespace {

const std::string kSha = "0123456789abcdef0123456789abcdef01234567";

kube::ResourceRef poetryapps() {
    return {std::string(api::kGroup), std::string(api::kVersion), std::string(api::kPlural)};
}
kube::ResourceRef pods() { return {"", "v1", "pods"}; }

api::PoetryApp make_app(const std::string& ns, api::BuildEngine engine) {
    api::PoetryApp app;
    app.metadata.name = "billing";
    app.metadata.namespace_ = ns;
    app.metadata.uid = "2f1c6e5a-7a51-4c4e-9d1e-0a4b7c9e0001";
    app.spec.source = api::SourceSpec{};
    app.spec.source->repo_url = "https://git.example.com/acme/mono.git";
    app.spec.source->path = "services/billing";
    app.spec.source->secret_ref = api::SecretRef{"billing-git"};
    app.spec.image.repository = "registry.example.com/acme/billing";
    app.spec.image.secret_ref = api::SecretRef{"regcred"};
    app.spec.build = api::BuildSpec{};
    app.spec.build->engine = engine;
    api::EnvironmentSpec dev;
    dev.name = "dev";
    dev.path = "envs/dev";
    app.spec.environments.push_back(dev);
    app.spec.gitops.repo_url = "https://git.example.com/acme/deploy.git";
    return app;
}

build::JobOptions options() {
    build::JobOptions o;
    o.resources = {{"limits", {{"memory", "2Gi"}}}, {"requests", {{"cpu", "500m"}}}};
    o.node_selector = {{"kubernetes.io/os", "linux"}};
    o.tolerations =
        json::array({{{"key", "builds"}, {"operator", "Exists"}, {"effect", "NoSchedule"}}});
    o.workspace_size_limit = "10Gi";
    return o;
}

class BuildJobIt : public KubeServerTest {};

}  // namespace

TEST_P(BuildJobIt, EveryEngineJobIsAcceptedByTheApiServer) {
    auto client = make_client();
    ASSERT_TRUE(client);
    std::string ns = fresh_namespace(*client);
    for (auto engine :
         {api::BuildEngine::buildkit, api::BuildEngine::kaniko, api::BuildEngine::buildah}) {
        SCOPED_TRACE(std::string(api::to_string(engine)));
        api::PoetryApp app = make_app(ns, engine);
        auto job = build::make_job(app, {kSha, "1.4.2", "1.4.2-0123456"}, options());
        ASSERT_TRUE(job) << job.error().message;
        auto path = kube::resources::jobs().in(ns).path() + "?dryRun=All&fieldValidation=Strict";
        auto body = client->raw("POST", path, job->dump(), "application/json");
        ASSERT_TRUE(body) << body.error().message;
        json stored = json::parse(*body);
        // What we asked for is what the server would store: nothing unknown, nothing dropped.
        EXPECT_EQ(stored["metadata"]["name"], (*job)["metadata"]["name"]);
        EXPECT_EQ(stored["metadata"]["labels"], (*job)["metadata"]["labels"]);
        EXPECT_EQ(stored["metadata"]["ownerReferences"], (*job)["metadata"]["ownerReferences"]);
        EXPECT_EQ(stored["spec"]["backoffLimit"], 0);
        EXPECT_EQ(stored["spec"]["activeDeadlineSeconds"], 1800);
        const json& ours = (*job)["spec"]["template"]["spec"];
        const json& theirs = stored["spec"]["template"]["spec"];
        EXPECT_EQ(theirs["containers"][0]["securityContext"],
                  ours["containers"][0]["securityContext"]);
        for (const char* field : {"args", "command", "env", "volumeMounts", "image"}) {
            EXPECT_EQ(theirs["containers"][0].value(field, json()),
                      ours["containers"][0].value(field, json()))
                << field;
        }
        EXPECT_EQ(theirs["initContainers"][0]["args"], ours["initContainers"][0]["args"]);
        EXPECT_EQ(theirs["initContainers"][0]["securityContext"],
                  ours["initContainers"][0]["securityContext"]);
        EXPECT_EQ(theirs["volumes"].size(), ours["volumes"].size());
        EXPECT_EQ(stored["spec"]["template"]["metadata"].value("annotations", json::object()),
                  (*job)["spec"]["template"]["metadata"].value("annotations", json::object()));
        // Dry-run: nothing was created.
        auto list = client->list(kube::resources::jobs().in(ns));
        ASSERT_TRUE(list) << list.error().message;
        EXPECT_TRUE(list->items.empty());
    }
}

TEST_P(BuildJobIt, ARealJobIsOwnedFoundByItsLabelsAndCollectedWithItsApp) {
    auto client = make_client();
    ASSERT_TRUE(client);
    auto crds =
        test::kube::apply_crds(*client, {test::source_dir() / "crds/poetryops.io_poetryapps.yaml"});
    ASSERT_TRUE(crds) << crds.error().message;
    std::string ns = fresh_namespace(*client);

    api::PoetryApp app = make_app(ns, api::BuildEngine::buildkit);
    json object = api::encode_poetryapp(app);
    object["metadata"].erase("uid");
    object.erase("status");
    auto created = client->create(poetryapps().in(ns), object);
    ASSERT_TRUE(created) << created.error().message;
    app.metadata.uid = (*created)["metadata"]["uid"];

    auto job = build::make_job(app, {kSha, "1.4.2", "1.4.2-0123456"}, options());
    ASSERT_TRUE(job) << job.error().message;
    const std::string job_name = (*job)["metadata"]["name"];
    auto made = client->create(kube::resources::jobs().in(ns), *job);
    ASSERT_TRUE(made) << made.error().message;
    // Created again (a restarted controller): the deterministic name makes it AlreadyExists.
    auto twice = client->create(kube::resources::jobs().in(ns), *job);
    ASSERT_FALSE(twice);
    EXPECT_TRUE(kube::is_already_exists(twice.error())) << twice.error().message;

    // The app's Jobs by label; the Job controller's Pod carries the same labels.
    kube::ListOptions by_app;
    by_app.label_selector = std::string(build::kAppLabel) + "=" + build::app_label("billing");
    auto jobs = client->list(kube::resources::jobs().in(ns), by_app);
    ASSERT_TRUE(jobs) << jobs.error().message;
    ASSERT_EQ(jobs->items.size(), 1u);
    std::vector<json> found;
    ASSERT_TRUE(test::wait_until([&] {
        auto p = client->list(pods().in(ns), by_app);
        if (!p || p->items.empty()) return false;
        found = p->items;
        return true;
    })) << "the Job controller made no Pod with the app's label";
    EXPECT_EQ(found[0]["metadata"]["labels"][std::string(build::kCommitLabel)], kSha);

    auto fresh = client->get(kube::resources::jobs().in(ns).named(job_name));
    ASSERT_TRUE(fresh);
    auto seen = build::read_job(*fresh, found);
    EXPECT_EQ(seen.name, (*job)["metadata"]["name"]);
    EXPECT_EQ(seen.commit, kSha);
    EXPECT_EQ(seen.tag, "1.4.2-0123456");
    EXPECT_NE(seen.phase, build::JobPhase::succeeded);
    EXPECT_NE(seen.phase, build::JobPhase::failed);

    // Deleting the app collects its Job (the ownerReference is real).
    auto removed =
        client->remove(poetryapps().in(ns).named("billing"), kube::DeleteOptions{"Background"});
    ASSERT_TRUE(removed) << removed.error().message;
    EXPECT_TRUE(test::wait_until(
        [&] {
            auto j = client->get(kube::resources::jobs().in(ns).named(job_name));
            return !j && kube::is_not_found(j.error());
        },
        std::chrono::seconds(60)))
        << "the garbage collector did not delete the Job with its PoetryApp";
}

POETRYOPS_KUBE_REAL_ONLY(BuildJobIt);

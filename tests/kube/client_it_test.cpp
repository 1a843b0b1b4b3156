// REST client against the real Kubernetes lane, and against the fake API server for injected
// faults.
#include <poetryops/kube/client.hpp>

#include "kube/kube_fixture.hpp"
#include "support/kube/cluster.hpp"
#include "support/support.hpp"

#include <poetryops/util/fs.hpp>

#include <poetryops/kube/status.hpp>
#include <poetryops/util/metrics.hpp>

#include <gtest/gtest.h>

namespace poetryops::kube {
namespace {

using testenv::KubeServerTest;

class ClientIt : public KubeServerTest {};
/// Faults a real API server cannot produce on demand: the fake server only.
class ClientFaultIt : public ClientIt {};
/// What only a real API server does: field ownership (managedFields) and the garbage collector.
class ClientRealIt : public ClientIt {};

nlohmann::json configmap(const std::string& ns, const std::string& name, nlohmann::json data) {
    return {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata", {{"name", name}, {"namespace", ns}, {"labels", {{"app", "billing"}}}}},
            {"data", std::move(data)}};
}

TEST_P(ClientIt, CreateGetUpdateDeleteWithConflicts) {
    metrics::MetricsRegistry metrics;
    auto client = make_client(&metrics);
    ASSERT_TRUE(client);
    std::string ns = fresh_namespace(*client);
    ResourceRef cms = resources::configmaps().in(ns);

    auto created = client->create(cms, configmap(ns, "cfg", {{"a", "1"}}));
    ASSERT_TRUE(created) << created.error().message;
    std::string rv1 = (*created)["metadata"]["resourceVersion"];
    EXPECT_FALSE(rv1.empty());

    auto again = client->create(cms, configmap(ns, "cfg", {{"a", "1"}}));
    ASSERT_FALSE(again);
    EXPECT_TRUE(is_already_exists(again.error())) << again.error().message;
    EXPECT_NE(again.error().message.find("already exists"), std::string::npos);

    auto got = client->get(cms.named("cfg"));
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ((*got)["data"]["a"], "1");

    nlohmann::json upd = *got;
    upd["data"]["a"] = "2";
    auto updated = client->update(cms.named("cfg"), upd);
    ASSERT_TRUE(updated) << updated.error().message;
    EXPECT_NE((*updated)["metadata"]["resourceVersion"], rv1);

    // Writing the stale copy again: 409 Conflict with the server's message.
    upd["data"]["a"] = "3";
    auto stale = client->update(cms.named("cfg"), upd);
    ASSERT_FALSE(stale);
    EXPECT_TRUE(is_conflict(stale.error())) << stale.error().message;
    EXPECT_EQ(stale.error().http_status, 409);
    EXPECT_NE(stale.error().message.find("the object has been modified"), std::string::npos);

    ASSERT_TRUE(client->remove(cms.named("cfg")));
    auto gone = client->get(cms.named("cfg"));
    ASSERT_FALSE(gone);
    EXPECT_TRUE(is_not_found(gone.error()));
    EXPECT_EQ(gone.error().reason, "NotFound");
    auto del_again = client->remove(cms.named("cfg"));
    ASSERT_FALSE(del_again);
    EXPECT_TRUE(is_not_found(del_again.error()));

    auto url = env().config().server;
    std::string host = url.substr(url.find("://") + 3);
    EXPECT_GE(metrics.value("rest_client_requests_total",
                            {{"code", "201"}, {"method", "POST"}, {"host", host}}),
              1);
    EXPECT_GE(metrics.value("rest_client_requests_total",
                            {{"code", "409"}, {"method", "PUT"}, {"host", host}}),
              1);
}

TEST_P(ClientIt, PatchesKeepUnknownFieldsAndApplyNeedsAFieldManager) {
    auto client = make_client();
    ASSERT_TRUE(client);
    std::string ns = fresh_namespace(*client);
    ResourceRef cms = resources::configmaps().in(ns);
    auto base = configmap(ns, "p", {{"keep", "me"}, {"x", "1"}});
    base["metadata"]["annotations"] = {{"someone.else/owns", "this"}};
    ASSERT_TRUE(client->create(cms, base));

    auto merged =
        client->patch(cms.named("p"), PatchType::merge, {{"data", {{"x", "2"}, {"y", "new"}}}});
    ASSERT_TRUE(merged) << merged.error().message;
    EXPECT_EQ((*merged)["data"]["keep"], "me");
    EXPECT_EQ((*merged)["data"]["x"], "2");
    EXPECT_EQ((*merged)["metadata"]["annotations"]["someone.else/owns"], "this");

    nlohmann::json ops =
        nlohmann::json::array({{{"op", "replace"}, {"path", "/data/x"}, {"value", "3"}},
                               {{"op", "remove"}, {"path", "/data/y"}}});
    auto jp = client->patch(cms.named("p"), PatchType::json, ops);
    ASSERT_TRUE(jp) << jp.error().message;
    EXPECT_EQ((*jp)["data"]["x"], "3");
    EXPECT_FALSE((*jp)["data"].contains("y"));

    nlohmann::json applied = {{"apiVersion", "v1"},
                              {"kind", "ConfigMap"},
                              {"metadata", {{"name", "applied"}, {"namespace", ns}}},
                              {"data", {{"k", "v"}}}};
    auto no_manager = client->patch(cms.named("applied"), PatchType::apply, applied);
    ASSERT_FALSE(no_manager);
    auto a1 = client->apply(cms, applied, "poetryops", true);
    ASSERT_TRUE(a1) << a1.error().message;
    applied["data"]["k2"] = "v2";
    auto a2 = client->apply(cms, applied, "poetryops", true);
    ASSERT_TRUE(a2) << a2.error().message;
    EXPECT_EQ((*a2)["data"]["k"], "v");
    EXPECT_EQ((*a2)["data"]["k2"], "v2");
}

TEST_P(ClientIt, ListPaginatesWithLimitAndContinueAndFiltersByLabel) {
    auto client = make_client();
    ASSERT_TRUE(client);
    std::string ns = fresh_namespace(*client);
    ResourceRef cms = resources::configmaps().in(ns);
    for (int i = 0; i < 7; ++i) {
        auto cm = configmap(ns, "cm-" + std::to_string(i), {{"i", std::to_string(i)}});
        if (i % 2 == 1) cm["metadata"]["labels"]["app"] = "other";
        ASSERT_TRUE(client->create(cms, cm));
    }
    ListOptions lo;
    lo.limit = 3;
    auto page1 = client->list(cms, lo);
    ASSERT_TRUE(page1) << page1.error().message;
    EXPECT_EQ(page1->items.size(), 3u);
    EXPECT_FALSE(page1->continue_token.empty());
    EXPECT_FALSE(page1->resource_version.empty());
    auto all = client->list_all(cms, lo);
    ASSERT_TRUE(all) << all.error().message;
    std::set<std::string> names;
    // A real cluster's kube-controller-manager also publishes kube-root-ca.crt into every
    // namespace: count ours.
    for (const auto& o : all->items) {
        std::string name = o["metadata"]["name"];
        if (name.rfind("cm-", 0) == 0) names.insert(name);
        EXPECT_EQ(o.value("kind", ""), "ConfigMap") << "list items carry their kind";
    }
    EXPECT_EQ(names.size(), 7u);
    lo.label_selector = "app=billing";
    auto filtered = client->list_all(cms, lo);
    ASSERT_TRUE(filtered);
    EXPECT_EQ(filtered->items.size(), 4u);
    auto bad = client->list(cms, ListOptions{"app in (", "", 0, "", ""});
    ASSERT_FALSE(bad);
    EXPECT_TRUE(is_invalid(bad.error())) << bad.error().message;
}

TEST_P(ClientFaultIt, ExpiredTokenGivesAClear401) {
    auto client = make_client();
    ASSERT_TRUE(client);
    ASSERT_TRUE(client->get(resources::namespaces().named("default")));
    fake()->set_token("a-new-token");
    auto r = client->get(resources::namespaces().named("default"));
    ASSERT_FALSE(r);
    EXPECT_TRUE(is_unauthorized(r.error()));
    EXPECT_EQ(r.error().http_status, 401);
    EXPECT_NE(r.error().message.find("GET /api/v1/namespaces/default: 401 Unauthorized"),
              std::string::npos)
        << r.error().message;
    EXPECT_NE(r.error().message.find("token may be expired"), std::string::npos);
    EXPECT_EQ(r.error().message.find("poetryops-test-token"), std::string::npos)
        << "never leak the token";
}

TEST_P(ClientFaultIt, InjectedFailuresMapToErrors) {
    auto client = make_client();
    ASSERT_TRUE(client);
    fake()->fail_next(1, 429);
    auto r = client->get(resources::namespaces().named("default"));
    ASSERT_FALSE(r);
    EXPECT_TRUE(is_too_many_requests(r.error()));
    fake()->fail_next(1, 500);
    r = client->get(resources::namespaces().named("default"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::http);
    EXPECT_EQ(r.error().http_status, 500);
    EXPECT_TRUE(client->get(resources::namespaces().named("default")));
    fake()->stall_next(1, std::chrono::milliseconds(1500));
    RestClientOptions o;
    o.request_timeout = std::chrono::milliseconds(300);
    auto impatient = RestClient::create(env().config(), o);
    ASSERT_TRUE(impatient);
    auto slow = (*impatient)->get(resources::namespaces().named("default"));
    ASSERT_FALSE(slow);
    EXPECT_EQ(slow.error().kind, Error::Kind::timeout) << slow.error().message;
}

TEST_P(ClientIt, StatusSubresourceAndGenerationOnACustomResource) {
    auto client = make_client();
    ASSERT_TRUE(client);
    nlohmann::json crd = {
        {"apiVersion", "apiextensions.k8s.io/v1"},
        {"kind", "CustomResourceDefinition"},
        {"metadata", {{"name", "widgets.test.poetryops.io"}}},
        {"spec",
         {{"group", "test.poetryops.io"},
          {"scope", "Namespaced"},
          {"names",
           {{"plural", "widgets"},
            {"singular", "widget"},
            {"kind", "Widget"},
            {"listKind", "WidgetList"}}},
          {"versions",
           {{{"name", "v1"},
             {"served", true},
             {"storage", true},
             {"subresources", {{"status", nlohmann::json::object()}}},
             {"schema",
              {{"openAPIV3Schema",
                {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}}}}}}}};
    auto c = client->create(resources::crds(), crd);
    ASSERT_TRUE(c || is_already_exists(c.error())) << c.error().message;
    std::string ns = fresh_namespace(*client);
    ResourceRef widgets = ResourceRef("test.poetryops.io", "v1", "widgets").in(ns);
    nlohmann::json w = {{"apiVersion", "test.poetryops.io/v1"},
                        {"kind", "Widget"},
                        {"metadata", {{"name", "w"}}},
                        {"spec", {{"size", 1}}},
                        {"status", {{"phase", "ignored-on-create"}}}};
    Result<nlohmann::json> created = fail(Error::make(Error::Kind::internal, "not tried"));
    // A real API server needs a moment to serve a new CRD.
    for (int i = 0; i < 100; ++i) {
        created = client->create(widgets, w);
        if (created || !is_not_found(created.error())) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(created) << created.error().message;
    EXPECT_EQ((*created)["metadata"]["generation"], 1);
    EXPECT_FALSE(created->contains("status"));

    nlohmann::json st = *created;
    st["status"] = {{"phase", "Ready"}};
    st["spec"]["size"] = 99;  // ignored by the status subresource
    auto s1 = client->update_status(widgets.named("w"), st);
    ASSERT_TRUE(s1) << s1.error().message;
    EXPECT_EQ((*s1)["status"]["phase"], "Ready");
    EXPECT_EQ((*s1)["spec"]["size"], 1);
    EXPECT_EQ((*s1)["metadata"]["generation"], 1) << "status writes do not bump generation";

    auto meta = client->patch(widgets.named("w"), PatchType::merge,
                              {{"metadata", {{"labels", {{"l", "1"}}}}}});
    ASSERT_TRUE(meta);
    EXPECT_EQ((*meta)["metadata"]["generation"], 1) << "metadata writes do not bump generation";

    nlohmann::json spec = *meta;
    spec["spec"]["size"] = 2;
    spec["status"] = {{"phase", "ignored-by-main-resource"}};
    auto s2 = client->update(widgets.named("w"), spec);
    ASSERT_TRUE(s2) << s2.error().message;
    EXPECT_EQ((*s2)["metadata"]["generation"], 2);
    EXPECT_EQ((*s2)["status"]["phase"], "Ready");

    // A stale status write is a conflict: the caller requeues rather than losing status.
    auto stale = client->update_status(widgets.named("w"), st);
    ASSERT_FALSE(stale);
    EXPECT_TRUE(is_conflict(stale.error()));
}

TEST_P(ClientIt, WritesIntoAMissingNamespaceAreNotFound) {
    auto client = make_client();
    ASSERT_TRUE(client);
    auto r = client->create(resources::configmaps().in("no-such-ns-x"),
                            configmap("no-such-ns-x", "c", {}));
    ASSERT_FALSE(r);
    EXPECT_TRUE(is_not_found(r.error())) << r.error().message;
}

TEST_P(ClientRealIt, ServerSideApplyConflictsBetweenManagersAndForceTakesOwnership) {
    auto client = make_client();
    ASSERT_TRUE(client);
    std::string ns = fresh_namespace(*client);
    ResourceRef cms = resources::configmaps().in(ns);
    nlohmann::json mine = {{"apiVersion", "v1"},
                           {"kind", "ConfigMap"},
                           {"metadata", {{"name", "owned"}, {"namespace", ns}}},
                           {"data", {{"image", "a@sha256:1"}}}};
    ASSERT_TRUE(client->apply(cms.named("owned"), mine, "poetryops", false));
    nlohmann::json theirs = mine;
    theirs["data"]["image"] = "b@sha256:2";
    auto conflict = client->apply(cms.named("owned"), theirs, "someone-else", false);
    ASSERT_FALSE(conflict) << "a real server refuses to take a field another manager owns";
    EXPECT_TRUE(is_conflict(conflict.error())) << conflict.error().message;
    EXPECT_NE(conflict.error().message.find("poetryops"), std::string::npos)
        << conflict.error().message;
    auto forced = client->apply(cms.named("owned"), theirs, "someone-else", true);
    ASSERT_TRUE(forced) << forced.error().message;
    EXPECT_EQ((*forced)["data"]["image"], "b@sha256:2");
    // The field changed hands: now poetryops' own apply of the old value conflicts.
    auto back = client->apply(cms.named("owned"), mine, "poetryops", false);
    ASSERT_FALSE(back);
    EXPECT_TRUE(is_conflict(back.error()));
}

TEST_P(ClientRealIt, OwnedObjectsAreGarbageCollectedWithTheirOwner) {
    ASSERT_TRUE(env().cluster()->controller_manager)
        << "the lane's cluster runs kube-controller-manager";
    auto client = make_client();
    ASSERT_TRUE(client);
    std::string ns = fresh_namespace(*client);
    ResourceRef cms = resources::configmaps().in(ns);
    auto owner = client->create(cms, configmap(ns, "owner", {{"k", "v"}}));
    ASSERT_TRUE(owner) << owner.error().message;
    auto owned = configmap(ns, "owned", {{"k", "v"}});
    owned["metadata"]["ownerReferences"] = {{{"apiVersion", "v1"},
                                             {"kind", "ConfigMap"},
                                             {"name", "owner"},
                                             {"uid", (*owner)["metadata"]["uid"]},
                                             {"controller", true},
                                             {"blockOwnerDeletion", true}}};
    ASSERT_TRUE(client->create(cms, owned));
    ASSERT_TRUE(client->remove(cms.named("owner")));
    EXPECT_TRUE(test::wait_until(
        [&] {
            auto o = client->get(cms.named("owned"));
            return !o && is_not_found(o.error());
        },
        std::chrono::seconds(60)))
        << "kube-controller-manager's garbage collector deletes what the owner owned";
}

TEST_P(ClientRealIt, ARotatedServiceAccountTokenIsPickedUpAtTheFirst401) {
    auto admin = make_client();
    ASSERT_TRUE(admin);
    std::string ns = fresh_namespace(*admin);
    ResourceRef sas{"", "v1", "serviceaccounts"};
    ResourceRef roles{"rbac.authorization.k8s.io", "v1", "roles"};
    ResourceRef bindings{"rbac.authorization.k8s.io", "v1", "rolebindings"};
    auto make_sa = [&] {
        ASSERT_TRUE(admin->create(
            sas.in(ns),
            {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", "ctl"}}}}));
    };
    make_sa();
    ASSERT_TRUE(admin->create(
        roles.in(ns),
        {{"apiVersion", "rbac.authorization.k8s.io/v1"},
         {"kind", "Role"},
         {"metadata", {{"name", "read"}}},
         {"rules",
          {{{"apiGroups", {""}}, {"resources", {"configmaps"}}, {"verbs", {"get", "list"}}}}}}));
    ASSERT_TRUE(admin->create(
        bindings.in(ns),
        {{"apiVersion", "rbac.authorization.k8s.io/v1"},
         {"kind", "RoleBinding"},
         {"metadata", {{"name", "read"}}},
         {"roleRef",
          {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", "read"}}},
         {"subjects", {{{"kind", "ServiceAccount"}, {"name", "ctl"}, {"namespace", ns}}}}}));
    // The kubelet's projected token file, as in a Pod.
    TempDir dir("sa-token");
    auto file = dir.path() / "token";
    auto first = test::kube::request_token(*admin, ns, "ctl");
    ASSERT_TRUE(first) << first.error().message;
    ASSERT_TRUE(write_file_atomic(file, *first, 0600));
    auto sa_client =
        RestClient::create(test::kube::config_with_token(*env().cluster(), "", file.string()));
    ASSERT_TRUE(sa_client) << sa_client.error().message;
    ASSERT_TRUE((*sa_client)->list(resources::configmaps().in(ns))) << "the first token works";
    // The ServiceAccount is re-created: every token of the old one is rejected from now on. The
    // file gets a new one.
    ASSERT_TRUE(admin->remove(sas.in(ns).named("ctl")));
    ASSERT_TRUE(test::wait_until([&] { return !admin->get(sas.in(ns).named("ctl")); }));
    make_sa();
    auto second = test::kube::request_token(*admin, ns, "ctl");
    ASSERT_TRUE(second) << second.error().message;
    ASSERT_TRUE(write_file_atomic(file, *second, 0600));
    // Well within the one-minute re-read period: the 401 itself makes the client read the file
    // again.
    std::optional<Error> last;
    bool ok = test::wait_until(
        [&] {
            auto r = (*sa_client)->list(resources::configmaps().in(ns));
            if (!r) last = r.error();
            return r.has_value();
        },
        std::chrono::seconds(15));
    EXPECT_TRUE(ok) << (last ? last->message : "");
    if (last) {
        EXPECT_EQ(last->message.find(*first), std::string::npos)
            << "a token never appears in an error";
    }
}

POETRYOPS_KUBE_SERVERS(ClientIt);
POETRYOPS_KUBE_FAKE_ONLY(ClientFaultIt);
POETRYOPS_KUBE_REAL_ONLY(ClientRealIt);

}  // namespace
}  // namespace poetryops::kube

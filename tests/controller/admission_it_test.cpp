// The PoetryApproval admission webhook on the real Kubernetes lane: the controller's
// AdmissionServer on 127.0.0.1 with a certificate from a test CA, registered with a
// MutatingWebhookConfiguration (url + caBundle, failurePolicy Fail, scoped to this test's
// namespace so other tests of the run never reach it). PoetryApprovals created by a ServiceAccount
// and by the lane's token user carry the API server's identity in spec.approver/spec.groups; a
// forged approver or groups are refused with the webhook's message; the CRD still keeps spec
// immutable once stamped; the controller's decoding then trusts that identity (source webhook).
#include <poetryops/controller/admission.hpp>

#include <poetryops/api/poetryapproval.hpp>
#include <poetryops/controller/resources.hpp>
#include <poetryops/http/client.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/strings.hpp>
#include <support/support.hpp>

#include "kube/kube_fixture.hpp"
#include "support/kube/cluster.hpp"
#include "support/kube/crds.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace poetryops;
using kube::testenv::KubeServerTest;
using nlohmann::json;
using testing::Contains;
using testing::HasSubstr;

namespace {

const std::string kDigest = "sha256:" + std::string(64, 'c');
const kube::ResourceRef kWebhooks{"admissionregistration.k8s.io", "v1",
                                  "mutatingwebhookconfigurations", true};

class AdmissionRealIt : public KubeServerTest {
protected:
    void SetUp() override {
        KubeServerTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        ASSERT_TRUE(test::require_tools({"openssl"}));
        admin_ = make_client();
        ASSERT_TRUE(admin_);
        auto crds = test::kube::apply_crds(
            *admin_, {test::source_dir() / "crds/poetryops.io_poetryapprovals.yaml"});
        ASSERT_TRUE(crds) << crds.error().message;
        ns_ = fresh_namespace(*admin_);

        auto [cert, key] = ca_.issue("admission", {"IP:127.0.0.1"});
        controller::AdmissionOptions o;
        o.address = "127.0.0.1:0";
        o.tls_cert_file = cert.string();
        o.tls_key_file = key.string();
        auto server = controller::AdmissionServer::start(o);
        ASSERT_TRUE(server) << server.error().message;
        server_ = std::move(*server);

        auto ca = read_file(ca_.ca_cert());
        ASSERT_TRUE(ca);
        webhook_name_ = "poetryops-test-" + ns_;
        json config{
            {"apiVersion", "admissionregistration.k8s.io/v1"},
            {"kind", "MutatingWebhookConfiguration"},
            {"metadata", {{"name", webhook_name_}}},
            {"webhooks",
             {{{"name", "poetryapprovals.admission.poetryops.io"},
               {"clientConfig",
                {{"url", "https://127.0.0.1:" + std::to_string(server_->port()) +
                             "/admission/poetryapprovals"},
                 {"caBundle", str::base64_encode(*ca)}}},
               {"rules",
                {{{"apiGroups", {"poetryops.io"}},
                  {"apiVersions", {"v1alpha1"}},
                  {"operations", {"CREATE"}},
                  {"resources", {"poetryapprovals"}},
                  {"scope", "Namespaced"}}}},
               // Only this test's namespace: the rest of the run never calls this server.
               {"namespaceSelector", {{"matchLabels", {{"kubernetes.io/metadata.name", ns_}}}}},
               {"failurePolicy", "Fail"},
               {"sideEffects", "None"},
               {"admissionReviewVersions", {"v1"}},
               {"timeoutSeconds", 10}}}}};
        auto created = admin_->create(kWebhooks, config);
        ASSERT_TRUE(created) << created.error().message;
        registered_ = true;
        // The API server picks a new configuration up from its informer: wait until a create is
        // stamped.
        int n = 0;
        ASSERT_TRUE(test::wait_until(
            [&] {
                auto a = admin_->create(approvals(), approval("probe-" + std::to_string(n++)));
                return a && a->value("/spec/approver"_json_pointer, std::string()) != "";
            },
            std::chrono::seconds(30)))
            << "the API server never called the webhook";
    }

    void TearDown() override {
        if (registered_) {
            auto removed = admin_->remove(kWebhooks.named(webhook_name_));
            EXPECT_TRUE(removed || kube::is_not_found(removed.error()));
        }
        if (server_) server_->stop();
        KubeServerTest::TearDown();
    }

    kube::ResourceRef approvals() const { return controller::poetryapprovals().in(ns_); }

    json approval(const std::string& name, json extra = json::object()) const {
        json spec{{"app", "billing"}, {"environment", "prod"}, {"digest", kDigest}};
        spec.update(extra);
        return json{{"apiVersion", "poetryops.io/v1alpha1"},
                    {"kind", "PoetryApproval"},
                    {"metadata", {{"name", name}, {"namespace", ns_}}},
                    {"spec", spec}};
    }

    /// A client authenticated as ServiceAccount `sa` of the test namespace, allowed to create and
    /// read PoetryApprovals there (what the chart's poetryops-approver role grants).
    std::unique_ptr<kube::RestClient> approver_client(const std::string& sa) {
        kube::ResourceRef sas{"", "v1", "serviceaccounts"};
        kube::ResourceRef roles{"rbac.authorization.k8s.io", "v1", "roles"};
        kube::ResourceRef bindings{"rbac.authorization.k8s.io", "v1", "rolebindings"};
        EXPECT_TRUE(admin_->create(
            sas.in(ns_),
            {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", sa}}}}));
        EXPECT_TRUE(admin_->create(
            roles.in(ns_), {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                            {"kind", "Role"},
                            {"metadata", {{"name", "approver-" + sa}}},
                            {"rules",
                             {{{"apiGroups", {"poetryops.io"}},
                               {"resources", {"poetryapprovals"}},
                               {"verbs", {"create", "get", "list", "update", "patch"}}}}}}));
        EXPECT_TRUE(admin_->create(
            bindings.in(ns_),
            {{"apiVersion", "rbac.authorization.k8s.io/v1"},
             {"kind", "RoleBinding"},
             {"metadata", {{"name", "approver-" + sa}}},
             {"roleRef",
              {{"apiGroup", "rbac.authorization.k8s.io"},
               {"kind", "Role"},
               {"name", "approver-" + sa}}},
             {"subjects", {{{"kind", "ServiceAccount"}, {"name", sa}, {"namespace", ns_}}}}}));
        auto token = test::kube::request_token(*admin_, ns_, sa);
        EXPECT_TRUE(token) << token.error().message;
        if (!token) return nullptr;
        auto client =
            kube::RestClient::create(test::kube::config_with_token(*env().cluster(), *token),
                                     {.request_timeout = std::chrono::seconds(10)});
        EXPECT_TRUE(client) << client.error().message;
        return client ? std::move(client).value() : nullptr;
    }

    test::TestCa ca_;
    std::unique_ptr<kube::RestClient> admin_;
    std::unique_ptr<controller::AdmissionServer> server_;
    std::string ns_;
    std::string webhook_name_;
    bool registered_ = false;
};

TEST_P(AdmissionRealIt, TheApproverAndGroupsAreTheApiServersIdentity) {
    auto alice = approver_client("alice");
    ASSERT_TRUE(alice);
    const std::string user = "system:serviceaccount:" + ns_ + ":alice";
    // RBAC for a new binding can take a moment to reach the authorizer's cache.
    Result<json> created = fail(Error::Kind::internal, "not tried");
    ASSERT_TRUE(test::wait_until([&] {
        created = alice->create(approvals(), approval("by-alice"));
        return created.has_value() || !kube::is_forbidden(created.error()) ||
               created.error().message.find("admission webhook") != std::string::npos;
    }));
    ASSERT_TRUE(created) << created.error().message;
    EXPECT_EQ((*created)["spec"]["approver"], user);
    auto groups = (*created)["spec"]["groups"].get<std::vector<std::string>>();
    EXPECT_THAT(groups, Contains("system:serviceaccounts:" + ns_));
    EXPECT_THAT(groups, Contains("system:authenticated"));

    // What the controller makes of it: the stamped identity, trusted (source webhook).
    auto stored = admin_->get(approvals().named("by-alice"));
    ASSERT_TRUE(stored);
    auto decoded = api::load_poetryapproval(*stored);
    ASSERT_TRUE(decoded) << decoded.error().message;
    api::ApprovalRecord record = api::approval_record(*decoded, true);
    EXPECT_EQ(record.approver, user);
    EXPECT_EQ(record.source, api::IdentitySource::webhook);
    EXPECT_EQ(record.who(), user + " (webhook)");
    EXPECT_THAT(record.groups, Contains("system:serviceaccounts:" + ns_));

    // The lane's static-token user has no groups of its own: the API server adds only
    // system:authenticated.
    auto token_user = kube::RestClient::create(*env().cluster()->user(),
                                               {.request_timeout = std::chrono::seconds(10)});
    ASSERT_TRUE(token_user);
    kube::ResourceRef bindings{"rbac.authorization.k8s.io", "v1", "rolebindings"};
    ASSERT_TRUE(admin_->create(bindings.in(ns_), {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                                                  {"kind", "RoleBinding"},
                                                  {"metadata", {{"name", "approver-user"}}},
                                                  {"roleRef",
                                                   {{"apiGroup", "rbac.authorization.k8s.io"},
                                                    {"kind", "Role"},
                                                    {"name", "approver-alice"}}},
                                                  {"subjects",
                                                   {{{"kind", "User"},
                                                     {"apiGroup", "rbac.authorization.k8s.io"},
                                                     {"name", env().cluster()->user_name}}}}}));
    Result<json> by_user = fail(Error::Kind::internal, "not tried");
    ASSERT_TRUE(test::wait_until([&] {
        by_user = (*token_user)->create(approvals(), approval("by-user"));
        return by_user.has_value() || !kube::is_forbidden(by_user.error()) ||
               by_user.error().message.find("admission webhook") != std::string::npos;
    }));
    ASSERT_TRUE(by_user) << by_user.error().message;
    EXPECT_EQ((*by_user)["spec"]["approver"], env().cluster()->user_name);
    EXPECT_EQ((*by_user)["spec"]["groups"], json({"system:authenticated"}));
}

TEST_P(AdmissionRealIt, AForgedIdentityIsRefusedAndAStampedOneCannotBeChanged) {
    auto mallory = approver_client("mallory");
    ASSERT_TRUE(mallory);
    const std::string user = "system:serviceaccount:" + ns_ + ":mallory";
    Result<json> forged = fail(Error::Kind::internal, "not tried");
    ASSERT_TRUE(test::wait_until([&] {
        forged = mallory->create(approvals(), approval("forged", {{"approver", "ceo"}}));
        return forged.has_value() || !kube::is_forbidden(forged.error()) ||
               forged.error().message.find("admission webhook") != std::string::npos;
    }));
    ASSERT_FALSE(forged) << "a forged approver was admitted: " << forged->dump();
    EXPECT_THAT(forged.error().message, HasSubstr("denied the request"));
    EXPECT_THAT(forged.error().message,
                HasSubstr("spec.approver \"ceo\" is not you (\"" + user + "\")"));
    EXPECT_FALSE(admin_->get(approvals().named("forged")).has_value()) << "nothing was stored";

    auto groups =
        mallory->create(approvals(), approval("groups", {{"groups", {"system:masters"}}}));
    ASSERT_FALSE(groups);
    EXPECT_THAT(groups.error().message,
                HasSubstr("spec.groups [system:masters] are not your groups"));

    // Its own name is fine (stamped again), and once stored the CRD's CEL rule keeps spec as it
    // was: the approver cannot be rewritten by an update.
    auto own = mallory->create(approvals(), approval("own", {{"approver", user}}));
    ASSERT_TRUE(own) << own.error().message;
    json changed = *own;
    changed["spec"]["approver"] = "ceo";
    auto updated = mallory->update(approvals().named("own"), changed);
    ASSERT_FALSE(updated);
    EXPECT_THAT(updated.error().message, HasSubstr("immutable"));
}

TEST_P(AdmissionRealIt, WithoutAnAnsweringWebhookCreatesFailClosed) {
    // failurePolicy Fail: with the server gone nothing is admitted, so no PoetryApproval can
    // appear without a stamped identity.
    server_->stop();
    auto refused = admin_->create(approvals(), approval("while-down"));
    ASSERT_FALSE(refused);
    EXPECT_THAT(refused.error().message, HasSubstr("failed calling webhook"));
}

/// The listener without an API server: HTTPS only, a bounded body, 400 for what is not an
/// AdmissionReview, and a renewed certificate served without a restart.
TEST(AdmissionServerIt, BoundsTheBodyRefusesGarbageAndReloadsARenewedCertificate) {
    test::TestCa ca;
    auto [cert, key] = ca.issue("admission", {"IP:127.0.0.1"});
    TempDir dir;
    ASSERT_TRUE(write_file_atomic(dir.path() / "tls.crt", *read_file(cert)));
    ASSERT_TRUE(write_file_atomic(dir.path() / "tls.key", *read_file(key)));
    controller::AdmissionOptions o;
    o.address = "127.0.0.1:0";
    o.tls_cert_file = (dir.path() / "tls.crt").string();
    o.tls_key_file = (dir.path() / "tls.key").string();
    o.reload_interval = std::chrono::milliseconds(50);
    auto server = controller::AdmissionServer::start(o);
    ASSERT_TRUE(server) << server.error().message;
    const std::string url = "https://127.0.0.1:" + std::to_string((*server)->port());
    auto trusting = [](const std::filesystem::path& ca_file) {
        http::ClientOptions co;
        co.tls.ca_file = ca_file.string();
        return std::move(http::Client::create(co)).value();
    };
    auto c = trusting(ca.ca_cert());
    auto post = [&](http::Client& client, std::string body) {
        return client.request({.method = "POST",
                               .url = url + "/admission/poetryapprovals",
                               .headers = {{"Content-Type", "application/json"}},
                               .body = std::move(body)});
    };
    auto garbage = post(*c, "{\"kind\": \"Pod\"}");
    ASSERT_TRUE(garbage) << garbage.error().message;
    EXPECT_EQ(garbage->status, 400);
    EXPECT_THAT(garbage->body, HasSubstr("admission.k8s.io/v1 AdmissionReview"));
    auto big = post(*c, std::string(2u << 20, ' '));
    EXPECT_TRUE(!big || big->status == 413) << big->status;
    auto get = c->request({.url = url + "/admission/poetryapprovals"});
    ASSERT_TRUE(get);
    EXPECT_EQ(get->status, 405);
    auto health = c->request({.url = url + "/healthz"});
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
    controller::AdmissionOptions no_cert;
    no_cert.address = "127.0.0.1:0";
    EXPECT_FALSE(controller::AdmissionServer::start(no_cert))
        << "no certificate: refused, the API server calls webhooks over HTTPS only";

    test::TestCa renewed;
    auto [cert2, key2] = renewed.issue("renewed", {"IP:127.0.0.1"});
    ASSERT_TRUE(write_file_atomic(dir.path() / "tls.key", *read_file(key2)));
    ASSERT_TRUE(write_file_atomic(dir.path() / "tls.crt", *read_file(cert2)));
    ASSERT_TRUE(test::wait_until([&] { return (*server)->reloads() >= 1; }));
    auto fresh = trusting(renewed.ca_cert());
    auto r = fresh->request({.url = url + "/healthz"});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
    (*server)->stop();
}

}  // namespace

POETRYOPS_KUBE_REAL_ONLY(AdmissionRealIt);

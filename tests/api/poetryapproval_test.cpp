// PoetryApproval decoding and identity: the approver the promotion engine trusts is the webhook's
// stamp only when the controller says the webhook stamps it; otherwise the creating field manager
// (a weak identity), never what the client wrote into spec.approver.
#include <poetryops/api/codec.hpp>
#include <poetryops/api/poetryapproval.hpp>

#include <poetryops/util/fs.hpp>
#include <support/support.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace poetryops::api;
using nlohmann::json;
using testing::HasSubstr;

namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

json object() {
    return json::parse(R"({
      "apiVersion": "poetryops.io/v1alpha1", "kind": "PoetryApproval",
      "metadata": {"name": "billing-prod-aaaaaaaaaaaa-x1", "namespace": "team-a",
                   "creationTimestamp": "2026-03-01T10:00:00Z",
                   "managedFields": [
                     {"manager": "kubectl-label", "operation": "Update", "time": "2026-03-01T11:00:00Z",
                      "fieldsV1": {"f:metadata": {"f:labels": {}}}},
                     {"manager": "kubectl-poetryops", "operation": "Update", "time": "2026-03-01T10:00:00Z",
                      "fieldsV1": {"f:spec": {"f:app": {}, "f:digest": {}}}}]},
      "spec": {"app": "billing", "environment": "prod", "digest": ")" +
                       kDigest + R"(", "approver": "ceo", "groups": ["system:masters"]}})");
}

TEST(PoetryApproval, WithoutTheWebhookTheCreatingManagerIsTheIdentityNotTheClaimedApprover) {
    auto a = load_poetryapproval(object());
    ASSERT_TRUE(a) << a.error().message;
    EXPECT_EQ(a->manager, "kubectl-poetryops");
    EXPECT_EQ(a->spec.decision, ApprovalDecision::approve);
    ApprovalRecord weak = approval_record(*a, false);
    EXPECT_EQ(weak.approver, "kubectl-poetryops");
    EXPECT_EQ(weak.source, IdentitySource::managed_fields);
    EXPECT_TRUE(weak.groups.empty()) << "claimed groups are not trusted";
    EXPECT_EQ(weak.who(), "kubectl-poetryops (managedFields)");
    ASSERT_TRUE(weak.time);
    ApprovalRecord stamped = approval_record(*a, true);
    EXPECT_EQ(stamped.approver, "ceo");
    EXPECT_EQ(stamped.source, IdentitySource::webhook);
    EXPECT_EQ(stamped.groups, std::vector<std::string>{"system:masters"});
}

TEST(PoetryApproval, BadObjectsAreClearErrorsNamingTheField) {
    json o = object();
    o["spec"]["decision"] = "reject";
    auto a = load_poetryapproval(o);
    ASSERT_FALSE(a);
    EXPECT_THAT(a.error().message,
                HasSubstr("PoetryApproval team-a/billing-prod-aaaaaaaaaaaa-x1: spec.reason: is "
                          "required for a rejection"));
    o = object();
    o["spec"]["digest"] = "sha256:abc";
    a = load_poetryapproval(o);
    ASSERT_FALSE(a);
    EXPECT_THAT(a.error().message, HasSubstr("spec.digest: must be sha256:<64 hex>"));
    o = object();
    o["spec"]["decision"] = "maybe";
    a = load_poetryapproval(o);
    ASSERT_FALSE(a);
    EXPECT_THAT(a.error().message, HasSubstr("spec.decision: unsupported value \"maybe\""));
}

TEST(PoetryApproval, TheCrdDeclaresWhatTheCodeReadsAndItsEnums) {
    auto text = poetryops::read_file(poetryops::test::source_dir() /
                                     "crds/poetryops.io_poetryapprovals.yaml");
    ASSERT_TRUE(text);
    auto docs = yaml_to_json(*text, "poetryops.io_poetryapprovals.yaml");
    ASSERT_TRUE(docs) << docs.error().message;
    const json& spec =
        docs->front()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    for (const char* f :
         {"app", "environment", "digest", "decision", "reason", "comment", "approver", "groups"})
        EXPECT_TRUE(spec["properties"].contains(f)) << f;
    std::vector<std::string> decisions;
    for (auto n : enum_names<ApprovalDecision>()) decisions.emplace_back(n);
    EXPECT_EQ(spec["properties"]["decision"]["enum"].get<std::vector<std::string>>(), decisions);
    EXPECT_EQ(spec["properties"]["decision"]["default"], "approve");
    EXPECT_EQ(docs->front()["spec"]["names"]["plural"], std::string(kApprovalPlural));
    EXPECT_EQ(docs->front()["spec"]["names"]["kind"], std::string(kApprovalKind));
    // What kubectl poetryops approve creates round-trips, and carries no approver.
    PoetryApproval a;
    a.metadata.name = "x";
    a.spec.app = "billing";
    a.spec.environment = "prod";
    a.spec.digest = kDigest;
    json encoded = encode_poetryapproval(a);
    EXPECT_FALSE(encoded["spec"].contains("approver"));
    auto back = load_poetryapproval(encoded);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->spec.digest, kDigest);
}

}  // namespace

// The PoetryApproval admission webhook's decision (api/admission.hpp): stamps spec.approver and
// spec.groups from userInfo on CREATE, refuses a forged identity with a message naming both, lets
// anything else through unchanged, and reads only admission.k8s.io/v1 AdmissionReviews.
#include <poetryops/api/admission.hpp>

#include <poetryops/util/strings.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace poetryops;
using namespace poetryops::api;
using nlohmann::json;
using testing::HasSubstr;

namespace {

json review(json spec = {{"app", "billing"},
                         {"environment", "prod"},
                         {"digest", "sha256:" + std::string(64, 'a')}}) {
    return json{
        {"apiVersion", "admission.k8s.io/v1"},
        {"kind", "AdmissionReview"},
        {"request",
         {{"uid", "705ab4f5-6393-11e8-b7cc-42010a800002"},
          {"kind",
           {{"group", "poetryops.io"}, {"version", "v1alpha1"}, {"kind", "PoetryApproval"}}},
          {"resource",
           {{"group", "poetryops.io"}, {"version", "v1alpha1"}, {"resource", "poetryapprovals"}}},
          {"namespace", "team-a"},
          {"operation", "CREATE"},
          {"userInfo",
           {{"username", "alice@example.com"},
            {"uid", "42"},
            {"groups", {"release-managers", "system:authenticated"}}}},
          {"object",
           {{"apiVersion", "poetryops.io/v1alpha1"},
            {"kind", "PoetryApproval"},
            {"metadata", {{"generateName", "billing-prod-"}, {"namespace", "team-a"}}},
            {"spec", std::move(spec)}}},
          {"oldObject", nullptr},
          {"dryRun", false}}}};
}

ApprovalAdmission decide(const json& r) {
    auto d = review_approval_admission(r.dump());
    EXPECT_TRUE(d) << d.error().message;
    return d ? *d : ApprovalAdmission{};
}

}  // namespace

TEST(ApprovalAdmission, CreateStampsTheApproverAndGroupsFromUserInfo) {
    ApprovalAdmission d = decide(review());
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
    EXPECT_EQ(d.approver, "alice@example.com");
    EXPECT_EQ(d.patch, json::parse(R"([
        {"op": "add", "path": "/spec/approver", "value": "alice@example.com"},
        {"op": "add", "path": "/spec/groups", "value": ["release-managers", "system:authenticated"]}
    ])"));

    json out = admission_review_response(d);
    EXPECT_EQ(out["apiVersion"], "admission.k8s.io/v1");
    EXPECT_EQ(out["kind"], "AdmissionReview");
    EXPECT_EQ(out["response"]["uid"], d.uid);
    EXPECT_EQ(out["response"]["allowed"], true);
    EXPECT_EQ(out["response"]["patchType"], "JSONPatch");
    std::string patch;
    ASSERT_TRUE(str::base64_decode(out["response"]["patch"].get<std::string>(), patch));
    EXPECT_EQ(json::parse(patch), d.patch);
    EXPECT_FALSE(out["response"].contains("status"));
}

TEST(ApprovalAdmission, AUserWithoutGroupsGetsAnEmptyList) {
    json r = review();
    r["request"]["userInfo"].erase("groups");
    ApprovalAdmission d = decide(r);
    ASSERT_TRUE(d.allowed) << d.message;
    EXPECT_EQ(d.patch[1], json::parse(R"({"op": "add", "path": "/spec/groups", "value": []})"));
}

TEST(ApprovalAdmission, AForgedApproverIsRefusedNamingBoth) {
    json r = review();
    r["request"]["object"]["spec"]["approver"] = "ceo";
    ApprovalAdmission d = decide(r);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.code, 403);
    EXPECT_THAT(d.message, HasSubstr("spec.approver \"ceo\" is not you (\"alice@example.com\")"));
    EXPECT_THAT(d.message, HasSubstr("leave spec.approver out"));
    EXPECT_TRUE(d.patch.is_null());

    json out = admission_review_response(d);
    EXPECT_EQ(out["response"]["allowed"], false);
    EXPECT_EQ(out["response"]["status"]["code"], 403);
    EXPECT_EQ(out["response"]["status"]["message"], d.message);
    EXPECT_FALSE(out["response"].contains("patch"));
}

TEST(ApprovalAdmission, ForgedGroupsAreRefusedButTheRequestersOwnIdentityPasses) {
    json forged = review();
    forged["request"]["object"]["spec"]["groups"] = {"system:masters"};
    ApprovalAdmission d = decide(forged);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.code, 403);
    EXPECT_THAT(d.message,
                HasSubstr("spec.groups [system:masters] are not your groups [release-managers, "
                          "system:authenticated]"));

    // An object read back and created again (kubectl get -o yaml | kubectl create -f -) carries
    // the same identity: allowed, stamped again.
    json same = review();
    same["request"]["object"]["spec"]["approver"] = "alice@example.com";
    same["request"]["object"]["spec"]["groups"] = {"system:authenticated", "release-managers"};
    ApprovalAdmission ok = decide(same);
    EXPECT_TRUE(ok.allowed) << ok.message;
    EXPECT_EQ(ok.patch[0]["value"], "alice@example.com");

    json empty = review();
    empty["request"]["object"]["spec"]["approver"] = "";
    empty["request"]["object"]["spec"]["groups"] = json::array();
    EXPECT_TRUE(decide(empty).allowed);

    json wrong_type = review();
    wrong_type["request"]["object"]["spec"]["groups"] = "release-managers";
    ApprovalAdmission bad = decide(wrong_type);
    EXPECT_FALSE(bad.allowed);
    EXPECT_EQ(bad.code, 400);
}

TEST(ApprovalAdmission, OtherOperationsAndSubresourcesPassUnchanged) {
    for (const char* op : {"UPDATE", "DELETE", "CONNECT"}) {
        json r = review();
        r["request"]["operation"] = op;
        r["request"]["object"]["spec"]["approver"] = "ceo";
        ApprovalAdmission d = decide(r);
        EXPECT_TRUE(d.allowed) << op;
        EXPECT_TRUE(d.patch.is_null()) << op;
        EXPECT_FALSE(admission_review_response(d)["response"].contains("patchType")) << op;
    }
    json status = review();
    status["request"]["subResource"] = "status";
    EXPECT_TRUE(decide(status).patch.is_null());
}

TEST(ApprovalAdmission, WhatTheWebhookCannotStampIsRefusedWithAReason) {
    json other = review();
    other["request"]["resource"] = {{"group", ""}, {"version", "v1"}, {"resource", "configmaps"}};
    ApprovalAdmission d = decide(other);
    EXPECT_FALSE(d.allowed);
    EXPECT_THAT(d.message, HasSubstr("poetryapprovals.poetryops.io only, not configmaps"));

    json anonymous = review();
    anonymous["request"]["userInfo"] = json::object();
    d = decide(anonymous);
    EXPECT_FALSE(d.allowed);
    EXPECT_THAT(d.message, HasSubstr("no username"));

    json no_spec = review();
    no_spec["request"]["object"].erase("spec");
    d = decide(no_spec);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.code, 400);
    EXPECT_THAT(d.message, HasSubstr("needs a spec"));

    json long_name = review();
    long_name["request"]["userInfo"]["username"] = std::string(300, 'u');
    d = decide(long_name);
    EXPECT_FALSE(d.allowed);
    EXPECT_THAT(d.message, HasSubstr("300 characters long"));

    json many_groups = review();
    many_groups["request"]["userInfo"]["groups"] = json::array();
    for (int i = 0; i < 65; ++i)
        many_groups["request"]["userInfo"]["groups"].push_back("g" + std::to_string(i));
    d = decide(many_groups);
    EXPECT_FALSE(d.allowed);
    EXPECT_THAT(d.message, HasSubstr("65 groups"));
}

TEST(ApprovalAdmission, OnlyAnAdmissionV1ReviewWithARequestUidIsRead) {
    for (const std::string& body :
         {std::string("not json"), std::string("[]"),
          json{{"apiVersion", "admission.k8s.io/v1beta1"}, {"kind", "AdmissionReview"}}.dump(),
          json{{"apiVersion", "admission.k8s.io/v1"}, {"kind", "AdmissionReview"}}.dump(),
          json{{"apiVersion", "admission.k8s.io/v1"},
               {"kind", "AdmissionReview"},
               {"request", {{"operation", "CREATE"}}}}
              .dump()}) {
        auto d = review_approval_admission(body);
        ASSERT_FALSE(d) << body;
        EXPECT_EQ(d.error().kind, Error::Kind::invalid) << body;
    }
    auto v1beta1 = review_approval_admission(
        json{{"apiVersion", "admission.k8s.io/v1beta1"}, {"kind", "AdmissionReview"}}.dump());
    ASSERT_FALSE(v1beta1);
    EXPECT_THAT(v1beta1.error().message, HasSubstr("admissionReviewVersions: [v1]"));
}

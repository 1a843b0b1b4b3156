#include <poetryops/api/admission.hpp>

#include <poetryops/api/poetryapproval.hpp>
#include <poetryops/util/strings.hpp>

#include <algorithm>
#include <set>
#include <vector>

namespace poetryops::api {

using nlohmann::json;

namespace {

constexpr std::string_view kReviewApiVersion = "admission.k8s.io/v1";
constexpr std::size_t kApproverMaxLength = 253;  // the CRD's spec.approver maxLength
constexpr std::size_t kGroupsMaxItems = 64;      // the CRD's spec.groups maxItems

std::string string_at(const json& object, const char* key) {
    if (!object.is_object()) return {};
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

ApprovalAdmission refuse(ApprovalAdmission d, int code, std::string message) {
    d.allowed = false;
    d.code = code;
    d.message = std::move(message);
    d.patch = nullptr;
    return d;
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

std::string list(const std::vector<std::string>& v) { return "[" + str::join(v, ", ") + "]"; }

}  // namespace

Result<ApprovalAdmission> review_approval_admission(std::string_view body) {
    json review = json::parse(body, nullptr, false);
    if (review.is_discarded() || !review.is_object())
        return fail(Error::Kind::invalid, "the body is not a JSON AdmissionReview");
    if (string_at(review, "kind") != "AdmissionReview" ||
        string_at(review, "apiVersion") != kReviewApiVersion) {
        return fail(Error::Kind::invalid,
                    "expected an admission.k8s.io/v1 AdmissionReview, got apiVersion " +
                        quoted(string_at(review, "apiVersion")) + " kind " +
                        quoted(string_at(review, "kind")) +
                        " (register the webhook with admissionReviewVersions: [v1])");
    }
    auto request = review.find("request");
    if (request == review.end() || !request->is_object())
        return fail(Error::Kind::invalid, "the AdmissionReview has no request");
    ApprovalAdmission d;
    d.uid = string_at(*request, "uid");
    if (d.uid.empty()) return fail(Error::Kind::invalid, "the AdmissionReview has no request.uid");

    const json resource = request->value("resource", json::object());
    const std::string group = string_at(resource, "group");
    const std::string plural = string_at(resource, "resource");
    if (group != "poetryops.io" || plural != kApprovalPlural) {
        return refuse(std::move(d), 400,
                      "this webhook admits poetryapprovals.poetryops.io only, not " +
                          (group.empty() ? plural : plural + "." + group) +
                          ": fix the MutatingWebhookConfiguration's rules");
    }
    // Only a new approval gets an identity; spec cannot change afterwards (CEL self == oldSelf),
    // and a status or other subresource carries none.
    if (string_at(*request, "operation") != "CREATE" || !string_at(*request, "subResource").empty())
        return d;

    const json user = request->value("userInfo", json::object());
    const std::string username = string_at(user, "username");
    std::vector<std::string> groups;
    if (auto g = user.find("groups"); user.is_object() && g != user.end() && g->is_array()) {
        for (const auto& e : *g)
            if (e.is_string()) groups.push_back(e.get<std::string>());
    }
    if (username.empty()) {
        return refuse(std::move(d), 403,
                      "the request carries no username (userInfo): a PoetryApproval needs an "
                      "authenticated approver");
    }
    if (username.size() > kApproverMaxLength) {
        return refuse(std::move(d), 400,
                      "your username is " + std::to_string(username.size()) +
                          " characters long; spec.approver holds at most " +
                          std::to_string(kApproverMaxLength));
    }
    if (groups.size() > kGroupsMaxItems) {
        return refuse(std::move(d), 400,
                      "you are in " + std::to_string(groups.size()) +
                          " groups; spec.groups holds at most " + std::to_string(kGroupsMaxItems));
    }

    const json* object = request->contains("object") ? &(*request)["object"] : nullptr;
    if (!object || !object->is_object() || !object->contains("spec") ||
        !(*object)["spec"].is_object())
        return refuse(std::move(d), 400, "a PoetryApproval needs a spec");
    const json& spec = (*object)["spec"];

    if (auto a = spec.find("approver"); a != spec.end() && !a->is_null()) {
        if (!a->is_string())
            return refuse(std::move(d), 400, "spec.approver must be a string; leave it out");
        const std::string claimed = a->get<std::string>();
        if (!claimed.empty() && claimed != username) {
            return refuse(std::move(d), 403,
                          "spec.approver " + quoted(claimed) + " is not you (" + quoted(username) +
                              "): the admission webhook stamps the approver from the API "
                              "server's identity; leave spec.approver out");
        }
    }
    if (auto g = spec.find("groups"); g != spec.end() && !g->is_null()) {
        std::vector<std::string> claimed;
        bool strings = g->is_array();
        if (strings) {
            for (const auto& e : *g) {
                if (!e.is_string()) {
                    strings = false;
                    break;
                }
                claimed.push_back(e.get<std::string>());
            }
        }
        if (!strings)
            return refuse(std::move(d), 400, "spec.groups must be a list of strings; leave it out");
        const std::set<std::string> mine(groups.begin(), groups.end());
        const std::set<std::string> theirs(claimed.begin(), claimed.end());
        if (!claimed.empty() && mine != theirs) {
            return refuse(std::move(d), 403,
                          "spec.groups " + list(claimed) + " are not your groups " + list(groups) +
                              ": the admission webhook stamps them from the API server's "
                              "identity; leave spec.groups out");
        }
    }
    // "add" replaces a member that is already there (RFC 6902 4.1), so the stamp is the same
    // whether the client wrote its own (matching) identity or none.
    d.patch = json::array({json{{"op", "add"}, {"path", "/spec/approver"}, {"value", username}},
                           json{{"op", "add"}, {"path", "/spec/groups"}, {"value", groups}}});
    d.approver = username;
    return d;
}

json admission_review_response(const ApprovalAdmission& decision) {
    json response{{"uid", decision.uid}, {"allowed", decision.allowed}};
    if (!decision.allowed) {
        response["status"] = {{"code", decision.code}, {"message", decision.message}};
    } else if (decision.patch.is_array() && !decision.patch.empty()) {
        response["patchType"] = "JSONPatch";
        response["patch"] = str::base64_encode(decision.patch.dump());
    }
    return json{{"apiVersion", kReviewApiVersion},
                {"kind", "AdmissionReview"},
                {"response", std::move(response)}};
}

}  // namespace poetryops::api

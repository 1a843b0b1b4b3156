#pragma once
/// The PoetryApproval admission webhook's decision, without I/O: an `admission.k8s.io/v1`
/// AdmissionReview in, the AdmissionReview to answer out. The controller serves it at
/// `POST /admission/poetryapprovals` (`--admission-bind-address`, HTTPS), registered by a
/// MutatingWebhookConfiguration on CREATE of poetryapprovals (the chart's `admission.enabled`).
///
/// On CREATE it stamps `spec.approver` (userInfo.username) and `spec.groups` (userInfo.groups)
/// with a JSONPatch, so who approved is the API server's authenticated identity, not a name the
/// client chose. It refuses (allowed: false, code 403) an object that already carries another
/// approver, or groups other than the requester's: a forged identity is an error the user sees,
/// never silently replaced. Other operations are allowed unchanged (the CRD's CEL rule keeps spec
/// immutable on UPDATE). docs/promotion.md#approvals.

#include <poetryops/util/result.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace poetryops::api {

/// The path the controller serves the webhook on.
inline constexpr std::string_view kApprovalAdmissionPath = "/admission/poetryapprovals";
/// The largest AdmissionReview body the webhook reads (an object, its old object and the request's
/// metadata; a PoetryApproval's spec is a few KiB, annotations at most 256 KiB).
inline constexpr std::size_t kAdmissionMaxBodyBytes = 1u << 20;

/// What the webhook decided about one request.
struct ApprovalAdmission {
    std::string uid;       ///< request.uid, echoed in the response
    bool allowed = true;   ///< false: the API server refuses the request with `message`
    int code = 200;        ///< status.code when refused (403 forged identity, 400 malformed)
    std::string message;   ///< why it was refused; "" when allowed
    nlohmann::json patch;  ///< JSONPatch operations to apply; null when none
    std::string approver;  ///< the identity stamped (for the log); "" when none
};

/// Decides on an AdmissionReview body. Fails (Error::Kind::invalid; the handler answers HTTP 400)
/// when the body is not an `admission.k8s.io/v1` AdmissionReview with a request and its uid: there
/// is then no uid to answer. Everything else is a decision, refused ones included: the wrong
/// resource (the webhook is registered for poetryapprovals.poetryops.io only), an object without
/// spec, no username, a forged approver or groups.
Result<ApprovalAdmission> review_approval_admission(std::string_view body);

/// The AdmissionReview response for `decision`: apiVersion/kind, response.uid and allowed, the
/// base64 JSONPatch (patchType JSONPatch) when allowed with a patch, status.code and message when
/// refused.
nlohmann::json admission_review_response(const ApprovalAdmission& decision);

}  // namespace poetryops::api

#pragma once
/// The typed `poetryops.io/v1alpha1` `PoetryApproval`: one person's approval (or rejection) of one
/// digest for one environment of a PoetryApp in the same namespace. The CRD is
/// crds/poetryops.io_poetryapprovals.yaml; fields are documented in docs/api.md#poetryapproval and
/// how they gate a promotion in docs/promotion.md#approvals.

#include <poetryops/api/enums.hpp>
#include <poetryops/api/poetryapp.hpp>
#include <poetryops/util/result.hpp>

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::api {

inline constexpr std::string_view kApprovalKind = "PoetryApproval";
inline constexpr std::string_view kApprovalPlural = "poetryapprovals";

struct PoetryApprovalSpec {
    std::string app;          ///< the PoetryApp's name (same namespace)
    std::string environment;  ///< one of its environments
    std::string digest;       ///< sha256:<64 hex>
    ApprovalDecision decision = ApprovalDecision::approve;
    std::string reason;   ///< why (required for a rejection)
    std::string comment;  ///< a free note
    /// Who created it: stamped from the request's userInfo by the admission webhook (which refuses
    /// any other value). Without the webhook it is whatever the client wrote: not trusted.
    std::string approver;
    std::vector<std::string> groups;  ///< the creator's groups, stamped with `approver`
};

struct PoetryApproval {
    ObjectMeta metadata;
    PoetryApprovalSpec spec;
    std::optional<std::chrono::system_clock::time_point> created;  ///< creationTimestamp
    /// The field manager that wrote spec at creation (metadata.managedFields): the weak identity
    /// used when no admission webhook stamps `approver`. "" when the object carries none.
    std::string manager;
};

/// Decodes and checks a PoetryApproval object (the API server has applied the CRD's schema, but a
/// hand-edited or older object may still be wrong): app, environment and a sha256 digest are
/// required, a rejection needs a reason. The error (Error::Kind::invalid) names the object and the
/// field.
Result<PoetryApproval> load_poetryapproval(const nlohmann::json& object);

/// The record the promotion engine reads: `trust_approver` when the controller's admission webhook
/// stamps spec.approver (source webhook), else the approver is the creating field manager (source
/// managedFields, a weak identity; spec.approver and spec.groups are ignored: anyone could have
/// written them).
ApprovalRecord approval_record(const PoetryApproval& approval, bool trust_approver);

/// The object `kubectl poetryops approve|reject` creates (apiVersion, kind, metadata.name and
/// namespace, spec without approver/groups: the webhook stamps those).
nlohmann::json encode_poetryapproval(const PoetryApproval& approval);

}  // namespace poetryops::api

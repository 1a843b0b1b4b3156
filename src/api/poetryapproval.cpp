#include <poetryops/api/poetryapproval.hpp>

#include "api/detail/json_reader.hpp"

#include <poetryops/api/validation.hpp>
#include <poetryops/oci/grammar.hpp>

#include <nlohmann/json.hpp>

namespace poetryops::api {

using detail::JsonReader;
using nlohmann::json;

namespace {

/// The manager that first wrote spec: the managedFields entry that owns f:spec with the oldest
/// time (the creating request), else the first entry.
std::string creating_manager(const json& metadata) {
    const json* mf = JsonReader::member(metadata, "managedFields");
    if (!mf || !mf->is_array() || mf->empty()) return {};
    std::string best, best_time;
    for (const auto& e : *mf) {
        if (!e.is_object() || !e.contains("manager") || !e["manager"].is_string()) continue;
        const bool owns_spec =
            e.contains("fieldsV1") && e["fieldsV1"].is_object() && e["fieldsV1"].contains("f:spec");
        if (!owns_spec) continue;
        std::string t = e.value("time", std::string());
        if (best.empty() || (!t.empty() && t < best_time)) {
            best = e["manager"].get<std::string>();
            best_time = t;
        }
    }
    if (best.empty() && (*mf)[0].is_object()) best = (*mf)[0].value("manager", std::string());
    return best;
}

}  // namespace

Result<PoetryApproval> load_poetryapproval(const json& object) {
    std::vector<FieldError> errors;
    JsonReader r(errors);
    PoetryApproval a;
    if (!object.is_object())
        return fail(Error::Kind::invalid, "a PoetryApproval must be an object");
    if (const json* m = r.object(object, "metadata", "")) {
        r.string(*m, "name", "metadata", a.metadata.name);
        r.string(*m, "namespace", "metadata", a.metadata.namespace_);
        r.string(*m, "uid", "metadata", a.metadata.uid);
        r.string(*m, "resourceVersion", "metadata", a.metadata.resource_version);
        r.string_map(*m, "labels", "metadata", a.metadata.labels);
        r.time(*m, "creationTimestamp", "metadata", a.created);
        a.manager = creating_manager(*m);
    }
    if (const json* s = r.object(object, "spec", "")) {
        r.string(*s, "app", "spec", a.spec.app);
        r.string(*s, "environment", "spec", a.spec.environment);
        r.string(*s, "digest", "spec", a.spec.digest);
        r.enumeration(*s, "decision", "spec", a.spec.decision);
        r.string(*s, "reason", "spec", a.spec.reason);
        r.string(*s, "comment", "spec", a.spec.comment);
        r.string(*s, "approver", "spec", a.spec.approver);
        r.strings(*s, "groups", "spec", a.spec.groups);
        if (a.spec.app.empty()) r.error("spec.app", "is required");
        if (a.spec.environment.empty()) r.error("spec.environment", "is required");
        if (!oci::is_valid_digest(a.spec.digest) || a.spec.digest.rfind("sha256:", 0) != 0)
            r.error("spec.digest", "must be sha256:<64 hex>, not \"" + a.spec.digest + "\"");
        if (a.spec.decision == ApprovalDecision::reject && a.spec.reason.empty())
            r.error("spec.reason", "is required for a rejection");
    } else {
        r.error("spec", "is required");
    }
    if (!errors.empty()) {
        std::string who =
            a.metadata.name.empty()
                ? std::string(kApprovalKind)
                : std::string(kApprovalKind) + " " + a.metadata.namespace_ + "/" + a.metadata.name;
        return fail(Error::Kind::invalid, who + ": " + join_errors(errors),
                    std::string(kReasonInvalidSpec));
    }
    return a;
}

ApprovalRecord approval_record(const PoetryApproval& approval, bool trust_approver) {
    ApprovalRecord r;
    r.name = approval.metadata.name;
    r.digest = approval.spec.digest;
    r.decision = approval.spec.decision;
    r.reason = approval.spec.reason;
    r.time = approval.created;
    if (trust_approver && !approval.spec.approver.empty()) {
        r.approver = approval.spec.approver;
        r.groups = approval.spec.groups;
        r.source = IdentitySource::webhook;
    } else {
        r.approver = approval.manager;
        r.source = IdentitySource::managed_fields;
    }
    return r;
}

json encode_poetryapproval(const PoetryApproval& approval) {
    json spec{{"app", approval.spec.app},
              {"environment", approval.spec.environment},
              {"digest", approval.spec.digest},
              {"decision", to_string(approval.spec.decision)}};
    if (!approval.spec.reason.empty()) spec["reason"] = approval.spec.reason;
    if (!approval.spec.comment.empty()) spec["comment"] = approval.spec.comment;
    json metadata{{"name", approval.metadata.name}};
    if (!approval.metadata.namespace_.empty()) metadata["namespace"] = approval.metadata.namespace_;
    if (!approval.metadata.labels.empty()) metadata["labels"] = approval.metadata.labels;
    return json{{"apiVersion", kApiVersion},
                {"kind", kApprovalKind},
                {"metadata", std::move(metadata)},
                {"spec", std::move(spec)}};
}

}  // namespace poetryops::api

// PATCH for the fake store: merge patch, JSON patch, strategic merge (as merge) and server-side
// apply.
#include "kube/fake_store.hpp"

namespace poetryops::kube::fake {

StoreResult Store::patch(const ResourceType& t, const std::string& ns, const std::string& name,
                         const std::string& content_type, const std::string& body,
                         const std::string& field_manager, bool status_only) {
    std::string ctype = content_type.substr(0, content_type.find(';'));
    auto doc = nlohmann::json::parse(body, nullptr, false);
    if (doc.is_discarded()) {
        // apply-patch+yaml may be YAML; clients of this fake send JSON (valid YAML).
        return error_result(400, "BadRequest", "the patch body is not JSON");
    }
    bool apply = ctype == "application/apply-patch+yaml";
    if (apply && field_manager.empty()) {
        return error_result(400, "BadRequest",
                            "PATCH requests with apply patch type require a fieldManager");
    }
    if (ctype != "application/merge-patch+json" && ctype != "application/json-patch+json" &&
        ctype != "application/strategic-merge-patch+json" && !apply) {
        return error_result(415, "UnsupportedMediaType",
                            "the body of the request was in an unknown format - "
                            "accepted media types include: application/json-patch+json, "
                            "application/merge-patch+json, application/apply-patch+yaml");
    }
    std::shared_ptr<const nlohmann::json> prev;
    {
        std::lock_guard lock(mu_);
        auto& objs = objects_[type_key(t)];
        auto it = objs.find(ns.empty() ? name : ns + "/" + name);
        if (it != objs.end()) prev = it->second;
    }
    if (!prev) {
        if (!apply)
            return error_result(404, "NotFound", t.gvr.resource + " \"" + name + "\" not found");
        if (!doc.is_object())
            return error_result(400, "BadRequest", "an apply patch must be an object");
        doc["metadata"]["name"] = name;
        return create(t, ns, std::move(doc));
    }
    nlohmann::json next = *prev;
    try {
        if (ctype == "application/json-patch+json") {
            if (!doc.is_array())
                return error_result(400, "BadRequest",
                                    "a JSON patch must be an array of operations");
            next = prev->patch(doc);
        } else {
            if (!doc.is_object())
                return error_result(400, "BadRequest", "a merge patch must be an object");
            next.merge_patch(doc);
        }
    } catch (const nlohmann::json::exception& e) {
        return error_result(422, "Invalid",
                            "the patch could not be applied: " + std::string(e.what()));
    }
    if (!next.is_object()) return error_result(422, "Invalid", "the patch produced a non-object");
    // A resourceVersion in the patch is a precondition; otherwise the patch applies to the current
    // version.
    std::string patch_rv;
    if (doc.is_object() && doc.contains("metadata") && doc["metadata"].is_object()) {
        patch_rv = doc["metadata"].value("resourceVersion", "");
    }
    if (patch_rv.empty())
        next["metadata"]["resourceVersion"] = (*prev)["metadata"].value("resourceVersion", "");
    StoreResult r = update(t, ns, name, std::move(next), status_only);
    if (r.status == 409 && patch_rv.empty()) {
        // Raced with another writer between our read and write: retry once on the new version (the
        // server does this internally for patches without a precondition).
        return patch(t, ns, name, content_type, body, field_manager, status_only);
    }
    return r;
}

}  // namespace poetryops::kube::fake

#include "kube/fake_store.hpp"

#include <poetryops/util/clock.hpp>
#include <poetryops/util/strings.hpp>

#include <algorithm>
#include <cstdio>

namespace poetryops::kube::fake {
namespace {

std::string meta_str(const nlohmann::json& o, const char* key) {
    if (!o.is_object()) return {};
    auto md = o.find("metadata");
    if (md == o.end() || !md->is_object()) return {};
    auto it = md->find(key);
    return it != md->end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string obj_key(const std::string& ns, const std::string& name) {
    return ns.empty() ? name : ns + "/" + name;
}

std::string resource_label(const ResourceType& t) {
    return t.gvr.group.empty() ? t.gvr.resource : t.gvr.resource + "." + t.gvr.group;
}

/// Everything outside metadata and status: what `generation` tracks.
nlohmann::json spec_part(const nlohmann::json& o) {
    nlohmann::json s = o;
    s.erase("metadata");
    s.erase("status");
    s.erase("apiVersion");
    s.erase("kind");
    return s;
}

nlohmann::json make_list(const ResourceType& t, std::int64_t rv) {
    return {{"apiVersion", t.gvr.api_version()},
            {"kind", t.kind + "List"},
            {"metadata", {{"resourceVersion", std::to_string(rv)}}},
            {"items", nlohmann::json::array()}};
}

}  // namespace

nlohmann::json status_body(int code, const std::string& reason, const std::string& message) {
    return {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", nlohmann::json::object()},
            {"status", "Failure"}, {"message", message}, {"reason", reason},
            {"code", code}};
}

StoreResult error_result(int code, const std::string& reason, const std::string& message) {
    return {code, status_body(code, reason, message)};
}

bool Selectors::matches(const nlohmann::json& o) const {
    if (!field_name.empty() && meta_str(o, "name") != field_name) return false;
    if (!field_namespace.empty() && meta_str(o, "namespace") != field_namespace) return false;
    return labels.matches(o);
}

Result<Selectors> parse_selectors(const std::string& label_selector,
                                  const std::string& field_selector) {
    Selectors s;
    POETRYOPS_TRY(s.labels, LabelSelector::parse(label_selector));
    for (const auto& part : str::split_nonempty(field_selector, ',')) {
        auto eq = part.find('=');
        std::string k = part.substr(0, eq == std::string::npos ? part.size() : eq);
        std::string v = eq == std::string::npos ? "" : part.substr(eq + 1);
        if (!v.empty() && v[0] == '=') v = v.substr(1);
        if (k == "metadata.name")
            s.field_name = v;
        else if (k == "metadata.namespace")
            s.field_namespace = v;
        else
            return fail(Error::make(Error::Kind::invalid, "field label not supported: " + k));
    }
    return s;
}

Store::Store(std::size_t history) : history_limit_(std::max<std::size_t>(history, 1)) {
    auto reg = [&](const char* g, const char* v, const char* plural, const char* kind, bool cluster,
                   bool status) {
        ResourceType t{ResourceRef(g, v, plural, cluster), kind, status};
        types_[type_key(t)] = t;
    };
    reg("", "v1", "namespaces", "Namespace", true, true);
    reg("", "v1", "events", "Event", false, false);
    reg("", "v1", "configmaps", "ConfigMap", false, false);
    reg("", "v1", "secrets", "Secret", false, false);
    reg("", "v1", "pods", "Pod", false, true);
    reg("", "v1", "services", "Service", false, true);
    reg("", "v1", "serviceaccounts", "ServiceAccount", false, false);
    reg("coordination.k8s.io", "v1", "leases", "Lease", false, false);
    reg("events.k8s.io", "v1", "events", "Event", false, false);
    reg("batch", "v1", "jobs", "Job", false, true);
    reg("apps", "v1", "deployments", "Deployment", false, true);
    reg("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", true,
        true);
    for (const char* ns : {"default", "kube-system"}) {
        auto t = *find_type("", "namespaces");
        nlohmann::json obj = {
            {"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}};
        std::lock_guard lock(mu_);
        write_locked(t, "", ns, obj, nullptr, false);
    }
}

void Store::register_type(ResourceType type) {
    std::lock_guard lock(mu_);
    types_[type_key(type)] = std::move(type);
}

std::optional<ResourceType> Store::find_type(const std::string& group,
                                             const std::string& plural) const {
    std::lock_guard lock(mu_);
    auto it = types_.find(group + "/" + plural);
    if (it == types_.end()) return std::nullopt;
    return it->second;
}

bool Store::namespace_exists_locked(const std::string& ns) const {
    auto it = objects_.find("/namespaces");
    return it != objects_.end() && it->second.count(ns) != 0;
}

void Store::on_crd_locked(const nlohmann::json& crd) {
    try {
        const auto& spec = crd.at("spec");
        ResourceType t;
        t.gvr.group = spec.at("group").get<std::string>();
        t.gvr.resource = spec.at("names").at("plural").get<std::string>();
        t.kind = spec.at("names").at("kind").get<std::string>();
        t.gvr.cluster_scoped = spec.value("scope", "Namespaced") == "Cluster";
        for (const auto& v : spec.value("versions", nlohmann::json::array())) {
            if (v.value("storage", false) || t.gvr.version.empty())
                t.gvr.version = v.value("name", "");
            if (v.contains("subresources") && v["subresources"].contains("status"))
                t.status_subresource = true;
        }
        types_[type_key(t)] = t;
    } catch (const nlohmann::json::exception&) {
        // A malformed CRD registers nothing; the create itself still succeeds (no schema validation
        // here).
    }
}

void Store::record_locked(const ResourceType& t, const std::string& ns, const char* type,
                          nlohmann::json object) {
    auto ev = std::make_shared<HistoryEvent>();
    ev->rv = rv_;
    ev->type_key = type_key(t);
    ev->ns = ns;
    ev->type = type;
    ev->line = nlohmann::json{{"type", type}, {"object", object}}.dump() + "\n";
    ev->object = std::make_shared<const nlohmann::json>(std::move(object));
    history_.push_back(std::move(ev));
    while (history_.size() > history_limit_) {
        oldest_rv_ = history_.front()->rv;
        history_.pop_front();
    }
    cv_.notify_all();
}

StoreResult Store::get(const ResourceType& t, const std::string& ns,
                       const std::string& name) const {
    std::lock_guard lock(mu_);
    auto tk = objects_.find(type_key(t));
    if (tk != objects_.end()) {
        auto it = tk->second.find(obj_key(ns, name));
        if (it != tk->second.end()) return {200, *it->second};
    }
    return error_result(404, "NotFound", resource_label(t) + " \"" + name + "\" not found");
}

StoreResult Store::list(const ResourceType& t, const std::string& ns, const Selectors& sel,
                        std::int64_t limit, const std::string& continue_token) const {
    std::lock_guard lock(mu_);
    std::string start_after;
    if (!continue_token.empty()) {
        std::string decoded;
        nlohmann::json tok;
        if (str::base64_decode(continue_token, decoded))
            tok = nlohmann::json::parse(decoded, nullptr, false);
        if (!tok.is_object() || !tok.contains("rv") || !tok.contains("start")) {
            return error_result(400, "BadRequest", "continue key is not valid");
        }
        if (tok["rv"].get<std::int64_t>() < oldest_rv_) {
            return error_result(
                410, "Expired",
                "The provided continue parameter is too old to display a consistent list result. "
                "You can start a new list without the continue parameter.");
        }
        start_after = tok["start"].get<std::string>();
    }
    nlohmann::json out = make_list(t, rv_);
    auto& items = out["items"];
    auto tk = objects_.find(type_key(t));
    if (tk == objects_.end()) return {200, out};
    const auto& objs = tk->second;
    auto it = start_after.empty() ? objs.begin() : objs.upper_bound(start_after);
    std::string last;
    for (; it != objs.end(); ++it) {
        if (!ns.empty() && it->first.compare(0, ns.size() + 1, ns + "/") != 0) continue;
        if (!sel.matches(*it->second)) continue;
        if (limit > 0 && static_cast<std::int64_t>(items.size()) >= limit) {
            nlohmann::json tok = {{"rv", rv_}, {"start", last}};
            out["metadata"]["continue"] = str::base64_encode(tok.dump());
            break;
        }
        // Like a real API server's built-in lists: items without apiVersion and kind (the list
        // carries them).
        nlohmann::json item = *it->second;
        item.erase("apiVersion");
        item.erase("kind");
        items.push_back(std::move(item));
        last = it->first;
    }
    return {200, std::move(out)};
}

StoreResult Store::write_locked(const ResourceType& t, const std::string& ns,
                                const std::string& name, nlohmann::json next,
                                const nlohmann::json* prev, bool status_only) {
    auto& md = next["metadata"];
    if (!md.is_object()) md = nlohmann::json::object();
    md["name"] = name;
    if (!t.gvr.cluster_scoped) md["namespace"] = ns;
    next["apiVersion"] = t.gvr.api_version();
    next["kind"] = t.kind;
    if (prev == nullptr) {
        char uid[40];
        std::snprintf(uid, sizeof uid, "00000000-0000-4000-8000-%012llx",
                      static_cast<unsigned long long>(++uid_seq_));
        md["uid"] = uid;
        md["creationTimestamp"] = format_rfc3339(SystemClock::instance().now());
        md["generation"] = 1;
        md.erase("deletionTimestamp");
        if (t.status_subresource) next.erase("status");
    } else {
        const auto& pmd = (*prev)["metadata"];
        for (const char* k : {"uid", "creationTimestamp", "generation", "deletionTimestamp"}) {
            if (pmd.contains(k))
                md[k] = pmd[k];
            else
                md.erase(k);
        }
        if (status_only) {
            // The status subresource changes status only (and nothing of metadata but what the
            // server sets).
            nlohmann::json merged = *prev;
            if (next.contains("status"))
                merged["status"] = next["status"];
            else
                merged.erase("status");
            next = std::move(merged);
        } else if (t.status_subresource) {
            if (prev->contains("status"))
                next["status"] = (*prev)["status"];
            else
                next.erase("status");
        }
        nlohmann::json pcopy = *prev;
        pcopy["metadata"].erase("resourceVersion");
        nlohmann::json ncopy = next;
        ncopy["metadata"].erase("resourceVersion");
        if (pcopy == ncopy) return {200, *prev};  // no-op: no new resourceVersion, no event
        bool spec_changed = t.status_subresource ? spec_part(*prev) != spec_part(next) : [&] {
            nlohmann::json a = *prev, b = next;
            a.erase("metadata");
            b.erase("metadata");
            return a != b;
        }();
        if (spec_changed && !status_only) {
            next["metadata"]["generation"] = pmd.value("generation", 1) + 1;
        }
    }
    ++rv_;
    next["metadata"]["resourceVersion"] = std::to_string(rv_);
    // Finalizers removed from an object being deleted: it goes now.
    bool deleting = next["metadata"].contains("deletionTimestamp");
    bool finalizers =
        next["metadata"].contains("finalizers") && !next["metadata"]["finalizers"].empty();
    auto& objs = objects_[type_key(t)];
    if (prev != nullptr && deleting && !finalizers) {
        objs.erase(obj_key(ns, name));
        record_locked(t, ns, "DELETED", next);
        return {200, next};
    }
    objs[obj_key(ns, name)] = std::make_shared<const nlohmann::json>(next);
    record_locked(t, ns, prev == nullptr ? "ADDED" : "MODIFIED", next);
    if (t.gvr.resource == "customresourcedefinitions" && t.gvr.group == "apiextensions.k8s.io")
        on_crd_locked(next);
    return {prev == nullptr ? 201 : 200, std::move(next)};
}

StoreResult Store::create(const ResourceType& t, const std::string& ns, nlohmann::json body) {
    if (!body.is_object()) return error_result(400, "BadRequest", "the body must be a JSON object");
    std::string name = meta_str(body, "name");
    std::lock_guard lock(mu_);
    if (name.empty()) {
        std::string gen = meta_str(body, "generateName");
        if (gen.empty()) {
            return error_result(422, "Invalid",
                                t.kind +
                                    " \"\" is invalid: metadata.name: Required value: name or "
                                    "generateName is required");
        }
        char suffix[8];
        std::snprintf(suffix, sizeof suffix, "%05llx",
                      static_cast<unsigned long long>((rv_ * 7919) % 0xfffff));
        name = gen + suffix;
    }
    std::string body_ns = meta_str(body, "namespace");
    if (!t.gvr.cluster_scoped && !body_ns.empty() && body_ns != ns) {
        return error_result(400, "BadRequest",
                            "the namespace of the provided object does not match the namespace "
                            "sent on the request");
    }
    if (!t.gvr.cluster_scoped && !namespace_exists_locked(ns)) {
        return error_result(404, "NotFound", "namespaces \"" + ns + "\" not found");
    }
    auto& objs = objects_[type_key(t)];
    if (objs.count(obj_key(ns, name)) != 0) {
        return error_result(409, "AlreadyExists",
                            resource_label(t) + " \"" + name + "\" already exists");
    }
    body["metadata"].erase("resourceVersion");
    return write_locked(t, ns, name, std::move(body), nullptr, false);
}

StoreResult Store::update(const ResourceType& t, const std::string& ns, const std::string& name,
                          nlohmann::json body, bool status_only) {
    if (!body.is_object()) return error_result(400, "BadRequest", "the body must be a JSON object");
    std::string body_name = meta_str(body, "name");
    if (!body_name.empty() && body_name != name) {
        return error_result(400, "BadRequest",
                            "the name of the object (" + body_name +
                                ") does not match the name on the URL (" + name + ")");
    }
    std::lock_guard lock(mu_);
    auto& objs = objects_[type_key(t)];
    auto it = objs.find(obj_key(ns, name));
    if (it == objs.end())
        return error_result(404, "NotFound", resource_label(t) + " \"" + name + "\" not found");
    std::shared_ptr<const nlohmann::json> prev = it->second;
    std::string rv = meta_str(body, "resourceVersion");
    if (!rv.empty() && rv != meta_str(*prev, "resourceVersion")) {
        return error_result(
            409, "Conflict",
            "Operation cannot be fulfilled on " + resource_label(t) + " \"" + name +
                "\": the object has been modified; please apply your changes to the "
                "latest version and try again");
    }
    return write_locked(t, ns, name, std::move(body), prev.get(), status_only);
}

StoreResult Store::remove(const ResourceType& t, const std::string& ns, const std::string& name,
                          const std::string& precondition_rv) {
    std::lock_guard lock(mu_);
    auto& objs = objects_[type_key(t)];
    auto it = objs.find(obj_key(ns, name));
    if (it == objs.end())
        return error_result(404, "NotFound", resource_label(t) + " \"" + name + "\" not found");
    std::shared_ptr<const nlohmann::json> prev = it->second;
    if (!precondition_rv.empty() && precondition_rv != meta_str(*prev, "resourceVersion")) {
        return error_result(409, "Conflict", "Precondition failed: resourceVersion does not match");
    }
    const auto& md = (*prev)["metadata"];
    if (md.contains("finalizers") && !md["finalizers"].empty()) {
        if (md.contains("deletionTimestamp")) return {200, *prev};
        nlohmann::json next = *prev;
        next["metadata"]["deletionTimestamp"] = format_rfc3339(SystemClock::instance().now());
        ++rv_;
        next["metadata"]["resourceVersion"] = std::to_string(rv_);
        it->second = std::make_shared<const nlohmann::json>(next);
        record_locked(t, ns, "MODIFIED", next);
        return {200, next};
    }
    nlohmann::json gone = *prev;
    objs.erase(it);
    ++rv_;
    gone["metadata"]["resourceVersion"] = std::to_string(rv_);
    record_locked(t, ns, "DELETED", gone);
    return {200, gone};
}

std::vector<std::shared_ptr<const HistoryEvent>> Store::events_after_locked(
    std::int64_t after, const std::string& key, const std::string& ns) const {
    std::vector<std::shared_ptr<const HistoryEvent>> out;
    auto it = std::upper_bound(
        history_.begin(), history_.end(), after,
        [](std::int64_t v, const std::shared_ptr<const HistoryEvent>& e) { return v < e->rv; });
    for (; it != history_.end(); ++it) {
        if ((*it)->type_key != key) continue;
        if (!ns.empty() && (*it)->ns != ns) continue;
        out.push_back(*it);
    }
    return out;
}

std::vector<std::shared_ptr<const nlohmann::json>> Store::snapshot_locked(
    const std::string& key, const std::string& ns) const {
    std::vector<std::shared_ptr<const nlohmann::json>> out;
    auto tk = objects_.find(key);
    if (tk == objects_.end()) return out;
    for (const auto& [k, v] : tk->second) {
        if (!ns.empty() && k.compare(0, ns.size() + 1, ns + "/") != 0) continue;
        out.push_back(v);
    }
    return out;
}

void Store::expire() {
    std::lock_guard lock(mu_);
    history_.clear();
    ++rv_;  // resourceVersions may skip; every version seen so far is now too old, a fresh list's
            // is not
    oldest_rv_ = rv_;
    cv_.notify_all();
}

std::int64_t Store::rv() const {
    std::lock_guard lock(mu_);
    return rv_;
}

std::size_t Store::count(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = objects_.find(key);
    return it == objects_.end() ? 0 : it->second.size();
}

}  // namespace poetryops::kube::fake

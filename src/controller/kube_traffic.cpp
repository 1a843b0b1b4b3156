#include <poetryops/controller/kube_traffic.hpp>

#include <poetryops/kube/status.hpp>
#include <poetryops/manifest/read.hpp>

#include <nlohmann/json.hpp>

#include <optional>

namespace poetryops::controller {

using nlohmann::json;

namespace {

constexpr int kAttempts = 3;

const char* route_kind(manifest::TrafficKind kind) {
    switch (kind) {
        case manifest::TrafficKind::gateway_api: return "HTTPRoute";
        case manifest::TrafficKind::istio: return "VirtualService";
        case manifest::TrafficKind::nginx: return "Ingress";
        case manifest::TrafficKind::smi: return "TrafficSplit";
        case manifest::TrafficKind::traefik: return "TraefikService";
    }
    return "?";
}

// The list holding the weights, as a managedFields path and as a field for messages.
struct WeightList {
    std::vector<std::string> path;
    std::string field;
};

WeightList weight_list(manifest::TrafficKind kind) {
    switch (kind) {
        case manifest::TrafficKind::gateway_api: return {{"f:spec", "f:rules"}, "spec.rules"};
        case manifest::TrafficKind::istio: return {{"f:spec", "f:http"}, "spec.http"};
        case manifest::TrafficKind::smi: return {{"f:spec", "f:backends"}, "spec.backends"};
        case manifest::TrafficKind::traefik:
            return {{"f:spec", "f:weighted", "f:services"}, "spec.weighted.services"};
        case manifest::TrafficKind::nginx: break;
    }
    return {{"f:metadata", "f:annotations", "f:nginx.ingress.kubernetes.io/canary-weight"},
            "metadata.annotations[nginx.ingress.kubernetes.io/canary-weight]"};
}

struct Route {
    kube::ResourceRef ref;
    std::string what;  // "HTTPRoute team-a/billing"
};

Route route_of(const api::CanarySpec& canary, const std::string& ns) {
    Route r;
    r.ref = traffic_route_resource(canary.traffic.kind).in(ns).named(canary.traffic.route);
    r.what = std::string(route_kind(canary.traffic.kind)) + " " + ns + "/" + canary.traffic.route;
    return r;
}

// The manifest module's messages start with "line N: " and name the route by its name; the live
// object has no lines, and the message says which object it is.
Error about(const Route& r, const api::CanarySpec& canary, Error e) {
    std::string m = e.message;
    if (m.rfind("line ", 0) == 0) {
        auto colon = m.find(": ");
        if (colon != std::string::npos) m = m.substr(colon + 2);
    }
    const std::string named =
        std::string(route_kind(canary.traffic.kind)) + " " + canary.traffic.route + ": ";
    if (m.rfind(named, 0) == 0) m = m.substr(named.size());
    e.message = r.what + ": " + m;
    return e;
}

// The object as YAML text for the manifest module (JSON is YAML), without what it never reads.
std::string route_text(json object) {
    if (object.contains("metadata")) object["metadata"].erase("managedFields");
    object.erase("status");
    return object.dump(2);
}

std::vector<std::string> backends_of(const api::CanarySpec& canary) {
    return {canary.traffic.stable, canary.traffic.canary};
}

Result<std::vector<manifest::BackendWeight>> weights_in(const Route& r, const std::string& text,
                                                        const api::CanarySpec& canary) {
    auto read = manifest::read_weights(text, canary.traffic.kind, backends_of(canary),
                                       canary.traffic.route);
    if (!read) return about(r, canary, read.error());
    if (!*read) {
        return fail(Error::Kind::not_found,
                    r.what + ": not a " + route_kind(canary.traffic.kind) + " named " +
                        canary.traffic.route,
                    "RouteNotFound");
    }
    return std::move(**read);
}

Result<json> get_route(kube::KubeClient& client, const Route& r) {
    auto object = client.get(r.ref);
    if (!object && kube::is_not_found(object.error())) {
        Error e = object.error();
        e.message = r.what + " not found (" + e.message + ")";
        e.reason = "RouteNotFound";
        return e;
    }
    return object;
}

std::string format_weights(const std::vector<manifest::BackendWeight>& weights) {
    std::string out;
    for (const auto& w : weights)
        out += (out.empty() ? "" : ",") + w.name + "=" + std::to_string(w.weight);
    return out;
}

// "billing=75,billing-canary=25" → the weights, nullopt when it does not parse.
std::optional<std::vector<manifest::BackendWeight>> parse_weights(const std::string& text) {
    std::vector<manifest::BackendWeight> out;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t comma = text.find(',', start);
        std::string item =
            text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        auto eq = item.find('=');
        if (eq == std::string::npos || eq == 0) return std::nullopt;
        try {
            std::size_t used = 0;
            int w = std::stoi(item.substr(eq + 1), &used);
            if (used != item.size() - eq - 1) return std::nullopt;
            out.push_back({item.substr(0, eq), w});
        } catch (...) {
            return std::nullopt;
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

bool same_weights(const std::vector<manifest::BackendWeight>& a,
                  const std::vector<manifest::BackendWeight>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].name != b[i].name || a[i].weight != b[i].weight) return false;
    }
    return true;
}

// The entries of metadata.managedFields, or nullptr.
const json* managed_fields(const json& object) {
    if (auto m = object.find("metadata"); m != object.end() && m->is_object()) {
        if (auto f = m->find("managedFields"); f != m->end() && f->is_array()) return &*f;
    }
    return nullptr;
}

// True when a managedFields entry owns the field at `path` (its fieldsV1 holds it).
bool owns(const json& entry, const std::vector<std::string>& path) {
    const json* node = entry.contains("fieldsV1") ? &entry["fieldsV1"] : nullptr;
    for (const auto& key : path) {
        if (!node || !node->is_object() || !node->contains(key)) return false;
        node = &(*node)[key];
    }
    return node != nullptr;
}

// The manager (other than poetryops) that last wrote the field at `path` of metadata.managedFields,
// e.g. "flagger (Update at 2026-03-01T05:00:00Z)"; "" when none is recorded.
std::string last_other_manager(const json& object, const std::vector<std::string>& path) {
    std::string who, when;
    const json* fields = managed_fields(object);
    if (!fields) return {};
    for (const auto& entry : *fields) {
        std::string manager = entry.value("manager", "");
        if (manager == kTrafficFieldManager || !owns(entry, path)) continue;
        std::string time = entry.value("time", "");
        if (who.empty() || time > when) {  // RFC 3339 UTC times order as strings
            who = manager;
            when = time;
            who += " (" + entry.value("operation", std::string("?")) +
                   (time.empty() ? "" : " at " + time) + ")";
        }
    }
    return who;
}

// One reference token of an RFC 6901 pointer.
std::string pointer_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '~') {
            out += "~0";
        } else if (c == '/') {
            out += "~1";
        } else {
            out += c;
        }
    }
    return out;
}

// An RFC 6901 pointer from an edit's field ("spec.rules[2].backendRefs[1].weight",
// "metadata.annotations.nginx.ingress.kubernetes.io/canary-weight").
std::string pointer_of(const std::string& field) {
    const std::string annotations = "metadata.annotations.";
    if (field.rfind(annotations, 0) == 0)
        return "/metadata/annotations/" + pointer_escape(field.substr(annotations.size()));
    std::string out;
    for (char c : field) {
        if (c == '.' || c == '[') {
            out += '/';
        } else if (c != ']') {
            out += c;
        }
    }
    return "/" + out;
}

// The weights recorded in the annotation poetryops.io/weights, when it holds some.
std::optional<std::vector<manifest::BackendWeight>> recorded_weights(const json& object) {
    const json* annotations = nullptr;
    if (auto m = object.find("metadata"); m != object.end() && m->is_object()) {
        if (auto a = m->find("annotations"); a != m->end() && a->is_object()) annotations = &*a;
    }
    if (!annotations) return std::nullopt;
    auto it = annotations->find(std::string(kWeightsAnnotation));
    if (it == annotations->end() || !it->is_string()) return std::nullopt;
    return parse_weights(it->get<std::string>());
}

// True when field manager `manager` owns the field at `path` (metadata.managedFields).
bool managed_by(const json& object, std::string_view manager,
                const std::vector<std::string>& path) {
    const json* fields = managed_fields(object);
    if (!fields) return false;
    for (const auto& entry : *fields) {
        if (entry.value("manager", "") == manager && owns(entry, path)) return true;
    }
    return false;
}

Result<void> set_by_json_patch(kube::KubeClient& client, const Route& r,
                               const api::CanarySpec& canary,
                               const std::vector<manifest::BackendWeight>& want) {
    const WeightList list = weight_list(canary.traffic.kind);
    Error last;
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        POETRYOPS_TRY(json object, get_route(client, r));
        const std::string text = route_text(object);
        POETRYOPS_TRY(auto current, weights_in(r, text, canary));
        const json& meta = object["metadata"];
        const bool has_annotations =
            meta.contains("annotations") && meta["annotations"].is_object();
        std::optional<std::vector<manifest::BackendWeight>> recorded = recorded_weights(object);
        // Weights poetryops wrote that are no longer there: someone else wrote them since.
        if (recorded && recorded->size() == current.size() && !same_weights(*recorded, current)) {
            bool ours = true;
            for (std::size_t i = 0; i < current.size(); ++i)
                ours = ours && (*recorded)[i].name == current[i].name;
            if (ours) {
                std::string who = last_other_manager(object, list.path);
                return fail(Error::Kind::conflict,
                            r.what + ": " + list.field + " was changed by " +
                                (who.empty() ? "another manager" : "manager " + who) +
                                " since poetryops set the weights " + format_weights(*recorded) +
                                "; they are now " + format_weights(current) +
                                ". poetryops does not overwrite another manager's weights "
                                "(never forced): resolve it, or let that manager stop writing them",
                            "WeightsConflict");
            }
        }
        if (same_weights(current, want) && recorded && same_weights(*recorded, want)) return ok();

        auto edit = manifest::set_weights(text, canary.traffic.kind, want, canary.traffic.route);
        if (!edit) return about(r, canary, edit.error());
        json ops = json::array();
        ops.push_back({{"op", "test"},
                       {"path", "/metadata/resourceVersion"},
                       {"value", meta.value("resourceVersion", "")}});
        for (const auto& change : edit->changes) {
            std::string ptr = pointer_of(change.field);
            // Only weights, ever: a change elsewhere would be a bug in the editor; refuse it.
            if (ptr.size() < 7 || ptr.compare(ptr.size() - 7, 7, "/weight") != 0) {
                return fail(
                    Error::Kind::internal,
                    r.what + ": refusing to patch " + change.field + ", which is not a weight",
                    "NotAWeight");
            }
            int value = std::stoi(change.new_value);
            json::json_pointer jp(ptr);
            if (object.contains(jp)) {
                ops.push_back({{"op", "test"}, {"path", ptr}, {"value", object[jp]}});
                ops.push_back({{"op", "replace"}, {"path", ptr}, {"value", value}});
            } else {
                ops.push_back({{"op", "add"}, {"path", ptr}, {"value", value}});
            }
        }
        const std::string record = format_weights(want);
        if (has_annotations) {
            ops.push_back({{"op", "add"},
                           {"path", "/metadata/annotations/" + pointer_escape(kWeightsAnnotation)},
                           {"value", record}});
        } else {
            ops.push_back({{"op", "add"},
                           {"path", "/metadata/annotations"},
                           {"value", json{{std::string(kWeightsAnnotation), record}}}});
        }
        auto patched = client.patch(r.ref, kube::PatchType::json, ops,
                                    {.field_manager = std::string(kTrafficFieldManager)});
        if (patched) return ok();
        last = patched.error();
        // The object changed between the read and the patch: read again. A failed `test` is a 422
        // whose message does not say which operation failed ("the server rejected our request due
        // to an error in our request"), so a 422 counts as a race only when the object's
        // resourceVersion moved. Anything else is the answer.
        bool raced = kube::is_conflict(last);
        if (!raced && kube::is_invalid(last)) {
            auto again = client.get(r.ref);
            raced = again && (*again)["metadata"].value("resourceVersion", "") !=
                                 meta.value("resourceVersion", "");
        }
        if (!raced) {
            last.message = r.what + ": " + last.message;
            return last;
        }
    }
    last.message = r.what + ": changed by someone else while poetryops set its weights, " +
                   std::to_string(kAttempts) + " times in a row: " + last.message;
    return last;
}

Result<void> set_by_apply(kube::KubeClient& client, const Route& r, const api::CanarySpec& canary,
                          const std::vector<manifest::BackendWeight>& want) {
    POETRYOPS_TRY(json object, get_route(client, r));
    const std::string text = route_text(object);
    POETRYOPS_TRY(auto current, weights_in(r, text, canary));
    if (same_weights(current, want)) return ok();
    auto edit = manifest::set_weights(text, canary.traffic.kind, want, canary.traffic.route);
    if (!edit) return about(r, canary, edit.error());
    json annotations = json::object();
    for (const auto& change : edit->changes) {
        const std::string prefix = "metadata.annotations.";
        if (change.field.rfind(prefix, 0) != 0) {
            return fail(Error::Kind::internal,
                        r.what + ": refusing to apply " + change.field + ", which is not a weight",
                        "NotAWeight");
        }
        annotations[change.field.substr(prefix.size())] = change.new_value;
    }
    json patch{{"apiVersion", r.ref.api_version()},
               {"kind", route_kind(canary.traffic.kind)},
               {"metadata",
                {{"name", canary.traffic.route},
                 {"namespace", r.ref.namespace_},
                 {"annotations", std::move(annotations)}}}};
    auto applied = client.apply(r.ref, patch, std::string(kTrafficFieldManager), false);
    if (applied) return ok();
    Error e = applied.error();
    if (kube::is_conflict(e)) {
        // The server names the manager and the field: `Apply failed with 1 conflict: conflict with
        // "kubectl" using networking.k8s.io/v1: .metadata.annotations.…`.
        e.reason = "WeightsConflict";
        e.message = r.what + ": another manager owns the weight (" + e.message +
                    "); poetryops does not force: remove the annotation from that manager's "
                    "manifest, or let it stop writing it";
        return e;
    }
    e.message = r.what + ": " + e.message;
    return e;
}

}  // namespace

kube::ResourceRef traffic_route_resource(manifest::TrafficKind kind) {
    switch (kind) {
        case manifest::TrafficKind::gateway_api:
            return {"gateway.networking.k8s.io", "v1", "httproutes"};
        case manifest::TrafficKind::istio:
            return {"networking.istio.io", "v1beta1", "virtualservices"};
        case manifest::TrafficKind::nginx: return {"networking.k8s.io", "v1", "ingresses"};
        case manifest::TrafficKind::smi: return {"split.smi-spec.io", "v1alpha2", "trafficsplits"};
        case manifest::TrafficKind::traefik: return {"traefik.io", "v1alpha1", "traefikservices"};
    }
    return {};
}

KubeTrafficPort::KubeTrafficPort(kube::KubeClient& client, bool allow_cross_namespace)
    : client_(client), allow_cross_namespace_(allow_cross_namespace) {}

Result<void> KubeTrafficPort::check_namespace(const api::PoetryApp& app,
                                              const api::CanarySpec& canary,
                                              const std::string& namespace_) const {
    if (allow_cross_namespace_ || namespace_ == app.metadata.namespace_) return ok();
    return fail(Error::Kind::invalid,
                "spec.environments[].canary.traffic.namespace: " +
                    std::string(route_kind(canary.traffic.kind)) + " " + namespace_ + "/" +
                    canary.traffic.route + " is outside the PoetryApp's namespace " +
                    app.metadata.namespace_ +
                    "; the controller steers routes in other namespaces only with "
                    "--allow-cross-namespace-routes",
                "CrossNamespaceRoute");
}

Result<LiveWeights> KubeTrafficPort::read(const api::PoetryApp& app, const api::CanarySpec& canary,
                                          const std::string& namespace_) {
    POETRYOPS_TRY_VOID(check_namespace(app, canary, namespace_));
    Route r = route_of(canary, namespace_);
    POETRYOPS_TRY(json object, get_route(client_, r));
    LiveWeights live;
    POETRYOPS_TRY(live.weights, weights_in(r, route_text(object), canary));
    if (canary.traffic.kind == manifest::TrafficKind::nginx) {
        // Server-side apply: the annotation is ours while our field manager owns it (another
        // manager's write of it takes the ownership away).
        live.ours = managed_by(object, kTrafficFieldManager, weight_list(canary.traffic.kind).path);
    } else if (auto recorded = recorded_weights(object)) {
        live.ours = same_weights(*recorded, live.weights);
    }
    return live;
}

Result<void> KubeTrafficPort::set(const api::PoetryApp& app, const api::CanarySpec& canary,
                                  const std::string& namespace_, int canary_weight) {
    POETRYOPS_TRY_VOID(check_namespace(app, canary, namespace_));
    if (canary_weight < 0 || canary_weight > 100) {
        return fail(Error::Kind::invalid,
                    "canary weight " + std::to_string(canary_weight) + " is outside 0..100",
                    "InvalidWeight");
    }
    Route r = route_of(canary, namespace_);
    std::vector<manifest::BackendWeight> want{{canary.traffic.stable, 100 - canary_weight},
                                              {canary.traffic.canary, canary_weight}};
    if (canary.traffic.kind == manifest::TrafficKind::nginx)
        return set_by_apply(client_, r, canary, want);
    return set_by_json_patch(client_, r, canary, want);
}

}  // namespace poetryops::controller

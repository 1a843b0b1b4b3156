#include <poetryops/controller/kube_approvals.hpp>

#include <poetryops/api/poetryapproval.hpp>
#include <poetryops/controller/resources.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/runtime/informer.hpp>
#include <poetryops/util/log.hpp>

namespace poetryops::controller {

namespace {

using nlohmann::json;

constexpr const char* kByApp = "app";  // "namespace/app" of spec.app

std::string app_key_of(const json& approval) {
    if (!approval.is_object()) return {};
    std::string ns = approval.value("/metadata/namespace"_json_pointer, std::string());
    std::string app = approval.value("/spec/app"_json_pointer, std::string());
    if (app.empty()) return {};
    return ns + "/" + app;
}

/// Keeps of metadata.managedFields only who wrote spec and when (what
/// api::load_poetryapproval reads for the weak identity); the rest of the field sets go.
void trim_managed_fields(json& object) {
    if (!object.is_object() || !object.contains("metadata")) return;
    json& md = object["metadata"];
    if (!md.is_object() || !md.contains("managedFields") || !md["managedFields"].is_array()) return;
    json kept = json::array();
    for (const auto& e : md["managedFields"]) {
        if (!e.is_object() || !e.contains("fieldsV1") || !e["fieldsV1"].is_object() ||
            !e["fieldsV1"].contains("f:spec"))
            continue;
        json k{{"manager", e.value("manager", std::string())},
               {"fieldsV1", {{"f:spec", json::object()}}}};
        if (e.contains("time") && e["time"].is_string()) k["time"] = e["time"];
        kept.push_back(std::move(k));
    }
    md["managedFields"] = std::move(kept);
}

}  // namespace

KubeApprovalPort::KubeApprovalPort(kube::KubeClient& client, KubeApprovalOptions options,
                                   const Clock& clock)
    : client_(client), options_(std::move(options)), clock_(clock) {}

KubeApprovalPort::~KubeApprovalPort() {
    {
        std::lock_guard lock(mu_);
        on_change_ = nullptr;
    }
    std::lock_guard lock(start_mu_);
    for (auto& i : informers_) i->stop();
}

void KubeApprovalPort::on_change(std::function<void(const std::string&)> fn) {
    std::lock_guard lock(mu_);
    on_change_ = std::move(fn);
}

void KubeApprovalPort::changed(const json& approval) {
    std::string key = app_key_of(approval);
    if (key.empty()) return;
    std::function<void(const std::string&)> fn;
    {
        std::lock_guard lock(mu_);
        fn = on_change_;
    }
    if (fn) fn(key);
}

Result<bool> KubeApprovalPort::ensure_started() {
    std::lock_guard lock(start_mu_);
    if (!started_) {
        if (absent_since_ && clock_.now() - *absent_since_ < options_.retry) return false;
        std::vector<std::string> spaces = options_.namespaces;
        if (spaces.empty()) spaces.push_back("");
        // One small list says whether the CRD is served and we may list it.
        for (const auto& ns : spaces) {
            kube::ListOptions probe;
            probe.limit = 1;
            auto listed = client_.list(poetryapprovals().in(ns), probe);
            if (listed) continue;
            if (kube::is_not_found(listed.error())) {
                if (!absent_since_) {
                    POETRYOPS_LOG(warn,
                                  "poetryapprovals.poetryops.io is not served (CRD not "
                                  "installed): only the approve annotation counts",
                                  {});
                }
                absent_since_ = clock_.now();
                return false;
            }
            Error e = listed.error();
            e.message = "cannot list poetryapprovals" +
                        (ns.empty() ? std::string(" in all namespaces") : " in namespace " + ns) +
                        " (the controller's RBAC needs list and watch): " + e.message;
            e.reason = "ApprovalsUnavailable";
            return e;
        }
        for (const auto& ns : spaces) {
            runtime::InformerOptions io;
            io.resource = poetryapprovals().in(ns);
            io.transform = trim_managed_fields;
            auto inf = std::make_unique<runtime::Informer>(client_, std::move(io), clock_);
            inf->add_index(kByApp, [](const json& a) -> std::vector<std::string> {
                std::string key = app_key_of(a);
                if (key.empty()) return {};
                return {key};
            });
            inf->add_handler({.on_add = [this](const json& a) { changed(a); },
                              .on_update =
                                  [this](const json& old, const json& now) {
                                      if (old != now) changed(now);
                                  },
                              .on_delete = [this](const json& a) { changed(a); }});
            informers_.push_back(std::move(inf));
        }
        for (auto& i : informers_) i->start();
        started_ = true;
        absent_since_.reset();
        POETRYOPS_LOG(info, "watching PoetryApprovals",
                      {{"webhook_identity", options_.webhook_stamps ? "true" : "false"}});
    }
    for (auto& i : informers_) {
        if (!i->wait_for_sync(options_.sync_timeout)) {
            return fail(Error::make(Error::Kind::timeout, "the PoetryApprovals are not listed yet",
                                    "ApprovalsUnavailable"));
        }
    }
    return true;
}

Result<ApprovalPort::ByEnvironment> KubeApprovalPort::approvals(const api::PoetryApp& app) {
    POETRYOPS_TRY(bool served, ensure_started());
    ByEnvironment out;
    if (!served) return out;
    std::vector<runtime::Informer*> informers;
    {
        std::lock_guard lock(start_mu_);
        for (auto& i : informers_) informers.push_back(i.get());
    }
    for (auto* inf : informers) {
        for (const auto& key : inf->index_keys(kByApp, app.key())) {
            auto obj = inf->get(key);
            if (!obj) continue;
            auto a = api::load_poetryapproval(*obj);
            if (!a) {
                // The CRD's schema makes this rare (an object stored before it): never counted.
                POETRYOPS_LOG(warn, "PoetryApproval ignored",
                              {{"approval", key}, {"error", a.error().message}});
                continue;
            }
            out[a->spec.environment].push_back(api::approval_record(*a, options_.webhook_stamps));
        }
    }
    return out;
}

}  // namespace poetryops::controller

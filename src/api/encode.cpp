// PoetryApp -> JSON. Spec fields are always written (defaults included) so a round trip is exact;
// optional strings and unset optionals are left out, as Kubernetes' `omitempty` does.
#include <poetryops/api/codec.hpp>

#include <poetryops/util/clock.hpp>

#include <nlohmann/json.hpp>

#include <cmath>

namespace poetryops::api {

using nlohmann::json;

namespace {

void put(json& o, const char* key, const std::string& v) {
    if (!v.empty()) o[key] = v;
}

void put_secret(json& o, const std::optional<SecretRef>& ref) {
    if (ref) o["secretRef"] = json{{"name", ref->name}};
}

void put_time(json& o, const char* key,
              const std::optional<std::chrono::system_clock::time_point>& t) {
    if (t) o[key] = format_rfc3339(*t);
}

json encode_health(const HealthSpec& h) {
    json o = json::object();
    if (h.argocd)
        o["argocd"] =
            json{{"application", h.argocd->application}, {"namespace", h.argocd->namespace_}};
    if (h.flux)
        o["flux"] =
            json{{"kustomization", h.flux->kustomization}, {"namespace", h.flux->namespace_}};
    if (h.deployment) {
        json d{{"name", h.deployment->name}};
        put(d, "namespace", h.deployment->namespace_);
        o["deployment"] = std::move(d);
    }
    o["timeout"] = h.timeout.text;
    return o;
}

json encode_canary(const CanarySpec& c) {
    json o{{"mode", api::to_string(c.mode)}};
    json t{{"kind", api::to_string(c.traffic.kind)}};
    put(t, "route", c.traffic.route);
    put(t, "stable", c.traffic.stable);
    put(t, "canary", c.traffic.canary);
    put(t, "file", c.traffic.file);
    put(t, "namespace", c.traffic.namespace_);
    o["traffic"] = std::move(t);
    json steps = json::array();
    for (const auto& s : c.steps)
        steps.push_back(json{{"weight", s.weight}, {"pause", s.pause.text}});
    o["steps"] = std::move(steps);
    if (c.analysis) {
        const AnalysisSpec& a = *c.analysis;
        json metrics = json::array();
        for (const auto& m : a.metrics) {
            json mo{{"name", m.name}};
            put(mo, "query", m.query);
            if (m.min) mo["min"] = *m.min;
            if (m.max) mo["max"] = *m.max;
            if (m.direction) mo["direction"] = api::to_string(*m.direction);
            metrics.push_back(std::move(mo));
        }
        json prometheus{{"address", a.prometheus.address}};
        put_secret(prometheus, a.prometheus.secret_ref);
        o["analysis"] = json{{"prometheus", std::move(prometheus)},
                             {"metrics", std::move(metrics)},
                             {"interval", a.interval.text},
                             {"minRequests", a.min_requests},
                             {"failureLimit", a.failure_limit},
                             {"judge", api::to_string(a.judge)},
                             {"inconclusiveLimit", a.inconclusive_limit},
                             {"onUnavailable", api::to_string(a.on_unavailable)},
                             {"tolerance", a.tolerance},
                             {"confidence", a.confidence}};
    }
    put(o, "workload", c.workload);
    return o;
}

json encode_canary_status(const CanaryStatus& c) {
    json o{{"phase", api::to_string(c.phase)},
           {"step", c.step},
           {"weight", c.weight},
           {"failures", c.failures},
           {"inconclusive", c.inconclusive}};
    put(o, "version", c.version);
    put(o, "tag", c.tag);
    put(o, "digest", c.digest);
    put_time(o, "started", c.started);
    put_time(o, "stepStarted", c.step_started);
    put_time(o, "lastAnalysis", c.last_analysis);
    if (!c.analysis.empty()) {
        json results = json::array();
        for (const auto& m : c.analysis) {
            json mo{{"name", m.name}, {"verdict", api::to_string(m.verdict)}};
            // JSON has no NaN or infinity: a value that is not finite is left out (its verdict and
            // message say why).
            if (m.value && std::isfinite(*m.value)) mo["value"] = *m.value;
            put(mo, "bound", m.bound);
            put(mo, "message", m.message);
            results.push_back(std::move(mo));
        }
        o["analysis"] = std::move(results);
    }
    put(o, "commit", c.commit);
    put(o, "message", c.message);
    return o;
}

json encode_environment(const EnvironmentSpec& e) {
    json o{{"name", e.name}, {"path", e.path}};
    json u{{"kind", api::to_string(e.update.kind)}};
    put(u, "file", e.update.file);
    put(u, "image", e.update.image);
    put(u, "tag", e.update.tag);
    put(u, "digest", e.update.digest);
    put(u, "container", e.update.container);
    o["update"] = std::move(u);
    json p{{"auto", e.promotion.auto_promote},
           {"soak", e.promotion.soak.text},
           {"holdNewer", e.promotion.hold_newer},
           {"approval",
            {{"required", e.promotion.approval.required},
             {"approvers", e.promotion.approval.approvers}}}};
    if (!e.promotion.approval.groups.empty()) p["approval"]["groups"] = e.promotion.approval.groups;
    put(p, "from", e.promotion.from);
    if (!e.promotion.windows.empty()) {
        json ws = json::array();
        for (const auto& w : e.promotion.windows) {
            ws.push_back(json{{"rrule", w.rrule},
                              {"duration", w.duration.text},
                              {"kind", api::to_string(w.kind)},
                              {"timezone", w.timezone},
                              {"blockRollbacks", w.block_rollbacks}});
        }
        p["windows"] = std::move(ws);
    }
    o["promotion"] = std::move(p);
    o["health"] = encode_health(e.health);
    if (e.canary) o["canary"] = encode_canary(*e.canary);
    return o;
}

}  // namespace

json encode_spec(const PoetryAppSpec& s) {
    json o = json::object();
    if (s.source) {
        json src{{"repoURL", s.source->repo_url},
                 {"ref", s.source->ref},
                 {"path", s.source->path},
                 {"pollInterval", s.source->poll_interval.text}};
        put_secret(src, s.source->secret_ref);
        o["source"] = std::move(src);
    }
    json img{{"repository", s.image.repository},
             {"tagTemplate", s.image.tag_template},
             {"policy", json{{"allowPrerelease", s.image.policy.allow_prerelease},
                             {"pollInterval", s.image.policy.poll_interval.text}}}};
    put(img["policy"], "versions", s.image.policy.versions);
    put_secret(img, s.image.secret_ref);
    o["image"] = std::move(img);
    if (s.build) {
        json b{{"engine", api::to_string(s.build->engine)},
               {"dockerfile", s.build->dockerfile},
               {"timeout", s.build->timeout.text},
               {"cancelOutdated", s.build->cancel_outdated}};
        put(b, "python", s.build->python);
        put(b, "poetry", s.build->poetry);
        o["build"] = std::move(b);
    }
    json g{{"repoURL", s.gitops.repo_url}, {"branch", s.gitops.branch}};
    put_secret(g, s.gitops.secret_ref);
    o["gitops"] = std::move(g);
    json envs = json::array();
    for (const auto& e : s.environments) envs.push_back(encode_environment(e));
    o["environments"] = std::move(envs);
    o["historyLimit"] = s.history_limit;
    o["suspend"] = s.suspend;
    if (!s.notifications.empty()) {
        auto key_ref = [](const SecretKeyRef& r) {
            return json{{"secretKeyRef", {{"name", r.name}, {"key", r.key}}}};
        };
        json list = json::array();
        for (const auto& n : s.notifications) {
            json events = json::array();
            for (auto e : n.events) events.push_back(api::to_string(e));
            json no{{"name", n.name},
                    {"type", api::to_string(n.type)},
                    {"urlFrom", key_ref(n.url_from)},
                    {"events", std::move(events)}};
            if (n.hmac_key_from) no["hmacKeyFrom"] = key_ref(*n.hmac_key_from);
            list.push_back(std::move(no));
        }
        o["notifications"] = std::move(list);
    }
    return o;
}

json encode_status(const PoetryAppStatus& s) {
    json o = json::object();
    o["observedGeneration"] = s.observed_generation;
    json conds = json::array();
    for (const auto& c : s.conditions) {
        conds.push_back(json{{"type", c.type},
                             {"status", c.status},
                             {"observedGeneration", c.observed_generation},
                             {"lastTransitionTime", format_rfc3339(c.last_transition_time)},
                             {"reason", c.reason},
                             {"message", c.message}});
    }
    o["conditions"] = std::move(conds);
    if (!s.environments.empty()) {
        json envs = json::array();
        for (const auto& e : s.environments) {
            json eo{{"name", e.name}, {"phase", api::to_string(e.phase)}};
            put(eo, "version", e.version);
            put(eo, "tag", e.tag);
            put(eo, "digest", e.digest);
            put(eo, "commit", e.commit);
            put_time(eo, "since", e.since);
            put(eo, "reason", e.reason);
            put(eo, "message", e.message);
            if (e.held) eo["held"] = true;
            put(eo, "heldImage", e.held_image);
            if (!e.rejected_digests.empty()) eo["rejectedDigests"] = e.rejected_digests;
            if (e.canary) eo["canary"] = encode_canary_status(*e.canary);
            if (e.waiting) {
                json w = json::object();
                put(w, "version", e.waiting->version);
                put(w, "tag", e.waiting->tag);
                put(w, "digest", e.waiting->digest);
                put(w, "reason", e.waiting->reason);
                eo["waiting"] = std::move(w);
            }
            if (e.window) {
                json w{{"open", e.window->open}};
                put_time(w, "nextOpen", e.window->next_open);
                put_time(w, "nextClose", e.window->next_close);
                put(w, "message", e.window->message);
                eo["window"] = std::move(w);
            }
            if (!e.approvals.empty()) {
                json list = json::array();
                for (const auto& a : e.approvals) {
                    json ao{{"name", a.name},
                            {"source", api::to_string(a.source)},
                            {"decision", api::to_string(a.decision)}};
                    put(ao, "digest", a.digest);
                    put(ao, "approver", a.approver);
                    if (!a.groups.empty()) ao["groups"] = a.groups;
                    put(ao, "reason", a.reason);
                    put_time(ao, "time", a.time);
                    put(ao, "message", a.message);
                    list.push_back(std::move(ao));
                }
                eo["approvals"] = std::move(list);
            }
            envs.push_back(std::move(eo));
        }
        o["environments"] = std::move(envs);
    }
    if (!s.history.empty()) {
        json hist = json::array();
        for (const auto& h : s.history) {
            json ho{{"environment", h.environment}, {"kind", api::to_string(h.kind)}};
            put(ho, "version", h.version);
            put(ho, "tag", h.tag);
            put(ho, "digest", h.digest);
            put(ho, "commit", h.commit);
            put_time(ho, "time", h.time);
            put(ho, "reason", h.reason);
            hist.push_back(std::move(ho));
        }
        o["history"] = std::move(hist);
    }
    if (s.latest) {
        json l = json::object();
        put(l, "version", s.latest->version);
        put(l, "tag", s.latest->tag);
        put(l, "digest", s.latest->digest);
        put(l, "sourceCommit", s.latest->source_commit);
        put_time(l, "discoveredAt", s.latest->discovered_at);
        o["latest"] = std::move(l);
    }
    put(o, "summary", s.summary);
    if (!s.builds.empty()) {
        json builds = json::array();
        for (const auto& b : s.builds) {
            json bo{{"commit", b.commit},
                    {"engine", api::to_string(b.engine)},
                    {"phase", api::to_string(b.phase)}};
            put(bo, "version", b.version);
            put(bo, "tag", b.tag);
            put(bo, "digest", b.digest);
            put_time(bo, "startTime", b.start_time);
            put(bo, "duration", b.duration);
            put(bo, "jobName", b.job_name);
            put(bo, "reason", b.reason);
            put(bo, "message", b.message);
            builds.push_back(std::move(bo));
        }
        o["builds"] = std::move(builds);
    }
    put(o, "building", s.building);
    if (!s.notifications.empty()) {
        json list = json::array();
        for (const auto& n : s.notifications) {
            json no{{"name", n.name}, {"keys", n.keys}};
            if (n.last_failure) {
                json f{{"key", n.last_failure->key}, {"event", n.last_failure->event}};
                put(f, "message", n.last_failure->message);
                put_time(f, "time", n.last_failure->time);
                no["lastFailure"] = std::move(f);
            }
            list.push_back(std::move(no));
        }
        o["notifications"] = std::move(list);
    }
    return o;
}

json encode_poetryapp(const PoetryApp& app) {
    json meta = json::object();
    put(meta, "name", app.metadata.name);
    put(meta, "namespace", app.metadata.namespace_);
    put(meta, "uid", app.metadata.uid);
    put(meta, "resourceVersion", app.metadata.resource_version);
    if (app.metadata.generation) meta["generation"] = app.metadata.generation;
    if (!app.metadata.labels.empty()) meta["labels"] = app.metadata.labels;
    if (!app.metadata.annotations.empty()) meta["annotations"] = app.metadata.annotations;
    return json{{"apiVersion", app.api_version},
                {"kind", app.kind},
                {"metadata", std::move(meta)},
                {"spec", encode_spec(app.spec)},
                {"status", encode_status(app.status)}};
}

}  // namespace poetryops::api

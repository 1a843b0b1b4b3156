// JSON -> PoetryApp. Unknown fields are ignored; wrongly typed fields are reported with their path.
#include <poetryops/api/codec.hpp>

#include "api/detail/json_reader.hpp"

#include <poetryops/util/clock.hpp>

namespace poetryops::api {

using detail::JsonReader;
using nlohmann::json;

void JsonReader::time(const json& obj, std::string_view key, const std::string& path,
                      std::optional<std::chrono::system_clock::time_point>& out) {
    const json* v = member(obj, key);
    if (!v) return;
    Clock::time_point t;
    if (!v->is_string() || !parse_rfc3339(v->get<std::string>(), t)) {
        error(child(path, key), "must be an RFC 3339 time such as \"2026-01-01T00:00:00Z\"");
        return;
    }
    out = std::chrono::time_point_cast<std::chrono::seconds>(t);
}

namespace {

std::optional<SecretRef> decode_secret_ref(JsonReader& r, const json& parent,
                                           const std::string& path) {
    const json* o = r.object(parent, "secretRef", path);
    if (!o) return std::nullopt;
    SecretRef ref;
    r.string(*o, "name", JsonReader::child(path, "secretRef"), ref.name);
    return ref;
}

SourceSpec decode_source(JsonReader& r, const json& o, const std::string& p) {
    SourceSpec s;
    r.string(o, "repoURL", p, s.repo_url);
    r.string(o, "ref", p, s.ref);
    r.string(o, "path", p, s.path);
    s.secret_ref = decode_secret_ref(r, o, p);
    r.duration(o, "pollInterval", p, s.poll_interval);
    return s;
}

ImageSpec decode_image(JsonReader& r, const json& o, const std::string& p) {
    ImageSpec s;
    r.string(o, "repository", p, s.repository);
    s.secret_ref = decode_secret_ref(r, o, p);
    r.string(o, "tagTemplate", p, s.tag_template);
    if (const json* pol = r.object(o, "policy", p)) {
        std::string pp = JsonReader::child(p, "policy");
        r.string(*pol, "versions", pp, s.policy.versions);
        r.boolean(*pol, "allowPrerelease", pp, s.policy.allow_prerelease);
        r.duration(*pol, "pollInterval", pp, s.policy.poll_interval);
    }
    return s;
}

BuildSpec decode_build(JsonReader& r, const json& o, const std::string& p) {
    BuildSpec s;
    r.enumeration(o, "engine", p, s.engine);
    r.string(o, "dockerfile", p, s.dockerfile);
    r.string(o, "python", p, s.python);
    r.string(o, "poetry", p, s.poetry);
    r.duration(o, "timeout", p, s.timeout);
    r.boolean(o, "cancelOutdated", p, s.cancel_outdated);
    return s;
}

GitOpsSpec decode_gitops(JsonReader& r, const json& o, const std::string& p) {
    GitOpsSpec s;
    r.string(o, "repoURL", p, s.repo_url);
    r.string(o, "branch", p, s.branch);
    s.secret_ref = decode_secret_ref(r, o, p);
    return s;
}

HealthSpec decode_health(JsonReader& r, const json& o, const std::string& p) {
    HealthSpec h;
    if (const json* a = r.object(o, "argocd", p)) {
        std::string ap = JsonReader::child(p, "argocd");
        h.argocd.emplace();
        r.string(*a, "application", ap, h.argocd->application);
        r.string(*a, "namespace", ap, h.argocd->namespace_);
    }
    if (const json* f = r.object(o, "flux", p)) {
        std::string fp = JsonReader::child(p, "flux");
        h.flux.emplace();
        r.string(*f, "kustomization", fp, h.flux->kustomization);
        r.string(*f, "namespace", fp, h.flux->namespace_);
    }
    if (const json* d = r.object(o, "deployment", p)) {
        std::string dp = JsonReader::child(p, "deployment");
        h.deployment.emplace();
        r.string(*d, "name", dp, h.deployment->name);
        r.string(*d, "namespace", dp, h.deployment->namespace_);
    }
    r.duration(o, "timeout", p, h.timeout);
    return h;
}

AnalysisSpec decode_analysis(JsonReader& r, const json& o, const std::string& p) {
    AnalysisSpec a;
    if (const json* prom = r.object(o, "prometheus", p)) {
        std::string pp = JsonReader::child(p, "prometheus");
        r.string(*prom, "address", pp, a.prometheus.address);
        a.prometheus.secret_ref = decode_secret_ref(r, *prom, pp);
    }
    if (const json* ms = r.array(o, "metrics", p)) {
        std::string mp = JsonReader::child(p, "metrics");
        for (std::size_t i = 0; i < ms->size(); ++i) {
            const json& m = (*ms)[i];
            std::string ip = JsonReader::index(mp, i);
            if (!m.is_object()) {
                r.error(ip, "must be an object, not " + JsonReader::type_name(m));
                continue;
            }
            MetricSpec metric;
            r.string(m, "name", ip, metric.name);
            r.string(m, "query", ip, metric.query);
            r.number(m, "min", ip, metric.min);
            r.number(m, "max", ip, metric.max);
            r.enumeration(m, "direction", ip, metric.direction);
            a.metrics.push_back(std::move(metric));
        }
    }
    r.duration(o, "interval", p, a.interval);
    r.integer(o, "minRequests", p, a.min_requests);
    r.integer(o, "failureLimit", p, a.failure_limit);
    r.enumeration(o, "judge", p, a.judge);
    r.integer(o, "inconclusiveLimit", p, a.inconclusive_limit);
    r.enumeration(o, "onUnavailable", p, a.on_unavailable);
    r.number(o, "tolerance", p, a.tolerance);
    r.number(o, "confidence", p, a.confidence);
    return a;
}

CanarySpec decode_canary(JsonReader& r, const json& o, const std::string& p) {
    CanarySpec c;
    r.enumeration(o, "mode", p, c.mode);
    if (const json* t = r.object(o, "traffic", p)) {
        std::string tp = JsonReader::child(p, "traffic");
        r.enumeration(*t, "kind", tp, c.traffic.kind);
        r.string(*t, "route", tp, c.traffic.route);
        r.string(*t, "stable", tp, c.traffic.stable);
        r.string(*t, "canary", tp, c.traffic.canary);
        r.string(*t, "file", tp, c.traffic.file);
        r.string(*t, "namespace", tp, c.traffic.namespace_);
    }
    if (const json* steps = r.array(o, "steps", p)) {
        c.steps.clear();
        std::string sp = JsonReader::child(p, "steps");
        for (std::size_t i = 0; i < steps->size(); ++i) {
            const json& s = (*steps)[i];
            std::string ip = JsonReader::index(sp, i);
            if (!s.is_object()) {
                r.error(ip, "must be an object, not " + JsonReader::type_name(s));
                continue;
            }
            CanaryStep step;
            r.integer(s, "weight", ip, step.weight);
            r.duration(s, "pause", ip, step.pause);
            c.steps.push_back(std::move(step));
        }
    }
    if (const json* a = r.object(o, "analysis", p)) {
        c.analysis = decode_analysis(r, *a, JsonReader::child(p, "analysis"));
    }
    r.string(o, "workload", p, c.workload);
    return c;
}

/// promotion.approval: an object since the approvals of issue #16. The old string form
/// (`approval: required`) is a clear error naming the new spelling, never a silent change.
void decode_approval(JsonReader& r, const json& promotion, const std::string& pp,
                     ApprovalSpec& out) {
    const json* a = JsonReader::member(promotion, "approval");
    if (!a) return;
    const std::string ap = JsonReader::child(pp, "approval");
    if (a->is_string()) {
        std::string old = a->get<std::string>();
        r.error(ap, "is an object since poetryops.io/v1alpha1 approvals: replace \"" + old +
                        "\" with " +
                        (old == "required" ? std::string("{required: true}")
                                           : std::string("{required: false} (or remove it)")) +
                        " (docs/api.md#promotionapproval)");
        return;
    }
    const json* o = r.object(promotion, "approval", pp);
    if (!o) return;
    r.boolean(*o, "required", ap, out.required);
    r.integer(*o, "approvers", ap, out.approvers);
    r.strings(*o, "groups", ap, out.groups);
}

template <class T, class F>
void decode_list(JsonReader& r, const json& o, std::string_view key, const std::string& p,
                 std::vector<T>& out, F&& one);

EnvironmentSpec decode_environment(JsonReader& r, const json& o, const std::string& p) {
    EnvironmentSpec e;
    r.string(o, "name", p, e.name);
    r.string(o, "path", p, e.path);
    if (const json* u = r.object(o, "update", p)) {
        std::string up = JsonReader::child(p, "update");
        r.enumeration(*u, "kind", up, e.update.kind);
        r.string(*u, "file", up, e.update.file);
        r.string(*u, "image", up, e.update.image);
        r.string(*u, "tag", up, e.update.tag);
        r.string(*u, "digest", up, e.update.digest);
        r.string(*u, "container", up, e.update.container);
    }
    if (const json* pr = r.object(o, "promotion", p)) {
        std::string pp = JsonReader::child(p, "promotion");
        r.string(*pr, "from", pp, e.promotion.from);
        r.boolean(*pr, "auto", pp, e.promotion.auto_promote);
        r.duration(*pr, "soak", pp, e.promotion.soak);
        r.boolean(*pr, "holdNewer", pp, e.promotion.hold_newer);
        decode_approval(r, *pr, pp, e.promotion.approval);
        decode_list(r, *pr, "windows", pp, e.promotion.windows,
                    [&](const json& w, const std::string& wp) {
                        PromotionWindow pw;
                        r.string(w, "rrule", wp, pw.rrule);
                        r.duration(w, "duration", wp, pw.duration);
                        r.enumeration(w, "kind", wp, pw.kind);
                        r.string(w, "timezone", wp, pw.timezone);
                        r.boolean(w, "blockRollbacks", wp, pw.block_rollbacks);
                        return pw;
                    });
    }
    if (const json* h = r.object(o, "health", p))
        e.health = decode_health(r, *h, JsonReader::child(p, "health"));
    if (const json* c = r.object(o, "canary", p))
        e.canary = decode_canary(r, *c, JsonReader::child(p, "canary"));
    return e;
}

/// `<field>: {secretKeyRef: {name, key}}` (urlFrom, hmacKeyFrom).
std::optional<SecretKeyRef> decode_secret_key_ref(JsonReader& r, const json& parent,
                                                  std::string_view field, const std::string& p) {
    const json* from = r.object(parent, field, p);
    if (!from) return std::nullopt;
    const std::string fp = JsonReader::child(p, field);
    SecretKeyRef ref;
    if (const json* k = r.object(*from, "secretKeyRef", fp)) {
        const std::string kp = JsonReader::child(fp, "secretKeyRef");
        r.string(*k, "name", kp, ref.name);
        r.string(*k, "key", kp, ref.key);
    }
    return ref;
}

NotificationSpec decode_notification(JsonReader& r, const json& o, const std::string& p) {
    NotificationSpec n;
    r.string(o, "name", p, n.name);
    r.enumeration(o, "type", p, n.type);
    if (auto url = decode_secret_key_ref(r, o, "urlFrom", p)) n.url_from = std::move(*url);
    n.hmac_key_from = decode_secret_key_ref(r, o, "hmacKeyFrom", p);
    r.enumerations(o, "events", p, n.events);
    return n;
}

PoetryAppSpec decode_spec(JsonReader& r, const json& o, const std::string& p) {
    PoetryAppSpec s;
    if (const json* v = r.object(o, "source", p))
        s.source = decode_source(r, *v, JsonReader::child(p, "source"));
    if (const json* v = r.object(o, "image", p))
        s.image = decode_image(r, *v, JsonReader::child(p, "image"));
    if (const json* v = r.object(o, "build", p))
        s.build = decode_build(r, *v, JsonReader::child(p, "build"));
    if (const json* v = r.object(o, "gitops", p))
        s.gitops = decode_gitops(r, *v, JsonReader::child(p, "gitops"));
    if (const json* envs = r.array(o, "environments", p)) {
        std::string ep = JsonReader::child(p, "environments");
        for (std::size_t i = 0; i < envs->size(); ++i) {
            const json& e = (*envs)[i];
            std::string ip = JsonReader::index(ep, i);
            if (!e.is_object()) {
                r.error(ip, "must be an object, not " + JsonReader::type_name(e));
                continue;
            }
            s.environments.push_back(decode_environment(r, e, ip));
        }
    }
    r.integer(o, "historyLimit", p, s.history_limit);
    r.boolean(o, "suspend", p, s.suspend);
    decode_list(
        r, o, "notifications", p, s.notifications,
        [&](const json& n, const std::string& ip) { return decode_notification(r, n, ip); });
    return s;
}

CanaryStatus decode_canary_status(JsonReader& r, const json& o, const std::string& p) {
    CanaryStatus c;
    r.enumeration(o, "phase", p, c.phase);
    r.string(o, "version", p, c.version);
    r.string(o, "tag", p, c.tag);
    r.string(o, "digest", p, c.digest);
    r.integer(o, "step", p, c.step);
    r.integer(o, "weight", p, c.weight);
    r.time(o, "started", p, c.started);
    r.time(o, "stepStarted", p, c.step_started);
    r.time(o, "lastAnalysis", p, c.last_analysis);
    r.integer(o, "failures", p, c.failures);
    r.integer(o, "inconclusive", p, c.inconclusive);
    decode_list(r, o, "analysis", p, c.analysis, [&](const json& m, const std::string& mp) {
        MetricResult result;
        r.string(m, "name", mp, result.name);
        r.number(m, "value", mp, result.value);
        r.string(m, "bound", mp, result.bound);
        r.enumeration(m, "verdict", mp, result.verdict);
        r.string(m, "message", mp, result.message);
        return result;
    });
    r.string(o, "commit", p, c.commit);
    r.string(o, "message", p, c.message);
    return c;
}

template <class T, class F>
void decode_list(JsonReader& r, const json& o, std::string_view key, const std::string& p,
                 std::vector<T>& out, F&& one) {
    const json* list = r.array(o, key, p);
    if (!list) return;
    std::string lp = JsonReader::child(p, key);
    for (std::size_t i = 0; i < list->size(); ++i) {
        const json& item = (*list)[i];
        std::string ip = JsonReader::index(lp, i);
        if (!item.is_object()) {
            r.error(ip, "must be an object, not " + JsonReader::type_name(item));
            continue;
        }
        out.push_back(one(item, ip));
    }
}

PoetryAppStatus decode_status_impl(JsonReader& r, const json& o, const std::string& p) {
    PoetryAppStatus s;
    r.integer(o, "observedGeneration", p, s.observed_generation);
    decode_list(r, o, "conditions", p, s.conditions, [&](const json& c, const std::string& cp) {
        Condition cond;
        r.string(c, "type", cp, cond.type);
        r.string(c, "status", cp, cond.status);
        r.integer(c, "observedGeneration", cp, cond.observed_generation);
        std::optional<std::chrono::system_clock::time_point> t;
        r.time(c, "lastTransitionTime", cp, t);
        if (t) cond.last_transition_time = *t;
        r.string(c, "reason", cp, cond.reason);
        r.string(c, "message", cp, cond.message);
        return cond;
    });
    decode_list(r, o, "environments", p, s.environments, [&](const json& e, const std::string& ep) {
        EnvironmentStatus es;
        r.string(e, "name", ep, es.name);
        r.string(e, "version", ep, es.version);
        r.string(e, "tag", ep, es.tag);
        r.string(e, "digest", ep, es.digest);
        r.string(e, "commit", ep, es.commit);
        r.enumeration(e, "phase", ep, es.phase);
        r.time(e, "since", ep, es.since);
        r.string(e, "reason", ep, es.reason);
        r.string(e, "message", ep, es.message);
        r.boolean(e, "held", ep, es.held);
        r.string(e, "heldImage", ep, es.held_image);
        if (auto it = e.find("rejectedDigests"); it != e.end() && it->is_array()) {
            for (const auto& d : *it) {
                if (d.is_string()) es.rejected_digests.push_back(d.get<std::string>());
            }
        }
        if (const json* c = r.object(e, "canary", ep))
            es.canary = decode_canary_status(r, *c, JsonReader::child(ep, "canary"));
        if (const json* w = r.object(e, "waiting", ep)) {
            std::string wp = JsonReader::child(ep, "waiting");
            WaitingArtifact wa;
            r.string(*w, "version", wp, wa.version);
            r.string(*w, "tag", wp, wa.tag);
            r.string(*w, "digest", wp, wa.digest);
            r.string(*w, "reason", wp, wa.reason);
            es.waiting = std::move(wa);
        }
        if (const json* w = r.object(e, "window", ep)) {
            std::string wp = JsonReader::child(ep, "window");
            WindowStatus ws;
            r.boolean(*w, "open", wp, ws.open);
            r.time(*w, "nextOpen", wp, ws.next_open);
            r.time(*w, "nextClose", wp, ws.next_close);
            r.string(*w, "message", wp, ws.message);
            es.window = std::move(ws);
        }
        decode_list(r, e, "approvals", ep, es.approvals, [&](const json& a, const std::string& ap) {
            ApprovalRecord ar;
            r.string(a, "name", ap, ar.name);
            r.string(a, "digest", ap, ar.digest);
            r.string(a, "approver", ap, ar.approver);
            r.strings(a, "groups", ap, ar.groups);
            r.enumeration(a, "source", ap, ar.source);
            r.enumeration(a, "decision", ap, ar.decision);
            r.string(a, "reason", ap, ar.reason);
            r.time(a, "time", ap, ar.time);
            r.string(a, "message", ap, ar.message);
            return ar;
        });
        return es;
    });
    decode_list(r, o, "history", p, s.history, [&](const json& h, const std::string& hp) {
        HistoryEntry he;
        r.string(h, "environment", hp, he.environment);
        r.enumeration(h, "kind", hp, he.kind);
        r.string(h, "version", hp, he.version);
        r.string(h, "tag", hp, he.tag);
        r.string(h, "digest", hp, he.digest);
        r.string(h, "commit", hp, he.commit);
        r.time(h, "time", hp, he.time);
        r.string(h, "reason", hp, he.reason);
        return he;
    });
    if (const json* l = r.object(o, "latest", p)) {
        std::string lp = JsonReader::child(p, "latest");
        ArtifactStatus a;
        r.string(*l, "version", lp, a.version);
        r.string(*l, "tag", lp, a.tag);
        r.string(*l, "digest", lp, a.digest);
        r.string(*l, "sourceCommit", lp, a.source_commit);
        r.time(*l, "discoveredAt", lp, a.discovered_at);
        s.latest = std::move(a);
    }
    r.string(o, "summary", p, s.summary);
    decode_list(r, o, "builds", p, s.builds, [&](const json& b, const std::string& bp) {
        BuildStatus bs;
        r.string(b, "commit", bp, bs.commit);
        r.string(b, "version", bp, bs.version);
        r.string(b, "tag", bp, bs.tag);
        r.string(b, "digest", bp, bs.digest);
        r.enumeration(b, "engine", bp, bs.engine);
        r.enumeration(b, "phase", bp, bs.phase);
        r.time(b, "startTime", bp, bs.start_time);
        r.string(b, "duration", bp, bs.duration);
        r.string(b, "jobName", bp, bs.job_name);
        r.string(b, "reason", bp, bs.reason);
        r.string(b, "message", bp, bs.message);
        return bs;
    });
    r.string(o, "building", p, s.building);
    decode_list(r, o, "notifications", p, s.notifications,
                [&](const json& n, const std::string& np) {
                    NotificationStatus ns;
                    r.string(n, "name", np, ns.name);
                    r.strings(n, "keys", np, ns.keys);
                    if (const json* f = r.object(n, "lastFailure", np)) {
                        std::string fp = JsonReader::child(np, "lastFailure");
                        NotificationFailure nf;
                        r.string(*f, "key", fp, nf.key);
                        r.string(*f, "event", fp, nf.event);
                        r.string(*f, "message", fp, nf.message);
                        r.time(*f, "time", fp, nf.time);
                        ns.last_failure = std::move(nf);
                    }
                    return ns;
                });
    return s;
}

}  // namespace

PoetryAppStatus decode_status(const json& status, std::vector<FieldError>& errors) {
    JsonReader r(errors);
    if (!status.is_object()) return {};
    return decode_status_impl(r, status, "status");
}

PoetryApp decode_poetryapp(const json& object, std::vector<FieldError>& errors) {
    JsonReader r(errors);
    PoetryApp app;
    if (!object.is_object()) {
        r.error("", "a PoetryApp must be an object, not " + JsonReader::type_name(object));
        return app;
    }
    r.string(object, "apiVersion", "", app.api_version);
    r.string(object, "kind", "", app.kind);
    if (app.api_version != kApiVersion) {
        r.error("apiVersion",
                "must be \"" + std::string(kApiVersion) + "\", not \"" + app.api_version + "\"");
    }
    if (app.kind != kKind)
        r.error("kind", "must be \"" + std::string(kKind) + "\", not \"" + app.kind + "\"");
    if (const json* m = r.object(object, "metadata", "")) {
        r.string(*m, "name", "metadata", app.metadata.name);
        r.string(*m, "namespace", "metadata", app.metadata.namespace_);
        r.string(*m, "uid", "metadata", app.metadata.uid);
        r.string(*m, "resourceVersion", "metadata", app.metadata.resource_version);
        r.integer(*m, "generation", "metadata", app.metadata.generation);
        r.string_map(*m, "labels", "metadata", app.metadata.labels);
        r.string_map(*m, "annotations", "metadata", app.metadata.annotations);
    }
    if (const json* s = r.object(object, "spec", "")) {
        app.spec = decode_spec(r, *s, "spec");
    } else {
        r.error("spec", "is required");
    }
    if (const json* st = r.object(object, "status", ""))
        app.status = decode_status_impl(r, *st, "status");
    return app;
}

Result<PoetryApp> load_poetryapp(const json& object) {
    std::vector<FieldError> errors;
    PoetryApp app = decode_poetryapp(object, errors);
    auto more = validate(app);
    errors.insert(errors.end(), more.begin(), more.end());
    if (!errors.empty()) {
        std::string who = app.metadata.name.empty() ? "PoetryApp" : "PoetryApp " + app.key();
        return fail(Error::Kind::invalid, who + ": " + join_errors(errors),
                    std::string(kReasonInvalidSpec));
    }
    return app;
}

}  // namespace poetryops::api

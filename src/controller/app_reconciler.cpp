#include <poetryops/controller/app_reconciler.hpp>
#include <poetryops/controller/resources.hpp>

#include <poetryops/api/codec.hpp>
#include <poetryops/kube/events.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/runtime/informer.hpp>
#include <poetryops/util/log.hpp>
#include <poetryops/util/metrics.hpp>

#include <algorithm>

namespace poetryops::controller {

using nlohmann::json;

namespace {

constexpr const char* kWritesMetric = "poetryops_status_writes_total";
constexpr const char* kInvalidMetric = "poetryops_invalid_specs_total";
constexpr const char* kConditionMetric = "poetryops_app_condition";

/// The labels that name an app on /metrics: app="namespace/name", as poetryops_canary_weight (a
/// `namespace` label would collide with the scrape target's own).
metrics::Labels app_labels(const std::string& key) { return {{"app", key}}; }

/// poetryops_app_condition: 1 for each condition that is True, 0 for False (Unknown: none).
void publish_conditions(metrics::MetricsRegistry& m, const std::string& key,
                        const api::PoetryAppStatus& status) {
    for (const auto& c : status.conditions) {
        metrics::Labels labels = app_labels(key);
        labels.emplace_back("condition", c.type);
        if (c.status == "True" || c.status == "False")
            m.set(kConditionMetric, labels, c.status == "True" ? 1 : 0);
        else
            m.remove(kConditionMetric, labels);
    }
}

// What we compare: our typed view of a status (unknown fields do not count as a difference).
json comparable(const api::PoetryAppStatus& status) { return api::encode_status(status); }

}  // namespace

void describe_metrics(metrics::MetricsRegistry& metrics) {
    metrics.describe(kWritesMetric, metrics::MetricType::counter,
                     "PoetryApp status writes by result (written, conflict, error).");
    metrics.describe(
        kInvalidMetric, metrics::MetricType::counter,
        "Reconciles that found an invalid PoetryApp spec (Ready=False, reason InvalidSpec).");
    metrics.describe(kConditionMetric, metrics::MetricType::gauge,
                     "A PoetryApp's conditions (Ready, Degraded) per app (namespace/name): 1 True, "
                     "0 False; the reason is in the app's status (kubectl poetryops why).");
}

StatusDecision decide_status(const json& object, std::chrono::system_clock::time_point now) {
    StatusDecision d;
    d.app = api::decode_poetryapp(object, d.errors);
    auto more = api::validate(d.app);
    d.errors.insert(d.errors.end(), more.begin(), more.end());

    // The stored status as we understand it (decode problems there are ours to overwrite, not the
    // user's).
    std::vector<api::FieldError> ignored;
    api::PoetryAppStatus stored;
    if (auto it = object.find("status"); it != object.end() && it->is_object())
        stored = api::decode_status(*it, ignored);
    d.app.status = stored;

    d.status = stored;
    d.ready_changed = set_validation_status(d.status, d.app, d.errors, now);
    d.status.summary = api::make_summary(d.app.spec, d.status);
    d.changed = comparable(d.status) != comparable(stored);
    return d;
}

AppReconciler::AppReconciler(kube::KubeClient& client, Lookup lookup, const Clock& clock,
                             AppReconcilerOptions options)
    : client_(client), lookup_(std::move(lookup)), clock_(clock), options_(std::move(options)) {
    if (options_.metrics) describe_metrics(*options_.metrics);
}

Result<runtime::ReconcileResult> AppReconciler::reconcile(const std::string& key) {
    auto object = lookup_(key);
    if (!object) {
        // Deleted: nothing to clean up (no owned objects yet) but what the engine kept.
        if (options_.engine) options_.engine->forget(key);
        if (options_.metrics) options_.metrics->remove(kConditionMetric, app_labels(key));
        return runtime::ReconcileResult{};
    }

    StatusDecision d = decide_status(*object, clock_.now());
    runtime::ReconcileResult result;
    const bool valid = d.errors.empty();
    if (!valid) {
        if (options_.metrics) options_.metrics->inc(kInvalidMetric);
        if (d.ready_changed) {
            POETRYOPS_LOG(warn, "invalid PoetryApp spec",
                          {{"app", key}, {"problems", api::join_errors(d.errors)}});
            if (options_.events) {
                options_.events->record(*object, kube::EventType::warning,
                                        std::string(api::kReasonInvalidSpec),
                                        api::join_errors(d.errors));
            }
        }
    } else if (options_.engine) {
        EngineOutcome out = options_.engine->reconcile(d.app, d.errors);
        d.status = std::move(out.status);
        if (options_.events) {
            for (const auto& e : out.events) {
                options_.events->record(
                    *object, e.warning ? kube::EventType::warning : kube::EventType::normal,
                    e.reason, e.message);
            }
        }
        if (out.error) {
            // Registry or git down: status says Degraded (and is written); retry with the
            // workqueue's per-item backoff.
            result.requeue = true;
        } else if (!out.commits_in_flight && out.poll.count() > 0) {
            // The fallback poll at the policy's interval (webhooks usually come first), or the
            // plan's earlier timer. With commits in flight the commit_done trigger comes first.
            result.requeue_after = out.poll;
            if (out.timer) {
                result.requeue_after =
                    std::min(result.requeue_after,
                             std::chrono::duration_cast<std::chrono::milliseconds>(*out.timer));
            }
        }
        d.status.summary = api::make_summary(d.app.spec, d.status);
        d.changed = comparable(d.status) != comparable(d.app.status);
    }
    if (options_.metrics) publish_conditions(*options_.metrics, key, d.status);
    if (!d.changed) return result;

    // PUT the status subresource with the resourceVersion we computed from: a newer object answers
    // 409 and we recompute from it on the requeue, so neither its changes nor ours are lost.
    json body = *object;
    json status =
        body.contains("status") && body["status"].is_object() ? body["status"] : json::object();
    const json desired = api::encode_status(d.status);
    for (auto& [k, v] : desired.items()) status[k] = v;  // unknown status keys are kept
    body["status"] = std::move(status);
    auto ref = controller::poetryapps()
                   .in(d.app.metadata.namespace_)
                   .named(d.app.metadata.name)
                   .sub("status");
    auto written = client_.update_status(ref, body);
    if (!written) {
        const Error& e = written.error();
        if (kube::is_conflict(e)) {
            ++conflicts_;
            if (options_.metrics) options_.metrics->inc(kWritesMetric, {{"result", "conflict"}});
            POETRYOPS_LOG(debug, "status write conflict, requeue", {{"app", key}});
            // A rate-limited retry now, not the hook's requeue_after (the poll interval, 5 minutes
            // by default): the controller prefers requeue_after when both are set, and would drop
            // the retry until then.
            return runtime::ReconcileResult{.requeue_after = std::chrono::milliseconds(0),
                                            .requeue = true};
        }
        if (kube::is_not_found(e)) return runtime::ReconcileResult{};  // deleted meanwhile
        if (options_.metrics) options_.metrics->inc(kWritesMetric, {{"result", "error"}});
        return fail(e);
    }
    ++status_writes_;
    if (options_.metrics) options_.metrics->inc(kWritesMetric, {{"result", "written"}});
    POETRYOPS_LOG(debug, "status written", {{"app", key}, {"ready", valid ? "True" : "False"}});
    return result;
}

}  // namespace poetryops::controller

#include <poetryops/controller/app_reconciler.hpp>
#include <poetryops/controller/resources.hpp>

#include <poetryops/api/codec.hpp>
#include <poetryops/kube/events.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/runtime/informer.hpp>
#include <poetryops/util/log.hpp>
#include <poetryops/util/metrics.hpp>

namespace poetryops::controller {

using nlohmann::json;

namespace {

constexpr const char* kWritesMetric = "poetryops_status_writes_total";
constexpr const char* kInvalidMetric = "poetryops_invalid_specs_total";

// What we compare: our typed view of a status (unknown fields do not count as a difference).
json comparable(const api::PoetryAppStatus& status) { return api::encode_status(status); }

}  // namespace

void describe_metrics(metrics::MetricsRegistry& metrics) {
    metrics.describe(kWritesMetric, metrics::MetricType::counter,
                     "PoetryApp status writes by result (written, conflict, error).");
    metrics.describe(
        kInvalidMetric, metrics::MetricType::counter,
        "Reconciles that found an invalid PoetryApp spec (Ready=False, reason InvalidSpec).");
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

    const std::int64_t generation = d.app.metadata.generation;
    api::Condition ready;
    ready.type = std::string(api::kConditionReady);
    ready.observed_generation = generation;
    if (d.errors.empty()) {
        ready.status = std::string(api::kConditionTrue);
        ready.reason = std::string(api::kReasonValidSpec);
        ready.message = "spec is valid";
    } else {
        ready.status = std::string(api::kConditionFalse);
        ready.reason = std::string(api::kReasonInvalidSpec);
        ready.message = log::redact(api::join_errors(d.errors));
    }
    d.status = stored;
    d.ready_changed = api::set_condition(d.status.conditions, std::move(ready), now);
    d.status.observed_generation = generation;
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
    if (!object)
        return runtime::ReconcileResult{};  // deleted: nothing to clean up (no owned objects yet)

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
    } else if (options_.on_valid) {
        auto hooked = options_.on_valid(d.app, d.status);
        if (!hooked) return fail(std::move(hooked).error());
        result = *hooked;
        d.status.summary = api::make_summary(d.app.spec, d.status);
        d.changed = comparable(d.status) != comparable(d.app.status);
    }
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

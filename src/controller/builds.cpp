#include <poetryops/controller/builds.hpp>

#include <poetryops/api/conditions.hpp>
#include <poetryops/api/duration.hpp>
#include <poetryops/util/log.hpp>

#include <algorithm>

namespace poetryops::controller {

namespace {

void add_events(std::vector<promote::Event>& to, const std::vector<build::Event>& events) {
    for (const auto& e : events) {
        to.push_back(promote::Event{e.warning, e.reason, log::redact(e.message)});
    }
}

/// The first failure of a dependency is what Degraded reports.
void keep_first(std::optional<Error>& slot, Error e, std::string_view what,
                std::string_view fallback_reason) {
    if (slot) return;
    e.message = std::string(what) + ": " + e.message;
    e.reason = api::condition_reason(e.reason, fallback_reason);
    slot = std::move(e);
}

constexpr const char* kBuildsMetric = "poetryops_builds_total";
constexpr const char* kDurationMetric = "poetryops_build_duration_seconds";

bool ended(api::BuildPhase p) {
    return p == api::BuildPhase::succeeded || p == api::BuildPhase::failed ||
           p == api::BuildPhase::cancelled;
}

/// Counts the builds that end in `now` and had not ended in `before` (status.builds of the app as
/// read, and as this reconcile writes it). A build refused without a Job (a stale lock) or
/// adopted counts too: it is an outcome of a commit. Its duration is observed when it ran.
void count_ended(metrics::MetricsRegistry& m, const std::vector<api::BuildStatus>& before,
                 const std::vector<api::BuildStatus>& now) {
    for (const auto& b : now) {
        if (!ended(b.phase)) continue;
        auto was = std::find_if(before.begin(), before.end(),
                                [&](const api::BuildStatus& o) { return o.commit == b.commit; });
        if (was != before.end() && ended(was->phase)) continue;
        const metrics::Labels labels{{"result", std::string(api::to_string(b.phase))}};
        m.inc(kBuildsMetric, labels);
        if (b.job_name.empty() || b.duration.empty()) continue;
        if (auto d = api::parse_duration(b.duration))
            m.observe(kDurationMetric, labels, std::chrono::duration<double>(*d).count());
    }
}

}  // namespace

BuildReconciler::BuildReconciler(SourcePort& source, BuildPort& builds, ArtifactPort& artifacts,
                                 const Clock& clock, metrics::MetricsRegistry* metrics)
    : source_(source), builds_(builds), artifacts_(artifacts), clock_(clock), metrics_(metrics) {
    if (metrics_) {
        metrics_->describe(kBuildsMetric, metrics::MetricType::counter,
                           "Builds of source commits that ended, by result (Succeeded, Failed, "
                           "Cancelled).");
        // Builds take minutes: 10 s to 1 h.
        metrics_->describe(kDurationMetric, metrics::MetricType::histogram,
                           "How long builds ran, from start to end, by result.",
                           {10, 30, 60, 120, 300, 600, 1200, 1800, 3600});
    }
}

BuildOutcome BuildReconciler::reconcile(const api::PoetryApp& app) {
    BuildOutcome out;
    out.status = app.status;
    if (!app.spec.build || !app.spec.source) return out;
    const auto now = clock_.now();

    build::Observations obs;
    std::string since = app.status.builds.empty() ? std::string() : app.status.builds[0].commit;
    if (auto src = source_.observe(app, since); src) {
        obs.head = src->head;
        obs.project = src->project;
    } else {
        keep_first(out.error, src.error(), "spec.source", "SourceUnavailable");
    }
    if (auto jobs = builds_.builds(app); jobs) {
        obs.jobs = std::move(jobs).value();
    } else {
        // Without the builds, the planner would take a running build for a vanished one.
        keep_first(out.error, jobs.error(), "builds", "BuilderUnavailable");
        return out;
    }

    build::Plan p = build::plan(app, obs, now);
    // A `resolve` asks whether the head commit's tag is in the registry already; plan again with
    // the answer (the second plan never asks again for the same tag).
    for (int round = 0; round < 2; ++round) {
        const build::Action* resolve = nullptr;
        for (const auto& a : p.actions)
            if (a.kind == build::ActionKind::resolve) resolve = &a;
        if (!resolve) break;
        auto digest = artifacts_.digest_of(app, resolve->tag);
        if (!digest) {
            keep_first(out.error, digest.error(), "spec.image.repository", "RegistryUnavailable");
            out.status = p.status;
            if (metrics_) count_ended(*metrics_, app.status.builds, out.status.builds);
            add_events(out.events, p.events);
            return out;
        }
        obs.head_tag =
            build::RegistryTag{resolve->tag, digest->has_value(), digest->value_or(std::string())};
        p = build::plan(app, obs, now);
    }

    add_events(out.events, p.events);
    for (const auto& a : p.actions) {
        switch (a.kind) {
            case build::ActionKind::start:
                if (auto r = builds_.start(app, a); !r)
                    keep_first(out.error, r.error(), "build " + a.job_name, "BuilderUnavailable");
                break;
            case build::ActionKind::cancel:
                if (auto r = builds_.cancel(app, a.job_name); !r)
                    keep_first(out.error, r.error(), "build " + a.job_name, "BuilderUnavailable");
                break;
            case build::ActionKind::verify: {
                auto digest = artifacts_.digest_of(app, a.tag);
                if (!digest) {
                    keep_first(out.error, digest.error(), "spec.image.repository",
                               "RegistryUnavailable");
                    break;
                }
                add_events(out.events, build::record_verification(p.status, app.metadata.generation,
                                                                  a, *digest, now));
                break;
            }
            case build::ActionKind::resolve:  // answered above, or the registry failed
            case build::ActionKind::adopt:    // the tag exists: the promotion half takes it
                break;
        }
    }
    out.status = std::move(p.status);
    if (metrics_) count_ended(*metrics_, app.status.builds, out.status.builds);
    out.ready = build::build_ready(out.status, app.metadata.generation);
    out.requeue_after = p.requeue_after;
    return out;
}

}  // namespace poetryops::controller

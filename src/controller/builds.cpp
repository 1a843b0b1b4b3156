#include <poetryops/controller/builds.hpp>

#include <poetryops/api/conditions.hpp>
#include <poetryops/util/log.hpp>

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

}  // namespace

BuildReconciler::BuildReconciler(SourcePort& source, BuildPort& builds, ArtifactPort& artifacts,
                                 const Clock& clock)
    : source_(source), builds_(builds), artifacts_(artifacts), clock_(clock) {}

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
    out.ready = build::build_ready(out.status, app.metadata.generation);
    out.requeue_after = p.requeue_after;
    return out;
}

}  // namespace poetryops::controller

#include <poetryops/controller/engine.hpp>

#include "controller/detail/webhook_listener.hpp"

#include <poetryops/api/conditions.hpp>
#include <poetryops/util/log.hpp>

#include <algorithm>

namespace poetryops::controller {

std::string_view to_string(TriggerKind kind) {
    switch (kind) {
        case TriggerKind::spec_change: return "spec_change";
        case TriggerKind::registry_push: return "registry_push";
        case TriggerKind::source_push: return "source_push";
        case TriggerKind::poll_tick: return "poll_tick";
        case TriggerKind::health_change: return "health_change";
        case TriggerKind::timer: return "timer";
        case TriggerKind::commit_done: return "commit_done";
        case TriggerKind::build_done: return "build_done";
        case TriggerKind::approval_change: return "approval_change";
        case TriggerKind::notification_done: return "notification_done";
    }
    return "unknown";
}

bool set_validation_status(api::PoetryAppStatus& status, const api::PoetryApp& app,
                           const std::vector<api::FieldError>& errors,
                           std::chrono::system_clock::time_point now, bool planner_decides) {
    const std::int64_t generation = app.metadata.generation;
    const bool valid = errors.empty();
    status.observed_generation = generation;
    if (valid && planner_decides) {
        const api::Condition* ready = api::find_condition(status.conditions, api::kConditionReady);
        if (ready && ready->reason != api::kReasonInvalidSpec &&
            ready->reason != api::kReasonValidSpec)
            return false;
    }
    api::Condition ready = api::make_condition(
        api::kConditionReady, valid,
        std::string(valid ? api::kReasonValidSpec : api::kReasonInvalidSpec),
        valid ? std::string("spec is valid") : log::redact(api::join_errors(errors)), generation);
    return api::set_condition(status.conditions, std::move(ready), now);
}

Result<std::unique_ptr<Engine>> Engine::create(EngineOptions options, const Clock& clock) {
    std::unique_ptr<Engine> e(new Engine(clock));
    if (options.metrics) {
        options.metrics->describe(std::string(kCanaryStepsMetric), metrics::MetricType::counter,
                                  "Canary actions committed (or, in cluster mode, applied to the "
                                  "live route), by result: deploy, shift, complete, abort.");
        options.metrics->describe(std::string(kCanaryWeightMetric), metrics::MetricType::gauge,
                                  "The canary's traffic weight in percent, per app "
                                  "(namespace/name) and environment; 0 with no canary running.");
    }
    if (options.ports) {
        PortsOptions po = *options.ports;
        if (!po.clock) po.clock = &clock;
        POETRYOPS_TRY(e->ports_, make_ports(std::move(po)));
        if (HealthPort* health = e->ports_->health()) {
            Engine* self = e.get();
            health->on_change([self](const std::string& object) {
                self->fire(Trigger{TriggerKind::health_change, "", "", object, {}});
            });
        }
        if (ApprovalPort* approvals = e->ports_->approvals()) {
            Engine* self = e.get();
            approvals->on_change([self](const std::string& key) {
                self->fire(Trigger{TriggerKind::approval_change, key, "", "", {}});
            });
        }
        e->promotion_ = std::make_unique<PromotionReconciler>(
            e->ports_->gitops(), e->ports_->artifacts(), e->ports_->health(), clock,
            &e->ports_->analysis(), e->ports_->traffic(), e->ports_->approvals());
        if (BuildPort* builder = e->ports_->builder()) {
            Engine* self = e.get();
            builder->on_change([self](const std::string& key) {
                self->fire(Trigger{TriggerKind::build_done, key, "", "", {}});
            });
            e->builds_ = std::make_unique<BuildReconciler>(
                *e->ports_->source(), *builder, e->ports_->artifacts(), clock, options.metrics);
        }
    }
    e->options_ = std::move(options);
    return e;
}

Engine::Engine(const Clock& clock) : clock_(clock) {}

Engine::~Engine() { stop(); }

void Engine::set_sink(TriggerSink sink) {
    std::lock_guard lock(mu_);
    sink_ = std::move(sink);
}

void Engine::fire(const Trigger& trigger) {
    TriggerSink sink;
    {
        std::lock_guard lock(mu_);
        sink = sink_;
    }
    POETRYOPS_LOG(debug, "trigger",
                  {{"kind", std::string(to_string(trigger.kind))},
                   {"app", trigger.key},
                   {"repository", trigger.repository},
                   {"object", trigger.object}});
    if (sink) sink(trigger);
}

Result<void> Engine::start() {
    if (options_.webhook_address.empty() || !ports_ || webhooks_) return ok();
    POETRYOPS_TRY(
        webhooks_,
        detail::WebhookListener::start(
            options_.webhook_address, options_.webhook,
            [this](std::vector<registry::PushEvent> events) { on_push(events); },
            options_.source_webhook, [this](const git::PushEvent& push) { on_source_push(push); }));
    return ok();
}

void Engine::on_source_push(const git::PushEvent& push) {
    if (push.deleted || push.repo_urls.empty()) return;
    POETRYOPS_LOG(info, "source push",
                  {{"forge", git::to_string(push.forge)},
                   {"repository", push.repo_urls.front()},
                   {"ref", push.ref},
                   {"commit", push.after}});
    // The next observe asks the server again instead of a tip read a moment ago.
    ports_->source()->invalidate(push.repo_urls);
    fire(Trigger{TriggerKind::source_push, "", "", "", push.repo_urls});
}

void Engine::on_push(const std::vector<registry::PushEvent>& events) {
    for (const auto& e : events) {
        std::string repo = e.registry + "/" + e.repository;
        POETRYOPS_LOG(info, "registry push",
                      {{"repository", repo}, {"tag", e.tag}, {"digest", e.digest}});
        RegistryArtifactPort& artifacts = ports_->artifacts();
        artifacts.invalidate_matching(
            [&](const std::string& app_repo) { return repository_matches(app_repo, repo); });
        artifacts.hint_push(repo, e.tag);
        fire(Trigger{TriggerKind::registry_push, "", repo, "", {}});
    }
}

void Engine::stop() {
    if (webhooks_) webhooks_->stop();
}

std::uint16_t Engine::webhook_port() const { return webhooks_ ? webhooks_->port() : 0; }

void Engine::set_notifier(notify::Notifier* notifier) {
    if (!notifier) {
        notifications_.reset();
        return;
    }
    notifications_ = std::make_unique<Notifications>(
        *notifier, options_.secrets, clock_, [this](const std::string& key) {
            fire(Trigger{TriggerKind::notification_done, key, "", "", {}});
        });
}

void Engine::notification_done(const notify::Outcome& outcome) {
    if (notifications_) notifications_->on_outcome(outcome);
}

bool Engine::wait_for_notifications(std::chrono::milliseconds timeout) {
    return !notifications_ || notifications_->wait_idle(timeout);
}

std::size_t Engine::notification_outcomes() const {
    return notifications_ ? notifications_->outcomes() : 0;
}

EngineOutcome Engine::reconcile(const api::PoetryApp& app, std::vector<api::FieldError> errors) {
    EngineOutcome out = reconcile_app(app, std::move(errors));
    // What the engine decided, sent to spec.notifications (the planner knows nothing of it).
    if (notifications_ && out.errors.empty() && promotion_)
        notifications_->process(app, out.status, out.events);
    return out;
}

EngineOutcome Engine::reconcile_app(const api::PoetryApp& app,
                                    std::vector<api::FieldError> errors) {
    EngineOutcome out;
    out.errors = std::move(errors);
    out.status = app.status;
    out.ready_changed =
        set_validation_status(out.status, app, out.errors, clock_.now(), promotion_ != nullptr);
    if (!out.errors.empty() || !promotion_) return out;

    auto poll = app.spec.image.policy.poll_interval.value;
    if (poll.count() <= 0) poll = std::chrono::minutes(5);
    out.poll = std::chrono::duration_cast<std::chrono::milliseconds>(poll);

    const std::string key = app.key();
    std::shared_ptr<InFlight> flight;
    {
        std::lock_guard lock(mu_);
        if (auto it = in_flight_.find(key); it != in_flight_.end()) flight = it->second;
    }
    PromotionOutcome promoted;
    BuildOutcome built;  // stays empty without spec.build, and while commits are in flight
    std::size_t skip_events = 0;
    if (flight) {
        // Our edits are with the committer. Until they have an outcome there is nothing to do
        // (planning again would submit them twice); once they have, record it.
        if (!flight->pending.ready()) {
            out.commits_in_flight = true;
            return out;
        }
        {
            std::lock_guard lock(mu_);
            in_flight_.erase(key);
        }
        skip_events = flight->planned_events;
        promoted = promotion_->finish(std::move(flight->pending));
    } else {
        api::PoetryApp current = app;
        current.status = out.status;
        // The build half first: a verified build is a tag in the registry, which the promotion
        // half below takes into the first environment in this same reconcile.
        if (builds_ && app.spec.build) {
            built = builds_->reconcile(current);
            current.status = built.status;
            auto source_poll =
                app.spec.source ? app.spec.source->poll_interval.value : std::chrono::seconds(0);
            if (source_poll.count() > 0)
                out.poll = std::min(
                    out.poll, std::chrono::duration_cast<std::chrono::milliseconds>(source_poll));
        }
        auto next = std::make_shared<InFlight>();
        {
            // Registered before the edits are submitted: the commit_done trigger may fire before
            // begin() returns, and its reconcile (queued behind this one) must find it.
            std::lock_guard lock(mu_);
            in_flight_[key] = next;
        }
        next->pending = promotion_->begin(current, [this, key] {
            fire(Trigger{TriggerKind::commit_done, key, "", "", {}});
        });
        if (next->pending.commits.empty()) {
            std::lock_guard lock(mu_);
            in_flight_.erase(key);
            promoted = promotion_->finish(std::move(next->pending));
        } else {
            next->planned_events = next->pending.outcome.events.size();
            out.status = next->pending.outcome.status;
            out.events = built.events;
            out.events.insert(out.events.end(), next->pending.outcome.events.begin(),
                              next->pending.outcome.events.end());
            out.timer = next->pending.outcome.requeue_after;
            merge_build(out, built, app);
            out.commits_in_flight = true;
            return out;
        }
    }
    out.status = std::move(promoted.status);
    out.events = built.events;
    out.events.insert(out.events.end(),
                      promoted.events.begin() + static_cast<std::ptrdiff_t>(
                                                    std::min(skip_events, promoted.events.size())),
                      promoted.events.end());
    out.committed = std::move(promoted.committed);
    if (options_.metrics) count_canaries(*options_.metrics, key, out);
    out.timer = promoted.requeue_after;
    out.error = std::move(promoted.error);
    merge_build(out, built, app);
    return out;
}

void Engine::merge_build(EngineOutcome& out, const BuildOutcome& built, const api::PoetryApp& app) {
    const auto now = clock_.now();
    // Ready: the promotion planner's, unless the newest build failed; measured against the stored
    // condition so the two halves never make it flip within one reconcile.
    build::fold_ready(out.status, app.status, built.ready, now);
    if (built.requeue_after && (!out.timer || *built.requeue_after < *out.timer))
        out.timer = built.requeue_after;
    if (built.error && !out.error) {
        out.error = built.error;
        set_degraded(out.status, app, &*out.error, now);
    }
}

void Engine::wait_for_commits() {
    std::vector<std::shared_ptr<InFlight>> flights;
    {
        std::lock_guard lock(mu_);
        for (const auto& [key, f] : in_flight_) flights.push_back(f);
    }
    for (const auto& f : flights) {
        for (const auto& c : f->pending.commits) c.wait();
    }
}

void Engine::forget(const std::string& key) {
    {
        std::lock_guard lock(mu_);
        in_flight_.erase(key);
    }
    if (notifications_) notifications_->forget(key);
    if (options_.metrics)
        options_.metrics->remove(std::string(kCanaryWeightMetric), {{"app", key}});
}

void Engine::count_canaries(metrics::MetricsRegistry& m, const std::string& key,
                            const EngineOutcome& out) {
    for (const auto& action : out.committed) {
        if (!action.canary) continue;
        m.inc(std::string(kCanaryStepsMetric),
              {{"result", canary::to_string(action.canary->kind)}});
    }
    for (const auto& env : out.status.environments) {
        if (!env.canary) continue;
        const bool live = env.canary->phase == api::CanaryPhase::progressing ||
                          env.canary->phase == api::CanaryPhase::paused;
        m.set(std::string(kCanaryWeightMetric), {{"app", key}, {"env", env.name}},
              live ? env.canary->weight : 0);
    }
}

}  // namespace poetryops::controller

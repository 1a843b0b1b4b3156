#include <poetryops/promote/plan.hpp>

#include <poetryops/schedule/window.hpp>
#include <poetryops/util/clock.hpp>
#include <poetryops/util/strings.hpp>

#include <algorithm>
#include <set>
#include <utility>

namespace poetryops::promote {

namespace {

using api::EnvironmentSpec;
using api::EnvironmentStatus;
using api::HealthKind;
using api::Phase;

constexpr std::size_t kMaxRejected = 20;
constexpr std::size_t kMaxApprovals = 20;

std::chrono::milliseconds duration_of(const api::Duration& d) {
    if (d.value.count() > 0 || d.text.empty()) return d.value;
    return api::parse_duration(d.text).value_or(std::chrono::milliseconds(0));
}

std::string short_digest(const std::string& digest) {
    auto colon = digest.find(':');
    std::string hex = colon == std::string::npos ? digest : digest.substr(colon + 1);
    return (colon == std::string::npos ? "" : digest.substr(0, colon + 1)) + hex.substr(0, 12);
}

std::string describe(const std::string& version, const std::string& digest) {
    if (version.empty()) return short_digest(digest);
    return version + " (" + short_digest(digest) + ")";
}

/// The promotion windows of `es` (promotion.windows), evaluated at `now` for promotions or for
/// rollbacks. A rule that does not parse (validation refuses it first) keeps the environment
/// closed.
schedule::State window_state(const EnvironmentSpec& es, TimePoint now, bool rollback) {
    std::vector<schedule::Window> windows;
    for (std::size_t i = 0; i < es.promotion.windows.size(); ++i) {
        const api::PromotionWindow& w = es.promotion.windows[i];
        if (rollback && !w.block_rollbacks) continue;
        auto rule = schedule::parse_rrule(w.rrule);
        const std::string bad_zone = schedule::check_zone(w.timezone);
        if (!rule || !bad_zone.empty()) {
            // Closed, whatever its kind: an unknown zone must not silently drop a deny window.
            schedule::State closed;
            closed.open = false;
            closed.why =
                "window " + std::to_string(i + 1) +
                (rule ? "'s timezone: " + bad_zone : std::string("'s rule does not parse"));
            return closed;
        }
        windows.push_back(schedule::Window{*rule, duration_of(w.duration), w.kind, w.timezone,
                                           w.block_rollbacks});
    }
    return schedule::evaluate(windows, now, rollback);
}

/// " until <when it opens>" or " (no window opens within a year)".
std::string opens_at(const std::optional<TimePoint>& next_open) {
    return next_open ? " until " + format_rfc3339(*next_open)
                     : std::string(" (no window opens within a year)");
}

/// Sets the phase; `since` moves only when the phase changes.
void set_phase(EnvironmentStatus& st, Phase phase, std::string reason, std::string message,
               TimePoint now) {
    if (st.phase != phase || !st.since) st.since = now;
    st.phase = phase;
    st.reason = std::move(reason);
    st.message = std::move(message);
}

void reject(EnvironmentStatus& st, const std::string& digest) {
    if (digest.empty()) return;
    auto& r = st.rejected_digests;
    r.erase(std::remove(r.begin(), r.end(), digest), r.end());
    r.insert(r.begin(), digest);
    if (r.size() > kMaxRejected) r.resize(kMaxRejected);
}

/// What the history knows of a digest (newest entry first), for versions of adopted pins and
/// rollback targets.
const api::HistoryEntry* history_of(const api::PoetryAppStatus& status, const std::string& digest,
                                    const std::string& env = {}) {
    for (const auto& h : status.history) {
        if (h.digest == digest && (env.empty() || h.environment == env)) return &h;
    }
    return nullptr;
}

/// Takes what git pins as the environment's state (first sight, crash recovery, released hold).
void adopt(EnvironmentStatus& st, const api::PoetryAppStatus& status,
           const EnvironmentObservation& o, const std::string& commit, std::string reason,
           std::string message, TimePoint now) {
    st.digest = o.pinned_digest;
    st.tag = o.pinned_tag;
    st.commit = commit;
    const api::HistoryEntry* h =
        o.pinned_digest.empty() ? nullptr : history_of(status, o.pinned_digest);
    st.version = h ? h->version : o.pinned_tag;
    st.held = false;
    st.held_image.clear();
    set_phase(st, Phase::syncing, std::move(reason), std::move(message), now);
}

struct EnvPlanner {
    const api::PoetryApp& app;
    const Observations& obs;
    TimePoint now;
    Plan& plan;
    /// A canary environment's candidate once every gate in front of it passed (this environment).
    std::optional<Artifact> gated{};
    /// Who approved `gated` (its approval gate), for the canary's commits.
    std::vector<std::string> gated_approved_by{};

    /// The approvals of `env`: the PoetryApprovals observed, then the approve annotation as one
    /// approver of unknown identity.
    std::vector<api::ApprovalRecord> approvals_of(const std::string& env) const {
        std::vector<api::ApprovalRecord> out;
        if (auto it = obs.approvals.find(env); it != obs.approvals.end()) out = it->second;
        std::string annotated = app.annotation(api::kApproveAnnotationPrefix, env);
        if (!annotated.empty()) {
            api::ApprovalRecord r;
            r.name = std::string(api::kApproveAnnotationPrefix) + env;
            r.digest = annotated;
            r.source = api::IdentitySource::annotation;
            out.push_back(std::move(r));
        }
        return out;
    }

    /// Why an approval of the right digest does not count ("" when it does).
    static std::string not_counted(const EnvironmentSpec& es, const api::ApprovalRecord& r) {
        const auto& groups = es.promotion.approval.groups;
        if (groups.empty()) return {};
        if (r.source != api::IdentitySource::webhook)
            return "does not count: promotion.approval.groups needs an identity stamped by the "
                   "admission webhook, and this one's is from " +
                   std::string(api::to_string(r.source)) +
                   (r.source == api::IdentitySource::managed_fields
                        ? " (a field manager's name, which has no groups)"
                        : " (no identity, no groups)");
        for (const auto& g : r.groups) {
            if (std::find(groups.begin(), groups.end(), g) != groups.end()) return {};
        }
        return "does not count: " +
               (r.approver.empty() ? std::string("the approver") : r.approver) +
               " is in none of the groups " + str::join(groups, ", ");
    }

    /// The distinct approvers of `digest` that count, as `who()` (each person once).
    struct Tally {
        std::vector<std::string> who;
    };
    static Tally tally(const EnvironmentSpec& es, const std::vector<api::ApprovalRecord>& records,
                       const std::string& digest) {
        Tally t;
        std::set<std::string> seen;
        for (const auto& r : records) {
            if (r.decision != api::ApprovalDecision::approve || r.digest != digest) continue;
            if (!not_counted(es, r).empty()) continue;
            // One person counts once, whatever the source; every unknown identity is one person.
            std::string key = r.approver.empty() ? std::string("\x01unknown") : r.approver;
            if (!seen.insert(key).second) continue;
            t.who.push_back(r.who());
        }
        return t;
    }

    /// status.environments[].approvals: every approval seen for `es`, newest first, with what it
    /// did; an approval of a digest that is neither waiting, running, in its canary nor promoted
    /// here before is reported with an ApprovalIgnored event.
    void report_approvals(const EnvironmentSpec& es, EnvironmentStatus& st) {
        std::vector<api::ApprovalRecord> records = approvals_of(es.name);
        std::stable_sort(records.begin(), records.end(), [](const auto& a, const auto& b) {
            return a.time.value_or(TimePoint{}) > b.time.value_or(TimePoint{});
        });
        const std::string waiting = st.waiting ? st.waiting->digest : std::string();
        const std::string in_canary =
            st.canary && (st.canary->phase == api::CanaryPhase::progressing ||
                          st.canary->phase == api::CanaryPhase::paused)
                ? st.canary->digest
                : std::string();
        for (auto& r : records) {
            const std::string what = short_digest(r.digest);
            const bool reject_it = r.decision == api::ApprovalDecision::reject;
            std::string why = reject_it ? std::string() : not_counted(es, r);
            if (!r.digest.empty() && r.digest == waiting) {
                if (reject_it) {
                    r.message = "blocks " + what + " in " + es.name + ": " + r.reason;
                } else if (!es.needs_approval()) {
                    r.message = "not needed: " + es.name + " needs no approval";
                } else {
                    r.message = why.empty() ? "counts for " + what + ", waiting here (" +
                                                  st.waiting->reason + ")"
                                            : why;
                }
            } else if (!r.digest.empty() && (r.digest == st.digest || r.digest == in_canary)) {
                r.message = reject_it
                                ? "rejects " + what + ", which already runs here"
                                : (why.empty() ? "approved " + what + ", which runs here" : why);
            } else if (!r.digest.empty() && history_of(plan.status, r.digest, es.name)) {
                r.message =
                    (reject_it ? "rejected " : "approved ") + what + ", promoted here before";
            } else {
                r.message = "ignored: " + r.digest + " is not waiting in " + es.name;
                event(true, "ApprovalIgnored",
                      (r.source == api::IdentitySource::annotation ? "annotation " : "approval ") +
                          r.name + " is for " + r.digest + " which is not waiting in " + es.name +
                          (waiting.empty() ? std::string(" (nothing waits there)")
                                           : " (" + waiting + " waits there)"));
            }
            if (r.source == api::IdentitySource::managed_fields)
                r.message += "; identity from managedFields (no admission webhook)";
        }
        if (records.size() > kMaxApprovals) records.resize(kMaxApprovals);
        st.approvals = std::move(records);
    }

    void requeue_at(TimePoint when) {
        requeue(std::chrono::duration_cast<std::chrono::milliseconds>(when - now));
    }

    void requeue(std::chrono::milliseconds after) {
        // Timers keep milliseconds: a soak or a canary step ends when it ends, not up to a second
        // later (docs/benchmarks.md, canary decision latency).
        if (after.count() < 1) after = std::chrono::milliseconds(1);
        if (!plan.requeue_after || after < *plan.requeue_after) plan.requeue_after = after;
    }

    void event(bool warning, std::string reason, std::string message) {
        plan.events.push_back(Event{warning, std::move(reason), std::move(message)});
    }

    /// Step 1: compare what git pins with what we last pinned; adopt, hold or release.
    void reconcile_git(const EnvironmentSpec& es, EnvironmentStatus& st,
                       const EnvironmentObservation& o) {
        bool pinned = !o.pinned_image.empty();
        // What poetryops last pinned (or adopted): by digest when it has one, else by tag (an
        // adopted tag-only pin).
        bool ours = pinned && (!st.digest.empty() ? o.pinned_digest == st.digest
                                                  : !st.tag.empty() && o.pinned_digest.empty() &&
                                                        o.pinned_tag == st.tag);
        if (ours) {
            if (st.held) {
                st.held = false;
                st.held_image.clear();
                set_phase(st, Phase::syncing, "HoldCleared", "git pins what poetryops pinned again",
                          now);
                event(false, "HoldCleared",
                      es.name + ": git pins " + describe(st.version, st.digest) + " again");
            }
            return;
        }
        bool never_pinned = st.digest.empty() && st.tag.empty();
        if (!pinned && never_pinned) return;  // nothing anywhere yet
        if (pinned && !o.promotion_commit.empty()) {
            // Our own commit whose status write was lost (crash between push and status update).
            adopt(st, app.status, o, o.promotion_commit, "Recovered",
                  "found poetryops' own promotion commit in git", now);
            // Its history entry was lost with the status write: record it, as a rollback when the
            // rollback annotation names that digest.
            const bool recorded = std::any_of(
                plan.status.history.begin(), plan.status.history.end(),
                [&](const api::HistoryEntry& h) { return h.commit == o.promotion_commit; });
            if (!recorded) {
                const bool rollback =
                    app.annotation(api::kRollbackAnnotationPrefix, es.name) == o.pinned_digest;
                api::record_history(
                    plan.status,
                    api::HistoryEntry{
                        es.name, rollback ? api::HistoryKind::rollback : api::HistoryKind::promote,
                        st.version, st.tag, st.digest, o.promotion_commit, now,
                        "recovered: our own commit found in git"},
                    app.spec.history_limit);
            }
            return;
        }
        if (pinned && never_pinned && !st.held) {
            adopt(st, app.status, o, "", "Adopted", "took over what git pins: " + o.pinned_image,
                  now);
            event(false, "Adopted", es.name + ": took over what git pins: " + o.pinned_image);
            return;
        }
        // Someone else changed (or removed) the pin: a hold, unless released for exactly this pin.
        std::string release = app.annotation(api::kReleaseAnnotationPrefix, es.name);
        if (pinned && !release.empty() &&
            (release == o.pinned_digest || release == o.pinned_image || release == o.pinned_tag)) {
            adopt(st, app.status, o, "", "HoldReleased",
                  "hold released; now tracking " + o.pinned_image, now);
            event(false, "HoldReleased", es.name + ": hold released; tracking " + o.pinned_image);
            return;
        }
        std::string what = pinned ? o.pinned_image : std::string("nothing");
        bool new_hold = !st.held || st.held_image != what;
        st.held = true;
        st.held_image = what;
        std::string message =
            "git pins " + what + " instead of " + describe(st.version, st.digest) +
            ", changed outside poetryops; not overwritten. Release with annotation " +
            std::string(api::kReleaseAnnotationPrefix) + es.name + "=" +
            (o.pinned_digest.empty() ? (pinned ? o.pinned_image : std::string("<digest>"))
                                     : o.pinned_digest);
        set_phase(st, Phase::held, pinned ? "ChangedInGit" : "RemovedFromGit", message, now);
        if (new_hold) event(true, std::string(api::kReasonHeld), es.name + ": " + message);
    }

    /// Step 2: health of the digest we pinned moves Syncing -> Healthy or Failed.
    void reconcile_health(const EnvironmentSpec& es, EnvironmentStatus& st,
                          const EnvironmentObservation& o) {
        if (st.held || st.digest.empty()) return;
        HealthKind kind = es.health.kind();
        auto state = kind == HealthKind::none ? HealthState::healthy : o.health.state;
        switch (st.phase) {
            case Phase::pending:
            case Phase::promoting:
            case Phase::syncing: {
                if (state == HealthState::healthy) {
                    set_phase(
                        st, Phase::healthy, "Healthy",
                        kind == HealthKind::none ? "pushed (health gate: none)" : o.health.message,
                        now);
                    event(false, "Healthy",
                          es.name + " runs " + describe(st.version, st.digest) + " and is healthy");
                    return;
                }
                auto timeout = duration_of(es.health.timeout);
                auto waited = st.since ? now - *st.since : std::chrono::system_clock::duration(0);
                if (state == HealthState::degraded || (timeout.count() > 0 && waited >= timeout)) {
                    std::string why =
                        state == HealthState::degraded
                            ? o.health.message
                            : "not healthy within " + api::format_duration(timeout) +
                                  (o.health.message.empty() ? "" : ": " + o.health.message);
                    reject(st, st.digest);
                    set_phase(st, Phase::failed, "HealthCheckFailed", why, now);
                    event(true, "HealthCheckFailed",
                          es.name + ": " + describe(st.version, st.digest) +
                              " failed its health gate: " + why);
                    return;
                }
                st.phase = Phase::syncing;
                st.reason = "Syncing";
                st.message =
                    o.health.message.empty() ? "waiting for the health gate" : o.health.message;
                if (timeout.count() > 0) {
                    requeue(
                        std::chrono::duration_cast<std::chrono::milliseconds>(timeout - waited));
                }
                return;
            }
            case Phase::healthy:
                if (state == HealthState::degraded) {
                    set_phase(st, Phase::syncing, "HealthDegraded", o.health.message, now);
                    event(true, "HealthDegraded", es.name + ": " + o.health.message);
                }
                return;
            case Phase::held:  // hold cleared above but phase not yet moved
                set_phase(st, Phase::syncing, "Syncing", "waiting for the health gate", now);
                return;
            case Phase::failed:
                return;  // stays failed until another digest is promoted or rolled back to
        }
    }

    /// Step 2b: promotion.windows, evaluated now, into status.environments[].window; the plan
    /// comes back when the window next opens or closes.
    void reconcile_window(const EnvironmentSpec& es, EnvironmentStatus& st) {
        if (es.promotion.windows.empty()) {
            st.window.reset();
            return;
        }
        schedule::State w = window_state(es, now, false);
        st.window = api::WindowStatus{w.open, w.next_open, w.next_close, w.why};
        for (const auto& t : {w.next_open, w.next_close}) {
            if (t && *t > now) requeue_at(*t);
        }
    }

    /// Step 3: a rollback annotation pins a digest from this environment's history. Returns true
    /// when it applies (the environment then takes no automatic promotion).
    bool reconcile_rollback(const EnvironmentSpec& es, EnvironmentStatus& st) {
        std::string target = app.annotation(api::kRollbackAnnotationPrefix, es.name);
        if (target.empty()) return false;
        const api::HistoryEntry* h = history_of(app.status, target, es.name);
        if (!h) {
            std::string msg = "ignored " + std::string(api::kRollbackAnnotationPrefix) + es.name +
                              "=" + target + ": that digest never ran in " + es.name;
            event(true, "UnknownRollbackDigest", msg);
            if (!st.held) st.message = msg;
            return false;
        }
        if (st.digest == target) {
            if (st.phase == Phase::healthy || st.phase == Phase::syncing) {
                st.reason = api::kReasonRolledBack;
                st.message = "pinned to " + describe(h->version, target) + " by " +
                             std::string(api::kRollbackAnnotationPrefix) + es.name +
                             "; remove the annotation to resume automatic promotion";
            }
            return true;
        }
        PromoteAction a;
        a.environment = es.name;
        a.kind = api::HistoryKind::rollback;
        a.artifact = Artifact{h->version, h->tag, h->digest, ""};
        a.image = image_reference(app.spec.image.repository, a.artifact);
        a.reason = "rollback requested by annotation " +
                   std::string(api::kRollbackAnnotationPrefix) + es.name;
        if (app.spec.suspend) {
            st.message = "suspended: rollback to " + describe(h->version, target) + " not applied";
            return true;
        }
        if (schedule::State w = window_state(es, now, true); !w.open) {
            // Only windows with blockRollbacks apply to rollbacks.
            st.message = "rollback to " + describe(h->version, target) +
                         " waits for a promotion window (blockRollbacks): " + w.why +
                         opens_at(w.next_open);
            if (w.next_open) requeue_at(*w.next_open);
            return true;
        }
        reject(st, st.digest);
        st.held = false;
        st.held_image.clear();
        set_phase(st, Phase::promoting, "RollingBack",
                  "rolling back to " + describe(h->version, target), now);
        plan.actions.push_back(std::move(a));
        return true;
    }

    /// The chain of environments upstream of `index` (nearest first).
    std::vector<const EnvironmentStatus*> upstream_chain(std::size_t index) {
        std::vector<const EnvironmentStatus*> chain;
        std::set<std::string> seen;
        std::optional<std::string> up = app.spec.upstream_of(index);
        while (up && seen.insert(*up).second) {
            const EnvironmentStatus* s = plan.status.find_environment(*up);
            if (!s) break;
            chain.push_back(s);
            std::optional<std::string> next;
            for (std::size_t j = 0; j < app.spec.environments.size(); ++j) {
                if (app.spec.environments[j].name == *up) next = app.spec.upstream_of(j);
            }
            up = next;
        }
        return chain;
    }

    /// The environment downstream of `es` that soaks what `st` runs with `holdNewer` and has not
    /// taken it yet: `es` keeps its digest until then, or every newer build would restart the
    /// soak. Not when `st`'s digest failed or was rejected, or the downstream is held (it would
    /// never take it).
    const EnvironmentSpec* soaking_downstream(const EnvironmentSpec& es,
                                              const EnvironmentStatus& st) {
        if (st.digest.empty() || st.phase == Phase::failed || st.rejected(st.digest))
            return nullptr;
        for (std::size_t j = 0; j < app.spec.environments.size(); ++j) {
            auto up = app.spec.upstream_of(j);
            const EnvironmentSpec& ds = app.spec.environments[j];
            if (!up || *up != es.name || !ds.promotion.hold_newer ||
                duration_of(ds.promotion.soak).count() <= 0)
                continue;
            const EnvironmentStatus* d = plan.status.find_environment(ds.name);
            if (!d || d->held || d->digest == st.digest || d->rejected(st.digest) ||
                !app.annotation(api::kHoldAnnotationPrefix, ds.name).empty())
                continue;
            return &ds;
        }
        return nullptr;
    }

    /// Step 4: the candidate for this environment and the gates in front of it.
    void reconcile_promotion(std::size_t index, const EnvironmentSpec& es, EnvironmentStatus& st) {
        st.waiting.reset();  // set again below while something waits at a gate
        if (st.held) return;
        std::optional<Artifact> candidate;
        auto chain = upstream_chain(index);
        if (!app.spec.upstream_of(index)) {
            if (!obs.newest) {
                if (st.digest.empty())
                    set_phase(st, Phase::pending, "NoArtifact", "no eligible image yet", now);
                return;
            }
            candidate = obs.newest;
        } else {
            const EnvironmentStatus* up = chain.empty() ? nullptr : chain.front();
            if (!up || up->digest.empty()) {
                if (st.digest.empty())
                    set_phase(st, Phase::pending, "WaitingForUpstream", "upstream runs nothing yet",
                              now);
                return;
            }
            if (up->digest == st.digest) return;
            auto wait = [&](std::string reason, std::string message) {
                if (st.digest.empty()) {
                    set_phase(st, Phase::pending, std::move(reason), std::move(message), now);
                } else if (st.phase == Phase::healthy || st.phase == Phase::failed) {
                    st.message = std::move(message);
                }
            };
            if (up->held) return wait("UpstreamHeld", up->name + " is held");
            if (up->phase != Phase::healthy || !up->since) {
                return wait("WaitingForUpstream", "waiting for " + up->name +
                                                      " to be healthy with " +
                                                      describe(up->version, up->digest));
            }
            auto soak = duration_of(es.promotion.soak);
            auto soaked = now - *up->since;
            if (soaked < soak) {
                auto left = std::chrono::duration_cast<std::chrono::milliseconds>(soak - soaked);
                requeue(left);
                st.waiting = api::WaitingArtifact{up->version, up->tag, up->digest, "Soaking"};
                // The end as a time, not what is left: the message (and so status) stays the same
                // from one reconcile to the next.
                return wait("Soaking", up->name + " soaking " + describe(up->version, up->digest) +
                                           " until " + format_rfc3339(*up->since + soak));
            }
            candidate = Artifact{up->version, up->tag, up->digest, ""};
        }
        if (candidate->digest == st.digest) return;
        if (const EnvironmentSpec* ds = soaking_downstream(es, st)) {
            st.waiting = api::WaitingArtifact{candidate->version, candidate->tag, candidate->digest,
                                              "HeldForDownstream"};
            if (st.phase == Phase::healthy) {
                std::string soaked =
                    st.since ? ", soaked at " +
                                   format_rfc3339(*st.since + duration_of(ds->promotion.soak))
                             : std::string();
                st.message = "keeping " + describe(st.version, st.digest) + " until " + ds->name +
                             " has taken it" + soaked +
                             "; next here: " + describe(candidate->version, candidate->digest);
            }
            return;
        }
        if (st.rejected(candidate->digest)) {
            st.message = describe(candidate->version, candidate->digest) + " was rejected in " +
                         es.name + "; waiting for a newer image";
            return;
        }
        for (const EnvironmentStatus* u : chain) {
            if (u->rejected(candidate->digest)) {
                st.message =
                    describe(candidate->version, candidate->digest) + " was rejected in " + u->name;
                return;
            }
        }
        const std::vector<api::ApprovalRecord> records = approvals_of(es.name);
        for (const auto& r : records) {
            // A rejection blocks the digest here, whether approvals are required or not.
            if (r.decision != api::ApprovalDecision::reject || r.digest != candidate->digest)
                continue;
            st.waiting = api::WaitingArtifact{candidate->version, candidate->tag, candidate->digest,
                                              "Rejected"};
            std::string msg = describe(candidate->version, candidate->digest) +
                              " was rejected in " + es.name + " by " + r.who() + ": " + r.reason +
                              " (PoetryApproval " + r.name + "; delete it to unblock)";
            if (st.digest.empty()) {
                set_phase(st, Phase::pending, "ApprovalRejected", msg, now);
            } else {
                st.message = msg;
            }
            return;
        }
        const bool needs_approval = es.needs_approval();
        std::vector<std::string> approved_by;
        if (needs_approval) {
            const auto& want = es.promotion.approval;
            Tally t = tally(es, records, candidate->digest);
            approved_by = t.who;
            const int need = std::max(want.approvers, 1);
            if (static_cast<int>(t.who.size()) < need) {
                st.waiting =
                    api::WaitingArtifact{candidate->version, candidate->tag, candidate->digest,
                                         std::string(api::kReasonWaitingForApproval)};
                std::string msg = "waiting for approval of " +
                                  describe(candidate->version, candidate->digest) + ": ";
                if (need == 1 && want.groups.empty() && t.who.empty()) {
                    msg += "kubectl poetryops approve " + app.metadata.name + " " + es.name +
                           " (or annotate " + std::string(api::kApproveAnnotationPrefix) + es.name +
                           "=" + candidate->digest + ")";
                } else {
                    msg +=
                        std::to_string(t.who.size()) + " of " + std::to_string(need) + " approvers";
                    if (!want.groups.empty()) msg += " in " + str::join(want.groups, ", ");
                    if (!t.who.empty()) msg += " (" + str::join(t.who, ", ") + ")";
                    msg += "; kubectl poetryops approve " + app.metadata.name + " " + es.name;
                    if (!want.groups.empty()) {
                        std::size_t weak = 0;
                        for (const auto& r : records) {
                            if (r.decision == api::ApprovalDecision::approve &&
                                r.digest == candidate->digest &&
                                r.source != api::IdentitySource::webhook)
                                ++weak;
                        }
                        if (weak > 0)
                            msg += "; " + std::to_string(weak) +
                                   " approval(s) without the admission webhook's identity do not "
                                   "count toward groups (managedFields and the annotation carry "
                                   "no groups)";
                    }
                }
                if (st.digest.empty()) {
                    set_phase(st, Phase::pending, std::string(api::kReasonWaitingForApproval), msg,
                              now);
                } else {
                    st.message = msg;
                }
                return;
            }
        }
        if (st.window && !st.window->open) {
            st.waiting = api::WaitingArtifact{candidate->version, candidate->tag, candidate->digest,
                                              "OutsidePromotionWindow"};
            std::string msg = describe(candidate->version, candidate->digest) +
                              " waits for a promotion window: " + st.window->message +
                              opens_at(st.window->next_open);
            if (st.digest.empty()) {
                set_phase(st, Phase::pending, "OutsidePromotionWindow", msg, now);
            } else {
                st.message = msg;
            }
            return;
        }
        if (es.canary) {
            gated = candidate;  // the canary decides what it does with it (reconcile_canary)
            gated_approved_by = std::move(approved_by);
            return;
        }
        if (app.spec.suspend) {
            st.message =
                "suspended: would promote " + describe(candidate->version, candidate->digest);
            return;
        }
        PromoteAction a;
        a.environment = es.name;
        a.kind = api::HistoryKind::promote;
        a.artifact = *candidate;
        a.image = image_reference(app.spec.image.repository, a.artifact);
        auto up = app.spec.upstream_of(index);
        a.reason = up ? "promoted from " + *up + (needs_approval ? " (approved)" : "")
                      : "newest eligible image" + std::string(needs_approval ? " (approved)" : "");
        a.approved_by = std::move(approved_by);
        set_phase(st, Phase::promoting, "Promoting",
                  "promoting " + describe(candidate->version, candidate->digest), now);
        plan.actions.push_back(std::move(a));
    }

    /// Step 5 (environments with `canary:`): the step machine decides what the canary does with
    /// the gated candidate, or with the canary already in flight.
    void reconcile_canary(const EnvironmentSpec& es, EnvironmentStatus& st,
                          const EnvironmentObservation& o, bool held = false) {
        std::optional<canary::Target> candidate;
        if (gated) candidate = canary::Target{gated->version, gated->tag, gated->digest};
        canary::Input in{es,
                         st,
                         candidate,
                         o.canary,
                         o.canary_health,
                         o.analysis,
                         app.annotation(api::kCanaryAnnotationPrefix, es.name),
                         app.spec.suspend || held,
                         now};
        canary::Step s = canary::step(in);
        for (auto& e : s.events) event(e.warning, std::move(e.reason), std::move(e.message));
        if (s.requeue_after) requeue(*s.requeue_after);
        if (s.passthrough) {
            // Nothing stable to compare against: the first image goes in as a plain promotion.
            PromoteAction a;
            a.environment = es.name;
            a.kind = api::HistoryKind::promote;
            a.artifact = *gated;
            a.image = image_reference(app.spec.image.repository, a.artifact);
            a.reason = "first image of " + es.name + " (no canary without a stable version)";
            a.approved_by = gated_approved_by;
            set_phase(st, Phase::promoting, "Promoting",
                      "promoting " + describe(gated->version, gated->digest), now);
            plan.actions.push_back(std::move(a));
            return;
        }
        const bool changed_phase = st.canary && s.canary && st.canary->phase != s.canary->phase;
        st.canary = s.canary;
        if (!s.message.empty()) st.message = s.message;
        if (s.unavailable) plan.unavailable.push_back(es.name + ": " + s.message);
        if (s.blocked || !o.canary.read_ok) {
            plan.blocked.push_back(es.name + ": " +
                                   (s.message.empty() ? o.canary.read_error : s.message));
        }
        if (changed_phase && (s.canary->phase == api::CanaryPhase::paused ||
                              (s.canary->phase == api::CanaryPhase::progressing && !s.action))) {
            // A manual pause or resume leaves a history entry (abort and promote do when their
            // commit lands).
            api::record_history(
                plan.status,
                api::HistoryEntry{es.name, api::HistoryKind::canary, s.canary->version,
                                  s.canary->tag, s.canary->digest, s.canary->commit, now,
                                  s.canary->phase == api::CanaryPhase::paused
                                      ? "canary paused by annotation"
                                      : "canary resumed"},
                app.spec.history_limit);
        }
        if (s.adopted && s.canary) {
            // The machine's own abort or completion, whose status write was lost.
            if (s.reject) {
                reject(st, s.canary->digest);
                set_phase(st, Phase::failed, std::string(api::kReasonCanaryAborted), s.message,
                          now);
            }
            api::record_history(
                plan.status,
                api::HistoryEntry{
                    es.name, api::HistoryKind::canary, s.canary->version, s.canary->tag,
                    s.canary->digest, s.canary->commit, now,
                    s.reject ? "canary aborted (found in git)" : "canary completed (found in git)"},
                app.spec.history_limit);
        }
        if (!s.action) return;
        const canary::Action& ca = *s.action;
        if (ca.kind == canary::ActionKind::analyze) {
            plan.analyze.push_back(es.name);
            return;
        }
        PromoteAction a;
        a.environment = es.name;
        a.artifact = Artifact{ca.target.version, ca.target.tag, ca.target.digest, ""};
        a.reason = ca.reason;
        a.canary = ca;
        // The canary's steps carry who approved what they roll out (an abort pins the stable).
        if (gated && ca.kind != canary::ActionKind::abort && ca.target.digest == gated->digest)
            a.approved_by = gated_approved_by;
        switch (ca.kind) {
            case canary::ActionKind::complete:
                a.kind = api::HistoryKind::promote;
                a.image = image_reference(app.spec.image.repository, a.artifact);
                set_phase(
                    st, Phase::promoting, "Promoting",
                    "canary passed; promoting " + describe(ca.target.version, ca.target.digest),
                    now);
                break;
            case canary::ActionKind::abort:
                a.kind = api::HistoryKind::canary;
                a.image = image_reference(app.spec.image.repository,
                                          Artifact{st.version, st.tag, st.digest, ""});
                reject(st, ca.target.digest);
                set_phase(st, Phase::failed, std::string(api::kReasonCanaryAborted), s.message,
                          now);
                break;
            case canary::ActionKind::deploy:
                // A new canary: the environment is no longer the one whose last canary failed (it
                // runs its stable digest).
                if (st.phase == Phase::failed && st.reason == api::kReasonCanaryAborted)
                    set_phase(st, Phase::healthy, "CanaryProgressing", s.message, now);
                a.kind = api::HistoryKind::canary;
                a.image = image_reference(app.spec.image.repository, a.artifact);
                break;
            default:
                a.kind = api::HistoryKind::canary;
                a.image = image_reference(app.spec.image.repository, a.artifact);
                break;
        }
        plan.actions.push_back(std::move(a));
    }
};

/// `unreadable`: (reason, message) of each environment whose file could not be read.
void update_ready(api::PoetryAppStatus& status, const api::PoetryApp& app, TimePoint now,
                  const std::vector<std::string>& blocked,
                  const std::vector<std::pair<std::string, std::string>>& unreadable) {
    std::string bad_reason, bad_message;
    if (!unreadable.empty()) {
        // What git holds for it is unknown: an environment that cannot be read is never Ready.
        bad_reason = unreadable.front().first;
        bad_message = unreadable.front().second;
    }
    for (const auto& st : status.environments) {
        if (!bad_reason.empty()) break;
        if (st.phase == Phase::held || st.phase == Phase::failed) {
            bad_reason =
                st.phase == Phase::held ? std::string(api::kReasonHeld) : "PromotionFailed";
            bad_message = st.name + ": " + st.message;
            break;
        }
    }
    if (bad_reason.empty() && !blocked.empty()) {
        // A canary that cannot go on as configured: its route, workload or analysis.
        bad_reason = "CanaryBlocked";
        bad_message = blocked.front();
    }
    const bool ok = bad_reason.empty();
    api::Condition c = api::make_condition(
        api::kConditionReady, ok, ok ? std::string(api::kReasonAsExpected) : bad_reason,
        ok ? std::string("every environment is on its pipeline") : bad_message,
        app.metadata.generation);
    api::set_condition(status.conditions, std::move(c), now);
}

}  // namespace

Plan plan(const api::PoetryApp& app, const Observations& observations, TimePoint now) {
    Plan p;
    p.status = app.status;
    std::vector<EnvironmentStatus> envs;
    for (const auto& es : app.spec.environments) {
        const EnvironmentStatus* old = app.status.find_environment(es.name);
        EnvironmentStatus st = old ? *old : EnvironmentStatus{};
        st.name = es.name;
        envs.push_back(std::move(st));
    }
    p.status.environments = std::move(envs);

    EnvPlanner planner{app, observations, now, p};
    std::vector<std::pair<std::string, std::string>> unreadable;
    for (std::size_t i = 0; i < app.spec.environments.size(); ++i) {
        const EnvironmentSpec& es = app.spec.environments[i];
        EnvironmentStatus& st = p.status.environments[i];
        auto it = observations.environments.find(es.name);
        if (it == observations.environments.end())
            continue;  // not observed this time: leave as it was
        const EnvironmentObservation& o = it->second;
        if (!o.read_ok) {
            st.message = "cannot read the GitOps repo: " + o.read_error;
            unreadable.emplace_back(o.read_reason.empty() ? "GitOpsUnavailable" : o.read_reason,
                                    es.name + ": " + st.message);
            continue;
        }
        planner.reconcile_git(es, st, o);
        planner.reconcile_health(es, st, o);
        planner.reconcile_window(es, st);
        if (planner.reconcile_rollback(es, st)) continue;
        planner.gated.reset();
        const std::string hold = app.annotation(api::kHoldAnnotationPrefix, es.name);
        if (!hold.empty() && !st.held) {
            // Held by a person: nothing new here; a canary in flight stays where it is.
            if (es.canary) planner.reconcile_canary(es, st, o, true);
            const bool canary_live =
                st.canary && (st.canary->phase == api::CanaryPhase::progressing ||
                              st.canary->phase == api::CanaryPhase::paused);
            st.message = "held by " + std::string(api::kHoldAnnotationPrefix) + es.name + " (" +
                         hold + "): no promotion into " + es.name +
                         (canary_live ? " and the canary of " +
                                            describe(st.canary->version, st.canary->digest) +
                                            " stays at " + std::to_string(st.canary->weight) + "%"
                                      : std::string()) +
                         " until the annotation is removed";
            continue;
        }
        planner.reconcile_promotion(i, es, st);
        const bool closed = st.window && !st.window->open;
        if (es.canary && !st.held) planner.reconcile_canary(es, st, o, closed);
        if (closed && st.canary &&
            (st.canary->phase == api::CanaryPhase::progressing ||
             st.canary->phase == api::CanaryPhase::paused)) {
            st.message = "canary of " + describe(st.canary->version, st.canary->digest) +
                         " holds at " + std::to_string(st.canary->weight) +
                         "% outside the promotion window: " + st.window->message +
                         opens_at(st.window->next_open);
        }
        planner.report_approvals(es, st);
    }
    for (const auto& [env, records] : observations.approvals) {
        if (app.spec.find_environment(env)) continue;
        for (const auto& r : records) {
            planner.event(true, "ApprovalIgnored",
                          "approval " + r.name + " names environment \"" + env + "\", which " +
                              app.metadata.name + " does not have");
        }
    }
    update_ready(p.status, app, now, p.blocked, unreadable);
    p.status.summary = api::make_summary(app.spec, p.status);
    return p;
}

namespace {

/// The history entry of a committed action.
api::HistoryEntry entry_of(const PromoteAction& action, const std::string& commit, TimePoint now,
                           std::string reason) {
    return api::HistoryEntry{action.environment,
                             action.kind,
                             action.artifact.version,
                             action.artifact.tag,
                             action.artifact.digest,
                             commit,
                             now,
                             std::move(reason)};
}

}  // namespace

void record_promotion(api::PoetryAppStatus& status, const api::PoetryAppSpec& spec,
                      const PromoteAction& action, const std::string& commit, TimePoint now) {
    EnvironmentStatus* st = status.find_environment(action.environment);
    const EnvironmentSpec* es = spec.find_environment(action.environment);
    if (!st || !es) return;
    if (action.canary) {
        if (st->canary) canary::record(*st->canary, *action.canary, commit, now);
        if (action.canary->kind != canary::ActionKind::complete) {
            if (action.canary->kind == canary::ActionKind::abort) {
                api::record_history(
                    status, entry_of(action, commit, now, "canary aborted: " + action.reason),
                    spec.history_limit);
            }
            status.summary = api::make_summary(spec, status);
            return;
        }
    }
    st->version = action.artifact.version;
    st->tag = action.artifact.tag;
    st->digest = action.artifact.digest;
    st->commit = commit;
    st->held = false;
    st->held_image.clear();
    bool rollback = action.kind == api::HistoryKind::rollback;
    std::string what = describe(action.artifact.version, action.artifact.digest);
    if (es->health.kind() == HealthKind::none) {
        set_phase(*st, Phase::healthy,
                  std::string(rollback ? api::kReasonRolledBack : api::kReasonPromoted),
                  (rollback ? "rolled back to " : "runs ") + what + " (health gate: none)", now);
        st->since = now;
    } else {
        set_phase(*st, Phase::syncing, "Syncing",
                  "committed " + commit.substr(0, 12) + "; waiting for the health gate", now);
        st->since = now;
    }
    api::record_history(status, entry_of(action, commit, now, action.reason), spec.history_limit);
    status.summary = api::make_summary(spec, status);
}

void record_failure(api::PoetryAppStatus& status, const api::PoetryAppSpec& spec,
                    const PromoteAction& action, const std::string& message, TimePoint now) {
    EnvironmentStatus* st = status.find_environment(action.environment);
    if (!st) return;
    Phase back = st->digest.empty() ? Phase::pending : Phase::syncing;
    set_phase(*st, back, "CommitFailed",
              "could not commit " + describe(action.artifact.version, action.artifact.digest) +
                  ": " + message,
              now);
    status.summary = api::make_summary(spec, status);
}

std::string image_reference(const std::string& repository, const Artifact& artifact) {
    std::string ref = repository;
    if (!artifact.tag.empty()) ref += ":" + artifact.tag;
    if (!artifact.digest.empty()) ref += "@" + artifact.digest;
    return ref;
}

}  // namespace poetryops::promote

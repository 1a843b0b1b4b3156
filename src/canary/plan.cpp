#include <poetryops/canary/plan.hpp>

#include <poetryops/api/duration.hpp>
#include <poetryops/util/clock.hpp>

#include <algorithm>
#include <sstream>

namespace poetryops::canary {

namespace {

using std::chrono::milliseconds;
using Phase = api::CanaryPhase;

std::string short_digest(const std::string& digest) {
    auto colon = digest.find(':');
    std::string hex = colon == std::string::npos ? digest : digest.substr(colon + 1);
    return hex.substr(0, 12);
}

std::string describe(const Target& t) {
    return (t.version.empty() ? std::string("image") : t.version) + " (" + short_digest(t.digest) +
           ")";
}

milliseconds duration_of(const api::Duration& d) {
    auto ms = api::parse_duration(d.text);
    return ms ? *ms : milliseconds(0);
}

std::string format_wait(milliseconds left) { return api::format_duration(left); }

std::string metric_values(const std::vector<api::MetricResult>& metrics) {
    std::ostringstream out;
    for (const auto& m : metrics) {
        if (out.tellp() > 0) out << ' ';
        out << m.name << '=';
        if (m.value) {
            out << *m.value;
        } else {
            out << "none";
        }
    }
    return out.str();
}

const char* verdict_word(api::AnalysisVerdict v) {
    switch (v) {
        case api::AnalysisVerdict::pass: return "pass";
        case api::AnalysisVerdict::fail: return "fail";
        case api::AnalysisVerdict::inconclusive: return "inconclusive";
    }
    return "inconclusive";
}

/// A round's verdict from its metrics: any fail fails, else any inconclusive is inconclusive.
api::AnalysisVerdict overall(const std::vector<api::MetricResult>& metrics) {
    if (metrics.empty()) return api::AnalysisVerdict::inconclusive;
    auto v = api::AnalysisVerdict::pass;
    for (const auto& m : metrics) {
        if (m.verdict == api::AnalysisVerdict::fail) return api::AnalysisVerdict::fail;
        if (m.verdict == api::AnalysisVerdict::inconclusive) v = api::AnalysisVerdict::inconclusive;
    }
    return v;
}

/// The one planning pass over an environment's canary.
struct Planner {
    const Input& in;
    const api::CanarySpec& spec;
    Step out;

    Target target_of(const api::CanaryStatus& c) const { return {c.version, c.tag, c.digest}; }
    int steps() const { return static_cast<int>(spec.steps.size()); }

    void event(bool warning, std::string reason, std::string message) {
        out.events.push_back({warning, std::move(reason), in.env.name + ": " + std::move(message)});
    }
    void requeue(milliseconds after) {
        if (after.count() <= 0) after = milliseconds(1000);
        if (!out.requeue_after || after < *out.requeue_after) out.requeue_after = after;
    }
    Action act(ActionKind kind, const api::CanaryStatus& c, std::string verdict,
               std::string reason) const {
        Action a;
        a.kind = kind;
        a.target = target_of(c);
        a.steps = steps();
        a.step = c.weight == 0 ? 0 : c.step + 1;
        a.weight = c.weight;
        a.stable_digest = in.status.digest;
        a.verdict = std::move(verdict);
        a.reason = std::move(reason);
        a.metrics = metric_values(c.analysis);
        return a;
    }

    void start(const Target& t, const std::string& why) {
        api::CanaryStatus c;
        c.phase = Phase::progressing;
        c.version = t.version;
        c.tag = t.tag;
        c.digest = t.digest;
        c.started = in.now;
        c.message = "deploying the canary workload";
        Action a = act(ActionKind::deploy, c, "start", why);
        a.weight = 0;
        out.action = std::move(a);
        out.message = "canary " + describe(t) + ": deploying " + spec.effective_workload();
        out.canary = std::move(c);
        event(false, "CanaryStarted", "canary of " + describe(t) + " started (" + why + ")");
    }

    void abort(api::CanaryStatus& c, const std::string& why, const std::string& verdict) {
        Action a = act(ActionKind::abort, c, verdict, why);
        a.weight = 0;
        out.action = std::move(a);
        out.reject = true;
        c.message = why;  // the phase turns Aborted when the commit lands (record)
        out.message = "canary of " + describe(target_of(c)) + " aborted: " + why;
        event(true, std::string(api::kReasonCanaryAborted), out.message);
    }

    void complete(api::CanaryStatus& c, const std::string& why, const std::string& verdict) {
        Action a = act(ActionKind::complete, c, verdict, why);
        a.weight = 0;
        out.action = std::move(a);
        c.message = why;  // the phase turns Succeeded when the commit lands (record)
        out.message = "canary of " + describe(target_of(c)) + " completed: " + why;
        event(false, "CanaryCompleted", out.message);
    }

    void shift(api::CanaryStatus& c, int index, const std::string& why,
               const std::string& verdict) {
        Action a = act(ActionKind::shift, c, verdict, why);
        a.step = index + 1;
        a.weight = spec.steps[static_cast<std::size_t>(index)].weight;
        out.message = "canary " + describe(target_of(c)) + ": shifting to " +
                      std::to_string(a.weight) + "% (step " + std::to_string(a.step) + "/" +
                      std::to_string(steps()) + ")";
        event(false, "CanaryStep", out.message + ": " + why);
        c.message = out.message;
        out.action = std::move(a);
    }

    /// Applies an analysis round to the counts; true when the canary must abort.
    bool apply(api::CanaryStatus& c, const Analysis& round, std::string& why) {
        if (round.unavailable) {
            out.unavailable = true;
            why = "analysis unavailable: " + round.message;
            c.message = why;
            return spec.analysis->on_unavailable == api::OnUnavailable::abort;
        }
        c.last_analysis = in.now;
        c.analysis = round.metrics;
        switch (round.verdict) {
            case api::AnalysisVerdict::pass: c.inconclusive = 0; break;
            case api::AnalysisVerdict::fail:
                ++c.failures;
                c.inconclusive = 0;
                event(true, "CanaryCheckFailed",
                      "check failed at " + std::to_string(c.weight) + "% (" +
                          std::to_string(c.failures) + "/" +
                          std::to_string(spec.analysis->failure_limit) +
                          "): " + metric_values(round.metrics));
                break;
            case api::AnalysisVerdict::inconclusive:
                if (++c.inconclusive >= spec.analysis->inconclusive_limit) {
                    ++c.failures;
                    c.inconclusive = 0;
                    event(true, "CanaryCheckFailed",
                          std::to_string(spec.analysis->inconclusive_limit) +
                              " inconclusive checks in a row count as a failure (" +
                              std::to_string(c.failures) + "/" +
                              std::to_string(spec.analysis->failure_limit) + ")");
                }
                break;
        }
        if (c.failures >= spec.analysis->failure_limit) {
            why = std::to_string(c.failures) + " failed checks at " + std::to_string(c.weight) +
                  "%: " + metric_values(round.metrics);
            return true;
        }
        return false;
    }

    /// The canary's last round at this step passed (the round of this plan included). Only a round
    /// strictly after the step began counts: status keeps whole seconds (RFC 3339), so the round
    /// that shifted to this step, measured just before its commit, reads back as the same second
    /// as stepStarted; a round of this step comes at least one interval (>= 1 s) later.
    bool passed_here(const api::CanaryStatus& c) const {
        if (!c.last_analysis || !c.step_started || *c.last_analysis <= *c.step_started) {
            return false;
        }
        return overall(c.analysis) == api::AnalysisVerdict::pass;
    }

    /// Takes the machine's own write that git shows (its status write was lost) as done; false
    /// when git shows something it does not account for.
    bool adopt(api::CanaryStatus& c) {
        if (!in.git.own) return false;
        const OwnWrite& own = *in.git.own;
        const TrailerFacts& f = own.facts;
        const ActionKind kind = f.action.value_or(ActionKind::shift);
        const std::string commit = own.commit.empty() ? c.commit : own.commit;
        auto adopted = [&](const std::string& what) {
            event(false, "CanaryAdopted",
                  "took " + what +
                      (own.commit.empty() ? std::string(" on the live route")
                                          : " in " + own.commit.substr(0, 12)) +
                      " as done (its status write was lost)");
        };
        switch (kind) {
            case ActionKind::shift:
            case ActionKind::deploy: {
                if (f.digest != in.git.canary_digest || f.weight != in.git.canary_weight)
                    return false;
                if (f.digest != c.digest) {
                    // A deploy that superseded the canary in status.
                    if (kind != ActionKind::deploy || f.weight != 0) return false;
                    api::CanaryStatus next;
                    next.phase = Phase::progressing;
                    next.digest = f.digest;
                    if (in.candidate && in.candidate->digest == f.digest) {
                        next.version = in.candidate->version;
                        next.tag = in.candidate->tag;
                    }
                    next.started = in.now;
                    c = std::move(next);
                }
                c.commit = commit;
                c.weight = f.weight;
                c.step = std::clamp(f.step - 1, 0, std::max(0, steps() - 1));
                c.step_started = in.now;
                adopted(std::string(to_string(kind)) + " to " + std::to_string(f.weight) + "%");
                return true;
            }
            case ActionKind::abort:
                // The canary workload is back on the stable digest, at weight 0.
                if (f.digest != c.digest || in.git.canary_weight != 0 ||
                    in.git.canary_digest != in.status.digest)
                    return false;
                c.commit = commit;
                c.weight = 0;
                c.phase = Phase::aborted;
                out.reject = true;
                out.adopted = true;
                out.message = "canary of " + describe(target_of(c)) + " aborted" +
                              (c.message.empty() ? std::string() : ": " + c.message);
                adopted("the abort");
                return true;
            case ActionKind::complete:
                // The stable workload runs the digest (promotion adopted it), canary weight 0.
                if (f.digest != c.digest || in.git.canary_weight != 0 ||
                    in.git.canary_digest != c.digest || in.status.digest != c.digest)
                    return false;
                c.commit = commit;
                c.weight = 0;
                c.phase = Phase::succeeded;
                out.adopted = true;
                adopted("the completion");
                return true;
            case ActionKind::analyze: break;
        }
        return false;
    }

    void run() {
        const api::EnvironmentStatus& st = in.status;
        const bool active = st.canary && (st.canary->phase == Phase::progressing ||
                                          st.canary->phase == Phase::paused);
        out.canary = st.canary;
        if (!active) {
            if (!in.candidate || in.candidate->digest == st.digest) return;
            if (st.digest.empty()) {
                out.passthrough = true;  // nothing stable to compare against: the first image
                return;
            }
            if (in.suspended) {
                out.message = "suspended: would start a canary of " + describe(*in.candidate);
                return;
            }
            if (!in.git.read_ok) {
                out.blocked = true;
                out.message = "cannot start a canary: " + in.git.read_error;
                return;
            }
            start(*in.candidate, "new image for " + in.env.name);
            return;
        }

        api::CanaryStatus& c = *out.canary;
        const Target current = target_of(c);
        if (!in.git.read_ok) {
            out.blocked = true;
            out.message = "canary " + describe(current) + " holds: " + in.git.read_error;
            return;
        }

        // Manual control, bound to the digest it names.
        auto ctl = parse_control(in.control);
        if (!in.control.empty() && (!ctl || ctl->digest != c.digest)) {
            event(true, "CanaryControlIgnored",
                  "ignored " + std::string(api::kCanaryAnnotationPrefix) + in.env.name + "=" +
                      in.control + ": the canary is " + c.digest +
                      " (expected pause|resume|abort|promote@<digest>)");
            ctl.reset();
        }
        if (ctl && ctl->verb == Control::Verb::abort) {
            abort(c, "aborted by annotation", "manual");
            return;
        }

        // What git shows against what status recorded.
        if (!c.commit.empty() &&
            (in.git.canary_weight != c.weight || in.git.canary_digest != c.digest)) {
            if (!adopt(c)) {
                out.held = true;
                out.message = "canary " + describe(current) + " holds: " + in.git.weights_from +
                              " gives the canary " + std::to_string(in.git.canary_weight) +
                              "% and git pins " +
                              (in.git.canary_digest.empty() ? std::string("no digest")
                                                            : short_digest(in.git.canary_digest)) +
                              " on " + spec.effective_workload() + ", changed outside poetryops " +
                              "(poetryops left " + std::to_string(c.weight) +
                              "%); not overwritten. Abort with " +
                              std::string(api::kCanaryAnnotationPrefix) + in.env.name + "=abort@" +
                              c.digest;
                c.message = out.message;
                return;
            }
            if (c.phase == Phase::aborted || c.phase == Phase::succeeded) return;
        }
        if (c.commit.empty()) {
            // The deploy was decided but never committed (the commit failed): again.
            Action a = act(ActionKind::deploy, c, "start", "new image for " + in.env.name);
            a.weight = 0;
            out.action = std::move(a);
            out.message =
                "canary " + describe(current) + ": deploying " + spec.effective_workload();
            return;
        }
        if (ctl && ctl->verb == Control::Verb::promote) {
            complete(c, "promoted by annotation", "manual");
            return;
        }
        if (ctl && ctl->verb == Control::Verb::pause) {
            if (c.phase != Phase::paused) {
                event(false, "CanaryPaused",
                      "canary of " + describe(current) + " paused at " + std::to_string(c.weight) +
                          "% by annotation");
            }
            c.phase = Phase::paused;
            c.message = "paused by annotation; resume with " +
                        std::string(api::kCanaryAnnotationPrefix) + in.env.name + "=resume@" +
                        c.digest;
            out.message = "canary " + describe(current) + " at " + std::to_string(c.weight) +
                          "%: " + c.message;
            return;
        }
        if (c.phase == Phase::paused) {
            c.phase = Phase::progressing;
            event(
                false, "CanaryResumed",
                "canary of " + describe(current) + " resumed at " + std::to_string(c.weight) + "%");
        }
        if (in.suspended) {
            out.message = "suspended: canary " + describe(current) + " holds at " +
                          std::to_string(c.weight) + "%";
            return;
        }

        // A newer candidate replaces the canary (counts start again).
        if (in.candidate && in.candidate->digest != c.digest && in.candidate->digest != st.digest) {
            event(false, "CanarySuperseded",
                  "canary of " + describe(current) + " superseded by " + describe(*in.candidate));
            start(*in.candidate, "superseded " + describe(current));
            return;
        }

        // The last commit first has to be healthy.
        const int weight = c.weight;
        if (in.health.state == Health::degraded) {
            abort(c, "not healthy at " + std::to_string(weight) + "%: " + in.health.message,
                  "fail");
            return;
        }
        if (in.health.state == Health::waiting) {
            auto timeout = duration_of(in.env.health.timeout);
            auto waited = c.step_started
                              ? std::chrono::duration_cast<milliseconds>(in.now - *c.step_started)
                              : milliseconds(0);
            if (timeout.count() > 0 && waited >= timeout) {
                abort(c,
                      "not healthy within " + format_wait(timeout) + " at " +
                          std::to_string(weight) + "%" +
                          (in.health.message.empty() ? "" : ": " + in.health.message),
                      "fail");
                return;
            }
            if (timeout.count() > 0) requeue(timeout - waited);
            out.message = "canary " + describe(current) + " at " + std::to_string(weight) +
                          "%: waiting for the health gate" +
                          (in.health.message.empty() ? "" : " (" + in.health.message + ")");
            return;
        }
        // Analysis that cannot run as configured holds the canary, counting nothing.
        if (in.analysis && !in.analysis->invalid.empty()) {
            out.blocked = true;
            out.message = "canary " + describe(current) + " holds at " + std::to_string(weight) +
                          "%: its analysis cannot run: " + in.analysis->invalid;
            c.message = out.message;
            event(true, "CanaryAnalysisInvalid", out.message);
            requeue(duration_of(spec.analysis->interval));
            return;
        }
        if (weight == 0) {
            if (spec.analysis) {
                // Before any traffic: one round proves every query runs (a query Prometheus
                // refuses holds the canary at 0 %); its verdicts mean nothing without traffic.
                const bool checked =
                    c.last_analysis && c.step_started && *c.last_analysis >= *c.step_started;
                if (in.analysis) {
                    std::string why;
                    if (in.analysis->unavailable) {
                        if (apply(c, *in.analysis, why)) {
                            abort(c, why, "unavailable");
                        } else {
                            out.message = "canary " + describe(current) + " holds at 0%: " + why;
                            requeue(duration_of(spec.analysis->interval));
                        }
                        return;
                    }
                    c.last_analysis = in.now;
                } else if (!checked) {
                    out.action = act(ActionKind::analyze, c, "",
                                     "checking the analysis queries before any traffic");
                    return;
                }
            }
            shift(c, 0, "the canary workload is healthy", "start");
            return;
        }

        // At a step: analysis rounds, then the pause.
        const auto& current_step = spec.steps[static_cast<std::size_t>(c.step)];
        const auto started = c.step_started ? *c.step_started : in.now;
        if (spec.analysis) {
            auto interval = duration_of(spec.analysis->interval);
            if (in.analysis) {
                std::string why;
                if (apply(c, *in.analysis, why)) {
                    abort(c, why, in.analysis->unavailable ? "unavailable" : "fail");
                    return;
                }
                if (in.analysis->unavailable) {
                    out.message = "canary " + describe(current) + " holds at " +
                                  std::to_string(weight) + "%: " + why;
                    requeue(interval);
                    return;
                }
            } else {
                auto since =
                    c.last_analysis && *c.last_analysis > started ? *c.last_analysis : started;
                auto waited = std::chrono::duration_cast<milliseconds>(in.now - since);
                if (waited >= interval) {
                    out.action = act(ActionKind::analyze, c, "", "analysis interval passed");
                    return;
                }
                requeue(interval - waited);
            }
        }
        auto pause = duration_of(current_step.pause);
        auto at_step = std::chrono::duration_cast<milliseconds>(in.now - started);
        const bool analysed = !spec.analysis || passed_here(c);
        std::string verdict = spec.analysis ? "pass" : "pause";
        if (at_step >= pause && analysed) {
            std::string why = spec.analysis
                                  ? "checks passed at " + std::to_string(weight) +
                                        "%: " + metric_values(c.analysis)
                                  : format_wait(pause) + " at " + std::to_string(weight) + "%";
            if (c.step + 1 < steps()) {
                shift(c, c.step + 1, why, verdict);
            } else {
                complete(c, why, verdict);
            }
            return;
        }
        if (at_step < pause) requeue(pause - at_step);
        std::string state = "canary " + describe(current) + " at " + std::to_string(weight) +
                            "% (step " + std::to_string(c.step + 1) + "/" +
                            std::to_string(steps()) + ")";
        // The pause's end as a time, not what is left: status stays the same between rounds.
        if (at_step < pause) state += ": pause until " + format_rfc3339(started + pause);
        if (spec.analysis) {
            state += c.analysis.empty()
                         ? "; no check yet at this step"
                         : "; last check " + std::string(verdict_word(overall(c.analysis))) + ": " +
                               metric_values(c.analysis);
        }
        out.message = state;
        c.message = state;
    }
};

}  // namespace

Step step(const Input& in) {
    Planner p{in, *in.env.canary, {}};
    p.run();
    return std::move(p.out);
}

void record(api::CanaryStatus& canary, const Action& action, const std::string& commit,
            TimePoint now) {
    canary.commit = commit;
    canary.weight = action.weight;
    canary.step_started = now;
    switch (action.kind) {
        case ActionKind::deploy:
            canary.step = 0;
            canary.failures = 0;
            canary.inconclusive = 0;
            canary.analysis.clear();
            canary.last_analysis.reset();
            break;
        case ActionKind::shift: canary.step = std::max(0, action.step - 1); break;
        case ActionKind::complete: canary.phase = api::CanaryPhase::succeeded; break;
        case ActionKind::abort: canary.phase = api::CanaryPhase::aborted; break;
        case ActionKind::analyze: break;
    }
}

const char* to_string(ActionKind kind) {
    switch (kind) {
        case ActionKind::deploy: return "deploy";
        case ActionKind::shift: return "shift";
        case ActionKind::complete: return "complete";
        case ActionKind::abort: return "abort";
        case ActionKind::analyze: return "analyze";
    }
    return "shift";
}

std::string trailer(const std::string& app_key, const std::string& env, const Action& action) {
    std::string out = app_key + "/" + env + "/" + action.target.digest;
    out += " action=" + std::string(to_string(action.kind));
    out += " step=" + std::to_string(action.step) + "/" + std::to_string(action.steps);
    out += " weight=" + std::to_string(action.weight);
    if (!action.verdict.empty()) out += " verdict=" + action.verdict;
    return out;
}

std::optional<TrailerFacts> parse_trailer(const std::string& value) {
    std::istringstream in(value);
    TrailerFacts f;
    if (!(in >> f.subject)) return std::nullopt;
    auto slash = f.subject.rfind('/');
    if (slash == std::string::npos || slash + 1 == f.subject.size()) return std::nullopt;
    f.digest = f.subject.substr(slash + 1);
    auto number = [](const std::string& text, int& out) {
        try {
            std::size_t used = 0;
            out = std::stoi(text, &used);
            return used == text.size();
        } catch (...) {
            return false;
        }
    };
    bool has_weight = false;
    for (std::string field; in >> field;) {
        if (field.rfind("weight=", 0) == 0) {
            if (!number(field.substr(7), f.weight)) return std::nullopt;
            has_weight = true;
        } else if (field.rfind("step=", 0) == 0) {
            std::string v = field.substr(5);
            if (!number(v.substr(0, v.find('/')), f.step)) return std::nullopt;
        } else if (field.rfind("action=", 0) == 0) {
            std::string v = field.substr(7);
            for (auto k :
                 {ActionKind::deploy, ActionKind::shift, ActionKind::complete, ActionKind::abort}) {
                if (v == to_string(k)) f.action = k;
            }
            if (!f.action) return std::nullopt;
        }
    }
    if (!has_weight) return std::nullopt;
    return f;
}

std::optional<Control> parse_control(const std::string& value) {
    auto at = value.find('@');
    if (at == std::string::npos) return std::nullopt;
    std::string verb = value.substr(0, at);
    Control c;
    c.digest = value.substr(at + 1);
    if (c.digest.rfind("sha256:", 0) != 0 || c.digest.size() != 71) return std::nullopt;
    if (verb == "pause") {
        c.verb = Control::Verb::pause;
    } else if (verb == "resume") {
        c.verb = Control::Verb::resume;
    } else if (verb == "abort") {
        c.verb = Control::Verb::abort;
    } else if (verb == "promote") {
        c.verb = Control::Verb::promote;
    } else {
        return std::nullopt;
    }
    return c;
}

}  // namespace poetryops::canary

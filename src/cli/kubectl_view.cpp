// `kubectl poetryops`: the decisions read from a PoetryApp's spec and status (no I/O). They follow
// the promotion engine's rules (src/promote/plan.cpp) and the canary's control annotation
// (src/canary/plan.cpp), so the plugin writes exactly the values those read.
#include <poetryops/cli/kubectl.hpp>

#include <poetryops/api/duration.hpp>
#include <poetryops/util/clock.hpp>
#include <poetryops/util/strings.hpp>

#include <algorithm>

namespace poetryops::cli::kubectl {

namespace {

using api::Phase;

std::chrono::milliseconds duration_of(const api::Duration& d) {
    if (d.value.count() > 0 || d.text.empty()) return d.value;
    return api::parse_duration(d.text).value_or(std::chrono::milliseconds(0));
}

std::size_t index_of(const api::PoetryApp& app, std::string_view env) {
    for (std::size_t i = 0; i < app.spec.environments.size(); ++i) {
        if (app.spec.environments[i].name == env) return i;
    }
    return app.spec.environments.size();
}

/// A duration for people: "4m30s", "2h5m", "3d4h".
std::string span(std::chrono::seconds s) {
    if (s.count() < 0) s = std::chrono::seconds(0);
    long long t = s.count();
    long long d = t / 86400, h = (t % 86400) / 3600, m = (t % 3600) / 60, sec = t % 60;
    if (d > 0) return std::to_string(d) + "d" + (h ? std::to_string(h) + "h" : "");
    if (h > 0) return std::to_string(h) + "h" + (m ? std::to_string(m) + "m" : "");
    if (m > 0) return std::to_string(m) + "m" + (sec ? std::to_string(sec) + "s" : "");
    return std::to_string(sec) + "s";
}

std::string until(TimePoint at, TimePoint now) {
    return "until " + format_rfc3339(at) + " (" +
           span(std::chrono::duration_cast<std::chrono::seconds>(at - now)) + " left)";
}

bool canary_running(const api::EnvironmentStatus* st) {
    return st && st->canary &&
           (st->canary->phase == api::CanaryPhase::progressing ||
            st->canary->phase == api::CanaryPhase::paused);
}

/// "canary of 1.4.2 (sha256:…) at 25% (step 2/3)".
std::string canary_line(const api::EnvironmentSpec& es, const api::CanaryStatus& c) {
    std::size_t steps = es.canary ? es.canary->steps.size() : 0;
    return "canary of " + describe(c.version, c.digest) + " at " + std::to_string(c.weight) +
           "% (step " + std::to_string(c.step + 1) + "/" + std::to_string(steps) + ")";
}

std::string analysis_line(const api::EnvironmentSpec& es, const api::CanaryStatus& c) {
    if (c.analysis.empty()) return "no analysis yet";
    std::vector<std::string> failing;
    for (const auto& m : c.analysis) {
        if (m.verdict != api::AnalysisVerdict::pass) {
            failing.push_back(std::string(api::to_string(m.verdict)) + ": " +
                              (m.message.empty() ? m.name : m.message));
        }
    }
    std::string out = "last analysis";
    if (c.last_analysis) out += " at " + format_rfc3339(*c.last_analysis);
    out += failing.empty() ? ": every check passed" : ": " + str::join(failing, "; ");
    if (c.failures > 0 && es.canary && es.canary->analysis) {
        out += " (" + std::to_string(c.failures) + "/" +
               std::to_string(es.canary->analysis->failure_limit) + " failed rounds)";
    }
    return out;
}

}  // namespace

std::string describe(std::string_view version, std::string_view digest) {
    std::string d(digest);
    auto colon = d.find(':');
    std::string hex = colon == std::string::npos ? d : d.substr(colon + 1);
    std::string shortd =
        (colon == std::string::npos ? "" : d.substr(0, colon + 1)) + hex.substr(0, 12);
    if (version.empty()) return shortd.empty() ? std::string("nothing") : shortd;
    if (shortd.empty()) return std::string(version);
    return std::string(version) + " (" + shortd + ")";
}

std::string age(TimePoint then, TimePoint now) {
    auto s = std::chrono::duration_cast<std::chrono::seconds>(now - then).count();
    if (s < 0) s = 0;
    if (s < 120) return std::to_string(s) + "s";
    if (s < 120 * 60) return std::to_string(s / 60) + "m";
    if (s < 48 * 3600) return std::to_string(s / 3600) + "h";
    return std::to_string(s / 86400) + "d";
}

Result<const api::EnvironmentSpec*> find_environment(const api::PoetryApp& app,
                                                     std::string_view env) {
    if (const auto* es = app.spec.find_environment(env)) return es;
    std::vector<std::string> names;
    for (const auto& e : app.spec.environments) names.push_back(e.name);
    return fail(Error::Kind::not_found,
                "PoetryApp " + app.key() + " has no environment \"" + std::string(env) +
                    "\" (its environments: " + str::join(names, ", ") + ")");
}

std::optional<Candidate> candidate(const api::PoetryApp& app, std::string_view env) {
    std::size_t i = index_of(app, env);
    if (i >= app.spec.environments.size()) return std::nullopt;
    const api::EnvironmentStatus* st = app.status.find_environment(env);
    std::optional<Candidate> c;
    if (auto up = app.spec.upstream_of(i)) {
        const api::EnvironmentStatus* u = app.status.find_environment(*up);
        if (!u || u->digest.empty()) return std::nullopt;
        c = Candidate{u->version, u->tag, u->digest, *up};
    } else {
        if (!app.status.latest || app.status.latest->digest.empty()) return std::nullopt;
        c = Candidate{app.status.latest->version, app.status.latest->tag, app.status.latest->digest,
                      ""};
    }
    if (st && st->digest == c->digest) return std::nullopt;
    return c;
}

std::string why(const api::PoetryApp& app, std::string_view env, TimePoint now) {
    const api::EnvironmentSpec* es = app.spec.find_environment(env);
    if (!es) return std::string(env) + ": not an environment of " + app.key();
    const api::EnvironmentStatus* st = app.status.find_environment(env);
    std::string name(env);
    std::string first;
    if (!st) {
        first = name +
                ": no status yet (the controller has not reported on it: is it running "
                "and watching namespace " +
                app.metadata.namespace_ + "?)";
    } else {
        first = name + " runs " + describe(st->version, st->digest) + ", " +
                std::string(api::to_string(st->phase));
        if (st->since)
            first +=
                " for " + span(std::chrono::duration_cast<std::chrono::seconds>(now - *st->since));
        if (!st->reason.empty() && st->reason != api::to_string(st->phase))
            first += " (" + st->reason + ")";
        if (!st->message.empty()) first += ": " + st->message;
    }
    if (const auto* d = api::find_condition(app.status.conditions, api::kConditionDegraded);
        d && d->status == api::kConditionTrue) {
        first += "; Degraded: " + d->message;
    }

    std::string next;
    const std::string rollback = app.annotation(api::kRollbackAnnotationPrefix, env);
    auto cand = candidate(app, env);
    if (st && st->held) {
        next = "held: git pins " + st->held_image +
               ", changed outside poetryops; nothing is promoted here until `kubectl poetryops "
               "release " +
               app.metadata.name + " " + name + "`";
    } else if (!rollback.empty()) {
        next = "pinned by " + std::string(api::kRollbackAnnotationPrefix) + name + "=" + rollback +
               ": no automatic promotion while it stays (`kubectl poetryops release " +
               app.metadata.name + " " + name + "` removes it)";
    } else if (canary_running(st)) {
        const api::CanaryStatus& c = *st->canary;
        next = canary_line(*es, c);
        if (c.phase == api::CanaryPhase::paused) {
            next += ", paused (`kubectl poetryops release " + app.metadata.name + " " + name +
                    "` resumes it)";
        } else if (c.step_started && es->canary &&
                   static_cast<std::size_t>(c.step) < es->canary->steps.size()) {
            auto at = *c.step_started + duration_of(es->canary->steps[c.step].pause);
            next += at > now ? ", next step " + until(at, now) : ", next step due";
        }
        next += "; " + analysis_line(*es, c);
    } else if (!cand) {
        std::size_t i = index_of(app, env);
        auto up = app.spec.upstream_of(i);
        if (up) {
            const api::EnvironmentStatus* u = app.status.find_environment(*up);
            next = u && !u->digest.empty() ? "nothing newer: " + *up + " runs the same digest"
                                           : "nothing to promote: " + *up + " runs nothing yet";
        } else {
            next = app.status.latest ? "nothing newer: it runs the newest eligible image"
                                     : "nothing to promote: no eligible image seen yet";
        }
    } else {
        std::string what = "next: " + describe(cand->version, cand->digest) +
                           (cand->from.empty() ? " (newest image)" : " from " + cand->from);
        const api::EnvironmentStatus* u =
            cand->from.empty() ? nullptr : app.status.find_environment(cand->from);
        const std::string approved = app.annotation(api::kApproveAnnotationPrefix, env);
        const bool waits_here = st && st->waiting && st->waiting->digest == cand->digest;
        if ((st && st->rejected(cand->digest))) {
            next = what + " was rejected in " + name + "; waiting for a newer image";
        } else if (waits_here && st->waiting->reason == "Rejected") {
            // A PoetryApproval with decision reject: the controller's message names who and why.
            next = what + ", blocked: " + st->message;
        } else if (u && u->held) {
            next = what + ", waiting: " + u->name + " is held";
        } else if (u && (u->phase != Phase::healthy || !u->since)) {
            next = what + ", waiting for " + u->name + " to be Healthy (it is " +
                   std::string(api::to_string(u->phase)) + ")";
        } else if (u && *u->since + duration_of(es->promotion.soak) > now) {
            next = what + ", soaking in " + u->name + " " +
                   until(*u->since + duration_of(es->promotion.soak), now);
            if (es->needs_approval() && approved != cand->digest) next += ", then needs approval";
        } else if (es->needs_approval() && approved != cand->digest) {
            next = what + ", waiting for approval (`kubectl poetryops approve " +
                   app.metadata.name + " " + name + "`)";
            // How many approvers there are so far, as the controller counted them.
            if (waits_here && st->waiting->reason == "WaitingForApproval" &&
                st->message.find(" of ") != std::string::npos &&
                st->message.find(" approvers") != std::string::npos)
                next += ": " + st->message;
        } else if (st && st->waiting && st->waiting->reason == "HeldForDownstream" &&
                   st->waiting->digest == cand->digest) {
            // The controller's own decision (promotion.holdNewer of the environment downstream).
            next = what + ", waiting: " + name + " keeps " + describe(st->version, st->digest) +
                   " until the environment downstream that soaks it has taken it "
                   "(promotion.holdNewer)";
        } else if (waits_here && st->waiting->reason == "OutsidePromotionWindow") {
            // The controller's own decision (promotion.windows), with when the window opens.
            next = what + ", every gate passed; waiting for a promotion window";
            if (st->window && !st->window->message.empty())
                next += " (" + st->window->message + ")";
            if (st->window && st->window->next_open)
                next += ", which opens at " + format_rfc3339(*st->window->next_open) + " (in " +
                        span(std::chrono::duration_cast<std::chrono::seconds>(
                            *st->window->next_open - now)) +
                        ")";
        } else if (app.spec.suspend) {
            next = what + ", not promoted: the app is suspended (spec.suspend)";
        } else {
            next = what + ", every gate passed" +
                   (es->needs_approval() ? " (approved)" : std::string()) +
                   "; the controller promotes it on its next pass";
        }
    }
    return first + "\n" + next;
}

Result<Candidate> approval_target(const api::PoetryApp& app, std::string_view env,
                                  std::string_view requested) {
    POETRYOPS_TRY(const api::EnvironmentSpec* es, find_environment(app, env));
    std::string name(env);
    if (!es->needs_approval()) {
        return fail(
            Error::Kind::invalid,
            name + " of " + app.key() +
                " needs no approval (promotion.approval.required is false and promotion.auto "
                "is true): it takes each digest once its gates pass");
    }
    auto cand = candidate(app, env);
    if (!cand) {
        const api::EnvironmentStatus* st = app.status.find_environment(env);
        return fail(Error::Kind::invalid,
                    "nothing waits for approval in " + name + " of " + app.key() + ": it runs " +
                        (st ? describe(st->version, st->digest) : std::string("nothing")) +
                        " and nothing newer is offered");
    }
    if (!requested.empty() && requested != cand->digest) {
        return fail(Error::Kind::invalid, std::string(requested) +
                                              " is not the digest waiting in " + name + " of " +
                                              app.key() + ": that is " + cand->digest + " (" +
                                              cand->version + "); approve it, or nothing");
    }
    if (const auto* here = app.status.find_environment(env); here && here->rejected(cand->digest)) {
        return fail(Error::Kind::invalid, describe(cand->version, cand->digest) +
                                              " was rejected in " + name + " of " + app.key() +
                                              "; the controller never promotes it there again");
    }
    return *cand;
}

Result<Candidate> rejection_target(const api::PoetryApp& app, std::string_view env,
                                   std::string_view requested) {
    POETRYOPS_TRY(const api::EnvironmentSpec* es, find_environment(app, env));
    (void)es;
    std::string name(env);
    if (!requested.empty()) {
        std::string d(requested);
        if (d.rfind("sha256:", 0) != 0 || d.size() != 71 ||
            d.find_first_not_of("0123456789abcdef", 7) != std::string::npos) {
            return fail(Error::Kind::invalid,
                        "\"" + d + "\" is not a digest: give sha256:<64 lower-case hex>");
        }
        Candidate c;
        c.digest = d;
        if (auto cand = candidate(app, env); cand && cand->digest == d) c = *cand;
        return c;
    }
    auto cand = candidate(app, env);
    if (!cand) {
        return fail(Error::Kind::invalid, "nothing waits in " + name + " of " + app.key() +
                                              ": name the DIGEST to reject");
    }
    return *cand;
}

Result<api::HistoryEntry> rollback_target(const api::PoetryApp& app, std::string_view env,
                                          std::string_view requested) {
    POETRYOPS_TRY(const api::EnvironmentSpec* es, find_environment(app, env));
    (void)es;
    const api::EnvironmentStatus* st = app.status.find_environment(env);
    std::vector<std::string> ran;
    for (const auto& h : app.status.history) {
        if (h.environment != env || h.kind == api::HistoryKind::canary) continue;
        if (std::find(ran.begin(), ran.end(), h.digest) == ran.end()) ran.push_back(h.digest);
        if (!requested.empty()) {
            if (h.digest == requested) return h;
            continue;
        }
        if (st && h.digest == st->digest) continue;
        if ((st && st->rejected(h.digest))) continue;
        return h;
    }
    std::string listed = ran.empty() ? std::string("no history there") : str::join(ran, ", ");
    if (!requested.empty()) {
        return fail(Error::Kind::invalid, std::string(requested) + " never ran in " +
                                              std::string(env) + " of " + app.key() +
                                              " (status.history: " + listed +
                                              "); a rollback re-pins a digest from there");
    }
    return fail(Error::Kind::invalid,
                "no previous digest in " + std::string(env) + " of " + app.key() +
                    ": status.history holds none besides the running and rejected ones (" + listed +
                    ")");
}

Result<AnnotationChange> hold_change(const api::PoetryApp& app, std::string_view env,
                                     const std::string& why) {
    POETRYOPS_TRY(const api::EnvironmentSpec* es, find_environment(app, env));
    const api::EnvironmentStatus* st = app.status.find_environment(env);
    std::string name(env);
    const std::string held = app.annotation(api::kHoldAnnotationPrefix, env);
    const bool canary = es->canary && canary_running(st);
    const bool paused = canary && st->canary->phase == api::CanaryPhase::paused;
    if (!held.empty() && (!canary || paused)) {
        return fail(Error::Kind::invalid, name + " of " + app.key() + " is already held (" +
                                              std::string(api::kHoldAnnotationPrefix) + name +
                                              ": " + held + ")");
    }
    AnnotationChange out;
    if (held.empty()) {
        out.annotations[std::string(api::kHoldAnnotationPrefix) + name] =
            why.empty() ? std::string("held with kubectl poetryops") : why;
        out.effects.push_back("holding " + name + ": no promotion into it until released");
    }
    if (canary && !paused) {
        const api::CanaryStatus& c = *st->canary;
        out.annotations[std::string(api::kCanaryAnnotationPrefix) + name] = "pause@" + c.digest;
        out.effects.push_back("pausing the " + canary_line(*es, c) + " in " + name);
    }
    return out;
}

Result<AnnotationChange> release_change(const api::PoetryApp& app, std::string_view env) {
    POETRYOPS_TRY(const api::EnvironmentSpec* es, find_environment(app, env));
    const api::EnvironmentStatus* st = app.status.find_environment(env);
    std::string name(env);
    AnnotationChange out;
    if (st && st->held) {
        if (st->held_image.empty() || st->held_image == "nothing") {
            return fail(Error::Kind::invalid,
                        name + " of " + app.key() +
                            " is held because git pins no image at all; restore the pin in git "
                            "first (a release adopts what git pins)");
        }
        auto at = st->held_image.find("@");
        std::string value =
            at == std::string::npos ? st->held_image : st->held_image.substr(at + 1);
        out.annotations[std::string(api::kReleaseAnnotationPrefix) + name] = value;
        out.effects.push_back("releasing the hold on " + name + ": the controller adopts " +
                              st->held_image + " and resumes automatic promotion");
    }
    if (!app.annotation(api::kRollbackAnnotationPrefix, env).empty()) {
        out.annotations[std::string(api::kRollbackAnnotationPrefix) + name] = nullptr;
        out.effects.push_back("removing " + std::string(api::kRollbackAnnotationPrefix) + name +
                              ": automatic promotion into " + name + " resumes");
    }
    if (!app.annotation(api::kHoldAnnotationPrefix, env).empty()) {
        out.annotations[std::string(api::kHoldAnnotationPrefix) + name] = nullptr;
        out.effects.push_back("removing " + std::string(api::kHoldAnnotationPrefix) + name +
                              ": automatic promotion into " + name + " resumes");
    }
    if (canary_running(st) && st->canary->phase == api::CanaryPhase::paused) {
        out.annotations[std::string(api::kCanaryAnnotationPrefix) + name] =
            "resume@" + st->canary->digest;
        out.effects.push_back("resuming the " + canary_line(*es, *st->canary) + " in " + name);
    }
    if (out.effects.empty()) {
        return fail(Error::Kind::invalid,
                    name + " of " + app.key() +
                        " is not held: no hold annotation, no hold from git, no rollback pin, no "
                        "paused canary");
    }
    return out;
}

}  // namespace poetryops::cli::kubectl

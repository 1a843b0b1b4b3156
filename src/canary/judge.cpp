#include <poetryops/canary/judge.hpp>

#include <cmath>
#include <cstdio>

namespace poetryops::canary {
namespace {

/// Numbers in messages: up to 6 significant digits, no exponent for everyday magnitudes.
std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

std::string signed_num(double v) { return (v > 0 ? "+" : "") + num(v); }

std::string percent(double fraction) { return num(fraction * 100) + " %"; }

std::string p_value(double p) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2g", p);
    return buf;
}

MetricVerdict verdict(std::string_view metric, Verdict v, std::optional<double> value,
                      std::string message) {
    MetricVerdict out;
    out.metric = std::string(metric);
    out.verdict = v;
    out.value = value;
    out.message = std::move(message);
    return out;
}

std::vector<double> finite_only(std::span<const double> s, std::size_t& dropped) {
    std::vector<double> out;
    out.reserve(s.size());
    for (double v : s) {
        if (std::isfinite(v)) {
            out.push_back(v);
        } else {
            ++dropped;
        }
    }
    return out;
}

}  // namespace

const char* to_string(Verdict v) {
    switch (v) {
        case Verdict::pass: return "pass";
        case Verdict::fail: return "fail";
        case Verdict::inconclusive: return "inconclusive";
    }
    return "unknown";
}

const char* to_string(Direction d) {
    switch (d) {
        case Direction::higher_is_worse: return "higher-is-worse";
        case Direction::lower_is_worse: return "lower-is-worse";
        case Direction::either: return "either";
    }
    return "unknown";
}

MetricVerdict judge_threshold(std::string_view metric, const Measurement& value,
                              const Bounds& bounds) {
    const std::string name(metric);
    if (!value.value) {
        return verdict(metric, Verdict::inconclusive, std::nullopt,
                       name + ": no value: " +
                           (value.missing_reason.empty() ? std::string("nothing was measured")
                                                         : value.missing_reason));
    }
    const double v = *value.value;
    if (!std::isfinite(v)) {
        return verdict(metric, Verdict::inconclusive, v,
                       name + " is " + num(v) + ", not a number that can be judged");
    }
    if (!bounds.min && !bounds.max) {
        return verdict(metric, Verdict::inconclusive, v,
                       name + " " + num(v) + " has neither min nor max to be judged against");
    }
    if (bounds.min && v < *bounds.min) {
        return verdict(metric, Verdict::fail, v,
                       name + " " + num(v) + " is below min " + num(*bounds.min));
    }
    if (bounds.max && v > *bounds.max) {
        return verdict(metric, Verdict::fail, v,
                       name + " " + num(v) + " is above max " + num(*bounds.max));
    }
    std::string range;
    if (bounds.min) range += "min " + num(*bounds.min);
    if (bounds.max) range += (range.empty() ? "" : ", ") + std::string("max ") + num(*bounds.max);
    return verdict(metric, Verdict::pass, v, name + " " + num(v) + " is within " + range);
}

MetricVerdict judge_compare(std::string_view metric, std::span<const double> canary,
                            std::span<const double> baseline, Direction direction,
                            const CompareOptions& options) {
    const std::string name(metric);
    if (!(options.tolerance >= 0) || !(options.confidence > 0 && options.confidence < 1)) {
        return verdict(metric, Verdict::inconclusive, std::nullopt,
                       name + ": compare needs tolerance ≥ 0 and confidence in (0, 1), got " +
                           num(options.tolerance) + " and " + num(options.confidence));
    }
    std::size_t dropped_canary = 0, dropped_baseline = 0;
    auto c = finite_only(canary, dropped_canary);
    auto b = finite_only(baseline, dropped_baseline);
    std::string dropped;
    if (dropped_canary + dropped_baseline > 0) {
        dropped = "; left out " + std::to_string(dropped_canary) + " canary and " +
                  std::to_string(dropped_baseline) + " baseline samples that were NaN or Inf";
    }
    if (c.empty() || b.empty()) {
        std::string side = c.empty() && b.empty() ? "canary and no baseline"
                           : c.empty()            ? "canary"
                                                  : "baseline";
        return verdict(metric, Verdict::inconclusive, std::nullopt,
                       name + ": no " + side + " samples to compare" + dropped);
    }
    auto mw = mann_whitney(c, b, options.confidence);
    if (!mw) {
        return verdict(metric, Verdict::inconclusive, std::nullopt,
                       name + ": " + mw.error().message + dropped);
    }
    const std::string sizes =
        std::to_string(mw->m) + " canary vs " + std::to_string(mw->n) + " baseline samples";
    if (!mw->ci_reached) {
        auto out = verdict(metric, Verdict::inconclusive, mw->shift,
                           name + ": " + sizes + " cannot reach " + percent(options.confidence) +
                               " confidence; compare needs at least " +
                               std::to_string(min_samples_per_side(options.confidence)) +
                               " of each" + dropped);
        out.statistics = *mw;
        return out;
    }
    const double band = options.tolerance * std::fabs(mw->shift);
    const bool higher = mw->ci_low > band;
    const bool lower = mw->ci_high < -band;
    const std::string stats = "shift " + signed_num(mw->shift) + ", " +
                              percent(options.confidence) + " CI " + num(mw->ci_low) + ".." +
                              num(mw->ci_high) + ", Mann-Whitney U=" + num(mw->u) +
                              ", p=" + p_value(mw->p_value) + ", " + sizes + dropped;
    MetricVerdict out;
    if (higher && direction != Direction::lower_is_worse) {
        out = verdict(metric, Verdict::fail, mw->shift,
                      name + ": the canary is higher than the baseline (" + stats + ")");
    } else if (lower && direction != Direction::higher_is_worse) {
        out = verdict(metric, Verdict::fail, mw->shift,
                      name + ": the canary is lower than the baseline (" + stats + ")");
    } else if (higher || lower) {
        out = verdict(metric, Verdict::pass, mw->shift,
                      name + ": the canary is " + (higher ? "higher" : "lower") +
                          " than the baseline, which is not worse for this metric (" + stats + ")");
    } else {
        out = verdict(metric, Verdict::pass, mw->shift,
                      name + ": the canary is within the baseline (" + stats + ")");
    }
    out.statistics = *mw;
    return out;
}

MetricVerdict judge_traffic(const Measurement& requests, std::int64_t min_requests) {
    if (!requests.value || !std::isfinite(*requests.value)) {
        return verdict("requests", Verdict::inconclusive, requests.value,
                       "requests: the canary's request count is unknown: " +
                           (requests.missing_reason.empty() ? std::string("nothing was measured")
                                                            : requests.missing_reason));
    }
    const double v = *requests.value;
    if (v < double(min_requests)) {
        return verdict("requests", Verdict::inconclusive, v,
                       "requests: the canary served " + num(std::floor(v)) +
                           " requests in the interval, fewer than minRequests " +
                           std::to_string(min_requests));
    }
    return verdict("requests", Verdict::pass, v,
                   "requests: the canary served " + num(std::floor(v)) +
                       " requests in the interval (minRequests " + std::to_string(min_requests) +
                       ")");
}

AnalysisVerdict combine(std::vector<MetricVerdict> metrics) {
    AnalysisVerdict out;
    out.metrics = std::move(metrics);
    const MetricVerdict* first_fail = nullptr;
    const MetricVerdict* first_inconclusive = nullptr;
    for (const auto& m : out.metrics) {
        if (m.verdict == Verdict::fail && !first_fail) first_fail = &m;
        if (m.verdict == Verdict::inconclusive && !first_inconclusive) first_inconclusive = &m;
    }
    if (first_fail) {
        out.verdict = Verdict::fail;
        out.message = first_fail->message;
    } else if (first_inconclusive) {
        out.verdict = Verdict::inconclusive;
        out.message = first_inconclusive->message;
    } else if (out.metrics.empty()) {
        out.verdict = Verdict::inconclusive;
        out.message = "no checks to judge";
    } else {
        out.verdict = Verdict::pass;
        out.message = "all " + std::to_string(out.metrics.size()) + " checks passed";
    }
    return out;
}

}  // namespace poetryops::canary

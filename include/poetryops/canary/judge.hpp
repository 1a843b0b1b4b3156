#pragma once
/// The canary's judge: turns measurements into verdicts. Pure: no I/O, no clock; the step machine
/// gathers the numbers (from Prometheus) and decides what a verdict does (advance, wait, abort).
///
///   auto v1 = judge_threshold("success-rate", Measurement::of(0.997), {.min = 0.99});
///   auto v2 = judge_compare("latency-p99-ms", canary_samples, baseline_samples,
///                           Direction::higher_is_worse);
///   auto all = combine({judge_traffic(requests, 100), v1, v2});   // all.verdict
///
/// Two judges (docs/canary.md#judges):
/// - threshold: one value per metric, within its min/max;
/// - compare: the canary's per-interval samples against the stable baseline's over the same
///   intervals, by a Mann-Whitney U test and the confidence interval of the Hodges-Lehmann shift,
///   classified as Kayenta's MannWhitneyClassifier does (tolerance 0.25, confidence 0.98).
/// Neither ever passes on missing data: no value, NaN, or too few samples is `inconclusive`.

#include <poetryops/util/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::canary {

enum class Verdict {
    pass,          ///< the metric is fine: this check counts toward advancing
    fail,          ///< the metric is out of bounds or worse than the baseline
    inconclusive,  ///< no judgement possible (no data, too little traffic, too few samples)
};
/// "pass", "fail", "inconclusive" (the spelling of status and commit trailers).
const char* to_string(Verdict v);

/// What was measured for one metric: a value, or why there is none in the caller's words (e.g.
/// prometheus::SingleValue::message: "the query returned no series (…)").
struct Measurement {
    std::optional<double> value;
    std::string missing_reason;

    static Measurement of(double v) { return {v, {}}; }
    static Measurement missing(std::string why) { return {std::nullopt, std::move(why)}; }
};

/// A threshold metric's accepted range; either end may be open, not both.
struct Bounds {
    std::optional<double> min{};  ///< fail below
    std::optional<double> max{};  ///< fail above
};

/// Which way of a difference from the baseline is a regression.
enum class Direction {
    higher_is_worse,  ///< latency, error rate
    lower_is_worse,   ///< success rate, throughput
    either,           ///< any significant difference fails
};
/// "higher-is-worse", "lower-is-worse", "either".
const char* to_string(Direction d);

/// The `compare` judge's parameters, with Kayenta's defaults.
struct CompareOptions {
    /// A shift counts only when its confidence interval stays clear of a band of
    /// ±tolerance·|shift| around zero (Kayenta's `tolerance`).
    double tolerance = 0.25;
    /// Confidence level of the shift's interval, in (0, 1) (Kayenta's `confLevel` for its
    /// canary judge).
    double confidence = 0.98;
};

/// A two-sample Mann-Whitney U test of canary against baseline, with the Hodges-Lehmann estimate
/// of the shift and its distribution-free confidence interval (Hollander & Wolfe, Nonparametric
/// Statistical Methods, §4.2-4.3).
struct MannWhitney {
    std::size_t m = 0;  ///< canary samples
    std::size_t n = 0;  ///< baseline samples
    /// U of the canary: pairs (canary, baseline) where the canary value is larger, ties 1/2
    /// (R's W, SciPy's U1).
    double u = 0;
    /// Two-sided p-value of "no shift". Exact (the null distribution of U, counted) when there
    /// are no ties and m, n < 50; otherwise the normal approximation with the tie-corrected
    /// variance and a continuity correction of 1/2 (as R's wilcox.test).
    double p_value = 1;
    bool exact = false;
    double z = 0;  ///< the normal approximation's z (0 when exact)
    double shift =
        0;  ///< Hodges-Lehmann estimate: the median of all m·n differences canary − baseline
    /// The confidence interval of the shift, order statistics of the m·n differences; the whole
    /// range of differences when !ci_reached.
    double ci_low = 0;
    double ci_high = 0;
    /// False when m and n are too small for the requested confidence: no interval narrower than
    /// all differences has that coverage (e.g. 4 and 4 samples at 0.98).
    bool ci_reached = false;
};

/// Runs the test. Fails (Kind::invalid) when a sample is empty or holds NaN/±Inf, when confidence
/// is not in (0, 1), or when m·n exceeds 10^7.
Result<MannWhitney> mann_whitney(std::span<const double> canary, std::span<const double> baseline,
                                 double confidence = 0.98);

/// The fewest samples per side (equal sizes, no ties) with which `confidence` can be reached:
/// 5 at 0.98, 4 at 0.95.
std::size_t min_samples_per_side(double confidence);

/// One metric's verdict.
struct MetricVerdict {
    std::string metric;
    Verdict verdict = Verdict::inconclusive;
    /// threshold: the value judged; compare: the estimated shift canary − baseline; traffic: the
    /// request count. nullopt when there was none.
    std::optional<double> value;
    /// One line saying why, naming the metric and the numbers: "success-rate 0.95 is below min
    /// 0.99", "latency-p99-ms: the canary is higher than the baseline by 41.2 (98 % CI 30.1..52.0,
    /// Mann-Whitney U=100, p=0.00018, 10 vs 10 samples)".
    std::string message;
    /// compare only: the test behind the verdict.
    std::optional<MannWhitney> statistics;
};

/// `threshold`: fail when the value is below min or above max, pass within them; inconclusive
/// when there is no value (the message carries missing_reason), it is NaN/±Inf, or neither bound
/// is set (never a silent pass).
MetricVerdict judge_threshold(std::string_view metric, const Measurement& value,
                              const Bounds& bounds);

/// `compare`: canary against baseline, one sample per analysis interval each. Samples that are
/// NaN/±Inf (an interval without traffic) are left out, and the message says how many. Then:
/// - either side empty → inconclusive;
/// - too few samples to reach `confidence` → inconclusive, saying how many are needed;
/// - the shift's interval lies above +tolerance·|shift| (canary higher) and direction is
///   higher_is_worse or either → fail; below −tolerance·|shift| (lower) and lower_is_worse or
///   either → fail;
/// - otherwise pass (a canary better than the baseline passes).
MetricVerdict judge_compare(std::string_view metric, std::span<const double> canary,
                            std::span<const double> baseline, Direction direction,
                            const CompareOptions& options = {});

/// analysis.minRequests: inconclusive when the canary served fewer than `min_requests` requests
/// in the interval or the count is missing, else pass. The metric is named "requests".
MetricVerdict judge_traffic(const Measurement& requests, std::int64_t min_requests);

/// The verdict of one analysis round.
struct AnalysisVerdict {
    Verdict verdict = Verdict::inconclusive;
    std::vector<MetricVerdict> metrics;
    /// The first failed metric's message; else the first inconclusive one's; else "all N checks
    /// passed".
    std::string message;
};

/// Combines a round's checks: fail when any failed (a failure outweighs missing data elsewhere),
/// else inconclusive when any was inconclusive or there are none, else pass.
AnalysisVerdict combine(std::vector<MetricVerdict> metrics);

}  // namespace poetryops::canary

#include <poetryops/canary/judge.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace poetryops::canary {
namespace {

using ::testing::HasSubstr;

// ---- Mann-Whitney U: textbook cases with known U and p ----------------------------------------

// Rosie Shier, "Statistics: 2.3 The Mann-Whitney U Test", Mathematics Learning Support Centre
// (2004): ages at diagnosis of type II diabetes, 5 males and 4 females, U_M = 17. The example of
// SciPy's mannwhitneyu documentation gives for it the exact two-sided p = 0.1111 (= 14/126) and
// the normal approximation with continuity correction p = 0.11134688653314041.
TEST(CanaryMannWhitney, ShierDiabetesAgesExactP) {
    std::vector<double> males = {19, 22, 16, 29, 24};
    std::vector<double> females = {20, 11, 17, 12};
    auto r = mann_whitney(males, females, 0.95);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->u, 17);
    EXPECT_TRUE(r->exact);
    EXPECT_NEAR(r->p_value, 14.0 / 126.0, 1e-12);
    // Swapping the samples: U = m·n − 17 = 3, same two-sided p.
    auto swapped = mann_whitney(females, males, 0.95);
    ASSERT_TRUE(swapped);
    EXPECT_EQ(swapped->u, 3);
    EXPECT_NEAR(swapped->p_value, 14.0 / 126.0, 1e-12);
}

// Hollander & Wolfe (1973), p. 69f: permeability constants of the human chorioamnion at term (x)
// and at 12-26 weeks (y), the example of R's ?wilcox.test. R: W = 35, exact two-sided
// p = 0.2544122544123; with exact = FALSE (normal, continuity-corrected) p = 0.244623605127
// (R's output as quoted in SciPy's test_mannwhitneyu, gh-9184).
const std::vector<double> kTerm = {0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46};
const std::vector<double> kEarly = {1.15, 0.88, 0.90, 0.74, 1.21};

TEST(CanaryMannWhitney, HollanderWolfePermeabilityExactP) {
    auto r = mann_whitney(kTerm, kEarly, 0.95);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->u, 35);
    EXPECT_TRUE(r->exact);
    EXPECT_NEAR(r->p_value, 0.2544122544123, 1e-12);
}

// The same data, Hodges-Lehmann shift and interval. The shift, 0.305, is R's "difference in
// location" for this example; the interval is the order-statistic one of Hollander & Wolfe §4.3
// (R's rule too): k = 9 at 95 % (coverage 0.96004), k = 7 at 98 % (coverage 0.98069), read off
// the 50 sorted differences; checked by enumerating all C(15,5) = 3003 rank sets.
TEST(CanaryMannWhitney, HollanderWolfePermeabilityShiftAndInterval) {
    auto r95 = mann_whitney(kTerm, kEarly, 0.95);
    ASSERT_TRUE(r95);
    EXPECT_NEAR(r95->shift, 0.305, 1e-12);
    EXPECT_TRUE(r95->ci_reached);
    EXPECT_NEAR(r95->ci_low, -0.15, 1e-12);
    EXPECT_NEAR(r95->ci_high, 0.76, 1e-12);
    auto r98 = mann_whitney(kTerm, kEarly, 0.98);
    ASSERT_TRUE(r98);
    EXPECT_NEAR(r98->ci_low, -0.17, 1e-12);
    EXPECT_NEAR(r98->ci_high, 0.90, 1e-12);
}

// Wikipedia, "Mann-Whitney U test", Illustration (Aesop's tortoise and hare): finishing order
// T H H H H H T T T T T H, U_T = 11 and U_H = 25. With the finishing positions as values, the
// hares' U counts the pairs where the hare finished after the tortoise, i.e. U_T.
TEST(CanaryMannWhitney, WikipediaTortoiseAndHareU) {
    std::vector<double> tortoises = {1, 7, 8, 9, 10, 11};
    std::vector<double> hares = {2, 3, 4, 5, 6, 12};
    auto r = mann_whitney(hares, tortoises);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->u, 11);
    auto other = mann_whitney(tortoises, hares);
    ASSERT_TRUE(other);
    EXPECT_EQ(other->u, 25);
    EXPECT_NEAR(r->p_value, other->p_value, 1e-15);
}

// Student (1908) / Cushny & Peebles: R's `sleep` data. R: wilcox.test(extra ~ group, data = sleep)
// → "Wilcoxon rank sum test with continuity correction", W = 25.5, p-value = 0.06933 (ties, so
// the normal approximation with the tie-corrected variance).
TEST(CanaryMannWhitney, StudentSleepTiesUseTheNormalApproximation) {
    std::vector<double> drug1 = {0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
    std::vector<double> drug2 = {1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};
    auto r = mann_whitney(drug1, drug2);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->u, 25.5);
    EXPECT_FALSE(r->exact);
    EXPECT_NEAR(r->p_value, 0.06933, 5e-6);
    EXPECT_LT(r->z, 0);
}

// Ties and U exactly at its mean: the continuity correction must not push p above 1. SciPy's
// gh-2118 cases, checked against R: [1,2,3] vs [2] → U = 1.5, two-sided p = 1; [1,2] vs [1,2] →
// U = 2, p = 1.
TEST(CanaryMannWhitney, UAtItsMeanGivesPOne) {
    std::vector<double> a = {1, 2, 3}, b = {2};
    auto r = mann_whitney(a, b);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->u, 1.5);
    EXPECT_DOUBLE_EQ(r->p_value, 1.0);
    std::vector<double> c = {1, 2}, d = {1, 2};
    auto r2 = mann_whitney(c, d);
    ASSERT_TRUE(r2);
    EXPECT_EQ(r2->u, 2);
    EXPECT_DOUBLE_EQ(r2->p_value, 1.0);
}

// Complete separation, 3 vs 4 values: U = 0, exact p = 2 / C(7,3) = 2/35.
TEST(CanaryMannWhitney, CompleteSeparationExactP) {
    std::vector<double> low = {1.1, 2.2, 3.3}, high = {4.4, 5.5, 6.6, 7.7};
    auto r = mann_whitney(low, high);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->u, 0);
    EXPECT_NEAR(r->p_value, 2.0 / 35.0, 1e-15);
}

// Larger samples without ties leave the exact distribution (m, n ≥ 50) for the normal one; the
// two agree closely there. 50 vs 50 interleaved values shifted by one place: U = 50·50/2 + 25.
TEST(CanaryMannWhitney, LargeSamplesUseTheNormalApproximation) {
    std::vector<double> a, b;
    for (int i = 0; i < 50; ++i) {
        a.push_back(2 * i + 1.5);
        b.push_back(2 * i);
    }
    auto r = mann_whitney(a, b);
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->exact);
    EXPECT_EQ(r->u, 1275);
    // z = (1275 − 1250 − 0.5) / sqrt(2500·101/12) = 24.5 / 145.057… = 0.16890
    EXPECT_NEAR(r->z, 24.5 / std::sqrt(2500.0 * 101 / 12), 1e-12);
    EXPECT_NEAR(r->p_value, std::erfc(r->z / std::sqrt(2.0)), 1e-15);
    EXPECT_TRUE(r->ci_reached);
    EXPECT_LE(r->ci_low, r->shift);
    EXPECT_GE(r->ci_high, r->shift);
}

TEST(CanaryMannWhitney, AllTiesIsNoEvidence) {
    std::vector<double> a(8, 3.0), b(8, 3.0);
    auto r = mann_whitney(a, b);
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->exact);
    EXPECT_DOUBLE_EQ(r->p_value, 1.0);
    EXPECT_EQ(r->shift, 0);
    EXPECT_EQ(r->ci_low, 0);
    EXPECT_EQ(r->ci_high, 0);
    EXPECT_TRUE(r->ci_reached);
}

TEST(CanaryMannWhitney, OneSampleEachCannotReachAnyUsefulConfidence) {
    std::vector<double> a = {1}, b = {2};
    auto r = mann_whitney(a, b);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->u, 0);
    EXPECT_DOUBLE_EQ(r->p_value, 1.0);  // exact: P(U ≤ 0) = 1/2, doubled
    EXPECT_FALSE(r->ci_reached);
    EXPECT_EQ(r->shift, -1);
}

TEST(CanaryMannWhitney, RefusesEmptyNonFiniteAndBadConfidence) {
    std::vector<double> some = {1, 2}, none;
    std::vector<double> nan = {1, std::numeric_limits<double>::quiet_NaN()};
    EXPECT_FALSE(mann_whitney(none, some));
    EXPECT_FALSE(mann_whitney(some, none));
    auto r = mann_whitney(nan, some);
    ASSERT_FALSE(r);
    EXPECT_THAT(r.error().message, HasSubstr("finite"));
    EXPECT_FALSE(mann_whitney(some, some, 1.0));
    EXPECT_FALSE(mann_whitney(some, some, 0.0));
}

TEST(CanaryMannWhitney, MinSamplesPerSide) {
    // 2 / C(2k, k) ≤ 1 − confidence: C(8,4) = 70 is too few for 98 %, C(10,5) = 252 enough.
    EXPECT_EQ(min_samples_per_side(0.98), 5u);
    EXPECT_EQ(min_samples_per_side(0.95), 4u);
    EXPECT_EQ(min_samples_per_side(0.5), 2u);
}

// ---- threshold ---------------------------------------------------------------------------

TEST(CanaryThreshold, WithinBelowAndAbove) {
    auto pass = judge_threshold("success-rate", Measurement::of(0.997), {.min = 0.99});
    EXPECT_EQ(pass.verdict, Verdict::pass);
    EXPECT_EQ(pass.value, 0.997);
    EXPECT_THAT(pass.message, HasSubstr("within min 0.99"));

    auto below = judge_threshold("success-rate", Measurement::of(0.95), {.min = 0.99});
    EXPECT_EQ(below.verdict, Verdict::fail);
    EXPECT_EQ(below.message, "success-rate 0.95 is below min 0.99");

    auto above = judge_threshold("latency-p99-ms", Measurement::of(620), {.min = 0, .max = 500});
    EXPECT_EQ(above.verdict, Verdict::fail);
    EXPECT_EQ(above.message, "latency-p99-ms 620 is above max 500");

    // The bounds themselves are accepted.
    EXPECT_EQ(judge_threshold("m", Measurement::of(500), {.max = 500}).verdict, Verdict::pass);
    EXPECT_EQ(judge_threshold("m", Measurement::of(0.99), {.min = 0.99}).verdict, Verdict::pass);
}

TEST(CanaryThreshold, MissingOrNonFiniteValueIsInconclusiveWithTheReason) {
    auto missing = judge_threshold(
        "success-rate", Measurement::missing("the query returned no series"), {.min = 0.99});
    EXPECT_EQ(missing.verdict, Verdict::inconclusive);
    EXPECT_FALSE(missing.value);
    EXPECT_EQ(missing.message, "success-rate: no value: the query returned no series");

    auto nan = judge_threshold(
        "success-rate", Measurement::of(std::numeric_limits<double>::quiet_NaN()), {.min = 0.99});
    EXPECT_EQ(nan.verdict, Verdict::inconclusive);
    auto inf = judge_threshold(
        "latency-p99-ms", Measurement::of(std::numeric_limits<double>::infinity()), {.max = 500});
    EXPECT_EQ(inf.verdict, Verdict::inconclusive);
}

TEST(CanaryThreshold, NoBoundsIsNeverASilentPass) {
    auto v = judge_threshold("m", Measurement::of(1), {});
    EXPECT_EQ(v.verdict, Verdict::inconclusive);
    EXPECT_THAT(v.message, HasSubstr("neither min nor max"));
}

// ---- compare -----------------------------------------------------------------------------

const std::vector<double> kBaselineLatency = {101, 98, 103, 99, 100, 102, 97, 104, 100, 101};

TEST(CanaryCompare, ClearlyHigherLatencyFails) {
    std::vector<double> canary = {141, 138, 143, 139, 140, 142, 137, 144, 140, 141};
    auto v = judge_compare("latency-p99-ms", canary, kBaselineLatency, Direction::higher_is_worse);
    EXPECT_EQ(v.verdict, Verdict::fail);
    ASSERT_TRUE(v.statistics);
    EXPECT_EQ(v.statistics->u, 100);    // every canary value above every baseline value
    EXPECT_FALSE(v.statistics->exact);  // 100 and 101 twice in each side: ties
    EXPECT_LT(v.statistics->p_value, 0.001);
    EXPECT_NEAR(*v.value, 40, 1e-9);
    EXPECT_THAT(v.message, HasSubstr("latency-p99-ms: the canary is higher than the baseline"));
    EXPECT_THAT(v.message, HasSubstr("98 % CI"));
    EXPECT_THAT(v.message, HasSubstr("10 canary vs 10 baseline samples"));
}

TEST(CanaryCompare, SameDistributionPasses) {
    std::vector<double> canary = {100, 102, 99, 101, 98, 103, 100, 97, 104, 101};
    auto v = judge_compare("latency-p99-ms", canary, kBaselineLatency, Direction::either);
    EXPECT_EQ(v.verdict, Verdict::pass);
    EXPECT_THAT(v.message, HasSubstr("within the baseline"));
    ASSERT_TRUE(v.statistics);
    EXPECT_GT(v.statistics->p_value, 0.5);
}

TEST(CanaryCompare, DirectionDecidesWhichShiftFails) {
    std::vector<double> lower = {61, 58, 63, 59, 60, 62, 57, 64, 60, 61};
    // Lower latency is an improvement.
    auto better =
        judge_compare("latency-p99-ms", lower, kBaselineLatency, Direction::higher_is_worse);
    EXPECT_EQ(better.verdict, Verdict::pass);
    EXPECT_THAT(better.message, HasSubstr("not worse for this metric"));
    // A lower success rate is a regression; so is any shift with `either`.
    EXPECT_EQ(
        judge_compare("success-rate", lower, kBaselineLatency, Direction::lower_is_worse).verdict,
        Verdict::fail);
    EXPECT_EQ(judge_compare("m", lower, kBaselineLatency, Direction::either).verdict,
              Verdict::fail);
}

// Kayenta's tolerance: the interval must clear ±tolerance·|shift|. A small shift whose interval
// reaches close to zero passes at 0.25 but fails at tolerance 0.
TEST(CanaryCompare, ToleranceBandAroundZero) {
    std::vector<double> base = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
    std::vector<double> canary = {15, 16, 17, 18, 19, 20, 21, 22, 23, 24};
    // Exact, 10 vs 10: P(U ≤ 19) = 0.00927 ≤ 0.01 < P(U ≤ 20), so k = 20 and the interval is
    // [D(20), D(81)] = [1, 9] around the shift 5: clear of zero, not of the band ±1.25.
    auto mw = mann_whitney(canary, base, 0.98);
    ASSERT_TRUE(mw);
    EXPECT_EQ(mw->shift, 5);
    EXPECT_EQ(mw->ci_low, 1);
    EXPECT_EQ(mw->ci_high, 9);
    EXPECT_EQ(judge_compare("m", canary, base, Direction::higher_is_worse).verdict, Verdict::pass);
    EXPECT_EQ(
        judge_compare("m", canary, base, Direction::higher_is_worse, {.tolerance = 0}).verdict,
        Verdict::fail);
}

TEST(CanaryCompare, EmptySamplesAreInconclusive) {
    std::vector<double> none;
    auto v = judge_compare("success-rate", none, kBaselineLatency, Direction::lower_is_worse);
    EXPECT_EQ(v.verdict, Verdict::inconclusive);
    EXPECT_EQ(v.message, "success-rate: no canary samples to compare");
    auto b = judge_compare("success-rate", kBaselineLatency, none, Direction::lower_is_worse);
    EXPECT_EQ(b.verdict, Verdict::inconclusive);
    EXPECT_THAT(b.message, HasSubstr("no baseline samples"));
}

TEST(CanaryCompare, NanSamplesAreLeftOutAndSaidSo) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<double> canary = {nan, nan};
    auto v = judge_compare("success-rate", canary, kBaselineLatency, Direction::lower_is_worse);
    EXPECT_EQ(v.verdict, Verdict::inconclusive);
    EXPECT_THAT(v.message, HasSubstr("left out 2 canary and 0 baseline samples"));

    std::vector<double> with_gap = {141, 138, nan, 143, 139, 140, 142, 137, 144, 140, 141};
    auto f =
        judge_compare("latency-p99-ms", with_gap, kBaselineLatency, Direction::higher_is_worse);
    EXPECT_EQ(f.verdict, Verdict::fail);
    EXPECT_THAT(f.message, HasSubstr("left out 1 canary"));
}

TEST(CanaryCompare, TooFewSamplesAreInconclusiveNeverPass) {
    // One sample each: even a huge difference cannot be significant.
    std::vector<double> one = {1000}, base = {1};
    auto v = judge_compare("latency-p99-ms", one, base, Direction::higher_is_worse);
    EXPECT_EQ(v.verdict, Verdict::inconclusive);
    EXPECT_THAT(v.message, HasSubstr("1 canary vs 1 baseline samples cannot reach 98 % "
                                     "confidence; compare needs at least 5 of each"));
    // Four each, perfectly separated: p = 2/70 > 0.02.
    std::vector<double> c4 = {10, 11, 12, 13}, b4 = {1, 2, 3, 4};
    EXPECT_EQ(judge_compare("m", c4, b4, Direction::higher_is_worse).verdict,
              Verdict::inconclusive);
    // All ties with one sample each: still too few to say anything.
    std::vector<double> t1 = {0}, t2 = {0};
    EXPECT_EQ(judge_compare("m", t1, t2, Direction::either).verdict, Verdict::inconclusive);
    // Five each, perfectly separated: p = 2/252 < 0.02, and it fails.
    std::vector<double> c5 = {10, 11, 12, 13, 14}, b5 = {1, 2, 3, 4, 5};
    EXPECT_EQ(judge_compare("m", c5, b5, Direction::higher_is_worse).verdict, Verdict::fail);
}

TEST(CanaryCompare, AllTiesPass) {
    // Both sides had no errors in any interval: nothing to tell them apart.
    std::vector<double> zeros(6, 0.0);
    auto v = judge_compare("error-rate", zeros, zeros, Direction::higher_is_worse);
    EXPECT_EQ(v.verdict, Verdict::pass);
    EXPECT_EQ(*v.value, 0);
}

TEST(CanaryCompare, ConstantButDifferentSidesAreASureShift) {
    // Each side constant (Kayenta adds noise here); the differences are all 1, so the shift and
    // its interval are exactly 1.
    std::vector<double> canary(6, 2.0), base(6, 1.0);
    auto v = judge_compare("m", canary, base, Direction::higher_is_worse);
    EXPECT_EQ(v.verdict, Verdict::fail);
    EXPECT_EQ(v.statistics->ci_low, 1);
    EXPECT_EQ(v.statistics->ci_high, 1);
}

TEST(CanaryCompare, InvalidOptionsAreInconclusive) {
    auto v = judge_compare("m", kBaselineLatency, kBaselineLatency, Direction::either,
                           {.tolerance = 0.25, .confidence = 1.5});
    EXPECT_EQ(v.verdict, Verdict::inconclusive);
    EXPECT_THAT(v.message, HasSubstr("confidence"));
}

// ---- traffic and combine -----------------------------------------------------------------

TEST(CanaryTraffic, FewerThanMinRequestsIsInconclusive) {
    auto few = judge_traffic(Measurement::of(42.7), 100);
    EXPECT_EQ(few.verdict, Verdict::inconclusive);
    EXPECT_EQ(few.message,
              "requests: the canary served 42 requests in the interval, fewer than minRequests "
              "100");
    EXPECT_EQ(judge_traffic(Measurement::of(100), 100).verdict, Verdict::pass);
    auto unknown = judge_traffic(Measurement::missing("the query returned no series"), 100);
    EXPECT_EQ(unknown.verdict, Verdict::inconclusive);
    EXPECT_THAT(unknown.message, HasSubstr("no series"));
    // minRequests 0 (the API's default) passes any known count, even 0.
    EXPECT_EQ(judge_traffic(Measurement::of(0), 0).verdict, Verdict::pass);
}

TEST(CanaryCombine, FailOutweighsInconclusiveWhichOutweighsPass) {
    auto pass = judge_threshold("a", Measurement::of(1), {.min = 0});
    auto fail = judge_threshold("b", Measurement::of(-1), {.min = 0});
    auto inc = judge_threshold("c", Measurement::missing("no data"), {.min = 0});

    auto all_pass = combine({pass, pass});
    EXPECT_EQ(all_pass.verdict, Verdict::pass);
    EXPECT_EQ(all_pass.message, "all 2 checks passed");

    auto with_inc = combine({pass, inc});
    EXPECT_EQ(with_inc.verdict, Verdict::inconclusive);
    EXPECT_EQ(with_inc.message, "c: no value: no data");

    auto with_fail = combine({inc, pass, fail});
    EXPECT_EQ(with_fail.verdict, Verdict::fail);
    EXPECT_EQ(with_fail.message, "b -1 is below min 0");
    EXPECT_EQ(with_fail.metrics.size(), 3u);

    EXPECT_EQ(combine({}).verdict, Verdict::inconclusive);
}

TEST(CanaryNames, Spellings) {
    EXPECT_STREQ(to_string(Verdict::pass), "pass");
    EXPECT_STREQ(to_string(Verdict::fail), "fail");
    EXPECT_STREQ(to_string(Verdict::inconclusive), "inconclusive");
    EXPECT_STREQ(to_string(Direction::higher_is_worse), "higher-is-worse");
    EXPECT_STREQ(to_string(Direction::lower_is_worse), "lower-is-worse");
    EXPECT_STREQ(to_string(Direction::either), "either");
}

}  // namespace
}  // namespace poetryops::canary

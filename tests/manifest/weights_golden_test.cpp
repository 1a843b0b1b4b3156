// set_weights on realistic routes of each traffic kind, byte for byte: filters, timeouts, retries,
// header and path rules, other services' routes, comments, flow and block styles all survive, and
// only weights change. The expected files are in tests/manifest/golden/weights/:
//   <kind>.yaml          the route as a user writes it (canary at 0, or with no weight yet)
//   <kind>.25.yaml       after {stable: 75, canary: 25}
//   <kind>.100.yaml      after {stable: 0, canary: 100} (the last step before completing)
// After an intended change, regenerate them and review the diff:
//   POETRYOPS_UPDATE_GOLDEN=1 build/tests/manifest/test_manifest --gtest_filter='*WeightsGolden*'
#include <poetryops/manifest/edit.hpp>

#include <poetryops/manifest/files.hpp>
#include <poetryops/manifest/read.hpp>
#include <poetryops/util/fs.hpp>
#include <support/support.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

namespace poetryops::manifest {
namespace {

struct GoldenCase {
    const char* kind_name;  // file name and --kind spelling
    TrafficKind kind;
    const char* route;
    const char* stable;
    const char* canary;
    // What the input's weights read as (a missing key reads as the kind's default).
    int stable_before;
    int canary_before;
};

const GoldenCase kCases[] = {
    {"gateway-api", TrafficKind::gateway_api, "billing", "billing", "billing-canary", 100, 0},
    // The canary destination has no weight: 0 (it is not the route's only destination).
    {"istio", TrafficKind::istio, "billing", "billing", "billing-canary", 100, 0},
    {"nginx", TrafficKind::nginx, "billing-canary", "billing", "billing-canary", 100, 0},
    {"smi", TrafficKind::smi, "billing", "billing-stable", "billing-canary", 100, 0},
    // Traefik defaults a missing weight to 1.
    {"traefik", TrafficKind::traefik, "billing", "billing", "billing-canary", 100, 1},
};

std::filesystem::path golden(const std::string& name) {
    return test::source_dir() / "tests/manifest/golden/weights" / name;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

void check_golden(const std::string& name, const std::string& text) {
    auto path = golden(name);
    if (const char* update = std::getenv("POETRYOPS_UPDATE_GOLDEN"); update && *update == '1') {
        ASSERT_TRUE(write_file_atomic(path, text));
        return;
    }
    auto want = read_file(path);
    ASSERT_TRUE(want) << path << ": " << want.error().message
                      << " (POETRYOPS_UPDATE_GOLDEN=1 writes it)";
    EXPECT_EQ(text, *want) << "differs from " << path
                           << " (POETRYOPS_UPDATE_GOLDEN=1 rewrites it; review the diff)\n"
                           << unified_diff(*want, text, name);
}

// A line with each number blanked to one '#' when it holds a weight, so that a weight line matches
// the same line with another weight.
std::string without_weight(std::string line) {
    if (line.find("weight") == std::string::npos) return line;
    std::string out;
    for (char ch : line) {
        bool digit = ch >= '0' && ch <= '9';
        if (!digit) {
            out += ch;
        } else if (out.empty() || out.back() != '#') {
            out += '#';
        }
    }
    return out;
}

// Every line that differs, was added or was removed holds a weight; nothing else moved. Lines are
// compared, weights blanked, through their longest common subsequence (the files are small).
void expect_only_weights_changed(const std::string& before, const std::string& after) {
    std::vector<std::string> a = lines_of(before), b = lines_of(after);
    for (auto& line : a) line = without_weight(line);
    for (auto& line : b) line = without_weight(line);
    std::vector<std::vector<int>> lcs(a.size() + 1, std::vector<int>(b.size() + 1, 0));
    for (std::size_t i = a.size(); i-- > 0;) {
        for (std::size_t j = b.size(); j-- > 0;) {
            lcs[i][j] =
                a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
        }
    }
    std::size_t i = 0, j = 0;
    while (i < a.size() || j < b.size()) {
        if (i < a.size() && j < b.size() && a[i] == b[j]) {
            ++i, ++j;
        } else if (j < b.size() && (i == a.size() || lcs[i][j + 1] >= lcs[i + 1][j])) {
            EXPECT_THAT(b[j], testing::HasSubstr("weight")) << "new line " << j + 1;
            ++j;
        } else {
            EXPECT_THAT(a[i], testing::HasSubstr("weight")) << "old line " << i + 1;
            ++i;
        }
    }
}

class WeightsGolden : public testing::TestWithParam<GoldenCase> {};

TEST_P(WeightsGolden, OnlyTheSplitsWeightsChange) {
    const GoldenCase& c = GetParam();
    auto input = read_file(golden(std::string(c.kind_name) + ".yaml"));
    ASSERT_TRUE(input) << input.error().message;

    auto before = read_weights(*input, c.kind, {c.stable, c.canary}, c.route);
    ASSERT_TRUE(before) << before.error().message;
    ASSERT_TRUE(*before);
    EXPECT_EQ((**before)[0].weight, c.stable_before);
    EXPECT_EQ((**before)[1].weight, c.canary_before);

    std::string previous = *input;
    for (int canary : {25, 100}) {
        SCOPED_TRACE("canary weight " + std::to_string(canary));
        auto out =
            set_weights(*input, c.kind, {{c.stable, 100 - canary}, {c.canary, canary}}, c.route);
        ASSERT_TRUE(out) << out.error().message;
        EXPECT_EQ(out->matched, 1u);
        EXPECT_TRUE(out->changed());
        check_golden(std::string(c.kind_name) + "." + std::to_string(canary) + ".yaml",
                     out->new_text);
        expect_only_weights_changed(*input, out->new_text);

        // What was written reads back, and writing it again changes nothing.
        auto read = read_weights(out->new_text, c.kind, {c.stable, c.canary}, c.route);
        ASSERT_TRUE(read) << read.error().message;
        ASSERT_TRUE(*read);
        EXPECT_EQ((**read)[0].weight, 100 - canary);
        EXPECT_EQ((**read)[1].weight, canary);
        auto again = set_weights(out->new_text, c.kind,
                                 {{c.stable, 100 - canary}, {c.canary, canary}}, c.route);
        ASSERT_TRUE(again) << again.error().message;
        EXPECT_FALSE(again->changed());

        // Stepping from one weight to the next changes the same lines, and nothing else.
        auto step =
            set_weights(previous, c.kind, {{c.stable, 100 - canary}, {c.canary, canary}}, c.route);
        ASSERT_TRUE(step) << step.error().message;
        EXPECT_EQ(step->new_text, out->new_text);
        previous = out->new_text;
    }

    // Completing the canary (stable 100, canary 0) from the last step gives the input back,
    // except for weight keys that were inserted (they stay, at 0).
    auto back = set_weights(previous, c.kind, {{c.stable, 100}, {c.canary, 0}}, c.route);
    ASSERT_TRUE(back) << back.error().message;
    expect_only_weights_changed(*input, back->new_text);
    auto read = read_weights(back->new_text, c.kind, {c.stable, c.canary}, c.route);
    ASSERT_TRUE(read && *read);
    EXPECT_EQ((**read)[0].weight, 100);
    EXPECT_EQ((**read)[1].weight, 0);
}

INSTANTIATE_TEST_SUITE_P(Kinds, WeightsGolden, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<GoldenCase>& info) {
                             std::string name = info.param.kind_name;
                             for (auto& ch : name) {
                                 if (ch == '-') ch = '_';
                             }
                             return name;
                         });

}  // namespace
}  // namespace poetryops::manifest

#include <poetryops/prometheus/query_template.hpp>

#include <array>
#include <regex>

namespace poetryops::prometheus {
namespace {

// The convention: the application exports the Prometheus client libraries' HTTP metrics, and the
// scrape (a ServiceMonitor, or Kubernetes SD relabeling) adds the `namespace` and `service`
// labels of the Service it scraped the pod through. docs/canary.md#built-in-metrics.
constexpr std::string_view kSuccessRate =
    "sum(rate(http_requests_total{namespace=\"{{namespace}}\",service=\"{{canary}}\","
    "code!~\"5..\"}[{{interval}}]))"
    " / "
    "sum(rate(http_requests_total{namespace=\"{{namespace}}\",service=\"{{canary}}\"}"
    "[{{interval}}]))";
constexpr std::string_view kLatencyP99 =
    "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{"
    "namespace=\"{{namespace}}\",service=\"{{canary}}\"}[{{interval}}]))) * 1000";
constexpr std::string_view kRequestCount =
    "sum(increase(http_requests_total{namespace=\"{{namespace}}\",service=\"{{canary}}\"}"
    "[{{interval}}]))";

struct Builtin {
    std::string_view name;
    std::string_view query;
};
constexpr std::array<Builtin, 3> kBuiltins = {{
    {"success-rate", kSuccessRate},
    {"latency-p99-ms", kLatencyP99},
    {"request-count", kRequestCount},
}};

constexpr std::string_view kKnown = "{{namespace}}, {{canary}}, {{stable}}, {{interval}}";

Unexpected invalid(std::string message) {
    return fail(Error::Kind::invalid, std::move(message), "InvalidTemplate");
}

/// A Kubernetes object name (DNS-1123 subdomain): what namespaces and Services are.
bool is_object_name(std::string_view s) {
    static const std::regex re(
        R"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)");
    return !s.empty() && s.size() <= 253 && std::regex_match(s.begin(), s.end(), re);
}

bool is_promql_duration(std::string_view s) {
    static const std::regex re(R"(([0-9]+(ms|s|m|h|d|w|y))+)");
    return std::regex_match(s.begin(), s.end(), re);
}

std::string_view trim_spaces(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

QueryVars QueryVars::baseline() const {
    QueryVars b = *this;
    b.canary = stable;
    return b;
}

Result<std::string> render_query(std::string_view tmpl, const QueryVars& vars) {
    std::string out;
    out.reserve(tmpl.size() + 64);
    std::size_t pos = 0;
    while (pos < tmpl.size()) {
        auto open = tmpl.find("{{", pos);
        if (open == std::string_view::npos) {
            out.append(tmpl.substr(pos));
            break;
        }
        out.append(tmpl.substr(pos, open - pos));
        auto close = tmpl.find("}}", open + 2);
        if (close == std::string_view::npos) {
            return invalid("query template: \"{{\" at offset " + std::to_string(open) +
                           " has no closing \"}}\" (placeholders: " + std::string(kKnown) + ")");
        }
        auto name = trim_spaces(tmpl.substr(open + 2, close - open - 2));
        const std::string* value = nullptr;
        bool is_interval = false;
        if (name == "namespace") {
            value = &vars.namespace_name;
        } else if (name == "canary") {
            value = &vars.canary;
        } else if (name == "stable") {
            value = &vars.stable;
        } else if (name == "interval") {
            value = &vars.interval;
            is_interval = true;
        } else {
            return invalid("query template: unknown placeholder {{" + std::string(name) +
                           "}} (known: " + std::string(kKnown) + ")");
        }
        const std::string placeholder = "{{" + std::string(name) + "}}";
        if (value->empty()) {
            return invalid("query template uses " + placeholder + " but it has no value");
        }
        if (is_interval ? !is_promql_duration(*value) : !is_object_name(*value)) {
            return invalid("query template: the value of " + placeholder + ", \"" +
                           value->substr(0, 64) + "\", is not " +
                           (is_interval ? "a PromQL duration (e.g. 30s, 1m, 1h30m)"
                                        : "a Kubernetes object name"));
        }
        out += *value;
        pos = close + 2;
    }
    return out;
}

std::optional<std::string_view> builtin_query(std::string_view name) {
    for (const auto& b : kBuiltins) {
        if (b.name == name) return b.query;
    }
    return std::nullopt;
}

std::vector<std::string_view> builtin_names() {
    std::vector<std::string_view> out;
    for (const auto& b : kBuiltins) out.push_back(b.name);
    return out;
}

std::string promql_duration(std::chrono::milliseconds d) {
    auto ms = d.count();
    if (ms <= 0) return "0s";
    struct Unit {
        const char* suffix;
        long long ms;
    };
    static constexpr Unit kUnits[] = {
        {"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}};
    std::string out;
    for (const auto& u : kUnits) {
        if (ms >= u.ms) {
            out += std::to_string(ms / u.ms) + u.suffix;
            ms %= u.ms;
        }
    }
    return out;
}

}  // namespace poetryops::prometheus

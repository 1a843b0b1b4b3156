#pragma once
/// PromQL templates: a metric's query with placeholders filled in per check, and the built-in
/// queries with the metric names they assume (docs/canary.md#built-in-metrics).
///
///   QueryVars vars{.namespace_name = "team-a", .canary = "billing-canary", .stable = "billing",
///                  .interval = promql_duration(std::chrono::minutes(1))};
///   POETRYOPS_TRY(auto promql, render_query(*builtin_query("success-rate"), vars));
///
/// Placeholders are `{{namespace}}`, `{{canary}}`, `{{stable}}` and `{{interval}}`, with optional
/// spaces inside the braces (`{{ namespace }}`, as in Flagger's templates). Anything else between
/// `{{` and `}}` is an error naming it, never passed to Prometheus. Values are checked before they
/// are put in: names must be Kubernetes object names and the interval a PromQL duration, so a
/// value can never change the query's structure.

#include <poetryops/util/result.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::prometheus {

/// The values of the placeholders.
struct QueryVars {
    std::string namespace_name{};  ///< {{namespace}}: the namespace of the workloads
    std::string canary{};          ///< {{canary}}: the Service measured (the canary's)
    std::string stable{};          ///< {{stable}}: the stable Service
    std::string interval{};        ///< {{interval}}: a PromQL duration, e.g. "1m", "1m30s"

    /// The same values measuring the stable side: {{canary}} becomes the stable Service. The
    /// `compare` judge renders each metric with vars (the canary) and with vars.baseline() (its
    /// baseline), so one query written in terms of {{canary}} serves both.
    QueryVars baseline() const;
};

/// Fills the placeholders of `query_template`. Fails (Kind::invalid, reason "InvalidTemplate")
/// naming an unknown placeholder, a `{{` without `}}`, or a value that is empty or malformed for
/// a placeholder the template uses; placeholders it does not use may stay empty.
Result<std::string> render_query(std::string_view query_template, const QueryVars& vars);

/// The template of a built-in metric ("success-rate", "latency-p99-ms", "request-count"), or
/// nullopt for any other name:
/// - success-rate: the ratio (0..1) of requests not answered 5xx,
///   from `http_requests_total{namespace, service, code}`;
/// - latency-p99-ms: the 99th percentile of `http_request_duration_seconds_bucket{namespace,
///   service, le}`, in milliseconds;
/// - request-count: requests in the interval (`increase` of http_requests_total), for minRequests.
std::optional<std::string_view> builtin_query(std::string_view name);

/// The built-in names, in the order above.
std::vector<std::string_view> builtin_names();

/// A duration in PromQL's syntax: 60s → "1m", 90s → "1m30s", 1500ms → "1s500ms"; 0 → "0s".
std::string promql_duration(std::chrono::milliseconds d);

}  // namespace poetryops::prometheus

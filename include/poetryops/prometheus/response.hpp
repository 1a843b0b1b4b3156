#pragma once
/// The Prometheus HTTP API's answer to an instant query (`/api/v1/query`), as typed values, and
/// the one question a metric check asks of it: "is this exactly one finite number?".
///
///   POETRYOPS_TRY(auto result, parse_query_response(resp.status, resp.body, "Prometheus …"));
///   auto v = single_value(result);
///   if (!v.ok()) return inconclusive(v.message);   // empty, NaN/Inf, several series, not a number
///
/// Failures are split in two on purpose:
/// - an Error (Result) when there is no result at all: Prometheus could not be reached or timed out
///   (`is_unavailable()`: the canary holds), Prometheus refused the query (`status: "error"`, e.g.
///   `bad_data` for PromQL that does not parse: the message carries Prometheus' own text), bad
///   credentials (Kind::unauthorized), or a body that is not the API's JSON (Kind::decode);
/// - a ValueProblem when the query ran but its result is not one number (single_value()).

#include <poetryops/util/result.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::prometheus {

/// `Error::reason` of every failure after which the same query may succeed later: Prometheus
/// unreachable (connection refused, reset, TLS), the request timed out, a 502/503/504, or the API's
/// own `timeout`, `canceled`, `unavailable` and `internal` errors. The API's errorType is then in
/// the message.
inline constexpr std::string_view kUnavailable = "PrometheusUnavailable";

/// True when `e` is one of the kUnavailable failures (hold and retry), false for a refused query,
/// bad credentials or a malformed answer (retrying the same query cannot help).
bool is_unavailable(const Error& e);

/// `data.resultType` of a query.
enum class ResultType { vector, scalar, matrix, string };
const char* to_string(ResultType type);

/// One sample as Prometheus sent it.
struct SampleValue {
    double timestamp = 0;  ///< evaluation time, seconds since the Unix epoch
    std::string text;      ///< the value as sent: "0.25", "NaN", "+Inf", or a string result
    /// The value as a number (NaN and ±Inf included); nullopt when `text` is not one.
    std::optional<double> number;
};

/// One series of a vector (exactly one value) or of a matrix (values over time).
struct Series {
    std::map<std::string, std::string> labels;  ///< `metric`, with `__name__` when present
    std::vector<SampleValue> values;
};

/// A successful query's result.
struct QueryResult {
    ResultType type = ResultType::vector;
    std::vector<Series> series;         ///< vector and matrix results
    std::optional<SampleValue> scalar;  ///< scalar and string results
    std::vector<std::string> warnings;  ///< the API's `warnings`, as sent
};

/// Why a result is not the one finite number a check needs.
enum class ValueProblem {
    none,             ///< exactly one finite number
    empty,            ///< no series (nothing matched, or no traffic yet)
    not_finite,       ///< NaN or ±Inf (e.g. 0/0 when there were no requests in the interval)
    multiple_series,  ///< more than one series: the query needs an aggregation such as sum()
    non_numeric,      ///< a string or range-vector (matrix) result, or a value that is no number
};
const char* to_string(ValueProblem problem);

/// The one number of a result, or why there is none.
struct SingleValue {
    ValueProblem problem = ValueProblem::none;
    /// The number when problem is none; NaN or ±Inf for not_finite; 0 otherwise.
    double value = 0;
    /// Empty when problem is none; else one line naming the problem, e.g. "the query returned 3
    /// series ({code="200"}, {code="500"}, …); it must return one (aggregate with sum())".
    std::string message;
    /// Labels of the series the value came from (empty for a scalar).
    std::map<std::string, std::string> labels;

    bool ok() const { return problem == ValueProblem::none; }
};

/// Reduces a result to its one number: a vector with one series or a scalar. Never fails: a result
/// that is not one finite number is reported in `problem` and `message`.
SingleValue single_value(const QueryResult& result);

/// Decodes the API's answer. `context` starts every error message ("Prometheus
/// http://prom:9090"). 2xx with `status: "success"` → the result; `status: "error"` → an Error
/// whose message carries `errorType` and Prometheus' `error` text (bad_data and execution:
/// Kind::invalid, terminal; timeout, canceled, unavailable, internal: kUnavailable); a body that
/// is not the API's JSON → 401/403: Kind::unauthorized, 502/503/504: kUnavailable, 2xx:
/// Kind::decode, other: Kind::http. Messages never contain request headers.
Result<QueryResult> parse_query_response(int http_status, std::string_view body,
                                         std::string_view context);

/// Prints a label set as PromQL does: {code="200",service="billing"}; "{}" when empty.
std::string format_labels(const std::map<std::string, std::string>& labels);

}  // namespace poetryops::prometheus

#include <poetryops/prometheus/response.hpp>

#include <poetryops/http/message.hpp>
#include <poetryops/util/log.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <sstream>

namespace poetryops::prometheus {
namespace {

using nlohmann::json;

/// Prometheus sends numbers as strings: "0.25", "NaN", "+Inf", "-Inf", "1e-05".
std::optional<double> parse_number(const std::string& text) {
    if (text == "NaN") return std::nan("");
    if (text == "+Inf" || text == "Inf") return HUGE_VAL;
    if (text == "-Inf") return -HUGE_VAL;
    if (text.empty()) return std::nullopt;
    const char* begin = text.c_str();
    char* end = nullptr;
    double v = std::strtod(begin, &end);
    if (end != begin + text.size()) return std::nullopt;
    return v;
}

Error make_error(Error::Kind kind, std::string reason, std::string message, int status,
                 bool terminal) {
    Error e = Error::make(kind, log::redact(message), std::move(reason));
    e.http_status = status;
    e.terminal = terminal;
    return e;
}

/// `[<unix time>, "<value>"]`
Result<SampleValue> parse_sample(const json& j, std::string_view context) {
    if (!j.is_array() || j.size() != 2 || !j[0].is_number() || !j[1].is_string()) {
        return fail(Error::Kind::decode,
                    std::string(context) +
                        ": a sample is not [time, \"value\"]: " + j.dump().substr(0, 100),
                    "BadResponse");
    }
    SampleValue s;
    s.timestamp = j[0].get<double>();
    s.text = j[1].get<std::string>();
    s.number = parse_number(s.text);
    return s;
}

Result<QueryResult> parse_success(const json& doc, std::string_view context) {
    auto bad = [&](const std::string& what) {
        return fail(Error::Kind::decode, std::string(context) + ": " + what, "BadResponse");
    };
    auto data = doc.find("data");
    if (data == doc.end() || !data->is_object()) return bad("the answer has no `data` object");
    auto type = data->find("resultType");
    auto result = data->find("result");
    if (type == data->end() || !type->is_string() || result == data->end()) {
        return bad("the answer's `data` has no resultType and result");
    }
    QueryResult out;
    const std::string t = type->get<std::string>();
    if (t == "vector" || t == "matrix") {
        out.type = t == "vector" ? ResultType::vector : ResultType::matrix;
        if (!result->is_array()) return bad("a " + t + " result is not a list");
        for (const auto& item : *result) {
            if (!item.is_object()) return bad("a series is not an object");
            Series s;
            if (auto m = item.find("metric"); m != item.end() && m->is_object()) {
                for (const auto& [k, v] : m->items()) {
                    if (v.is_string()) s.labels[k] = v.get<std::string>();
                }
            }
            if (out.type == ResultType::vector) {
                auto v = item.find("value");
                if (v == item.end()) return bad("a vector series has no value");
                POETRYOPS_TRY(auto sample, parse_sample(*v, context));
                s.values.push_back(std::move(sample));
            } else {
                auto vs = item.find("values");
                if (vs != item.end() && vs->is_array()) {
                    for (const auto& v : *vs) {
                        POETRYOPS_TRY(auto sample, parse_sample(v, context));
                        s.values.push_back(std::move(sample));
                    }
                }
                // Native histograms ("histograms") carry no float value: the series stays empty.
            }
            out.series.push_back(std::move(s));
        }
    } else if (t == "scalar" || t == "string") {
        out.type = t == "scalar" ? ResultType::scalar : ResultType::string;
        POETRYOPS_TRY(auto sample, parse_sample(*result, context));
        if (out.type == ResultType::string) sample.number.reset();
        out.scalar = std::move(sample);
    } else {
        return bad("unknown resultType \"" + t + "\"");
    }
    if (auto w = doc.find("warnings"); w != doc.end() && w->is_array()) {
        for (const auto& x : *w) {
            if (x.is_string()) out.warnings.push_back(x.get<std::string>());
        }
    }
    return out;
}

std::string describe_value(double v) {
    if (std::isnan(v)) return "NaN";
    return v > 0 ? "+Inf" : "-Inf";
}

}  // namespace

bool is_unavailable(const Error& e) { return e.reason == kUnavailable; }

const char* to_string(ResultType type) {
    switch (type) {
        case ResultType::vector: return "vector";
        case ResultType::scalar: return "scalar";
        case ResultType::matrix: return "matrix";
        case ResultType::string: return "string";
    }
    return "unknown";
}

const char* to_string(ValueProblem problem) {
    switch (problem) {
        case ValueProblem::none: return "none";
        case ValueProblem::empty: return "empty";
        case ValueProblem::not_finite: return "not-finite";
        case ValueProblem::multiple_series: return "multiple-series";
        case ValueProblem::non_numeric: return "non-numeric";
    }
    return "unknown";
}

std::string format_labels(const std::map<std::string, std::string>& labels) {
    std::string out = "{";
    bool first = true;
    for (const auto& [k, v] : labels) {
        if (!first) out += ",";
        first = false;
        out += k + "=" + json(v).dump();
    }
    return out + "}";
}

SingleValue single_value(const QueryResult& result) {
    SingleValue out;
    auto problem = [&](ValueProblem p, std::string message) {
        out.problem = p;
        out.message = std::move(message);
        return out;
    };
    const SampleValue* sample = nullptr;
    switch (result.type) {
        case ResultType::string:
            return problem(ValueProblem::non_numeric, "the query returned a string (\"" +
                                                          result.scalar->text.substr(0, 60) +
                                                          "\"), not a number");
        case ResultType::matrix:
            return problem(ValueProblem::non_numeric,
                           "the query returned a range vector (matrix) of " +
                               std::to_string(result.series.size()) +
                               " series, not one number (drop the [range] selector or "
                               "aggregate it, e.g. with rate())");
        case ResultType::scalar: sample = &*result.scalar; break;
        case ResultType::vector:
            if (result.series.empty()) {
                return problem(ValueProblem::empty,
                               "the query returned no series (no matching metrics, or no data "
                               "in the interval yet)");
            }
            if (result.series.size() > 1) {
                std::string names;
                for (std::size_t i = 0; i < result.series.size() && i < 3; ++i) {
                    names += (i ? ", " : "") + format_labels(result.series[i].labels);
                }
                if (result.series.size() > 3) names += ", …";
                return problem(ValueProblem::multiple_series,
                               "the query returned " + std::to_string(result.series.size()) +
                                   " series (" + names +
                                   "); it must return one (aggregate with sum() or similar)");
            }
            out.labels = result.series.front().labels;
            if (result.series.front().values.empty()) {
                return problem(ValueProblem::non_numeric, "the query's one series has no value");
            }
            sample = &result.series.front().values.front();
            break;
    }
    if (!sample->number) {
        return problem(ValueProblem::non_numeric,
                       "the query returned \"" + sample->text.substr(0, 60) + "\", not a number");
    }
    out.value = *sample->number;
    if (!std::isfinite(out.value)) {
        return problem(ValueProblem::not_finite, "the query returned " + describe_value(out.value) +
                                                     " (e.g. 0/0: no requests in the interval)");
    }
    return out;
}

Result<QueryResult> parse_query_response(int http_status, std::string_view body,
                                         std::string_view context) {
    const std::string ctx(context);
    json doc = json::parse(body, nullptr, false);
    const bool api_json = !doc.is_discarded() && doc.is_object() && doc.contains("status") &&
                          doc["status"].is_string();
    if (!api_json) {
        http::Response resp;
        resp.status = http_status;
        resp.body = std::string(body);
        if (http_status >= 500) {
            // Not Prometheus' words: the server (or a proxy in front of it) failing, which the
            // next round may not meet; never the query's fault (issue #15, faults through a
            // proxy: a bare 500 used to count as a refused query).
            Error e = http::status_error(resp, ctx);
            e.reason = std::string(kUnavailable);
            e.terminal = false;
            return fail(std::move(e));
        }
        if (http_status >= 200 && http_status < 300) {
            return fail(make_error(Error::Kind::decode, "BadResponse",
                                   ctx + ": the answer is not the Prometheus API's JSON (is the "
                                         "address Prometheus?)",
                                   http_status, true));
        }
        // 401/403 → unauthorized, 404 → not_found (wrong address or path prefix), …
        return fail(http::status_error(resp, ctx));
    }
    const std::string status = doc["status"].get<std::string>();
    if (status == "success") {
        if (http_status < 200 || http_status >= 300) {
            return fail(make_error(
                Error::Kind::decode, "BadResponse",
                ctx + ": HTTP " + std::to_string(http_status) + " with status \"success\"",
                http_status, true));
        }
        return parse_success(doc, ctx);
    }
    std::string type = "unknown";
    std::string text;
    if (auto t = doc.find("errorType"); t != doc.end() && t->is_string())
        type = t->get<std::string>();
    if (auto t = doc.find("error"); t != doc.end() && t->is_string()) text = t->get<std::string>();
    std::string message = ctx + ": query failed (" + type + "): " + text;
    if (type == "bad_data" || type == "execution") {
        return fail(make_error(Error::Kind::invalid, type, message, http_status, true));
    }
    if (type == "timeout" || type == "canceled" || type == "unavailable" || type == "internal") {
        return fail(make_error(type == "timeout" ? Error::Kind::timeout : Error::Kind::http,
                               std::string(kUnavailable), message, http_status, false));
    }
    if (http_status == 401 || http_status == 403) {
        return fail(make_error(Error::Kind::unauthorized, type, message, http_status, true));
    }
    if (http_status >= 500) {
        // An error type this code does not know, from a failing server: unavailable, retried.
        return fail(
            make_error(Error::Kind::http, std::string(kUnavailable), message, http_status, false));
    }
    return fail(make_error(Error::Kind::http, type, message, http_status, true));
}

}  // namespace poetryops::prometheus

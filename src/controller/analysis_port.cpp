#include <poetryops/controller/analysis_port.hpp>

#include <poetryops/canary/judge.hpp>
#include <poetryops/prometheus/query_template.hpp>
#include <poetryops/prometheus/response.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <utility>
#include <variant>

namespace poetryops::controller {
namespace {

using Clock = std::chrono::system_clock;

std::string number(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

std::string bound_text(const api::MetricSpec& m) {
    std::string out;
    if (m.min) out = ">= " + number(*m.min);
    if (m.max) out += (out.empty() ? "" : ", ") + std::string("<= ") + number(*m.max);
    return out;
}

canary::Direction direction_of(api::MetricDirection d) {
    switch (d) {
        case api::MetricDirection::higher_is_worse: return canary::Direction::higher_is_worse;
        case api::MetricDirection::lower_is_worse: return canary::Direction::lower_is_worse;
        case api::MetricDirection::either: break;
    }
    return canary::Direction::either;
}

api::AnalysisVerdict verdict_of(canary::Verdict v) {
    switch (v) {
        case canary::Verdict::pass: return api::AnalysisVerdict::pass;
        case canary::Verdict::fail: return api::AnalysisVerdict::fail;
        case canary::Verdict::inconclusive: break;
    }
    return api::AnalysisVerdict::inconclusive;
}

canary::MetricVerdict inconclusive(std::string metric, std::string message) {
    canary::MetricVerdict v;
    v.metric = std::move(metric);
    v.message = std::move(message);
    return v;
}

/// Raised through a round when Prometheus cannot answer: nothing of the round is judged.
struct Unavailable {
    std::string message;
};

/// The outcome of one query: a measurement, or (a query Prometheus refused, a bad template) the
/// metric's inconclusive message.
struct Sample {
    canary::Measurement measurement;
    std::optional<std::string> refused;
};

class Round {
public:
    Round(prometheus::Client& client, prometheus::QueryVars vars, Clock::time_point now,
          std::chrono::milliseconds interval)
        : client_(client), vars_(std::move(vars)), now_(now), interval_(interval) {}

    // Returns the verdict, or Unavailable.
    std::variant<canary::MetricVerdict, Unavailable> threshold(const api::MetricSpec& m,
                                                               const std::string& query) {
        auto s = sample(m.name, query, vars_, now_);
        if (auto* u = std::get_if<Unavailable>(&s)) return *u;
        auto& got = std::get<Sample>(s);
        if (got.refused) return inconclusive(m.name, *got.refused);
        return canary::judge_threshold(m.name, got.measurement, {.min = m.min, .max = m.max});
    }

    std::variant<canary::MetricVerdict, Unavailable> compare(const api::MetricSpec& m,
                                                             const std::string& query,
                                                             const api::AnalysisSpec& a) {
        const auto k = canary::min_samples_per_side(a.confidence);
        std::vector<double> canary_samples, baseline_samples;
        const auto baseline_vars = vars_.baseline();
        for (std::size_t i = 0; i < k; ++i) {
            const auto at = now_ - static_cast<long>(i) * interval_;
            using Side = std::pair<const prometheus::QueryVars*, std::vector<double>*>;
            for (auto [vars, out] :
                 {Side{&vars_, &canary_samples}, Side{&baseline_vars, &baseline_samples}}) {
                auto s = sample(m.name, query, *vars, at);
                if (auto* u = std::get_if<Unavailable>(&s)) return *u;
                auto& got = std::get<Sample>(s);
                if (got.refused) return inconclusive(m.name, *got.refused);
                // No value in an interval (no traffic): NaN, which the judge leaves out and counts.
                out->push_back(
                    got.measurement.value.value_or(std::numeric_limits<double>::quiet_NaN()));
            }
        }
        return canary::judge_compare(m.name, canary_samples, baseline_samples,
                                     direction_of(m.effective_direction()),
                                     {.tolerance = a.tolerance, .confidence = a.confidence});
    }

    std::variant<canary::MetricVerdict, Unavailable> traffic(std::int64_t min_requests) {
        auto s = sample("requests", std::string(*prometheus::builtin_query("request-count")), vars_,
                        now_);
        if (auto* u = std::get_if<Unavailable>(&s)) return *u;
        auto& got = std::get<Sample>(s);
        if (got.refused) return inconclusive("requests", *got.refused);
        return canary::judge_traffic(got.measurement, min_requests);
    }

private:
    std::variant<Sample, Unavailable> sample(const std::string& metric, const std::string& query,
                                             const prometheus::QueryVars& vars,
                                             Clock::time_point at) {
        auto promql = prometheus::render_query(query, vars);
        if (!promql) {
            std::string why = metric + ": the query template is invalid: " + promql.error().message;
            refused_.push_back(why);
            return Sample{{}, why};
        }
        auto v = client_.query_value(*promql, at);
        if (!v) {
            if (prometheus::is_unavailable(v.error())) return Unavailable{v.error().message};
            // The user's query (or credentials): judged inconclusive, Prometheus' own words kept.
            std::string why = metric + ": Prometheus refused the query: " + v.error().message;
            refused_.push_back(why);
            return Sample{{}, why};
        }
        if (!v->ok()) return Sample{canary::Measurement::missing(v->message), std::nullopt};
        return Sample{canary::Measurement::of(v->value), std::nullopt};
    }

public:
    /// What made a query of this round impossible to run as configured, each naming its metric.
    std::vector<std::string>& refused() { return refused_; }

private:
    prometheus::Client& client_;
    std::vector<std::string> refused_;
    prometheus::QueryVars vars_;
    Clock::time_point now_;
    std::chrono::milliseconds interval_;
};

/// A round that cannot run as configured (no analysis, credentials that cannot be read).
canary::Analysis round_error(std::string message) {
    canary::Analysis a;
    a.verdict = api::AnalysisVerdict::inconclusive;
    a.message = message;
    a.invalid = std::move(message);
    return a;
}

std::string joined(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
    return out;
}

}  // namespace

canary::Analysis to_analysis(const canary::AnalysisVerdict& verdict,
                             const std::vector<std::string>& bounds) {
    canary::Analysis out;
    out.verdict = verdict_of(verdict.verdict);
    out.message = verdict.message;
    for (std::size_t i = 0; i < verdict.metrics.size(); ++i) {
        const auto& m = verdict.metrics[i];
        api::MetricResult r;
        r.name = m.metric;
        if (m.value && std::isfinite(*m.value)) r.value = *m.value;
        if (i < bounds.size()) r.bound = bounds[i];
        r.verdict = verdict_of(m.verdict);
        r.message = m.message;
        out.metrics.push_back(std::move(r));
    }
    return out;
}

PrometheusAnalysisPort::PrometheusAnalysisPort(PrometheusAnalysisOptions options)
    : options_(std::move(options)) {}

PrometheusAnalysisPort::~PrometheusAnalysisPort() = default;

std::size_t PrometheusAnalysisPort::clients_created() const {
    std::lock_guard lock(mu_);
    return created_;
}

Result<prometheus::Client*> PrometheusAnalysisPort::client_for(const api::PoetryApp& app,
                                                               const api::PrometheusSpec& spec) {
    prometheus::ClientOptions o{.address = spec.address, .timeout = options_.timeout};
    std::string version;
    if (spec.secret_ref) {
        const std::string where = "Secret " + app.metadata.namespace_ + "/" +
                                  spec.secret_ref->name + " (analysis.prometheus.secretRef)";
        if (!options_.secrets) {
            return fail(Error::Kind::invalid,
                        where + " cannot be read here (no Secrets in local mode)");
        }
        POETRYOPS_TRY(auto secret,
                      options_.secrets(app.metadata.namespace_, spec.secret_ref->name));
        version = secret.version;
        auto get = [&](const char* key) -> std::string {
            auto it = secret.data.find(key);
            return it == secret.data.end() ? std::string() : it->second;
        };
        o.bearer_token = get("token");
        const auto user = get("username"), password = get("password");
        if (!user.empty() || !password.empty()) {
            if (user.empty() || password.empty()) {
                return fail(Error::Kind::invalid,
                            where + " has " + (user.empty() ? "password" : "username") +
                                " without " + (user.empty() ? "username" : "password"));
            }
            o.basic_auth = prometheus::BasicAuth{user, password};
        }
        o.ca_pem = get("ca.crt");
        if (o.bearer_token.empty() && !o.basic_auth && o.ca_pem.empty()) {
            return fail(Error::Kind::invalid,
                        where + " has none of the keys token, username/password, ca.crt");
        }
    }
    const std::string key = spec.address + "\n" + version;
    std::lock_guard lock(mu_);
    if (auto it = clients_.find(key); it != clients_.end()) return it->second.get();
    POETRYOPS_TRY(auto client, prometheus::Client::create(std::move(o)));
    // A new Secret version replaces the clients of the old one for this address.
    std::erase_if(clients_,
                  [&](const auto& kv) { return kv.first.starts_with(spec.address + "\n"); });
    ++created_;
    return clients_.emplace(key, std::move(client)).first->second.get();
}

canary::Analysis PrometheusAnalysisPort::run(const api::PoetryApp& app,
                                             const api::EnvironmentSpec& env,
                                             std::chrono::system_clock::time_point now) {
    if (!env.canary || !env.canary->analysis) {
        return round_error("environment " + env.name + " has no canary analysis");
    }
    const auto& a = *env.canary->analysis;
    auto client = client_for(app, a.prometheus);
    if (!client) {
        return round_error("analysis of " + env.name + ": " + client.error().message);
    }
    prometheus::QueryVars vars{.namespace_name = app.metadata.namespace_,
                               .canary = env.canary->traffic.canary,
                               .stable = env.canary->traffic.stable,
                               .interval = prometheus::promql_duration(a.interval.value)};
    Round round(**client, std::move(vars), now, a.interval.value);

    std::vector<canary::MetricVerdict> verdicts;
    std::vector<std::string> bounds;
    auto add = [&](std::variant<canary::MetricVerdict, Unavailable> v,
                   std::string bound) -> std::optional<canary::Analysis> {
        if (auto* u = std::get_if<Unavailable>(&v)) {
            canary::Analysis out;
            out.unavailable = true;
            out.message = u->message;
            return out;
        }
        verdicts.push_back(std::get<canary::MetricVerdict>(std::move(v)));
        bounds.push_back(std::move(bound));
        return std::nullopt;
    };

    if (a.min_requests > 0) {
        if (auto stop =
                add(round.traffic(a.min_requests), ">= " + std::to_string(a.min_requests))) {
            return *stop;
        }
    }
    for (const auto& m : a.metrics) {
        std::string query = m.query;
        if (query.empty()) {
            auto builtin = prometheus::builtin_query(m.name);
            if (!builtin) {
                std::string why = m.name + " is no built-in metric and has no query";
                round.refused().push_back(why);
                add(inconclusive(m.name, why), "");
                continue;
            }
            query = *builtin;
        }
        auto v = a.judge == api::CanaryJudge::compare ? round.compare(m, query, a)
                                                      : round.threshold(m, query);
        auto bound =
            a.judge == api::CanaryJudge::compare ? std::string("vs stable") : bound_text(m);
        if (auto stop = add(std::move(v), std::move(bound))) return *stop;
    }
    canary::Analysis out = to_analysis(canary::combine(std::move(verdicts)), bounds);
    out.invalid = joined(round.refused());
    return out;
}

}  // namespace poetryops::controller

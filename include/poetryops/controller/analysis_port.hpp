#pragma once
/// The canary's analysis rounds (the step machine's `analyze`, canary/plan.hpp): each metric of
/// spec.environments[].canary.analysis queried from Prometheus and judged (canary/judge.hpp).
///
///   PrometheusAnalysisPort port({.secrets = read_secret});   // local mode: {} (no Secrets)
///   canary::Analysis a = port.run(app, env, clock.now());
///   if (a.unavailable) …hold…; else …a.verdict, a.metrics (status.environments[].canary.analysis)…
///
/// A round never throws and never fails: Prometheus unreachable is `unavailable`; a query
/// Prometheus refuses (PromQL that does not parse), a bad template or bad credentials make the
/// metric (or the round) `inconclusive` with a message naming the metric and Prometheus' own
/// error, so a run of them fails the canary (inconclusiveLimit) and the reason is in status.
/// Messages never carry a credential.

#include <poetryops/api/poetryapp.hpp>
#include <poetryops/canary/judge.hpp>
#include <poetryops/canary/plan.hpp>
#include <poetryops/prometheus/client.hpp>
#include <poetryops/util/result.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace poetryops::controller {

/// Runs one canary analysis round for an environment (the step machine's `analyze`).
class AnalysisPort {
public:
    virtual ~AnalysisPort() = default;
    /// Queries and judges env.canary->analysis at `now`. An environment without analysis is an
    /// inconclusive round without metrics.
    virtual canary::Analysis run(const api::PoetryApp& app, const api::EnvironmentSpec& env,
                                 std::chrono::system_clock::time_point now) = 0;
};

/// A Secret's data (decoded) and its resourceVersion (the cache key of the client built from it).
struct SecretData {
    std::map<std::string, std::string> data;
    std::string version;
};

/// Reads Secret `name` in namespace `ns`. Errors name the Secret, never a value.
using SecretSource =
    std::function<Result<SecretData>(const std::string& ns, const std::string& name)>;

struct PrometheusAnalysisOptions {
    /// Where spec.analysis.prometheus.secretRef is read: keys `token` (bearer) or `username` and
    /// `password` (basic auth), and optionally `ca.crt`. Empty (local mode): a secretRef is an
    /// error of the round.
    SecretSource secrets{};
    /// Per query (prometheus::ClientOptions::timeout).
    std::chrono::milliseconds timeout{10'000};
};

/// Over Prometheus' HTTP API. For each metric: its query (or the built-in of its name) rendered
/// with {{namespace}} = the app's namespace, {{canary}}/{{stable}} = traffic.canary/stable and
/// {{interval}} = analysis.interval; `threshold`: one instant query at `now` against min/max;
/// `compare`: canary and baseline sampled at now − i·interval for the fewest samples that can
/// reach `confidence`; plus `request-count` against analysis.minRequests when it is > 0.
/// A Client per (address, Secret version) is kept. Thread safety: safe.
class PrometheusAnalysisPort final : public AnalysisPort {
public:
    explicit PrometheusAnalysisPort(PrometheusAnalysisOptions options = {});
    ~PrometheusAnalysisPort() override;

    canary::Analysis run(const api::PoetryApp& app, const api::EnvironmentSpec& env,
                         std::chrono::system_clock::time_point now) override;

    /// Clients created so far (the cache, in tests).
    std::size_t clients_created() const;

private:
    Result<prometheus::Client*> client_for(const api::PoetryApp& app,
                                           const api::PrometheusSpec& spec);

    PrometheusAnalysisOptions options_;
    mutable std::mutex mu_;
    std::map<std::string, std::unique_ptr<prometheus::Client>> clients_;  // address \n version
    std::size_t created_ = 0;
};

/// One analysis round's combined verdict as status writes it: each check with its value, the bound
/// it was judged against (`bounds[i]` for `verdict.metrics[i]`, e.g. ">= 0.99") and its message.
canary::Analysis to_analysis(const canary::AnalysisVerdict& verdict,
                             const std::vector<std::string>& bounds);

}  // namespace poetryops::controller

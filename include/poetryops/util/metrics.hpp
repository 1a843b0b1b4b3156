#pragma once
/// A small Prometheus metrics registry: counters, gauges and histograms with labels, rendered in
/// the Prometheus text exposition format (version 0.0.4) for `/metrics`.
///
///   registry.describe("poetryops_builds_total", metrics::MetricType::counter,
///                     "Image builds started.");
///   registry.inc("poetryops_builds_total", {{"app", "team-a/billing"}});
///
/// The controller runtime registers controller-runtime's names (controller_runtime_reconcile_total,
/// workqueue_depth, rest_client_requests_total, leader_election_master_status, ...); poetryops' own
/// metrics go in the same registry.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace poetryops::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

enum class MetricType { counter, gauge, histogram };

/// Thread safety: safe (one mutex; metrics are updated per request/reconcile, not in tight loops).
class MetricsRegistry {
public:
    MetricsRegistry();
    ~MetricsRegistry();
    MetricsRegistry(const MetricsRegistry&) = delete;
    MetricsRegistry& operator=(const MetricsRegistry&) = delete;

    /// Declares a family with its HELP text (idempotent; the first declaration wins). Histograms
    /// take their upper bucket bounds (ascending; +Inf is implicit); empty means Prometheus'
    /// default buckets. Using a name that was never declared declares it on the fly with the type
    /// the operation implies and an empty HELP.
    void describe(const std::string& name, MetricType type, const std::string& help,
                  std::vector<double> buckets = {});

    /// Counter += v (v >= 0).
    void inc(const std::string& name, const Labels& labels = {}, double v = 1);
    /// Gauge = v.
    void set(const std::string& name, const Labels& labels, double v);
    /// Gauge += v (may be negative).
    void add(const std::string& name, const Labels& labels, double v);
    /// Histogram observation.
    void observe(const std::string& name, const Labels& labels, double v);
    /// Drops every series of `name` whose labels include all of `subset` (what a deleted object
    /// leaves behind).
    void remove(const std::string& name, const Labels& subset);

    /// Current value of a counter or gauge series (0 when absent); for a histogram, its observation
    /// count.
    double value(const std::string& name, const Labels& labels = {}) const;
    /// Sum over every series of a counter or gauge family (histograms: total observation count).
    double total(const std::string& name) const;

    /// Adds text (already in exposition format) produced at scrape time, e.g. by another component.
    void add_collector(std::function<std::string()> collector);

    /// The whole registry in the text exposition format, families sorted by name.
    std::string render() const;

private:
    struct Family;
    Family& family_locked(const std::string& name, MetricType type);

    mutable std::mutex mu_;
    std::map<std::string, std::unique_ptr<Family>> families_;
    std::vector<std::function<std::string()>> collectors_;
};

/// Prometheus' default histogram buckets (.005 … 10 seconds).
std::vector<double> default_buckets();
/// controller-runtime's reconcile_time buckets (5 ms … 60 s).
std::vector<double> reconcile_time_buckets();
/// Escapes a label value for the text format (backslash, double quote, newline).
std::string escape_label_value(std::string_view v);

}  // namespace poetryops::metrics

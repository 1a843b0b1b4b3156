#pragma once
// A tiny application for canary tests, on the project's HTTP server: every request to any path
// but /metrics is "served" (200 "ok", or 500 at the injected error rate, after the injected
// delay) and counted; /metrics exports what a Prometheus client library would, in the text
// format Prometheus scrapes:
//
//   http_requests_total{code="200"} 95
//   http_requests_total{code="500"} 5
//   http_request_duration_seconds_bucket{le="0.005"} …  (the client libraries' default buckets)
//   http_request_duration_seconds_sum / _count
//
// The labels namespace and service come from the scrape config (ScrapeTarget::labels), as a
// ServiceMonitor adds them, so the built-in queries (prometheus/query_template.hpp) work as is.
// Errors are spread evenly, not random: with error rate 0.05 exactly every 20th request fails.
// Thread safety: set_error_rate()/set_delay() and the counters from any thread.

#include <poetryops/http/server.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace poetryops::test {

struct MetricsTargetOptions {
    double error_rate = 0;               ///< fraction of requests answered 500, 0..1
    std::chrono::milliseconds delay{0};  ///< added to every served request before it answers
};

class MetricsTarget {
public:
    MetricsTarget() = default;
    ~MetricsTarget();
    MetricsTarget(const MetricsTarget&) = delete;
    MetricsTarget& operator=(const MetricsTarget&) = delete;

    /// Starts serving on 127.0.0.1, a free port. Returns false after ADD_FAILURE.
    bool start(MetricsTargetOptions options = {});
    void stop();

    int port() const { return static_cast<int>(server_.port()); }
    /// "http://127.0.0.1:PORT/" (the app's URL for the load generator).
    std::string url() const { return server_.base_url() + "/"; }

    void set_error_rate(double rate);
    void set_delay(std::chrono::milliseconds delay);

    std::uint64_t requests() const { return requests_.load(); }
    std::uint64_t errors() const { return errors_.load(); }
    /// The /metrics page as it would be scraped now.
    std::string exposition() const;

    /// The histogram's upper bounds in seconds (+Inf implied).
    static const std::vector<double>& buckets();

private:
    void serve_one(std::chrono::steady_clock::time_point started, bool& error);

    http::Server server_;
    mutable std::mutex mu_;
    double error_rate_ = 0;
    std::chrono::milliseconds delay_{0};
    double error_budget_ = 0;  // accumulated error_rate; a request fails when it reaches 1
    std::vector<std::uint64_t> bucket_counts_;
    double duration_sum_ = 0;
    std::atomic<std::uint64_t> requests_{0};
    std::atomic<std::uint64_t> errors_{0};
};

}  // namespace poetryops::test

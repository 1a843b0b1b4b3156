#include "support/prometheus/metrics_target.hpp"

#include <poetryops/http/url.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <thread>

namespace poetryops::test {

const std::vector<double>& MetricsTarget::buckets() {
    // The default buckets of the Prometheus client libraries (Go, Python).
    static const std::vector<double> b = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
                                          0.5,   0.75, 1,     2.5,  5,     7.5, 10};
    return b;
}

MetricsTarget::~MetricsTarget() { stop(); }

bool MetricsTarget::start(MetricsTargetOptions options) {
    error_rate_ = options.error_rate;
    delay_ = options.delay;
    bucket_counts_.assign(buckets().size() + 1, 0);
    http::ServerOptions so;
    so.worker_threads = 16;  // delayed requests each hold a worker
    so.stop_grace = std::chrono::seconds(2);
    auto port = server_.start(so, [this](const http::Request& req) {
        if (http::split_target(req.url).first == "/metrics") {
            return http::Response::make(200, exposition(), "text/plain; version=0.0.4");
        }
        const auto started = std::chrono::steady_clock::now();
        bool error = false;
        serve_one(started, error);
        return error ? http::Response::make(500, "injected error\n")
                     : http::Response::make(200, "ok\n");
    });
    if (!port) {
        ADD_FAILURE() << "MetricsTarget: " << port.error().message;
        return false;
    }
    return true;
}

void MetricsTarget::stop() { server_.stop(); }

void MetricsTarget::set_error_rate(double rate) {
    std::lock_guard lock(mu_);
    error_rate_ = rate;
}

void MetricsTarget::set_delay(std::chrono::milliseconds delay) {
    std::lock_guard lock(mu_);
    delay_ = delay;
}

void MetricsTarget::serve_one(std::chrono::steady_clock::time_point started, bool& error) {
    std::chrono::milliseconds delay;
    {
        std::lock_guard lock(mu_);
        delay = delay_;
        error_budget_ += error_rate_;
        if (error_budget_ >= 1 - 1e-9) {
            error_budget_ -= 1;
            error = true;
        }
    }
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::lock_guard lock(mu_);
    std::size_t i = 0;
    while (i < buckets().size() && seconds > buckets()[i]) ++i;
    ++bucket_counts_[i];
    duration_sum_ += seconds;
    ++requests_;
    if (error) ++errors_;
}

std::string MetricsTarget::exposition() const {
    std::lock_guard lock(mu_);
    const auto total = requests_.load();
    const auto errors = errors_.load();
    std::string out;
    out += "# HELP http_requests_total Requests served, by status code.\n";
    out += "# TYPE http_requests_total counter\n";
    out += "http_requests_total{code=\"200\"} " + std::to_string(total - errors) + "\n";
    out += "http_requests_total{code=\"500\"} " + std::to_string(errors) + "\n";
    out += "# HELP http_request_duration_seconds Time to serve a request.\n";
    out += "# TYPE http_request_duration_seconds histogram\n";
    std::uint64_t cumulative = 0;
    char le[32];
    for (std::size_t i = 0; i < buckets().size(); ++i) {
        cumulative += bucket_counts_[i];
        std::snprintf(le, sizeof le, "%g", buckets()[i]);
        out += "http_request_duration_seconds_bucket{le=\"" + std::string(le) + "\"} " +
               std::to_string(cumulative) + "\n";
    }
    cumulative += bucket_counts_.back();
    out += "http_request_duration_seconds_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
    char sum[40];
    std::snprintf(sum, sizeof sum, "%.9g", duration_sum_);
    out += "http_request_duration_seconds_sum " + std::string(sum) + "\n";
    out += "http_request_duration_seconds_count " + std::to_string(cumulative) + "\n";
    return out;
}

}  // namespace poetryops::test

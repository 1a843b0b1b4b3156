#pragma once
// The real Prometheus (Debian's `prometheus`) for tests: started on 127.0.0.1 with a free port in
// a TempDir, scraping the targets the test names every second, optionally behind basic auth
// (--web.config.file with a bcrypt hash made by htpasswd) and/or TLS with a certificate of a
// TestCa; stopped by PID (its process group) on destruction or by stop().
//
//   MetricsTarget stable;  stable.start();
//   auto prom = TestPrometheus::start({.targets = {{.port = stable.port(),
//                                                   .labels = {{"service", "billing"}}}}});
//   prom->wait_for("sum(http_requests_total)", [](double v) { return v >= 10; });
//
// The first sample of a new target becomes queryable only after ~6-8 s even with a 1 s scrape
// interval: wait_for() polls up to its timeout (30 s by default).

#include "support/support.hpp"

#include <poetryops/prometheus/client.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace poetryops::test {

/// One scrape target: a static_config entry of its own job.
struct ScrapeTarget {
    std::string job = "app";
    int port = 0;  ///< on 127.0.0.1; scraped at /metrics
    /// Target labels, as Kubernetes service discovery would add them (namespace, service).
    std::map<std::string, std::string> labels{};
};

struct TestPrometheusOptions {
    std::vector<ScrapeTarget> targets{};
    /// Basic auth on every endpoint when user is set (bcrypt hash via `htpasswd -niB`, password
    /// from stdin: other tests read every process's command line for secrets).
    std::string user{}, password{};
    TestCa* ca = nullptr;  ///< serve HTTPS with a certificate for 127.0.0.1 from this CA when set
    /// 0: a free port. A port of a stopped TestPrometheus starts "the same Prometheus" again (with
    /// an empty database), for tests of Prometheus coming back.
    int port = 0;
};

class TestPrometheus {
public:
    /// Starts Prometheus and waits until /-/ready answers 200. Returns nullptr after ADD_FAILURE on
    /// error (the log is in the failure message).
    static std::unique_ptr<TestPrometheus> start(TestPrometheusOptions options);
    ~TestPrometheus();
    TestPrometheus(const TestPrometheus&) = delete;
    TestPrometheus& operator=(const TestPrometheus&) = delete;

    int port() const { return port_; }
    /// "http://127.0.0.1:PORT" (https with a CA).
    std::string url() const;
    /// Client options that reach this Prometheus (address, credentials, CA).
    prometheus::ClientOptions client_options() const;
    /// Stops the process now (tests of "Prometheus is down"); the destructor then does nothing.
    void stop();
    bool running();
    /// Prometheus' own log (for failure messages).
    std::string log() const;

    /// Polls the instant query every 250 ms until it yields one number for which `ready` is true.
    /// Returns that number, or nullopt after ADD_FAILURE with the last answer once `timeout`
    /// passed.
    std::optional<double> wait_for(const std::string& promql,
                                   const std::function<bool(double)>& ready,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(30));

private:
    TestPrometheus() = default;
    TestPrometheusOptions options_;
    TempDir dir_{"poetryops-prometheus"};
    ChildProcess process_;
    int port_ = 0;
    std::string ca_file_;
};

}  // namespace poetryops::test

#include "support/prometheus/test_prometheus.hpp"

#include <poetryops/http/client.hpp>
#include <poetryops/util/strings.hpp>

#include <gtest/gtest.h>

#include <thread>

namespace poetryops::test {
namespace fs = std::filesystem;

namespace {

/// YAML double-quoted scalar.
std::string yaml_quoted(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

}  // namespace

std::unique_ptr<TestPrometheus> TestPrometheus::start(TestPrometheusOptions options) {
    if (!require_tools({"prometheus", "htpasswd"})) return nullptr;
    std::unique_ptr<TestPrometheus> p(new TestPrometheus());
    p->options_ = options;
    p->port_ = options.port > 0 ? options.port : free_port();
    const auto d = p->dir_.path();

    std::string config =
        "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n";
    for (const auto& t : options.targets) {
        config += "  - job_name: " + yaml_quoted(t.job) +
                  "\n    static_configs:\n      - targets: [" +
                  yaml_quoted("127.0.0.1:" + std::to_string(t.port)) + "]\n        labels: {";
        bool first = true;
        for (const auto& [k, v] : t.labels) {
            config += (first ? "" : ", ") + k + ": " + yaml_quoted(v);
            first = false;
        }
        config += "}\n";
    }
    if (options.targets.empty()) config += "  []\n";
    if (!write_file_atomic(d / "prometheus.yml", config)) {
        ADD_FAILURE() << "TestPrometheus: cannot write the config";
        return nullptr;
    }

    std::vector<std::string> argv = {
        "prometheus", "--config.file=" + (d / "prometheus.yml").string(),
        "--storage.tsdb.path=" + (d / "data").string(),
        "--web.listen-address=127.0.0.1:" + std::to_string(p->port_), "--log.level=warn"};
    std::string web;
    if (!options.user.empty()) {
        ProcessOptions po;
        po.stdin_data = options.password + "\n";
        auto r = must_run({"htpasswd", "-niB", options.user}, po);
        auto colon = r.out.find(':');
        if (!r.ok() || colon == std::string::npos) return nullptr;
        web += "basic_auth_users:\n  " + yaml_quoted(options.user) + ": " +
               yaml_quoted(std::string(str::trim(r.out.substr(colon + 1)))) + "\n";
    }
    if (options.ca) {
        auto [crt, key] = options.ca->issue("prometheus", {"DNS:localhost", "IP:127.0.0.1"});
        web += "tls_server_config:\n  cert_file: " + yaml_quoted(crt.string()) +
               "\n  key_file: " + yaml_quoted(key.string()) + "\n";
        p->ca_file_ = options.ca->ca_cert().string();
    }
    if (!web.empty()) {
        if (!write_file_atomic(d / "web.yml", web, 0600)) {
            ADD_FAILURE() << "TestPrometheus: cannot write the web config";
            return nullptr;
        }
        argv.push_back("--web.config.file=" + (d / "web.yml").string());
    }
    auto child = ChildProcess::spawn(argv, {}, (d / "prometheus.log").string());
    if (!child) {
        ADD_FAILURE() << "TestPrometheus: " << child.error().message;
        return nullptr;
    }
    p->process_ = std::move(child).value();

    // Ready: /-/ready answers 200 (behind the same auth and TLS as the API).
    http::ClientOptions ho;
    ho.tls.ca_file = p->ca_file_;
    ho.connect_timeout = ho.read_timeout = std::chrono::seconds(2);
    auto client = http::Client::create(ho);
    if (!client) {
        ADD_FAILURE() << "TestPrometheus: " << client.error().message;
        return nullptr;
    }
    http::Request ready{.method = "GET", .url = p->url() + "/-/ready"};
    if (!options.user.empty()) {
        ready.headers.set("Authorization",
                          "Basic " + str::base64_encode(options.user + ":" + options.password));
    }
    auto* raw = p.get();
    bool ok = wait_until(
        [&] {
            if (!raw->running()) return false;
            auto r = (*client)->request(ready);
            return r && r->status == 200;
        },
        std::chrono::seconds(30));
    if (!ok) {
        ADD_FAILURE() << "prometheus did not become ready on port " << p->port_ << ":\n"
                      << p->log();
        return nullptr;
    }
    return p;
}

TestPrometheus::~TestPrometheus() { stop(); }

void TestPrometheus::stop() {
    if (process_.pid() > 0 && process_.running()) process_.stop(std::chrono::seconds(5));
}

bool TestPrometheus::running() { return process_.pid() > 0 && process_.running(); }

std::string TestPrometheus::url() const {
    return std::string(options_.ca ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

prometheus::ClientOptions TestPrometheus::client_options() const {
    prometheus::ClientOptions o;
    o.address = url();
    o.ca_file = ca_file_;
    if (!options_.user.empty())
        o.basic_auth = prometheus::BasicAuth{options_.user, options_.password};
    o.timeout = std::chrono::seconds(5);
    return o;
}

std::string TestPrometheus::log() const {
    auto text = read_file(dir_.path() / "prometheus.log");
    return text ? *text : std::string("(no log)");
}

std::optional<double> TestPrometheus::wait_for(const std::string& promql,
                                               const std::function<bool(double)>& ready,
                                               std::chrono::milliseconds timeout) {
    auto client = prometheus::Client::create(client_options());
    if (!client) {
        ADD_FAILURE() << client.error().message;
        return std::nullopt;
    }
    std::string last = "(no answer yet)";
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto v = (*client)->query_value(promql);
        if (!v) {
            last = v.error().message;
        } else if (!v->ok()) {
            last = v->message;
        } else if (ready(v->value)) {
            return v->value;
        } else {
            last = "value " + std::to_string(v->value);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    ADD_FAILURE() << "Prometheus: " << promql << " not ready after " << timeout.count()
                  << " ms; last answer: " << last;
    return std::nullopt;
}

}  // namespace poetryops::test

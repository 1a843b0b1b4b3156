#include <poetryops/runtime/controller.hpp>

#include <poetryops/util/log.hpp>
#include <poetryops/util/metrics.hpp>

namespace poetryops::runtime {

KeyMapper owner_mapper(std::string owner_kind, std::string owner_group) {
    return [kind = std::move(owner_kind), group = std::move(owner_group)](const nlohmann::json& o) {
        std::vector<std::string> keys;
        auto md = o.find("metadata");
        if (md == o.end() || !md->is_object()) return keys;
        auto refs = md->find("ownerReferences");
        if (refs == md->end() || !refs->is_array()) return keys;
        std::string ns = md->value("namespace", "");
        for (const auto& ref : *refs) {
            if (!ref.is_object() || !ref.value("controller", false) ||
                ref.value("kind", "") != kind)
                continue;
            if (!group.empty()) {
                std::string av = ref.value("apiVersion", "");
                auto slash = av.find('/');
                if (slash == std::string::npos || av.substr(0, slash) != group) continue;
            }
            std::string name = ref.value("name", "");
            if (!name.empty()) keys.push_back(ns.empty() ? name : ns + "/" + name);
        }
        return keys;
    };
}

Controller::Controller(ControllerOptions options, Reconciler& reconciler,
                       metrics::MetricsRegistry& metrics, const Clock& clock)
    : name_(options.name),
      workers_count_(std::max(1, options.max_concurrent_reconciles)),
      reconciler_(reconciler),
      metrics_(metrics),
      clock_(clock),
      queue_(options.name, clock, std::move(options.rate_limiter), &metrics) {
    metrics_.describe("controller_runtime_reconcile_total", metrics::MetricType::counter,
                      "Total number of reconciliations per controller");
    metrics_.describe("controller_runtime_reconcile_errors_total", metrics::MetricType::counter,
                      "Total number of reconciliation errors per controller");
    metrics_.describe("controller_runtime_terminal_reconcile_errors_total",
                      metrics::MetricType::counter,
                      "Total number of terminal reconciliation errors per controller");
    metrics_.describe("controller_runtime_reconcile_panics_total", metrics::MetricType::counter,
                      "Total number of reconciliation exceptions per controller");
    metrics_.describe("controller_runtime_reconcile_time_seconds", metrics::MetricType::histogram,
                      "Length of time per reconciliation per controller",
                      metrics::reconcile_time_buckets());
    metrics_.describe("controller_runtime_active_workers", metrics::MetricType::gauge,
                      "Number of currently used workers per controller");
    metrics_.describe("controller_runtime_max_concurrent_reconciles", metrics::MetricType::gauge,
                      "Maximum number of concurrent reconciles per controller");
    metrics::Labels l{{"controller", name_}};
    for (const char* result : {"success", "error", "requeue", "requeue_after"}) {
        metrics_.inc("controller_runtime_reconcile_total",
                     {{"controller", name_}, {"result", result}}, 0);
    }
    metrics_.inc("controller_runtime_reconcile_errors_total", l, 0);
    metrics_.inc("controller_runtime_terminal_reconcile_errors_total", l, 0);
    metrics_.inc("controller_runtime_reconcile_panics_total", l, 0);
    metrics_.set("controller_runtime_active_workers", l, 0);
    metrics_.set("controller_runtime_max_concurrent_reconciles", l, workers_count_);
}

Controller::~Controller() { stop(); }

void Controller::watch(Informer& informer) {
    watch(informer, [](const nlohmann::json& o) {
        std::vector<std::string> keys;
        if (auto k = key_of(o); !k.empty()) keys.push_back(std::move(k));
        return keys;
    });
}

void Controller::watch(Informer& informer, KeyMapper map) {
    auto enqueue_all = [this, map](const nlohmann::json& o) {
        for (const auto& k : map(o)) queue_.add(k);
    };
    informer.add_handler(
        {enqueue_all,
         [enqueue_all](const nlohmann::json&, const nlohmann::json& n) { enqueue_all(n); },
         enqueue_all});
}

void Controller::start() {
    std::lock_guard lock(mu_);
    if (started_) return;
    started_ = true;
    for (int i = 0; i < workers_count_; ++i) workers_.emplace_back([this] { worker(); });
}

void Controller::stop() {
    queue_.shut_down();
    std::vector<std::thread> workers;
    {
        std::lock_guard lock(mu_);
        workers.swap(workers_);
    }
    for (auto& t : workers) t.join();
}

std::uint64_t Controller::reconciles() const { return reconciles_.load(); }

void Controller::worker() {
    while (auto key = queue_.get()) {
        reconcile_one(*key);
        queue_.done(*key);
    }
}

void Controller::reconcile_one(const std::string& key) {
    metrics::Labels l{{"controller", name_}};
    metrics_.add("controller_runtime_active_workers", l, 1);
    auto start = std::chrono::steady_clock::now();
    const char* result = "success";
    try {
        auto r = reconciler_.reconcile(key);
        if (!r) {
            result = "error";
            metrics_.inc("controller_runtime_reconcile_errors_total", l);
            if (r.error().terminal) {
                metrics_.inc("controller_runtime_terminal_reconcile_errors_total", l);
                queue_.forget(key);
                POETRYOPS_LOG(error, "reconcile failed (terminal; not retried)",
                              {{"controller", name_}, {"key", key}, {"error", r.error().message}});
            } else {
                queue_.add_rate_limited(key);
                POETRYOPS_LOG(warn, "reconcile failed; retrying with backoff",
                              {{"controller", name_},
                               {"key", key},
                               {"error", r.error().message},
                               {"retries", std::to_string(queue_.num_requeues(key))}});
            }
        } else if (r->requeue_after.count() > 0) {
            result = "requeue_after";
            queue_.forget(key);
            queue_.add_after(key, r->requeue_after);
        } else if (r->requeue) {
            result = "requeue";
            queue_.add_rate_limited(key);
        } else {
            queue_.forget(key);
        }
    } catch (const std::exception& e) {
        result = "error";
        metrics_.inc("controller_runtime_reconcile_errors_total", l);
        metrics_.inc("controller_runtime_reconcile_panics_total", l);
        queue_.add_rate_limited(key);
        POETRYOPS_LOG(error, "reconcile threw an exception; retrying with backoff",
                      {{"controller", name_}, {"key", key}, {"error", e.what()}});
    } catch (...) {
        result = "error";
        metrics_.inc("controller_runtime_reconcile_errors_total", l);
        metrics_.inc("controller_runtime_reconcile_panics_total", l);
        queue_.add_rate_limited(key);
        POETRYOPS_LOG(error, "reconcile threw a non-standard exception; retrying with backoff",
                      {{"controller", name_}, {"key", key}});
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    metrics_.observe("controller_runtime_reconcile_time_seconds", l, seconds);
    metrics_.inc("controller_runtime_reconcile_total", {{"controller", name_}, {"result", result}});
    metrics_.add("controller_runtime_active_workers", l, -1);
    ++reconciles_;
}

}  // namespace poetryops::runtime

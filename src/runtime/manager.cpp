#include <poetryops/runtime/manager.hpp>

#include <poetryops/http/server.hpp>
#include <poetryops/kube/resource.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/util/log.hpp>

#include <pthread.h>
#include <signal.h>

#include <cstdlib>

namespace poetryops::runtime {

struct Manager::Impl {
    std::vector<std::unique_ptr<http::Server>> servers;
    std::uint16_t metrics_port = 0;
    std::uint16_t health_port = 0;
};

namespace {

/// ":8080" → {"0.0.0.0", 8080}; "127.0.0.1:0" → {"127.0.0.1", 0}; "[::1]:9" → {"::1", 9}.
Result<std::pair<std::string, std::uint16_t>> parse_bind(const std::string& addr,
                                                         const char* flag) {
    auto colon = addr.rfind(':');
    if (colon == std::string::npos) {
        return fail(Error::make(Error::Kind::invalid,
                                std::string(flag) + " \"" + addr + "\": expected host:port"));
    }
    std::string host = addr.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    if (host.empty()) host = "0.0.0.0";
    if (host == "localhost") host = "127.0.0.1";
    int port = -1;
    try {
        std::size_t used = 0;
        port = std::stoi(addr.substr(colon + 1), &used);
        if (used != addr.size() - colon - 1) port = -1;
    } catch (const std::exception&) {
        port = -1;
    }
    if (port < 0 || port > 65535) {
        return fail(
            Error::make(Error::Kind::invalid, std::string(flag) + " \"" + addr + "\": bad port"));
    }
    return std::make_pair(host, static_cast<std::uint16_t>(port));
}

bool disabled(const std::string& addr) { return addr.empty() || addr == "0"; }

}  // namespace

Manager::Manager(kube::KubeClient& client, ManagerOptions options)
    : client_(client),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock
                                       : static_cast<const Clock&>(SystemClock::instance())),
      own_metrics_(options_.metrics == nullptr ? std::make_unique<metrics::MetricsRegistry>()
                                               : nullptr),
      metrics_(options_.metrics != nullptr ? options_.metrics : own_metrics_.get()),
      events_(client, options_.events, clock_),
      impl_(std::make_unique<Impl>()) {}

Manager::~Manager() { stop(); }

Informer& Manager::add_informer(InformerOptions options) {
    informers_.push_back(std::make_unique<Informer>(client_, std::move(options), clock_));
    return *informers_.back();
}

Controller& Manager::add_controller(ControllerOptions options, Reconciler& reconciler) {
    controllers_.push_back(
        std::make_unique<Controller>(std::move(options), reconciler, *metrics_, clock_));
    return *controllers_.back();
}

bool Manager::ready() const {
    for (const auto& i : informers_) {
        if (!i->has_synced()) return false;
    }
    return true;
}

bool Manager::controllers_started() const {
    std::lock_guard lock(mu_);
    return controllers_started_;
}

bool Manager::is_leader() const {
    return !options_.leader_election || (elector_ && elector_->is_leader());
}

std::uint16_t Manager::metrics_port() const { return impl_->metrics_port; }
std::uint16_t Manager::health_port() const { return impl_->health_port; }

Result<void> Manager::label_leader_pod(bool leading) {
    auto slash = options_.leader_pod.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == options_.leader_pod.size() ||
        options_.leader_pod.find('/', slash + 1) != std::string::npos)
        return fail(Error::make(Error::Kind::invalid, "expected NAMESPACE/NAME"));
    nlohmann::json value = leading ? nlohmann::json("true") : nlohmann::json(nullptr);
    nlohmann::json patch = {{"metadata", {{"labels", {{options_.leader_pod_label, value}}}}}};
    POETRYOPS_TRY(auto patched, client_.patch(kube::resources::pods()
                                                  .in(options_.leader_pod.substr(0, slash))
                                                  .named(options_.leader_pod.substr(slash + 1)),
                                              kube::PatchType::merge, patch));
    (void)patched;
    return ok();
}

void Manager::start_controllers_when_synced() {
    for (;;) {
        {
            std::unique_lock lock(mu_);
            if (stopping_) return;
            if (ready()) break;
            cv_.wait_for(lock, std::chrono::milliseconds(20));
        }
    }
    std::lock_guard lock(mu_);
    if (stopping_ || controllers_started_) return;
    for (auto& c : controllers_) c->start();
    controllers_started_ = true;
    POETRYOPS_LOG(info, "caches synced; controllers started",
                  {{"controllers", std::to_string(controllers_.size())}});
}

Result<void> Manager::start() {
    {
        std::lock_guard lock(mu_);
        if (started_) return ok();
        started_ = true;
    }
    auto handler = [this](const http::Request& req) {
        std::string path = req.url.substr(0, req.url.find('?'));
        if (path == "/healthz" || path == "/livez") return http::Response::make(200, "ok");
        if (path == "/readyz") {
            std::string unsynced;
            for (const auto& i : informers_) {
                if (!i->has_synced())
                    unsynced += (unsynced.empty() ? "" : ", ") + i->options().resource.describe();
            }
            if (unsynced.empty()) return http::Response::make(200, "ok");
            return http::Response::make(503, "caches not synced: " + unsynced);
        }
        if (path == "/metrics") {
            return http::Response::make(200, metrics_->render(),
                                        "text/plain; version=0.0.4; charset=utf-8");
        }
        return http::Response::make(404, "not found");
    };
    auto serve = [&](const std::string& addr, const char* flag,
                     std::uint16_t& port_out) -> Result<void> {
        if (disabled(addr)) return ok();
        POETRYOPS_TRY(auto hp, parse_bind(addr, flag));
        auto server = std::make_unique<http::Server>();
        http::ServerOptions so;
        so.address = hp.first;
        so.port = hp.second;
        so.worker_threads = 2;
        so.stop_grace = std::chrono::milliseconds(1000);
        auto port = server->start(so, handler);
        if (!port) {
            Error e = std::move(port).error();
            e.message = std::string(flag) + " " + addr + ": " + e.message;
            return fail(std::move(e));
        }
        port_out = *port;
        impl_->servers.push_back(std::move(server));
        return ok();
    };
    if (options_.metrics_bind_address == options_.health_probe_bind_address &&
        !disabled(options_.metrics_bind_address)) {
        POETRYOPS_TRY_VOID(
            serve(options_.metrics_bind_address, "--metrics-bind-address", impl_->metrics_port));
        impl_->health_port = impl_->metrics_port;
    } else {
        POETRYOPS_TRY_VOID(
            serve(options_.metrics_bind_address, "--metrics-bind-address", impl_->metrics_port));
        POETRYOPS_TRY_VOID(serve(options_.health_probe_bind_address, "--health-probe-bind-address",
                                 impl_->health_port));
    }
    for (auto& i : informers_) i->start();
    if (!options_.leader_election) {
        starter_thread_ = std::thread([this] { start_controllers_when_synced(); });
        return ok();
    }
    LeaderElectionConfig le;
    le.lease_namespace = options_.leader_election_namespace;
    le.lease_name = options_.leader_election_id;
    le.identity =
        options_.leader_identity.empty() ? default_leader_identity() : options_.leader_identity;
    le.lease_duration = options_.lease_duration;
    le.renew_deadline = options_.renew_deadline;
    le.retry_period = options_.retry_period;
    le.metrics = metrics_;
    if (!options_.leader_pod.empty()) {
        // A restarted container keeps its Pod's labels: a replica that led before must not keep
        // receiving the leader's requests while it waits.
        auto unlabeled = label_leader_pod(false);
        if (!unlabeled) {
            const Error& e = unlabeled.error();
            if (kube::is_not_found(e) || kube::is_forbidden(e) || e.kind == Error::Kind::invalid)
                return fail(
                    Error::make(e.kind, "--leader-pod " + options_.leader_pod + ": " + e.message));
            POETRYOPS_LOG(warn, "could not remove the leader label from this Pod",
                          {{"pod", options_.leader_pod}, {"error", e.message}});
        }
    }
    le.on_started_leading = [this] {
        if (!options_.leader_pod.empty()) {
            // Tried until it works or the manager stops: until then the leader's Service has no
            // endpoint and pushes wait for the apps' polls.
            for (int attempt = 1;; ++attempt) {
                auto labeled = label_leader_pod(true);
                if (labeled) break;
                POETRYOPS_LOG(warn, "could not label this Pod as the leader",
                              {{"pod", options_.leader_pod},
                               {"attempt", std::to_string(attempt)},
                               {"error", labeled.error().message}});
                std::unique_lock lock(mu_);
                if (cv_.wait_for(lock, options_.retry_period, [&] { return stopping_; })) return;
            }
            POETRYOPS_LOG(
                info, "labelled this Pod as the leader",
                {{"pod", options_.leader_pod}, {"label", options_.leader_pod_label + "=true"}});
        }
        start_controllers_when_synced();
    };
    le.on_stopped_leading = [this] {
        if (options_.on_lost_leadership) {
            options_.on_lost_leadership();
            return;
        }
        POETRYOPS_LOG(error,
                      "lost the leader-election lease; exiting so that another replica leads");
        std::_Exit(1);
    };
    elector_ = std::make_unique<LeaderElector>(client_, std::move(le), clock_);
    elector_thread_ = std::thread([this] { elector_->run(); });
    return ok();
}

int Manager::run() {
    if (auto r = start(); !r) {
        POETRYOPS_LOG(error, "manager failed to start", {{"error", r.error().message}});
        return 2;
    }
    {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_; });
    }
    stop();
    return 0;
}

void Manager::stop() {
    std::lock_guard serial(stop_mu_);
    {
        std::lock_guard lock(mu_);
        if (stopped_) return;
        stopping_ = true;
        cv_.notify_all();
    }
    if (starter_thread_.joinable()) starter_thread_.join();
    // 1. Stop taking work; in-flight reconciles finish.
    for (auto& c : controllers_) c->stop();
    // 2. Give up the leader label and the lease (run() releases it when stopped) so a successor
    // takes over at once.
    if (elector_ && elector_->is_leader() && !options_.leader_pod.empty()) {
        if (auto r = label_leader_pod(false); !r)
            POETRYOPS_LOG(warn, "could not remove the leader label from this Pod",
                          {{"pod", options_.leader_pod}, {"error", r.error().message}});
    }
    if (elector_) elector_->stop();
    if (elector_thread_.joinable()) elector_thread_.join();
    // 3. Informers and endpoints.
    for (auto& i : informers_) i->stop();
    for (auto& s : impl_->servers) s->stop();
    std::lock_guard lock(mu_);
    stopped_ = true;
    POETRYOPS_LOG(info, "manager stopped");
}

ShutdownSignals::ShutdownSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    thread_ = std::thread([this, set] {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) return;
        if (received_.exchange(sig) == -1) return;  // the destructor woke us
        std::function<void()> cb;
        {
            std::lock_guard lock(mu_);
            cb = callback_;
        }
        POETRYOPS_LOG(info, "received a shutdown signal", {{"signal", std::to_string(sig)}});
        if (cb) cb();
    });
}

ShutdownSignals::~ShutdownSignals() {
    int expected = 0;
    if (received_.compare_exchange_strong(expected, -1))
        pthread_kill(thread_.native_handle(), SIGTERM);
    thread_.join();
}

void ShutdownSignals::on_signal(std::function<void()> callback) {
    bool already = false;
    {
        std::lock_guard lock(mu_);
        callback_ = callback;
        already = received_.load() > 0;
    }
    if (already && callback) callback();
}

}  // namespace poetryops::runtime

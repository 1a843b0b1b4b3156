#include <poetryops/controller/app_controller.hpp>
#include <poetryops/controller/resources.hpp>

#include <poetryops/api/codec.hpp>
#include <poetryops/git/remote.hpp>
#include <poetryops/kube/config.hpp>
#include <poetryops/kube/label_selector.hpp>
#include <poetryops/kube/resource.hpp>
#include <poetryops/util/log.hpp>

#include <algorithm>

namespace poetryops::controller {

Result<std::unique_ptr<AppController>> AppController::create(const AppControllerConfig& config) {
    kube::ConfigOptions opts;
    opts.kubeconfig = config.kubeconfig;
    opts.context = config.context;
    POETRYOPS_TRY(auto kube_config, kube::load_config(opts));
    POETRYOPS_LOG(info, "connecting to the API server", {{"config", kube_config.describe()}});
    auto metrics = std::make_unique<metrics::MetricsRegistry>();
    kube::RestClientOptions client_options;
    client_options.metrics = metrics.get();
    POETRYOPS_TRY(auto rest, kube::RestClient::create(kube_config, client_options));
    std::unique_ptr<kube::KubeClient> client = std::move(rest);
    POETRYOPS_TRY(auto controller, create(config, std::move(client), kube_config.namespace_));
    // rest_client_requests_total lives in the client's registry; /metrics renders it with the
    // manager's.
    metrics::MetricsRegistry* raw = metrics.get();
    controller->manager_->metrics().add_collector([raw] { return raw->render(); });
    controller->client_metrics_ = std::move(metrics);
    return controller;
}

Result<std::unique_ptr<AppController>> AppController::create(
    const AppControllerConfig& config, std::unique_ptr<kube::KubeClient> client,
    std::string default_namespace) {
    if (config.max_concurrent_reconciles < 1 || config.max_concurrent_reconciles > 256) {
        return fail(Error::Kind::invalid, "--max-concurrent-reconciles must be within 1..256");
    }
    for (const auto& ns : config.namespaces) {
        if (ns.empty()) return fail(Error::Kind::invalid, "--namespace must not be empty");
    }
    if (auto selector = kube::LabelSelector::parse(config.label_selector); !selector) {
        return fail(Error::Kind::invalid,
                    "--selector " + config.label_selector + ": " + selector.error().message);
    }
    if (!config.leader_pod.empty()) {
        auto slash = config.leader_pod.find('/');
        if (!config.leader_elect)
            return fail(Error::Kind::invalid, "--leader-pod needs --leader-elect");
        if (slash == std::string::npos || slash == 0 || slash + 1 == config.leader_pod.size() ||
            config.leader_pod.find('/', slash + 1) != std::string::npos)
            return fail(Error::Kind::invalid,
                        "--leader-pod " + config.leader_pod + ": expected NAMESPACE/NAME");
    }
    std::unique_ptr<AppController> c(new AppController());
    c->client_ = std::move(client);
    c->admission_options_ = config.admission;

    runtime::ManagerOptions mo;
    mo.metrics_bind_address = config.metrics_bind_address;
    mo.health_probe_bind_address = config.health_probe_bind_address;
    mo.leader_election = config.leader_elect;
    mo.leader_election_namespace = config.leader_election_namespace.empty()
                                       ? default_namespace
                                       : config.leader_election_namespace;
    mo.leader_election_id = "poetryops-controller";
    mo.leader_pod = config.leader_pod;
    mo.events.component = "poetryops-controller";
    c->manager_ = std::make_unique<runtime::Manager>(*c->client_, std::move(mo));

    std::vector<std::string> namespaces = config.namespaces;
    std::sort(namespaces.begin(), namespaces.end());
    namespaces.erase(std::unique(namespaces.begin(), namespaces.end()), namespaces.end());
    if (namespaces.empty()) namespaces.push_back("");  // all namespaces
    for (const auto& ns : namespaces) {
        runtime::InformerOptions io;
        io.resource = controller::poetryapps().in(ns);
        io.label_selector = config.label_selector;
        io.resync = config.resync;
        c->informers_.push_back(&c->manager_->add_informer(std::move(io)));
    }

    // Keys are "namespace/name"; find the informer watching that namespace (or the all-namespaces
    // one).
    auto informers = c->informers_;
    auto lookup = [informers, all = namespaces.front().empty()](
                      const std::string& key) -> runtime::Informer::ObjectPtr {
        if (all) return informers.front()->get(key);
        std::string ns = key.substr(0, key.find('/'));
        for (auto* inf : informers) {
            if (inf->options().resource.namespace_ == ns) return inf->get(key);
        }
        return nullptr;
    };
    AppReconcilerOptions ro;
    ro.events = &c->manager_->events();
    ro.metrics = &c->manager_->metrics();
    EngineOptions eo;
    if (config.promotion) {
        const ClusterPromotionOptions& po = *config.promotion;
        PortsOptions ports;
        ports.cache_dir = po.cache_dir;
        ports.registry = po.registry;
        ports.committer = po.committer;
        ports.kube = c->client_.get();
        ports.allow_cross_namespace_routes = po.allow_cross_namespace_routes;
        ports.approvals.namespaces = config.namespaces;
        ports.approvals.webhook_stamps = config.admission.has_value();
        if (po.builds) {
            ports.cluster_builds = *po.builds;
            ports.cluster_builds->namespaces = config.namespaces;
        }
        eo.ports = std::move(ports);
        eo.metrics = &c->manager_->metrics();
        eo.webhook_address = po.webhook_address;
        eo.webhook = po.webhook;
        eo.source_webhook = po.source_webhook;
        eo.secrets = kube_secret_source(*c->client_);
    }
    POETRYOPS_TRY(c->engine_, Engine::create(std::move(eo), SystemClock::instance()));
    ro.engine = c->engine_.get();
    c->reconciler_ = std::make_unique<AppReconciler>(*c->client_, std::move(lookup),
                                                     SystemClock::instance(), ro);

    runtime::ControllerOptions co;
    co.name = "poetryapp";
    co.max_concurrent_reconciles = config.max_concurrent_reconciles;
    c->controller_ = &c->manager_->add_controller(std::move(co), *c->reconciler_);
    for (auto* inf : c->informers_) c->controller_->watch(*inf);
    return c;
}

AppController::~AppController() {
    // Commits still in flight fire commit_done from the committer's thread: not into a stopped
    // controller.
    if (engine_) engine_->set_sink(nullptr);
    if (manager_) manager_->stop();
}

Result<void> AppController::start() {
    // Triggers that name no app are fanned out through indexes on the PoetryApp informers (added
    // before they start): the informers cache compact bytes, not DOMs, so apps are found without
    // decoding them all. Level-based: the reconcile re-reads the registry or the health object;
    // the trigger only says "look now".
    static constexpr const char* repository_index = "spec.image.repository";
    static constexpr const char* health_index = "health gate objects";
    static constexpr const char* source_index = "spec.source.repoURL";
    const bool promotion_on = engine_->ports() != nullptr;
    if (promotion_on) {
        for (auto* inf : informers_) {
            inf->add_index(repository_index, [](const nlohmann::json& o) {
                std::string repo = o.value("/spec/image/repository"_json_pointer, std::string());
                return repo.empty() ? std::vector<std::string>{}
                                    : std::vector<std::string>{std::move(repo)};
            });
            inf->add_index(source_index, [](const nlohmann::json& o) {
                std::string url = o.value("/spec/source/repoURL"_json_pointer, std::string());
                return url.empty() ? std::vector<std::string>{}
                                   : std::vector<std::string>{git::repository_key(url)};
            });
            inf->add_index(health_index, [](const nlohmann::json& o) {
                std::vector<api::FieldError> ignored;
                api::PoetryApp app = api::decode_poetryapp(o, ignored);
                std::vector<std::string> objects;
                for (const auto& env : app.spec.environments) {
                    if (auto ref = health_object(app, env)) objects.push_back(ref->key());
                }
                return objects;
            });
        }
        // A registry push wakes exactly the apps whose image repository it names, a source push
        // the apps that build from that repository, a health object's change the apps whose gates
        // read it, a commit outcome or a build's change the app it belongs to.
        engine_->set_sink([this](const Trigger& t) {
            if (!t.key.empty()) {
                controller_->enqueue(t.key);
                return;
            }
            std::vector<std::string> source_keys;
            for (const auto& url : t.source_urls) source_keys.push_back(git::repository_key(url));
            for (auto* inf : informers_) {
                for (const auto& k : source_keys) {
                    for (const auto& key : inf->index_keys(source_index, k))
                        controller_->enqueue(key);
                }
                if (!t.object.empty()) {
                    for (const auto& key : inf->index_keys(health_index, t.object))
                        controller_->enqueue(key);
                }
                if (t.repository.empty()) continue;
                for (const auto& repo : inf->index_values(repository_index)) {
                    if (!repository_matches(repo, t.repository)) continue;
                    for (const auto& key : inf->index_keys(repository_index, repo))
                        controller_->enqueue(key);
                }
            }
        });
    }
    // Before the manager: every replica admits, leader or not, and the API server refuses
    // PoetryApprovals (failurePolicy Fail) while no replica answers.
    if (admission_options_ && !admission_) {
        POETRYOPS_TRY(admission_, AdmissionServer::start(*admission_options_));
    }
    POETRYOPS_TRY_VOID(manager_->start());
    return engine_->start();
}

int AppController::run() { return manager_->run(); }

void AppController::stop() {
    if (engine_) engine_->stop();
    manager_->stop();
    if (admission_) admission_->stop();
}

std::uint64_t AppController::reconciles() const {
    return controller_ ? controller_->reconciles() : 0;
}

}  // namespace poetryops::controller

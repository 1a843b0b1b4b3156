#include <poetryops/controller/cluster_promotion.hpp>

#include "controller/detail/webhook_listener.hpp"

#include <poetryops/registry/reference.hpp>
#include <poetryops/util/log.hpp>

#include <algorithm>

namespace poetryops::controller {

ClusterPromotion::~ClusterPromotion() { stop(); }

Result<std::unique_ptr<ClusterPromotion>> ClusterPromotion::create(
    kube::KubeClient& client, kube::EventRecorder* events, const Clock& clock,
    ClusterPromotionOptions options) {
    if (options.cache_dir.empty())
        return fail(Error::Kind::invalid, "--cache-dir: a cache directory is required");
    std::unique_ptr<ClusterPromotion> p(new ClusterPromotion());
    p->events_ = events;
    p->clock_ = &clock;
    p->options_ = std::move(options);
    p->credentials_ =
        std::make_unique<SecretCredentials>(client, p->options_.cache_dir / "secrets");
    POETRYOPS_TRY(p->cache_, git::RepoCache::create(p->options_.cache_dir / "git"));
    SecretCredentials* creds = p->credentials_.get();
    p->gitops_ = std::make_unique<GitRepoPort>(
        *p->cache_, [creds](const api::PoetryApp& app) { return creds->git_remote(app); },
        p->options_.committer);
    ClusterPromotion* self = p.get();
    p->artifacts_ = std::make_unique<RegistryArtifactPort>(
        [self](const api::PoetryApp& app) { return self->registry_for(app); }, clock);
    p->health_ = std::make_unique<KubeHealthPort>(client);
    p->reconciler_ =
        std::make_unique<PromotionReconciler>(*p->gitops_, *p->artifacts_, p->health_.get(), clock);
    return p;
}

Result<std::shared_ptr<registry::Registry>> ClusterPromotion::registry_for(
    const api::PoetryApp& app) {
    POETRYOPS_TRY(auto cfg, credentials_->docker_config(app));
    // One client per Secret version: tokens and connections are reused, and a rotated Secret gets a
    // fresh client.
    std::string secret = app.spec.image.secret_ref
                             ? app.metadata.namespace_ + "/" + app.spec.image.secret_ref->name
                             : std::string();
    std::string key = secret + "@" + cfg.second;
    std::lock_guard lock(registries_mu_);
    if (auto it = registries_.find(key); it != registries_.end()) return it->second;
    registry::RegistryClientOptions o = options_.registry;
    o.docker_config = std::move(cfg.first);
    o.clock = clock_;
    POETRYOPS_TRY(auto client, registry::RegistryClient::create(std::move(o)));
    std::erase_if(registries_,
                  [&](const auto& kv) { return kv.first.rfind(secret + "@", 0) == 0; });
    std::shared_ptr<registry::Registry> shared(std::move(client));
    registries_[key] = shared;
    return shared;
}

Result<runtime::ReconcileResult> ClusterPromotion::on_valid(const api::PoetryApp& app,
                                                            api::PoetryAppStatus& status) {
    api::PoetryApp current = app;
    current.status = status;
    PromotionOutcome out = reconciler_->reconcile(current);
    status = std::move(out.status);
    if (events_) {
        nlohmann::json ref = {{"apiVersion", app.api_version},
                              {"kind", app.kind},
                              {"metadata",
                               {{"name", app.metadata.name},
                                {"namespace", app.metadata.namespace_},
                                {"uid", app.metadata.uid},
                                {"resourceVersion", app.metadata.resource_version}}}};
        for (const auto& e : out.events) {
            events_->record(ref, e.warning ? kube::EventType::warning : kube::EventType::normal,
                            e.reason, e.message);
        }
    }
    runtime::ReconcileResult r;
    if (out.error) {
        // Registry or git down: status says Degraded (and is written); retry with the workqueue's
        // per-item backoff.
        r.requeue = true;
        return r;
    }
    // Fallback polling at the policy's interval; webhooks usually come first.
    auto poll = app.spec.image.policy.poll_interval.value;
    if (poll.count() <= 0) poll = std::chrono::minutes(5);
    r.requeue_after = poll;
    if (out.requeue_after) {
        r.requeue_after =
            std::min(r.requeue_after,
                     std::chrono::duration_cast<std::chrono::milliseconds>(*out.requeue_after));
    }
    return r;
}

Result<void> ClusterPromotion::start_webhooks(std::function<void(const std::string&)> wake) {
    if (options_.webhook_address.empty()) return ok();
    RegistryArtifactPort* artifacts = artifacts_.get();
    POETRYOPS_TRY(webhooks_,
                  detail::WebhookListener::start(
                      options_.webhook_address, options_.webhook,
                      [artifacts, wake](std::vector<registry::PushEvent> events) {
                          for (const auto& e : events) {
                              std::string repo = e.registry + "/" + e.repository;
                              POETRYOPS_LOG(
                                  info, "registry push",
                                  {{"repository", repo}, {"tag", e.tag}, {"digest", e.digest}});
                              artifacts->invalidate_matching([&](const std::string& app_repo) {
                                  return repository_matches(app_repo, repo);
                              });
                              artifacts->hint_push(repo, e.tag);
                              wake(repo);
                          }
                      }));
    return ok();
}

std::uint16_t ClusterPromotion::webhook_port() const { return webhooks_ ? webhooks_->port() : 0; }

void ClusterPromotion::stop() {
    if (webhooks_) webhooks_->stop();
}

}  // namespace poetryops::controller

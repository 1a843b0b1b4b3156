#include <poetryops/controller/wiring.hpp>

#include <poetryops/controller/notifications.hpp>
#include <poetryops/registry/layout.hpp>

#include <algorithm>

namespace poetryops::controller {

Result<std::unique_ptr<Ports>> make_ports(PortsOptions options) {
    if (options.cache_dir.empty()) {
        return fail(Error::Kind::invalid, "--cache-dir: a cache directory is required");
    }
    if (!options.clock) options.clock = &SystemClock::instance();
    std::unique_ptr<Ports> p(new Ports());
    p->options_ = std::move(options);
    const PortsOptions& o = p->options_;
    POETRYOPS_TRY(p->cache_, git::RepoCache::create(o.cache_dir / o.git_subdir));

    RemoteResolver remote, source_remote;
    if (o.kube) {
        p->credentials_ = std::make_unique<SecretCredentials>(*o.kube, o.cache_dir / "secrets");
        p->health_ = std::make_unique<KubeHealthPort>(*o.kube, o.health, *o.clock);
        p->approvals_ = std::make_unique<KubeApprovalPort>(*o.kube, o.approvals, *o.clock);
        SecretCredentials* creds = p->credentials_.get();
        remote = [creds](const api::PoetryApp& app) { return creds->git_remote(app); };
        source_remote = [creds](const api::PoetryApp& app) { return creds->source_remote(app); };
    } else {
        git::Remote tmpl = o.git;
        remote = [tmpl](const api::PoetryApp& app) -> Result<git::Remote> {
            git::Remote r = tmpl;
            r.url = app.spec.gitops.repo_url;
            POETRYOPS_TRY_VOID(git::validate_remote(r));
            return r;
        };
        // The command line's credentials serve the source repositories too.
        source_remote = [tmpl](const api::PoetryApp& app) -> Result<git::Remote> {
            if (!app.spec.source) return fail(Error::Kind::invalid, "spec.source: not set");
            git::Remote r = tmpl;
            r.url = app.spec.source->repo_url;
            POETRYOPS_TRY_VOID(git::validate_remote(r));
            return r;
        };
        if (!o.layout_dir.empty()) {
            registry::LayoutOptions lo;
            lo.repository_subdirs = true;
            p->shared_registry_ = std::make_shared<registry::LayoutRegistry>(o.layout_dir, lo);
        } else {
            POETRYOPS_TRY(auto client, registry::RegistryClient::create(o.registry));
            p->shared_registry_ = std::shared_ptr<registry::Registry>(std::move(client));
        }
    }
    p->gitops_ = std::make_unique<GitRepoPort>(*p->cache_, std::move(remote), o.committer);
    p->source_ = std::make_unique<GitSourcePort>(*p->cache_, std::move(source_remote));
    if (o.kube && o.cluster_builds) {
        p->builder_ = std::make_unique<KubeBuildPort>(*o.kube, *o.cluster_builds, *o.clock);
    } else if (o.local_builds) {
        GitSourcePort* source = p->source_.get();
        p->builder_ = std::make_unique<LocalBuildPort>(
            *o.local_builds, [source](const api::PoetryApp& app, const std::string& commit,
                                      const std::filesystem::path& dest) {
                return source->export_project(app, commit, dest);
            });
    }
    PrometheusAnalysisOptions ao;
    if (kube::KubeClient* client = o.kube) {
        ao.secrets = [read = kube_secret_source(*client)](
                         const std::string& ns, const std::string& name) -> Result<SecretData> {
            auto d = read(ns, name);
            if (!d) {
                Error e = d.error();
                e.message =
                    "spec.environments[].canary.analysis.prometheus.secretRef: " + e.message;
                return e;
            }
            return d;
        };
    }
    if (o.analysis) {
        p->analysis_in_use_ = o.analysis;  // the demo's scripted metrics in the place of Prometheus
    } else {
        p->analysis_ = std::make_unique<PrometheusAnalysisPort>(std::move(ao));
        p->analysis_in_use_ = p->analysis_.get();
    }
    if (o.kube)
        p->traffic_ = std::make_unique<KubeTrafficPort>(*o.kube, o.allow_cross_namespace_routes);
    Ports* self = p.get();
    p->artifacts_ = std::make_unique<RegistryArtifactPort>(
        [self](const api::PoetryApp& app) { return self->registry_for(app); }, *o.clock);
    return p;
}

Result<std::shared_ptr<registry::Registry>> Ports::registry_for(const api::PoetryApp& app) {
    if (shared_registry_) return shared_registry_;
    POETRYOPS_TRY(auto cfg, credentials_->docker_config(app));
    std::string secret = app.spec.image.secret_ref
                             ? app.metadata.namespace_ + "/" + app.spec.image.secret_ref->name
                             : std::string();
    std::string key = secret + "@" + cfg.second;
    std::lock_guard lock(registries_mu_);
    if (auto it = registries_.find(key); it != registries_.end()) return it->second;
    registry::RegistryClientOptions o = options_.registry;
    o.docker_config = std::move(cfg.first);
    o.clock = options_.clock;
    POETRYOPS_TRY(auto client, registry::RegistryClient::create(std::move(o)));
    std::erase_if(registries_,
                  [&](const auto& kv) { return kv.first.rfind(secret + "@", 0) == 0; });
    std::shared_ptr<registry::Registry> shared(std::move(client));
    registries_[key] = shared;
    return shared;
}

}  // namespace poetryops::controller

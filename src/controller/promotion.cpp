#include <poetryops/controller/promotion.hpp>

#include <poetryops/api/conditions.hpp>
#include <poetryops/build/plan.hpp>
#include <poetryops/manifest/edit.hpp>
#include <poetryops/manifest/read.hpp>
#include <poetryops/promote/health.hpp>
#include <poetryops/promote/trailers.hpp>
#include <poetryops/util/log.hpp>

#include <atomic>
#include <memory>
#include <utility>

namespace poetryops::controller {

namespace {

using promote::HealthObservation;
using promote::HealthState;

std::string join_path(const std::string& dir, const std::string& file) {
    std::string d = dir;
    while (d.size() >= 2 && d.compare(0, 2, "./") == 0) d.erase(0, 2);
    if (d == ".") d.clear();
    while (!d.empty() && d.back() == '/') d.pop_back();
    return d.empty() ? file : d + "/" + file;
}

manifest::SetImageRequest image_request(const api::PoetryApp& app,
                                        const api::EnvironmentSpec& env) {
    manifest::SetImageRequest r;
    r.name = environment_image_name(app.spec, env);
    r.app = app.metadata.name;
    r.env = env.name;
    if (env.update.kind == api::UpdateKind::helm) {
        r.helm_tag_path = env.update.effective_tag_path();
        r.helm_digest_path = env.update.digest;
        r.helm_repository_path.clear();
    }
    return r;
}

/// The canary workload's image request: the app's image, in that workload only.
manifest::SetImageRequest canary_request(const api::PoetryApp& app,
                                         const api::EnvironmentSpec& env) {
    manifest::SetImageRequest r = image_request(app, env);
    r.workload = env.canary->effective_workload();
    return r;
}

std::vector<manifest::BackendWeight> weights(const api::CanarySpec& c, int canary_weight) {
    return {{c.traffic.stable, 100 - canary_weight}, {c.traffic.canary, canary_weight}};
}

/// The edit pinning `set` in `path` (kind: how the environment's file is written).
git::FileEdit image_edit(const std::string& path, const manifest::SetImageRequest& set,
                         api::UpdateKind kind) {
    std::string image_name = set.name;
    return git::FileEdit{
        path,
        [set, kind, path, image_name](
            std::optional<std::string_view> current) -> Result<std::optional<std::string>> {
            if (!current)
                return fail(Error::Kind::not_found, path + " does not exist", "FileNotFound");
            Result<manifest::EditResult> r = manifest::EditResult{};
            if (kind == api::UpdateKind::helm) {
                std::vector<std::pair<std::string, std::string>> values;
                std::string tag = set.tag.value_or("");
                if (!set.helm_digest_path.empty()) {
                    values = {{set.helm_tag_path, tag}, {set.helm_digest_path, *set.digest}};
                } else {
                    values = {
                        {set.helm_tag_path, tag.empty() ? *set.digest : tag + "@" + *set.digest}};
                }
                r = manifest::set_values(*current, values);
            } else {
                r = manifest::set_image(*current, set, kind);
            }
            if (!r) return fail(r.error().kind, path + ": " + r.error().message, r.error().reason);
            if (r->matched == 0) {
                return fail(Error::Kind::not_found,
                            path + ": no image named " + image_name +
                                (set.workload.empty() ? "" : " in workload " + set.workload) +
                                " to update",
                            "ImageNotFound");
            }
            if (!r->changed()) return std::optional<std::string>{};
            return std::optional<std::string>(std::move(r->new_text));
        }};
}

/// The edit setting the canary's route to `canary_weight` (the stable Service the rest).
git::FileEdit weights_edit(const std::string& path, const api::CanarySpec& c, int canary_weight) {
    auto w = weights(c, canary_weight);
    api::TrafficKind kind = c.traffic.kind;
    std::string route = c.traffic.route;
    return git::FileEdit{
        path,
        [path, w, kind,
         route](std::optional<std::string_view> current) -> Result<std::optional<std::string>> {
            if (!current)
                return fail(Error::Kind::not_found, path + " does not exist", "FileNotFound");
            auto r = manifest::set_weights(*current, kind, w, route);
            if (!r) return fail(r.error().kind, path + ": " + r.error().message, r.error().reason);
            if (r->matched == 0) {
                return fail(Error::Kind::not_found, path + ": no route named " + route,
                            "RouteNotFound");
            }
            if (!r->changed()) return std::optional<std::string>{};
            return std::optional<std::string>(std::move(r->new_text));
        }};
}

}  // namespace

canary::GitView observe_canary(const api::PoetryApp& app, const api::EnvironmentSpec& env,
                               const std::string& update_text, const std::vector<RouteFile>& routes,
                               const Result<LiveWeights>* live) {
    canary::GitView v;
    const api::CanarySpec& c = *env.canary;
    auto refuse = [&](std::string why) {
        v.read_ok = false;
        v.read_error = std::move(why);
        return v;
    };
    if (env.update.kind != api::UpdateKind::manifest) {
        return refuse("a canary needs update.kind manifest in " + env.name +
                      " (a kustomize images: entry or a Helm value sets every workload at once, "
                      "so it cannot hold the stable and the canary digest; docs/canary.md)");
    }
    const std::string route_kind =
        std::string(api::to_string(c.traffic.kind)) + " route " + c.traffic.route;
    if (c.mode == api::CanaryMode::cluster) {
        if (!live) {
            return refuse("canary.mode cluster patches the live route " + c.traffic.route +
                          " through the Kubernetes API, which local mode has not; " + env.name +
                          " holds its stable image (use mode git)");
        }
        if (!*live) return refuse(live->error().message);
        v.weights_from = "the live route";
        for (const auto& w : (*live)->weights) {
            if (w.name == c.traffic.canary) v.canary_weight = w.weight;
        }
    } else {
        // The route: in traffic.file, or searched in the files convention puts it in.
        std::vector<std::string> holders;
        for (const auto& f : routes) {
            if (!f.text) continue;
            auto read = manifest::read_weights(
                *f.text, c.traffic.kind, {c.traffic.stable, c.traffic.canary}, c.traffic.route);
            if (!read) return refuse(f.path + ": " + read.error().message);
            if (!*read) continue;
            if (holders.empty()) {
                v.route_file = f.path;
                for (const auto& w : **read) {
                    if (w.name == c.traffic.canary) v.canary_weight = w.weight;
                }
            }
            holders.push_back(f.path);
        }
        if (holders.size() > 1) {
            return refuse(route_kind + " is in both " + holders[0] + " and " + holders[1] +
                          ": set canary.traffic.file to the one poetryops edits");
        }
        if (holders.empty()) {
            if (!c.traffic.file.empty()) {
                if (routes.empty() || !routes.front().text)
                    return refuse(join_path(env.path, c.traffic.file) +
                                  " does not exist on branch " + app.spec.gitops.branch +
                                  " (canary.traffic.file)");
                return refuse(routes.front().path + ": no " + route_kind +
                              " (canary.traffic.route)");
            }
            std::string searched;
            for (const auto& f : routes) searched += (searched.empty() ? "" : ", ") + f.path;
            return refuse("no " + route_kind + " in " + searched +
                          " (set canary.traffic.file to the file that holds it)");
        }
    }
    auto pinned =
        manifest::find_pinned_image(update_text, canary_request(app, env), manifest::Kind::yaml);
    const std::string file = environment_file(env);
    if (!pinned) return refuse(file + ": " + pinned.error().message);
    if (!*pinned) {
        return refuse(file + ": no workload " + c.effective_workload() + " running " +
                      environment_image_name(app.spec, env) +
                      " (canary.workload; docs/canary.md \"The environment's folder\")");
    }
    v.canary_digest = (*pinned)->digest;
    return v;
}

std::vector<std::string> route_files(const api::EnvironmentSpec& env) {
    if (!env.canary) return {};
    if (!env.canary->traffic.file.empty()) return {join_path(env.path, env.canary->traffic.file)};
    std::vector<std::string> files{join_path(env.path, std::string(kDefaultRouteFile))};
    if (environment_file(env) != files.front()) files.push_back(environment_file(env));
    return files;
}

std::string route_namespace(const api::PoetryApp& app, const api::CanarySpec& canary) {
    return canary.traffic.namespace_.empty() ? app.metadata.namespace_ : canary.traffic.namespace_;
}

void set_degraded(api::PoetryAppStatus& status, const api::PoetryApp& app, const Error* error,
                  Clock::time_point now) {
    api::Condition c = api::make_condition(
        api::kConditionDegraded, error != nullptr,
        error ? api::condition_reason(error->reason, "DependencyFailed")
              : std::string(api::kReasonAsExpected),
        error ? error->message : std::string("registry and GitOps repository reachable"),
        app.metadata.generation);
    api::set_condition(status.conditions, std::move(c), now);
}

std::string environment_file(const api::EnvironmentSpec& env) {
    std::string file = env.update.effective_file();
    if (file.empty()) file = "deployment.yaml";
    return join_path(env.path, file);
}

std::string environment_image_name(const api::PoetryAppSpec& spec,
                                   const api::EnvironmentSpec& env) {
    return env.update.image.empty() ? spec.image.repository : env.update.image;
}

PromotionReconciler::PromotionReconciler(GitOpsPort& gitops, ArtifactPort& artifacts,
                                         HealthPort* health, const Clock& clock,
                                         AnalysisPort* analysis, TrafficPort* traffic,
                                         ApprovalPort* approvals)
    : gitops_(gitops),
      artifacts_(artifacts),
      health_(health),
      clock_(clock),
      analysis_(analysis),
      traffic_(traffic),
      approvals_(approvals) {}

std::string HealthObjectRef::group_resource() const {
    auto slash = api_version.find('/');
    return slash == std::string::npos ? resource : resource + "." + api_version.substr(0, slash);
}

std::string HealthObjectRef::key() const {
    return group_resource() + "/" + namespace_ + "/" + name;
}

std::optional<HealthObjectRef> health_object(const api::PoetryApp& app,
                                             const api::EnvironmentSpec& env) {
    auto in = [&](const std::string& ns) { return ns.empty() ? app.metadata.namespace_ : ns; };
    switch (env.health.kind()) {
        case api::HealthKind::argocd:
            return HealthObjectRef{"argoproj.io/v1alpha1", "applications",
                                   in(env.health.argocd->namespace_),
                                   env.health.argocd->application, "Argo CD application"};
        case api::HealthKind::flux:
            return HealthObjectRef{"kustomize.toolkit.fluxcd.io/v1", "kustomizations",
                                   in(env.health.flux->namespace_), env.health.flux->kustomization,
                                   "Flux Kustomization"};
        case api::HealthKind::deployment:
            return HealthObjectRef{"apps/v1", "deployments", in(env.health.deployment->namespace_),
                                   env.health.deployment->name, "Deployment"};
        case api::HealthKind::none: break;
    }
    return std::nullopt;
}

canary::HealthView PromotionReconciler::observe_canary_health(
    const api::PoetryApp& app, const api::EnvironmentSpec& env,
    const api::EnvironmentStatus* status) {
    const api::CanaryStatus* c = status && status->canary ? &*status->canary : nullptr;
    if (!c || c->commit.empty()) return {canary::Health::waiting, ""};
    if (env.health.kind() == api::HealthKind::none) return {canary::Health::healthy, ""};
    HealthObservation h;
    if (env.health.kind() == api::HealthKind::deployment) {
        // The canary workload's own rollout, of the canary's digest.
        api::EnvironmentSpec canary_env = env;
        canary_env.health.deployment->name = env.canary->effective_workload();
        api::EnvironmentStatus s = *status;
        s.digest = c->digest;
        h = observe_health(app, canary_env, &s);
    } else {
        // Argo CD or Flux synced to the last canary commit, and healthy.
        api::EnvironmentStatus s = *status;
        s.commit = c->commit;
        h = observe_health(app, env, &s);
    }
    switch (h.state) {
        case HealthState::healthy: return {canary::Health::healthy, h.message};
        case HealthState::degraded: return {canary::Health::degraded, h.message};
        default: return {canary::Health::waiting, h.message};
    }
}

HealthObservation PromotionReconciler::observe_health(const api::PoetryApp& app,
                                                      const api::EnvironmentSpec& env,
                                                      const api::EnvironmentStatus* status) {
    api::HealthKind kind = env.health.kind();
    auto ref = health_object(app, env);
    if (!ref) return {HealthState::healthy, "health gate: none"};
    if (!health_) {
        return {HealthState::unknown, std::string("health gate ") +
                                          std::string(api::to_string(kind)) +
                                          " needs a Kubernetes API (not available in local mode)"};
    }
    std::string commit = status ? status->commit : std::string();
    promote::ContainsCommit contains = [&](const std::string& revision) {
        if (commit.empty()) return true;  // adopted pin: any synced revision carries it
        auto r = gitops_.contains(app, commit, revision);
        return r && *r;
    };
    auto obj = health_->get(*ref);
    if (!obj) {  // e.g. forbidden: say so rather than "not found"
        return {HealthState::unknown,
                ref->what + " " + ref->name + ": " + log::redact(obj.error().message)};
    }
    if (!*obj) return {HealthState::unknown, ref->what + " " + ref->name + " not found"};
    switch (kind) {
        case api::HealthKind::argocd: return promote::argocd_health(**obj, contains);
        case api::HealthKind::flux: return promote::flux_health(**obj, contains);
        case api::HealthKind::deployment:
            return promote::deployment_health(**obj, app.spec.image.repository,
                                              status ? status->digest : "");
        case api::HealthKind::none: break;
    }
    return {HealthState::unknown, ""};
}

void PromotionReconciler::find_own_write(const api::PoetryApp& app, const api::EnvironmentSpec& env,
                                         const api::EnvironmentStatus* status,
                                         canary::GitView& view, const Result<LiveWeights>* live) {
    const api::CanaryStatus* c = status && status->canary ? &*status->canary : nullptr;
    if (!view.read_ok || !c || c->commit.empty() ||
        (c->phase != api::CanaryPhase::progressing && c->phase != api::CanaryPhase::paused))
        return;
    if (view.canary_weight == c->weight && view.canary_digest == c->digest) return;
    // The newest canary commit of this environment, when it came after the one status records.
    auto found = gitops_.find_trailer(app, promote::kCanaryTrailer,
                                      promote::promotion_trailer_value(app, env.name, ""));
    if (found && *found && (*found)->sha != c->commit) {
        auto newer = gitops_.contains(app, c->commit, (*found)->sha);
        auto facts = canary::parse_trailer((*found)->trailer_value);
        if (newer && *newer && facts) {
            view.own = canary::OwnWrite{(*found)->sha, std::move(*facts)};
            return;
        }
    }
    // Cluster mode: weights poetryops wrote on the live route (a shift is no commit).
    if (live && *live && (*live)->ours && view.canary_digest == c->digest) {
        canary::TrailerFacts f;
        f.subject = promote::promotion_trailer_value(app, env.name, c->digest);
        f.digest = c->digest;
        f.action = canary::ActionKind::shift;
        f.weight = view.canary_weight;
        const auto& steps = env.canary->steps;
        for (std::size_t i = 0; i < steps.size(); ++i) {
            if (steps[i].weight == f.weight) f.step = static_cast<int>(i) + 1;
        }
        view.own = canary::OwnWrite{"", std::move(f)};
    }
}

promote::Observations PromotionReconciler::observe(const api::PoetryApp& app,
                                                   PromotionOutcome& out) {
    promote::Observations obs;
    if (app.spec.build) {
        // An app that builds its own images promotes its newest verified build: commits of one
        // project version share it ({version}-{shortSha}), so a version order cannot tell them
        // apart, and the build knows its digest.
        if (const api::BuildStatus* b = build::newest_built(app.status)) {
            obs.newest = promote::Artifact{b->version, b->tag, b->digest, b->commit};
        }
    } else {
        auto newest = artifacts_.newest(app);
        if (!newest) {
            out.error = newest.error();
            out.error->reason = api::condition_reason(out.error->reason, "RegistryUnavailable");
            return obs;
        }
        obs.newest = *newest;
    }
    if (approvals_) {
        // A rejection must never be missed: approvals that cannot be read stop this reconcile
        // before anything is planned (Degraded, retried with backoff).
        auto approvals = approvals_->approvals(app);
        if (!approvals) {
            out.error = approvals.error();
            out.error->reason = api::condition_reason(out.error->reason, "ApprovalsUnavailable");
            return obs;
        }
        obs.approvals = std::move(*approvals);
    }
    std::vector<std::string> paths;
    for (const auto& env : app.spec.environments) paths.push_back(environment_file(env));
    // Canary environments in git mode: the files their route may be in follow, in environment
    // order.
    std::map<std::string, std::pair<std::size_t, std::size_t>> route_at;  // first, count
    for (const auto& env : app.spec.environments) {
        if (!env.canary || env.canary->mode != api::CanaryMode::git) continue;
        auto files = route_files(env);
        route_at[env.name] = {paths.size(), files.size()};
        paths.insert(paths.end(), files.begin(), files.end());
    }
    // An environment that cannot be read (the repository unreachable, a path through a symlink or
    // a submodule, a file missing, over the size limit or not YAML) is left as it is: plan() makes
    // the app not Ready with `reason`, the first such error makes it Degraded (and `run --once`
    // fail).
    auto unreadable = [&](const std::string& env, Error e, std::string_view reason) {
        e.reason = api::condition_reason(e.reason, reason);
        promote::EnvironmentObservation eo;
        eo.read_ok = false;
        eo.read_error = e.message;
        eo.read_reason = e.reason;
        obs.environments[env] = std::move(eo);
        if (!out.error) out.error = std::move(e);
    };
    auto snapshot = gitops_.read_files(app, paths);
    if (!snapshot) {
        for (const auto& env : app.spec.environments)
            unreadable(env.name, snapshot.error(), "GitOpsUnavailable");
        return obs;
    }
    for (std::size_t i = 0; i < app.spec.environments.size(); ++i) {
        const auto& env = app.spec.environments[i];
        const std::string& path = paths[i];
        promote::EnvironmentObservation eo;
        const std::optional<std::string>& text = snapshot->files[i];
        if (!text) {
            unreadable(env.name,
                       Error::make(Error::Kind::not_found,
                                   path + " does not exist on branch " + app.spec.gitops.branch),
                       "FileNotFound");
            continue;
        }
        auto pinned = manifest::find_pinned_image(*text, image_request(app, env), env.update.kind);
        if (!pinned) {
            Error e = pinned.error();
            e.message = path + ": " + e.message;
            unreadable(env.name, std::move(e), "InvalidManifest");
            continue;
        }
        const api::EnvironmentStatus* st = app.status.find_environment(env.name);
        if (*pinned) {
            eo.pinned_image = (*pinned)->image;
            eo.pinned_tag = (*pinned)->tag;
            eo.pinned_digest = (*pinned)->digest;
            bool ours = st && !st->digest.empty() && st->digest == eo.pinned_digest;
            if (!ours && !eo.pinned_digest.empty()) {
                auto found = gitops_.find_promotion(
                    app, promote::promotion_trailer_value(app, env.name, eo.pinned_digest));
                // Only a promotion newer than what status records is ours (a lost status write); an
                // older commit of the same digest means someone reverted to it.
                if (found && !found->empty()) {
                    bool newer = !st || st->commit.empty();
                    if (!newer && *found != st->commit) {
                        auto desc = gitops_.contains(app, st->commit, *found);
                        newer = desc && *desc;
                    }
                    if (newer) eo.promotion_commit = *found;
                }
            }
        }
        eo.health = observe_health(app, env, st);
        if (env.canary) {
            std::vector<RouteFile> routes;
            if (auto at = route_at.find(env.name); at != route_at.end()) {
                for (std::size_t k = 0; k < at->second.second; ++k) {
                    std::size_t j = at->second.first + k;
                    routes.push_back({paths[j], snapshot->files[j]});
                }
            }
            std::optional<Result<LiveWeights>> live;
            if (env.canary->mode == api::CanaryMode::cluster && traffic_)
                live = traffic_->read(app, *env.canary, route_namespace(app, *env.canary));
            eo.canary = observe_canary(app, env, *text, routes, live ? &*live : nullptr);
            find_own_write(app, env, st, eo.canary, live ? &*live : nullptr);
            eo.canary_health = observe_canary_health(app, env, st);
        }
        obs.environments[env.name] = std::move(eo);
    }
    return obs;
}

git::EditRequest PromotionReconciler::edit_request(const api::PoetryApp& app,
                                                   const promote::PromoteAction& action,
                                                   const promote::Observations& obs) const {
    const api::EnvironmentSpec* env = app.spec.find_environment(action.environment);
    git::EditRequest req;
    const std::string path = environment_file(*env);
    manifest::SetImageRequest set = image_request(app, *env);
    set.tag = action.artifact.tag.empty() ? std::nullopt : std::optional(action.artifact.tag);
    set.digest = action.artifact.digest;
    req.message.app = app.metadata.name;
    req.message.env = action.environment;
    req.message.version = action.artifact.version;
    req.message.digest = action.artifact.digest;
    req.message.body = action.reason + "\n\nImage: " + action.image;

    if (action.canary) {
        const canary::Action& ca = *action.canary;
        const api::CanarySpec& c = *env->canary;
        // git mode: the route's file as observed; cluster mode: none (the live route is set
        // before the commit, in begin()).
        std::string route;
        if (c.mode == api::CanaryMode::git) {
            if (auto o = obs.environments.find(action.environment); o != obs.environments.end())
                route = o->second.canary.route_file;
        }
        auto set_weights = [&](int w) {
            if (!route.empty()) req.edits.push_back(weights_edit(route, c, w));
        };
        const std::string what =
            (action.artifact.version.empty() ? action.artifact.digest : action.artifact.version);
        switch (ca.kind) {
            case canary::ActionKind::deploy: {
                manifest::SetImageRequest canary_set = canary_request(app, *env);
                canary_set.tag = set.tag;
                canary_set.digest = set.digest;
                req.edits.push_back(image_edit(path, canary_set, api::UpdateKind::manifest));
                set_weights(0);
                req.message.subject = "canary " + app.metadata.name + " " + what + " in " +
                                      action.environment + ": deploy " + c.effective_workload() +
                                      ", 0%";
                break;
            }
            case canary::ActionKind::shift:
                set_weights(ca.weight);
                req.message.subject = "canary " + app.metadata.name + " " + what + " in " +
                                      action.environment + ": " + std::to_string(ca.weight) +
                                      "% (step " + std::to_string(ca.step) + "/" +
                                      std::to_string(ca.steps) + ")";
                break;
            case canary::ActionKind::complete:
                req.edits.push_back(image_edit(path, set, env->update.kind));
                set_weights(0);
                req.message.trailers.push_back(
                    promote::promotion_trailer(app, action.environment, action.artifact.digest));
                req.message.subject = "promote " + app.metadata.name + " " + what + " in " +
                                      action.environment + ": canary passed";
                break;
            case canary::ActionKind::abort: {
                // The canary workload goes back to what the environment runs.
                const api::EnvironmentStatus* st = app.status.find_environment(action.environment);
                manifest::SetImageRequest back = canary_request(app, *env);
                back.tag = st && !st->tag.empty() ? std::optional(st->tag) : std::nullopt;
                back.digest = ca.stable_digest;
                req.edits.push_back(image_edit(path, back, api::UpdateKind::manifest));
                set_weights(0);
                req.message.subject = "canary " + app.metadata.name + " " + what + " in " +
                                      action.environment + ": aborted, back to stable";
                break;
            }
            case canary::ActionKind::analyze: break;  // never committed
        }
        if (!ca.metrics.empty()) req.message.body += "\nMetrics: " + ca.metrics;
        req.message.trailers.push_back(promote::canary_trailer(app, action.environment, ca));
        for (auto& t : promote::approved_by_trailers(action.approved_by))
            req.message.trailers.push_back(std::move(t));
        return req;
    }

    req.edits.push_back(image_edit(path, set, env->update.kind));
    if (action.kind == api::HistoryKind::rollback) {
        req.message.subject =
            "rollback " + app.metadata.name + " in " + action.environment + " to " +
            (action.artifact.version.empty() ? action.artifact.digest : action.artifact.version);
    }
    req.message.trailers.push_back(
        promote::promotion_trailer(app, action.environment, action.artifact.digest));
    for (auto& t : promote::approved_by_trailers(action.approved_by))
        req.message.trailers.push_back(std::move(t));
    return req;
}

bool PendingPromotion::ready() const {
    for (const auto& c : commits) {
        if (c.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return false;
    }
    return true;
}

PromotionOutcome PromotionReconciler::reconcile(const api::PoetryApp& app) {
    return finish(begin(app));
}

PendingPromotion PromotionReconciler::begin(const api::PoetryApp& app,
                                            std::function<void()> on_committed) {
    PendingPromotion p;
    p.app = app;
    PromotionOutcome& out = p.outcome;
    auto now = clock_.now();
    promote::Observations obs = observe(app, out);
    if (out.error && obs.environments.empty()) {
        // The registry is down: report, promote nothing, retry with backoff.
        out.status = app.status;
        set_degraded(out.status, app, &*out.error, now);
        out.events.push_back(promote::Event{true, out.error->reason, out.error->message});
        return p;
    }
    promote::Plan plan = promote::plan(app, obs, now);
    if (!plan.analyze.empty()) {
        // Canary analysis rounds that are due: measure, then plan again with the results (the
        // second plan never asks again for the same environment).
        for (const auto& env : plan.analyze) {
            const api::EnvironmentSpec* spec = app.spec.find_environment(env);
            canary::Analysis a;
            if (analysis_ && spec) {
                a = analysis_->run(app, *spec, now);
            } else {
                a.unavailable = true;
                a.message = "no analysis source in this runtime";
            }
            obs.environments[env].analysis = std::move(a);
        }
        plan = promote::plan(app, obs, now);
    }
    if (!plan.unavailable.empty() && !out.error) {
        std::string message;
        for (const auto& u : plan.unavailable) message += (message.empty() ? "" : "; ") + u;
        out.error = Error::make(Error::Kind::transport, message, "AnalysisUnavailable");
    }
    p.planned = true;
    out.status = std::move(plan.status);
    out.events = std::move(plan.events);
    out.requeue_after = plan.requeue_after;
    p.actions = std::move(plan.actions);

    // Submit every action before waiting on any, so they share one commit. The last outcome to
    // arrive calls on_committed.
    auto left = std::make_shared<std::atomic<std::size_t>>(p.actions.size());
    auto done = [left, on_committed] {
        if (--*left == 0 && on_committed) on_committed();
    };
    for (const auto& action : p.actions) {
        git::EditRequest request = edit_request(app, action, obs);
        if (auto set = set_live_weights(app, action)) {
            // Cluster mode: the live route changed first (or could not be changed: nothing is
            // committed). A shift commits nothing: it stays on the canary's last commit.
            if (!*set || request.edits.empty()) {
                std::promise<Result<git::EditOutcome>> ready;
                if (!*set) {
                    ready.set_value(set->error());
                } else {
                    const api::EnvironmentStatus* st =
                        app.status.find_environment(action.environment);
                    git::EditOutcome o;
                    o.commit = st && st->canary ? st->canary->commit : std::string();
                    o.changed = true;
                    ready.set_value(std::move(o));
                }
                p.commits.push_back(ready.get_future());
                done();
                continue;
            }
        }
        request.on_done = done;
        p.commits.push_back(gitops_.submit(app, std::move(request)));
    }
    return p;
}

std::optional<Result<void>> PromotionReconciler::set_live_weights(
    const api::PoetryApp& app, const promote::PromoteAction& action) {
    if (!action.canary || action.canary->kind == canary::ActionKind::analyze) return std::nullopt;
    const api::EnvironmentSpec* env = app.spec.find_environment(action.environment);
    if (!env || !env->canary || env->canary->mode != api::CanaryMode::cluster) return std::nullopt;
    if (!traffic_) {
        return Result<void>(fail(Error::Kind::invalid,
                                 "canary.mode cluster needs the Kubernetes API", "NoTrafficPort"));
    }
    auto set =
        traffic_->set(app, *env->canary, route_namespace(app, *env->canary), action.canary->weight);
    if (!set) {
        Error e = set.error();
        e.message = action.environment + ": " + e.message;
        return Result<void>(std::move(e));
    }
    return Result<void>(ok());
}

PromotionOutcome PromotionReconciler::finish(PendingPromotion p) {
    PromotionOutcome out = std::move(p.outcome);
    const api::PoetryApp& app = p.app;
    if (!p.planned) return out;  // the registry was down: Degraded is already set
    auto now = clock_.now();
    for (std::size_t i = 0; i < p.actions.size(); ++i) {
        const auto& action = p.actions[i];
        Result<git::EditOutcome> result = p.commits[i].get();
        if (!result) {
            promote::record_failure(out.status, app.spec, action, result.error().message, now);
            out.events.push_back(promote::Event{
                true, "CommitFailed", action.environment + ": " + result.error().message});
            if (!out.error) out.error = result.error();
            continue;
        }
        promote::record_promotion(out.status, app.spec, action, result->commit, now);
        out.committed.push_back(action);
        if (action.canary && action.canary->kind != canary::ActionKind::complete) {
            continue;  // the plan's CanaryStarted / CanaryStep / CanaryAborted said it
        }
        std::string verb = action.kind == api::HistoryKind::rollback ? "rolled back " : "promoted ";
        out.events.push_back(promote::Event{
            false,
            std::string(action.kind == api::HistoryKind::rollback ? api::kReasonRolledBack
                                                                  : api::kReasonPromoted),
            verb + action.environment + " to " + action.image + " in " +
                result->commit.substr(0, 12) + (result->changed ? "" : " (already in git)")});
    }
    set_degraded(out.status, app, out.error ? &*out.error : nullptr, now);
    return out;
}

}  // namespace poetryops::controller

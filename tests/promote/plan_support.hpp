#pragma once
// What the planner tests share: digests, the image repository, and observations in which git pins
// exactly what the status says (the steady state).
#include <poetryops/promote/plan.hpp>

#include <string>

namespace poetryops::promote::test {

inline const std::string kA = "sha256:" + std::string(64, 'a');
inline const std::string kB = "sha256:" + std::string(64, 'b');
inline const std::string kC = "sha256:" + std::string(64, 'c');
inline const std::string kRepo = "registry.example.com/acme/billing";

inline Artifact artifact(const std::string& version, const std::string& digest) {
    return Artifact{version, version + "-ab12cd3", digest, "ab12cd3"};
}

/// billing in team-a: dev (health none) -> prod (health none, no gate yet); dev runs 1.4.2 (kA),
/// healthy since `dev_since`; prod runs nothing. Tests add prod's gates.
inline api::PoetryApp dev_and_prod(TimePoint dev_since) {
    api::PoetryApp app;
    app.metadata.name = "billing";
    app.metadata.namespace_ = "team-a";
    app.spec.image.repository = kRepo;
    api::EnvironmentSpec dev;
    dev.name = "dev";
    dev.path = "envs/dev";
    api::EnvironmentSpec prod;
    prod.name = "prod";
    prod.path = "envs/prod";
    app.spec.environments = {dev, prod};
    api::EnvironmentStatus d;
    d.name = "dev";
    d.version = "1.4.2";
    d.tag = "1.4.2-ab12cd3";
    d.digest = kA;
    d.phase = api::Phase::healthy;
    d.since = dev_since;
    app.status.environments = {d};
    return app;
}

/// Git pins exactly what the status says in every environment of `app`.
inline Observations observe_status(const api::PoetryApp& app) {
    Observations o;
    for (const auto& es : app.spec.environments) {
        EnvironmentObservation eo;
        if (const auto* st = app.status.find_environment(es.name); st && !st->digest.empty()) {
            eo.pinned_digest = st->digest;
            eo.pinned_tag = st->tag;
            eo.pinned_image = kRepo + ":" + st->tag + "@" + st->digest;
        }
        o.environments[es.name] = eo;
    }
    return o;
}

/// The plan's action for `env`, or nullptr.
inline const PromoteAction* action_for(const Plan& p, const std::string& env) {
    for (const auto& a : p.actions) {
        if (a.environment == env) return &a;
    }
    return nullptr;
}

}  // namespace poetryops::promote::test

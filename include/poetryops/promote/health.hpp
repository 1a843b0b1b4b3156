#pragma once
/// Health gates, read from the objects the reconciler fetched (pure: the caller supplies the
/// objects and a way to ask git whether a revision contains our commit).

#include <poetryops/promote/plan.hpp>

#include <nlohmann/json_fwd.hpp>

#include <functional>
#include <string>

namespace poetryops::promote {

/// True when `revision` is `commit` or a descendant of it (the caller asks git; unknown revisions
/// answer false).
using ContainsCommit = std::function<bool(const std::string& revision)>;

/// Argo CD `Application`: healthy when status.sync.revision (or any of status.sync.revisions)
/// contains our commit, sync status is Synced and health status is Healthy; degraded when synced to
/// it and health is Degraded.
HealthObservation argocd_health(const nlohmann::json& application, const ContainsCommit& contains);

/// Flux `Kustomization`: healthy when status.lastAppliedRevision ("main@sha1:<sha>" or the older
/// "main/<sha>") contains our commit and the Ready condition is True; degraded when applied and
/// Ready is False because of a failed health check or reconciliation.
HealthObservation flux_health(const nlohmann::json& kustomization, const ContainsCommit& contains);

/// `apps/v1 Deployment`: healthy when every container running `repository` runs `digest` and the
/// rollout is complete (observedGeneration current; updated = ready = available = desired
/// replicas); degraded when its Progressing condition says ProgressDeadlineExceeded for that
/// template.
HealthObservation deployment_health(const nlohmann::json& deployment, const std::string& repository,
                                    const std::string& digest);

/// The commit sha inside a Flux revision string ("main@sha1:abc", "main/abc", "sha256:…" for OCI
/// sources: "").
std::string flux_revision_commit(const std::string& revision);

/// Keeps of an Argo CD Application, Flux Kustomization or Deployment only what the readers above
/// look at: metadata's name, namespace, generation and resourceVersion; spec.replicas and the
/// template's container names and images; status.sync's status and revisions, status.health,
/// status.conditions, status.lastAppliedRevision, status.observedGeneration and the replica counts.
/// A watch cache of many objects then stays small (an Argo CD Application's status.resources and
/// history, a Deployment's pod template and last-applied annotation are most of its bytes), and
/// each reader answers the same on the trimmed object. A reader that starts reading another field
/// adds it here.
void trim_for_health(nlohmann::json& object);

}  // namespace poetryops::promote

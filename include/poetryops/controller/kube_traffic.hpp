#pragma once
/// Cluster mode traffic (`canary.mode: cluster`): the weights of the live route, read and set
/// through the API server instead of committed to git (docs/canary.md#cluster-mode). The route is
/// the user's own object; only its weight fields change, and another manager's weights are never
/// overwritten.
///
///   KubeTrafficPort traffic(client);
///   POETRYOPS_TRY(auto weights, traffic.read(app, *env.canary, app.metadata.namespace_));
///   POETRYOPS_TRY_VOID(traffic.set(app, *env.canary, app.metadata.namespace_, 25));
///
/// Which entries are a backend's, and the default of a missing weight, are the manifest module's
/// (manifest::read_weights, manifest::set_weights), so git and cluster mode agree.
///
/// How a weight is written, per kind:
/// - NGINX (the canary Ingress' `canary-weight` annotation, a field of its own in the
///   annotations map): a server-side apply patch holding only that annotation, field manager
///   `poetryops`, never forced. A conflict (another manager owns the annotation with another value)
///   is the API server's 409, reported with the manager and field it names.
/// - Gateway API, Istio, SMI, Traefik: the weights live inside lists that are atomic for
///   server-side apply (the Gateway API CRD declares no x-kubernetes-list-type on `rules` and
///   `backendRefs`, so they default to atomic; the Istio, SMI and Traefik CRDs likewise). An apply
///   patch holding a partial list would replace the whole list, and a full one would conflict with
///   whoever created the route, every time. So the weights are written with a JSON patch (RFC 6902)
///   as field manager `poetryops`: a `test` of metadata.resourceVersion (the object is exactly the
///   one read), a `test` of each old weight, and a `replace` (or `add`) of each weight, nothing
///   else. A race with another writer fails the test and is retried on a fresh read (three times).
///   The weights written are recorded in the annotation `poetryops.io/weights`
///   ("billing=75,billing-canary=25"); when the live weights no longer match it, another manager
///   changed them since: that is a conflict, reported with the manager that last wrote the list
///   (from metadata.managedFields) and never overwritten.
///
/// Errors: not_found for a route that does not exist ("HTTPRoute team-a/billing not found") and,
/// reason "MissingBackend", for a route without the stable or canary backend; conflict, reason
/// "WeightsConflict", for another manager's weights; the manifest module's refusals (reasons
/// "Ambiguous", "InvalidWeight", "InconsistentWeights", "NotCanary"); the API server's errors.
/// Every message names the object ("HTTPRoute team-a/billing: …").
///
/// Thread safety: safe (no state besides the client, which is safe).

#include <poetryops/api/poetryapp.hpp>
#include <poetryops/controller/ports.hpp>
#include <poetryops/kube/client.hpp>
#include <poetryops/kube/resource.hpp>
#include <poetryops/manifest/edit.hpp>
#include <poetryops/util/result.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace poetryops::controller {

/// The field manager of poetryops' writes to routes.
inline constexpr std::string_view kTrafficFieldManager = "poetryops";
/// The annotation recording the weights poetryops last wrote to a route (JSON patch kinds).
inline constexpr std::string_view kWeightsAnnotation = "poetryops.io/weights";

/// The API resource of each kind's route: gateway.networking.k8s.io/v1 httproutes,
/// networking.istio.io/v1beta1 virtualservices (served by every Istio since 1.5, also beside v1),
/// networking.k8s.io/v1 ingresses, split.smi-spec.io/v1alpha2 trafficsplits (Linkerd's SMI
/// extension), traefik.io/v1alpha1 traefikservices (Traefik 2.10 and 3).
kube::ResourceRef traffic_route_resource(manifest::TrafficKind kind);

/// A route outside the PoetryApp's own namespace (`canary.traffic.namespace`) is refused unless
/// `allow_cross_namespace`: whoever may create a PoetryApp in one namespace must not steer the
/// traffic of another team's route through the controller's wider RBAC (SECURITY.md).
class KubeTrafficPort final : public TrafficPort {
public:
    explicit KubeTrafficPort(kube::KubeClient& client, bool allow_cross_namespace = false);

    /// The live weights of traffic.stable and traffic.canary (in that order) in the route
    /// traffic.route in `namespace_`; `ours` when they are what poetryops wrote last (the
    /// annotation poetryops.io/weights matches them; NGINX: field manager `poetryops` owns the
    /// canary-weight annotation).
    Result<LiveWeights> read(const api::PoetryApp& app, const api::CanarySpec& canary,
                             const std::string& namespace_) override;

    /// Sets stable = 100 − canary_weight and canary = canary_weight (0..100) in the live route.
    /// Nothing is written when the route already holds them.
    Result<void> set(const api::PoetryApp& app, const api::CanarySpec& canary,
                     const std::string& namespace_, int canary_weight) override;

private:
    Result<void> check_namespace(const api::PoetryApp& app, const api::CanarySpec& canary,
                                 const std::string& namespace_) const;

    kube::KubeClient& client_;
    bool allow_cross_namespace_ = false;
};

}  // namespace poetryops::controller

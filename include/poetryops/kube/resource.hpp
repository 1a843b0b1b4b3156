#pragma once
/// Resource addressing: (group, version, resource plural, namespace, name[, subresource]) → REST
/// path.
///
///   kube::ResourceRef pods{"", "v1", "pods"};
///   client.get(pods.in("team-a").named("web-0"));
///   client.list(kube::resources::configmaps().in("team-a"), {});  // namespace "": all of them

#include <string>
#include <string_view>
#include <utility>

namespace poetryops::kube {

/// Names a collection or one object. The core group is "" (paths under /api/v1); everything else is
/// under /apis/<group>/<version>. Cluster-scoped resources (namespaces, CRDs) leave `namespace_`
/// empty and set `cluster_scoped`. Value type.
struct ResourceRef {
    ResourceRef() = default;
    ResourceRef(std::string group_, std::string version_, std::string resource_,
                bool cluster_scoped_ = false)
        : group(std::move(group_)),
          version(std::move(version_)),
          resource(std::move(resource_)),
          cluster_scoped(cluster_scoped_) {}

    std::string group;        ///< "" for the core group, e.g. "apps", "poetryops.io"
    std::string version;      ///< e.g. "v1", "v1alpha1"
    std::string resource;     ///< lower-case plural, e.g. "pods", "poetryapps"
    std::string namespace_;   ///< empty: all namespaces (collections) or a cluster-scoped object
    std::string name;         ///< empty: the collection
    std::string subresource;  ///< e.g. "status"; empty for the main resource
    bool cluster_scoped = false;

    ResourceRef in(std::string_view ns) const;
    ResourceRef named(std::string_view n) const;
    ResourceRef sub(std::string_view s) const;
    /// The same resource without namespace/name/subresource (the collection across namespaces).
    ResourceRef collection() const;
    /// "group/version" or "version" for core: the apiVersion field of objects of this resource.
    std::string api_version() const;
    /// URL path, e.g. /apis/poetryops.io/v1alpha1/namespaces/team-a/poetryapps/billing/status.
    std::string path() const;
    /// For messages: "poetryapps.poetryops.io team-a/billing".
    std::string describe() const;
};

/// A reference to an object's namespace and name taken from its metadata.
struct ObjectKey {
    std::string namespace_;
    std::string name;
    /// "namespace/name", or "name" when the namespace is empty (cluster-scoped): the cache and
    /// workqueue key.
    std::string str() const;
    /// Parses "ns/name" or "name".
    static ObjectKey parse(std::string_view key);
};

/// Well-known resources.
namespace resources {
ResourceRef namespaces();
ResourceRef events();  ///< core/v1 Events
ResourceRef leases();  ///< coordination.k8s.io/v1 Leases
ResourceRef secrets();
ResourceRef configmaps();
ResourceRef jobs();  ///< batch/v1 Jobs
ResourceRef pods();  ///< core/v1 Pods
ResourceRef crds();  ///< apiextensions.k8s.io/v1 CustomResourceDefinitions
}  // namespace resources

}  // namespace poetryops::kube

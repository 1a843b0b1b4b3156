#include <poetryops/kube/resource.hpp>

#include <poetryops/util/strings.hpp>

namespace poetryops::kube {

ResourceRef ResourceRef::in(std::string_view ns) const {
    ResourceRef r = *this;
    r.namespace_ = std::string(ns);
    return r;
}

ResourceRef ResourceRef::named(std::string_view n) const {
    ResourceRef r = *this;
    r.name = std::string(n);
    return r;
}

ResourceRef ResourceRef::sub(std::string_view s) const {
    ResourceRef r = *this;
    r.subresource = std::string(s);
    return r;
}

ResourceRef ResourceRef::collection() const {
    ResourceRef r = *this;
    r.namespace_.clear();
    r.name.clear();
    r.subresource.clear();
    return r;
}

std::string ResourceRef::api_version() const {
    return group.empty() ? version : group + "/" + version;
}

std::string ResourceRef::path() const {
    std::string p = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
    if (!namespace_.empty() && !cluster_scoped) p += "/namespaces/" + str::url_encode(namespace_);
    p += "/" + resource;
    if (!name.empty()) {
        p += "/" + str::url_encode(name);
        if (!subresource.empty()) p += "/" + subresource;
    }
    return p;
}

std::string ResourceRef::describe() const {
    std::string d = group.empty() ? resource : resource + "." + group;
    if (!name.empty()) {
        d += " ";
        if (!namespace_.empty()) d += namespace_ + "/";
        d += name;
    } else if (!namespace_.empty()) {
        d += " in namespace " + namespace_;
    }
    if (!subresource.empty()) d += " (" + subresource + ")";
    return d;
}

std::string ObjectKey::str() const { return namespace_.empty() ? name : namespace_ + "/" + name; }

ObjectKey ObjectKey::parse(std::string_view key) {
    auto slash = key.find('/');
    if (slash == std::string_view::npos) return ObjectKey{"", std::string(key)};
    return ObjectKey{std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
}

namespace resources {
ResourceRef namespaces() { return {"", "v1", "namespaces", true}; }
ResourceRef events() { return {"", "v1", "events"}; }
ResourceRef leases() { return {"coordination.k8s.io", "v1", "leases"}; }
ResourceRef secrets() { return {"", "v1", "secrets"}; }
ResourceRef configmaps() { return {"", "v1", "configmaps"}; }
ResourceRef jobs() { return {"batch", "v1", "jobs"}; }
ResourceRef pods() { return {"", "v1", "pods"}; }
ResourceRef crds() { return {"apiextensions.k8s.io", "v1", "customresourcedefinitions", true}; }
}  // namespace resources

}  // namespace poetryops::kube

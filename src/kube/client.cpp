// KubeClient helpers shared by every implementation.
#include <poetryops/kube/client.hpp>

namespace poetryops::kube {

const char* content_type(PatchType type) {
    switch (type) {
        case PatchType::merge: return "application/merge-patch+json";
        case PatchType::json: return "application/json-patch+json";
        case PatchType::strategic: return "application/strategic-merge-patch+json";
        case PatchType::apply: return "application/apply-patch+yaml";
    }
    return "application/json";
}

Result<nlohmann::json> KubeClient::update_status(const ResourceRef& ref, const nlohmann::json& object) {
    return update(ref.sub("status"), object);
}

Result<nlohmann::json> KubeClient::apply(const ResourceRef& ref, const nlohmann::json& object,
                                         const std::string& field_manager, bool force) {
    ResourceRef r = ref;
    if (r.name.empty() && object.contains("metadata") && object["metadata"].contains("name")) {
        r.name = object["metadata"]["name"].get<std::string>();
    }
    return patch(r, PatchType::apply, object, PatchOptions{field_manager, force});
}

Result<ObjectList> KubeClient::list_all(const ResourceRef& ref, ListOptions options) {
    ObjectList all;
    for (;;) {
        POETRYOPS_TRY(auto page, list(ref, options));
        if (all.items.empty()) {
            all.items = std::move(page.items);
        } else {
            all.items.reserve(all.items.size() + page.items.size());
            for (auto& item : page.items) all.items.push_back(std::move(item));
        }
        all.resource_version = page.resource_version;
        if (page.continue_token.empty()) break;
        options.continue_token = page.continue_token;
    }
    return all;
}

}  // namespace poetryops::kube

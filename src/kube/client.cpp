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

Result<nlohmann::json> KubeClient::update_status(const ResourceRef& ref,
                                                 const nlohmann::json& object) {
    return update(ref.sub("status"), object);
}

Result<std::string> KubeClient::logs(const ResourceRef& pod, const LogOptions&) {
    return fail(Error::make(Error::Kind::internal,
                            "logs " + pod.describe() + ": this client cannot read logs",
                            "Unsupported"));
}

Result<nlohmann::json> KubeClient::apply(const ResourceRef& ref, const nlohmann::json& object,
                                         const std::string& field_manager, bool force) {
    ResourceRef r = ref;
    if (r.name.empty() && object.contains("metadata") && object["metadata"].contains("name")) {
        r.name = object["metadata"]["name"].get<std::string>();
    }
    return patch(r, PatchType::apply, object, PatchOptions{field_manager, force});
}

Result<std::string> KubeClient::list_pages(
    const ResourceRef& ref, ListOptions options,
    const std::function<Result<void>(ObjectList& page)>& on_page) {
    for (;;) {
        POETRYOPS_TRY(auto page, list(ref, options));
        std::string continue_token = page.continue_token;  // on_page may take the page apart
        std::string resource_version = page.resource_version;
        POETRYOPS_TRY_VOID(on_page(page));
        if (continue_token.empty()) return resource_version;
        options.continue_token = std::move(continue_token);
    }
}

Result<ObjectList> KubeClient::list_all(const ResourceRef& ref, ListOptions options) {
    ObjectList all;
    POETRYOPS_TRY(all.resource_version,
                  list_pages(ref, std::move(options), [&](ObjectList& page) -> Result<void> {
                      if (all.items.empty()) {
                          all.items = std::move(page.items);
                      } else {
                          all.items.reserve(all.items.size() + page.items.size());
                          for (auto& item : page.items) all.items.push_back(std::move(item));
                      }
                      return ok();
                  }));
    return all;
}

}  // namespace poetryops::kube

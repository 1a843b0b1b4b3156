// set_image targets: workload container images and Helm values paths.
#include "manifest/detail/targets.hpp"

namespace poetryops::manifest::detail {

const char* pod_spec_path(std::string_view kind) {
    if (kind == "Pod") return "spec";
    if (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet" ||
        kind == "ReplicaSet" || kind == "Job" || kind == "Rollout" ||
        kind == "ReplicationController" || kind == "PodTemplate") {
        return kind == "PodTemplate" ? "template.spec" : "spec.template.spec";
    }
    if (kind == "CronJob") return "spec.jobTemplate.spec.template.spec";
    return nullptr;
}

namespace {

std::size_t deref(const Tree& t, std::size_t i) {
    return i != npos && t.at(i).kind == NodeKind::alias ? t.anchors[t.at(i).alias_of].node : i;
}

}  // namespace

Result<void> check_workload(const SetImageRequest& req, Kind kind) {
    if (req.workload.empty() || kind == Kind::yaml) return ok();
    return fail(Error::Kind::invalid,
                "workload \"" + req.workload +
                    "\": a workload is only used with kind yaml (plain manifests, update.kind "
                    "manifest)",
                "InvalidRequest");
}

bool names_request(const SetImageRequest& req, std::string_view name) {
    return same_image_name(name, req.name) ||
           (req.new_name && same_image_name(name, *req.new_name));
}

std::string compose_ref(const ImageRef& current, const SetImageRequest& req) {
    ImageRef out = current;
    if (req.new_name) {
        auto n = parse_image_name(*req.new_name);
        if (n) {
            out.domain = n->domain;
            out.path = n->path;
        }
    }
    if (req.tag || req.digest) {
        out.tag = req.tag.value_or("");
        out.digest = req.digest.value_or("");
    }
    return out.str();
}

bool is_kustomization(const Tree& t, std::size_t root) {
    std::string kind = t.get_string(root, "kind");
    std::string api = t.get_string(root, "apiVersion");
    if (kind == "Kustomization" || kind == "Component" ||
        api.rfind("kustomize.config.k8s.io/", 0) == 0)
        return true;
    // kind is optional in kustomization.yaml: a kind-less document with kustomize's own top-level
    // keys.
    if (!kind.empty() || t.at(root).kind != NodeKind::map) return false;
    for (const char* key : {"resources", "bases", "components", "images"}) {
        std::size_t v = t.get(root, key);
        if (v != npos && t.at(v).kind == NodeKind::seq) {
            if (std::string_view(key) != "images") return true;
            std::size_t first = t.at(v).children.empty() ? npos : t.at(v).children[0];
            if (first != npos && t.get(first, "name") != npos &&
                (t.get(first, "newTag") != npos || t.get(first, "newName") != npos ||
                 t.get(first, "digest") != npos)) {
                return true;
            }
        }
    }
    return false;
}

bool is_k8s_object(const Tree& t, std::size_t root) {
    return !t.get_string(root, "kind").empty() && !t.get_string(root, "apiVersion").empty() &&
           !is_kustomization(t, root);
}

Result<void> apply_workloads(Session& s, const SetImageRequest& req) {
    const Tree& t = s.tree();
    for (const auto& d : t.docs) {
        if (d.root == npos || t.at(d.root).kind != NodeKind::map) continue;
        const char* spec_path = pod_spec_path(t.get_string(d.root, "kind"));
        if (spec_path == nullptr) continue;
        if (!req.workload.empty() &&
            t.get_string(deref(t, t.get(d.root, "metadata")), "name") != req.workload)
            continue;
        std::size_t spec = deref(t, t.path(d.root, spec_path));
        if (spec == npos) continue;
        for (const char* list_key : {"initContainers", "containers"}) {
            std::size_t list = deref(t, t.get(spec, list_key));
            if (list == npos || t.at(list).kind != NodeKind::seq) continue;
            const auto& items = t.at(list).children;
            for (std::size_t idx = 0; idx < items.size(); ++idx) {
                std::size_t c = deref(t, items[idx]);
                std::size_t img = t.get(c, "image");
                std::size_t shown = deref(t, img);
                if (shown == npos || t.at(shown).kind != NodeKind::scalar) continue;
                auto ref = parse_image_ref(t.at(shown).value);
                if (!ref || !names_request(req, ref->name())) continue;
                std::string field =
                    std::string(spec_path) + "." + list_key + "[" + std::to_string(idx) + "].image";
                s.count_match();
                POETRYOPS_TRY_VOID(s.set_scalar(img, compose_ref(*ref, req), field));
            }
        }
    }
    return ok();
}

Result<void> apply_helm(Session& s, const SetImageRequest& req, bool require_repository) {
    const Tree& t = s.tree();
    for (const auto& d : t.docs) {
        if (d.root == npos || t.at(d.root).kind != NodeKind::map) continue;
        std::size_t repo =
            req.helm_repository_path.empty() ? npos : t.path(d.root, req.helm_repository_path);
        std::size_t tag = req.helm_tag_path.empty() ? npos : t.path(d.root, req.helm_tag_path);
        std::size_t digest =
            req.helm_digest_path.empty() ? npos : t.path(d.root, req.helm_digest_path);
        if (repo != npos) {
            std::size_t shown = deref(t, repo);
            if (t.at(shown).kind != NodeKind::scalar) continue;
            std::string name = t.at(shown).value;
            // Charts that split the registry out: image.registry + image.repository.
            std::string parent_path =
                req.helm_repository_path.substr(0, req.helm_repository_path.rfind('.'));
            bool matches = names_request(req, name);
            if (!matches && req.helm_repository_path.find('.') != std::string::npos) {
                std::size_t registry = t.path(d.root, parent_path + ".registry");
                if (registry != npos && t.at(deref(t, registry)).kind == NodeKind::scalar) {
                    matches = names_request(req, t.at(deref(t, registry)).value + "/" + name);
                }
            }
            if (!matches) continue;
        } else if (require_repository || tag == npos) {
            continue;
        }
        s.count_match();
        if (repo != npos && req.new_name) {
            std::string current = t.at(deref(t, repo)).value;
            // Keep a split registry as it is when the new name only changes the repository part.
            if (!same_image_name(current, *req.new_name)) {
                POETRYOPS_TRY_VOID(s.set_scalar(repo, *req.new_name, req.helm_repository_path));
            }
        }
        if (req.tag) {
            if (tag == npos) {
                return fail(Error::Kind::not_found,
                            "Helm values path " + req.helm_tag_path + " not found (set --tag-path)",
                            "MissingPath");
            }
            POETRYOPS_TRY_VOID(s.set_scalar(tag, *req.tag, req.helm_tag_path));
        }
        if (req.digest) {
            if (digest == npos) {
                return fail(Error::Kind::not_found,
                            "Helm values path " + req.helm_digest_path +
                                " not found (set --digest-path to the chart's digest value, or to "
                                "\"\" to pin by tag "
                                "only)",
                            "MissingPath");
            }
            POETRYOPS_TRY_VOID(s.set_scalar(digest, *req.digest, req.helm_digest_path));
        } else if (req.tag && digest != npos) {
            // A stale digest would override the new tag in charts that prefer digests.
            POETRYOPS_TRY_VOID(s.set_scalar(digest, "", req.helm_digest_path));
        }
    }
    return ok();
}

}  // namespace poetryops::manifest::detail

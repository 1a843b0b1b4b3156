#include <poetryops/manifest/read.hpp>

#include "manifest/detail/targets.hpp"
#include "manifest/detail/yaml_tree.hpp"

#include <poetryops/manifest/image_ref.hpp>
#include <poetryops/util/strings.hpp>

#include <yaml-cpp/yaml.h>

#include <functional>
#include <vector>

namespace poetryops::manifest {

namespace {

std::string scalar(const YAML::Node& n, const char* key) {
    if (!n.IsMap()) return {};
    YAML::Node v = n[key];
    return v && v.IsScalar() ? v.Scalar() : std::string();
}

PinnedImage from_ref(const std::string& text, int line) {
    PinnedImage p;
    p.image = text;
    p.line = line;
    if (auto ref = parse_image_ref(text)) {
        p.tag = ref->tag;
        p.digest = ref->digest;
    } else {
        // Not a valid reference (a template placeholder?): report it as written.
        auto at = text.find('@');
        if (at != std::string::npos) p.digest = text.substr(at + 1);
    }
    return p;
}

std::optional<PinnedImage> read_kustomize(const std::vector<YAML::Node>& docs,
                                          const SetImageRequest& req) {
    for (const auto& doc : docs) {
        if (!doc.IsMap() || !doc["images"] || !doc["images"].IsSequence()) continue;
        for (const auto& entry : doc["images"]) {
            std::string name = scalar(entry, "name");
            if (name.empty() || !same_image_name(name, req.name)) continue;
            std::string new_name = scalar(entry, "newName");
            std::string tag = scalar(entry, "newTag");
            std::string digest = scalar(entry, "digest");
            PinnedImage p;
            p.image = new_name.empty() ? name : new_name;
            if (!tag.empty()) p.image += ":" + tag;
            if (!digest.empty()) p.image += "@" + digest;
            p.tag = tag;
            p.digest = digest;
            p.line = static_cast<int>(entry.Mark().line) + 1;
            return p;
        }
    }
    return std::nullopt;
}

void for_each_container_image(const YAML::Node& node,
                              const std::function<bool(const YAML::Node&)>& visit) {
    // Containers sit under pod templates at various depths (Deployment, CronJob's jobTemplate, Pod,
    // Rollout): walk maps and sequences and visit every `containers`/`initContainers` entry's
    // `image`.
    if (node.IsMap()) {
        for (const auto& kv : node) {
            std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
            if ((key == "containers" || key == "initContainers") && kv.second.IsSequence()) {
                for (const auto& c : kv.second) {
                    if (c.IsMap() && c["image"] && c["image"].IsScalar() && !visit(c["image"]))
                        return;
                }
            } else {
                for_each_container_image(kv.second, visit);
            }
        }
    } else if (node.IsSequence()) {
        for (const auto& item : node) for_each_container_image(item, visit);
    }
}

std::optional<PinnedImage> read_workloads(const std::vector<YAML::Node>& docs,
                                          const SetImageRequest& req) {
    std::optional<PinnedImage> found;
    for (const auto& doc : docs) {
        if (!doc.IsMap() || !doc["kind"]) continue;
        if (!req.workload.empty()) {
            // Only the named workload, found as set_image finds it.
            std::string kind = doc["kind"].IsScalar() ? doc["kind"].Scalar() : std::string();
            YAML::Node meta = doc["metadata"];
            if (detail::pod_spec_path(kind) == nullptr || !meta ||
                scalar(meta, "name") != req.workload)
                continue;
        }
        for_each_container_image(doc, [&](const YAML::Node& image) {
            auto ref = parse_image_ref(image.Scalar());
            if (!ref || !same_image_name(ref->name(), req.name)) return true;
            found = from_ref(image.Scalar(), static_cast<int>(image.Mark().line) + 1);
            return false;
        });
        if (found) return found;
    }
    return std::nullopt;
}

YAML::Node at_path(const YAML::Node& root, const std::string& path) {
    // yaml-cpp nodes are references: `cur = child` would overwrite the parent's value, so rebind
    // with reset().
    YAML::Node cur;
    cur.reset(root);
    for (const auto& part : str::split(path, '.')) {
        if (!cur.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
        if (cur.IsMap()) {
            YAML::Node next = static_cast<const YAML::Node&>(cur)[part];
            if (!next.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
            cur.reset(next);
        } else if (cur.IsSequence()) {
            std::size_t idx = 0;
            try {
                idx = std::stoul(part);
            } catch (...) {
                return YAML::Node();
            }
            if (idx >= cur.size()) return YAML::Node(YAML::NodeType::Undefined);
            YAML::Node next = static_cast<const YAML::Node&>(cur)[idx];
            cur.reset(next);
        } else {
            return YAML::Node(YAML::NodeType::Undefined);
        }
    }
    return cur;
}

std::optional<PinnedImage> read_helm(const std::vector<YAML::Node>& docs,
                                     const SetImageRequest& req) {
    if (docs.empty() || !docs.front().IsMap()) return std::nullopt;
    const YAML::Node& root = docs.front();
    YAML::Node tag = at_path(root, req.helm_tag_path);
    if (!tag.IsDefined() || !tag.IsScalar()) return std::nullopt;
    YAML::Node repo(YAML::NodeType::Undefined);
    if (!req.helm_repository_path.empty()) repo.reset(at_path(root, req.helm_repository_path));
    bool has_repo = repo.IsDefined() && repo.IsScalar();
    if (has_repo && !same_image_name(repo.Scalar(), req.name)) return std::nullopt;
    PinnedImage p;
    p.line = static_cast<int>(tag.Mark().line) + 1;
    p.tag = tag.Scalar();
    if (auto at = p.tag.find('@'); at != std::string::npos) {
        p.digest = p.tag.substr(at + 1);
        p.tag.resize(at);
    }
    if (!req.helm_digest_path.empty()) {
        YAML::Node digest = at_path(root, req.helm_digest_path);
        if (digest.IsDefined() && digest.IsScalar() && !digest.Scalar().empty())
            p.digest = digest.Scalar();
    }
    p.image = has_repo ? repo.Scalar() : req.name;
    if (!p.tag.empty()) p.image += ":" + p.tag;
    if (!p.digest.empty()) p.image += "@" + p.digest;
    return p;
}

}  // namespace

Result<std::optional<PinnedImage>> find_pinned_image(std::string_view text,
                                                     const SetImageRequest& request, Kind kind,
                                                     const Limits& limits) {
    if (text.size() > limits.max_bytes) {
        return fail(Error::Kind::invalid,
                    "document of " + std::to_string(text.size()) + " bytes is over the limit of " +
                        std::to_string(limits.max_bytes),
                    "TooLarge");
    }
    POETRYOPS_TRY_VOID(detail::check_workload(request, kind));
    // yaml-cpp shares an alias's node instead of copying it, so the walk below would visit a
    // "billion laughs" a billion times, and it stops deep nesting only at 2000 levels with "bad
    // file". The editor's tree applies the limits (alias expansion, depth, node count) while
    // parsing: refuse here what it refuses, before walking anything.
    POETRYOPS_TRY_VOID(detail::parse_tree(text, limits));
    std::vector<YAML::Node> docs;
    try {
        docs = YAML::LoadAll(std::string(text));
    } catch (const YAML::Exception& e) {
        return fail(Error::Kind::decode,
                    "line " + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg,
                    "InvalidYAML");
    }
    try {
        switch (kind) {
            case Kind::kustomize: return read_kustomize(docs, request);
            case Kind::yaml: return read_workloads(docs, request);
            case Kind::helm: return read_helm(docs, request);
            case Kind::marker:
            case Kind::auto_detect: {
                if (auto p = read_kustomize(docs, request)) return p;
                if (auto p = read_workloads(docs, request)) return p;
                return read_helm(docs, request);
            }
        }
    } catch (const YAML::Exception& e) {
        return fail(Error::Kind::decode, "line " + std::to_string(e.mark.line + 1) + ": " + e.msg,
                    "InvalidYAML");
    }
    return std::optional<PinnedImage>{};
}

}  // namespace poetryops::manifest

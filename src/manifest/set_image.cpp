#include <poetryops/manifest/edit.hpp>

#include "manifest/detail/targets.hpp"

#include <poetryops/oci/grammar.hpp>

namespace poetryops::manifest {

using detail::npos;

Result<Kind> parse_kind(std::string_view text) {
    if (text == "auto") return Kind::auto_detect;
    if (text == "kustomize") return Kind::kustomize;
    if (text == "helm") return Kind::helm;
    if (text == "yaml") return Kind::yaml;
    if (text == "marker") return Kind::marker;
    return fail(Error::Kind::invalid,
                "unknown kind \"" + std::string(text) +
                    "\" (expected auto, kustomize, helm, yaml or marker)",
                "InvalidKind");
}

Result<SetImageRequest> parse_set_image_arg(std::string_view arg) {
    SetImageRequest req;
    std::string_view target = arg;
    auto eq = arg.find('=');
    if (eq != std::string_view::npos) {
        POETRYOPS_TRY(ImageRef name, parse_image_name(arg.substr(0, eq)));
        req.name = name.name();
        target = arg.substr(eq + 1);
    }
    POETRYOPS_TRY(ImageRef ref, parse_image_ref(target));
    if (eq == std::string_view::npos) {
        req.name = ref.name();
    } else if (ref.name() != req.name) {
        req.new_name = ref.name();
    }
    if (!ref.tag.empty()) req.tag = ref.tag;
    if (!ref.digest.empty()) req.digest = ref.digest;
    if (!req.new_name && !req.tag && !req.digest) {
        return fail(Error::Kind::invalid,
                    "\"" + std::string(arg) +
                        "\": nothing to set (give NAME=NEWNAME, a :TAG or an @DIGEST)",
                    "InvalidImageReference");
    }
    return req;
}

Result<EditResult> set_image(std::string_view text, const SetImageRequest& request, Kind kind,
                             const Limits& limits) {
    if (request.name.empty())
        return fail(Error::Kind::invalid, "no image name given", "InvalidRequest");
    POETRYOPS_TRY_VOID(parse_image_name(request.name));
    if (request.new_name) POETRYOPS_TRY_VOID(parse_image_name(*request.new_name));
    if (request.tag && !oci::is_valid_tag(*request.tag)) {
        return fail(Error::Kind::invalid, "invalid tag \"" + *request.tag + "\"",
                    "InvalidImageReference");
    }
    if (request.digest && !oci::is_valid_digest(*request.digest)) {
        return fail(Error::Kind::invalid, "invalid digest \"" + *request.digest + "\"",
                    "InvalidImageReference");
    }
    POETRYOPS_TRY_VOID(detail::check_workload(request, kind));
    POETRYOPS_TRY(detail::Tree tree, detail::parse_tree(text, limits));
    detail::Session s(text, std::move(tree));
    switch (kind) {
        case Kind::kustomize: POETRYOPS_TRY_VOID(detail::apply_kustomize(s, request)); break;
        case Kind::helm: POETRYOPS_TRY_VOID(detail::apply_helm(s, request, false)); break;
        case Kind::yaml: POETRYOPS_TRY_VOID(detail::apply_workloads(s, request)); break;
        case Kind::marker: POETRYOPS_TRY_VOID(detail::apply_markers(s, request)); break;
        case Kind::auto_detect: {
            // Markers first: an explicit marker is the user's word for that line.
            POETRYOPS_TRY_VOID(detail::apply_markers(s, request));
            bool kustomization = false, objects = false;
            for (const auto& d : s.tree().docs) {
                if (d.root == npos) continue;
                kustomization = kustomization || detail::is_kustomization(s.tree(), d.root);
                objects = objects || detail::is_k8s_object(s.tree(), d.root);
            }
            if (kustomization) POETRYOPS_TRY_VOID(detail::apply_kustomize(s, request));
            if (objects) POETRYOPS_TRY_VOID(detail::apply_workloads(s, request));
            if (!kustomization && !objects)
                POETRYOPS_TRY_VOID(detail::apply_helm(s, request, true));
            break;
        }
    }
    return s.finish();
}

Result<EditResult> set_values(std::string_view text,
                              const std::vector<std::pair<std::string, std::string>>& values,
                              const Limits& limits) {
    POETRYOPS_TRY(detail::Tree tree, detail::parse_tree(text, limits));
    detail::Session s(text, std::move(tree));
    for (const auto& [path, value] : values) {
        std::size_t found = npos;
        for (const auto& d : s.tree().docs) {
            if (d.root == npos) continue;
            std::size_t n = s.tree().path(d.root, path);
            if (n == npos) continue;
            if (found != npos) {
                return fail(Error::Kind::invalid,
                            detail::at_line(s.tree(), n) + path +
                                " is set in more than one document (also line " +
                                std::to_string(s.tree().line_of(found)) + "); refusing to guess",
                            "Ambiguous");
            }
            found = n;
        }
        if (found == npos) {
            return fail(Error::Kind::not_found, "path " + path + " not found", "MissingPath");
        }
        POETRYOPS_TRY_VOID(s.set_scalar(found, value, path));
        s.count_match();
    }
    return s.finish();
}

}  // namespace poetryops::manifest

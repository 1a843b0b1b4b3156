#pragma once
/// Reading back what a manifest pins for an image: the other half of set_image(), so the promotion
/// engine can tell its own pin from a human edit. Pure: text in, value out.

#include <poetryops/manifest/edit.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace poetryops::manifest {

/// The image a file pins for a request's image name.
struct PinnedImage {
    std::string image;  ///< the full reference as it would be pulled, e.g. "reg/app:1.4.2@sha256:…"
    std::string tag;    ///< "" when pinned by digest only
    std::string digest;  ///< "" when pinned by tag only
    int line = 0;        ///< 1-based line of the (first) scalar that holds it
};

/// Finds what `text` pins for `request.name`, read the same way set_image() with `kind` would edit
/// it: kustomize `images:` entries (newName/newTag/digest over the name), Helm values at the
/// request's paths (a tag value holding "tag@sha256:…" is split), or the first matching container
/// image of a workload (Kind::yaml). Kind::auto_detect tries kustomize, then workloads, then Helm
/// values. nullopt when nothing names the image. Errors: decode for invalid YAML (with the line),
/// invalid past the size limit.
Result<std::optional<PinnedImage>> find_pinned_image(std::string_view text,
                                                     const SetImageRequest& request,
                                                     Kind kind = Kind::auto_detect,
                                                     const Limits& limits = {});

}  // namespace poetryops::manifest

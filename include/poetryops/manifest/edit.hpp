#pragma once
/// Byte-exact YAML edits: the pure core (text in, text out, no I/O).
///
/// Every edit locates its target scalar through yaml-cpp's marks and splices only that scalar's
/// bytes; everything else (comments, blank lines, indentation, quoting elsewhere, flow style, block
/// scalars, anchors, `---`/`...`, CRLF, a BOM, a missing final newline) stays byte-identical. When
/// nothing needs to change, new_text == the input and changes is empty. Expected failures come back
/// as errors whose message starts with "line N" where a line is known.
///
/// Thread safety: all functions are pure and may run concurrently.

#include <poetryops/manifest/kinds.hpp>
#include <poetryops/util/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace poetryops::manifest {

/// Guards against hostile or accidental huge input.
struct Limits {
    std::size_t max_bytes = 16 * 1024 * 1024;  ///< larger documents are refused (reason "TooLarge")
    std::size_t max_nodes = 4 * 1024 * 1024;   ///< YAML nodes per text
    /// nodes of one document with aliases expanded ("AliasBomb")
    std::uint64_t max_expanded_nodes = 1000 * 1000;
    /// maps and sequences nested deeper are refused (Kubernetes objects nest about 15 deep, Helm
    /// values rarely past 30)
    std::size_t max_depth = 256;
};

/// One edited scalar.
struct Change {
    int line = 0;           ///< 1-based line of the edited scalar in the input
    std::string field;      ///< what was edited, e.g. "images[0].newTag",
                            ///< "spec.template.spec.containers[1].image"
    std::string old_value;  ///< decoded value before ("" when the field was added)
    std::string new_value;  ///< decoded value after ("" when the field was removed)
};

/// The outcome of an edit: the new text, what changed, and how many targets were found.
struct EditResult {
    std::string new_text;
    std::vector<Change> changes;
    std::size_t matched = 0;  ///< targets found (edited or already holding the wanted value)
    bool changed() const { return !changes.empty(); }
};

/// Parses "auto|kustomize|helm|yaml|marker".
Result<Kind> parse_kind(std::string_view text);

/// What to set. Mirrors `kustomize edit set image NAME=NEWNAME[:TAG][@DIGEST]`.
/// When tag and/or digest are given, the result holds exactly those (a stale digest or tag is
/// removed); when neither is given (a rename), existing tags and digests are kept.
struct SetImageRequest {
    /// image name to match (no tag/digest), e.g. "registry.example.com/acme/billing"
    std::string name;
    std::optional<std::string> new_name;  ///< replacement name, when renaming
    std::optional<std::string> tag;
    std::optional<std::string> digest;  ///< "sha256:<64 hex>"

    std::string helm_tag_path = "image.tag";
    std::string helm_digest_path = "image.digest";
    std::string helm_repository_path = "image.repository";

    std::string app;  ///< marker app; empty → the last path component of `name`
    std::string env;  ///< marker environment; a marker naming an env matches only that env
    /// Flux image policy "NS:NAME"; empty → any policy whose NAME equals the app
    std::string policy;
    /// Kind::yaml only: touch only the containers of the workload whose metadata.name is this
    /// (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob,
    /// PodTemplate, Argo Rollout); empty → every workload. A canary pins its workload this way.
    /// With any other kind a non-empty workload is refused (reason "InvalidRequest").
    std::string workload;
};

/// Parses the CLI form "NAME=NEWNAME[:TAG][@DIGEST]" or "NAME[:TAG][@DIGEST]" (validated).
Result<SetImageRequest> parse_set_image_arg(std::string_view arg);

/// Sets an image in a YAML text. Errors: decode (invalid YAML), invalid (refusals: alias targets,
/// ambiguity, limits, block-scalar targets), each with the line and reason. matched == 0 means
/// nothing in the text names the image.
Result<EditResult> set_image(std::string_view text, const SetImageRequest& request,
                             Kind kind = Kind::auto_detect, const Limits& limits = {});

/// Sets Helm values at dotted paths ("image.tag", "containers.0.image"): each path must exist and
/// hold a scalar (or be null). Values are written as strings (quoted when plain style would read
/// them as a number or bool).
Result<EditResult> set_values(std::string_view text,
                              const std::vector<std::pair<std::string, std::string>>& values,
                              const Limits& limits = {});

/// Parses "gateway-api|istio|nginx|smi|traefik" (kTrafficKindNames; "gateway" too).
Result<TrafficKind> parse_traffic_kind(std::string_view text);

/// A backend and the weight it should get.
struct BackendWeight {
    std::string name;
    int weight = 0;
};

/// Sets the weights of named backends in every resource of `kind` (optionally only the one named
/// `resource`; two of that name are refused as "Ambiguous"). A `weight:` key is inserted when
/// absent. Only the groups that list every named backend are edited (Gateway API rules, Istio http
/// routes; SMI's and Traefik's one list): a rule that sends a header match to the canary alone, or
/// a path to the stable backend alone, keeps its weights. A resource naming some of the backends
/// but with no group listing all of them is an error ("MissingBackend"); resources naming none of
/// them are left alone. Backends are matched as read_weights() (read.hpp) describes.
///
/// NGINX: the canary Ingress (annotation nginx.ingress.kubernetes.io/canary: "true") gets
/// nginx.ingress.kubernetes.io/canary-weight: the weight of the backend it routes to (a Service of
/// its rules or default backend, or the Ingress' own name), as a share of the weights given, out
/// of canary-weight-total (default 100): {{"billing", 75}, {"billing-canary", 25}} writes "25".
/// Other Ingresses are left alone (the stable one gets the rest); naming a non-canary Ingress as
/// `resource` is refused ("NotCanary").
Result<EditResult> set_weights(std::string_view text, TrafficKind kind,
                               const std::vector<BackendWeight>& weights,
                               std::string_view resource = {}, const Limits& limits = {});

}  // namespace poetryops::manifest

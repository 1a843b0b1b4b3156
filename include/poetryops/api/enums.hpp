#pragma once
/// The PoetryApp enums and their wire spellings. The CRD's `enum:` lists must equal enum_names<E>()
/// (tested). TrafficKind is the manifest module's enum (manifest/kinds.hpp): one enum per concept,
/// the editor's; only its wire spellings live here.

#include <poetryops/manifest/kinds.hpp>

#include <array>
#include <optional>
#include <string_view>

namespace poetryops::api {

/// build.engine
enum class BuildEngine { buildkit, kaniko, buildah };
/// environments[].update.kind: kustomize `images:`, Helm values paths, or `image:` fields of plain
/// manifests.
enum class UpdateKind { kustomize, helm, manifest };
/// environments[].promotion.approval
enum class Approval { none, required };
/// environments[].health: which gate decides an environment is healthy (derived from which member
/// is set).
enum class HealthKind { none, argocd, flux, deployment };
/// environments[].canary.traffic.kind
using TrafficKind = manifest::TrafficKind;
/// environments[].canary.mode: weights written to git (default) or patched on the live object.
enum class CanaryMode { git, cluster };
/// status.environments[].phase
enum class Phase { pending, promoting, syncing, healthy, held, failed };
/// status.history[].kind
enum class HistoryKind { promote, rollback };

template <class E>
struct EnumNames;
template <>
struct EnumNames<BuildEngine> {
    static constexpr std::array<std::string_view, 3> values{"buildkit", "kaniko", "buildah"};
};
template <>
struct EnumNames<UpdateKind> {
    static constexpr std::array<std::string_view, 3> values{"kustomize", "helm", "manifest"};
};
template <>
struct EnumNames<Approval> {
    static constexpr std::array<std::string_view, 2> values{"none", "required"};
};
template <>
struct EnumNames<HealthKind> {
    static constexpr std::array<std::string_view, 4> values{"none", "argocd", "flux", "deployment"};
};
template <>
struct EnumNames<TrafficKind> {
    static constexpr const auto& values = manifest::kTrafficKindNames;
};
template <>
struct EnumNames<CanaryMode> {
    static constexpr std::array<std::string_view, 2> values{"git", "cluster"};
};
template <>
struct EnumNames<Phase> {
    static constexpr std::array<std::string_view, 6> values{"Pending", "Promoting", "Syncing",
                                                            "Healthy", "Held",      "Failed"};
};
template <>
struct EnumNames<HistoryKind> {
    static constexpr std::array<std::string_view, 2> values{"Promote", "Rollback"};
};

/// The wire spellings of E in declaration order.
template <class E>
constexpr const auto& enum_names() {
    return EnumNames<E>::values;
}

/// The wire spelling of a value.
template <class E>
constexpr std::string_view to_string(E value) {
    return EnumNames<E>::values[static_cast<std::size_t>(value)];
}

/// Parses a wire spelling (exact, case-sensitive, as the API server's enum check is).
template <class E>
constexpr std::optional<E> parse_enum(std::string_view text) {
    const auto& names = EnumNames<E>::values;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i] == text) return static_cast<E>(i);
    }
    return std::nullopt;
}

}  // namespace poetryops::api

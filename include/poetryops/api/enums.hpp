#pragma once
/// The PoetryApp enums and their wire spellings. The CRD's `enum:` lists must equal enum_names<E>()
/// (tested). UpdateKind and TrafficKind are the manifest module's enums (manifest/kinds.hpp): one
/// enum per concept, the editor's; only their wire spellings live here.

#include <poetryops/api/conditions.hpp>
#include <poetryops/manifest/kinds.hpp>
#include <poetryops/notify/kind.hpp>
#include <poetryops/schedule/window.hpp>

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace poetryops::api {

/// build.engine
enum class BuildEngine { buildkit, kaniko, buildah };
/// environments[].update.kind: kustomize `images:`, Helm values paths, or `image:` fields of plain
/// manifests (manifest::Kind::manifest, the editor's yaml). The editor's auto_detect and marker are
/// not API values: they have no wire spelling, and decoding never yields them.
using UpdateKind = manifest::Kind;
/// environments[].promotion.windows[].kind: the schedule module's enum.
using WindowKind = schedule::WindowKind;
/// environments[].health: which gate decides an environment is healthy (derived from which member
/// is set).
enum class HealthKind { none, argocd, flux, deployment };
/// environments[].canary.traffic.kind
using TrafficKind = manifest::TrafficKind;
/// environments[].canary.mode: weights written to git (default) or patched on the live object.
enum class CanaryMode { git, cluster };
/// environments[].canary.analysis.judge: each metric within its min/max (threshold), or the canary
/// against the stable baseline by a Mann-Whitney U test (compare; docs/canary.md#judges).
enum class CanaryJudge { threshold, compare };
/// environments[].canary.analysis.onUnavailable: what a canary does while Prometheus cannot be
/// asked (unreachable, timing out, 5xx): hold at its current weight, or abort and roll back.
enum class OnUnavailable { hold, abort };
/// environments[].canary.analysis.metrics[].direction: which way of a difference from the stable
/// baseline is a regression (the compare judge).
enum class MetricDirection { higher_is_worse, lower_is_worse, either };
/// status.environments[].canary.phase
enum class CanaryPhase { progressing, paused, succeeded, aborted };
/// status.environments[].canary.analysis[].verdict
enum class AnalysisVerdict { pass, fail, inconclusive };
/// status.environments[].phase
enum class Phase { pending, promoting, syncing, healthy, held, failed };
/// status.history[].kind
enum class HistoryKind { promote, rollback, canary };
/// spec.notifications[].type: the notify module's receiver formats (notify/kind.hpp), one enum per
/// concept; only their wire spellings live here.
using NotificationType = notify::Kind;
/// spec.notifications[].events: the Event reasons a target can subscribe to (their spellings are
/// api/conditions.hpp's reason constants).
enum class NotificationEvent {
    promoted,
    waiting_for_approval,
    held,
    build_failed,
    canary_aborted,
    rolled_back
};
/// status.builds[].phase: Pending (decided, its Job not yet running), Running (the Job runs, or it
/// finished and its digest is being verified in the registry), Succeeded (the registry holds the
/// tag at the reported digest, or an existing tag was adopted), Failed, Cancelled (a newer commit
/// superseded it).
enum class BuildPhase { pending, running, succeeded, failed, cancelled };

/// EnumNames<E>::values: the wire spellings. When they do not spell the enumerators 0..N-1 in
/// order, EnumNames<E>::enumerators lists the enumerator each spells.
template <class E>
struct EnumNames;
template <>
struct EnumNames<BuildEngine> {
    static constexpr std::array<std::string_view, 3> values{"buildkit", "kaniko", "buildah"};
};
template <>
struct EnumNames<UpdateKind> {
    static constexpr std::array<std::string_view, 3> values{"kustomize", "helm", "manifest"};
    static constexpr std::array<UpdateKind, 3> enumerators{UpdateKind::kustomize, UpdateKind::helm,
                                                           UpdateKind::manifest};
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
struct EnumNames<CanaryJudge> {
    static constexpr std::array<std::string_view, 2> values{"threshold", "compare"};
};
template <>
struct EnumNames<OnUnavailable> {
    static constexpr std::array<std::string_view, 2> values{"hold", "abort"};
};
template <>
struct EnumNames<MetricDirection> {
    static constexpr std::array<std::string_view, 3> values{"HigherIsWorse", "LowerIsWorse",
                                                            "Either"};
};
template <>
struct EnumNames<CanaryPhase> {
    static constexpr std::array<std::string_view, 4> values{"Progressing", "Paused", "Succeeded",
                                                            "Aborted"};
};
template <>
struct EnumNames<AnalysisVerdict> {
    static constexpr std::array<std::string_view, 3> values{"Pass", "Fail", "Inconclusive"};
};
template <>
struct EnumNames<Phase> {
    static constexpr std::array<std::string_view, 6> values{"Pending", "Promoting", "Syncing",
                                                            "Healthy", "Held",      "Failed"};
};
template <>
struct EnumNames<HistoryKind> {
    static constexpr std::array<std::string_view, 3> values{"Promote", "Rollback", "Canary"};
};
template <>
struct EnumNames<BuildPhase> {
    static constexpr std::array<std::string_view, 5> values{"Pending", "Running", "Succeeded",
                                                            "Failed", "Cancelled"};
};

template <>
struct EnumNames<NotificationType> {
    static constexpr std::array<std::string_view, 3> values{"webhook", "slack", "teams"};
};
template <>
struct EnumNames<NotificationEvent> {
    static constexpr std::array<std::string_view, 6> values{
        kReasonPromoted,    kReasonWaitingForApproval, kReasonHeld,
        kReasonBuildFailed, kReasonCanaryAborted,      kReasonRolledBack};
};

// --- Approvals (PoetryApproval; docs/promotion.md#approvals) ---
/// PoetryApproval spec.decision: approve the digest, or reject it (blocks it in that environment).
enum class ApprovalDecision { approve, reject };
/// status.environments[].approvals[].source: how the approver's identity was established: stamped
/// from the API server's userInfo by the controller's admission webhook, the weak fallback of the
/// object's managedFields manager (no webhook), or the `poetryops.io/approve.<env>` annotation
/// (identity unknown).
enum class IdentitySource { webhook, managed_fields, annotation };
template <>
struct EnumNames<ApprovalDecision> {
    static constexpr std::array<std::string_view, 2> values{"approve", "reject"};
};
template <>
struct EnumNames<IdentitySource> {
    static constexpr std::array<std::string_view, 3> values{"webhook", "managedFields",
                                                            "annotation"};
};
// --- end approvals ---
template <>
struct EnumNames<WindowKind> {
    static constexpr std::array<std::string_view, 2> values{"allow", "deny"};
};

/// The wire spellings of E in declaration order.
template <class E>
constexpr const auto& enum_names() {
    return EnumNames<E>::values;
}

namespace detail {
/// The enumerator the i-th wire spelling of E spells.
template <class E>
constexpr E enumerator_at(std::size_t i) {
    if constexpr (requires { EnumNames<E>::enumerators; }) {
        return EnumNames<E>::enumerators[i];
    } else {
        return static_cast<E>(i);
    }
}
}  // namespace detail

/// The wire spelling of a value ("" for a value the API does not have, e.g. the editor's
/// UpdateKind::marker). Call it qualified, api::to_string: manifest's enums are found by
/// argument-dependent lookup too.
template <class E>
constexpr std::string_view to_string(E value) {
    const auto& names = EnumNames<E>::values;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (detail::enumerator_at<E>(i) == value) return names[i];
    }
    return {};
}

/// Parses a wire spelling (exact, case-sensitive, as the API server's enum check is).
template <class E>
constexpr std::optional<E> parse_enum(std::string_view text) {
    const auto& names = EnumNames<E>::values;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i] == text) return detail::enumerator_at<E>(i);
    }
    return std::nullopt;
}

}  // namespace poetryops::api

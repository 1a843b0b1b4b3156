#pragma once
/// Kubernetes-style status conditions (metav1.Condition) and the helper that keeps
/// `lastTransitionTime` honest.
///
/// poetryops' condition types (docs/api.md "Conditions"):
///   Ready     True when the spec is valid and every environment runs what it should; False
///             with reason InvalidSpec (message: the field path and the problem), or a reason
///             from the promotion engine.
///   Degraded  True when a dependency (registry, git, health source) fails and the controller
///             is retrying.
///   Built     True when the newest source commit's image is in the registry (built and verified,
///             or an existing tag adopted); False while it builds (reason Building) or when its
///             build failed (one of the build reasons below). Set by build::plan.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::api {

inline constexpr std::string_view kConditionReady = "Ready";
inline constexpr std::string_view kConditionDegraded = "Degraded";
inline constexpr std::string_view kReasonInvalidSpec = "InvalidSpec";
inline constexpr std::string_view kReasonValidSpec = "SpecValid";
inline constexpr std::string_view kReasonAsExpected = "AsExpected";

/// The condition the build planner owns, and its reasons (docs/api.md "Conditions"). A failed
/// build's reason is also the Ready reason while that commit is the newest.
inline constexpr std::string_view kConditionBuilt = "Built";
/// Built=True: the image was built, pushed and its digest verified in the registry.
inline constexpr std::string_view kReasonBuilt = "Built";
/// Built=True: the tag already existed in the registry; adopted without building.
inline constexpr std::string_view kReasonImageAdopted = "ImageAdopted";
/// Built=False: a build of the newest commit is pending or running.
inline constexpr std::string_view kReasonBuilding = "Building";
/// The builder failed (its container's exit, the Job's BackoffLimitExceeded, OOMKilled, ...).
inline constexpr std::string_view kReasonBuildFailed = "BuildFailed";
/// The build ran longer than spec.build.timeout.
inline constexpr std::string_view kReasonBuildTimedOut = "BuildTimedOut";
/// poetry.lock is missing, unreadable or does not match pyproject.toml.
inline constexpr std::string_view kReasonStaleLock = "StaleLock";
/// No pyproject.toml at spec.source.path in the commit.
inline constexpr std::string_view kReasonProjectNotFound = "ProjectNotFound";
/// pyproject.toml is unreadable or not a Poetry project (no version, bad version, ...).
inline constexpr std::string_view kReasonInvalidProject = "InvalidProject";
/// spec.image.tagTemplate could not be rendered for the commit.
inline constexpr std::string_view kReasonInvalidTag = "InvalidTag";
/// The builder succeeded without reporting a sha256 digest.
inline constexpr std::string_view kReasonNoDigest = "NoDigest";
/// The registry does not hold the tag at the digest the builder reported.
inline constexpr std::string_view kReasonDigestMismatch = "DigestMismatch";
/// The build's Job disappeared before it finished (deleted by hand).
inline constexpr std::string_view kReasonJobDeleted = "JobDeleted";
/// A newer commit superseded this build (phase Cancelled).
inline constexpr std::string_view kReasonSuperseded = "Superseded";

/// The promotion engine's Event reasons that spec.notifications[].events can name (the planner
/// emits them; BuildFailed is the build reason above). The one home of their spelling.
inline constexpr std::string_view kReasonPromoted = "Promoted";
inline constexpr std::string_view kReasonRolledBack = "RolledBack";
inline constexpr std::string_view kReasonWaitingForApproval = "WaitingForApproval";
inline constexpr std::string_view kReasonHeld = "Held";
inline constexpr std::string_view kReasonCanaryAborted = "CanaryAborted";

/// Notifications (docs/notifications.md): `Notified` is False with reason NotificationFailed while
/// a target's last delivery gave up (its retries exhausted), True with reason Delivered once that
/// target delivers again; absent while nothing failed. The Warning Event of a failed delivery has
/// the same reason.
inline constexpr std::string_view kConditionNotified = "Notified";
inline constexpr std::string_view kReasonNotificationFailed = "NotificationFailed";
inline constexpr std::string_view kReasonDelivered = "Delivered";

inline constexpr std::string_view kConditionTrue = "True";
inline constexpr std::string_view kConditionFalse = "False";
inline constexpr std::string_view kConditionUnknown = "Unknown";

struct Condition {
    std::string type;    ///< CamelCase, e.g. "Ready"
    std::string status;  ///< "True", "False" or "Unknown"
    std::int64_t observed_generation = 0;
    std::chrono::system_clock::time_point last_transition_time{};
    std::string reason;   ///< CamelCase, e.g. "InvalidSpec"
    std::string message;  ///< one human line (at most 32768 bytes, as metav1.Condition allows)

    bool operator==(const Condition&) const = default;
};

/// A condition of `type` with status True when `is_true`, else False.
Condition make_condition(std::string_view type, bool is_true, std::string reason,
                         std::string message, std::int64_t observed_generation);

/// Sets (adds or updates) the condition of `desired.type`. `lastTransitionTime` becomes `now` only
/// when the condition is new or its status flips; otherwise the old transition time is kept while
/// reason, message and observedGeneration are updated. The message is cut to 32768 bytes. Returns
/// true when anything changed.
bool set_condition(std::vector<Condition>& conditions, Condition desired,
                   std::chrono::system_clock::time_point now);

/// The condition of that type, or nullptr.
const Condition* find_condition(const std::vector<Condition>& conditions, std::string_view type);

/// True when the condition exists with status "True".
bool is_condition_true(const std::vector<Condition>& conditions, std::string_view type);

/// Removes the condition of that type; returns true when one was removed.
bool remove_condition(std::vector<Condition>& conditions, std::string_view type);

/// A condition or Event reason in the API's CamelCase form from an error's machine reason, which
/// may come from another vocabulary: OCI error codes ("MANIFEST_UNKNOWN" → "ManifestUnknown"),
/// Kubernetes Status reasons ("NotFound", kept), or nothing (→ `fallback`). Characters a reason may
/// not hold are dropped.
std::string condition_reason(std::string_view reason, std::string_view fallback);

}  // namespace poetryops::api

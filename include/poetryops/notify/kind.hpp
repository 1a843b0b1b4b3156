#pragma once
/// The receiver formats of outgoing notifications, on their own so the API
/// (spec.notifications[].type) names the same enum without the notifier's HTTP client (as
/// api/enums.hpp does with manifest's kinds). Wire spellings: notify::to_string() here,
/// api::EnumNames<api::NotificationType> there (tested equal).

namespace poetryops::notify {

/// The receiver's format.
enum class Kind { webhook, slack, teams };

}  // namespace poetryops::notify

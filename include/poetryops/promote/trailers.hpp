#pragma once
/// The one place that spells poetryops' git commit trailers: every decision is a commit, and its
/// trailer is what finds it again (after a crash, a lost status write, or in an audit with `git log
/// --grep`). Promotions and canary steps; builds will add theirs here.
///
///   Poetryops-Promotion: team-a/billing/prod/sha256:…
///   Poetryops-Canary: team-a/billing/prod/sha256:… step=2/3 weight=25 verdict=pass
///   Poetryops-Approved-By: alice (webhook)        (one per approver of a gated promotion)

#include <poetryops/api/poetryapp.hpp>
#include <poetryops/canary/plan.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace poetryops::promote {

inline constexpr std::string_view kPromotionTrailer = "Poetryops-Promotion";
inline constexpr std::string_view kCanaryTrailer = "Poetryops-Canary";
inline constexpr std::string_view kApprovedByTrailer = "Poetryops-Approved-By";

/// `<namespace>/<app>/<env>/<digest>`; an app without a namespace (local mode) is in "default".
std::string promotion_trailer_value(const api::PoetryApp& app, std::string_view environment,
                                    std::string_view digest);

/// {kPromotionTrailer, promotion_trailer_value(...)}: what a promotion commit carries.
std::pair<std::string, std::string> promotion_trailer(const api::PoetryApp& app,
                                                      std::string_view environment,
                                                      std::string_view digest);

/// {kCanaryTrailer, canary::trailer(...)} with the app named as in promotion_trailer_value: what a
/// canary commit carries.
std::pair<std::string, std::string> canary_trailer(const api::PoetryApp& app,
                                                   std::string_view environment,
                                                   const canary::Action& action);

/// {kApprovedByTrailer, who} for each approver of the action (PromoteAction::approved_by, already
/// `user (source)` with control characters replaced): `git log --grep Poetryops-Approved-By` is
/// the audit log of who approved what.
std::vector<std::pair<std::string, std::string>> approved_by_trailers(
    const std::vector<std::string>& approved_by);

}  // namespace poetryops::promote

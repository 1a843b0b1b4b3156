#pragma once
/// The one place that spells poetryops' git commit trailers: every decision is a commit, and its
/// trailer is what finds it again (after a crash, a lost status write, or in an audit with `git log
/// --grep`). Promotion now; canary steps and builds will add theirs here.
///
///   Poetryops-Promotion: team-a/billing/prod/sha256:…

#include <poetryops/api/poetryapp.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace poetryops::promote {

inline constexpr std::string_view kPromotionTrailer = "Poetryops-Promotion";

/// `<namespace>/<app>/<env>/<digest>`; an app without a namespace (local mode) is in "default".
std::string promotion_trailer_value(const api::PoetryApp& app, std::string_view environment,
                                    std::string_view digest);

/// {kPromotionTrailer, promotion_trailer_value(...)}: what a promotion commit carries.
std::pair<std::string, std::string> promotion_trailer(const api::PoetryApp& app,
                                                      std::string_view environment,
                                                      std::string_view digest);

}  // namespace poetryops::promote

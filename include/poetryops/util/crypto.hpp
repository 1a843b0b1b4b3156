#pragma once
/// Message authentication helpers shared by the webhook receivers (registry, git): HMAC-SHA256 and
/// a comparison whose time does not depend on where two secrets differ.

#include <string>
#include <string_view>

namespace poetryops::crypto {

/// HMAC-SHA256 of `data` under `key`, lower-case hex.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

/// Compares in time independent of where the inputs differ (the lengths may leak).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace poetryops::crypto

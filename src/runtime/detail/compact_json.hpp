#pragma once
/// The informer cache's compact form of a JSON object: MessagePack bytes (nlohmann's encoder), read
/// back by a small decoder that builds the DOM directly (about twice as fast as
/// nlohmann::json::from_msgpack, whose generic SAX path costs more than building the DOM itself).
/// Anything the fast decoder does not know (binary, ext) falls back to nlohmann's decoder, so every
/// encoding round-trips.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace poetryops::runtime::detail {

/// MessagePack of `object`, in an exact-size string.
std::string encode_compact(const nlohmann::json& object);

/// The DOM back; nullopt (never an exception) when `bytes` is not valid MessagePack of one value.
std::optional<nlohmann::json> decode_compact(std::string_view bytes);

}  // namespace poetryops::runtime::detail

#pragma once
/// Small readers for JSON objects we do not type (Kubernetes objects we only look into).

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <string>

namespace poetryops::json_util {

/// The string at `path` (object keys, outermost first), "" when a key is missing, a step is not an
/// object or the value is not a string: `string_at(pod, {"metadata", "labels", "job-name"})`.
std::string string_at(const nlohmann::json& object, std::initializer_list<const char*> path);

}  // namespace poetryops::json_util

#include <poetryops/util/json.hpp>

namespace poetryops::json_util {

std::string string_at(const nlohmann::json& object, std::initializer_list<const char*> path) {
    const nlohmann::json* cur = &object;
    for (const char* k : path) {
        if (!cur->is_object()) return {};
        auto it = cur->find(k);
        if (it == cur->end()) return {};
        cur = &*it;
    }
    return cur->is_string() ? cur->get<std::string>() : std::string();
}

}  // namespace poetryops::json_util

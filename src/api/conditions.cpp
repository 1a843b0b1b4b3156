#include <poetryops/api/conditions.hpp>

#include <algorithm>
#include <cctype>

namespace poetryops::api {

namespace {
constexpr std::size_t kMaxMessage = 32768;
}

Condition make_condition(std::string_view type, bool is_true, std::string reason,
                         std::string message, std::int64_t observed_generation) {
    Condition c;
    c.type = std::string(type);
    c.status = std::string(is_true ? kConditionTrue : kConditionFalse);
    c.observed_generation = observed_generation;
    c.reason = std::move(reason);
    c.message = std::move(message);
    return c;
}

bool set_condition(std::vector<Condition>& conditions, Condition desired,
                   std::chrono::system_clock::time_point now) {
    if (desired.message.size() > kMaxMessage) desired.message.resize(kMaxMessage);
    // Kubernetes stores times with second precision; keep ours the same so a read-back compares
    // equal.
    now = std::chrono::time_point_cast<std::chrono::seconds>(now);
    auto it = std::find_if(conditions.begin(), conditions.end(),
                           [&](const Condition& c) { return c.type == desired.type; });
    if (it == conditions.end()) {
        desired.last_transition_time = now;
        conditions.push_back(std::move(desired));
        return true;
    }
    if (it->status != desired.status) {
        desired.last_transition_time = now;
    } else {
        desired.last_transition_time = it->last_transition_time;
    }
    if (*it == desired) return false;
    *it = std::move(desired);
    return true;
}

const Condition* find_condition(const std::vector<Condition>& conditions, std::string_view type) {
    for (const auto& c : conditions) {
        if (c.type == type) return &c;
    }
    return nullptr;
}

bool is_condition_true(const std::vector<Condition>& conditions, std::string_view type) {
    const Condition* c = find_condition(conditions, type);
    return c && c->status == kConditionTrue;
}

bool remove_condition(std::vector<Condition>& conditions, std::string_view type) {
    auto n = std::erase_if(conditions, [&](const Condition& c) { return c.type == type; });
    return n > 0;
}

std::string condition_reason(std::string_view reason, std::string_view fallback) {
    std::string out;
    bool upper_snake =
        reason.find('_') != std::string_view::npos ||
        std::none_of(reason.begin(), reason.end(), [](char c) { return c >= 'a' && c <= 'z'; });
    bool word_start = true;
    for (char c : reason) {
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum) {
            // '_', '-', ' ', '.' and anything else separate words and are dropped
            word_start = true;
            continue;
        }
        auto u = static_cast<unsigned char>(c);
        out += word_start    ? static_cast<char>(std::toupper(u))
               : upper_snake ? static_cast<char>(std::tolower(u))
                             : c;
        word_start = false;
    }
    if (out.empty() || !(out.front() >= 'A' && out.front() <= 'Z')) return std::string(fallback);
    return out;
}

}  // namespace poetryops::api

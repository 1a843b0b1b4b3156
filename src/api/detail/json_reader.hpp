#pragma once
// Reads typed fields out of nlohmann::json with field paths; type problems become FieldErrors,
// never exceptions.

#include <poetryops/api/duration.hpp>
#include <poetryops/api/enums.hpp>
#include <poetryops/api/validation.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace poetryops::api::detail {

using nlohmann::json;

class JsonReader {
public:
    explicit JsonReader(std::vector<FieldError>& errors) : errors_(errors) {}

    static std::string child(const std::string& path, std::string_view key) {
        return path.empty() ? std::string(key) : path + "." + std::string(key);
    }
    static std::string index(const std::string& path, std::size_t i) {
        return path + "[" + std::to_string(i) + "]";
    }

    void error(std::string path, std::string message) {
        errors_.push_back({std::move(path), std::move(message)});
    }

    /// The member, or nullptr when absent or null.
    static const json* member(const json& obj, std::string_view key) {
        if (!obj.is_object()) return nullptr;
        auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) return nullptr;
        return &*it;
    }

    /// The member when it is an object; an error when it is something else.
    const json* object(const json& obj, std::string_view key, const std::string& path) {
        const json* v = member(obj, key);
        if (!v) return nullptr;
        if (!v->is_object()) {
            error(child(path, key), "must be an object, not " + type_name(*v));
            return nullptr;
        }
        return v;
    }

    const json* array(const json& obj, std::string_view key, const std::string& path) {
        const json* v = member(obj, key);
        if (!v) return nullptr;
        if (!v->is_array()) {
            error(child(path, key), "must be a list, not " + type_name(*v));
            return nullptr;
        }
        return v;
    }

    void string(const json& obj, std::string_view key, const std::string& path, std::string& out) {
        const json* v = member(obj, key);
        if (!v) return;
        if (!v->is_string()) {
            error(child(path, key), "must be a string, not " + type_name(*v));
            return;
        }
        out = v->get<std::string>();
    }

    /// A list of strings; a non-string item is an error naming its index.
    void strings(const json& obj, std::string_view key, const std::string& path,
                 std::vector<std::string>& out) {
        const json* v = array(obj, key, path);
        if (!v) return;
        out.clear();
        for (std::size_t i = 0; i < v->size(); ++i) {
            if ((*v)[i].is_string()) {
                out.push_back((*v)[i].get<std::string>());
            } else {
                error(index(child(path, key), i), "must be a string, not " + type_name((*v)[i]));
            }
        }
    }

    void boolean(const json& obj, std::string_view key, const std::string& path, bool& out) {
        const json* v = member(obj, key);
        if (!v) return;
        if (!v->is_boolean()) {
            error(child(path, key), "must be true or false, not " + type_name(*v));
            return;
        }
        out = v->get<bool>();
    }

    template <class Int>
    void integer(const json& obj, std::string_view key, const std::string& path, Int& out) {
        const json* v = member(obj, key);
        if (!v) return;
        if (v->is_number_integer()) {
            auto n = v->get<long long>();
            if (n < static_cast<long long>(std::numeric_limits<Int>::min()) ||
                n > static_cast<long long>(std::numeric_limits<Int>::max())) {
                error(child(path, key), "is out of range");
                return;
            }
            out = static_cast<Int>(n);
            return;
        }
        if (v->is_number_float()) {
            double d = v->get<double>();
            if (d == static_cast<double>(static_cast<long long>(d)) &&
                d >= static_cast<double>(std::numeric_limits<Int>::min()) &&
                d <= static_cast<double>(std::numeric_limits<Int>::max())) {
                out = static_cast<Int>(d);
                return;
            }
        }
        error(child(path, key), "must be an integer, not " + type_name(*v));
    }

    void number(const json& obj, std::string_view key, const std::string& path,
                std::optional<double>& out) {
        const json* v = member(obj, key);
        if (!v) return;
        if (!v->is_number()) {
            error(child(path, key), "must be a number, not " + type_name(*v));
            return;
        }
        out = v->get<double>();
    }

    void number(const json& obj, std::string_view key, const std::string& path, double& out) {
        std::optional<double> v;
        number(obj, key, path, v);
        if (v) out = *v;
    }

    void duration(const json& obj, std::string_view key, const std::string& path, Duration& out) {
        const json* v = member(obj, key);
        if (!v) return;
        if (!v->is_string()) {
            error(child(path, key),
                  "must be a duration string such as \"30s\", \"10m\" or \"1h30m\", not " +
                      type_name(*v));
            return;
        }
        out = Duration(v->get<std::string>());
    }

    template <class E>
    void enumeration(const json& obj, std::string_view key, const std::string& path, E& out) {
        const json* v = member(obj, key);
        if (!v) return;
        if (v->is_string()) {
            if (auto e = parse_enum<E>(v->get<std::string>())) {
                out = *e;
                return;
            }
        }
        error(child(path, key),
              "unsupported value " + v->dump() + ": must be one of " + allowed_values<E>());
    }

    /// A list of enum values; an item that is not one is an error naming its index and the
    /// allowed values. A present list replaces `out`'s default.
    template <class E>
    void enumerations(const json& obj, std::string_view key, const std::string& path,
                      std::vector<E>& out) {
        const json* v = array(obj, key, path);
        if (!v) return;
        out.clear();
        const std::string lp = child(path, key);
        for (std::size_t i = 0; i < v->size(); ++i) {
            const json& item = (*v)[i];
            if (item.is_string()) {
                if (auto e = parse_enum<E>(item.get<std::string>())) {
                    out.push_back(*e);
                    continue;
                }
            }
            error(index(lp, i),
                  "unsupported value " + item.dump() + ": must be one of " + allowed_values<E>());
        }
    }

    /// "\"a\", \"b\"": the wire spellings of E, for messages.
    template <class E>
    static std::string allowed_values() {
        std::string allowed;
        for (auto n : enum_names<E>()) {
            if (!allowed.empty()) allowed += ", ";
            allowed += "\"" + std::string(n) + "\"";
        }
        return allowed;
    }

    /// An optional enum: unset when the member is absent or null.
    template <class E>
    void enumeration(const json& obj, std::string_view key, const std::string& path,
                     std::optional<E>& out) {
        if (!member(obj, key)) return;
        E value{};
        std::size_t before = errors_.size();
        enumeration(obj, key, path, value);
        if (errors_.size() == before) out = value;
    }

    void time(const json& obj, std::string_view key, const std::string& path,
              std::optional<std::chrono::system_clock::time_point>& out);

    void string_map(const json& obj, std::string_view key, const std::string& path,
                    std::map<std::string, std::string>& out) {
        const json* v = object(obj, key, path);
        if (!v) return;
        for (auto it = v->begin(); it != v->end(); ++it) {
            if (it->is_string()) {
                out[it.key()] = it->get<std::string>();
            } else if (!it->is_null()) {
                error(child(child(path, key), it.key()), "must be a string, not " + type_name(*it));
            }
        }
    }

    static std::string type_name(const json& v) {
        switch (v.type()) {
            case json::value_t::object: return "an object";
            case json::value_t::array: return "a list";
            case json::value_t::string: return "a string";
            case json::value_t::boolean: return "a boolean";
            case json::value_t::number_integer:
            case json::value_t::number_unsigned: return "an integer";
            case json::value_t::number_float: return "a number";
            default: return "null";
        }
    }

private:
    std::vector<FieldError>& errors_;
};

}  // namespace poetryops::api::detail

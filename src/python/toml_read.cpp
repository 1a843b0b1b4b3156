#include "python/detail/toml_read.hpp"

#include <algorithm>

namespace poetryops::python::detail {

Result<toml::table> parse_toml(std::string_view text, const std::string& file) {
    try {
        return toml::parse(text, std::string_view(file));
    } catch (const toml::parse_error& e) {
        const auto& where = e.source().begin;
        std::string what(e.description());
        std::replace(what.begin(), what.end(), '\n', ' ');  // one line, whatever toml++ says
        return fail(Error::Kind::decode,
                    file + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) +
                        ": " + what,
                    "MalformedToml");
    }
}

std::string where(const std::string& file, const toml::node* node) {
    if (node && node->source().begin.line > 0)
        return file + ":" + std::to_string(node->source().begin.line);
    return file;
}

std::string FieldReader::field(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const toml::node* FieldReader::node(std::string_view key) const {
    return table_ ? table_->get(key) : nullptr;
}

void FieldReader::invalid(const toml::node* at, const std::string& what) {
    if (error_) return;
    error_ = Error::make(Error::Kind::invalid, where(file_, at ? at : table_) + ": " + what,
                         "InvalidProject");
}

void FieldReader::wrong_type(std::string_view key, const char* expected) {
    invalid(node(key), field(key) + " must be " + expected);
}

std::optional<std::string> FieldReader::string(std::string_view key) {
    const toml::node* n = node(key);
    if (!n) return std::nullopt;
    if (auto s = n->as_string()) return s->get();
    wrong_type(key, "a string");
    return std::nullopt;
}

std::optional<bool> FieldReader::boolean(std::string_view key) {
    const toml::node* n = node(key);
    if (!n) return std::nullopt;
    if (auto b = n->as_boolean()) return b->get();
    wrong_type(key, "true or false");
    return std::nullopt;
}

const toml::table* FieldReader::table(std::string_view key) {
    const toml::node* n = node(key);
    if (!n) return nullptr;
    if (auto t = n->as_table()) return t;
    wrong_type(key, "a table");
    return nullptr;
}

const toml::array* FieldReader::array(std::string_view key) {
    const toml::node* n = node(key);
    if (!n) return nullptr;
    if (auto a = n->as_array()) return a;
    wrong_type(key, "an array");
    return nullptr;
}

std::optional<std::vector<std::string>> FieldReader::strings(std::string_view key) {
    const toml::array* a = array(key);
    if (!a) return std::nullopt;
    std::vector<std::string> out;
    for (const toml::node& el : *a) {
        auto s = el.as_string();
        if (!s) {
            invalid(&el, field(key) + " must be an array of strings");
            return std::nullopt;
        }
        out.push_back(s->get());
    }
    return out;
}

}  // namespace poetryops::python::detail

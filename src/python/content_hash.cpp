// poetry.lock's content-hash as Poetry computes it from pyproject.toml, and the freshness check
// Poetry runs before it installs from a lock.
#include <poetryops/python/project.hpp>

#include "python/detail/python_json.hpp"

#include <poetryops/util/strings.hpp>

#include <map>

namespace poetryops::python {

namespace {

/// Poetry's Locker: _legacy_keys, _relevant_keys (legacy + "group"), _relevant_project_keys.
constexpr const char* kLegacyKeys[] = {"dependencies", "source", "extras", "dev-dependencies"};
constexpr const char* kRelevantKeys[] = {"dependencies", "source", "extras", "dev-dependencies",
                                         "group"};
constexpr const char* kRelevantProjectKeys[] = {"requires-python", "dependencies",
                                                "optional-dependencies"};

bool is_legacy(std::string_view key) {
    for (const char* k : kLegacyKeys)
        if (key == k) return true;
    return false;
}

/// A JSON object of already-dumped values, keys sorted (json.dumps(sort_keys=True)).
std::string object(const std::map<std::string, std::string>& members) {
    std::string out = "{";
    for (const auto& [k, v] : members) {
        if (out.size() > 1) out += ", ";
        out += detail::python_json_string(k) + ": " + v;
    }
    return out + "}";
}

const toml::table* subtable(const toml::table* t, std::string_view key) {
    if (!t) return nullptr;
    const toml::node* n = t->get(key);
    return n ? n->as_table() : nullptr;
}

/// The relevant content under one rule, dumped. `project` and `groups` are null for poetry1 (and
/// `groups` for poetry2).
Result<std::string> relevant(const toml::table* poetry, const toml::table* project,
                             const toml::table* groups) {
    std::map<std::string, std::string> project_part;
    for (const char* key : kRelevantProjectKeys) {
        if (const toml::node* n = project ? project->get(key) : nullptr) {
            POETRYOPS_TRY(project_part[key],
                          detail::python_json_dumps(*n, std::string("project.") + key));
        }
    }
    // `if group_content:` in Poetry: an empty table counts as absent.
    const bool has_groups = groups && !groups->empty();
    std::map<std::string, std::string> poetry_part;
    for (const char* key : kRelevantKeys) {
        const toml::node* n = poetry ? poetry->get(key) : nullptr;
        if (!n) {
            if (!is_legacy(key) || !project_part.empty() || has_groups) continue;
            poetry_part[key] = "null";
            continue;
        }
        POETRYOPS_TRY(poetry_part[key],
                      detail::python_json_dumps(*n, std::string("tool.poetry.") + key));
    }
    std::map<std::string, std::string> top;
    if (!project_part.empty()) top["project"] = object(project_part);
    if (has_groups) {
        POETRYOPS_TRY(top["dependency-groups"],
                      detail::python_json_dumps(*groups, "dependency-groups"));
    }
    // Without [project] or [dependency-groups] content, Poetry keeps the [tool.poetry] keys at the
    // top level (what Poetry 1 hashed).
    if (top.empty()) return object(poetry_part);
    top["tool"] = object({{"poetry", object(poetry_part)}});
    return object(top);
}

std::optional<Version> known_version(std::string_view text) {
    if (text.empty()) return std::nullopt;
    auto v = parse_version(text);
    if (!v) return std::nullopt;
    return std::move(v).value();
}

}  // namespace

const std::string& ContentHashes::of(HashRule rule) const {
    switch (rule) {
        case HashRule::poetry1: return poetry1;
        case HashRule::poetry2: return poetry2;
        case HashRule::poetry2_3: break;
    }
    return poetry2_3;
}

namespace detail {

ContentHashes content_hashes(const toml::table& doc) {
    ContentHashes h;
    const toml::table* poetry = subtable(subtable(&doc, "tool"), "poetry");
    const toml::table* project = subtable(&doc, "project");
    const toml::table* groups = subtable(&doc, "dependency-groups");
    auto v1 = relevant(poetry, nullptr, nullptr);
    auto v2 = relevant(poetry, project, nullptr);
    auto v23 = relevant(poetry, project, groups);
    for (auto* r : {&v1, &v2, &v23}) {
        if (!*r) {
            h.unavailable = r->error().message;
            return h;
        }
    }
    h.poetry1 = str::sha256_hex(*v1);
    h.poetry2 = str::sha256_hex(*v2);
    h.poetry2_3 = str::sha256_hex(*v23);
    return h;
}

}  // namespace detail

std::vector<HashRule> hash_rules_for(std::string_view poetry_version,
                                     std::string_view lock_generated_by) {
    static const Version v2 = parse_version("2").value();
    static const Version v2_3 = parse_version("2.3").value();
    auto generator = known_version(lock_generated_by);
    auto poetry = known_version(poetry_version);
    // Not known which Poetry installs: a lock some Poetry accepts is not refused here (that Poetry
    // still checks it itself).
    if (!poetry) return {HashRule::poetry2_3, HashRule::poetry2, HashRule::poetry1};
    if (*poetry < v2) return {HashRule::poetry1};
    if (*poetry < v2_3) return {HashRule::poetry2};
    // Poetry >= 2.3 (Locker.is_fresh): a lock written before 2.3 is also compared without
    // [dependency-groups].
    if (generator && *generator < v2_3) return {HashRule::poetry2_3, HashRule::poetry2};
    return {HashRule::poetry2_3};
}

Result<void> check_lock_fresh(const Project& project, std::string_view poetry_version) {
    const std::string lock_file = (project.dir / "poetry.lock").string();
    const std::string pyproject_file = (project.dir / "pyproject.toml").string();
    if (!project.has_lock) {
        return fail(Error::Kind::not_found,
                    lock_file + ": not found; run `poetry lock` and commit it", "NoLock");
    }
    if (!project.content_hashes.unavailable.empty()) {
        return fail(Error::Kind::invalid,
                    pyproject_file + ": cannot compute poetry.lock's content-hash: " +
                        project.content_hashes.unavailable,
                    "UnhashableValue");
    }
    auto rules = hash_rules_for(poetry_version, project.lock.generated_by);
    for (HashRule r : rules) {
        if (project.content_hashes.of(r) == project.lock.content_hash) return ok();
    }
    auto shorten = [](const std::string& h) {
        return h.size() > 12 ? h.substr(0, 12) + "\u2026" : h;
    };
    return fail(Error::Kind::invalid,
                lock_file + " is stale: its content-hash " + shorten(project.lock.content_hash) +
                    " does not match pyproject.toml (" +
                    shorten(project.content_hashes.of(rules.front())) + "); run `poetry lock`",
                "StaleLock");
}

}  // namespace poetryops::python

// pyproject.toml: Poetry 1 ([tool.poetry]) and Poetry 2 / PEP 621 ([project] with [tool.poetry]
// extras).
#include <poetryops/python/project.hpp>

#include "python/detail/python_json.hpp"
#include "python/detail/toml_read.hpp"

#include <algorithm>
#include <cctype>

namespace poetryops::python {
namespace {

using detail::FieldReader;

void add_unique(std::vector<std::string>& v, const std::string& s) {
    if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

/// Records a dependency (and a path dependency when the spec has `path`). Poetry's forms: "^1.2",
/// {version = ...}, {path = "../lib", develop = true}, {git = ...}, or an array of such tables with
/// markers.
void add_poetry_dependency(FieldReader& r, const std::string& name, const toml::node& spec,
                           const std::string& group, Project& p) {
    add_unique(p.groups[group], name);
    auto record_path = [&](const toml::table& t) {
        const toml::node* path_node = t.get("path");
        if (!path_node) return;
        auto path = path_node->as_string();
        if (!path) {
            r.invalid(path_node, r.field(name) + ".path must be a string");
            return;
        }
        PathDependency d;
        d.name = name;
        d.path = path->get();
        d.group = group;
        if (const toml::node* dev = t.get("develop")) {
            if (auto b = dev->as_boolean()) {
                d.develop = b->get();
            } else {
                r.invalid(dev, r.field(name) + ".develop must be true or false");
                return;
            }
        }
        p.path_dependencies.push_back(std::move(d));
    };
    if (spec.is_string()) return;
    if (auto t = spec.as_table()) {
        record_path(*t);
        return;
    }
    if (auto a = spec.as_array()) {
        for (const toml::node& el : *a) {
            if (auto t = el.as_table()) {
                record_path(*t);
            } else if (!el.is_string()) {
                r.invalid(&el, r.field(name) + " entries must be tables");
                return;
            }
        }
        return;
    }
    r.invalid(&spec, r.field(name) + " must be a version string, a table or an array of tables");
}

/// Reads a [tool.poetry...dependencies] table into `group`; "python" becomes requires_python (main
/// group only).
void read_poetry_dependencies(const std::string& file, const toml::table* deps,
                              const std::string& path, const std::string& group, Project& p,
                              std::optional<Error>& err) {
    if (!deps) return;
    FieldReader r(file, deps, path);
    p.groups.try_emplace(group);
    for (auto&& [key, value] : *deps) {
        std::string name(key.str());
        if (name == "python") {
            if (group == "main" && p.requires_python.empty()) {
                if (auto s = value.as_string()) {
                    p.requires_python = s->get();
                } else if (auto t = value.as_table();
                           t && t->get("version") && t->get("version")->is_string()) {
                    p.requires_python = t->get("version")->as_string()->get();
                }
            }
            continue;
        }
        add_poetry_dependency(r, name, value, group, p);
    }
    if (r.failed() && !err) err = r.error();
}

/// The distribution name at the start of a PEP 508 requirement: "requests[socks] (>=2) ;
/// python_version<'3.12'".
std::string pep508_name(std::string_view req) {
    std::size_t i = 0;
    while (i < req.size() && std::isspace(static_cast<unsigned char>(req[i]))) ++i;
    std::size_t start = i;
    while (i < req.size() && (std::isalnum(static_cast<unsigned char>(req[i])) || req[i] == '-' ||
                              req[i] == '_' || req[i] == '.')) {
        ++i;
    }
    return std::string(req.substr(start, i - start));
}

/// "name @ file:///${PROJECT_ROOT}/../lib" -> "../lib"; "" when the requirement is not a local file
/// URL.
std::string pep508_file_path(std::string_view req) {
    std::size_t at = req.find('@');
    if (at == std::string_view::npos) return {};
    std::string_view url = req.substr(at + 1);
    while (!url.empty() && url.front() == ' ') url.remove_prefix(1);
    if (url.substr(0, 5) != "file:") return {};
    url.remove_prefix(5);
    while (url.substr(0, 2) == "//") url.remove_prefix(2);
    std::size_t end = url.find_first_of(" ;");
    url = url.substr(0, end);
    for (std::string_view root : {"/${PROJECT_ROOT}/", "${PROJECT_ROOT}/"}) {
        if (url.substr(0, root.size()) == root) return std::string(url.substr(root.size()));
    }
    return std::string(url);
}

std::optional<Script> parse_script(FieldReader& r, const std::string& name,
                                   const toml::node& value) {
    std::string ref;
    if (auto s = value.as_string()) {
        ref = s->get();
    } else if (auto t = value.as_table()) {
        // Poetry's table form: {reference = "pkg.mod:fn", type = "console"} (type "file" scripts
        // are not modules), and the older {callable = "pkg.mod:fn"}.
        const toml::node* type = t->get("type");
        if (type && type->is_string() && type->as_string()->get() != "console") return std::nullopt;
        const toml::node* refn = t->get("reference") ? t->get("reference") : t->get("callable");
        if (!refn || !refn->is_string()) {
            r.invalid(&value,
                      r.field(name) +
                          " must be \"module:function\" or {reference = \"module:function\"}");
            return std::nullopt;
        }
        ref = refn->as_string()->get();
    } else {
        r.invalid(&value, r.field(name) + " must be \"module:function\"");
        return std::nullopt;
    }
    // Entry points may carry extras: "pkg.mod:fn [extra1]".
    if (auto br = ref.find('['); br != std::string::npos) ref.erase(br);
    while (!ref.empty() && ref.back() == ' ') ref.pop_back();
    std::size_t colon = ref.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == ref.size()) {
        r.invalid(&value, r.field(name) + " = \"" + ref + "\" must look like \"module:function\"");
        return std::nullopt;
    }
    return Script{name, ref.substr(0, colon), ref.substr(colon + 1)};
}

void read_scripts(const std::string& file, const toml::table* scripts, const std::string& path,
                  Project& p, std::optional<Error>& err) {
    if (!scripts) return;
    FieldReader r(file, scripts, path);
    for (auto&& [key, value] : *scripts) {
        std::string name(key.str());
        bool seen = std::any_of(p.scripts.begin(), p.scripts.end(),
                                [&](const Script& s) { return s.name == name; });
        if (seen) continue;
        if (auto s = parse_script(r, name, value)) p.scripts.push_back(std::move(*s));
    }
    if (r.failed() && !err) err = r.error();
}

void read_packages(FieldReader& poetry, Project& p) {
    const toml::array* packages = poetry.array("packages");
    if (!packages) return;
    for (const toml::node& el : *packages) {
        auto t = el.as_table();
        const toml::node* inc = t ? t->get("include") : nullptr;
        if (!inc || !inc->is_string()) {
            poetry.invalid(
                &el, poetry.field("packages") + " entries must be tables with include = \"name\"");
            return;
        }
        PackageInclude pkg;
        pkg.include = inc->as_string()->get();
        if (const toml::node* from = t->get("from")) {
            if (!from->is_string()) {
                poetry.invalid(from, poetry.field("packages") + ".from must be a string");
                return;
            }
            pkg.from = from->as_string()->get();
        }
        p.packages.push_back(std::move(pkg));
    }
}

void read_sources(FieldReader& poetry, Project& p) {
    const toml::array* sources = poetry.array("source");
    if (!sources) return;
    for (const toml::node& el : *sources) {
        auto t = el.as_table();
        if (!t) {
            poetry.invalid(&el, poetry.field("source") + " entries must be tables");
            return;
        }
        Source s;
        auto str = [&](const char* key) -> std::string {
            const toml::node* n = t->get(key);
            if (n && !n->is_string())
                poetry.invalid(n, poetry.field("source") + "." + key + " must be a string");
            return n && n->is_string() ? n->as_string()->get() : std::string();
        };
        s.name = str("name");
        s.url = str("url");
        s.priority = str("priority");
        if (s.priority.empty()) {  // Poetry < 1.5 flags
            if (const toml::node* d = t->get("default"); d && d->value_or(false))
                s.priority = "default";
            if (const toml::node* d = t->get("secondary"); d && d->value_or(false))
                s.priority = "secondary";
        }
        if (s.name.empty()) poetry.invalid(&el, poetry.field("source") + " entry has no name");
        p.sources.push_back(std::move(s));
    }
}

}  // namespace

Result<Project> parse_pyproject(std::string_view text, const std::string& file) {
    POETRYOPS_TRY(toml::table doc, detail::parse_toml(text, file));
    FieldReader top(file, &doc, "");
    const toml::table* tool = top.table("tool");
    const toml::table* project_tbl = top.table("project");
    const toml::table* build_system = top.table("build-system");
    FieldReader tool_r(file, tool, "tool");
    const toml::table* poetry_tbl = tool_r.table("poetry");
    if (top.failed()) return top.error();
    if (tool_r.failed()) return tool_r.error();

    std::string backend;
    if (build_system) {
        FieldReader bs(file, build_system, "build-system");
        backend = bs.string("build-backend").value_or("");
    }
    if (!poetry_tbl && !project_tbl) {
        return fail(Error::Kind::invalid,
                    file + ": not a Poetry project: no [tool.poetry] or [project] table",
                    "NotPoetry");
    }
    if (!poetry_tbl && backend.find("poetry") == std::string::npos) {
        return fail(Error::Kind::invalid,
                    file +
                        ": not a Poetry project: [project] without [tool.poetry], and the build "
                        "backend is " +
                        (backend.empty() ? std::string("not set") : "\"" + backend + "\""),
                    "NotPoetry");
    }

    Project p;
    p.style = project_tbl ? Project::Style::pep621 : Project::Style::poetry1;
    FieldReader poetry(file, poetry_tbl, "tool.poetry");
    FieldReader pep(file, project_tbl, "project");
    std::optional<Error> err;

    p.package_mode = poetry.boolean("package-mode").value_or(true);
    // Readmes: what installing the project reads besides pyproject.toml.
    auto add_readmes = [&p](const toml::node* n) {
        if (!n) return;
        if (auto s = n->as_string()) {
            p.readmes.push_back(s->get());
        } else if (auto a = n->as_array()) {
            for (const toml::node& el : *a)
                if (auto s = el.as_string()) p.readmes.push_back(s->get());
        } else if (auto t = n->as_table()) {
            if (auto f = t->get_as<std::string>("file")) p.readmes.push_back(f->get());
        }
    };
    if (project_tbl) add_readmes(project_tbl->get("readme"));
    if (poetry_tbl && p.readmes.empty()) add_readmes(poetry_tbl->get("readme"));
    p.build_script = poetry_tbl && poetry_tbl->get("build") != nullptr;
    const toml::node* version_node = nullptr;
    if (project_tbl) {
        p.name = pep.string("name").value_or("");
        auto dynamic = pep.strings("dynamic").value_or(std::vector<std::string>{});
        bool dynamic_version =
            std::find(dynamic.begin(), dynamic.end(), "version") != dynamic.end();
        if (auto v = pep.string("version")) {
            p.version_text = *v;
            version_node = pep.node("version");
        } else if (dynamic_version) {
            p.version_text = poetry.string("version").value_or("");
            version_node = poetry.node("version");
        }
        p.requires_python = pep.string("requires-python").value_or("");
        if (auto deps = pep.strings("dependencies")) {
            p.groups.try_emplace("main");
            const toml::array* arr = pep.array("dependencies");
            for (std::size_t i = 0; i < deps->size(); ++i) {
                std::string name = pep508_name((*deps)[i]);
                if (name.empty()) {
                    pep.invalid(arr->get(i), "project.dependencies: \"" + (*deps)[i] +
                                                 "\" is not a PEP 508 requirement");
                    break;
                }
                add_unique(p.groups["main"], name);
                if (std::string path = pep508_file_path((*deps)[i]); !path.empty()) {
                    p.path_dependencies.push_back(PathDependency{name, path, "main", false});
                }
            }
        }
        read_scripts(file, pep.table("scripts"), "project.scripts", p, err);
    }
    if (poetry_tbl) {
        if (!project_tbl) {
            p.name = poetry.string("name").value_or("");
            p.version_text = poetry.string("version").value_or("");
            version_node = poetry.node("version");
        }
        read_poetry_dependencies(file, poetry.table("dependencies"), "tool.poetry.dependencies",
                                 "main", p, err);
        read_poetry_dependencies(file, poetry.table("dev-dependencies"),
                                 "tool.poetry.dev-dependencies", "dev", p, err);
        if (const toml::table* groups = poetry.table("group")) {
            for (auto&& [key, value] : *groups) {
                std::string group(key.str());
                std::string path = "tool.poetry.group." + group;
                auto gt = value.as_table();
                if (!gt) {
                    poetry.invalid(&value, path + " must be a table");
                    break;
                }
                FieldReader gr(file, gt, path);
                read_poetry_dependencies(file, gr.table("dependencies"), path + ".dependencies",
                                         group, p, err);
                p.groups.try_emplace(group);
                if (gr.failed() && !err) err = gr.error();
            }
        }
        read_scripts(file, poetry.table("scripts"), "tool.poetry.scripts", p, err);
        read_packages(poetry, p);
        read_sources(poetry, p);
    }
    // PEP 735 dependency groups (Poetry >= 2.2): [dependency-groups] dev = ["pytest>=8"].
    if (const toml::table* dg = top.table("dependency-groups")) {
        for (auto&& [key, value] : *dg) {
            std::string group(key.str());
            p.groups.try_emplace(group);
            if (auto arr = value.as_array()) {
                for (const toml::node& el : *arr) {
                    if (auto s = el.as_string()) {
                        if (std::string name = pep508_name(s->get()); !name.empty())
                            add_unique(p.groups[group], name);
                    }
                }
            }
        }
    }
    for (FieldReader* r : {&top, &poetry, &pep}) {
        if (r->failed() && !err) err = r->error();
    }
    if (err) return *err;

    p.normalized_name = normalize_name(p.name);
    if (p.name.empty() && p.package_mode) {
        return fail(Error::Kind::invalid,
                    detail::where(file, project_tbl ? project_tbl : poetry_tbl) +
                        ": no project name (set " +
                        (project_tbl ? "project.name" : "tool.poetry.name") + ")",
                    "NoName");
    }
    if (p.version_text.empty()) {
        if (p.package_mode) {
            return fail(
                Error::Kind::invalid,
                detail::where(file, project_tbl ? project_tbl : poetry_tbl) + ": no version (set " +
                    (project_tbl ? "project.version, or add \"version\" to project.dynamic and set "
                                   "tool.poetry.version"
                                 : "tool.poetry.version") +
                    ")",
                "NoVersion");
        }
    } else {
        auto v = parse_version(p.version_text);
        if (!v) {
            return fail(Error::Kind::invalid,
                        detail::where(file, version_node) + ": " + v.error().message,
                        "InvalidVersion");
        }
        p.version = std::move(v).value();
    }
    p.content_hashes = detail::content_hashes(doc);
    return p;
}

}  // namespace poetryops::python

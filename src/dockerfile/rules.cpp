// The lint rules of docs/dockerfile.md, one function each.
#include "dockerfile/detail/analysis.hpp"

#include <poetryops/util/strings.hpp>

#include <regex>
#include <set>

namespace poetryops::dockerfile::detail {

namespace {

using Sink = RuleSink;

bool is_install(const ShellCommand& c) {
    if (c.name == "poetry") {
        std::string sub = subcommand(c);
        return sub == "install" || sub == "sync" || sub == "add";
    }
    if (c.name == "uv") {
        std::string sub = subcommand(c);
        return sub == "sync" ||
               (sub == "pip" && (subcommand(c, 1) == "install" || subcommand(c, 1) == "sync"));
    }
    if (c.name.rfind("pip", 0) == 0) return subcommand(c) == "install";
    return false;
}

bool is_poetry_install(const ShellCommand& c) {
    if (c.name != "poetry") return false;
    std::string sub = subcommand(c);
    return sub == "install" || sub == "sync";
}

bool is_uv_sync(const ShellCommand& c) { return c.name == "uv" && subcommand(c) == "sync"; }

/// A RUN command that installs Poetry itself (pip/pipx, or the official installer script).
bool installs_poetry(const ShellCommand& c, const std::string& run_text) {
    if ((c.name.rfind("pip", 0) == 0) && subcommand(c) == "install") {
        for (const auto& a : c.args) {
            if (requirement_name(a) == "poetry") return true;
        }
    }
    return (c.name == "curl" || c.name == "wget") &&
           run_text.find("install.python-poetry.org") != std::string::npos;
}

bool poetry_pinned(const ShellCommand& c, const std::string& run_text,
                   const std::map<std::string, std::string>& env) {
    if (c.name == "curl" || c.name == "wget") {
        return env.count("POETRY_VERSION") ||
               run_text.find("POETRY_VERSION=") != std::string::npos ||
               run_text.find("--version") != std::string::npos;
    }
    for (const auto& a : c.args) {
        if (requirement_name(a) != "poetry") continue;
        std::size_t eq = a.find("==");
        if (eq == std::string::npos || eq + 2 >= a.size()) return false;
    }
    return true;
}

bool has_cache_mount(const Instruction& ins) {
    for (const auto& m : ins.flags_named("mount")) {
        if (m.find("type=cache") != std::string::npos) return true;
    }
    return false;
}

std::vector<std::string> copy_sources(const Instruction& ins, char escape) {
    std::vector<std::string> words = ins.exec_form ? ins.exec_args : split_words(ins.args, escape);
    if (!words.empty()) words.pop_back();
    return words;
}

bool is_whole_context(const std::string& src) {
    static const std::set<std::string> whole = {".", "./", "*", "./*", "/", "./."};
    return whole.count(src) > 0;
}

int first_cmd_line(const Analysis& a) {
    int line = a.df.stages[static_cast<std::size_t>(a.final_stage)].line;
    for (std::size_t i : a.chain_instructions(a.final_stage)) {
        const auto& ins = a.df.instructions[i];
        if (ins.keyword == "CMD" || ins.keyword == "ENTRYPOINT") line = ins.line;
    }
    return line;
}

// ---- venv-in-project
// ---------------------------------------------------------------------------------------------
void venv_in_project(Sink& s) {
    if (s.ctx.poetry_toml) {
        static const std::regex in_project(R"((^|\n)\s*(virtualenvs\.)?in-project\s*=\s*true)");
        if (std::regex_search(*s.ctx.poetry_toml, in_project)) return;
    }
    for (std::size_t i = 0; i < s.a.commands.size(); ++i) {
        for (const auto& c : s.a.commands[i]) {
            if (c.name == "poetry" && subcommand(c) == "config" &&
                subcommand(c, 1) == "virtualenvs.in-project") {
                return;  // configured in a RUN; good enough when it precedes the install (checked
                         // below by order)
            }
            if (!is_poetry_install(c)) continue;
            auto env = s.a.env_at(s.ins(i).stage, i);
            auto it = c.assignments.find("POETRY_VIRTUALENVS_IN_PROJECT");
            bool ok = (it != c.assignments.end() && truthy(it->second)) ||
                      (env.count("POETRY_VIRTUALENVS_IN_PROJECT") &&
                       truthy(env["POETRY_VIRTUALENVS_IN_PROJECT"]));
            if (!ok) {
                s.add(s.ins(i).line, "venv-in-project",
                      "`poetry " + subcommand(c) +
                          "` without POETRY_VIRTUALENVS_IN_PROJECT=true: the venv lands in "
                          "Poetry's cache dir, not "
                          "at a predictable path (/app/.venv) that a runtime stage can copy");
            }
            return;
        }
    }
}

// ---- dockerignore
// ------------------------------------------------------------------------------------------------
void dockerignore(Sink& s) {
    int line = 0;
    for (const auto& ins : s.a.df.instructions) {
        if ((ins.keyword == "COPY" || ins.keyword == "ADD") && !ins.flag("from") &&
            ins.heredocs.empty()) {
            line = ins.line;
            break;
        }
    }
    if (line == 0) return;  // nothing is copied from the build context
    if (!s.ctx.dockerignore_known) {
        s.note("dockerignore",
               "the .dockerignore cannot be located for this input (lint a file path to check it)");
        return;
    }
    if (!s.ctx.dockerignore) {
        s.add(line, "dockerignore",
              "no .dockerignore next to the Dockerfile: COPY sends .venv, .git, caches and local "
              "env files into the "
              "build");
        return;
    }
    struct Pattern {
        std::string glob;
        bool negated;
    };
    std::vector<Pattern> patterns;
    for (const auto& raw : str::split(*s.ctx.dockerignore, '\n')) {
        std::string p(str::trim(raw));
        if (p.empty() || p[0] == '#') continue;
        bool neg = p[0] == '!';
        if (neg) p = std::string(str::trim(p.substr(1)));
        while (p.rfind("./", 0) == 0) p = p.substr(2);
        while (!p.empty() && p[0] == '/') p = p.substr(1);
        while (p.size() > 3 && p.compare(p.size() - 3, 3, "/**") == 0) p.resize(p.size() - 3);
        while (p.size() > 1 && p.back() == '/') p.pop_back();
        patterns.push_back({p, neg});
    }
    auto covered = [&](const std::string& name) {
        bool hit = false;
        for (const auto& p : patterns) {
            bool m = glob_match(p.glob, name) ||
                     (p.glob.rfind("**/", 0) == 0 && glob_match(p.glob.substr(3), name));
            if (m) hit = !p.negated;
        }
        return hit;
    };
    const std::vector<std::pair<std::string, std::vector<std::string>>> required = {
        {".venv", {".venv"}},
        {".git", {".git"}},
        {"__pycache__", {"__pycache__", "x.pyc"}},
        {".env", {".env"}}};
    std::vector<std::string> missing;
    for (const auto& [label, names] : required) {
        bool any = false;
        for (const auto& n : names) any = any || covered(n);
        if (!any) missing.push_back(label);
    }
    if (!missing.empty()) {
        s.add(line, "dockerignore", ".dockerignore does not exclude " + str::join(missing, ", "));
    }
}

// ---- no-dev-deps
// -------------------------------------------------------------------------------------------------
void no_dev_deps(Sink& s) {
    for (std::size_t i = 0; i < s.a.commands.size(); ++i) {
        for (const auto& c : s.a.commands[i]) {
            if (is_poetry_install(c)) {
                bool ok = option_value(c.args, "--only") == "main" ||
                          has_option(c.args, "--without") || has_option(c.args, "--no-dev") ||
                          has_option(c.args, "--only-root");
                if (!ok) {
                    s.add(s.ins(i).line, "no-dev-deps",
                          "`poetry " + subcommand(c) +
                              "` installs every dependency group: use --only main (or --without "
                              "dev,...)");
                }
            } else if (is_uv_sync(c)) {
                bool ok = has_option(c.args, "--no-dev") || has_option(c.args, "--only-group") ||
                          has_option(c.args, "--no-default-groups");
                if (!ok)
                    s.add(s.ins(i).line, "no-dev-deps",
                          "`uv sync` installs the dev group: add --no-dev");
            }
        }
    }
}

// ---- venv-on-path
// ------------------------------------------------------------------------------------------------
void venv_on_path(Sink& s) {
    for (std::size_t i : s.a.chain_instructions(s.a.final_stage)) {
        const auto& ins = s.ins(i);
        if (ins.keyword != "CMD" && ins.keyword != "ENTRYPOINT") continue;
        auto words = ins.exec_form ? ins.exec_args : split_words(ins.args, s.a.df.escape);
        for (std::size_t k = 0; k + 1 < words.size(); ++k) {
            if ((words[k] == "poetry" ||
                 (words[k].size() > 7 &&
                  words[k].compare(words[k].size() - 7, 7, "/poetry") == 0)) &&
                words[k + 1] == "run") {
                s.add(ins.line, "venv-on-path",
                      ins.keyword +
                          " goes through `poetry run`: put the venv on PATH and call python or the "
                          "script "
                          "directly (the runtime needs no Poetry)");
                break;
            }
        }
    }
    if (!s.a.uses_poetry && !s.a.uses_uv) return;
    const auto& final = s.a.df.stages[static_cast<std::size_t>(s.a.final_stage)];
    auto env = s.a.env_at(s.a.final_stage, final.last + 1);
    const std::string& path = env["PATH"];
    bool ok = path.find(".venv/bin") != std::string::npos ||
              (env.count("VIRTUAL_ENV") && !env["VIRTUAL_ENV"].empty() &&
               path.find(env["VIRTUAL_ENV"] + "/bin") != std::string::npos);
    if (!ok) {
        s.add(first_cmd_line(s.a), "venv-on-path",
              "the final stage's PATH does not start with the venv: ENV PATH=/app/.venv/bin:$PATH");
    }
}

// ---- multi-stage
// -------------------------------------------------------------------------------------------------
void multi_stage(Sink& s) {
    if (!s.a.uses_poetry) return;
    for (std::size_t i : s.a.chain_instructions(s.a.final_stage)) {
        for (const auto& c : s.a.commands[i]) {
            std::string text = s.ins(i).command_text();
            if (installs_poetry(c, text) || c.name == "poetry") {
                s.add(s.ins(i).line, "multi-stage",
                      s.a.df.stages.size() == 1
                          ? "single-stage build: Poetry and its dependencies ship in the image; "
                            "build in a separate "
                            "stage and COPY --from it only the venv and the code"
                          : "the final stage runs Poetry: only the venv and the code should reach "
                            "it (COPY --from the "
                            "build stage)");
                return;
            }
        }
    }
}

// ---- pin-poetry
// --------------------------------------------------------------------------------------------------
void pin_poetry(Sink& s) {
    bool reported_interaction = false;
    for (std::size_t i = 0; i < s.a.commands.size(); ++i) {
        std::string text = s.ins(i).command_text();
        for (const auto& c : s.a.commands[i]) {
            auto env = s.a.env_at(s.ins(i).stage, i);
            if (installs_poetry(c, text) && !poetry_pinned(c, text, env)) {
                s.add(
                    s.ins(i).line, "pin-poetry",
                    "Poetry is installed without a pinned version: pip install \"poetry==X.Y.Z\"");
            }
            if (!reported_interaction && c.name == "poetry" &&
                std::set<std::string>{"install", "sync", "lock", "export", "add", "update"}.count(
                    subcommand(c))) {
                bool ok =
                    has_option(c.args, "-n") || has_option(c.args, "--no-interaction") ||
                    (env.count("POETRY_NO_INTERACTION") && truthy(env["POETRY_NO_INTERACTION"])) ||
                    (c.assignments.count("POETRY_NO_INTERACTION") &&
                     truthy(c.assignments.at("POETRY_NO_INTERACTION")));
                if (!ok) {
                    s.add(s.ins(i).line, "pin-poetry",
                          "Poetry runs without POETRY_NO_INTERACTION=1 (or -n): a prompt would "
                          "hang the build");
                    reported_interaction = true;
                }
            }
        }
    }
}

// ---- lock-first
// --------------------------------------------------------------------------------------------------
void lock_first(Sink& s) {
    std::set<int> done;
    for (std::size_t i = 0; i < s.a.commands.size(); ++i) {
        int stage = s.ins(i).stage;
        if (done.count(stage)) continue;
        for (const auto& c : s.a.commands[i]) {
            bool poetry = is_poetry_install(c);
            if (!poetry && !is_uv_sync(c)) continue;
            done.insert(stage);
            const std::string lockfile = poetry ? "poetry.lock" : "uv.lock";
            int whole_line = 0;
            bool lock_copied = false;
            for (std::size_t k : s.a.chain_instructions(stage)) {
                if (k >= i && s.ins(k).stage == stage) break;
                const auto& ci = s.ins(k);
                if ((ci.keyword != "COPY" && ci.keyword != "ADD") || ci.flag("from")) continue;
                for (const auto& src : copy_sources(ci, s.a.df.escape)) {
                    if (is_whole_context(src) && whole_line == 0) whole_line = ci.line;
                    std::string base =
                        src.substr(src.rfind('/') == std::string::npos ? 0 : src.rfind('/') + 1);
                    if (glob_match(base, lockfile) || is_whole_context(src)) lock_copied = true;
                }
            }
            if (whole_line) {
                s.add(s.ins(i).line, "lock-first",
                      "dependencies are installed after the whole source is copied (line " +
                          std::to_string(whole_line) +
                          "): every code change reinstalls them; COPY pyproject.toml " + lockfile +
                          " first, install with " +
                          (poetry ? "--no-root" : "--no-install-project") + ", then copy the code");
            } else if (!lock_copied) {
                s.add(s.ins(i).line, "lock-first",
                      lockfile +
                          " is not copied before the install: dependencies are not installed from "
                          "the lock");
            } else if (poetry
                           ? !(has_option(c.args, "--no-root") || has_option(c.args, "--only-root"))
                           : !has_option(c.args, "--no-install-project")) {
                s.add(s.ins(i).line, "lock-first",
                      std::string("the first install runs before the code is copied but without ") +
                          (poetry ? "--no-root" : "--no-install-project") +
                          ": install the dependencies alone, then the project");
            }
            break;
        }
    }
}

// ---- cache-mounts
// ------------------------------------------------------------------------------------------------
void cache_mounts(Sink& s) {
    bool any_mount = false;
    int first_mount_line = 0;
    for (std::size_t i = 0; i < s.a.commands.size(); ++i) {
        const auto& ins = s.ins(i);
        if (!ins.flags_named("mount").empty() && !first_mount_line) first_mount_line = ins.line;
        any_mount = any_mount || !ins.flags_named("mount").empty();
        for (const auto& c : s.a.commands[i]) {
            if (!is_install(c) || has_cache_mount(ins)) continue;
            std::string target = c.name == "poetry" ? "/root/.cache/pypoetry"
                                 : c.name == "uv"   ? "/root/.cache/uv"
                                                    : "/root/.cache/pip";
            s.add(ins.line, "cache-mounts",
                  c.name + " install without a cache mount: RUN --mount=type=cache,target=" +
                      target + " keeps rebuilds fast and caches out of the layer");
            break;
        }
    }
    if (any_mount && s.a.df.syntax_line == 0) {
        s.add(first_mount_line, "cache-mounts",
              "RUN --mount needs BuildKit's Dockerfile syntax: make `# syntax=docker/dockerfile:1` "
              "the first line");
    }
}

// ---- non-root
// ----------------------------------------------------------------------------------------------------
void non_root(Sink& s) {
    const auto& final = s.a.df.stages[static_cast<std::size_t>(s.a.final_stage)];
    const Instruction* user = nullptr;
    for (std::size_t i : s.a.chain_instructions(s.a.final_stage)) {
        if (s.ins(i).keyword == "USER") user = &s.ins(i);
    }
    if (!user) {
        s.add(final.line, "non-root",
              "the image runs as root: add a numeric non-root USER (e.g. USER 10001:10001)");
        return;
    }
    std::string u = std::string(str::trim(user->args));
    std::string uid = u.substr(0, u.find(':'));
    if (uid == "root" || uid == "0") {
        s.add(user->line, "non-root",
              "USER " + u + " runs the app as root: use a numeric non-root uid");
        return;
    }
    if (uid.find('$') == std::string::npos &&
        uid.find_first_not_of("0123456789") != std::string::npos) {
        s.add(user->line, "non-root",
              "USER " + u +
                  " is a name: use the numeric uid (e.g. 10001) so Kubernetes runAsNonRoot can "
                  "verify it");
    }
    for (std::size_t i = final.first; i <= final.last; ++i) {
        const auto& ins = s.ins(i);
        if ((ins.keyword == "COPY" || ins.keyword == "ADD") && !ins.flag("chown")) {
            s.add(ins.line, "non-root",
                  ins.keyword + " into the final stage without --chown: state the owner");
        }
    }
}

// ---- pin-base
// ----------------------------------------------------------------------------------------------------
std::string python_minor(const std::string& image) {
    static const std::regex re(R"((^|/)python:(3\.\d+))");
    std::smatch m;
    return std::regex_search(image, m, re) ? m[2].str() : "";
}

void pin_base(Sink& s) {
    bool undigested = false;
    for (const auto& st : s.a.df.stages) {
        if (st.parent >= 0) continue;
        const std::string& ref = st.resolved_base;
        if (str::to_lower(ref) == "scratch") continue;
        if (ref.empty() || ref.find('$') != std::string::npos) {
            s.note("pin-base", "FROM " + st.base + " (line " + std::to_string(st.line) +
                                   ") depends on a build arg");
            continue;
        }
        if (ref.find("@sha256:") != std::string::npos) continue;
        undigested = true;
        std::string last = ref.substr(ref.rfind('/') == std::string::npos ? 0 : ref.rfind('/') + 1);
        std::size_t colon = last.find(':');
        if (colon == std::string::npos) {
            s.add(st.line, "pin-base",
                  "FROM " + ref + " has no tag: pin a version (and a digest when known)");
        } else if (last.substr(colon + 1) == "latest") {
            s.add(st.line, "pin-base",
                  "FROM " + ref + " uses :latest: pin a version (and a digest when known)");
        }
    }
    if (undigested) {
        s.note("pin-base",
               "whether a digest is known cannot be judged from the Dockerfile: FROM lines without "
               "@sha256 are accepted when they carry a version tag");
    }
    // The venv holds symlinks to the build stage's interpreter: the final stage must run the same
    // Python.
    const auto& final = s.a.df.stages[static_cast<std::size_t>(s.a.final_stage)];
    std::string final_py = python_minor(final.resolved_base);
    if (final_py.empty()) return;
    for (std::size_t i = final.first; i <= final.last; ++i) {
        auto from = s.ins(i).flag("from");
        if (s.ins(i).keyword != "COPY" || !from) continue;
        int src = s.a.df.find_stage(*from, s.a.final_stage);
        while (src >= 0 && s.a.df.stages[static_cast<std::size_t>(src)].parent >= 0) {
            src = s.a.df.stages[static_cast<std::size_t>(src)].parent;
        }
        if (src < 0) continue;
        std::string build_py =
            python_minor(s.a.df.stages[static_cast<std::size_t>(src)].resolved_base);
        if (!build_py.empty() && build_py != final_py) {
            s.add(final.line, "pin-base",
                  "the final stage runs Python " + final_py +
                      " but copies from a stage built on Python " + build_py +
                      ": a venv only works with the Python it was made with");
            return;
        }
    }
}

}  // namespace

void run_rules(const Analysis& a, const LintContext& ctx, std::vector<Finding>& out,
               std::vector<NotChecked>& notes) {
    Sink s{a, ctx, out, notes};
    venv_in_project(s);
    dockerignore(s);
    no_dev_deps(s);
    venv_on_path(s);
    multi_stage(s);
    pin_poetry(s);
    lock_first(s);
    cache_mounts(s);
    non_root(s);
    pin_base(s);
    run_rules_part2(a, ctx, out, notes);
}

}  // namespace poetryops::dockerfile::detail

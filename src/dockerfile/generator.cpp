// The Dockerfile generator: validates the options and the project, then renders the two stages.
#include <poetryops/dockerfile/generator.hpp>

#include "dockerfile/detail/generate_parts.hpp"

#include <poetryops/util/strings.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>

namespace poetryops::dockerfile {

namespace {

using detail::PathDep;
using detail::Plan;

Unexpected invalid(std::string msg) {
    return fail(Error::Kind::invalid, std::move(msg), "InvalidInput");
}

bool safe_path(const std::string& p) {
    static const std::regex re(R"(^[A-Za-z0-9._/-]+$)");
    return std::regex_match(p, re);
}

/// "major.minor" of a version string, {0,0} when unparseable.
std::pair<int, int> major_minor(const std::string& v) {
    static const std::regex re(R"(^(\d+)\.(\d+))");
    std::smatch m;
    if (!std::regex_search(v, m, re)) return {0, 0};
    return {std::stoi(m[1].str()), std::stoi(m[2].str())};
}

Result<Plan> make_plan(const python::Project& project) {
    Plan plan;
    std::set<std::string> main_paths;
    std::set<std::string> dev_paths;
    std::map<std::string, std::string> original;
    for (const auto& dep : project.path_dependencies) {
        std::filesystem::path p = std::filesystem::path(dep.path).lexically_normal();
        std::string norm = p.generic_string();
        while (norm.size() > 1 && norm.back() == '/') norm.pop_back();
        bool inside = !p.is_absolute() && norm != ".." && norm.rfind("../", 0) != 0;
        if (dep.group == "main") {
            if (!inside || norm == ".") {
                return invalid("pyproject.toml: main-group path dependency '" + dep.name + "' (" +
                               dep.path +
                               ") is outside the project directory, which is the build context: "
                               "move it inside the "
                               "project or publish it to an index");
            }
            if (!safe_path(norm)) {
                return invalid(
                    "pyproject.toml: path dependency '" + dep.name + "' has a path (" + dep.path +
                    ") with characters the generator does not quote; use [A-Za-z0-9._/-]");
            }
            main_paths.insert(norm);
        } else {
            if (!safe_path(norm)) {
                return invalid(
                    "pyproject.toml: path dependency '" + dep.name + "' has a path (" + dep.path +
                    ") with characters the generator does not quote; use [A-Za-z0-9._/-]");
            }
            dev_paths.insert(norm);
        }
    }
    for (const auto& p : main_paths) plan.main_path_deps.push_back({p, true});
    for (const auto& p : dev_paths) {
        if (main_paths.count(p)) continue;
        bool inside = p != ".." && p.rfind("../", 0) != 0 && p[0] != '/';
        plan.dev_path_deps.push_back({p, inside});
    }
    std::set<std::string> code;
    std::set<std::string> package_paths;
    for (const auto& pkg : project.packages) {
        std::string from = pkg.from;
        while (!from.empty() && from.back() == '/') from.pop_back();
        std::string include = pkg.include;
        while (!include.empty() && include.back() == '/') include.pop_back();
        std::string top =
            from.empty() ? include.substr(0, include.find('/')) : from.substr(0, from.find('/'));
        const std::string path =
            std::filesystem::path(from.empty() ? include : from + "/" + include)
                .lexically_normal()
                .generic_string();
        if (top.empty() || top == "." || top == ".." || !safe_path(top) || include.empty() ||
            include.find_first_of("*?[") != std::string::npos || !safe_path(path) || path == ".." ||
            path.rfind("../", 0) == 0) {
            plan.code_known = false;
            continue;
        }
        code.insert(top);
        package_paths.insert(path);
    }
    plan.code_dirs.assign(code.begin(), code.end());
    plan.package_paths.assign(package_paths.begin(), package_paths.end());
    if (plan.code_dirs.empty()) plan.code_known = false;
    return plan;
}

std::string json_array(const std::vector<std::string>& words) {
    return nlohmann::json(words).dump();
}

std::string secret_id(const std::string& source) {
    std::string id = "poetry-";
    for (char c : str::to_lower(source))
        id += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '-';
    return id;
}

bool is_public_index(const python::Source& s) {
    std::string url = str::to_lower(s.url);
    return url.empty() || url.find("://pypi.org/") != std::string::npos ||
           url.find("://files.pythonhosted.org/") != std::string::npos ||
           str::to_lower(s.name) == "pypi";
}

/// Joins RUN lines with ` \` continuations, four-space indented after the first.
std::string run_block(const std::vector<std::string>& mounts,
                      const std::vector<std::string>& steps) {
    std::vector<std::string> lines;
    std::string first = "RUN";
    for (std::size_t i = 0; i < mounts.size(); ++i) {
        if (i == 0) {
            first += " " + mounts[i];
        } else {
            lines.push_back("    " + mounts[i]);
        }
    }
    std::vector<std::string> all;
    all.push_back(first);
    all.insert(all.end(), lines.begin(), lines.end());
    for (std::size_t i = 0; i < steps.size(); ++i) {
        std::string step = steps[i];
        if (i + 1 < steps.size()) step += " &&";
        if (mounts.empty() && i == 0) {
            all[0] += " " + step;
        } else {
            all.push_back("    " + step);
        }
    }
    std::string out;
    for (std::size_t i = 0; i < all.size(); ++i)
        out += all[i] + (i + 1 < all.size() ? " \\\n" : "\n");
    return out;
}

}  // namespace

std::string poetry_credentials_env(std::string_view source_name) {
    std::string out = "POETRY_HTTP_BASIC_";
    for (char c : source_name) {
        out += std::isalnum(static_cast<unsigned char>(c))
                   ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                   : '_';
    }
    return out;
}

Result<std::vector<std::string>> split_command(std::string_view text) {
    std::vector<std::string> words;
    std::string cur;
    bool in_word = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == ' ' || c == '\t' || c == '\n') {
            if (in_word) words.push_back(cur);
            cur.clear();
            in_word = false;
        } else if (c == '\'' || c == '"') {
            in_word = true;
            std::size_t close = text.find(c, i + 1);
            if (close == std::string_view::npos)
                return invalid("--command: unterminated " + std::string(1, c) + " quote");
            cur += text.substr(i + 1, close - i - 1);
            i = close;
        } else if (c == '\\' && i + 1 < text.size()) {
            in_word = true;
            cur += text[++i];
        } else {
            in_word = true;
            cur += c;
        }
    }
    if (in_word) words.push_back(cur);
    return words;
}

Result<GeneratedFiles> generate(const python::Project& project, const GenerateOptions& opt) {
    static const std::regex python_re(R"(^3\.\d{1,2}$)");
    static const std::regex image_re(R"(^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$)");
    static const std::regex poetry_re(R"(^\d+\.\d+(\.\d+)?((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$)");
    static const std::regex apt_re(R"(^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+~:-]+)?$)");

    std::string python = opt.python;
    if (python.empty()) python = project.minimum_python();
    if (python.empty()) python = kDefaultPython;
    if (!std::regex_match(python, python_re)) {
        return invalid(opt.python.empty()
                           ? "pyproject.toml: requires-python gives Python '" + python +
                                 "', which is not 3.X; pass --python X.Y"
                           : "--python: '" + python + "' is not a Python version like 3.12");
    }
    const std::string default_image = "python:" + python + "-slim";
    const std::string build_image = opt.build_image.empty() ? default_image : opt.build_image;
    const std::string runtime_image = opt.runtime_image.empty() ? default_image : opt.runtime_image;
    for (const auto& [name, ref] :
         {std::pair{"--build-image", build_image}, {"--runtime-image", runtime_image}}) {
        if (!std::regex_match(ref, image_re))
            return invalid(std::string(name) + ": '" + ref + "' is not an image reference");
    }
    const bool preinstalled = opt.poetry == "preinstalled";
    if (!preinstalled && !std::regex_match(opt.poetry, poetry_re)) {
        return invalid("--poetry: '" + opt.poetry +
                       "' is neither a Poetry version (e.g. 2.2.1) nor 'preinstalled'");
    }
    const auto poetry_mm = preinstalled ? std::pair{0, 0} : major_minor(opt.poetry);
    if (!preinstalled && poetry_mm < std::pair{1, 2}) {
        return invalid("--poetry: " + opt.poetry +
                       " predates `poetry install --only main` (Poetry 1.2); use 1.2 or later");
    }
    if (opt.uid <= 0 || opt.uid > 2147483646) {
        return invalid("--uid: " + std::to_string(opt.uid) +
                       " is not a non-root user id (1..2147483646)");
    }
    std::set<std::string> apt;
    for (const auto& p : opt.apt_packages) {
        if (!std::regex_match(p, apt_re))
            return invalid("--apt: '" + p + "' is not a Debian package name");
        apt.insert(p);
    }
    if (opt.init == Init::tini) apt.insert("tini");

    POETRYOPS_TRY(Plan plan, make_plan(project));

    std::vector<const python::Source*> private_sources;
    for (const auto& s : project.sources) {
        if (!is_public_index(s)) private_sources.push_back(&s);
    }
    std::sort(private_sources.begin(), private_sources.end(),
              [](const auto* a, const auto* b) { return a->name < b->name; });
    const bool uv = opt.installer == Installer::uv;
    if (uv && !private_sources.empty()) {
        return invalid("--installer uv: the project declares private source '" +
                       private_sources.front()->name +
                       "', which the uv path does not authenticate yet; use --installer poetry");
    }

    std::vector<std::string> command = opt.command;
    if (command.empty()) {
        if (!project.scripts.empty()) {
            command = {project.scripts.front().name};
        } else if (!project.packages.empty() &&
                   project.packages.front().include.find_first_of("*?[") == std::string::npos) {
            std::string module = project.packages.front().include;
            if (module.size() > 3 && module.compare(module.size() - 3, 3, ".py") == 0)
                module.resize(module.size() - 3);
            std::replace(module.begin(), module.end(), '/', '.');
            command = {"python", "-m", module};
        } else {
            return invalid("pyproject.toml: no scripts and no package to run; pass --command");
        }
    }

    const std::string uid = std::to_string(opt.uid) + ":" + std::to_string(opt.uid);
    // Poetry < 1.4 (poetry-core < 1.5) refuses to load a pyproject whose path dependencies are
    // missing, even in groups it will not install; give it stand-ins for the dev-only ones, which
    // are not in the build context.
    const bool needs_stubs =
        (preinstalled || poetry_mm < std::pair{1, 4}) && !plan.dev_path_deps.empty();
    std::string stubs;
    if (needs_stubs) {
        std::vector<std::string> dirs;
        for (const auto& d : plan.dev_path_deps) dirs.push_back(d.path);
        stubs = "for d in " + str::join(dirs, " ") +
                "; do [ -e \"$d\" ] || { mkdir -p \"$d\" && touch \"$d/setup.py\"; }; done";
    }
    std::vector<std::string> secret_mounts;
    std::vector<std::string> secret_steps;
    for (const auto* s : private_sources) {
        std::string id = secret_id(s->name);
        std::string file = "/run/secrets/" + id;
        std::string env = poetry_credentials_env(s->name);
        secret_mounts.push_back("--mount=type=secret,id=" + id);
        secret_steps.push_back("if [ -s " + file + " ]; then export " + env +
                               "_USERNAME=\"$(cut -d: -f1 " + file + ")\" " + env +
                               "_PASSWORD=\"$(cut -d: -f2- " + file + ")\"; fi");
    }
    const std::string compile =
        "/app/.venv/bin/python -m compileall -q --invalidation-mode unchecked-hash";
    // The project install writes no more than a .pth naming the code's folder, the console scripts
    // and a dist-info, all made from pyproject.toml (and the readme): so when the packages are
    // known, it runs before the code is copied, on stand-ins, and the code goes straight from the
    // build context into the runtime stage as its last layer. A code-only change then rebuilds that
    // one layer and nothing else (docs/dockerfile.md, "What a code change rebuilds"). uv builds the
    // project with its build backend from the index, and package-mode = false has no project to
    // install: they keep the older order (the code, then the install, then the runtime copy).
    for (const auto& r : project.readmes) {
        bool bad =
            r.empty() || r.front() == '/' || r.find_first_of(" \t\n\"'$\\") != std::string::npos;
        for (const auto& part : str::split(r, '/')) bad = bad || part == "..";
        if (bad) {
            return fail(Error::Kind::invalid,
                        "pyproject.toml: readme \"" + r +
                            "\" must be a plain path inside the project (no '..', no spaces)");
        }
    }
    // A build script runs when the project is installed: it needs the code, so the older order.
    const bool code_last = !uv && project.package_mode && plan.code_known && !project.build_script;
    std::vector<std::string> code_targets;
    if (plan.code_known) {
        code_targets = plan.code_dirs;
        for (const auto& d : plan.main_path_deps) code_targets.push_back(d.path);
    }
    const std::string compile_code = plan.code_known ? compile + " " + str::join(code_targets, " ")
                                                     : compile + " -x '/[.]venv/' .";

    // Every venv Poetry creates carries pip, setuptools and wheel (about 11 MB, twice that once
    // byte-compiled) that the application never imports. They go after the dependency install,
    // and after the project install when that needs the code (Poetry before 1.4 installs through
    // pip; the project install on stand-ins writes files only), unless the project depends on
    // them: directly, or through a dependency, which the lock shows (Poetry locks and installs
    // setuptools when, say, a library imports pkg_resources). The lock does not say which group a
    // package serves (lock 2.0 has no category), so any lock entry keeps the tool. uv's venvs have
    // none at all.
    std::vector<std::string> prune;
    if (!uv) {
        std::set<std::string> needed;
        if (auto it = project.groups.find("main"); it != project.groups.end()) {
            for (const auto& dep : it->second) needed.insert(python::normalize_name(dep));
        }
        for (const auto& pkg : project.lock.packages)
            needed.insert(python::normalize_name(pkg.name));
        // virtualenv also leaves a "<tool>-<version>.virtualenv" marker, and Debian's virtualenv
        // writes extra script names ("pip-3.11", "wheel3.11", "wheel-3.11"), dead once the package
        // is gone.
        const std::string site = "/app/.venv/lib/python3*/site-packages/";
        const std::string bin = "/app/.venv/bin/";
        if (!needed.count("pip")) {
            prune.insert(prune.end(),
                         {site + "pip", site + "pip-*.dist-info", site + "pip-*.virtualenv",
                          bin + "pip", bin + "pip3", bin + "pip3.*", bin + "pip-3.*"});
        }
        if (!needed.count("setuptools")) {
            prune.insert(prune.end(),
                         {site + "setuptools", site + "setuptools-*.dist-info",
                          site + "setuptools-*.virtualenv", site + "pkg_resources",
                          site + "_distutils_hack", site + "distutils-precedence.pth"});
        }
        if (!needed.count("wheel")) {
            prune.insert(prune.end(),
                         {site + "wheel", site + "wheel-*.dist-info", site + "wheel-*.virtualenv",
                          bin + "wheel", bin + "wheel3", bin + "wheel3.*", bin + "wheel-3.*"});
        }
    }
    const std::string prune_step = prune.empty() ? "" : "rm -rf " + str::join(prune, " ");

    std::string df;
    auto line = [&](const std::string& s) { df += s + "\n"; };
    std::string display = project.normalized_name.empty() ? project.name : project.normalized_name;
    display.erase(std::remove_if(display.begin(), display.end(),
                                 [](char c) { return c < 0x20 || c == 0x7f; }),
                  display.end());
    line("# syntax=docker/dockerfile:1");
    line("# Generated by `poetryops dockerfile generate` for " + display +
         ": regenerate rather than edit.");
    line(
        "# Why each line is here (rule ids, checked by `poetryops dockerfile lint`): "
        "docs/dockerfile.md");
    line("");
    line("# ---- build: " +
         std::string(uv ? "Poetry exports the lock, uv installs it" : "Poetry installs") +
         " into /app/.venv; none of the tools reach the final image (multi-stage)");
    line("FROM " + build_image + " AS build");
    line("ENV PYTHONUNBUFFERED=1 \\");
    line("    PYTHONDONTWRITEBYTECODE=1 \\");
    line("    PIP_DISABLE_PIP_VERSION_CHECK=1 \\");
    line("    POETRY_NO_INTERACTION=1 \\");
    line("    POETRY_VIRTUALENVS_IN_PROJECT=true \\");
    if (uv) {
        line("    POETRY_CACHE_DIR=/root/.cache/pypoetry \\");
        line("    UV_CACHE_DIR=/root/.cache/uv \\");
        line("    UV_LINK_MODE=copy \\");
        line("    UV_PYTHON_DOWNLOADS=never");
    } else {
        line("    POETRY_CACHE_DIR=/root/.cache/pypoetry");
    }
    const std::string pip_cache = "--mount=type=cache,target=/root/.cache/pip";
    if (!preinstalled) {
        std::string reqs = "\"poetry==" + opt.poetry + "\"";
        std::string links = "ln -s /opt/poetry/bin/poetry";
        if (uv) {
            if (poetry_mm >= std::pair{2, 0})
                reqs +=
                    std::string(" \"poetry-plugin-export==") + kDefaultExportPluginVersion + "\"";
            reqs += std::string(" \"uv==") + kDefaultUvVersion + "\"";
            links += " /opt/poetry/bin/uv";
        }
        line(
            "# pin-poetry: a pinned Poetry in its own venv (not the system Python's "
            "site-packages)");
        df += run_block({pip_cache},
                        {"python3 -m venv /opt/poetry", "/opt/poetry/bin/pip install " + reqs,
                         links + " /usr/local/bin/"});
    } else {
        line(
            "# pin-poetry: Poetry comes preinstalled with the build image (--poetry preinstalled)");
        if (uv) {
            df += run_block({pip_cache}, {"python3 -m venv /opt/uv",
                                          std::string("/opt/uv/bin/pip install \"uv==") +
                                              kDefaultUvVersion + "\"",
                                          "ln -s /opt/uv/bin/uv /usr/local/bin/"});
        }
    }
    // tini alone: apt's bookkeeping (dpkg status and its backup, the debconf cache, logs: ~1 MB)
    // and tini-static stay in the build stage; the runtime stage copies the one binary it runs.
    // With
    // --apt packages the runtime stage has an apt layer anyway, and tini joins it.
    const bool tini_from_build = opt.init == Init::tini && apt.size() == 1;
    if (tini_from_build) {
        line("# exec-form: tini for the runtime stage, which copies just the binary");
        df += run_block({}, {"apt-get update", "apt-get install -y --no-install-recommends tini",
                             "rm -rf /var/lib/apt/lists/*"});
    }
    line("WORKDIR /app");
    line(
        "# lock-first: only what decides the dependency set, so a code change reuses the next "
        "layer");
    line("COPY pyproject.toml poetry.lock ./");
    for (const auto& d : plan.main_path_deps) line("COPY " + d.path + " ./" + d.path);

    std::vector<std::string> mounts;
    std::vector<std::string> steps;
    const std::string tool_cache = uv ? "--mount=type=cache,target=/root/.cache/uv"
                                      : "--mount=type=cache,target=/root/.cache/pypoetry";
    mounts.push_back(tool_cache);
    if (uv) mounts.push_back("--mount=type=cache,target=/root/.cache/pypoetry");
    mounts.insert(mounts.end(), secret_mounts.begin(), secret_mounts.end());
    if (needs_stubs) steps.push_back(stubs);
    steps.insert(steps.end(), secret_steps.begin(), secret_steps.end());
    if (uv) {
        steps.push_back(
            "poetry export --only main --format requirements.txt --output /tmp/requirements.txt");
        steps.push_back("uv venv --python python3 /app/.venv");
        steps.push_back(
            "uv pip install --python /app/.venv/bin/python --no-deps --requirement "
            "/tmp/requirements.txt");
    } else {
        steps.push_back("poetry install --only main --no-root");
    }
    // The project install on stand-ins needs neither pip nor setuptools: prune them here, before
    // the venv is compiled, so that their bytecode is never made.
    if (code_last && !prune_step.empty()) steps.push_back(prune_step);
    // Dependencies are compiled leniently (as pip does: some packages ship files that are not valid
    // Python 3).
    steps.push_back("{ " + compile + " /app/.venv/lib || true; }");
    if (code_last && !plan.main_path_deps.empty()) {
        std::vector<std::string> deps;
        for (const auto& d : plan.main_path_deps) deps.push_back(d.path);
        steps.push_back(compile + " " + str::join(deps, " "));
    }
    if (!secret_mounts.empty())
        line("# no-secrets: index credentials come from build secrets, read inside the RUN only");
    df += run_block(mounts, steps);

    steps.clear();
    if (code_last) {
        // The install reads the readmes pyproject.toml names into the dist-info: exactly those,
        // each to its own folder.
        line(
            "# lock-first: the project install needs its metadata, not its code: it runs on "
            "stand-ins");
        std::vector<std::string> root_files = {"pyproject.toml"};
        std::vector<std::string> nested;
        for (const auto& r : project.readmes) {
            (r.find('/') == std::string::npos ? root_files : nested).push_back(r);
        }
        line("COPY " + str::join(root_files, " ") + " ./");
        for (const auto& r : nested) {
            line("COPY " + r + " " + r.substr(0, r.rfind('/') + 1));
        }
        std::vector<std::string> folders;
        std::vector<std::string> modules;
        for (const auto& p : plan.package_paths) {
            const bool module = p.size() > 3 && p.compare(p.size() - 3, 3, ".py") == 0;
            (module ? modules : folders).push_back(p);
        }
        mounts = {tool_cache};
        mounts.insert(mounts.end(), secret_mounts.begin(), secret_mounts.end());
        // (the dev path dependencies' stand-ins, if any, are still there from the step above)
        steps.insert(steps.end(), secret_steps.begin(), secret_steps.end());
        steps.push_back("made=");
        if (!folders.empty()) {
            steps.push_back("for p in " + str::join(folders, " ") +
                            "; do [ -e \"$p\" ] || { mkdir -p \"$p\" && touch \"$p/__init__.py\" "
                            "&& made=\"$made $p\"; }; done");
        }
        if (!modules.empty()) {
            steps.push_back("for p in " + str::join(modules, " ") +
                            "; do [ -e \"$p\" ] || { mkdir -p \"$(dirname \"$p\")\" && touch "
                            "\"$p\" && made=\"$made $p\"; }; done");
        }
        steps.push_back("poetry install --only main");
        steps.push_back("rm -rf $made");
        df += run_block(mounts, steps);
        // A module that does not compile fails the build here, where the code meets the venv's
        // Python; nothing of these two layers reaches the runtime stage, which copies the code from
        // the context (the venv it copies from this stage is unchanged by them).
        line("# syntax check: the code is compiled once to fail the build on a syntax error");
        for (const auto& d : plan.code_dirs) line("COPY " + d + " /tmp/check/" + d);
        line("RUN /app/.venv/bin/python -m compileall -q /tmp/check && rm -rf /tmp/check");
    } else {
        line("COPY . .");
        if (project.package_mode) {
            mounts = {tool_cache};
            if (!uv) mounts.insert(mounts.end(), secret_mounts.begin(), secret_mounts.end());
            if (needs_stubs) steps.push_back(stubs);
            if (!uv) steps.insert(steps.end(), secret_steps.begin(), secret_steps.end());
            steps.push_back(uv ? "uv pip install --python /app/.venv/bin/python --no-deps "
                                 "--editable ."
                               : "poetry install --only main");
        } else {
            mounts.clear();
        }
        if (!prune_step.empty()) steps.push_back(prune_step);
        steps.push_back(compile_code);
        df += run_block(mounts, steps);
    }

    line("");
    line(std::string("# ---- runtime: the venv and the code, a non-root user") +
         (opt.init == Init::tini ? ", an init as PID 1" : ""));
    line("FROM " + runtime_image + " AS runtime");
    line("ENV PYTHONUNBUFFERED=1 \\");
    line("    PYTHONDONTWRITEBYTECODE=1 \\");
    line("    VIRTUAL_ENV=/app/.venv \\");
    line("    PATH=/app/.venv/bin:$PATH");
    if (tini_from_build) apt.erase("tini");
    if (!apt.empty()) {
        df += run_block({}, {"apt-get update",
                             "apt-get install -y --no-install-recommends " +
                                 str::join(std::vector<std::string>(apt.begin(), apt.end()), " "),
                             "rm -rf /var/lib/apt/lists/*"});
    }
    line("WORKDIR /app");
    // root-owned: the app's user cannot replace its init
    if (tini_from_build) line("COPY --from=build --chown=0:0 /usr/bin/tini /usr/bin/tini");
    const std::string copy = "COPY --from=build --chown=" + uid + " ";
    if (plan.code_known) {
        line(copy + "/app/.venv /app/.venv");
        if (!code_last) {
            for (const auto& d : plan.code_dirs) line(copy + "/app/" + d + " /app/" + d);
        }
        for (const auto& d : plan.main_path_deps) line(copy + "/app/" + d.path + " /app/" + d.path);
    } else {
        line(copy + "/app /app");
    }
    line("USER " + uid);
    if (opt.init == Init::tini) {
        line("ENTRYPOINT [\"tini\", \"--\"]");
    } else {
        line(
            "# poetryops: ignore=exec-form -- no init in the image (--init none): run with `docker "
            "run --init`, or");
        line("# give the pod shareProcessNamespace: true so that the pause container is PID 1");
    }
    line("CMD " + json_array(command));
    if (code_last) {
        // Not byte-compiled: with PYTHONDONTWRITEBYTECODE the app's own modules are compiled in
        // memory at each start (~3 ms per 1,000 lines measured), dependencies are (above).
        line(
            "# the code last, straight from the build context: a code change rebuilds this layer "
            "alone");
        for (const auto& d : plan.code_dirs) line("COPY --chown=" + uid + " " + d + " /app/" + d);
    }

    return GeneratedFiles{std::move(df), detail::render_dockerignore(plan)};
}

}  // namespace poetryops::dockerfile

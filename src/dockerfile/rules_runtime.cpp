// The lint rules about secrets, the runtime environment, signals and layer hygiene
// (docs/dockerfile.md).
#include "dockerfile/detail/analysis.hpp"

#include <poetryops/util/strings.hpp>

#include <cctype>
#include <regex>
#include <set>

namespace poetryops::dockerfile::detail {

namespace {

using Sink = RuleSink;

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

bool secret_name(const std::string& name) {
    std::string u = upper(name);
    if (u.rfind("POETRY_HTTP_BASIC_", 0) == 0 || u.rfind("POETRY_PYPI_TOKEN_", 0) == 0) return true;
    std::vector<std::string> parts;
    for (auto& p : str::split(u, '_')) {
        for (auto& q : str::split(p, '-')) {
            if (!q.empty()) parts.push_back(q);
        }
    }
    static const std::set<std::string> words = {"TOKEN",       "PASSWORD", "PASSWD",
                                                "SECRET",      "SECRETS",  "CREDENTIAL",
                                                "CREDENTIALS", "APIKEY",   "PASS"};
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (words.count(parts[i])) return true;
        if (i + 1 < parts.size() && parts[i + 1] == "KEY" &&
            (parts[i] == "API" || parts[i] == "ACCESS" || parts[i] == "PRIVATE" ||
             parts[i] == "SECRET")) {
            return true;
        }
    }
    return false;
}

// ---- no-secrets
// --------------------------------------------------------------------------------------------------
void no_secrets(Sink& s) {
    static const std::regex url_creds(R"([A-Za-z][A-Za-z0-9+.-]*://([^/\s:@'"]+):([^/\s@'"]+)@)");
    static const std::set<std::string> secret_files = {".netrc",           ".pypirc", "auth.toml",
                                                       ".git-credentials", "id_rsa",  "id_ed25519",
                                                       "id_ecdsa",         ".env",    "pip.conf"};
    for (std::size_t i = 0; i < s.a.df.instructions.size(); ++i) {
        const auto& ins = s.ins(i);
        if (ins.keyword == "ARG" || ins.keyword == "ENV") {
            for (const auto& [k, v] : key_values(ins, s.a.df.escape)) {
                if (secret_name(k)) {
                    s.add(ins.line, "no-secrets",
                          ins.keyword + " " + k +
                              " carries a secret into the image metadata/history: use RUN "
                              "--mount=type=secret");
                }
            }
        }
        std::string text = ins.command_text();
        std::smatch m;
        if (std::regex_search(text, m, url_creds)) {
            bool from_var = m[2].str().find('$') != std::string::npos;
            if (!(ins.keyword == "RUN" && from_var)) {
                s.add(ins.line, "no-secrets",
                      "URL with embedded credentials: they stay in the image; use a secret mount");
            }
        }
        if (ins.keyword == "COPY" || ins.keyword == "ADD") {
            auto words = ins.exec_form ? ins.exec_args : split_words(ins.args, s.a.df.escape);
            if (!words.empty()) words.pop_back();
            for (const auto& w : words) {
                std::string base =
                    w.substr(w.rfind('/') == std::string::npos ? 0 : w.rfind('/') + 1);
                if (secret_files.count(base)) {
                    s.add(ins.line, "no-secrets",
                          ins.keyword + " " + w + " copies a credentials file into a layer");
                }
            }
        }
        for (const auto& c : s.a.commands[i]) {
            if (c.name == "poetry" && subcommand(c) == "config") {
                std::string key = subcommand(c, 1);
                if (key.rfind("http-basic.", 0) == 0 || key.rfind("pypi-token.", 0) == 0) {
                    s.add(ins.line, "no-secrets",
                          "`poetry config " + key +
                              "` writes the credentials into a layer: read POETRY_HTTP_BASIC_* "
                              "from a secret mount "
                              "inside the RUN instead");
                }
            }
        }
    }
}

// ---- env-python
// --------------------------------------------------------------------------------------------------
void env_python(Sink& s) {
    if (!s.a.is_python) return;
    const auto& final = s.a.df.stages[static_cast<std::size_t>(s.a.final_stage)];
    auto env = s.a.env_at(s.a.final_stage, final.last + 1);
    std::vector<std::string> missing;
    for (const char* k : {"PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}) {
        if (!env.count(k) || !truthy(env[k])) missing.push_back(std::string(k) + "=1");
    }
    if (!missing.empty()) {
        s.add(final.line, "env-python",
              "the final stage does not set " + str::join(missing, " and ") +
                  " (unbuffered logs; no .pyc writes at run time)");
    }
    // Poetry's and uv's installers do not compile bytecode unless asked (pip does by default).
    int install_line = 0;
    bool compiled = false;
    for (std::size_t i = 0; i < s.a.commands.size(); ++i) {
        auto ienv = s.a.env_at(s.ins(i).stage, i);
        for (const auto& c : s.a.commands[i]) {
            if (c.name == "compileall" || has_option(c.args, "--compile") ||
                has_option(c.args, "--compile-bytecode") ||
                (ienv.count("UV_COMPILE_BYTECODE") && truthy(ienv["UV_COMPILE_BYTECODE"]))) {
                compiled = true;
            }
            bool installer =
                (c.name == "poetry" && (subcommand(c) == "install" || subcommand(c) == "sync")) ||
                (c.name == "uv" && (subcommand(c) == "sync" || subcommand(c) == "pip"));
            if (installer && !install_line) install_line = s.ins(i).line;
        }
    }
    if (install_line && !compiled) {
        s.add(install_line, "env-python",
              "bytecode is not compiled at build time: run python -m compileall on the venv and "
              "the code (or "
              "--compile / UV_COMPILE_BYTECODE=1)");
    }
}

// ---- exec-form
// ---------------------------------------------------------------------------------------------------
void exec_form(Sink& s) {
    static const std::set<std::string> inits = {"tini", "tini-static", "dumb-init", "catatonit",
                                                "s6-svscan"};
    const Instruction* entry = nullptr;
    const Instruction* cmd = nullptr;
    for (std::size_t i : s.a.chain_instructions(s.a.final_stage)) {
        const auto& ins = s.ins(i);
        if (ins.keyword != "CMD" && ins.keyword != "ENTRYPOINT") continue;
        if (!ins.exec_form) {
            s.add(ins.line, "exec-form",
                  ins.keyword +
                      " in shell form: /bin/sh becomes PID 1 and does not pass SIGTERM on; use the "
                      "JSON "
                      "form [\"...\"]");
        }
        (ins.keyword == "CMD" ? cmd : entry) = &ins;
    }
    const Instruction* effective = entry ? entry : cmd;
    if (!effective) return;
    bool has_init = false;
    if (entry && entry->exec_form && !entry->exec_args.empty()) {
        const std::string& p = entry->exec_args[0];
        has_init =
            inits.count(p.substr(p.rfind('/') == std::string::npos ? 0 : p.rfind('/') + 1)) > 0;
    }
    if (!has_init) {
        const Instruction* last =
            (entry && cmd) ? (entry->line > cmd->line ? entry : cmd) : effective;
        s.add(last->line, "exec-form",
              "no init process: the app runs as PID 1, which ignores SIGTERM without a handler and "
              "reaps no zombies; "
              "use ENTRYPOINT [\"tini\", \"--\"] (or docker run --init / shareProcessNamespace, "
              "then ignore this)");
    }
}

// ---- no-healthcheck
// ----------------------------------------------------------------------------------------------
void no_healthcheck(Sink& s) {
    for (std::size_t i : s.a.chain_instructions(s.a.final_stage)) {
        const auto& ins = s.ins(i);
        if (ins.keyword == "HEALTHCHECK" && !str::iequals(str::trim(ins.args), "NONE")) {
            s.add(ins.line, "no-healthcheck",
                  "HEALTHCHECK is ignored by Kubernetes: use liveness/readiness probes instead");
        }
    }
}

// ---- apt-hygiene
// -------------------------------------------------------------------------------------------------
void apt_hygiene(Sink& s) {
    for (std::size_t i = 0; i < s.a.commands.size(); ++i) {
        const auto& ins = s.ins(i);
        for (const auto& c : s.a.commands[i]) {
            if ((c.name != "apt-get" && c.name != "apt") || subcommand(c) != "install") continue;
            bool no_rec = has_option(c.args, "--no-install-recommends");
            for (const auto& a : c.args) {
                if (a.find("Install-Recommends=false") != std::string::npos ||
                    a.find("Install-Recommends=0") != std::string::npos) {
                    no_rec = true;
                }
            }
            if (!no_rec)
                s.add(ins.line, "apt-hygiene", c.name + " install without --no-install-recommends");
            bool lists_cached = false;
            for (const auto& m : ins.flags_named("mount")) {
                if (m.find("type=cache") != std::string::npos &&
                    m.find("/var/lib/apt") != std::string::npos) {
                    lists_cached = true;
                }
            }
            if (!lists_cached &&
                ins.command_text().find("/var/lib/apt/lists") == std::string::npos) {
                s.add(ins.line, "apt-hygiene",
                      c.name +
                          " install without rm -rf /var/lib/apt/lists/* in the same RUN: the "
                          "package index "
                          "stays in the layer");
            }
            break;
        }
    }
}

// ---- copy-not-add
// ------------------------------------------------------------------------------------------------
void copy_not_add(Sink& s) {
    static const std::regex remote(R"(^(https?|git|ssh)://|^git@|\.git(#.*)?$)");
    static const std::regex archive(
        R"(\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst|tzst)$)");
    for (const auto& ins : s.a.df.instructions) {
        if (ins.keyword == "ADD") {
            auto words = ins.exec_form ? ins.exec_args : split_words(ins.args, s.a.df.escape);
            if (!words.empty()) words.pop_back();
            for (const auto& w : words) {
                if (!std::regex_search(w, remote) && !std::regex_search(w, archive)) {
                    s.add(ins.line, "copy-not-add",
                          "ADD " + w +
                              ": use COPY for local files (ADD also unpacks archives and fetches "
                              "URLs)");
                    break;
                }
            }
        }
        if (ins.keyword == "WORKDIR") {
            std::string dir = std::string(str::trim(ins.args));
            if (!dir.empty() && dir[0] != '/' && dir[0] != '$' &&
                !(dir.size() > 1 && dir[1] == ':')) {
                s.add(ins.line, "copy-not-add",
                      "WORKDIR " + dir + " is relative: use an absolute path");
            }
        }
    }
}

}  // namespace

void run_rules_part2(const Analysis& a, const LintContext& ctx, std::vector<Finding>& out,
                     std::vector<NotChecked>& notes) {
    Sink s{a, ctx, out, notes};
    no_secrets(s);
    env_python(s);
    exec_form(s);
    no_healthcheck(s);
    apt_hygiene(s);
    copy_not_add(s);
}

}  // namespace poetryops::dockerfile::detail

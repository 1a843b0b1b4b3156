// Shell-command splitting, ENV inheritance and stage ancestry for the lint rules.
#include "dockerfile/detail/analysis.hpp"

#include <poetryops/util/strings.hpp>

#include <algorithm>
#include <cctype>
#include <set>

namespace poetryops::dockerfile::detail {

namespace {

std::vector<std::string> split_script(std::string_view s) {
    std::vector<std::string> parts;
    std::string cur;
    char quote = 0;
    int depth = 0;
    auto flush = [&] {
        if (!str::trim(cur).empty()) parts.emplace_back(str::trim(cur));
        cur.clear();
    };
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (quote) {
            cur += c;
            if (c == '\\' && quote == '"' && i + 1 < s.size()) {
                cur += s[++i];
            } else if (c == quote) {
                quote = 0;
            }
            continue;
        }
        if (c == '\'' || c == '"') {
            quote = c;
            cur += c;
            continue;
        }
        if (c == '\\' && i + 1 < s.size()) {
            cur += c;
            cur += s[++i];
            continue;
        }
        if (c == '$' && i + 1 < s.size() && s[i + 1] == '(') {
            ++depth;
            cur += "$(";
            ++i;
            continue;
        }
        if (depth > 0) {
            if (c == '(') ++depth;
            if (c == ')') --depth;
            cur += c;
            continue;
        }
        if (c == ';' || c == '\n' || c == '|' || c == '&') {
            flush();
            continue;
        }
        cur += c;
    }
    flush();
    return parts;
}

bool is_assignment(std::string_view w) {
    std::size_t eq = w.find('=');
    if (eq == std::string_view::npos || eq == 0) return false;
    if (!(std::isalpha(static_cast<unsigned char>(w[0])) || w[0] == '_')) return false;
    for (std::size_t i = 0; i < eq; ++i) {
        if (!(std::isalnum(static_cast<unsigned char>(w[i])) || w[i] == '_')) return false;
    }
    return true;
}

std::string basename(std::string_view p) {
    std::size_t slash = p.rfind('/');
    return std::string(slash == std::string_view::npos ? p : p.substr(slash + 1));
}

bool is_python_program(std::string_view name) {
    return name == "python" ||
           (name.substr(0, 7) == "python3" && std::all_of(name.begin() + 7, name.end(), [](char c) {
                return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
            }));
}

}  // namespace

std::vector<ShellCommand> shell_commands(std::string_view script, char escape) {
    static const std::set<std::string> keywords = {"if",    "then",  "else", "elif",   "do",
                                                   "while", "until", "!",    "{",      "(",
                                                   "time",  "exec",  "sudo", "command"};
    std::vector<ShellCommand> out;
    for (const auto& part : split_script(script)) {
        auto words = split_words(part, escape);
        ShellCommand cmd;
        std::size_t i = 0;
        while (i < words.size()) {
            if (keywords.count(words[i]) || words[i] == "env" || words[i] == "export") {
                if (words[i] == "export") {  // `export A=1 B=2` is all assignments
                    for (++i; i < words.size(); ++i) {
                        std::size_t eq = words[i].find('=');
                        if (eq != std::string::npos)
                            cmd.assignments[words[i].substr(0, eq)] = words[i].substr(eq + 1);
                    }
                    break;
                }
                ++i;
                continue;
            }
            if (is_assignment(words[i])) {
                std::size_t eq = words[i].find('=');
                cmd.assignments[words[i].substr(0, eq)] = words[i].substr(eq + 1);
                ++i;
                continue;
            }
            break;
        }
        if (i < words.size()) {
            cmd.name = basename(words[i]);
            cmd.args.assign(words.begin() + static_cast<std::ptrdiff_t>(i) + 1, words.end());
            if (is_python_program(cmd.name) && cmd.args.size() >= 2 && cmd.args[0] == "-m") {
                cmd.name = cmd.args[1];
                cmd.args.erase(cmd.args.begin(), cmd.args.begin() + 2);
            }
        }
        if (!cmd.name.empty() || !cmd.assignments.empty()) out.push_back(std::move(cmd));
    }
    return out;
}

bool has_option(const std::vector<std::string>& args, std::string_view flag) {
    for (const auto& a : args) {
        if (a == flag) return true;
        if (a.size() > flag.size() && a.compare(0, flag.size(), flag) == 0 && a[flag.size()] == '=')
            return true;
    }
    return false;
}

std::string option_value(const std::vector<std::string>& args, std::string_view flag) {
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == flag && i + 1 < args.size()) return args[i + 1];
        if (args[i].size() > flag.size() && args[i].compare(0, flag.size(), flag) == 0 &&
            args[i][flag.size()] == '=') {
            return args[i].substr(flag.size() + 1);
        }
    }
    return "";
}

std::string subcommand(const ShellCommand& cmd, std::size_t skip) {
    // Global options that take a value: poetry -C DIR / --directory DIR / -P DIR; uv --directory /
    // --project.
    static const std::set<std::string> with_value = {"-C", "--directory", "-P", "--project",
                                                     "--cache-dir"};
    std::size_t seen = 0;
    for (std::size_t i = 0; i < cmd.args.size(); ++i) {
        const auto& a = cmd.args[i];
        if (with_value.count(a)) {
            ++i;
            continue;
        }
        if (!a.empty() && a[0] == '-') continue;
        if (seen++ == skip) return a;
    }
    return "";
}

std::string requirement_name(std::string_view arg) {
    if (arg.empty() || arg[0] == '-') return "";
    std::size_t end = arg.find_first_of("=<>!~[;@ ");
    return str::to_lower(str::trim(arg.substr(0, end)));
}

bool glob_match(std::string_view p, std::string_view t) {
    if (p.empty()) return t.empty();
    if (p[0] == '*') {
        std::size_t stars = 0;
        while (stars < p.size() && p[stars] == '*') ++stars;
        for (std::size_t k = 0; k <= t.size(); ++k) {
            if (glob_match(p.substr(stars), t.substr(k))) return true;
        }
        return false;
    }
    if (t.empty()) return false;
    if (p[0] == '?') return glob_match(p.substr(1), t.substr(1));
    if (p[0] == '[') {
        std::size_t close = p.find(']', 1);
        if (close != std::string_view::npos) {
            std::string_view set = p.substr(1, close - 1);
            bool negate = !set.empty() && (set[0] == '!' || set[0] == '^');
            if (negate) set.remove_prefix(1);
            bool hit = false;
            for (std::size_t k = 0; k < set.size(); ++k) {
                if (k + 2 < set.size() && set[k + 1] == '-') {
                    hit = hit || (t[0] >= set[k] && t[0] <= set[k + 2]);
                    k += 2;
                } else {
                    hit = hit || t[0] == set[k];
                }
            }
            return hit != negate && glob_match(p.substr(close + 1), t.substr(1));
        }
    }
    if (p[0] == '\\' && p.size() > 1) return p[1] == t[0] && glob_match(p.substr(2), t.substr(1));
    return p[0] == t[0] && glob_match(p.substr(1), t.substr(1));
}

bool truthy(std::string_view v) {
    std::string s = str::to_lower(str::trim(v));
    return !s.empty() && s != "0" && s != "false" && s != "no" && s != "off";
}

std::vector<std::pair<std::string, std::string>> key_values(const Instruction& ins, char escape) {
    std::vector<std::pair<std::string, std::string>> out;
    auto words = split_words(ins.args, escape);
    if (words.empty()) return out;
    if (ins.keyword == "ENV" &&
        words[0].find('=') == std::string::npos) {  // legacy `ENV KEY value words`
        std::string rest = words.size() > 1 ? str::join({words.begin() + 1, words.end()}, " ") : "";
        out.emplace_back(words[0], rest);
        return out;
    }
    for (const auto& w : words) {
        std::size_t eq = w.find('=');
        out.emplace_back(w.substr(0, eq), eq == std::string::npos ? "" : w.substr(eq + 1));
    }
    return out;
}

Analysis::Analysis(const Dockerfile& d) : df(d) {
    commands.resize(df.instructions.size());
    for (std::size_t i = 0; i < df.instructions.size(); ++i) {
        const auto& ins = df.instructions[i];
        if (ins.keyword == "FROM" && str::to_lower(ins.args).find("python") != std::string::npos)
            is_python = true;
        if (ins.keyword != "RUN") continue;
        commands[i] = shell_commands(ins.command_text(), df.escape);
        for (const auto& c : commands[i]) {
            if (c.name == "poetry") uses_poetry = true;
            if (c.name == "uv") uses_uv = true;
            if (c.name.rfind("pip", 0) == 0 || c.name == "pipx") {
                is_python = true;
                for (const auto& a : c.args) {
                    if (requirement_name(a) == "poetry") uses_poetry = true;
                }
            }
            if (c.name == "poetry" || c.name == "uv" || is_python_program(c.name)) is_python = true;
        }
    }
    final_stage = static_cast<int>(df.stages.size()) - 1;
    for (int s = final_stage; s >= 0; s = df.stages[static_cast<std::size_t>(s)].parent)
        final_chain.push_back(s);
}

std::vector<std::size_t> Analysis::chain_instructions(int stage) const {
    std::vector<int> chain;
    for (int s = stage; s >= 0; s = df.stages[static_cast<std::size_t>(s)].parent)
        chain.push_back(s);
    std::vector<std::size_t> out;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        const auto& st = df.stages[static_cast<std::size_t>(*it)];
        for (std::size_t i = st.first; i <= st.last; ++i) out.push_back(i);
    }
    return out;
}

bool Analysis::in_final_chain(int stage) const {
    return std::find(final_chain.begin(), final_chain.end(), stage) != final_chain.end();
}

std::map<std::string, std::string> Analysis::env_at(int stage, std::size_t before) const {
    std::map<std::string, std::string> env = df.global_args;
    for (std::size_t i : chain_instructions(stage)) {
        if (df.instructions[i].stage == stage && i >= before) break;
        const auto& ins = df.instructions[i];
        if (ins.keyword != "ENV" && ins.keyword != "ARG") continue;
        for (auto& [k, v] : key_values(ins, df.escape)) {
            if (ins.keyword == "ARG" && v.empty() && env.count(k)) continue;
            env[k] = substitute(v, env);
        }
    }
    return env;
}

}  // namespace poetryops::dockerfile::detail

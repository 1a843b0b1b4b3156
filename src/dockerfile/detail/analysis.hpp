#pragma once
// Private: what the lint rules need to know about a parsed Dockerfile — the simple shell commands
// each RUN executes, the ENV each stage sees, stage ancestry — computed once.

#include <poetryops/dockerfile/linter.hpp>
#include <poetryops/dockerfile/parser.hpp>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::dockerfile::detail {

/// One simple command of a shell script: `FOO=1 /opt/poetry/bin/poetry install --no-root`.
struct ShellCommand {
    std::string name;               ///< program basename ("poetry"); `python -m X` becomes X
    std::vector<std::string> args;  ///< after the program
    std::map<std::string, std::string> assignments;  ///< leading NAME=value words
};

/// Splits a script on `&&`, `||`, `;`, `|`, `&` and newlines (outside quotes and `$(...)`) into
/// simple commands.
std::vector<ShellCommand> shell_commands(std::string_view script, char escape);

/// True when the argument list contains `flag` as a word or as `flag=...`.
bool has_option(const std::vector<std::string>& args, std::string_view flag);
/// Value of `--flag value` or `--flag=value`; "" when absent.
std::string option_value(const std::vector<std::string>& args, std::string_view flag);
/// First argument that is not an option (the subcommand of `poetry -n install`).
std::string subcommand(const ShellCommand& cmd, std::size_t skip = 0);

/// Requirement name of a pip argument: "poetry==1.8" -> "poetry" (lower-case); "" for options.
std::string requirement_name(std::string_view arg);

/// Glob match for .dockerignore patterns: `*`, `?`, `[...]`; `**` behaves like `*`.
bool glob_match(std::string_view pattern, std::string_view text);

bool truthy(std::string_view value);

/// Facts about a Dockerfile shared by the rules.
struct Analysis {
    const Dockerfile& df;
    std::vector<std::vector<ShellCommand>> commands;  ///< per instruction; empty unless RUN
    int final_stage = 0;
    std::vector<int> final_chain;  ///< stage indices: the final stage, its parent, ...
    bool uses_poetry = false;      ///< some RUN installs or runs Poetry
    bool uses_uv = false;
    bool is_python = false;

    explicit Analysis(const Dockerfile& d);

    /// ENV (and ARG defaults) in effect in `stage` just before instruction `before` (inherited from
    /// parent stages).
    std::map<std::string, std::string> env_at(int stage, std::size_t before) const;
    /// Instructions of the stage and its ancestors, ancestors first (indices into df.instructions).
    std::vector<std::size_t> chain_instructions(int stage) const;
    bool in_final_chain(int stage) const;
};

/// ENV/ARG words as key/value pairs (`ENV A=1 B=2`, legacy `ENV A 1`, `ARG A`).
std::vector<std::pair<std::string, std::string>> key_values(const Instruction& ins, char escape);

/// Where a rule reports: its findings and its "not judged" notes, with the analysis it reads.
struct RuleSink {
    const Analysis& a;
    const LintContext& ctx;
    std::vector<Finding>& out;
    std::vector<NotChecked>& notes;

    void add(int line, const char* rule, std::string message) {
        out.push_back({ctx.file, line, rule, std::move(message)});
    }
    void note(const char* rule, std::string reason) {
        notes.push_back({ctx.file, rule, std::move(reason)});
    }
    const Instruction& ins(std::size_t i) const { return a.df.instructions[i]; }
};

/// Appends the findings of every rule to `out` and the not-judged notes to `notes`.
void run_rules(const Analysis& a, const LintContext& ctx, std::vector<Finding>& out,
               std::vector<NotChecked>& notes);
/// The second half of the rules (rules_runtime.cpp), called by run_rules.
void run_rules_part2(const Analysis& a, const LintContext& ctx, std::vector<Finding>& out,
                     std::vector<NotChecked>& notes);

}  // namespace poetryops::dockerfile::detail

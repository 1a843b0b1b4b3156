#pragma once
/// A Dockerfile parser that follows BuildKit's grammar closely enough to lint real files: parser
/// directives
/// (`# syntax=`, `# escape=`), comments, line continuations (with the escape character of the
/// file), heredocs
/// (`<<EOF`, `<<-EOF`, quoted delimiters) on RUN/COPY/ADD, leading `--flag[=value]` options, JSON
/// (exec) and shell forms, `ARG` before the first `FROM`, and named stages (`AS name`,
/// case-insensitive).

#include <poetryops/util/result.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::dockerfile {

/// A leading option such as `--mount=type=cache,target=/root/.cache` (name "mount") or
/// `--from=build`.
struct Flag {
    std::string name;   ///< without the dashes, lower-case
    std::string value;  ///< "" when the flag has no `=value`
};

/// A here-document attached to a RUN/COPY/ADD instruction.
struct Heredoc {
    std::string delimiter;  ///< "EOF"
    std::string body;  ///< the lines between the instruction and the delimiter, each ending in '\n'
    bool quoted = false;      ///< `<<"EOF"` / `<<'EOF'`: no variable expansion in the body
    bool strip_tabs = false;  ///< `<<-EOF`: leading tabs removed from body lines and delimiter
};

/// A comment line (`# ...`) that is not a parser directive.
struct Comment {
    int line = 0;
    std::string text;  ///< after the '#', trimmed
};

/// One instruction: a logical line (continuations joined) plus its heredoc bodies.
struct Instruction {
    std::string keyword;      ///< upper-case: FROM, RUN, COPY, ...
    int line = 0;             ///< first physical line, 1-based
    int end_line = 0;         ///< last physical line (continuations and heredoc bodies included)
    std::vector<Flag> flags;  ///< leading `--name[=value]` options, in order
    std::string args;         ///< the text after the keyword and the flags, continuations joined
    /// args is a JSON array of strings (RUN/CMD/ENTRYPOINT/SHELL/COPY/ADD/VOLUME)
    bool exec_form = false;
    std::vector<std::string> exec_args;  ///< the array, when exec_form
    std::vector<Heredoc> heredocs;
    int stage = -1;  ///< index into Dockerfile::stages; -1 for ARGs before the first FROM

    /// Value of the first flag with this name, or nullopt.
    std::optional<std::string> flag(std::string_view name) const;
    /// Values of every flag with this name (a RUN may carry several `--mount`s).
    std::vector<std::string> flags_named(std::string_view name) const;
    /// The command text a RUN executes: shell-form args (or exec args joined by spaces) plus
    /// heredoc bodies.
    std::string command_text() const;
};

/// A build stage: one FROM and the instructions up to the next FROM.
struct Stage {
    int index = 0;
    std::string name;           ///< lower-case `AS` name, "" when unnamed
    std::string base;           ///< the image as written, e.g. "python:${PY}-slim"
    std::string resolved_base;  ///< with global ARG defaults substituted, e.g. "python:3.12-slim"
    int parent = -1;  ///< index of the earlier stage this one is built FROM, or -1 for an image
    int line = 0;     ///< line of the FROM
    std::size_t first = 0;  ///< index of the FROM in Dockerfile::instructions
    std::size_t last = 0;   ///< index of the stage's last instruction
};

struct Dockerfile {
    std::map<std::string, std::string> directives;  ///< lower-case name -> value, e.g. "syntax"
    int syntax_line = 0;                            ///< line of `# syntax=`, 0 when absent
    char escape = '\\';
    std::vector<Instruction> instructions;
    std::vector<Comment> comments;
    std::vector<Stage> stages;
    /// ARGs declared before the first FROM -> default value
    std::map<std::string, std::string> global_args;

    /// The stage a `--from=` or FROM reference names (stage name, case-insensitive, or index); -1
    /// when none.
    int find_stage(std::string_view ref, int before) const;
};

/// Parses Dockerfile text. `file` is used in error messages, which read "FILE:LINE: problem"
/// (Error::Kind::decode).
Result<Dockerfile> parse(std::string_view text, const std::string& file);

/// Splits shell-like words: whitespace-separated, single and double quotes removed, `escape`
/// escapes the next character outside single quotes. `$(...)` and backticks are kept inside one
/// word.
std::vector<std::string> split_words(std::string_view text, char escape = '\\');

/// Substitutes `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME:+alt}` from `vars` (unknown names
/// become "").
std::string substitute(std::string_view text, const std::map<std::string, std::string>& vars);

}  // namespace poetryops::dockerfile

#pragma once
/// The one voice of the CLI on stderr and its one exit-code policy (README "Exit codes").
///
/// Every line a subcommand writes to stderr is `<program> <command>: <text>`, one line, passed
/// through log::redact; the program is `poetryops`, or `kubectl poetryops` in the kubectl plugin.
/// An error's message already names the file, field, line or host; the printer adds only the
/// command.

#include <poetryops/util/result.hpp>

#include <string>
#include <string_view>

namespace poetryops::cli {

/// The process exit codes, the same for every subcommand.
enum class Exit : int {
    ok = 0,        ///< done; nothing to report
    findings = 1,  ///< the command ran and has something to report: lint findings, nothing matched,
                   ///< not found in the registry
    /// the command could not finish against a server: a registry, git server or API server failed
    /// or was unreachable (`run --once` after a reconcile reported one; `controller` after losing
    /// its lease). The same code as findings: documented for `run` and `controller` since their
    /// first release, so scripts already treat 1 as "retry later".
    failure = 1,
    /// bad flags, files or fields, or a refusal (bad credentials, a digest mismatch, an edit that
    /// would be unsafe); nothing was done
    bad_input = 2,
};

/// The policy, by the kind of error: decode, invalid, not_found, conflict and unauthorized are
/// bad input (the user can fix them); transport, timeout, http, gone and internal are failures.
Exit exit_for(const Error& error);

/// The program named at the start of every line: "poetryops" unless set (main() sets it once,
/// before parsing; the kubectl plugin's is "kubectl poetryops").
void set_program_name(std::string_view name);
const std::string& program_name();

/// Writes `<program> <command>: <text>` (redacted, line breaks replaced by spaces) to stderr.
/// `command` is the subcommand path as typed, e.g. "run" or "image resolve".
void say(std::string_view command, std::string_view text);

/// Prints the error with say() and returns its exit code by the policy.
Exit report(std::string_view command, const Error& error);

/// The same line, with the code the caller knows better than the error kind: e.g. `image`, where a
/// reference the registry does not have is the answer (Exit::findings), not bad input.
Exit report(std::string_view command, const Error& error, Exit code);

/// A bad-input message that has no Error (a flag check): printed with say(), Exit::bad_input.
Exit report_bad_input(std::string_view command, std::string_view message);

/// The int a process returns.
constexpr int to_int(Exit code) { return static_cast<int>(code); }

}  // namespace poetryops::cli

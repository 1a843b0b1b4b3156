#pragma once
/// The Dockerfile linter: checks the rules of docs/dockerfile.md (ids such as `multi-stage`,
/// `lock-first`) and reports `FILE:LINE: RULE-ID: message`. Suppress with `# poetryops:
/// ignore=RULE-ID[,RULE-ID]` on the line(s) right before an instruction, or in the comment block
/// before the first instruction for the whole file.

#include <poetryops/dockerfile/parser.hpp>
#include <poetryops/util/result.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::dockerfile {

/// A rule the linter knows: its stable id and a one-line summary.
struct RuleInfo {
    std::string id;
    std::string summary;
};

/// Every rule, in the order of docs/dockerfile.md.
const std::vector<RuleInfo>& rules();
/// True when `id` names a rule.
bool is_rule(std::string_view id);

struct Finding {
    std::string file;
    int line = 0;
    std::string rule;
    std::string message;
};

/// A rule (or part of one) that could not be judged from what the linter was given.
struct NotChecked {
    std::string file;
    std::string rule;
    std::string reason;
};

struct LintReport {
    std::vector<Finding> findings;  ///< sorted by line, then rule
    std::vector<NotChecked> not_checked;
    std::vector<std::string> warnings;  ///< e.g. an ignore comment naming an unknown rule
};

/// What the linter sees besides the Dockerfile itself.
struct LintContext {
    std::string file = "Dockerfile";  ///< name used in findings
    /// The .dockerignore that applies (text), or nullopt when there is none. Unset
    /// `dockerignore_known` means the caller cannot tell (stdin): the dockerignore rule is then
    /// reported as not checked.
    std::optional<std::string> dockerignore;
    bool dockerignore_known = false;
    /// poetry.toml next to the Dockerfile (virtualenvs.in-project)
    std::optional<std::string> poetry_toml;
};

/// The largest Dockerfile the linter reads (a file, a pipe or stdin): larger input is refused
/// before it is parsed.
constexpr std::size_t kMaxDockerfileBytes = 4 * 1024 * 1024;

/// Lints Dockerfile text. Fails (Error::Kind::decode, "FILE:LINE: problem") only when the text does
/// not parse.
Result<LintReport> lint(std::string_view text, const LintContext& context);

/// Reads `path` and the files next to it that the build would use: `<path>.dockerignore`
/// (BuildKit's per-Dockerfile ignore file) or else `.dockerignore` in the same folder, and
/// `poetry.toml`. Missing `path`: Error::Kind::not_found.
Result<LintReport> lint_file(const std::filesystem::path& path);

/// `FILE:LINE: RULE-ID: message` lines, one per finding.
std::string format_text(const std::vector<Finding>& findings);

/// One entry per linted input for format_json.
struct LintOutcome {
    std::string file;
    std::optional<LintReport> report;  ///< nullopt when the file could not be read or parsed
    std::string error;                 ///< the one-line error otherwise
};

/// The documented JSON document:
/// {"version":1,"findings":[...],"not_checked":[...],"errors":[...],"summary":{...}}.
std::string format_json(const std::vector<LintOutcome>& outcomes);

}  // namespace poetryops::dockerfile

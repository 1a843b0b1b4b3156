#pragma once
/// What a caller asks the git module to change: file edits as callbacks (the module knows nothing
/// of YAML or apps), a commit message template with trailers, and the rules a path must follow.

#include <poetryops/util/result.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace poetryops::git {

/// One file to edit. `apply` receives the current content (nullopt: the file does not exist) and
/// returns the new content, nullopt for "no change", or an error that fails only the request it
/// belongs to. It must be idempotent and may be called again on a newer tip after a
/// non-fast-forward push. It runs on the committer's thread and must not block on other requests.
struct FileEdit {
    std::string path;  ///< relative to the repo root, '/'-separated; no '.', '..', empty or
                       ///< absolute components
    std::function<Result<std::optional<std::string>>(std::optional<std::string_view> current)>
        apply;
};

/// A FileEdit that sets the whole file to `content` (creating it when missing).
FileEdit set_file(std::string path, std::string content);

/// Commit author and committer.
struct Identity {
    std::string name = "poetryops";
    std::string email = "poetryops@localhost";
};

/// Commit message fields. When `subject` is empty it is rendered from app/env/version/digest:
/// "promote APP to ENV: VERSION (sha256:0123456789ab)".
struct CommitMessage {
    std::string app;
    std::string env;
    std::string version;
    std::string digest;
    std::string subject;
    std::string body;
    /// Git trailers ("Key: value" lines in the last paragraph), e.g.
    /// promote::promotion_trailer(...).
    std::vector<std::pair<std::string, std::string>> trailers;
};

/// The subject line of one message (explicit subject or the rendered template), one line.
std::string render_subject(const CommitMessage& message);

/// The full commit message for a batch: one request → its subject, body and trailers; several → a
/// summary subject, one line per request and every request's trailers.
std::string render_batch_message(const std::vector<const CommitMessage*>& messages);

/// Checks a repository path: relative, '/'-separated, no empty, '.', '..' or '.git' components, no
/// NUL, newline or backslash. Errors are Error::Kind::invalid naming the path.
Result<void> validate_repo_path(std::string_view path);

/// The side branch for environments that go through a pull request: "poetryops/APP/ENV".
std::string side_branch_name(std::string_view app, std::string_view env);

}  // namespace poetryops::git

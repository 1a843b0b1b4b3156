#pragma once
/// Source push webhooks from GitHub (`push`), GitLab (`Push Hook`, `Tag Push Hook`) and
/// Gitea/Forgejo (`push`): authenticated with each forge's scheme and parsed into a PushEvent.
/// Pure: no I/O, no knowledge of PoetryApps; the HTTP receiver (not written yet, docs/source.md)
/// maps the errors to answers and matches PushEvent::repo_urls against the apps' source.repoURL.

#include <poetryops/util/result.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace poetryops::git {

enum class Forge { github, gitlab, gitea, forgejo };
const char* to_string(Forge forge);

/// One push to one ref, as the forge reports it.
struct PushEvent {
    Forge forge = Forge::github;
    /// Every URL the payload gives for the repository (https clone, ssh, web), so any spelling of
    /// a repoURL can be matched (names_repository() in remote.hpp).
    std::vector<std::string> repo_urls;
    std::string ref;     ///< "refs/heads/main", "refs/tags/v1.2.0"
    std::string before;  ///< the ref's previous commit (all zeros when created)
    std::string after;   ///< the new commit (all zeros when deleted)
    bool created = false;
    bool deleted = false;
    bool forced = false;  ///< GitHub says so; GitLab and Gitea do not report force pushes
    /// Paths added, modified or removed by the pushed commits (sorted, unique), when the payload
    /// lists them.
    std::vector<std::string> changed_paths;
    /// True only when changed_paths is known to cover the whole push (see docs/source.md): not a
    /// created, deleted or forced ref, and the forge's commit count says no commit was left out
    /// (GitLab total_commits_count, Gitea/Forgejo total_commits; GitHub fewer than 20 commits and
    /// no file list at its 5,000-path cap). Otherwise compute the paths from trees
    /// (Repo::changed_paths(before, after)).
    bool paths_complete = false;
    /// "main" for refs/heads/main, "" for anything else.
    std::string branch() const;
    bool is_tag() const { return ref.rfind("refs/tags/", 0) == 0; }
};

/// A delivery that authenticated and parsed. `push` is empty for a ping (GitHub's `ping`, sent
/// when a hook is created).
struct SourceWebhook {
    Forge forge = Forge::github;
    std::string event;     ///< the event header's value: "push", "Push Hook", "ping"
    std::string delivery;  ///< X-GitHub-Delivery / X-Gitlab-Event-UUID / X-Gitea-Delivery
    std::optional<PushEvent> push;
};

struct SourceWebhookConfig {
    /// GitHub's and Gitea/Forgejo's HMAC secret, GitLab's secret token, or the value after
    /// "Bearer " of Gitea/Forgejo's Authorization header option. Secret: never logged or echoed.
    std::string secret{};
    /// Larger bodies are refused before anything else (413). GitHub sends up to 25 MB for huge
    /// pushes; those are missed here and picked up by polling (docs/source.md).
    std::size_t max_body_bytes = 1024 * 1024;
};

/// The HTTP status and Error::reason of every refusal, for the receiver's answer.
inline constexpr std::string_view kBodyTooLarge = "BodyTooLarge";          ///< 413
inline constexpr std::string_view kUnauthenticated = "Unauthenticated";    ///< 401
inline constexpr std::string_view kBadPayload = "BadPayload";              ///< 400
inline constexpr std::string_view kUnsupportedEvent = "UnsupportedEvent";  ///< 202, ignored

/// Authenticates and parses one delivery. `headers` are looked up case-insensitively. In order:
/// a body over max_body_bytes → Error{invalid, http_status 413, kBodyTooLarge}; no known event
/// header (X-Forgejo-Event, X-Gitea-Event, X-Gitlab-Event, X-GitHub-Event, tried in that order:
/// Gitea and Forgejo also send GitHub's) → {invalid, 400, kBadPayload}; an empty secret, a missing
/// or wrong signature or token → {unauthorized, 401, kUnauthenticated}; an event other than a push
/// or ping → {invalid, 202, kUnsupportedEvent}; malformed JSON or a missing or ill-typed field →
/// {decode, 400, kBadPayload}. Messages name the forge, the header or field; never the secret or
/// the body.
Result<SourceWebhook> parse_source_webhook(
    const std::vector<std::pair<std::string, std::string>>& headers, std::string_view body,
    const SourceWebhookConfig& config);

}  // namespace poetryops::git

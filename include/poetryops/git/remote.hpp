#pragma once
/// Where a GitOps repository lives and how to reach it. Secrets stay in this struct and in the
/// environment of the git child process only: never in a URL, an argv, a log line or an error
/// message.

#include <poetryops/util/result.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::git {

/// A remote repository and its credentials.
struct Remote {
    /// https://, http://, ssh://, git://, file:// or an absolute local path. A password in the URL
    /// is refused (put it in `password`); a user name in an ssh URL is fine.
    std::string url;
    /// HTTPS basic user name. With a token and no user name, "x-access-token" is sent (GitHub,
    /// Gitea and GitLab accept any user name with a token).
    std::string username;
    /// HTTPS password or token. Secret: handed to git through an askpass helper reading the child's
    /// environment.
    std::string password;
    /// Private key file for ssh URLs (used alone: IdentitiesOnly).
    std::filesystem::path ssh_key;
    /// known_hosts file for ssh URLs; required: an unknown or changed host key is refused.
    std::filesystem::path known_hosts;
    /// PEM CA bundle for HTTPS; empty: the system store. Whatever the caller's environment says
    /// (GIT_SSL_CAINFO, SSL_CERT_FILE, CURL_CA_BUNDLE) is ignored: git runs with an environment
    /// built from scratch.
    std::filesystem::path ca_file;
    /// Upper bound for every git invocation (the process is killed past it).
    std::chrono::milliseconds timeout{std::chrono::seconds(120)};
    /// TCP connect timeout (ssh ConnectTimeout) and the low-speed window for HTTP
    /// (http.lowSpeedTime).
    std::chrono::seconds connect_timeout{10};
};

/// The URL with any userinfo password replaced, safe to show in logs and errors.
std::string display_url(std::string_view url);

/// Checks a remote before use: a known scheme, no password in the URL, ssh needs known_hosts, files
/// exist. Errors are Error::Kind::invalid and name the URL (displayed) and the field.
Result<void> validate_remote(const Remote& remote);

/// The identity of (URL, credential identity) used to key the clone cache: URL, user name and ssh
/// key path, never the secret. Returns a short lower-case hex digest.
std::string remote_identity(const Remote& remote);

/// The repository a URL names, as a key for comparing spellings: "HOST/PATH" with the host in lower
/// case and without userinfo or port, the path without a trailing '/' or ".git"; for file:// URLs
/// and absolute paths "file:PATH". Understands https://, http://, ssh://, git://, git+ssh://,
/// scp-like `user@host:org/repo.git`, file:// and absolute paths. "" for text that is none of
/// these.
///   https://GitHub.com/Org/Repo.git/  ->  github.com/Org/Repo
///   git@github.com:Org/Repo.git       ->  github.com/Org/Repo
///   ssh://git@github.com:22/Org/Repo  ->  github.com/Org/Repo
std::string repository_key(std::string_view url);

/// True when two URLs name the same repository: equal repository_key()s, the path compared
/// case-insensitively too (GitHub, GitLab, Gitea and Forgejo resolve owner/name regardless of
/// case, and send their canonical spelling in webhooks). False when either names nothing.
bool same_repository(std::string_view a, std::string_view b);

/// True when `repo_url` names the same repository as any of `urls` (e.g. the clone, ssh and web
/// URLs of a push webhook).
bool names_repository(const std::vector<std::string>& urls, std::string_view repo_url);

/// True when `name` is a valid branch name for refs/heads/ (git check-ref-format rules,
/// conservatively).
bool valid_branch_name(std::string_view name);

}  // namespace poetryops::git

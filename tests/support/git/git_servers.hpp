#pragma once
/// Real git servers for tests and benchmarks (TEST-INFRA.md "Git servers"), each started on
/// 127.0.0.1 with a free port in its own temp dir and stopped by PID when the object goes away
/// (also when a test fails): smart HTTP and HTTPS with basic auth (lighttpd + git http-backend),
/// git daemon, and sshd with ed25519 keys. Plus helpers to make, seed and inspect bare repositories
/// and to push as a "foreign" writer.

#include "support/support.hpp"

#include <poetryops/util/fs.hpp>
#include <poetryops/util/result.hpp>
#include <poetryops/util/subprocess.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace poetryops::test {

/// Runs git with a clean environment (no system/global config, no prompt, no inherited CA
/// variables).
ProcessResult plain_git(const std::vector<std::string>& args, const std::filesystem::path& cwd = {},
                        std::optional<std::string> input = std::nullopt);

/// A folder of bare repositories that the servers below export.
class BareRepos {
public:
    BareRepos();
    const std::filesystem::path& root() const { return dir_.path(); }
    std::filesystem::path path(const std::string& name) const { return dir_.path() / name; }
    /// Creates NAME (e.g. "gitops.git"): receive-pack over HTTP on, filters allowed, reflog of
    /// every ref update kept.
    std::filesystem::path create(const std::string& name);
    /// Commits `files` (path → content) on `branch` of repo NAME with a throwaway clone and a
    /// normal push. Returns the new tip.
    std::string commit_files(const std::string& name,
                             const std::map<std::string, std::string>& files,
                             const std::string& branch = "main",
                             const std::string& message = "seed");
    /// The tip of `branch` ("" when missing).
    std::string tip(const std::string& name, const std::string& branch = "main") const;
    /// `git show TIP:PATH` on the server side ("" when missing).
    std::string show(const std::string& name, const std::string& rev_path) const;
    /// Installs a pre-receive hook that prints `message` and refuses every push.
    void refuse_pushes(const std::string& name, const std::string& message);

private:
    TempDir dir_;
};

/// lighttpd serving BareRepos through git-http-backend on plain HTTP and HTTPS, basic auth for
/// everything.
class HttpGitServer {
public:
    /// `ca` issues the server certificate (SANs localhost and 127.0.0.1).
    HttpGitServer(const BareRepos& repos, TestCa& ca, std::string user = "gitops",
                  std::string password = "s3cr3t-pw");
    ~HttpGitServer();
    bool started() const { return started_; }
    std::string http_url(
        const std::string& repo) const;  ///< http://127.0.0.1:P/git/REPO (no credentials)
    std::string https_url(const std::string& repo) const;  ///< https://127.0.0.1:P/git/REPO
    const std::string& user() const { return user_; }
    const std::string& password() const { return password_; }
    int http_port() const { return http_port_; }
    int https_port() const { return https_port_; }
    int pid() { return proc_.pid(); }
    std::string error_log() const;

private:
    TempDir dir_;
    ChildProcess proc_;
    std::string user_, password_;
    int http_port_ = 0, https_port_ = 0;
    bool started_ = false;
};

/// `git daemon` exporting BareRepos with receive-pack enabled (no auth).
class GitDaemonServer {
public:
    explicit GitDaemonServer(const BareRepos& repos);
    bool started() const { return started_; }
    std::string url(const std::string& repo) const;  ///< git://127.0.0.1:P/REPO
    int pid() { return proc_.pid(); }

private:
    TempDir dir_;
    ChildProcess proc_;
    int port_ = 0;
    bool started_ = false;
};

/// sshd with an ed25519 host key and one ed25519 client key authorised (user root, git over ssh by
/// absolute path). Accepts GIT_PROTOCOL like the hosted forges do, so protocol v2 (needed to fetch
/// single blobs) works over ssh.
class SshGitServer {
public:
    explicit SshGitServer(const BareRepos& repos);
    bool started() const { return started_; }
    std::string url(const std::string& repo) const;  ///< ssh://root@127.0.0.1:P/ABS/REPO
    std::filesystem::path client_key() const { return dir_.path() / "client_ed25519"; }
    /// A known_hosts file holding this server's host key.
    std::filesystem::path known_hosts() const { return dir_.path() / "known_hosts"; }
    /// A known_hosts file holding a different key for the same host:port (the "changed host key"
    /// case).
    std::filesystem::path wrong_known_hosts() const { return dir_.path() / "known_hosts_wrong"; }
    int pid() { return proc_.pid(); }

private:
    const BareRepos& repos_;
    TempDir dir_;
    ChildProcess proc_;
    int port_ = 0;
    bool started_ = false;
};

}  // namespace poetryops::test

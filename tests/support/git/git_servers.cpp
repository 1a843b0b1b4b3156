#include "support/git/git_servers.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace poetryops::test {

namespace {

ProcessOptions clean_git_env() {
    ProcessOptions o;
    o.env = {{"GIT_CONFIG_NOSYSTEM", "1"},
             {"GIT_CONFIG_GLOBAL", "/dev/null"},
             {"GIT_TERMINAL_PROMPT", "0"},
             {"LANG", "C"},
             {"LC_ALL", "C"}};
    o.unset_env = {"GIT_DIR",     "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_SSL_CAINFO",
                   "GIT_ASKPASS", "SSH_ASKPASS",   "GIT_SSH_COMMAND"};
    o.timeout = std::chrono::seconds(120);
    return o;
}

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write(const std::filesystem::path& p, const std::string& content, unsigned mode = 0644) {
    std::filesystem::create_directories(p.parent_path());
    auto r = write_file_atomic(p, content, mode);
    if (!r) ADD_FAILURE() << r.error().message;
}

bool wait_port(int port, ChildProcess& proc) {
    return wait_until([&] { return port_open(port) || !proc.running(); },
                      std::chrono::seconds(20)) &&
           proc.running();
}

}  // namespace

ProcessResult plain_git(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                        std::optional<std::string> input) {
    std::vector<std::string> argv = {"git",
                                     "-c",
                                     "user.name=Foreign Writer",
                                     "-c",
                                     "user.email=foreign@example.com",
                                     "-c",
                                     "init.defaultBranch=main",
                                     "-c",
                                     "advice.detachedHead=false"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto o = clean_git_env();
    o.cwd = cwd.string();
    o.stdin_data = std::move(input);
    auto r = run_process(argv, o);
    if (!r) {
        ProcessResult failed;
        failed.err = r.error().message;
        return failed;
    }
    return std::move(r).value();
}

BareRepos::BareRepos() : dir_("poetryops-git-repos") {}

std::filesystem::path BareRepos::create(const std::string& name) {
    auto p = path(name);
    must_run({"git", "init", "-q", "--bare", "-b", "main", p.string()}, clean_git_env());
    for (auto [k, v] : std::vector<std::pair<std::string, std::string>>{
             {"http.receivepack", "true"},
             {"uploadpack.allowFilter", "true"},
             {"core.logAllRefUpdates", "always"},
             {"receive.denyNonFastForwards", "false"}}) {
        must_run({"git", "--git-dir", p.string(), "config", k, v}, clean_git_env());
    }
    return p;
}

std::string BareRepos::commit_files(const std::string& name,
                                    const std::map<std::string, std::string>& files,
                                    const std::string& branch, const std::string& message) {
    // A foreign writer behaves like a person: fresh clone, edit, commit, push; on a race it starts
    // over.
    for (int attempt = 0; attempt < 20; ++attempt) {
        TempDir work("poetryops-foreign");
        auto w = work.path() / "w";
        auto c = plain_git({"clone", "-q", "--no-checkout", path(name).string(), w.string()});
        if (!c.ok()) {
            ADD_FAILURE() << "clone failed: " << c.err;
            return {};
        }
        bool exists = !tip(name, branch).empty();
        auto co = exists ? plain_git({"checkout", "-q", "-B", branch, "origin/" + branch}, w)
                         : plain_git({"checkout", "-q", "--orphan", branch}, w);
        if (!co.ok()) {
            ADD_FAILURE() << "checkout failed: " << co.err;
            return {};
        }
        for (const auto& [file, content] : files) write(w / file, content);
        plain_git({"add", "-A"}, w);
        auto cm = plain_git({"commit", "-q", "--allow-empty", "-m", message}, w);
        if (!cm.ok()) {
            ADD_FAILURE() << "commit failed: " << cm.err;
            return {};
        }
        auto push = plain_git({"push", "-q", "origin", "HEAD:refs/heads/" + branch}, w);
        if (push.ok()) return std::string(plain_git({"rev-parse", "HEAD"}, w).out.substr(0, 40));
    }
    ADD_FAILURE() << "foreign push to " << name << " kept failing";
    return {};
}

std::string BareRepos::tip(const std::string& name, const std::string& branch) const {
    auto r = plain_git(
        {"--git-dir", path(name).string(), "rev-parse", "-q", "--verify", "refs/heads/" + branch});
    return r.ok() ? r.out.substr(0, 40) : std::string();
}

std::string BareRepos::show(const std::string& name, const std::string& rev_path) const {
    auto r = plain_git({"--git-dir", path(name).string(), "show", rev_path});
    return r.ok() ? r.out : std::string();
}

void BareRepos::refuse_pushes(const std::string& name, const std::string& message) {
    write(path(name) / "hooks" / "pre-receive", "#!/bin/sh\necho '" + message + "' >&2\nexit 1\n",
          0755);
    std::filesystem::permissions(path(name) / "hooks" / "pre-receive",
                                 std::filesystem::perms(0755));
}

// ---- lighttpd + git http-backend ----

HttpGitServer::HttpGitServer(const BareRepos& repos, TestCa& ca, std::string user,
                             std::string password)
    : dir_("poetryops-lighttpd"), user_(std::move(user)), password_(std::move(password)) {
    auto d = dir_.path();
    std::filesystem::create_directories(d / "www");
    auto [crt, key] = ca.issue("git-server", {"DNS:localhost", "IP:127.0.0.1"});
    write(d / "tls.pem", slurp(crt) + slurp(key), 0600);
    // The password goes through stdin: the secret-scanning test reads every process's argv while
    // other tests run.
    ProcessOptions hash_opts;
    hash_opts.stdin_data = password_ + "\n";
    auto hash = must_run({"openssl", "passwd", "-apr1", "-stdin"}, hash_opts);
    write(d / "htpasswd", user_ + ":" + std::string(hash.out.substr(0, hash.out.find('\n'))) + "\n",
          0600);
    http_port_ = free_port();
    https_port_ = free_port();
    std::string conf =
        "server.modules = ( \"mod_alias\", \"mod_auth\", \"mod_authn_file\", \"mod_setenv\", "
        "\"mod_cgi\", "
        "\"mod_openssl\" )\n"
        "server.bind = \"127.0.0.1\"\n"
        "server.port = " +
        std::to_string(http_port_) +
        "\n"
        "server.document-root = \"" +
        (d / "www").string() +
        "\"\n"
        "server.errorlog = \"" +
        (d / "error.log").string() +
        "\"\n"
        "server.max-request-size = 0\n"
        "$SERVER[\"socket\"] == \"127.0.0.1:" +
        std::to_string(https_port_) +
        "\" { ssl.engine = \"enable\" "
        "ssl.pemfile = \"" +
        (d / "tls.pem").string() +
        "\" }\n"
        "alias.url = ( \"/git\" => \"/usr/lib/git-core/git-http-backend\" )\n"
        "$HTTP[\"url\"] =~ \"^/git\" {\n"
        "  cgi.assign = ( \"\" => \"\" )\n"
        "  setenv.add-environment = ( \"GIT_PROJECT_ROOT\" => \"" +
        repos.root().string() +
        "\", "
        "\"GIT_HTTP_EXPORT_ALL\" => \"1\", \"GIT_CONFIG_NOSYSTEM\" => \"1\" )\n"
        "  auth.backend = \"htpasswd\"\n"
        "  auth.backend.htpasswd.userfile = \"" +
        (d / "htpasswd").string() +
        "\"\n"
        "  auth.require = ( \"\" => ( \"method\" => \"basic\", \"realm\" => \"git\", \"require\" "
        "=> \"valid-user\" ) )\n"
        "}\n";
    write(d / "lighttpd.conf", conf);
    auto p = ChildProcess::spawn({"lighttpd", "-D", "-f", (d / "lighttpd.conf").string()}, {},
                                 (d / "stdout.log").string());
    if (!p) {
        ADD_FAILURE() << "lighttpd: " << p.error().message;
        return;
    }
    proc_ = std::move(p).value();
    started_ = wait_port(http_port_, proc_) && wait_port(https_port_, proc_);
    if (!started_)
        ADD_FAILURE() << "lighttpd did not start: " << error_log() << slurp(d / "stdout.log");
}

HttpGitServer::~HttpGitServer() { proc_.stop(std::chrono::seconds(2)); }

std::string HttpGitServer::http_url(const std::string& repo) const {
    return "http://127.0.0.1:" + std::to_string(http_port_) + "/git/" + repo;
}

std::string HttpGitServer::https_url(const std::string& repo) const {
    return "https://127.0.0.1:" + std::to_string(https_port_) + "/git/" + repo;
}

std::string HttpGitServer::error_log() const { return slurp(dir_.path() / "error.log"); }

// ---- git daemon ----

GitDaemonServer::GitDaemonServer(const BareRepos& repos) : dir_("poetryops-gitd") {
    port_ = free_port();
    ProcessOptions o = clean_git_env();
    o.timeout = std::chrono::milliseconds(0);
    auto p = ChildProcess::spawn(
        {"/usr/lib/git-core/git-daemon", "--base-path=" + repos.root().string(), "--export-all",
         "--enable=receive-pack", "--reuseaddr", "--listen=127.0.0.1",
         "--port=" + std::to_string(port_), repos.root().string()},
        o, (dir_.path() / "daemon.log").string());
    if (!p) {
        ADD_FAILURE() << "git daemon: " << p.error().message;
        return;
    }
    proc_ = std::move(p).value();
    started_ = wait_port(port_, proc_);
    if (!started_)
        ADD_FAILURE() << "git daemon did not start: " << slurp(dir_.path() / "daemon.log");
}

std::string GitDaemonServer::url(const std::string& repo) const {
    return "git://127.0.0.1:" + std::to_string(port_) + "/" + repo;
}

// ---- sshd ----

SshGitServer::SshGitServer(const BareRepos& repos) : repos_(repos), dir_("poetryops-sshd") {
    auto d = dir_.path();
    std::filesystem::create_directories("/run/sshd");
    for (const char* name : {"host_ed25519", "client_ed25519", "other_host_ed25519"}) {
        must_run(
            {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", (d / name).string()});
    }
    write(d / "authorized_keys", slurp(d / "client_ed25519.pub"), 0600);
    port_ = free_port();
    std::string host = "[127.0.0.1]:" + std::to_string(port_) + " ";
    write(d / "known_hosts", host + slurp(d / "host_ed25519.pub"), 0600);
    write(d / "known_hosts_wrong", host + slurp(d / "other_host_ed25519.pub"), 0600);
    auto p = ChildProcess::spawn({"/usr/sbin/sshd",
                                  "-D",
                                  "-e",
                                  "-f",
                                  "/dev/null",
                                  "-o",
                                  "ListenAddress=127.0.0.1:" + std::to_string(port_),
                                  "-o",
                                  "HostKey=" + (d / "host_ed25519").string(),
                                  "-o",
                                  "AuthorizedKeysFile=" + (d / "authorized_keys").string(),
                                  "-o",
                                  "PasswordAuthentication=no",
                                  "-o",
                                  "KbdInteractiveAuthentication=no",
                                  "-o",
                                  "StrictModes=no",
                                  "-o",
                                  "UsePAM=no",
                                  "-o",
                                  "PermitRootLogin=prohibit-password",
                                  "-o",
                                  "MaxStartups=100",
                                  "-o",
                                  "AcceptEnv=GIT_PROTOCOL",
                                  "-o",
                                  "PidFile=" + (d / "sshd.pid").string()},
                                 {}, (d / "sshd.log").string());
    if (!p) {
        ADD_FAILURE() << "sshd: " << p.error().message;
        return;
    }
    proc_ = std::move(p).value();
    started_ = wait_port(port_, proc_);
    if (!started_) ADD_FAILURE() << "sshd did not start: " << slurp(d / "sshd.log");
}

std::string SshGitServer::url(const std::string& repo) const {
    return "ssh://root@127.0.0.1:" + std::to_string(port_) + repos_.path(repo).string();
}

}  // namespace poetryops::test

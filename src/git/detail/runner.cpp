#include "git/detail/runner.hpp"

#include "git/detail/coprocess.hpp"

#include <poetryops/util/fs.hpp>
#include <poetryops/util/log.hpp>
#include <poetryops/util/strings.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>

namespace poetryops::git::detail {

namespace {

constexpr std::string_view kAskpass =
    "#!/bin/sh\n"
    "# poetryops git askpass: the secret comes from the environment of this process only.\n"
    "case \"$1\" in\n"
    "  Username*|username*) printf '%s\\n' \"$POETRYOPS_GIT_USERNAME\" ;;\n"
    "  *) printf '%s\\n' \"$POETRYOPS_GIT_PASSWORD\" ;;\n"
    "esac\n";

bool is_ssh_url(std::string_view url) {
    if (url.rfind("ssh://", 0) == 0 || url.rfind("git+ssh://", 0) == 0 ||
        url.rfind("ssh+git://", 0) == 0)
        return true;
    // scp-like user@host:path (no scheme, a ':' before any '/').
    if (url.find("://") != std::string_view::npos || url.empty() || url[0] == '/') return false;
    auto colon = url.find(':');
    auto slash = url.find('/');
    return colon != std::string_view::npos && (slash == std::string_view::npos || colon < slash);
}

bool contains(std::string_view hay, std::string_view needle) {
    return hay.find(needle) != std::string_view::npos;
}

}  // namespace

Result<void> write_private_files(const std::filesystem::path& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir / "home", ec);
    if (ec)
        return fail(Error::Kind::internal,
                    "cannot create " + (dir / "home").string() + ": " + ec.message());
    ::chmod(dir.c_str(), 0700);
    POETRYOPS_TRY_VOID(write_file_atomic(dir / "askpass", kAskpass, 0700));
    ::chmod((dir / "askpass").c_str(), 0700);
    POETRYOPS_TRY_VOID(write_file_atomic(dir / "home" / ".gitconfig", "", 0600));
    return ok();
}

Runner::Runner(Remote remote, std::filesystem::path git_dir, std::filesystem::path private_dir)
    : remote_(std::move(remote)),
      display_url_(display_url(remote_.url)),
      git_dir_(std::move(git_dir)),
      private_dir_(std::move(private_dir)) {
    base_.inherit_env = false;
    base_.timeout = remote_.timeout;
    auto& env = base_.env;
    const char* path = std::getenv("PATH");
    env["PATH"] = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";
    // Proxies are part of how a cluster reaches its git server; pass them through, nothing else.
    for (const char* name : {"http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                             "NO_PROXY", "all_proxy", "ALL_PROXY", "TMPDIR"}) {
        if (const char* v = std::getenv(name)) env[name] = v;
    }
    env["HOME"] = (private_dir_ / "home").string();
    env["GIT_CONFIG_GLOBAL"] = (private_dir_ / "home" / ".gitconfig").string();
    env["GIT_CONFIG_NOSYSTEM"] = "1";
    env["LANG"] = "C";
    env["LC_ALL"] = "C";
    env["GIT_TERMINAL_PROMPT"] = "0";
    env["GCM_INTERACTIVE"] = "never";
    env["GIT_ASKPASS"] = (private_dir_ / "askpass").string();
    env["GIT_LITERAL_PATHSPECS"] = "1";
    if (!git_dir_.empty()) env["GIT_DIR"] = git_dir_.string();
    if (!remote_.ca_file.empty()) env["GIT_SSL_CAINFO"] = remote_.ca_file.string();
    if (!remote_.password.empty()) {
        env["POETRYOPS_GIT_USERNAME"] =
            remote_.username.empty() ? "x-access-token" : remote_.username;
        env["POETRYOPS_GIT_PASSWORD"] = remote_.password;
    } else {
        // No secret: an unexpected 401 must fail at once, not prompt for one.
        env["POETRYOPS_GIT_USERNAME"] = remote_.username;
        env["POETRYOPS_GIT_PASSWORD"] = "";
    }
    auto connect_s = std::to_string(std::max<long long>(1, remote_.connect_timeout.count()));
    if (is_ssh_url(remote_.url)) {
        std::string cmd =
            "ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes"
            " -o GlobalKnownHostsFile=/dev/null -o PasswordAuthentication=no"
            " -o KbdInteractiveAuthentication=no -o ServerAliveInterval=10 -o ServerAliveCountMax=3"
            " -o ConnectTimeout=" +
            connect_s;
        cmd += " -o UserKnownHostsFile=" + str::shell_quote(remote_.known_hosts.string());
        if (!remote_.ssh_key.empty())
            cmd += " -o IdentitiesOnly=yes -i " + str::shell_quote(remote_.ssh_key.string());
        env["GIT_SSH_COMMAND"] = cmd;
        env["GIT_SSH_VARIANT"] = "ssh";
    }
    config_args_ = {"-c", "protocol.version=2",
                    "-c", "credential.helper=",
                    "-c", "core.askPass=" + (private_dir_ / "askpass").string(),
                    "-c", "http.lowSpeedLimit=1000",
                    "-c", "http.lowSpeedTime=" + connect_s,
                    "-c", "core.hooksPath=/dev/null",
                    "-c", "advice.detachedHead=false"};
    if (!remote_.ca_file.empty()) {
        config_args_.push_back("-c");
        config_args_.push_back("http.sslCAInfo=" + remote_.ca_file.string());
    }
}

std::vector<std::string> Runner::command(
    const std::vector<std::string>& args, ProcessOptions& opts,
    const std::map<std::string, std::string>& extra_env) const {
    std::vector<std::string> argv;
    argv.reserve(args.size() + config_args_.size() + 1);
    argv.push_back("git");
    argv.insert(argv.end(), config_args_.begin(), config_args_.end());
    argv.insert(argv.end(), args.begin(), args.end());
    opts = base_;
    for (const auto& [k, v] : extra_env) opts.env[k] = v;
    ++calls_;
    return argv;
}

Result<ProcessResult> Runner::run(const std::vector<std::string>& args,
                                  std::optional<std::string> input,
                                  const std::map<std::string, std::string>& extra_env) const {
    ProcessOptions opts;
    std::vector<std::string> argv = command(args, opts, extra_env);
    opts.stdin_data = std::move(input);
    auto r = run_process(argv, opts);
    if (r) {
        total_ms_ += r->elapsed.count();
        if (std::find(args.begin(), args.end(), "push") != args.end())
            push_ms_ += r->elapsed.count();
    }
    POETRYOPS_LOG(debug, "git",
                  {{"repo", display_url_},
                   {"argv", scrub(format_argv(args))},
                   {"exit", r ? std::to_string(r->exit_code) : std::string("not started")},
                   {"ms", r ? std::to_string(r->elapsed.count()) : std::string("0")}});
    if (!r) {
        Error e = std::move(r).error();
        e.message = "cannot run git for " + display_url_ + ": " + scrub(e.message);
        return fail(std::move(e));
    }
    return r;
}

Result<std::unique_ptr<Coprocess>> Runner::start(
    const std::vector<std::string>& args,
    const std::map<std::string, std::string>& extra_env) const {
    ProcessOptions opts;
    std::vector<std::string> argv = command(args, opts, extra_env);
    auto c = Coprocess::start(argv, opts);
    POETRYOPS_LOG(debug, "git started",
                  {{"repo", display_url_},
                   {"argv", scrub(format_argv(args))},
                   {"pid", c ? std::to_string((*c)->pid()) : std::string("not started")}});
    if (!c) {
        Error e = std::move(c).error();
        e.message = "cannot run git for " + display_url_ + ": " + scrub(e.message);
        return fail(std::move(e));
    }
    return c;
}

Result<ProcessResult> Runner::run_ok(std::string_view what, const std::vector<std::string>& args,
                                     std::optional<std::string> input,
                                     const std::map<std::string, std::string>& extra_env) const {
    POETRYOPS_TRY(ProcessResult r, run(args, std::move(input), extra_env));
    if (!r.ok()) return fail(failure(what, r));
    return r;
}

std::string useful_lines(std::string_view err, std::string_view out) {
    std::vector<std::string> keep, all;
    for (std::string_view stream : {err, out}) {
        for (auto& raw : str::split(stream, '\n')) {
            // Progress output uses '\r'; keep the last state of the line.
            std::string line = raw;
            if (auto cr = line.rfind('\r'); cr != std::string::npos) line = line.substr(cr + 1);
            std::string t(str::trim(line));
            if (t.empty() || t.rfind("hint:", 0) == 0 || t == "Done" || t.rfind("To ", 0) == 0)
                continue;
            all.push_back(t);
            if (t.rfind("remote:", 0) == 0 && str::trim(t.substr(7)).empty()) continue;
            if (t.rfind("remote:", 0) == 0 || t.rfind("fatal:", 0) == 0 ||
                t.rfind("error:", 0) == 0 || contains(t, "[rejected]") ||
                contains(t, "[remote rejected]") || t.rfind("ERROR", 0) == 0 ||
                contains(t, "Permission denied") || contains(t, "Host key verification failed")) {
                if (std::find(keep.begin(), keep.end(), t) == keep.end()) keep.push_back(t);
            }
        }
    }
    auto& chosen = keep.empty() ? all : keep;
    std::string joined;
    for (std::size_t i = 0; i < chosen.size() && i < 8; ++i) {
        if (!joined.empty()) joined += "; ";
        joined += chosen[i];
    }
    if (joined.size() > 1000) joined = joined.substr(0, 1000) + "...";
    return joined.empty() ? "git gave no output" : joined;
}

std::string Runner::scrub(std::string_view text) const {
    std::string s = log::redact(text);
    if (remote_.password.size() >= 3)
        s = str::replace_all(std::move(s), remote_.password, "[REDACTED]");
    return s;
}

Error Runner::failure(std::string_view what, const ProcessResult& r) const {
    Error e;
    std::string head = std::string(what) + " " + display_url_;
    if (r.timed_out) {
        e.kind = Error::Kind::timeout;
        e.reason = "Timeout";
        e.message =
            head + ": git did not finish within " + std::to_string(remote_.timeout.count()) + " ms";
        return e;
    }
    std::string all = str::to_lower(r.err + "\n" + r.out);
    auto has = [&](std::string_view s) { return contains(all, s); };
    if (has("authentication failed") || has("could not read username") ||
        has("could not read password") || has("permission denied (publickey") ||
        has("invalid username or password") || has("returned error: 401") ||
        has("returned error: 403") || has("the requested url returned error: 401")) {
        e.kind = Error::Kind::unauthorized;
        e.reason = "AuthenticationFailed";
        e.terminal = true;
    } else if (has("host key verification failed") ||
               has("remote host identification has changed") || has("no matching host key")) {
        e.kind = Error::Kind::transport;
        e.reason = "HostKeyVerificationFailed";
        e.terminal = true;
    } else if (has("ssl certificate problem") || has("server certificate verification failed") ||
               has("certificate verify failed") || has("ssl_connect")) {
        e.kind = Error::Kind::transport;
        e.reason = "TLSVerificationFailed";
        e.terminal = true;
    } else if (has("couldn't find remote ref")) {
        e.kind = Error::Kind::not_found;
        e.reason = "BranchNotFound";
        e.terminal = true;
    } else if (has("cannot lock ref") || has("failed to update ref") ||
               has("incorrect old value provided")) {
        // The server took the pack but another push moved the branch between its check and its ref
        // update: a race lost, the same as a non-fast-forward.
        e.kind = Error::Kind::conflict;
        e.reason = "NonFastForward";
    } else if (has("[remote rejected]") || has("hook declined") ||
               (has("[rejected]") && has("(hook"))) {
        e.kind = Error::Kind::invalid;
        e.reason = "PushRejected";
        e.terminal = true;
    } else if (has("[rejected]") || has("non-fast-forward") || has("fetch first") ||
               has("stale info")) {
        e.kind = Error::Kind::conflict;
        e.reason = "NonFastForward";
    } else if (has("repository not found") || has("does not appear to be a git repository") ||
               has("returned error: 404") || has("not found")) {
        e.kind = Error::Kind::not_found;
        e.reason = "RepositoryNotFound";
        e.terminal = true;
    } else if (has("operation too slow") || has("operation timed out")) {
        e.kind = Error::Kind::timeout;
        e.reason = "Timeout";
    } else if (has("connection refused") || has("could not resolve") || has("failed to connect") ||
               has("unable to connect") || has("timed out") || has("couldn't connect") ||
               has("connection reset") || has("hung up") || has("early eof") ||
               has("no route to host") || has("network is unreachable") ||
               has("connection closed")) {
        e.kind = Error::Kind::transport;
        e.reason = "Unreachable";
    } else {
        e.kind = Error::Kind::internal;
        e.reason = "GitFailed";
    }
    e.message = scrub(head + ": " + useful_lines(r.err, r.out));
    return e;
}

}  // namespace poetryops::git::detail

#include <poetryops/git/remote.hpp>

#include <poetryops/util/strings.hpp>

namespace poetryops::git {

namespace {

/// Returns {start, end} of the userinfo ("user:pass") before '@' in a scheme URL, or {npos, npos}.
std::pair<std::size_t, std::size_t> userinfo_span(std::string_view url) {
    auto scheme = url.find("://");
    if (scheme == std::string_view::npos) return {std::string_view::npos, std::string_view::npos};
    std::size_t start = scheme + 3;
    std::size_t end_auth = url.find_first_of("/?#", start);
    if (end_auth == std::string_view::npos) end_auth = url.size();
    auto at = url.rfind('@', end_auth);
    if (at == std::string_view::npos || at < start)
        return {std::string_view::npos, std::string_view::npos};
    return {start, at};
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

std::string display_url(std::string_view url) {
    auto [start, end] = userinfo_span(url);
    if (start == std::string_view::npos) return std::string(url);
    std::string_view info = url.substr(start, end - start);
    auto colon = info.find(':');
    if (colon == std::string_view::npos)
        return std::string(url);  // a user name alone is not a secret
    return std::string(url.substr(0, start)) + std::string(info.substr(0, colon)) + ":[REDACTED]" +
           std::string(url.substr(end));
}

Result<void> validate_remote(const Remote& remote) {
    const std::string shown = display_url(remote.url);
    if (remote.url.empty())
        return fail(Error::Kind::invalid, "git remote: the URL is empty", "InvalidRemote");
    for (char c : remote.url) {
        if (static_cast<unsigned char>(c) < 0x20 || c == ' ') {
            return fail(Error::Kind::invalid,
                        "git remote " + shown + ": the URL contains spaces or control characters",
                        "InvalidRemote");
        }
    }
    auto [start, end] = userinfo_span(remote.url);
    if (start != std::string_view::npos &&
        std::string_view(remote.url).substr(start, end - start).find(':') !=
            std::string_view::npos) {
        return fail(Error::Kind::invalid,
                    "git remote " + shown +
                        ": a password in the URL is refused; give it as the remote's password",
                    "SecretInUrl");
    }
    std::string_view u = remote.url;
    bool ssh =
        starts_with(u, "ssh://") || starts_with(u, "git+ssh://") || starts_with(u, "ssh+git://");
    bool known = ssh || starts_with(u, "https://") || starts_with(u, "http://") ||
                 starts_with(u, "git://") || starts_with(u, "file://") || starts_with(u, "/");
    if (!known) {
        auto colon = u.find(':');
        auto slash = u.find('/');
        if (u.find("://") == std::string_view::npos && colon != std::string_view::npos &&
            (slash == std::string_view::npos || colon < slash)) {
            ssh = true;  // scp-like user@host:path
        } else {
            return fail(Error::Kind::invalid,
                        "git remote " + shown +
                            ": unsupported URL (use https://, http://, ssh://, git:// or file://)",
                        "InvalidRemote");
        }
    }
    auto helper = u.find("::");
    if (helper != std::string_view::npos && helper < u.find("://") && !starts_with(u, "/")) {
        // "transport::address" would select a remote helper program.
        return fail(Error::Kind::invalid,
                    "git remote " + shown + ": remote-helper URLs (x::y) are refused",
                    "InvalidRemote");
    }
    if (ssh) {
        if (remote.known_hosts.empty()) {
            return fail(Error::Kind::invalid,
                        "git remote " + shown +
                            ": ssh needs a known_hosts file (host keys are always verified)",
                        "MissingKnownHosts");
        }
        std::error_code ec;
        if (!std::filesystem::is_regular_file(remote.known_hosts, ec)) {
            return fail(Error::Kind::invalid,
                        "git remote " + shown + ": known_hosts file " +
                            remote.known_hosts.string() + " not found",
                        "MissingKnownHosts");
        }
        if (!remote.ssh_key.empty() && !std::filesystem::is_regular_file(remote.ssh_key, ec)) {
            return fail(
                Error::Kind::invalid,
                "git remote " + shown + ": ssh key file " + remote.ssh_key.string() + " not found",
                "MissingSshKey");
        }
    }
    if (!remote.ca_file.empty()) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(remote.ca_file, ec)) {
            return fail(
                Error::Kind::invalid,
                "git remote " + shown + ": CA file " + remote.ca_file.string() + " not found",
                "MissingCa");
        }
    }
    if (remote.timeout.count() <= 0) {
        return fail(Error::Kind::invalid, "git remote " + shown + ": the timeout must be positive",
                    "InvalidRemote");
    }
    return ok();
}

std::string repository_key(std::string_view url) {
    url = str::trim(url);
    auto strip_path = [](std::string_view path) {
        while (!path.empty() && path.back() == '/') path.remove_suffix(1);
        if (path.size() > 4 && path.substr(path.size() - 4) == ".git") path.remove_suffix(4);
        while (!path.empty() && path.back() == '/') path.remove_suffix(1);
        return path;
    };
    if (starts_with(url, "file://")) url.remove_prefix(7);
    if (starts_with(url, "/")) {
        auto path = strip_path(url);
        return path.empty() ? std::string() : "file:" + std::string(path);
    }
    std::string_view host_part, path;
    if (auto scheme = url.find("://"); scheme != std::string_view::npos) {
        std::string_view s = url.substr(0, scheme);
        if (s != "https" && s != "http" && s != "ssh" && s != "git" && s != "git+ssh" &&
            s != "ssh+git") {
            return {};
        }
        std::string_view rest = url.substr(scheme + 3);
        auto slash = rest.find('/');
        host_part = rest.substr(0, slash);
        path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
        if (auto q = path.find_first_of("?#"); q != std::string_view::npos)
            path = path.substr(0, q);
    } else {
        // scp-like: [user@]host:path (a colon before any slash)
        auto colon = url.find(':');
        auto slash = url.find('/');
        if (colon == std::string_view::npos || (slash != std::string_view::npos && slash < colon))
            return {};
        host_part = url.substr(0, colon);
        path = url.substr(colon + 1);
    }
    if (auto at = host_part.rfind('@'); at != std::string_view::npos)
        host_part.remove_prefix(at + 1);
    if (!host_part.empty() && host_part.front() == '[') {  // [::1]:22
        auto close = host_part.find(']');
        host_part =
            host_part.substr(0, close == std::string_view::npos ? host_part.size() : close + 1);
    } else if (auto colon = host_part.find(':'); colon != std::string_view::npos) {
        host_part = host_part.substr(0, colon);
    }
    while (!path.empty() && path.front() == '/') path.remove_prefix(1);
    path = strip_path(path);
    if (host_part.empty() || path.empty()) return {};
    return str::to_lower(host_part) + "/" + std::string(path);
}

bool same_repository(std::string_view a, std::string_view b) {
    std::string ka = repository_key(a);
    return !ka.empty() && str::iequals(ka, repository_key(b));
}

bool names_repository(const std::vector<std::string>& urls, std::string_view repo_url) {
    for (const auto& u : urls) {
        if (same_repository(u, repo_url)) return true;
    }
    return false;
}

std::string remote_identity(const Remote& remote) {
    std::string id = remote.url + "\n" + remote.username + "\n" + remote.ssh_key.string();
    return str::sha256_hex(id).substr(0, 16);
}

bool valid_branch_name(std::string_view name) {
    if (name.empty() || name.size() > 200 || name.front() == '/' || name.back() == '/' ||
        name.back() == '.' || name.front() == '-' || name == "@" || name == "HEAD") {
        return false;
    }
    if (name.find("..") != std::string_view::npos || name.find("//") != std::string_view::npos ||
        name.find("@{") != std::string_view::npos) {
        return false;
    }
    for (char c : name) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x21 || u == 0x7f || c == '~' || c == '^' || c == ':' || c == '?' || c == '*' ||
            c == '[' || c == '\\') {
            return false;
        }
    }
    for (const auto& part : str::split(name, '/')) {
        if (part.empty() || part.front() == '.' ||
            (part.size() >= 5 && part.compare(part.size() - 5, 5, ".lock") == 0)) {
            return false;
        }
    }
    return true;
}

}  // namespace poetryops::git

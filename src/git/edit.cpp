#include <poetryops/git/edit.hpp>

#include <poetryops/util/strings.hpp>

namespace poetryops::git {

FileEdit set_file(std::string path, std::string content) {
    FileEdit e;
    e.path = std::move(path);
    e.apply = [content = std::move(content)](
                  std::optional<std::string_view> current) -> Result<std::optional<std::string>> {
        if (current && *current == content) return std::optional<std::string>{};
        return std::optional<std::string>{content};
    };
    return e;
}

namespace {

std::string one_line(std::string_view s) {
    std::string out;
    for (char c : s) out += (c == '\n' || c == '\r') ? ' ' : c;
    return std::string(str::trim(out));
}

std::string short_digest(std::string_view digest) {
    auto colon = digest.find(':');
    if (colon == std::string_view::npos) return std::string(digest.substr(0, 12));
    return std::string(digest.substr(0, colon + 1 + 12));
}

void append_trailers(std::string& out, const CommitMessage& m) {
    for (const auto& [k, v] : m.trailers) out += one_line(k) + ": " + one_line(v) + "\n";
}

}  // namespace

std::string render_subject(const CommitMessage& m) {
    if (!m.subject.empty()) return one_line(m.subject);
    std::string s = "promote " + (m.app.empty() ? std::string("app") : m.app);
    if (!m.env.empty()) s += " to " + m.env;
    if (!m.version.empty() || !m.digest.empty()) {
        s += ":";
        if (!m.version.empty()) s += " " + m.version;
        if (!m.digest.empty())
            s += (m.version.empty() ? " " : " (") + short_digest(m.digest) +
                 (m.version.empty() ? "" : ")");
    }
    return one_line(s);
}

std::string render_batch_message(const std::vector<const CommitMessage*>& messages) {
    std::string out;
    if (messages.size() == 1) {
        const auto& m = *messages.front();
        out = render_subject(m) + "\n";
        if (!str::trim(m.body).empty()) out += "\n" + std::string(str::trim(m.body)) + "\n";
        if (!m.trailers.empty()) {
            out += "\n";
            append_trailers(out, m);
        }
        return out;
    }
    out = "poetryops: " + std::to_string(messages.size()) + " changes\n\n";
    for (const auto* m : messages) out += "- " + render_subject(*m) + "\n";
    bool any = false;
    for (const auto* m : messages) any = any || !m->trailers.empty();
    if (any) {
        out += "\n";
        for (const auto* m : messages) append_trailers(out, *m);
    }
    return out;
}

Result<void> validate_repo_path(std::string_view path) {
    auto bad = [&](std::string_view why) {
        std::string shown;
        for (char c : path) shown += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
        return fail(Error::Kind::invalid, "path '" + shown + "': " + std::string(why),
                    "InvalidPath");
    };
    if (path.empty()) return bad("empty path");
    if (path.size() > 4096) return bad("path too long");
    if (path.front() == '/')
        return bad("absolute paths are refused (paths are relative to the repository root)");
    for (char c : path) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) return bad("control characters are refused");
        if (c == '\\') return bad("backslashes are refused (use '/')");
    }
    for (const auto& part : str::split(path, '/')) {
        if (part.empty()) return bad("empty path component");
        if (part == "..") return bad("'..' would escape the repository");
        if (part == ".") return bad("'.' components are refused");
        if (str::iequals(part, ".git")) return bad("'.git' components are refused");
    }
    return ok();
}

std::string side_branch_name(std::string_view app, std::string_view env) {
    return "poetryops/" + std::string(app) + "/" + std::string(env);
}

}  // namespace poetryops::git

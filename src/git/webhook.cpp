#include <poetryops/git/webhook.hpp>

#include <poetryops/util/crypto.hpp>
#include <poetryops/util/strings.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <set>

namespace poetryops::git {

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;
using nlohmann::json;

/// GitHub's documented cap on a push payload's commits (its Events API; webhook deliveries may
/// carry more, so reaching it only means "maybe truncated"), and on each file list of a commit.
constexpr std::size_t kGithubCommitCap = 20;
constexpr std::size_t kGithubFileCap = 5000;

std::optional<std::string> header(const Headers& headers, std::string_view name) {
    for (const auto& [k, v] : headers) {
        if (str::iequals(k, name)) return std::string(str::trim(v));
    }
    return std::nullopt;
}

Error refusal(Error::Kind kind, int status, std::string_view reason, std::string message) {
    Error e = Error::make(kind, std::move(message), std::string(reason));
    e.http_status = status;
    e.terminal = true;
    return e;
}

bool all_zeros(std::string_view s) {
    return !s.empty() && s.find_first_not_of('0') == std::string_view::npos;
}

bool is_commit_id(std::string_view s) {
    if (s.size() != 40 && s.size() != 64) return false;
    return s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

/// Reads the push fields every forge shares, naming the field in errors.
class Payload {
public:
    Payload(const json& doc, std::string what) : doc_(doc), what_(std::move(what)) {}

    Result<std::string> string(const json& obj, const std::string& field, bool required) const {
        auto it = obj.find(field);
        if (it == obj.end() || it->is_null()) {
            if (!required) return std::string();
            return bad("field '" + field + "' is missing");
        }
        if (!it->is_string()) return bad("field '" + field + "' must be a string");
        return it->get<std::string>();
    }
    Result<bool> boolean(const std::string& field) const {
        auto it = doc_.find(field);
        if (it == doc_.end() || it->is_null()) return false;
        if (!it->is_boolean()) return bad("field '" + field + "' must be true or false");
        return it->get<bool>();
    }
    Result<std::optional<std::size_t>> count(const std::string& field) const {
        auto it = doc_.find(field);
        if (it == doc_.end() || it->is_null()) return std::optional<std::size_t>();
        if (!it->is_number_unsigned()) {
            if (it->is_number_integer() && it->get<long long>() >= 0)
                return std::optional<std::size_t>(it->get<long long>());
            return bad("field '" + field + "' must be a non-negative number");
        }
        return std::optional<std::size_t>(it->get<std::size_t>());
    }
    /// ref, before, after (checked to be commit ids).
    Result<void> refs(PushEvent& e) const {
        POETRYOPS_TRY(e.ref, string(doc_, "ref", true));
        if (e.ref.rfind("refs/", 0) != 0) return bad("field 'ref' must be a full ref (refs/...)");
        POETRYOPS_TRY(e.before, string(doc_, "before", true));
        POETRYOPS_TRY(e.after, string(doc_, "after", true));
        for (const auto& [name, value] : {std::pair{"before", &e.before}, {"after", &e.after}}) {
            *value = str::to_lower(*value);
            if (!is_commit_id(*value))
                return bad(std::string("field '") + name + "' is not a commit id");
        }
        e.created = all_zeros(e.before);
        e.deleted = all_zeros(e.after);
        return ok();
    }
    /// The non-empty string fields `names` of object `field` (absent object: none).
    Result<void> urls(const std::string& field, const std::vector<const char*>& names,
                      std::vector<std::string>& out) const {
        auto it = doc_.find(field);
        if (it == doc_.end() || it->is_null()) return ok();
        if (!it->is_object()) return bad("field '" + field + "' must be an object");
        for (const char* n : names) {
            POETRYOPS_TRY(std::string u, string(*it, n, false));
            if (!u.empty() && std::find(out.begin(), out.end(), u) == out.end())
                out.push_back(std::move(u));
        }
        return ok();
    }
    /// commits[].added/modified/removed into `paths`; the number of commits; whether one list
    /// reached `file_cap`.
    Result<std::size_t> commits(std::set<std::string>& paths, std::size_t file_cap,
                                bool& capped) const {
        auto it = doc_.find("commits");
        if (it == doc_.end() || it->is_null()) return std::size_t{0};
        if (!it->is_array()) return bad("field 'commits' must be an array");
        for (std::size_t i = 0; i < it->size(); ++i) {
            const json& c = (*it)[i];
            std::string at = "commits[" + std::to_string(i) + "]";
            if (!c.is_object()) return bad("field '" + at + "' must be an object");
            for (const char* list : {"added", "modified", "removed"}) {
                auto l = c.find(list);
                if (l == c.end() || l->is_null()) continue;
                if (!l->is_array())
                    return bad("field '" + at + "." + list + "' must be an array of paths");
                if (l->size() >= file_cap) capped = true;
                for (const json& p : *l) {
                    if (!p.is_string() || p.get_ref<const std::string&>().empty())
                        return bad("field '" + at + "." + list + "' must hold paths");
                    paths.insert(p.get<std::string>());
                }
            }
        }
        return it->size();
    }
    Error bad(const std::string& what) const {
        return refusal(Error::Kind::decode, 400, kBadPayload, what_ + ": " + what);
    }

private:
    const json& doc_;
    std::string what_;
};

Result<PushEvent> parse_github(const json& doc, const std::string& what) {
    Payload p(doc, what);
    PushEvent e;
    e.forge = Forge::github;
    POETRYOPS_TRY_VOID(p.refs(e));
    POETRYOPS_TRY(bool created, p.boolean("created"));
    POETRYOPS_TRY(bool deleted, p.boolean("deleted"));
    POETRYOPS_TRY(e.forced, p.boolean("forced"));
    e.created = e.created || created;
    e.deleted = e.deleted || deleted;
    POETRYOPS_TRY_VOID(
        p.urls("repository", {"clone_url", "ssh_url", "html_url", "git_url"}, e.repo_urls));
    std::set<std::string> paths;
    bool capped = false;
    POETRYOPS_TRY(std::size_t n, p.commits(paths, kGithubFileCap, capped));
    e.changed_paths.assign(paths.begin(), paths.end());
    e.paths_complete =
        !e.created && !e.deleted && !e.forced && n > 0 && n < kGithubCommitCap && !capped;
    return e;
}

Result<PushEvent> parse_gitlab(const json& doc, const std::string& what) {
    Payload p(doc, what);
    PushEvent e;
    e.forge = Forge::gitlab;
    POETRYOPS_TRY_VOID(p.refs(e));
    POETRYOPS_TRY_VOID(p.urls("project", {"git_http_url", "git_ssh_url", "web_url"}, e.repo_urls));
    POETRYOPS_TRY_VOID(
        p.urls("repository", {"git_http_url", "git_ssh_url", "homepage", "url"}, e.repo_urls));
    std::set<std::string> paths;
    bool capped = false;
    POETRYOPS_TRY(std::size_t n, p.commits(paths, SIZE_MAX, capped));
    POETRYOPS_TRY(auto total, p.count("total_commits_count"));
    e.changed_paths.assign(paths.begin(), paths.end());
    e.paths_complete = !e.created && !e.deleted && n > 0 && total && *total == n;
    return e;
}

Result<PushEvent> parse_gitea(const json& doc, const std::string& what, Forge forge) {
    Payload p(doc, what);
    PushEvent e;
    e.forge = forge;
    POETRYOPS_TRY_VOID(p.refs(e));
    POETRYOPS_TRY_VOID(
        p.urls("repository", {"clone_url", "ssh_url", "html_url", "original_url"}, e.repo_urls));
    std::set<std::string> paths;
    bool capped = false;
    POETRYOPS_TRY(std::size_t n, p.commits(paths, SIZE_MAX, capped));
    // total_commits since Gitea 1.18: commits are cut at [ui] FEED_MAX_COMMIT_NUM (5 by default).
    POETRYOPS_TRY(auto total, p.count("total_commits"));
    e.changed_paths.assign(paths.begin(), paths.end());
    e.paths_complete = !e.created && !e.deleted && n > 0 && total && *total == n;
    return e;
}

/// "sha256=<hex>" or "<hex>" compared with the body's HMAC under `secret`.
bool signature_matches(std::string_view presented, std::string_view body, std::string_view secret,
                       bool prefixed) {
    if (prefixed) {
        if (presented.size() < 7 || !str::iequals(presented.substr(0, 7), "sha256=")) return false;
        presented.remove_prefix(7);
    }
    return crypto::constant_time_equal(str::to_lower(presented),
                                       crypto::hmac_sha256_hex(secret, body));
}

}  // namespace

const char* to_string(Forge forge) {
    switch (forge) {
        case Forge::github: return "GitHub";
        case Forge::gitlab: return "GitLab";
        case Forge::gitea: return "Gitea";
        case Forge::forgejo: break;
    }
    return "Forgejo";
}

std::string PushEvent::branch() const {
    constexpr std::string_view heads = "refs/heads/";
    return ref.rfind(heads, 0) == 0 ? ref.substr(heads.size()) : std::string();
}

Result<SourceWebhook> parse_source_webhook(const Headers& headers, std::string_view body,
                                           const SourceWebhookConfig& config) {
    if (body.size() > config.max_body_bytes) {
        return refusal(Error::Kind::invalid, 413, kBodyTooLarge,
                       "source webhook: body of " + std::to_string(body.size()) +
                           " bytes exceeds the limit of " + std::to_string(config.max_body_bytes));
    }
    SourceWebhook hook;
    std::string event_header;
    const std::pair<const char*, Forge> detect[] = {{"X-Forgejo-Event", Forge::forgejo},
                                                    {"X-Gitea-Event", Forge::gitea},
                                                    {"X-Gitlab-Event", Forge::gitlab},
                                                    {"X-GitHub-Event", Forge::github}};
    bool found = false;
    for (const auto& [name, forge] : detect) {
        if (auto v = header(headers, name); v && !v->empty()) {
            hook.forge = forge;
            hook.event = *v;
            event_header = name;
            found = true;
            break;
        }
    }
    if (!found) {
        return refusal(Error::Kind::invalid, 400, kBadPayload,
                       "source webhook: no X-GitHub-Event, X-Gitlab-Event, X-Gitea-Event or "
                       "X-Forgejo-Event header: not a push webhook of a supported forge");
    }
    const std::string forge = to_string(hook.forge);
    hook.delivery = header(headers, "X-GitHub-Delivery").value_or("");
    if (hook.forge == Forge::gitlab)
        hook.delivery = header(headers, "X-Gitlab-Event-UUID").value_or("");
    if (hook.forge == Forge::gitea)
        hook.delivery = header(headers, "X-Gitea-Delivery").value_or("");
    if (hook.forge == Forge::forgejo)
        hook.delivery = header(headers, "X-Forgejo-Delivery").value_or("");

    // Authenticate before looking at the body: an unauthenticated caller learns nothing about
    // parsing.
    auto unauthenticated = [&](const std::string& why) {
        return refusal(Error::Kind::unauthorized, 401, kUnauthenticated,
                       forge + " webhook: " + why);
    };
    if (config.secret.empty()) {
        return unauthenticated(
            "no secret is configured for source webhooks; refusing every "
            "delivery");
    }
    switch (hook.forge) {
        case Forge::github: {
            auto sig = header(headers, "X-Hub-Signature-256");
            if (!sig)
                return unauthenticated("no X-Hub-Signature-256 header (set the hook's secret)");
            if (!signature_matches(*sig, body, config.secret, true)) {
                return unauthenticated(
                    "X-Hub-Signature-256 does not match the body's HMAC-SHA256 under the "
                    "configured secret");
            }
            break;
        }
        case Forge::gitlab: {
            auto token = header(headers, "X-Gitlab-Token");
            if (!token)
                return unauthenticated("no X-Gitlab-Token header (set the hook's secret token)");
            if (!crypto::constant_time_equal(*token, config.secret))
                return unauthenticated("X-Gitlab-Token does not match the configured secret");
            break;
        }
        case Forge::gitea:
        case Forge::forgejo: {
            // Gitea and Forgejo sign with their own header (hex, no prefix), Forgejo also with
            // X-Gitea-Signature, both also with X-Hub-Signature-256; or send the hook's
            // "Authorization header" option verbatim.
            const char* own =
                hook.forge == Forge::forgejo ? "X-Forgejo-Signature" : "X-Gitea-Signature";
            std::optional<std::string> sig = header(headers, own);
            if (!sig) sig = header(headers, "X-Gitea-Signature");
            auto hub = header(headers, "X-Hub-Signature-256");
            auto auth = header(headers, "Authorization");
            if (!sig && !hub && !auth) {
                return unauthenticated(std::string("no ") + own +
                                       ", X-Hub-Signature-256 or Authorization header (set the "
                                       "hook's secret)");
            }
            bool okay = false;
            if (sig) okay = signature_matches(*sig, body, config.secret, false);
            if (!okay && hub) okay = signature_matches(*hub, body, config.secret, true);
            if (!okay && auth) {
                std::string_view a = *auth;
                if (a.size() > 7 && str::iequals(a.substr(0, 7), "Bearer ")) {
                    a = str::trim(a.substr(7));
                }
                okay = crypto::constant_time_equal(a, config.secret);
            }
            if (!okay) {
                return unauthenticated(std::string(own) +
                                       " / X-Hub-Signature-256 / Authorization does not match "
                                       "the configured secret");
            }
            break;
        }
    }

    const bool is_push = hook.forge == Forge::gitlab
                             ? (hook.event == "Push Hook" || hook.event == "Tag Push Hook")
                             : hook.event == "push";
    if (hook.forge == Forge::github && hook.event == "ping") return hook;
    if (!is_push) {
        return refusal(Error::Kind::invalid, 202, kUnsupportedEvent,
                       forge + " webhook: event '" + hook.event + "' (" + event_header +
                           ") is not a push; ignored");
    }
    const std::string what = forge + " " + hook.event + " webhook";
    json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) {
        return refusal(Error::Kind::decode, 400, kBadPayload,
                       what + ": the body is not a JSON object");
    }
    Result<PushEvent> push = hook.forge == Forge::github   ? parse_github(doc, what)
                             : hook.forge == Forge::gitlab ? parse_gitlab(doc, what)
                                                           : parse_gitea(doc, what, hook.forge);
    if (!push) return fail(std::move(push).error());
    if (push->repo_urls.empty()) {
        return refusal(Error::Kind::decode, 400, kBadPayload,
                       what + ": the payload names no repository URL");
    }
    hook.push = std::move(push).value();
    return hook;
}

}  // namespace poetryops::git

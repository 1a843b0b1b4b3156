#include <poetryops/registry/auth.hpp>

#include <poetryops/registry/reference.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/strings.hpp>

#include <nlohmann/json.hpp>

namespace poetryops::registry {

Result<DockerConfig> DockerConfig::parse(std::string_view json_text, std::string_view origin) {
    DockerConfig cfg;
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(json_text);
    } catch (const nlohmann::json::exception&) {
        // The parser's message quotes the input, which holds secrets: say where, not what.
        return fail(Error::Kind::decode, std::string(origin) + ": not valid JSON");
    }
    if (!j.is_object())
        return fail(Error::Kind::decode, std::string(origin) + ": expected a JSON object");
    const nlohmann::json* auths = &j;
    const bool legacy = !j.contains("auths");
    if (!legacy) {
        if (!j["auths"].is_object())
            return fail(Error::Kind::decode, std::string(origin) + ": 'auths' is not an object");
        auths = &j["auths"];
    } else if (j.contains("credsStore") || j.contains("credHelpers") || j.empty()) {
        return cfg;  // nothing inline
    }
    // Named references, not a structured binding: the lambda below captures `entry`, and
    // capturing a structured binding is C++20 that clang 14 (the fuzz build) rejects.
    for (const auto& item : auths->items()) {
        const std::string& host = item.key();
        const nlohmann::json& entry = item.value();
        auto where = std::string(origin) + ": entry for '" + host + "'";
        if (legacy &&
            (!entry.is_object() || (!entry.contains("auth") && !entry.contains("username"))))
            continue;
        if (!entry.is_object()) return fail(Error::Kind::decode, where + " is not an object");
        Credentials c;
        auto get = [&](const char* key) {
            auto it = entry.find(key);
            return it != entry.end() && it->is_string() ? it->get<std::string>() : std::string();
        };
        if (auto encoded = get("auth"); !encoded.empty()) {
            std::string decoded;
            if (!str::base64_decode(encoded, decoded))
                return fail(Error::Kind::decode, where + ": 'auth' is not base64");
            auto colon = decoded.find(':');
            if (colon == std::string::npos) {
                return fail(Error::Kind::decode,
                            where + ": 'auth' does not decode to user:password");
            }
            c.username = decoded.substr(0, colon);
            c.password = decoded.substr(colon + 1);
        } else {
            c.username = get("username");
            c.password = get("password");
        }
        // e.g. only an identitytoken (not supported) or credsStore-managed
        if (c.empty()) continue;
        cfg.set(host, std::move(c));
    }
    return cfg;
}

Result<DockerConfig> DockerConfig::load(const std::filesystem::path& path) {
    POETRYOPS_TRY(std::string text, read_file(path, 4 * 1024 * 1024));
    return parse(text, path.string());
}

std::optional<Credentials> DockerConfig::find(std::string_view registry) const {
    auto it = auths_.find(normalize_registry_host(registry));
    if (it == auths_.end()) return std::nullopt;
    return it->second;
}

void DockerConfig::set(std::string_view registry, Credentials credentials) {
    auths_[normalize_registry_host(registry)] = std::move(credentials);
}

std::string Challenge::param(std::string_view key) const {
    auto it = params.find(std::string(key));
    return it == params.end() ? std::string() : it->second;
}

namespace {

bool is_tchar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~/").find(c) != std::string_view::npos;
}

struct Cursor {
    std::string_view s;
    std::size_t i = 0;
    bool end() const { return i >= s.size(); }
    char peek() const { return end() ? '\0' : s[i]; }
    void skip_ws() {
        while (!end() && (s[i] == ' ' || s[i] == '\t')) ++i;
    }
    void skip_ws_commas() {
        while (!end() && (s[i] == ' ' || s[i] == '\t' || s[i] == ',')) ++i;
    }
    std::string token() {
        std::size_t start = i;
        while (!end() && is_tchar(s[i])) ++i;
        return std::string(s.substr(start, i - start));
    }
    std::string quoted() {  // at '"'
        std::string out;
        ++i;
        while (!end() && s[i] != '"') {
            if (s[i] == '\\' && i + 1 < s.size()) ++i;
            out += s[i++];
        }
        if (!end()) ++i;  // closing quote (tolerate a missing one)
        return out;
    }
    // After a token: is the next non-blank an '=' that starts a value (not token68 padding)?
    bool param_follows() const {
        std::size_t j = i;
        while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
        if (j >= s.size() || s[j] != '=') return false;
        ++j;  // exactly one '=' then a value; "abc==" is token68 padding
        while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
        return j < s.size() && (s[j] == '"' || is_tchar(s[j]));
    }
};

}  // namespace

std::vector<Challenge> parse_www_authenticate(std::string_view header) {
    std::vector<Challenge> out;
    Cursor c{header};
    c.skip_ws_commas();
    while (!c.end()) {
        auto scheme = c.token();
        if (scheme.empty()) break;  // garbage: stop with what we have
        Challenge ch;
        ch.scheme = str::to_lower(scheme);
        c.skip_ws();
        bool first = true;
        while (!c.end()) {
            std::size_t save = c.i;
            auto name = c.token();
            if (name.empty()) {
                if (c.peek() == ',') {
                    c.skip_ws_commas();
                    continue;
                }
                break;
            }
            if (!c.param_follows()) {
                if (first && (c.peek() == '=' || c.end() || c.peek() == ',')) {
                    // token68 (e.g. "Negotiate abc=="): take trailing '=' padding too
                    while (c.peek() == '=') ++c.i;
                    ch.params["token68"] = name;
                    first = false;
                    c.skip_ws_commas();
                    continue;
                }
                c.i = save;  // a new challenge starts here
                break;
            }
            c.skip_ws();
            ++c.i;  // '='
            c.skip_ws();
            std::string value = c.peek() == '"' ? c.quoted() : c.token();
            ch.params[str::to_lower(name)] = value;
            first = false;
            c.skip_ws();
            if (c.peek() == ',') {
                c.skip_ws_commas();
            } else if (!c.end() && !is_tchar(c.peek())) {
                break;
            }
        }
        out.push_back(std::move(ch));
        c.skip_ws_commas();
    }
    return out;
}

Result<BearerToken> parse_token_response(std::string_view body, const Clock& clock) {
    BearerToken t;
    long long expires_in = 60;
    std::string issued_at;
    try {
        auto j = nlohmann::json::parse(body);
        if (!j.is_object()) throw std::runtime_error("not an object");
        if (j.contains("token") && j["token"].is_string()) t.token = j["token"].get<std::string>();
        if (t.token.empty() && j.contains("access_token") && j["access_token"].is_string()) {
            t.token = j["access_token"].get<std::string>();
        }
        if (j.contains("expires_in") && j["expires_in"].is_number())
            expires_in = j["expires_in"].get<long long>();
        if (j.contains("issued_at") && j["issued_at"].is_string())
            issued_at = j["issued_at"].get<std::string>();
    } catch (const std::exception&) {
        return fail(Error::Kind::decode,
                    "token endpoint answered with something that is not a JSON object");
    }
    if (t.token.empty())
        return fail(Error::Kind::decode,
                    "token endpoint response has neither 'token' nor 'access_token'");
    if (expires_in < 60) expires_in = 60;  // the spec's minimum
    auto now = clock.now();
    Clock::time_point start = now;
    Clock::time_point issued;
    // Trust issued_at only when it is close to our clock (a skewed server must not make tokens look
    // expired/eternal).
    if (!issued_at.empty() && parse_rfc3339(issued_at, issued) &&
        issued <= now + std::chrono::minutes(5) && issued >= now - std::chrono::hours(1)) {
        start = std::min(issued, now);
    }
    t.expires = start + std::chrono::seconds(expires_in);
    return t;
}

std::optional<std::string> TokenCache::get(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = tokens_.find(key);
    if (it == tokens_.end()) return std::nullopt;
    // Renew a little before expiry so a token does not run out between our check and the
    // registry's.
    if (clock_.now() + std::chrono::seconds(5) >= it->second.expires) return std::nullopt;
    return it->second.token;
}

void TokenCache::put(const std::string& key, BearerToken token) {
    std::lock_guard lock(mu_);
    tokens_[key] = std::move(token);
}

void TokenCache::clear() {
    std::lock_guard lock(mu_);
    tokens_.clear();
}

}  // namespace poetryops::registry

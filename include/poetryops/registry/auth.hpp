#pragma once
/// Registry credentials and the bearer-token flow: Docker `config.json` / Kubernetes
/// `dockerconfigjson` parsing, `WWW-Authenticate` challenge parsing, and a token cache keyed by
/// scope that honours `expires_in`/`issued_at`.

#include <poetryops/util/clock.hpp>
#include <poetryops/util/result.hpp>

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::registry {

/// A user name and password (or a personal access token as the password).
struct Credentials {
    std::string username;
    std::string password;
    bool empty() const { return username.empty() && password.empty(); }
};

/// The `auths` of a Docker config.json or a `kubernetes.io/dockerconfigjson` secret, keyed by
/// normalised registry host (normalize_registry_host: Docker Hub's aliases all become "docker.io").
class DockerConfig {
public:
    /// Parses config.json / .dockerconfigjson text (`{"auths":{HOST:{"auth":"base64(user:pass)"}}}`
    /// or with "username"/"password"); also the legacy .dockercfg form without "auths".
    /// Error::Kind::decode names `origin` and the host whose entry is bad (never its secret).
    /// credsStore/credHelpers are not supported and are ignored.
    static Result<DockerConfig> parse(std::string_view json_text,
                                      std::string_view origin = "docker config");
    /// Reads and parses a file.
    static Result<DockerConfig> load(const std::filesystem::path& path);

    /// Credentials for a registry host ("127.0.0.1:5000", "docker.io",
    /// "https://index.docker.io/v1/").
    std::optional<Credentials> find(std::string_view registry) const;
    void set(std::string_view registry, Credentials credentials);
    bool empty() const { return auths_.empty(); }

private:
    std::map<std::string, Credentials> auths_;
};

/// One challenge of a `WWW-Authenticate` header.
struct Challenge {
    std::string scheme;                         ///< lower case: "bearer", "basic"
    std::map<std::string, std::string> params;  ///< lower-case keys: realm, service, scope, error
    std::string param(std::string_view key) const;
};

/// Parses a `WWW-Authenticate` value (RFC 9110 §11.6.1): several challenges, quoted strings with
/// commas and backslash escapes, token68. Returns what could be parsed; an empty vector for
/// garbage.
std::vector<Challenge> parse_www_authenticate(std::string_view header);

/// A token response (`token` or `access_token`, `expires_in`, `issued_at`) turned into a token and
/// its expiry.
struct BearerToken {
    std::string token;
    Clock::time_point expires;
};
/// Parses the token endpoint's JSON. A missing expires_in means 60 s (the distribution token spec);
/// issued_at, when present and sane, is the start of the lifetime. Error::Kind::decode for garbage
/// or a response without a token.
Result<BearerToken> parse_token_response(std::string_view body, const Clock& clock);

/// Tokens per (host, scope, user), valid until shortly before expiry. Thread safety: safe.
class TokenCache {
public:
    explicit TokenCache(const Clock& clock) : clock_(clock) {}
    std::optional<std::string> get(const std::string& key) const;
    void put(const std::string& key, BearerToken token);
    void clear();

private:
    const Clock& clock_;
    mutable std::mutex mu_;
    std::map<std::string, BearerToken> tokens_;
};

}  // namespace poetryops::registry

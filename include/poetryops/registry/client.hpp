#pragma once
/// The OCI distribution client: a Registry over HTTP(S) with anonymous, basic and bearer-token
/// auth, redirects followed by hand (Authorization dropped across hosts, loops and hop limits
/// detected), digest verification, `Link` pagination, `429`/`Retry-After` and 5xx backoff, and a
/// per-registry request budget.

#include <poetryops/registry/auth.hpp>
#include <poetryops/registry/registry.hpp>
#include <poetryops/util/clock.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace poetryops::registry {

/// Per-registry settings, keyed by normalised host ("127.0.0.1:5000", "docker.io").
struct RegistryHostConfig {
    bool plain_http = false;            ///< speak http:// (only when asked; never a fallback)
    std::string ca_file{};              ///< trust only this CA bundle for this registry
    bool insecure_skip_verify = false;  ///< explicit opt-in only
    std::optional<Credentials> credentials{};  ///< overrides the Docker config
};

struct RegistryClientOptions {
    std::map<std::string, RegistryHostConfig> hosts;
    DockerConfig docker_config;    ///< credentials by host
    const Clock* clock = nullptr;  ///< nullptr: SystemClock
    /// nullptr: std::this_thread::sleep_for (tests inject)
    std::function<void(std::chrono::milliseconds)> sleep;
    int max_redirects = 5;
    int max_attempts = 4;  ///< per request, for 429 / 5xx / transport errors
    std::chrono::milliseconds backoff_base{200};
    std::chrono::milliseconds max_retry_after{
        std::chrono::seconds(30)};    ///< a longer Retry-After fails at once
    double requests_per_second = 50;  ///< request budget per registry (token bucket refill)
    double burst = 100;               ///< bucket size
    std::chrono::milliseconds max_budget_wait{std::chrono::seconds(30)};
    std::size_t max_manifest_bytes = 4 * 1024 * 1024;
    std::size_t max_response_bytes = 8 * 1024 * 1024;  ///< token and tag-list bodies
    int max_tag_pages = 1000;
    std::chrono::milliseconds timeout{
        std::chrono::seconds(30)};  ///< per request phase (connect, read…)
};

/// Thread safety: safe; tokens and connections are shared between threads.
class RegistryClient final : public Registry {
public:
    static Result<std::unique_ptr<RegistryClient>> create(RegistryClientOptions options = {});
    ~RegistryClient() override;

    Result<Descriptor> resolve(const Reference& ref) override;
    Result<Manifest> get_manifest(const Reference& ref) override;
    Result<std::vector<std::string>> list_tags(const Reference& repo) override;
    Result<Descriptor> put_manifest(const Reference& repo, std::string_view tag,
                                    std::string_view bytes, std::string_view media_type) override;

    /// HTTP round trips made so far (registry, token endpoint and redirect targets), for tests and
    /// the benchmark.
    std::uint64_t requests_sent() const;
    /// TCP connections opened so far.
    std::uint64_t connections_opened() const;

    class Impl;

private:
    explicit RegistryClient(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

/// Parses `Retry-After` (delta seconds or an HTTP date); nullopt when absent or malformed.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           Clock::time_point now);

/// The `rel="next"` target of a `Link` header, or empty.
std::string parse_link_next(std::string_view link);

}  // namespace poetryops::registry

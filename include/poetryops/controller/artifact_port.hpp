#pragma once
/// ArtifactPort over the registry module: list the repository's tags, apply the app's version
/// policy, resolve the newest tag to its digest. Tag lists are cached for the policy's poll
/// interval and dropped early by invalidate() (a registry webhook), so steady state costs no
/// registry calls (ANCHORS.md: tag scans hit rate limits).

#include <poetryops/controller/ports.hpp>
#include <poetryops/registry/policy.hpp>
#include <poetryops/registry/registry.hpp>
#include <poetryops/util/clock.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace poetryops::controller {

/// The registry serving an app's image repository (credentials from the app's secretRef in the
/// cluster).
using RegistryResolver =
    std::function<Result<std::shared_ptr<registry::Registry>>(const api::PoetryApp& app)>;

/// True when a PoetryApp's spec.image.repository names the pushed "registry/repository" (docker.io
/// aliases and library/ normalised).
bool repository_matches(const std::string& app_repository, const std::string& pushed);

/// The regex that extracts {version} (capture group 1) from tags rendered with `tag_template`
/// (oci::tag_template_regex: the renderer's placeholders and patterns).
std::string tag_template_regex(std::string_view tag_template);

/// spec.image's policy: PEP 440 specifiers over the {version} part of tags matching the tag
/// template. Errors: a template api validation refuses (Error::Kind::invalid, naming the field).
Result<registry::VersionPolicy> version_policy(const api::ImageSpec& image);

/// Thread safety: safe.
class RegistryArtifactPort final : public ArtifactPort {
public:
    RegistryArtifactPort(RegistryResolver resolver, const Clock& clock);
    Result<std::optional<promote::Artifact>> newest(const api::PoetryApp& app) override;
    /// Also forgets the repository's cached newest when the tag exists (a build just pushed it).
    Result<std::optional<std::string>> digest_of(const api::PoetryApp& app,
                                                 const std::string& tag) override;
    /// Forgets what is cached for `repository` (called when a webhook reports a push).
    void invalidate(const std::string& repository);
    /// Forgets every cached repository for which `match(repository)` is true.
    void invalidate_matching(const std::function<bool(const std::string& repository)>& match);
    /// A webhook said `tag` was pushed to `pushed` ("registry/repository"). Registries notify
    /// before the tag shows in their tag list, so the tag is also tried directly (a listed or
    /// hinted tag that answers 404 is retried a few times over ~30 ms: docker-registry links the
    /// tag just after it notifies), and nothing is cached for the repository until it resolves
    /// (until then newest() fails, and the caller retries with backoff).
    void hint_push(const std::string& pushed, const std::string& tag);

private:
    struct Cached {
        Clock::time_point at;
        std::optional<promote::Artifact> newest;
        std::string policy_key;
    };
    RegistryResolver resolver_;
    const Clock& clock_;
    std::mutex mu_;
    std::map<std::string, Cached> cache_;  // by repository
    // (pushed repository, tag) not yet resolved
    std::vector<std::pair<std::string, std::string>> hints_;
};

}  // namespace poetryops::controller

#include <poetryops/controller/artifact_port.hpp>

#include <poetryops/api/validation.hpp>
#include <poetryops/oci/tag_template.hpp>
#include <poetryops/registry/reference.hpp>

#include <algorithm>
#include <regex>
#include <thread>

namespace poetryops::controller {

namespace {

/// spec.image.tagTemplate, with its default.
std::string tag_template_of(const api::ImageSpec& image) {
    return image.tag_template.empty() ? "{version}" : image.tag_template;
}

}  // namespace

bool repository_matches(const std::string& app_repository, const std::string& pushed) {
    auto a = registry::parse_repository(app_repository);
    auto b = registry::parse_repository(pushed);
    if (!a || !b) return app_repository == pushed;
    return a->registry == b->registry && a->repository == b->repository;
}

std::string tag_template_regex(std::string_view tag_template) {
    return oci::tag_template_regex(tag_template, {"version"});
}

Result<registry::VersionPolicy> version_policy(const api::ImageSpec& image) {
    registry::VersionPolicy p;
    p.scheme = registry::VersionScheme::pep440;
    p.range = image.policy.versions;
    p.include_prereleases = image.policy.allow_prerelease;
    std::string tmpl = tag_template_of(image);
    // The PoetryApp's own rule (api validation): a spec that skipped validation is refused here.
    if (auto problem = api::check_tag_template(tmpl); !problem.empty())
        return fail(Error::Kind::invalid, "spec.image.tagTemplate: " + tmpl + " " + problem);
    p.pattern = tag_template_regex(tmpl);
    return p;
}

RegistryArtifactPort::RegistryArtifactPort(RegistryResolver resolver, const Clock& clock)
    : resolver_(std::move(resolver)), clock_(clock) {}

void RegistryArtifactPort::invalidate(const std::string& repository) {
    std::lock_guard lock(mu_);
    cache_.erase(repository);
}

void RegistryArtifactPort::hint_push(const std::string& pushed, const std::string& tag) {
    if (tag.empty()) return;
    std::lock_guard lock(mu_);
    hints_.emplace_back(pushed, tag);
}

void RegistryArtifactPort::invalidate_matching(
    const std::function<bool(const std::string&)>& match) {
    std::lock_guard lock(mu_);
    std::erase_if(cache_, [&](const auto& kv) { return match(kv.first); });
}

Result<std::optional<promote::Artifact>> RegistryArtifactPort::newest(const api::PoetryApp& app) {
    const auto& image = app.spec.image;
    POETRYOPS_TRY(registry::VersionPolicy policy, version_policy(image));
    std::string key =
        policy.range + "|" + policy.pattern + (policy.include_prereleases ? "|pre" : "");
    auto ttl = image.policy.poll_interval.value.count() > 0
                   ? std::chrono::duration_cast<Clock::duration>(image.policy.poll_interval.value)
                   : std::chrono::duration_cast<Clock::duration>(std::chrono::minutes(5));
    std::vector<std::string> hinted;
    {
        std::lock_guard lock(mu_);
        for (const auto& [pushed, tag] : hints_) {
            if (repository_matches(image.repository, pushed)) hinted.push_back(tag);
        }
        if (auto it = cache_.find(image.repository); hinted.empty() && it != cache_.end() &&
                                                     it->second.policy_key == key &&
                                                     clock_.now() - it->second.at < ttl) {
            return it->second.newest;
        }
    }
    POETRYOPS_TRY(auto compiled, registry::CompiledPolicy::compile(policy));
    POETRYOPS_TRY(registry::Reference repo, registry::parse_repository(image.repository));
    POETRYOPS_TRY(auto reg, resolver_(app));
    auto listed = reg->list_tags(repo);
    if (!listed && listed.error().kind != Error::Kind::not_found) return listed.error();
    // A repository nothing was pushed to yet (NAME_UNKNOWN) has no artifact; that is not a failure.
    std::vector<std::string> tags = listed ? std::move(listed).value() : std::vector<std::string>{};
    // A tag just pushed can be notified, and even listed, a moment before the registry links it to
    // its manifest (docker-registry creates the tag's folder, then writes the link). A few short
    // retries (2+4+8+16 ms) are far cheaper than failing the reconcile and running it again.
    auto resolve_settling = [&](const registry::Reference& ref) {
        auto d = reg->resolve(ref);
        for (int wait_ms = 2; !d && d.error().kind == Error::Kind::not_found && wait_ms <= 16;
             wait_ms *= 2) {
            std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
            d = reg->resolve(ref);
        }
        return d;
    };
    // A pushed tag the list does not show yet must still resolve before we settle on an older
    // newest.
    for (const auto& tag : hinted) {
        if (std::find(tags.begin(), tags.end(), tag) != tags.end()) continue;
        registry::Reference ref = repo;
        ref.tag = tag;
        auto d = resolve_settling(ref);
        if (!d) return d.error();
        tags.push_back(tag);
    }
    std::optional<promote::Artifact> result;
    if (auto cand = compiled.newest(tags)) {
        registry::Reference ref = repo;
        ref.tag = cand->tag;
        POETRYOPS_TRY(registry::Descriptor desc, resolve_settling(ref));
        promote::Artifact a;
        a.version = cand->version;
        a.tag = cand->tag;
        a.digest = desc.digest;
        std::smatch m;
        std::regex sha_re(oci::tag_template_regex(tag_template_of(image), {"shortSha", "sha"}));
        if (std::regex_match(cand->tag, m, sha_re) && m.size() > 1) a.source_commit = m[1].str();
        result = a;
    }
    std::lock_guard lock(mu_);
    std::erase_if(hints_, [&](const auto& h) {
        return repository_matches(image.repository, h.first) &&
               std::find(hinted.begin(), hinted.end(), h.second) != hinted.end();
    });
    cache_[image.repository] = Cached{clock_.now(), result, key};
    return result;
}

Result<std::optional<std::string>> RegistryArtifactPort::digest_of(const api::PoetryApp& app,
                                                                   const std::string& tag) {
    POETRYOPS_TRY(registry::Reference ref, registry::parse_repository(app.spec.image.repository));
    ref.tag = tag;
    POETRYOPS_TRY(auto reg, resolver_(app));
    auto d = reg->resolve(ref);
    if (!d) {
        if (d.error().kind == Error::Kind::not_found) return std::optional<std::string>{};
        return d.error();
    }
    // A tag that exists now changes what newest() answers for the repository.
    invalidate(app.spec.image.repository);
    return std::optional<std::string>(d->digest);
}

}  // namespace poetryops::controller

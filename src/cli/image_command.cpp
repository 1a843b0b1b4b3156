// `poetryops image resolve|tags|tag`: a registry debugging tool in the spirit of crane and skopeo,
// wiring the command line to the registry module. Exit codes (cli/errors.hpp): 0 success, 1 nothing
// found / nothing matched, or an unreachable or failing registry; 2 bad input or a refusal (digest
// mismatch, bad credentials).
#include <poetryops/cli/commands.hpp>

#include "cli/detail/shared_flags.hpp"

#include <poetryops/registry/client.hpp>
#include <poetryops/registry/layout.hpp>
#include <poetryops/registry/policy.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>
#include <memory>

namespace poetryops::cli {
namespace {

using nlohmann::json;

struct ImageArgs {
    bool plain_http = false;
    bool insecure = false;
    std::string ca_file;
    std::string registry_config;
    std::string format = "text";
    std::string layout;
    // per command
    std::string ref;
    std::string new_tag;
    std::string platform;
    std::string policy;
    bool newest = false;
};

/// An answer from the registry (or layout): a reference it does not have is "nothing found"
/// (Exit::findings); anything else by the policy. Bad references, credentials and layout paths are
/// reported with report() before any lookup, so a missing --registry-config file stays bad input.
Exit report_lookup(std::string_view command, const Error& e) {
    return report(command, e, e.kind == Error::Kind::not_found ? Exit::findings : exit_for(e));
}

// References as the user wrote them: `oci:DIR:TAG@DIGEST` for an image layout.
std::string display(const registry::Reference& ref) {
    if (ref.registry != "oci") return ref.str();
    std::string s = "oci:" + ref.repository;
    if (!ref.tag.empty()) s += ":" + ref.tag;
    if (!ref.digest.empty()) s += "@" + ref.digest;
    return s;
}

// The backend and the reference in its terms: `oci:DIR[:TAG]`, `--layout DIR`, or a registry.
struct Target {
    std::unique_ptr<registry::Registry> backend;
    registry::Reference ref;
};

Result<Target> open_target(const ImageArgs& a, const std::string& text, bool repository_only) {
    Target t;
    if (registry::is_layout_reference(text)) {
        POETRYOPS_TRY(auto lr, registry::parse_layout_reference(text));
        t.backend = std::make_unique<registry::LayoutRegistry>(lr.dir);
        t.ref = lr.ref;
        return t;
    }
    if (repository_only) {
        POETRYOPS_TRY(t.ref, registry::parse_repository(text));
    } else {
        POETRYOPS_TRY(t.ref, registry::parse_reference(text));
    }
    if (!a.layout.empty()) {
        t.backend = std::make_unique<registry::LayoutRegistry>(
            a.layout, registry::LayoutOptions{.repository_subdirs = true});
        return t;
    }
    registry::RegistryClientOptions o;
    POETRYOPS_TRY(auto config, detail::load_docker_config(a.registry_config));
    o.docker_config = std::move(config.config);
    auto& host = o.hosts[t.ref.registry];
    host.plain_http = a.plain_http;
    host.ca_file = a.ca_file;
    host.insecure_skip_verify = a.insecure;
    o.max_attempts = 3;
    POETRYOPS_TRY(auto client, registry::RegistryClient::create(std::move(o)));
    t.backend = std::move(client);
    return t;
}

Exit run_resolve(const ImageArgs& a) {
    constexpr std::string_view cmd = "image resolve";
    auto t = open_target(a, a.ref, false);
    if (!t) return report(cmd, t.error());
    auto d = t->backend->resolve(t->ref);
    if (!d) return report_lookup(cmd, d.error());
    registry::Descriptor out = *d;
    if (!a.platform.empty()) {
        auto platform = registry::parse_platform(a.platform);
        if (!platform) return report(cmd, platform.error());
        if (registry::is_index_media_type(d->media_type)) {
            auto by_digest = t->ref;
            by_digest.digest = d->digest;
            auto index = t->backend->get_manifest(by_digest);
            if (!index) return report_lookup(cmd, index.error());
            auto child = registry::select_platform(*index, *platform);
            if (!child) return report_lookup(cmd, child.error());
            out = *child;
        }
    }
    if (a.format == "json") {
        json j = {{"reference", display(t->ref)},
                  {"digest", out.digest},
                  {"mediaType", out.media_type},
                  {"size", out.size}};
        if (out.platform) j["platform"] = out.platform->str();
        if (out.digest != d->digest) j["indexDigest"] = d->digest;
        std::cout << j.dump() << '\n';
    } else {
        std::cout << out.digest << '\n';
    }
    return Exit::ok;
}

Exit run_tags(const ImageArgs& a) {
    constexpr std::string_view cmd = "image tags";
    std::optional<registry::CompiledPolicy> policy;
    if (!a.policy.empty() || a.newest) {
        auto p = registry::VersionPolicy::parse(a.policy.empty() ? "semver:*" : a.policy);
        if (!p) return report(cmd, p.error());
        auto c = registry::CompiledPolicy::compile(*p);
        if (!c) return report(cmd, c.error());
        policy.emplace(std::move(c).value());
    }
    auto t = open_target(a, a.ref, true);
    if (!t) return report(cmd, t.error());
    auto tags = t->backend->list_tags(t->ref);
    if (!tags) return report_lookup(cmd, tags.error());
    std::vector<registry::Candidate> chosen;
    if (policy) {
        chosen = policy->select(*tags);
        if (a.newest && !chosen.empty()) chosen = {chosen.back()};
    } else {
        for (const auto& tag : *tags) chosen.push_back({tag, ""});
    }
    if (a.format == "json") {
        json list = json::array();
        for (const auto& c : chosen) {
            list.push_back(policy ? json{{"tag", c.tag}, {"version", c.version}} : json(c.tag));
        }
        std::cout << json{{"repository", t->ref.name()}, {"tags", list}}.dump() << '\n';
    } else {
        for (const auto& c : chosen) std::cout << c.tag << '\n';
    }
    if (policy && chosen.empty()) {
        say(cmd, "no tag of " + display(t->ref) + " matches the policy");
        return Exit::findings;
    }
    return Exit::ok;
}

Exit run_tag(const ImageArgs& a) {
    constexpr std::string_view cmd = "image tag";
    auto t = open_target(a, a.ref, false);
    if (!t) return report(cmd, t.error());
    auto d = registry::retag(*t->backend, t->ref, a.new_tag);
    if (!d) return report_lookup(cmd, d.error());
    auto target = t->ref;
    target.tag = a.new_tag;
    target.digest = d->digest;
    if (a.format == "json") {
        std::cout << json{{"source", display(t->ref)},
                          {"target", display(target)},
                          {"digest", d->digest},
                          {"mediaType", d->media_type}}
                         .dump()
                  << '\n';
    } else {
        std::cout << display(target) << '\n';
    }
    return Exit::ok;
}

// Flags spelled as in `run` and `controller` (--registry-ca-file, --registry-layout) and as in
// `dockerfile lint` (--format); the spellings of the first releases (--ca-file, --layout,
// --output/-o) still work but are no longer shown.
void add_common(CLI::App* sub, ImageArgs& a) {
    sub->add_flag("--plain-http", a.plain_http,
                  "Talk plain HTTP to the registry (never a fallback)");
    sub->add_option("--registry-ca-file", a.ca_file,
                    "Trust only this CA bundle (PEM) for the registry")
        ->check(CLI::ExistingFile);
    sub->add_option("--ca-file", a.ca_file, "")->check(CLI::ExistingFile)->group("");
    sub->add_flag("--insecure", a.insecure, "Skip TLS certificate verification (explicit opt-in)");
    sub->add_option(
        "--registry-config", a.registry_config,
        "Docker config.json / .dockerconfigjson with credentials (default: $DOCKER_CONFIG or "
        "~/.docker/config.json when present)");
    sub->add_option("--format", a.format, "text|json")->check(CLI::IsMember({"text", "json"}));
    sub->add_option("-o,--output", a.format, "")->check(CLI::IsMember({"text", "json"}))->group("");
    sub->add_option("--registry-layout", a.layout,
                    "Serve every repository from this OCI image-layout root (DIR/<repository>)");
    sub->add_option("--layout", a.layout, "")->group("");
}

}  // namespace

void add_image_command(CLI::App& app, Context& ctx) {
    auto* image = app.add_subcommand(
        "image", "Resolve, list and retag images in a registry or an OCI layout");
    image->require_subcommand(1);
    auto args = std::make_shared<ImageArgs>();

    auto* resolve = image->add_subcommand(
        "resolve", "Print the digest a reference points at (REF or oci:DIR:TAG)");
    resolve->add_option("REF", args->ref, "Image reference")->required();
    resolve->add_option("--platform", args->platform,
                        "For an index: the child for os/arch[/variant]");
    add_common(resolve, *args);
    resolve->callback([args, &ctx] { ctx.exit = run_resolve(*args); });

    auto* tags = image->add_subcommand(
        "tags", "List tags, one per line; optionally filtered by a version policy");
    tags->add_option("REPO", args->ref, "Repository (no tag)")->required();
    tags->add_option("--policy", args->policy,
                     "Version policy, e.g. 'semver:^1.2' or 'pep440:~=1.4' (docs/registry.md)");
    tags->add_flag("--newest", args->newest, "Print only the newest matching tag");
    add_common(tags, *args);
    tags->callback([args, &ctx] { ctx.exit = run_tags(*args); });

    auto* tag = image->add_subcommand(
        "tag", "Put the manifest REF points at under NEWTAG in the same repository");
    tag->add_option("REF", args->ref, "Source reference")->required();
    tag->add_option("NEWTAG", args->new_tag, "New tag")->required();
    add_common(tag, *args);
    tag->callback([args, &ctx] { ctx.exit = run_tag(*args); });
}

}  // namespace poetryops::cli

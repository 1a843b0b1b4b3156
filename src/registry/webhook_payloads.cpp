// Mapping of each webhook flavour's JSON to PushEvents.
#include <poetryops/registry/webhook.hpp>

#include <poetryops/oci/grammar.hpp>

#include <poetryops/registry/reference.hpp>
#include <poetryops/registry/registry.hpp>

#include <nlohmann/json.hpp>

namespace poetryops::registry {
namespace {

using nlohmann::json;

std::string str_at(const json& j, std::string_view key) {
    if (!j.is_object()) return {};
    auto it = j.find(std::string(key));
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json& obj_at(const json& j, std::string_view key) {
    static const json empty = json::object();
    if (!j.is_object()) return empty;
    auto it = j.find(std::string(key));
    return it != j.end() && it->is_object() ? *it : empty;
}

// "http://127.0.0.1:5000/v2/…" or "harbor.example.com/library/app:1" -> the host part.
std::string host_of(std::string_view url) {
    if (auto scheme = url.find("://"); scheme != std::string_view::npos)
        url = url.substr(scheme + 3);
    return normalize_registry_host(url.substr(0, url.find('/')));
}

// Validates and normalises an event; the whole payload is refused when one push is malformed.
Result<PushEvent> finish(PushEvent e) {
    if (e.registry.empty()) {
        return fail(Error::Kind::invalid,
                    e.source + " webhook: push event for '" + e.repository + "' names no registry");
    }
    auto repo = parse_repository(e.registry + "/" + e.repository);
    if (!repo) return fail(Error::Kind::invalid, e.source + " webhook: " + repo.error().message);
    e.registry = normalize_registry_host(e.registry);
    e.repository = repo->repository;
    if (!e.tag.empty() && !oci::is_valid_tag(e.tag)) {
        return fail(Error::Kind::invalid, e.source + " webhook: invalid tag '" + e.tag + "'");
    }
    if (!e.digest.empty()) {
        if (auto d = oci::validate_digest(e.digest); !d) {
            return fail(Error::Kind::invalid, e.source + " webhook: " + d.error().message);
        }
    }
    if (e.tag.empty() && e.digest.empty()) {
        return fail(Error::Kind::invalid, e.source + " webhook: push event for '" + e.repository +
                                              "' has neither tag nor digest");
    }
    return e;
}

Result<std::vector<PushEvent>> from_distribution(const json& j) {
    std::vector<PushEvent> out;
    const auto& events = j.at("events");
    if (!events.is_array())
        return fail(Error::Kind::decode, "distribution webhook: 'events' is not an array");
    for (const auto& ev : events) {
        if (str_at(ev, "action") != "push")
            continue;  // pull events come from every HEAD/GET of a manifest
        const auto& target = obj_at(ev, "target");
        auto media_type = str_at(target, "mediaType");
        if (!is_manifest_media_type(media_type)) continue;  // layer and config blob pushes
        PushEvent e;
        e.source = "distribution";
        e.media_type = media_type;
        e.repository = str_at(target, "repository");
        e.tag = str_at(target, "tag");
        e.digest = str_at(target, "digest");
        auto url = str_at(target, "url");
        e.registry = !url.empty() ? host_of(url) : str_at(obj_at(ev, "request"), "host");
        POETRYOPS_TRY(auto done, finish(std::move(e)));
        out.push_back(std::move(done));
    }
    return out;
}

Result<std::vector<PushEvent>> from_docker_hub(const json& j) {
    PushEvent e;
    e.source = "dockerhub";
    e.registry = "docker.io";
    e.repository = str_at(obj_at(j, "repository"), "repo_name");
    e.tag = str_at(obj_at(j, "push_data"), "tag");
    if (e.repository.empty())
        return fail(Error::Kind::decode, "Docker Hub webhook: repository.repo_name is missing");
    POETRYOPS_TRY(auto done, finish(std::move(e)));
    return std::vector<PushEvent>{std::move(done)};
}

Result<std::vector<PushEvent>> from_github(const json& j) {
    auto action = str_at(j, "action");
    const json& pkg =
        j.contains("registry_package") ? obj_at(j, "registry_package") : obj_at(j, "package");
    auto type = pkg.is_object() ? str_at(pkg, "package_type") : std::string();
    for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if ((action != "published" && action != "updated") ||
        (type != "container" && type != "docker")) {
        return std::vector<PushEvent>{};
    }
    const auto& version = obj_at(pkg, "package_version");
    const auto& tag = obj_at(obj_at(version, "container_metadata"), "tag");
    PushEvent e;
    e.source = "github";
    e.registry = "ghcr.io";
    auto owner = str_at(obj_at(pkg, "owner"), "login");
    if (owner.empty()) owner = str_at(pkg, "namespace");
    auto name = str_at(pkg, "name");
    if (owner.empty() || name.empty()) {
        return fail(Error::Kind::decode, "GitHub webhook: package owner.login or name is missing");
    }
    for (auto& c : owner) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    e.repository = owner + "/" + name;
    e.tag = str_at(tag, "name");
    e.digest = str_at(tag, "digest");
    if (e.digest.empty() && str_at(version, "version").rfind("sha256:", 0) == 0)
        e.digest = str_at(version, "version");
    if (auto url = str_at(version, "package_url"); !url.empty()) e.registry = host_of(url);
    POETRYOPS_TRY(auto done, finish(std::move(e)));
    return std::vector<PushEvent>{std::move(done)};
}

Result<std::vector<PushEvent>> from_harbor(const json& j) {
    if (str_at(j, "type") != "PUSH_ARTIFACT") return std::vector<PushEvent>{};
    const auto& data = obj_at(j, "event_data");
    auto repo = str_at(obj_at(data, "repository"), "repo_full_name");
    if (!data.contains("resources") || !data["resources"].is_array() || repo.empty()) {
        return fail(Error::Kind::decode,
                    "Harbor webhook: event_data.resources or repository.repo_full_name is missing");
    }
    std::vector<PushEvent> out;
    for (const auto& r : data["resources"]) {
        PushEvent e;
        e.source = "harbor";
        e.repository = repo;
        e.tag = str_at(r, "tag");
        e.digest = str_at(r, "digest");
        e.registry = host_of(str_at(r, "resource_url"));
        POETRYOPS_TRY(auto done, finish(std::move(e)));
        out.push_back(std::move(done));
    }
    return out;
}

Result<std::vector<PushEvent>> from_quay(const json& j) {
    auto docker_url = str_at(j, "docker_url");
    auto repo = str_at(j, "repository");
    if (docker_url.empty() || repo.empty() || !j.contains("updated_tags") ||
        !j["updated_tags"].is_array()) {
        return fail(Error::Kind::decode,
                    "Quay webhook: docker_url, repository or updated_tags is missing");
    }
    std::vector<PushEvent> out;
    for (const auto& t : j["updated_tags"]) {
        if (!t.is_string())
            return fail(Error::Kind::decode, "Quay webhook: updated_tags holds a non-string");
        PushEvent e;
        e.source = "quay";
        e.registry = host_of(docker_url);
        e.repository = repo;
        e.tag = t.get<std::string>();
        POETRYOPS_TRY(auto done, finish(std::move(e)));
        out.push_back(std::move(done));
    }
    return out;
}

Result<std::vector<PushEvent>> from_cloudevent(const json& ev) {
    if (str_at(ev, "specversion") != "1.0") {
        return fail(Error::Kind::decode, "CloudEvents webhook: specversion must be \"1.0\"");
    }
    if (str_at(ev, "type") != cloudevent_push_type) return std::vector<PushEvent>{};
    const auto& data = obj_at(ev, "data");
    PushEvent e;
    e.source = "cloudevents";
    if (auto image = str_at(data, "image"); !image.empty()) {
        auto ref = parse_reference(image);
        if (!ref) return fail(Error::Kind::invalid, "CloudEvents webhook: " + ref.error().message);
        e.registry = ref->registry;
        e.repository = ref->repository;
        e.tag = ref->tag;
        e.digest = ref->digest;
    } else {
        e.registry = str_at(data, "registry");
        e.repository = str_at(data, "repository");
        e.tag = str_at(data, "tag");
        e.digest = str_at(data, "digest");
    }
    e.media_type = str_at(data, "mediaType");
    POETRYOPS_TRY(auto done, finish(std::move(e)));
    return std::vector<PushEvent>{std::move(done)};
}

WebhookFormat detect(const json& j) {
    if (j.is_array()) return WebhookFormat::cloudevents;  // a CloudEvents batch
    if (!j.is_object()) return WebhookFormat::auto_detect;
    if (j.contains("events")) return WebhookFormat::distribution;
    if (j.contains("specversion")) return WebhookFormat::cloudevents;
    if (j.contains("push_data")) return WebhookFormat::docker_hub;
    if (j.contains("registry_package") || j.contains("package")) return WebhookFormat::github;
    if (j.contains("event_data") && j.contains("type")) return WebhookFormat::harbor;
    if (j.contains("updated_tags") || j.contains("docker_url")) return WebhookFormat::quay;
    return WebhookFormat::auto_detect;
}

}  // namespace

Result<std::vector<PushEvent>> parse_webhook(std::string_view body, WebhookFormat format) {
    try {
        auto j = json::parse(body);
        if (format == WebhookFormat::auto_detect) format = detect(j);
        switch (format) {
            case WebhookFormat::distribution: return from_distribution(j);
            case WebhookFormat::docker_hub: return from_docker_hub(j);
            case WebhookFormat::github: return from_github(j);
            case WebhookFormat::harbor: return from_harbor(j);
            case WebhookFormat::quay: return from_quay(j);
            case WebhookFormat::cloudevents: {
                std::vector<PushEvent> out;
                for (const auto& ev : j.is_array() ? j : json::array({j})) {
                    POETRYOPS_TRY(auto some, from_cloudevent(ev));
                    out.insert(out.end(), some.begin(), some.end());
                }
                return out;
            }
            case WebhookFormat::auto_detect: break;
        }
        return fail(Error::Kind::decode,
                    "webhook payload is of no known form (distribution, Docker Hub, GitHub, "
                    "Harbor, Quay, CloudEvents)");
    } catch (const json::exception& e) {
        return fail(Error::Kind::decode,
                    std::string("webhook payload is not valid JSON: ") + e.what());
    }
}

}  // namespace poetryops::registry

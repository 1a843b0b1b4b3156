#include <poetryops/registry/client.hpp>

#include "detail/session.hpp"

#include <poetryops/oci/grammar.hpp>
#include <poetryops/util/strings.hpp>

#include <nlohmann/json.hpp>

#include <ctime>
#include <set>

namespace poetryops::registry {

using detail::Call;
using detail::media_type_of;
using detail::registry_error;

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           Clock::time_point now) {
    auto v = str::trim(value);
    if (v.empty()) return std::nullopt;
    if (v.find_first_not_of("0123456789") == std::string_view::npos) {
        if (v.size() > 9) return std::chrono::milliseconds(std::chrono::hours(24 * 365));
        return std::chrono::milliseconds(std::stoll(std::string(v)) * 1000);
    }
    std::tm tm{};
    std::string s(v);
    if (strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr) return std::nullopt;
    auto at = std::chrono::system_clock::from_time_t(timegm(&tm));
    auto d = std::chrono::duration_cast<std::chrono::milliseconds>(at - now);
    return d.count() < 0 ? std::chrono::milliseconds(0) : d;
}

std::string parse_link_next(std::string_view link) {
    // Link: </v2/x/tags/list?last=b&n=2>; rel="next", <…>; rel="prev"
    std::size_t i = 0;
    while (i < link.size()) {
        auto open = link.find('<', i);
        if (open == std::string_view::npos) break;
        auto close = link.find('>', open);
        if (close == std::string_view::npos) break;
        auto target = link.substr(open + 1, close - open - 1);
        auto next_entry = link.find('<', close);
        auto params =
            link.substr(close + 1, next_entry == std::string_view::npos ? std::string_view::npos
                                                                        : next_entry - close - 1);
        for (const auto& p : str::split(params, ';')) {
            auto kv = str::trim(p);
            auto eq = kv.find('=');
            if (eq == std::string_view::npos) continue;
            auto key = str::to_lower(str::trim(kv.substr(0, eq)));
            auto val = std::string(str::trim(kv.substr(eq + 1)));
            if (val.size() >= 2 && val.front() == '"') val = val.substr(1, val.size() - 2);
            if (key == "rel") {
                for (const auto& r : str::split_nonempty(val, ' ')) {
                    if (str::iequals(r, "next")) return std::string(target);
                }
            }
        }
        i = close + 1;
    }
    return {};
}

class RegistryClient::Impl {
public:
    explicit Impl(RegistryClientOptions o) : session(std::move(o)) {}
    detail::Session session;
};

RegistryClient::RegistryClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RegistryClient::~RegistryClient() = default;

Result<std::unique_ptr<RegistryClient>> RegistryClient::create(RegistryClientOptions options) {
    for (const auto& [host, cfg] : options.hosts) {
        if (!cfg.ca_file.empty() && cfg.plain_http) {
            return fail(Error::Kind::invalid,
                        "registry " + host + ": a CA file makes no sense with plain HTTP");
        }
    }
    return std::unique_ptr<RegistryClient>(
        new RegistryClient(std::make_unique<Impl>(std::move(options))));
}

std::uint64_t RegistryClient::requests_sent() const { return impl_->session.requests(); }
std::uint64_t RegistryClient::connections_opened() const { return impl_->session.connections(); }

namespace {

Result<void> check_repo(const Reference& ref) {
    if (ref.repository.empty() || ref.registry.empty()) {
        return fail(Error::Kind::invalid,
                    "reference '" + ref.str() + "' has no registry or repository");
    }
    return ok();
}

std::string manifest_path(const Reference& ref, std::string_view id) {
    return "/v2/" + ref.repository + "/manifests/" + std::string(id);
}

std::string pull_scope(const Reference& ref) { return "repository:" + ref.repository + ":pull"; }

/// A GET or HEAD of `ref`'s manifest (by tag or digest), accepting every manifest and index type we
/// read.
Call manifest_read(const Reference& ref, const char* method) {
    Call call;
    call.registry = ref.registry;
    call.method = method;
    call.target = manifest_path(ref, ref.identifier());
    call.headers.set("Accept", std::string(media::manifest_accept));
    call.scope = pull_scope(ref);
    return call;
}

// The media type of manifest bytes: Content-Type when it is a manifest type; a generic JSON type is
// accepted when the body declares a manifest mediaType itself.
Result<std::string> manifest_media_type(const http::Response& resp, const std::string& body,
                                        std::string_view what) {
    auto ct = media_type_of(resp.headers.get_or("Content-Type"));
    if (is_manifest_media_type(ct)) return ct;
    std::string declared;
    try {
        auto j = nlohmann::json::parse(body);
        if (j.is_object() && j.contains("mediaType") && j["mediaType"].is_string())
            declared = j["mediaType"];
    } catch (const std::exception&) {
    }
    if ((ct.empty() || ct == "application/json") && is_manifest_media_type(declared))
        return declared;
    return fail(Error::Kind::invalid,
                std::string(what) + ": unsupported content type '" + ct +
                    "' (expected an OCI or Docker schema 2 manifest or index)",
                "UNSUPPORTED_MEDIA_TYPE");
}

}  // namespace

Result<Manifest> RegistryClient::get_manifest(const Reference& ref) {
    POETRYOPS_TRY_VOID(check_repo(ref));
    auto& s = impl_->session;
    Call call = manifest_read(ref, "GET");
    const std::string what = "manifest " + ref.str();
    auto resp = s.send(call);
    if (!resp) {
        auto e = std::move(resp).error();
        if (e.kind == Error::Kind::invalid && e.message.find("exceed") != std::string::npos) {
            e.message = what + ": response larger than " +
                        std::to_string(s.options().max_response_bytes) + " bytes";
        }
        return fail(std::move(e));
    }
    if (resp->status != 200) return fail(registry_error(*resp, "GET " + what));
    if (resp->body.size() > s.options().max_manifest_bytes) {
        return fail(Error::Kind::invalid, what + ": manifest of " +
                                              std::to_string(resp->body.size()) +
                                              " bytes exceeds the limit of " +
                                              std::to_string(s.options().max_manifest_bytes));
    }
    Manifest m;
    POETRYOPS_TRY(m.media_type, manifest_media_type(*resp, resp->body, what));
    try {
        auto j = nlohmann::json::parse(resp->body);
        if (!j.is_object()) throw std::runtime_error("not an object");
    } catch (const std::exception&) {
        return fail(Error::Kind::decode, what + ": the manifest is not a JSON object");
    }
    auto header_digest = resp->headers.get_or("Docker-Content-Digest");
    if (!ref.digest.empty()) POETRYOPS_TRY_VOID(verify_digest(resp->body, ref.digest, what));
    if (!header_digest.empty()) {
        if (auto valid = oci::validate_digest(header_digest); !valid) {
            return fail(Error::Kind::invalid,
                        what + ": registry sent a malformed Docker-Content-Digest: " +
                            valid.error().message);
        }
        POETRYOPS_TRY_VOID(verify_digest(resp->body, header_digest, what));
    }
    m.digest = !ref.digest.empty()
                   ? ref.digest
                   : (!header_digest.empty() ? header_digest : compute_digest(resp->body));
    m.bytes = std::move(resp->body);
    return m;
}

Result<Descriptor> RegistryClient::resolve(const Reference& ref) {
    POETRYOPS_TRY_VOID(check_repo(ref));
    auto& s = impl_->session;
    Call call = manifest_read(ref, "HEAD");
    POETRYOPS_TRY(auto resp, s.send(call));
    if (resp.status == 200) {
        auto digest = resp.headers.get_or("Docker-Content-Digest");
        auto ct = media_type_of(resp.headers.get_or("Content-Type"));
        if (!digest.empty() && oci::validate_digest(digest) && is_manifest_media_type(ct)) {
            if (!ref.digest.empty() && digest != ref.digest) {
                return fail(Error::Kind::invalid,
                            "manifest " + ref.str() + ": registry reports digest " + digest +
                                ", not the one asked for",
                            "DIGEST_MISMATCH");
            }
            Descriptor d;
            d.digest = digest;
            d.media_type = ct;
            auto len = resp.headers.get_or("Content-Length");
            d.size = !len.empty() && len.find_first_not_of("0123456789") == std::string::npos &&
                             len.size() < 15
                         ? std::stoll(len)
                         : -1;
            return d;
        }
        // No usable digest header: read the bytes and hash them ourselves.
    } else if (resp.status == 401 || resp.status == 403 || resp.status == 404 ||
               resp.status == 429 || resp.status >= 500) {
        // HEAD answers carry no body: name the usual code ourselves.
        Error e = registry_error(resp, "HEAD manifest " + ref.str());
        if (resp.status == 404 && e.reason.empty()) e.reason = "MANIFEST_UNKNOWN";
        return fail(std::move(e));
    }
    POETRYOPS_TRY(Manifest m, get_manifest(ref));
    return m.descriptor();
}

Result<std::vector<std::string>> RegistryClient::list_tags(const Reference& repo) {
    POETRYOPS_TRY_VOID(check_repo(repo));
    auto& s = impl_->session;
    std::vector<std::string> tags;
    std::set<std::string> seen_tags, seen_pages;
    Call call;
    call.registry = repo.registry;
    call.scope = pull_scope(repo);
    call.target = "/v2/" + repo.repository + "/tags/list?n=1000";
    POETRYOPS_TRY(auto base, http::parse_url(s.base_url(repo.registry) + call.target));
    const std::string what = "tags of " + repo.name();
    for (int page = 0;; ++page) {
        if (page >= s.options().max_tag_pages) {
            return fail(
                Error::Kind::invalid,
                what + ": more than " + std::to_string(s.options().max_tag_pages) + " pages");
        }
        POETRYOPS_TRY(auto resp, s.send(call));
        if (resp.status != 200) return fail(registry_error(resp, "GET " + what));
        std::size_t added = 0;
        try {
            auto j = nlohmann::json::parse(resp.body);
            if (!j.is_object()) throw std::runtime_error("not an object");
            auto it = j.find("tags");
            if (it != j.end() && !it->is_null()) {
                if (!it->is_array()) throw std::runtime_error("'tags' is not an array");
                for (const auto& t : *it) {
                    auto tag = t.get<std::string>();
                    if (seen_tags.insert(tag).second) {
                        tags.push_back(tag);
                        ++added;
                    }
                }
            }
        } catch (const std::exception& e) {
            return fail(Error::Kind::decode,
                        what + ": malformed tag list from " + repo.registry + ": " + e.what());
        }
        auto next = parse_link_next(resp.headers.get_or("Link"));
        // Registries that ignore `n`/`last` send everything again: stop when a page brings nothing
        // new.
        if (next.empty() || added == 0) break;
        POETRYOPS_TRY(auto next_url, http::resolve_redirect(base, next));
        if (!http::same_origin(base, next_url)) {
            return fail(Error::Kind::invalid, what + ": pagination link leads to another host (" +
                                                  next_url.host_port() + ")");
        }
        if (!seen_pages.insert(next_url.str()).second) break;
        call.target.clear();
        call.url = next_url.str();
    }
    return tags;
}

Result<Descriptor> RegistryClient::put_manifest(const Reference& repo, std::string_view tag,
                                                std::string_view bytes,
                                                std::string_view media_type) {
    POETRYOPS_TRY_VOID(check_repo(repo));
    if (!oci::is_valid_tag(tag))
        return fail(Error::Kind::invalid, "invalid tag '" + std::string(tag) + "'");
    if (!is_manifest_media_type(media_type)) {
        return fail(Error::Kind::invalid,
                    "media type '" + std::string(media_type) + "' is not a manifest type");
    }
    auto& s = impl_->session;
    Call call;
    call.registry = repo.registry;
    call.method = "PUT";
    call.target = manifest_path(repo, tag);
    call.headers.set("Content-Type", std::string(media_type));
    call.body = std::string(bytes);
    call.scope = "repository:" + repo.repository + ":pull,push";
    const std::string what = "PUT manifest " + repo.name() + ":" + std::string(tag);
    POETRYOPS_TRY(auto resp, s.send(call));
    if (resp.status != 201 && resp.status != 200 && resp.status != 202)
        return fail(registry_error(resp, what));
    Descriptor d;
    d.digest = compute_digest(bytes);
    d.media_type = std::string(media_type);
    d.size = static_cast<std::int64_t>(bytes.size());
    auto reported = resp.headers.get_or("Docker-Content-Digest");
    if (!reported.empty() && reported != d.digest) {
        return fail(
            Error::Kind::invalid,
            what + ": registry stored digest " + reported + " but the bytes hash to " + d.digest,
            "DIGEST_MISMATCH");
    }
    return d;
}

}  // namespace poetryops::registry

#include <poetryops/registry/policy.hpp>

#include <poetryops/python/version.hpp>
#include <poetryops/registry/semver.hpp>
#include <poetryops/util/strings.hpp>

#include <algorithm>
#include <cctype>
#include <regex>

namespace poetryops::registry {

int natural_compare(std::string_view a, std::string_view b) {
    std::size_t i = 0, j = 0;
    auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
    while (i < a.size() && j < b.size()) {
        if (digit(a[i]) && digit(b[j])) {
            std::size_t si = i, sj = j;
            while (si < a.size() && a[si] == '0') ++si;
            while (sj < b.size() && b[sj] == '0') ++sj;
            std::size_t ei = si, ej = sj;
            while (ei < a.size() && digit(a[ei])) ++ei;
            while (ej < b.size() && digit(b[ej])) ++ej;
            if (ei - si != ej - sj) return ei - si < ej - sj ? -1 : 1;
            if (int c = a.substr(si, ei - si).compare(b.substr(sj, ej - sj)); c != 0)
                return c < 0 ? -1 : 1;
            i = ei;
            j = ej;
        } else {
            if (a[i] != b[j]) return a[i] < b[j] ? -1 : 1;
            ++i;
            ++j;
        }
    }
    if (i < a.size()) return 1;
    if (j < b.size()) return -1;
    return 0;
}

Result<VersionPolicy> VersionPolicy::parse(std::string_view spec) {
    VersionPolicy p;
    std::string_view rest = str::trim(spec);
    bool scheme_set = false;
    while (!rest.empty()) {
        if (rest.substr(0, 6) == "regex:") {
            p.pattern = std::string(rest.substr(6));
            if (p.pattern.empty())
                return fail(Error::Kind::invalid, "policy clause 'regex:' has no pattern");
            break;
        }
        auto semi = rest.find(';');
        auto clause = str::trim(rest.substr(0, semi));
        rest =
            semi == std::string_view::npos ? std::string_view() : str::trim(rest.substr(semi + 1));
        if (clause.empty()) continue;
        auto set_scheme = [&](VersionScheme s, std::string_view range) -> Result<void> {
            if (scheme_set) {
                return fail(Error::Kind::invalid, "policy '" + std::string(spec) +
                                                      "' names more than one version scheme");
            }
            scheme_set = true;
            p.scheme = s;
            p.range = std::string(str::trim(range));
            return ok();
        };
        if (clause.substr(0, 7) == "semver:") {
            POETRYOPS_TRY_VOID(set_scheme(VersionScheme::semver, clause.substr(7)));
        } else if (clause.substr(0, 7) == "pep440:") {
            POETRYOPS_TRY_VOID(set_scheme(VersionScheme::pep440, clause.substr(7)));
        } else if (clause == "natural") {
            POETRYOPS_TRY_VOID(set_scheme(VersionScheme::natural, ""));
        } else if (clause == "prerelease" || clause == "prereleases") {
            p.include_prereleases = true;
        } else if (clause.find(':') != std::string_view::npos &&
                   clause.find_first_of("<>=~^!") > clause.find(':')) {
            return fail(Error::Kind::invalid,
                        "unknown policy clause '" + std::string(clause) +
                            "' (expected semver:, pep440:, natural, prerelease, regex:)");
        } else {
            bool pep = clause.find("~=") != std::string_view::npos ||
                       clause.find("==") != std::string_view::npos ||
                       clause.find("!=") != std::string_view::npos;
            POETRYOPS_TRY_VOID(
                set_scheme(pep ? VersionScheme::pep440 : VersionScheme::semver, clause));
        }
    }
    if (p.scheme == VersionScheme::natural && !p.range.empty()) {
        return fail(Error::Kind::invalid, "the natural scheme takes no range");
    }
    return p;
}

struct CompiledPolicy::Impl {
    VersionPolicy policy;
    std::optional<std::regex> re;
    std::optional<SemverRange> semver;
    std::optional<Pep440Specifiers> pep;
};

CompiledPolicy::CompiledPolicy() : impl_(std::make_unique<Impl>()) {}
CompiledPolicy::CompiledPolicy(CompiledPolicy&&) noexcept = default;
CompiledPolicy& CompiledPolicy::operator=(CompiledPolicy&&) noexcept = default;
CompiledPolicy::~CompiledPolicy() = default;

Result<CompiledPolicy> CompiledPolicy::compile(const VersionPolicy& policy) {
    CompiledPolicy c;
    c.impl_->policy = policy;
    if (!policy.pattern.empty()) {
        try {
            c.impl_->re.emplace(policy.pattern, std::regex::ECMAScript);
        } catch (const std::regex_error& e) {
            return fail(Error::Kind::invalid,
                        "invalid policy regex '" + policy.pattern + "': " + e.what());
        }
        if (c.impl_->re->mark_count() > 1) {
            return fail(Error::Kind::invalid,
                        "policy regex '" + policy.pattern +
                            "' has more than one capture group; use (?:…) for grouping");
        }
    }
    if (policy.scheme == VersionScheme::semver) {
        auto r = SemverRange::parse(policy.range.empty() ? "*" : policy.range);
        if (!r)
            return fail(Error::Kind::invalid,
                        "invalid semver range '" + policy.range + "': " + r.error().message);
        c.impl_->semver.emplace(std::move(r).value());
    } else if (policy.scheme == VersionScheme::pep440 && !policy.range.empty()) {
        POETRYOPS_TRY(auto specs, Pep440Specifiers::parse(policy.range));
        c.impl_->pep.emplace(std::move(specs));
    }
    return c;
}

std::optional<std::string> CompiledPolicy::accept(std::string_view tag) const {
    std::string version(tag);
    if (impl_->re) {
        std::cmatch m;
        if (!std::regex_search(tag.data(), tag.data() + tag.size(), m, *impl_->re))
            return std::nullopt;
        version = m.size() > 1 ? m[1].str() : m[0].str();
        if (version.empty()) return std::nullopt;
    }
    const auto& p = impl_->policy;
    switch (p.scheme) {
        case VersionScheme::semver: {
            auto v = parse_semver(version);
            if (!v || !impl_->semver->matches(*v, p.include_prereleases)) return std::nullopt;
            break;
        }
        case VersionScheme::pep440: {
            if (impl_->pep) {
                if (!impl_->pep->matches(version, p.include_prereleases)) return std::nullopt;
            } else {
                auto v = python::parse_version(version);
                if (!v || (v->is_prerelease() && !p.include_prereleases)) return std::nullopt;
            }
            break;
        }
        case VersionScheme::natural: break;
    }
    return version;
}

std::vector<Candidate> CompiledPolicy::select(const std::vector<std::string>& tags) const {
    std::vector<Candidate> out;
    for (const auto& t : tags) {
        if (auto v = accept(t)) out.push_back(Candidate{t, std::move(*v)});
    }
    auto scheme = impl_->policy.scheme;
    auto less = [scheme](const Candidate& a, const Candidate& b) {
        int c = 0;
        if (scheme == VersionScheme::semver) {
            auto r = compare(*parse_semver(a.version), *parse_semver(b.version));
            c = r < 0 ? -1 : (r > 0 ? 1 : 0);
        } else if (scheme == VersionScheme::pep440) {
            auto r = python::compare(*python::parse_version(a.version),
                                     *python::parse_version(b.version));
            c = r < 0 ? -1 : (r > 0 ? 1 : 0);
        } else {
            c = natural_compare(a.version, b.version);
        }
        return c != 0 ? c < 0 : a.tag < b.tag;
    };
    std::sort(out.begin(), out.end(), less);
    return out;
}

std::optional<Candidate> CompiledPolicy::newest(const std::vector<std::string>& tags) const {
    auto all = select(tags);
    if (all.empty()) return std::nullopt;
    return all.back();
}

}  // namespace poetryops::registry

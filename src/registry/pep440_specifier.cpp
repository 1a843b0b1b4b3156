// PEP 440 "Version specifiers" on top of python::Version (parsing and ordering live in the python
// module).
#include <poetryops/registry/policy.hpp>

#include <poetryops/python/version.hpp>
#include <poetryops/util/strings.hpp>

namespace poetryops::registry {
namespace {

using python::Version;

enum class Op { compatible, equal, not_equal, le, ge, lt, gt, arbitrary };

struct Spec {
    Op op = Op::equal;
    bool wildcard = false;
    std::string text;  // for ===
    Version version;
};

Version base_of(const Version& v) {
    Version b;
    b.epoch = v.epoch;
    b.release = v.release;
    return b;
}

Version public_of(Version v) {
    v.local.clear();
    return v;
}

bool prefix_match(const Version& prefix, const Version& candidate) {
    if (prefix.epoch != candidate.epoch) return false;
    for (std::size_t i = 0; i < prefix.release.size(); ++i) {
        long long c = i < candidate.release.size() ? candidate.release[i] : 0;
        if (c != prefix.release[i]) return false;
    }
    return true;
}

bool spec_matches(const Spec& s, const Version& v, std::string_view raw) {
    switch (s.op) {
        case Op::arbitrary: return str::iequals(str::trim(raw), s.text);
        case Op::equal:
            if (s.wildcard) return prefix_match(s.version, v);
            return s.version.local.empty() ? public_of(v) == s.version : v == s.version;
        case Op::not_equal:
            if (s.wildcard) return !prefix_match(s.version, v);
            return !(s.version.local.empty() ? public_of(v) == s.version : v == s.version);
        case Op::le: return public_of(v) <= s.version;
        case Op::ge: return public_of(v) >= s.version;
        case Op::lt:
            if (!(public_of(v) < s.version)) return false;
            return s.version.is_prerelease() || !v.is_prerelease() ||
                   base_of(v) != base_of(s.version);
        case Op::gt:
            if (!(public_of(v) > s.version)) return false;
            if (!s.version.post && v.post && base_of(v) == base_of(s.version)) return false;
            return v.local.empty() || base_of(v) != base_of(s.version);
        case Op::compatible: {
            Version prefix = base_of(s.version);
            prefix.release.pop_back();
            return public_of(v) >= s.version && prefix_match(prefix, v);
        }
    }
    return false;
}

}  // namespace

struct Pep440Specifiers::Impl {
    std::vector<Spec> specs;
    bool names_prerelease = false;
};

Pep440Specifiers::Pep440Specifiers() : impl_(std::make_unique<Impl>()) {}
Pep440Specifiers::Pep440Specifiers(Pep440Specifiers&&) noexcept = default;
Pep440Specifiers& Pep440Specifiers::operator=(Pep440Specifiers&&) noexcept = default;
Pep440Specifiers::~Pep440Specifiers() = default;

Result<Pep440Specifiers> Pep440Specifiers::parse(std::string_view text) {
    Pep440Specifiers out;
    for (const auto& clause : str::split_nonempty(text, ',')) {
        static const std::pair<std::string_view, Op> ops[] = {
            {"===", Op::arbitrary}, {"~=", Op::compatible}, {"==", Op::equal},
            {"!=", Op::not_equal},  {"<=", Op::le},         {">=", Op::ge},
            {"<", Op::lt},          {">", Op::gt}};
        Spec spec;
        std::string_view rest;
        bool found = false;
        for (const auto& [token, op] : ops) {
            if (std::string_view(clause).substr(0, token.size()) == token) {
                spec.op = op;
                rest = str::trim(std::string_view(clause).substr(token.size()));
                found = true;
                break;
            }
        }
        if (!found) {
            return fail(Error::Kind::invalid,
                        "PEP 440 specifier '" + clause +
                            "' has no operator (~=, ==, !=, <=, >=, <, >, ===)");
        }
        if (rest.empty())
            return fail(Error::Kind::invalid, "PEP 440 specifier '" + clause + "' has no version");
        if (spec.op == Op::arbitrary) {
            spec.text = std::string(rest);
            out.impl_->specs.push_back(std::move(spec));
            continue;
        }
        if (rest.size() > 2 && rest.substr(rest.size() - 2) == ".*") {
            if (spec.op != Op::equal && spec.op != Op::not_equal) {
                return fail(Error::Kind::invalid, "PEP 440 specifier '" + clause +
                                                      "': '.*' is only allowed with == and !=");
            }
            spec.wildcard = true;
            rest = rest.substr(0, rest.size() - 2);
        }
        auto v = python::parse_version(rest);
        if (!v)
            return fail(Error::Kind::invalid,
                        "PEP 440 specifier '" + clause + "': " + v.error().message);
        spec.version = std::move(v).value();
        if (spec.wildcard && (spec.version.pre || spec.version.post || spec.version.dev ||
                              !spec.version.local.empty())) {
            return fail(Error::Kind::invalid,
                        "PEP 440 specifier '" + clause + "': a '.*' prefix must be a release");
        }
        if (spec.op == Op::compatible && spec.version.release.size() < 2) {
            return fail(Error::Kind::invalid, "PEP 440 specifier '" + clause +
                                                  "': ~= needs at least two release numbers");
        }
        if (!spec.version.local.empty() && spec.op != Op::equal && spec.op != Op::not_equal) {
            return fail(Error::Kind::invalid,
                        "PEP 440 specifier '" + clause +
                            "': a local version is only allowed with == and !=");
        }
        if (spec.op != Op::not_equal && spec.version.is_prerelease())
            out.impl_->names_prerelease = true;
        out.impl_->specs.push_back(std::move(spec));
    }
    return out;
}

bool Pep440Specifiers::matches(std::string_view version, bool include_prereleases) const {
    auto v = python::parse_version(version);
    if (!v) return false;
    if (v->is_prerelease() && !include_prereleases && !impl_->names_prerelease) return false;
    for (const auto& s : impl_->specs) {
        if (!spec_matches(s, *v, version)) return false;
    }
    return true;
}

}  // namespace poetryops::registry

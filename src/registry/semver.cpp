#include <poetryops/registry/semver.hpp>

#include <poetryops/util/strings.hpp>

#include <cctype>
#include <optional>

namespace poetryops::registry {
namespace {

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    }
    return true;
}

bool parse_number(std::string_view s, std::uint64_t& out) {
    if (!all_digits(s) || (s.size() > 1 && s[0] == '0') || s.size() > 18) return false;
    out = std::stoull(std::string(s));
    return true;
}

bool valid_identifier(std::string_view s, bool numeric_leading_zero_check) {
    if (s.empty()) return false;
    for (char c : s) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    if (numeric_leading_zero_check && all_digits(s) && s.size() > 1 && s[0] == '0') return false;
    return true;
}

Error bad(std::string_view text, std::string_view why) {
    return Error::make(Error::Kind::invalid,
                       "invalid semantic version '" + std::string(text) + "': " + std::string(why));
}

// A version with wildcards: nullopt components are 'x'.
struct Partial {
    std::optional<std::uint64_t> major, minor, patch;
    std::vector<std::string> pre;
    SemVer floor() const {
        return SemVer{major.value_or(0), minor.value_or(0), patch.value_or(0), pre, {}};
    }
};

Result<Partial> parse_partial(std::string_view text, std::string_view whole) {
    std::string_view s = text;
    if (!s.empty() && (s[0] == 'v' || s[0] == 'V')) s.remove_prefix(1);
    Partial p;
    if (s.empty() || s == "*" || s == "x" || s == "X") return p;
    std::string_view core = s;
    if (auto plus = core.find('+'); plus != std::string_view::npos) core = core.substr(0, plus);
    std::string_view pre;
    if (auto dash = core.find('-'); dash != std::string_view::npos) {
        pre = core.substr(dash + 1);
        core = core.substr(0, dash);
    }
    auto parts = str::split(core, '.');
    if (parts.size() > 3) return bad(whole, "more than three numeric parts");
    std::optional<std::uint64_t>* slots[] = {&p.major, &p.minor, &p.patch};
    bool wild = false;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (parts[i] == "x" || parts[i] == "X" || parts[i] == "*") {
            wild = true;
            continue;
        }
        std::uint64_t n = 0;
        if (wild || !parse_number(parts[i], n))
            return bad(whole, "'" + parts[i] + "' is not a version number");
        *slots[i] = n;
    }
    if (!pre.empty()) {
        if (!p.patch) return bad(whole, "a pre-release needs major.minor.patch");
        for (const auto& id : str::split(pre, '.')) {
            if (!valid_identifier(id, true))
                return bad(whole, "bad pre-release identifier '" + id + "'");
            p.pre.push_back(id);
        }
    }
    return p;
}

SemVer version(std::uint64_t a, std::uint64_t b, std::uint64_t c, bool zero_pre = false) {
    SemVer v{a, b, c, {}, {}};
    if (zero_pre) v.prerelease = {"0"};
    return v;
}

using Comparator = SemverRange::Comparator;
using Op = Comparator::Op;

Comparator cmp(Op op, SemVer v) { return Comparator{op, std::move(v)}; }

// The exclusive upper bound just above a partial version ("1.2" -> <1.3.0-0).
SemVer next_after(const Partial& p) {
    if (!p.major) return version(0, 0, 0, true);
    if (!p.minor) return version(*p.major + 1, 0, 0, true);
    return version(*p.major, *p.minor + 1, 0, true);
}

Result<std::vector<Comparator>> desugar(std::string_view token, std::string_view whole) {
    std::string_view op;
    for (std::string_view candidate : {">=", "<=", "~>", ">", "<", "=", "~", "^"}) {
        if (token.substr(0, candidate.size()) == candidate) {
            op = candidate;
            break;
        }
    }
    POETRYOPS_TRY(Partial p, parse_partial(token.substr(op.size()), whole));
    const bool full = p.patch.has_value();
    std::vector<Comparator> out;
    if (op.empty() || op == "=") {
        if (full) return std::vector<Comparator>{cmp(Op::eq, p.floor())};
        if (!p.major) return std::vector<Comparator>{cmp(Op::ge, version(0, 0, 0))};
        return std::vector<Comparator>{cmp(Op::ge, p.floor()), cmp(Op::lt, next_after(p))};
    }
    if (op == "~" || op == "~>") {
        if (!p.major) return std::vector<Comparator>{cmp(Op::ge, version(0, 0, 0))};
        Partial upper = p;
        if (full) upper.patch.reset();
        return std::vector<Comparator>{cmp(Op::ge, p.floor()), cmp(Op::lt, next_after(upper))};
    }
    if (op == "^") {
        if (!p.major) return std::vector<Comparator>{cmp(Op::ge, version(0, 0, 0))};
        SemVer upper;
        if (*p.major > 0 || !p.minor) {
            upper = version(*p.major + 1, 0, 0, true);
        } else if (*p.minor > 0 || !p.patch) {
            upper = version(0, *p.minor + 1, 0, true);
        } else {
            upper = version(0, 0, *p.patch + 1, true);
        }
        return std::vector<Comparator>{cmp(Op::ge, p.floor()), cmp(Op::lt, upper)};
    }
    if (op == ">") {
        if (full) return std::vector<Comparator>{cmp(Op::gt, p.floor())};
        if (!p.major)
            return std::vector<Comparator>{cmp(Op::lt, version(0, 0, 0, true))};  // matches nothing
        return std::vector<Comparator>{cmp(Op::ge, next_after(p))};
    }
    if (op == ">=") return std::vector<Comparator>{cmp(Op::ge, p.floor())};
    if (op == "<") {
        if (!p.major) return std::vector<Comparator>{cmp(Op::lt, version(0, 0, 0, true))};
        return std::vector<Comparator>{cmp(
            Op::lt, full ? p.floor() : [&] {
                SemVer v = p.floor();
                v.prerelease = {"0"};
                return v;
            }())};
    }
    // "<="
    if (full) return std::vector<Comparator>{cmp(Op::le, p.floor())};
    if (!p.major) return std::vector<Comparator>{cmp(Op::ge, version(0, 0, 0))};
    return std::vector<Comparator>{cmp(Op::lt, next_after(p))};
}

bool satisfies(const Comparator& c, const SemVer& v) {
    auto r = compare(v, c.version);
    switch (c.op) {
        case Op::eq: return r == 0;
        case Op::lt: return r < 0;
        case Op::le: return r <= 0;
        case Op::gt: return r > 0;
        case Op::ge: return r >= 0;
    }
    return false;
}

std::strong_ordering compare_identifiers(const std::string& a, const std::string& b) {
    bool na = all_digits(a), nb = all_digits(b);
    if (na && nb) {
        if (a.size() != b.size()) return a.size() <=> b.size();
        return a.compare(b) <=> 0;
    }
    if (na != nb) return na ? std::strong_ordering::less : std::strong_ordering::greater;
    return a.compare(b) <=> 0;
}

}  // namespace

std::string SemVer::str() const {
    std::string s =
        std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
    if (!prerelease.empty()) s += "-" + str::join(prerelease, ".");
    if (!build.empty()) s += "+" + build;
    return s;
}

Result<SemVer> parse_semver(std::string_view text, bool loose) {
    std::string_view s = str::trim(text);
    if (!s.empty() && (s[0] == 'v' || s[0] == 'V')) s.remove_prefix(1);
    std::string build;
    if (auto plus = s.find('+'); plus != std::string_view::npos) {
        build = std::string(s.substr(plus + 1));
        for (const auto& id : str::split(build, '.')) {
            if (!valid_identifier(id, false))
                return bad(text, "bad build metadata '" + build + "'");
        }
        s = s.substr(0, plus);
    }
    auto dash = s.find('-');
    auto core = s.substr(0, dash);
    auto parts = str::split(core, '.');
    if (parts.empty() || parts.size() > 3 || (!loose && parts.size() != 3)) {
        return bad(text, "expected MAJOR.MINOR.PATCH");
    }
    SemVer v;
    std::uint64_t* slots[] = {&v.major, &v.minor, &v.patch};
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (!parse_number(parts[i], *slots[i]))
            return bad(text, "'" + parts[i] + "' is not a version number");
    }
    if (dash != std::string_view::npos) {
        if (parts.size() != 3) return bad(text, "a pre-release needs MAJOR.MINOR.PATCH");
        for (const auto& id : str::split(s.substr(dash + 1), '.')) {
            if (!valid_identifier(id, true))
                return bad(text, "bad pre-release identifier '" + id + "'");
            v.prerelease.push_back(id);
        }
    }
    v.build = std::move(build);
    return v;
}

std::strong_ordering compare(const SemVer& a, const SemVer& b) {
    if (auto r = a.major <=> b.major; r != 0) return r;
    if (auto r = a.minor <=> b.minor; r != 0) return r;
    if (auto r = a.patch <=> b.patch; r != 0) return r;
    if (a.prerelease.empty() != b.prerelease.empty()) {
        return a.prerelease.empty() ? std::strong_ordering::greater : std::strong_ordering::less;
    }
    for (std::size_t i = 0; i < a.prerelease.size() && i < b.prerelease.size(); ++i) {
        if (auto r = compare_identifiers(a.prerelease[i], b.prerelease[i]); r != 0) return r;
    }
    return a.prerelease.size() <=> b.prerelease.size();
}

Result<SemverRange> SemverRange::parse(std::string_view text) {
    SemverRange range;
    range.text_ = std::string(str::trim(text));
    std::string rest = range.text_;
    std::size_t pos = 0;
    std::vector<std::string> alternatives;
    while (true) {
        auto bar = rest.find("||", pos);
        alternatives.push_back(
            rest.substr(pos, bar == std::string::npos ? std::string::npos : bar - pos));
        if (bar == std::string::npos) break;
        pos = bar + 2;
    }
    for (auto alt : alternatives) {
        std::vector<Comparator> set;
        for (char& c : alt) {
            if (c == ',') c = ' ';
        }
        // Glue operators to their version ("> = 1.2" is not valid, but ">= 1.2" is common).
        std::vector<std::string> tokens;
        for (const auto& t : str::split_nonempty(alt, ' ')) {
            if (!tokens.empty() && tokens.back().find_first_not_of("<>=~^") == std::string::npos) {
                tokens.back() += t;
            } else {
                tokens.push_back(t);
            }
        }
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            if (i + 2 < tokens.size() && tokens[i + 1] == "-") {
                POETRYOPS_TRY(Partial lo, parse_partial(tokens[i], text));
                POETRYOPS_TRY(Partial hi, parse_partial(tokens[i + 2], text));
                set.push_back(cmp(Op::ge, lo.floor()));
                if (hi.patch) {
                    set.push_back(cmp(Op::le, hi.floor()));
                } else if (hi.major) {
                    set.push_back(cmp(Op::lt, next_after(hi)));
                }
                i += 2;
                continue;
            }
            if (tokens[i] == "-") return bad(text, "dangling '-' in range");
            POETRYOPS_TRY(auto cs, desugar(tokens[i], text));
            set.insert(set.end(), cs.begin(), cs.end());
        }
        if (set.empty()) set.push_back(cmp(Op::ge, version(0, 0, 0)));
        range.sets_.push_back(std::move(set));
    }
    return range;
}

bool SemverRange::matches(const SemVer& v, bool include_prerelease) const {
    for (const auto& set : sets_) {
        bool all = true;
        for (const auto& c : set) all = all && satisfies(c, v);
        if (!all) continue;
        if (!v.is_prerelease() || include_prerelease) return true;
        for (const auto& c : set) {
            // A comparator that names a real pre-release of this very version lets its pre-releases
            // in; the synthetic "-0" bounds of ^ ~ and x-ranges do not.
            bool synthetic = c.version.prerelease.size() == 1 && c.version.prerelease[0] == "0";
            if (!synthetic && c.version.is_prerelease() && c.version.major == v.major &&
                c.version.minor == v.minor && c.version.patch == v.patch) {
                return true;
            }
        }
    }
    return false;
}

}  // namespace poetryops::registry

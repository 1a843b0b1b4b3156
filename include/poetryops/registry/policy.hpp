#pragma once
/// Version policies: which tags of a repository are candidates, how they are ordered, and which is
/// newest.
///
/// Spec syntax (CLI `--policy`, docs/registry.md): clauses separated by ';'
///   `semver:RANGE`      node-semver range, e.g. `semver:^1.2 || ~2.0.1`
///   `pep440:SPECIFIERS` PEP 440 specifier set, e.g. `pep440:~=1.4,!=1.4.3`
///   `natural`           order by numbers inside the text (timestamps, build numbers), no range
///   `prerelease`        let pre-releases match
///   `regex:PATTERN`     filter tags by PATTERN (ECMAScript, searched); capture group 1, when
///   present, is the version
///                       that the range and ordering see. Must be the last clause: the rest of the
///                       spec is the pattern.
/// A spec without `kind:` is a PEP 440 specifier set when it uses `~=`, `==`, `!=` or `===`, else a
/// semver range.

#include <poetryops/util/result.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::registry {

enum class VersionScheme { semver, pep440, natural };

/// The declarative form (also what a PoetryApp spec holds). Value type.
struct VersionPolicy {
    VersionScheme scheme = VersionScheme::semver;
    std::string range;    ///< semver range or PEP 440 specifiers; empty matches every version
    std::string pattern;  ///< optional regex filter
    bool include_prereleases = false;

    /// Parses the spec syntax above. Error::Kind::invalid names the bad clause.
    static Result<VersionPolicy> parse(std::string_view spec);
};

/// A tag that passed the policy, with the version text that was compared.
struct Candidate {
    std::string tag;
    std::string version;
};

/// A policy compiled once (regex and range parsed) and applied to many tag lists. Thread safety:
/// const methods safe.
class CompiledPolicy {
public:
    /// Validates everything up front: a bad range, specifier or regex is Error::Kind::invalid here,
    /// not later.
    static Result<CompiledPolicy> compile(const VersionPolicy& policy);
    CompiledPolicy(CompiledPolicy&&) noexcept;
    CompiledPolicy& operator=(CompiledPolicy&&) noexcept;
    ~CompiledPolicy();

    /// The version this tag stands for, when the tag passes filter and range.
    std::optional<std::string> accept(std::string_view tag) const;
    /// Matching tags, oldest first (ties broken by tag text so the order is stable).
    std::vector<Candidate> select(const std::vector<std::string>& tags) const;
    /// The newest matching tag, or nullopt.
    std::optional<Candidate> newest(const std::vector<std::string>& tags) const;

private:
    CompiledPolicy();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// A PEP 440 specifier set (`~=`, `==` incl. `.*`, `!=` incl. `.*`, `<=`, `>=`, `<`, `>`, `===`),
/// comma-separated.
class Pep440Specifiers {
public:
    static Result<Pep440Specifiers> parse(std::string_view text);
    /// Whether `version` (PEP 440 text) is in the set. Pre-releases match only with
    /// `include_prereleases` or when a specifier names a pre-release. Unparseable versions never
    /// match.
    bool matches(std::string_view version, bool include_prereleases = false) const;
    Pep440Specifiers(Pep440Specifiers&&) noexcept;
    Pep440Specifiers& operator=(Pep440Specifiers&&) noexcept;
    ~Pep440Specifiers();

private:
    Pep440Specifiers();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Orders text by its digit runs numerically and the rest lexically ("build-9" < "build-10").
int natural_compare(std::string_view a, std::string_view b);

}  // namespace poetryops::registry

#pragma once
/// Tag templates ("{version}-{shortSha}") and their one vocabulary of placeholders. The same table
/// renders tags (build), validates spec.image.tagTemplate (api) and reads versions and commits back
/// from tags (the controller's artifact port), so a template one of them accepts, all accept.
///
///   oci::render_tag("{version}-{shortSha}", values)        // "1.4.2-ab12cd3"
///   oci::tag_template_problem("{version}-{commit}")        // "has unknown placeholder {commit} …"
///   oci::tag_template_regex("v{version}", {"version"})     // "^v([A-Za-z0-9_.-]+?)$"

#include <poetryops/util/clock.hpp>
#include <poetryops/util/result.hpp>

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace poetryops::oci {

/// One placeholder a tag template may use.
struct TagPlaceholder {
    std::string_view name;     ///< without braces, e.g. "shortSha"
    std::string_view meaning;  ///< one line, for docs and messages
    /// a typical rendered value: templates are checked against the OCI tag grammar with these
    std::string_view example;
    /// an ECMAScript regex (no capturing group) for every value it renders: reading tags back
    std::string_view pattern;
};

/// Every placeholder, in documentation order: version, shortSha, sha, branch, buildNumber,
/// timestamp.
std::span<const TagPlaceholder> tag_placeholders();
/// The placeholder called `name` (no braces), or nullptr.
const TagPlaceholder* find_tag_placeholder(std::string_view name);

/// What a template is rendered with. Empty fields are an error only when the template uses them.
struct TagValues {
    std::string version;  ///< {version}: the project version (PEP 440 text; '+' becomes '-')
    std::string sha;      ///< {sha}: full commit id; {shortSha}: its first 7 characters
    std::string branch;  ///< {branch}: '/' and other characters outside the tag alphabet become '-'
    std::string build_number;       ///< {buildNumber}
    Clock::time_point timestamp{};  ///< {timestamp}: UTC, YYYYMMDDhhmmss
};

/// Why `tmpl` is not a valid template, as a predicate to put after its name or field path ("has
/// unknown placeholder {commit} (known: …)", "has a '{' without a matching '}'", "renders tags with
/// '+', which …"); "" when it is valid. Valid: not empty, balanced braces, known placeholders only,
/// and rendered with every placeholder's example it is a valid OCI tag.
std::string tag_template_problem(std::string_view tmpl);

/// tag_template_problem as a Result: Error::Kind::invalid, "tag template '…' <problem>".
Result<void> validate_tag_template(std::string_view tmpl);

/// Renders a valid template and makes the result a valid OCI tag (oci::sanitize_tag: values such as
/// branch names may hold any character). Errors: the template is not valid (as
/// validate_tag_template), a placeholder it uses has an empty value, or the result is empty.
Result<std::string> render_tag(std::string_view tmpl, const TagValues& values);

/// A regex matching every tag the template renders: each placeholder becomes its pattern, and the
/// placeholders named in `capture` become capturing groups (in template order). Literal text is
/// escaped. For a template that is not valid the result matches nothing useful: validate first.
std::string tag_template_regex(std::string_view tmpl,
                               std::initializer_list<std::string_view> capture);

}  // namespace poetryops::oci

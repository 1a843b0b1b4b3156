#pragma once
/// Tag templates ("{version}-{shortSha}") rendered into valid OCI tags.

#include <poetryops/util/clock.hpp>
#include <poetryops/util/result.hpp>

#include <string>
#include <string_view>

namespace poetryops::registry {

/// What a template can refer to. Empty fields are an error only when the template uses them.
struct TagValues {
    std::string version;  ///< {version}: the project version (PEP 440 text; '+' becomes '-')
    std::string sha;      ///< {sha}: full commit id; {shortSha}: its first 7 characters
    std::string branch;  ///< {branch}: '/' and other characters outside the tag alphabet become '-'
    std::string build_number;       ///< {buildNumber}
    Clock::time_point timestamp{};  ///< {timestamp}: UTC, YYYYMMDDhhmmss
};

/// Checks a template: balanced braces and known placeholders only. Error::Kind::invalid names the
/// bad placeholder.
Result<void> validate_tag_template(std::string_view tmpl);

/// Renders the template and makes the result a valid OCI tag (oci::sanitize_tag). Errors: an
/// unknown placeholder, a placeholder whose value is empty, or a result that is empty.
Result<std::string> render_tag(std::string_view tmpl, const TagValues& values);

}  // namespace poetryops::registry

#pragma once
/// Defaulting and validation of a PoetryApp. Validation reports every problem with its field path
/// (`spec.environments[1].promotion.from`), the way the API server reports a CRD's schema errors.

#include <poetryops/api/poetryapp.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace poetryops::api {

/// One problem in a PoetryApp.
struct FieldError {
    std::string path;     ///< e.g. "spec.environments[1].promotion.from"
    std::string message;  ///< what is wrong, e.g. `names "qa", which is not an earlier environment`

    /// "path: message"
    std::string str() const;
    bool operator==(const FieldError&) const = default;
};

/// Joins errors as "path: message; path: message" (at most `max` of them, then "and N more").
std::string join_errors(const std::vector<FieldError>& errors, std::size_t max = 5);

/// Validates a decoded (and defaulted) PoetryApp. Returns all problems found, in field order; empty
/// when valid. Also parses every Duration in place (sets `value`), which is why it takes the app by
/// reference.
std::vector<FieldError> validate(PoetryApp& app);

/// Validation of the spec alone (paths start with "spec.").
std::vector<FieldError> validate_spec(PoetryAppSpec& spec);

// Building blocks, public so the CLI and the promotion engine report the same messages.

/// RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters.
bool is_dns1123_label(std::string_view s);
/// RFC 1123 subdomain: labels joined by '.', at most 253 characters.
bool is_dns1123_subdomain(std::string_view s);
/// A path that stays inside its repository: relative, non-empty, no ".." segment, no NUL/backslash.
/// "." is allowed. Returns "" when fine, else why not.
std::string check_repo_path(std::string_view path);
/// An OCI image repository name without tag or digest (distribution's reference grammar, lower-case
/// path). Returns "" when fine, else why not.
std::string check_image_repository(std::string_view repo);
/// A git URL: http(s)://host/path, ssh://[user@]host[:port]/path, scp-like user@host:path, or
/// file:///path.
std::string check_git_url(std::string_view url);
/// An http(s) URL with a host (e.g. a Prometheus address).
std::string check_http_url(std::string_view url);
/// spec.image.tagTemplate: a valid template of the one vocabulary (oci::tag_template_problem: the
/// renderer's placeholders, balanced braces, a valid OCI tag when rendered) that contains
/// {version}.
std::string check_tag_template(std::string_view tmpl);
/// A PEP 440 specifier set such as ">=1.4,<2" or "~=1.4.0" (operators and version shapes).
std::string check_version_specifiers(std::string_view spec);

}  // namespace poetryops::api

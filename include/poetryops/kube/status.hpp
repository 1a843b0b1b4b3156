#pragma once
/// API `Status` errors → poetryops Error.
///
/// A failed Kubernetes request returns a `Status` object
/// (`{"kind":"Status","reason":"NotFound","code":404,...}`). status_error() maps it onto
/// `Error{kind, http_status, reason = Status.reason, message}`:
///
/// | Status.reason / code          | Error::Kind    | terminal |
/// |-------------------------------|----------------|----------|
/// | NotFound / 404                | not_found      | no       |
/// | AlreadyExists / 409           | conflict       | no       |
/// | Conflict / 409                | conflict       | no       |
/// | Gone, Expired / 410           | gone           | no       |
/// | Invalid / 422, BadRequest/400 | invalid        | yes      |
/// | Forbidden / 403               | unauthorized   | no       |
/// | Unauthorized / 401            | unauthorized   | no       |
/// | TooManyRequests / 429         | http           | no       |
/// | Timeout / 504, ServerTimeout  | timeout        | no       |
/// | anything else                 | http           | no       |
///
/// The message names the request and carries the server's message, e.g.
/// `GET /api/v1/namespaces/a/pods/x: 404 NotFound: pods "x" not found`. Use the is_* predicates
/// rather than comparing kinds, since several reasons share a kind.

#include <poetryops/util/result.hpp>

#include <string>
#include <string_view>

namespace poetryops::kube {

/// Builds the Error for a non-2xx response. `body` may be a Status JSON object or anything else
/// (proxies answer with HTML); `request` is "METHOD path" for the message. Never includes request
/// bodies or headers.
Error status_error(int http_status, std::string_view body, std::string_view request);

/// Builds the Error for a Status object that arrived inside a watch stream (an ERROR event).
Error status_object_error(const std::string& status_json_text, std::string_view request);

bool is_not_found(const Error& e);
bool is_already_exists(const Error& e);
/// A stale resourceVersion on update (409 Conflict), not AlreadyExists.
bool is_conflict(const Error& e);
/// 410 Gone or reason Expired: the resourceVersion is too old; relist.
bool is_gone(const Error& e);
bool is_invalid(const Error& e);
bool is_forbidden(const Error& e);
bool is_unauthorized(const Error& e);
bool is_too_many_requests(const Error& e);

}  // namespace poetryops::kube

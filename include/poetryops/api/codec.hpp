#pragma once
/// PoetryApp <-> JSON (nlohmann) and YAML (yaml-cpp, converted to JSON first).
///
/// Reading tolerates unknown fields (a newer CRD, kubectl's managedFields) and reports wrongly
/// typed fields as FieldErrors with their path instead of failing the whole decode, so the
/// controller can put the path into the `Ready` condition. Nothing here throws: library exceptions
/// are caught at this boundary.

#include <poetryops/api/poetryapp.hpp>
#include <poetryops/api/validation.hpp>
#include <poetryops/util/result.hpp>

#include <nlohmann/json_fwd.hpp>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::api {

/// Decodes a PoetryApp object (apiVersion, kind, metadata, spec, status). Missing fields keep their
/// defaults (which are the CRD's defaults); type errors and a wrong apiVersion/kind are appended to
/// `errors`.
PoetryApp decode_poetryapp(const nlohmann::json& object, std::vector<FieldError>& errors);

/// Decodes only a status object (for comparing what the server holds with what we would write).
PoetryAppStatus decode_status(const nlohmann::json& status, std::vector<FieldError>& errors);

/// Decodes, then validates. The error (Error::Kind::invalid, reason "InvalidSpec") lists the field
/// errors.
Result<PoetryApp> load_poetryapp(const nlohmann::json& object);

/// The whole object as JSON (all spec fields, defaults included; empty optional strings left out).
nlohmann::json encode_poetryapp(const PoetryApp& app);
nlohmann::json encode_spec(const PoetryAppSpec& spec);
/// The status as the status subresource stores it.
nlohmann::json encode_status(const PoetryAppStatus& status);

/// YAML text converted to JSON documents, one per `---` document (empty documents skipped). Scalars
/// follow the YAML 1.2 core schema: plain true/false, null/~, integers and floats become JSON
/// types; quoted scalars stay strings. `lines`, when given, receives for each document a map from
/// field path ("spec.environments[1].name") to 1-based line, so errors can point into the file.
/// Errors (Error::Kind::decode) name `file` and the line.
Result<std::vector<nlohmann::json>> yaml_to_json(
    std::string_view text, std::string_view file,
    std::vector<std::map<std::string, int>>* lines = nullptr);

/// Reads every PoetryApp in a YAML file's text (other kinds are skipped). Each app is decoded and
/// validated; the error names the file, the line, the field path and the problem, e.g.
/// "apps.yaml:14: spec.environments[1].promotion.from: names \"qa\", which is not an earlier
/// environment".
Result<std::vector<PoetryApp>> load_poetryapps_yaml(std::string_view text, std::string_view file);

}  // namespace poetryops::api

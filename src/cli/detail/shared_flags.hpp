#pragma once
// Flags that mean the same in several subcommands, parsed once: the generator's options
// (`dockerfile generate`, `build`, `build prepare`) and the Docker config lookup (`image`,
// `build`).

#include <poetryops/dockerfile/generator.hpp>
#include <poetryops/registry/auth.hpp>
#include <poetryops/registry/client.hpp>
#include <poetryops/util/result.hpp>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace poetryops::cli::detail {

/// The Dockerfile generator's flags as typed.
struct GenerateFlags {
    std::string python;
    std::string build_image;
    std::string runtime_image;
    std::string poetry = dockerfile::kDefaultPoetryVersion;
    std::string installer = "poetry";
    std::string command;
    long uid = 10001;
    std::vector<std::string> apt;
    std::string init = "tini";
};

/// Registers --python, --build-image, --runtime-image, --poetry, --installer, --command, --uid,
/// --apt and --init on `cmd`, with the help texts of `dockerfile generate`.
void add_generate_flags(CLI::App& cmd, GenerateFlags& flags);

/// The generator's options from the flags; errors (Kind::invalid) name the flag (--command).
Result<dockerfile::GenerateOptions> generate_options(const GenerateFlags& flags);

/// Registry credentials and the file they came from.
struct DockerConfigFile {
    registry::DockerConfig config;
    std::filesystem::path path;  ///< empty: none found (anonymous)
};

/// --registry-config FILE when given (a missing or bad file is an error naming it), else
/// $DOCKER_CONFIG/config.json or ~/.docker/config.json when present, else none.
Result<DockerConfigFile> load_docker_config(const std::string& flag);

/// `--plain-http HOST` (repeatable) and `--registry-ca-file HOST=FILE` (repeatable) into per-host
/// registry settings, as `run` and `controller` take them. Each host reached without TLS is
/// logged once as a warning, so that an insecure registry is visible at start. Returns "" or the
/// one line naming the malformed flag.
std::string apply_registry_host_flags(const std::vector<std::string>& plain_http,
                                      const std::vector<std::string>& ca_files,
                                      registry::RegistryClientOptions& options);

}  // namespace poetryops::cli::detail

#pragma once
/// The `poetryops` subcommands. Each add_* function registers one subcommand tree on the root app; its callback stores
/// the process exit code in Context (0 success, 1 "found something" / "nothing matched", 2 bad input or refusal).

#include <CLI/CLI.hpp>

namespace poetryops::cli {

struct Context {
    int exit_code = 0;
};

void add_dockerfile_command(CLI::App& app, Context& ctx);  ///< poetryops dockerfile generate|lint
void add_manifest_command(CLI::App& app, Context& ctx);    ///< poetryops manifest set-image
void add_image_command(CLI::App& app, Context& ctx);       ///< poetryops image resolve|tags|tag
void add_controller_command(CLI::App& app, Context& ctx);  ///< poetryops controller

}  // namespace poetryops::cli

#pragma once
/// The `poetryops` subcommands. Each add_* function registers one subcommand tree on the root app;
/// its callback stores the process exit code in Context, by the one policy of cli/errors.hpp (0 ok,
/// 1 findings or a runtime failure, 2 bad input or a refusal).

#include <poetryops/cli/errors.hpp>

#include <CLI/CLI.hpp>

namespace poetryops::cli {

struct Context {
    Exit exit = Exit::ok;
};

void add_dockerfile_command(CLI::App& app, Context& ctx);  ///< poetryops dockerfile generate|lint
void add_manifest_command(CLI::App& app, Context& ctx);    ///< poetryops manifest set-image
void add_image_command(CLI::App& app, Context& ctx);       ///< poetryops image resolve|tags|tag
void add_controller_command(CLI::App& app, Context& ctx);  ///< poetryops controller
void add_run_command(CLI::App& app, Context& ctx);         ///< poetryops run (local mode)
void add_demo_command(CLI::App& app, Context& ctx);        ///< poetryops demo
void add_build_command(CLI::App& app, Context& ctx);       ///< poetryops build [prepare]

/// Parses the command line and runs the chosen subcommand; returns the process exit code. A
/// command line CLI11 refuses (unknown flag, bad value) is bad input, printed as one line by
/// cli::say naming the subcommand; --help and --version print and return 0.
int run_command_line(CLI::App& app, Context& ctx, int argc, char** argv);

}  // namespace poetryops::cli

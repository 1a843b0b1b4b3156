#pragma once
/// The `poetryops` subcommands. Each add_* function registers one subcommand tree on the root app;
/// its callback stores the process exit code in Context (0 success, 1 "found something" / "nothing
/// matched", 2 bad input or refusal).

#include <poetryops/util/result.hpp>

#include <CLI/CLI.hpp>

namespace poetryops::cli {

struct Context {
    int exit_code = 0;
};

/// Prints `poetryops: <message>` (redacted, one line) to stderr and returns the exit code for the
/// error: 2 for bad input or refusal (decode, invalid, not_found, conflict), 1 for everything else.
int report_error(const poetryops::Error& error);

void add_dockerfile_command(CLI::App& app, Context& ctx);  ///< poetryops dockerfile generate|lint
void add_manifest_command(CLI::App& app, Context& ctx);    ///< poetryops manifest set-image
void add_image_command(CLI::App& app, Context& ctx);       ///< poetryops image resolve|tags|tag
void add_controller_command(CLI::App& app, Context& ctx);  ///< poetryops controller
void add_run_command(CLI::App& app, Context& ctx);         ///< poetryops run (local mode)
void add_demo_command(CLI::App& app, Context& ctx);        ///< poetryops demo

}  // namespace poetryops::cli

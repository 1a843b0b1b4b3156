// Parsing the command line: CLI11's refusals go through the CLI's one printer (cli/errors.hpp).
#include <poetryops/cli/commands.hpp>

#include <string>

namespace poetryops::cli {

namespace {

/// The subcommands chosen so far, e.g. "dockerfile generate" ("" before the first).
std::string command_path(const CLI::App& app) {
    std::string path;
    const CLI::App* at = &app;
    for (;;) {
        auto chosen = at->get_subcommands();
        if (chosen.empty()) break;
        at = chosen.front();
        path += (path.empty() ? "" : " ") + at->get_name();
    }
    return path;
}

}  // namespace

int run_command_line(CLI::App& app, Context& ctx, int argc, char** argv) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e);  // --help, --version: printed on stdout, exit 0
    } catch (const CLI::ParseError& e) {
        std::string path = command_path(app);
        std::string help = program_name() + (path.empty() ? "" : " " + path) + " --help";
        return to_int(report_bad_input(path, std::string(e.what()) + " (see " + help + ")"));
    }
    return to_int(ctx.exit);
}

}  // namespace poetryops::cli

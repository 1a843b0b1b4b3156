// poetryops: parses the command line and wires the subcommands; all logic lives in poetryops_core.
#include <poetryops/cli/commands.hpp>
#include <poetryops/util/log.hpp>

int main(int argc, char** argv) {
    CLI::App app{
        "poetryops: build, tag, promote and canary Poetry apps on Kubernetes through GitOps"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "poetryops 0.1.0");
    std::string log_level = "info";
    std::string log_format = "text";
    app.add_option("--log-level", log_level, "debug|info|warn|error")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
    app.add_option("--log-format", log_format, "text|json")->check(CLI::IsMember({"text", "json"}));
    app.parse_complete_callback([&] {
        poetryops::log::Level lvl;
        if (poetryops::log::parse_level(log_level, lvl)) poetryops::log::set_level(lvl);
        poetryops::log::set_format(log_format == "json" ? poetryops::log::Format::json
                                                        : poetryops::log::Format::text);
    });

    poetryops::cli::Context ctx;
    poetryops::cli::add_dockerfile_command(app, ctx);
    poetryops::cli::add_controller_command(app, ctx);
    poetryops::cli::add_manifest_command(app, ctx);
    poetryops::cli::add_image_command(app, ctx);
    poetryops::cli::add_run_command(app, ctx);
    poetryops::cli::add_demo_command(app, ctx);
    poetryops::cli::add_build_command(app, ctx);

    return poetryops::cli::run_command_line(app, ctx, argc, argv);
}

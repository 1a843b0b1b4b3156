// kubectl-poetryops: the kubectl plugin (`kubectl poetryops …`). Parses the command line and wires
// the verbs; all logic lives in poetryops_cli (cli/kubectl.hpp).
#include <poetryops/cli/kubectl.hpp>
#include <poetryops/util/log.hpp>

int main(int argc, char** argv) {
    poetryops::cli::set_program_name("kubectl poetryops");
    poetryops::log::set_level(poetryops::log::Level::warn);
    CLI::App app{
        "kubectl poetryops: PoetryApps per environment, why a digest waits, approvals, "
        "holds, rollbacks and build logs, through the API server with your kubeconfig",
        "kubectl poetryops"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "kubectl-poetryops 0.1.0");
    poetryops::cli::Context ctx;
    poetryops::cli::kubectl::add_kubectl_commands(app, ctx);
    return poetryops::cli::run_command_line(app, ctx, argc, argv);
}

#include "cli/detail/shared_flags.hpp"

#include <poetryops/registry/reference.hpp>
#include <poetryops/util/log.hpp>

#include <cstdlib>

namespace poetryops::cli::detail {

namespace fs = std::filesystem;

void add_generate_flags(CLI::App& cmd, GenerateFlags& f) {
    cmd.add_option("--python", f.python, "Python X.Y (default: the lowest requires-python allows)");
    cmd.add_option("--build-image", f.build_image,
                   "Build stage base image (default: python:X.Y-slim)");
    cmd.add_option("--runtime-image", f.runtime_image,
                   "Runtime stage base image (default: python:X.Y-slim)");
    cmd.add_option("--poetry", f.poetry, "Poetry version to pin, or 'preinstalled'")
        ->capture_default_str();
    cmd.add_option("--installer", f.installer, "poetry or uv")
        ->check(CLI::IsMember({"poetry", "uv"}))
        ->capture_default_str();
    cmd.add_option("--command", f.command,
                   "The app's command, e.g. \"uvicorn app.main:app --port 8000\"");
    cmd.add_option("--uid", f.uid, "Numeric uid/gid of the runtime user")->capture_default_str();
    cmd.add_option("--apt", f.apt, "Extra Debian packages for the runtime stage")->delimiter(',');
    cmd.add_option("--init", f.init, "tini (installed with apt) or none")
        ->check(CLI::IsMember({"tini", "none"}))
        ->capture_default_str();
}

Result<dockerfile::GenerateOptions> generate_options(const GenerateFlags& f) {
    dockerfile::GenerateOptions opt;
    opt.python = f.python;
    opt.build_image = f.build_image;
    opt.runtime_image = f.runtime_image;
    opt.poetry = f.poetry;
    opt.installer = f.installer == "uv" ? dockerfile::Installer::uv : dockerfile::Installer::poetry;
    opt.uid = f.uid;
    opt.apt_packages = f.apt;
    opt.init = f.init == "none" ? dockerfile::Init::none : dockerfile::Init::tini;
    if (!f.command.empty()) {
        POETRYOPS_TRY(auto argv, dockerfile::split_command(f.command));
        if (argv.empty()) return fail(Error::Kind::invalid, "--command: empty command");
        opt.command = std::move(argv);
    }
    return opt;
}

Result<DockerConfigFile> load_docker_config(const std::string& flag) {
    DockerConfigFile out;
    if (!flag.empty()) {
        POETRYOPS_TRY(out.config, registry::DockerConfig::load(flag));
        out.path = flag;
        return out;
    }
    fs::path candidate;
    if (const char* d = std::getenv("DOCKER_CONFIG"); d && *d) {
        candidate = fs::path(d) / "config.json";
    } else if (const char* h = std::getenv("HOME"); h && *h) {
        candidate = fs::path(h) / ".docker" / "config.json";
    }
    std::error_code ec;
    if (!candidate.empty() && fs::exists(candidate, ec)) {
        POETRYOPS_TRY(out.config, registry::DockerConfig::load(candidate));
        out.path = candidate;
    }
    return out;
}

std::string apply_registry_host_flags(const std::vector<std::string>& plain_http,
                                      const std::vector<std::string>& ca_files,
                                      registry::RegistryClientOptions& options) {
    for (const auto& hf : ca_files) {
        auto eq = hf.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == hf.size())
            return "--registry-ca-file " + hf + ": expected HOST=FILE";
        options.hosts[registry::normalize_registry_host(hf.substr(0, eq))].ca_file =
            hf.substr(eq + 1);
    }
    for (const auto& host : plain_http) {
        const std::string normalized = registry::normalize_registry_host(host);
        options.hosts[normalized].plain_http = true;
        POETRYOPS_LOG(warn, "registry reached over plain HTTP: no TLS for this host (--plain-http)",
                      {{"registry", normalized}});
    }
    return {};
}

}  // namespace poetryops::cli::detail

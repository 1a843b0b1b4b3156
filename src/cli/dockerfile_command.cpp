// `poetryops dockerfile generate|lint`: wiring between the command line, the python project reader
// and the dockerfile module. Exit codes (cli/errors.hpp): 0 success / clean, 1 lint findings, 2 bad
// input (nothing written).
#include <poetryops/cli/commands.hpp>

#include "cli/detail/shared_flags.hpp"

#include <poetryops/dockerfile/generator.hpp>
#include <poetryops/dockerfile/linter.hpp>
#include <poetryops/python/project.hpp>
#include <poetryops/util/fs.hpp>

#include <filesystem>
#include <iostream>
#include <memory>

namespace poetryops::cli {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kGenerate = "dockerfile generate";
constexpr std::string_view kLint = "dockerfile lint";

struct GenerateArgs {
    std::string project_dir = ".";
    std::string output;
    detail::GenerateFlags flags;
};

/// Writes both files or neither: the Dockerfile first, then the .dockerignore; if the second write
/// fails, the Dockerfile is put back as it was.
Result<void> write_pair(const fs::path& dir, const dockerfile::GeneratedFiles& files) {
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
        fs::create_directories(dir, ec);
        if (ec)
            return fail(Error::Kind::invalid,
                        "output dir " + dir.string() + ": cannot create it: " + ec.message());
    }
    if (!fs::is_directory(dir, ec))
        return fail(Error::Kind::invalid, "output dir " + dir.string() + ": not a directory");
    const fs::path dockerfile_path = dir / "Dockerfile";
    const fs::path ignore_path = dir / ".dockerignore";
    std::optional<std::string> previous;
    if (fs::is_regular_file(dockerfile_path, ec)) {
        auto old = read_file(dockerfile_path);
        if (!old)
            return fail(Error::Kind::invalid,
                        dockerfile_path.string() + ": cannot read it: " + old.error().message);
        previous = *old;
    }
    if (auto r = write_file_atomic(dockerfile_path, files.dockerfile); !r) {
        return fail(Error::Kind::invalid,
                    "cannot write " + dockerfile_path.string() + ": " + r.error().message);
    }
    if (auto r = write_file_atomic(ignore_path, files.dockerignore); !r) {
        if (previous) {
            (void)write_file_atomic(dockerfile_path, *previous);
        } else {
            fs::remove(dockerfile_path, ec);
        }
        return fail(Error::Kind::invalid,
                    "cannot write " + ignore_path.string() + ": " + r.error().message);
    }
    return ok();
}

Exit run_generate(const GenerateArgs& a) {
    auto project = python::load_project(a.project_dir);
    if (!project) return report(kGenerate, project.error());
    auto opt = detail::generate_options(a.flags);
    if (!opt) return report(kGenerate, opt.error());
    auto files = dockerfile::generate(*project, *opt);
    if (!files) return report(kGenerate, files.error());
    if (a.output == "-") {
        std::cout << files->dockerfile << std::flush;
        say(kGenerate,
            ".dockerignore not written (--output -); use --output DIR to get both files");
        return Exit::ok;
    }
    fs::path dir = a.output.empty() ? fs::path(a.project_dir) : fs::path(a.output);
    if (auto r = write_pair(dir, *files); !r) return report(kGenerate, r.error());
    say(kGenerate,
        "wrote " + (dir / "Dockerfile").string() + " and " + (dir / ".dockerignore").string());
    return Exit::ok;
}

struct LintArgs {
    std::vector<std::string> files;
    std::string format = "text";
};

Exit run_lint(const LintArgs& a) {
    std::vector<std::string> files =
        a.files.empty() ? std::vector<std::string>{"Dockerfile"} : a.files;
    std::vector<dockerfile::LintOutcome> outcomes;
    for (const auto& f : files) {
        dockerfile::LintOutcome o;
        o.file = f;
        Result<dockerfile::LintReport> r = fail(Error::Kind::internal, "not run");
        if (f == "-") {
            // As much as a file may hold, and one byte more to tell that it is too large.
            std::string text(dockerfile::kMaxDockerfileBytes + 1, '\0');
            std::cin.read(text.data(), static_cast<std::streamsize>(text.size()));
            text.resize(static_cast<std::size_t>(std::cin.gcount()));
            dockerfile::LintContext ctx;
            ctx.file = "-";
            if (text.size() > dockerfile::kMaxDockerfileBytes) {
                r = fail(Error::Kind::invalid, "-: stdin is larger than the limit of " +
                                                   std::to_string(dockerfile::kMaxDockerfileBytes) +
                                                   " bytes");
            } else {
                r = dockerfile::lint(text, ctx);
            }
        } else {
            r = dockerfile::lint_file(f);
        }
        if (r) {
            o.report = std::move(*r);
        } else {
            o.error = r.error().message;
        }
        outcomes.push_back(std::move(o));
    }
    bool errors = false;
    bool findings = false;
    for (const auto& o : outcomes) {
        errors = errors || !o.report;
        findings = findings || (o.report && !o.report->findings.empty());
    }
    if (a.format == "json") {
        std::cout << dockerfile::format_json(outcomes);
    } else {
        for (const auto& o : outcomes) {
            if (!o.report) {
                report_bad_input(kLint, o.error);
                continue;
            }
            std::cout << dockerfile::format_text(o.report->findings);
            for (const auto& w : o.report->warnings) say(kLint, "warning: " + w);
            for (const auto& n : o.report->not_checked) {
                say(kLint, "note: " + n.file + ": " + n.rule + " not fully checked: " + n.reason);
            }
        }
    }
    // A file that cannot be read or parsed makes the whole run bad input, even when others have
    // findings (docs/dockerfile.md).
    return errors ? Exit::bad_input : findings ? Exit::findings : Exit::ok;
}

}  // namespace

void add_dockerfile_command(CLI::App& app, Context& ctx) {
    auto* cmd =
        app.add_subcommand("dockerfile", "Generate and lint Dockerfiles for Poetry projects");
    cmd->require_subcommand(1);

    auto g = std::make_shared<GenerateArgs>();
    auto* gen = cmd->add_subcommand(
        "generate", "Write a best-practice Dockerfile and .dockerignore for a Poetry project");
    gen->add_option("project_dir", g->project_dir, "Poetry project directory (default: .)");
    gen->add_option("--output,-o", g->output,
                    "Directory to write into (default: the project dir); - prints the Dockerfile");
    detail::add_generate_flags(*gen, g->flags);
    gen->callback([&ctx, g] { ctx.exit = run_generate(*g); });

    auto l = std::make_shared<LintArgs>();
    auto* lint =
        cmd->add_subcommand("lint", "Check Dockerfiles against the rules of docs/dockerfile.md");
    lint->add_option("files", l->files,
                     "Dockerfiles to check (default: ./Dockerfile; - reads stdin)");
    lint->add_option("--format", l->format, "text or json")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    lint->callback([&ctx, l] { ctx.exit = run_lint(*l); });
}

}  // namespace poetryops::cli

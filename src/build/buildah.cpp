#include <poetryops/build/buildah.hpp>

#include <poetryops/oci/grammar.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/log.hpp>
#include <poetryops/util/strings.hpp>
#include <poetryops/util/subprocess.hpp>

#include <chrono>
#include <sstream>

namespace poetryops::build {

namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

/// "[1/2] STEP 5/7: RUN …" → "STEP 5/7: RUN …"; other lines unchanged.
std::string_view without_stage(std::string_view line) {
    if (line.size() > 2 && line[0] == '[') {
        std::size_t close = line.find("] ");
        if (close != std::string_view::npos && line.substr(close + 2, 5) == "STEP ")
            return line.substr(close + 2);
    }
    return line;
}

/// The last lines of a failed command's output, redacted, at most ~4 KiB.
std::string output_tail(const ProcessResult& r) {
    std::string all = r.out + (r.out.empty() || r.err.empty() ? "" : "\n") + r.err;
    constexpr std::size_t kMax = 4096;
    if (all.size() > kMax) {
        all = all.substr(all.size() - kMax);
        if (auto nl = all.find('\n'); nl != std::string::npos) all = all.substr(nl + 1);
    }
    while (!all.empty() && (all.back() == '\n' || all.back() == ' ')) all.pop_back();
    return log::redact(all);
}

Error failure(const ProcessResult& r, const BuildahOptions& o, std::string_view what,
              std::string reason) {
    if (r.cancelled) {
        return Error{Error::Kind::invalid, 0, "Cancelled", std::string(what) + " was cancelled"};
    }
    if (r.timed_out) {
        return Error{Error::Kind::timeout, 0, "Timeout",
                     std::string(what) + " did not finish within " +
                         std::to_string(
                             std::chrono::duration_cast<std::chrono::seconds>(o.timeout).count()) +
                         " s"};
    }
    std::string code =
        r.signal ? "signal " + std::to_string(r.signal) : "exit " + std::to_string(r.exit_code);
    Error e{Error::Kind::invalid, 0, std::move(reason),
            std::string(what) + " failed (" + code + "):\n" + output_tail(r)};
    e.terminal = true;
    return e;
}

}  // namespace

std::vector<BuildStep> parse_build_steps(const std::string& output) {
    std::vector<BuildStep> steps;
    std::istringstream in(output);
    for (std::string raw; std::getline(in, raw);) {
        std::string_view line = without_stage(raw);
        if (line.rfind("STEP ", 0) == 0) {
            std::size_t colon = line.find(": ");
            steps.push_back(BuildStep{
                std::string(colon == std::string_view::npos ? line : line.substr(colon + 2)),
                false});
        } else if (!steps.empty() && line.find("Using cache") != std::string_view::npos) {
            steps.back().cached = true;
        }
    }
    return steps;
}

Result<BuildahOutcome> buildah_build(const BuildahOptions& options, const BuildahJob& job) {
    std::error_code ec;
    if (!fs::is_directory(job.context, ec)) {
        return fail(Error::Kind::invalid,
                    "build context " + job.context.string() + ": not a directory");
    }
    if (job.image.empty()) return fail(Error::Kind::invalid, "no image name to build");
    TempDir scratch("poetryops-buildah");
    const fs::path dockerfile = scratch.path() / "Dockerfile";
    POETRYOPS_TRY_VOID(write_file_atomic(dockerfile, job.dockerfile));

    std::vector<std::string> global = {options.program};
    if (!options.root.empty()) global.insert(global.end(), {"--root", options.root.string()});
    if (!options.runroot.empty())
        global.insert(global.end(), {"--runroot", options.runroot.string()});
    if (!options.storage_driver.empty())
        global.insert(global.end(), {"--storage-driver", options.storage_driver});

    auto deadline = Steady::now() + options.timeout;
    auto left = [&] {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now());
        return std::max(ms, std::chrono::milliseconds(1));
    };
    auto progress = [&](const std::string& line) {
        if (job.on_progress) job.on_progress(line);
    };

    std::vector<std::string> argv = global;
    argv.insert(argv.end(), {"build", "--isolation", options.isolation, "--layers", "-f",
                             dockerfile.string(), "-t", job.image});
    if (!job.dockerignore.empty()) {
        const fs::path ignore = scratch.path() / "dockerignore";
        POETRYOPS_TRY_VOID(write_file_atomic(ignore, job.dockerignore));
        argv.insert(argv.end(), {"--ignorefile", ignore.string()});
    }
    if (!job.authfile.empty()) argv.insert(argv.end(), {"--authfile", job.authfile.string()});
    for (const auto& a : job.build_args) argv.insert(argv.end(), {"--build-arg", a});
    argv.push_back(job.context.string());

    ProcessOptions po;
    po.timeout = left();
    po.cancel = job.cancel;
    po.on_line = [&](std::string_view line) {
        std::string_view step = without_stage(line);
        if (step.rfind("STEP ", 0) == 0) progress(std::string(step));
    };
    auto t0 = Steady::now();
    auto built = run_process(argv, po);
    if (!built) {
        Error e = built.error();
        e.message = options.program + ": " + e.message;
        return e;
    }
    BuildahOutcome out;
    out.build_time = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - t0);
    out.steps = parse_build_steps(built->out + "\n" + built->err);
    if (!built->ok())
        return failure(*built, options, "buildah build of " + job.image, "BuildFailed");
    if (job.destination.empty()) return out;

    progress("pushing " + job.destination);
    const fs::path digest_file = scratch.path() / "digest";
    argv = global;
    argv.insert(argv.end(), {"push", "--digestfile", digest_file.string()});
    if (!job.tls_verify) argv.push_back("--tls-verify=false");
    if (!job.authfile.empty()) argv.insert(argv.end(), {"--authfile", job.authfile.string()});
    argv.insert(argv.end(), {job.image, job.destination});
    po.on_line = nullptr;
    po.timeout = left();
    auto t1 = Steady::now();
    auto pushed = run_process(argv, po);
    if (!pushed) return pushed.error();
    out.push_time = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - t1);
    if (!pushed->ok()) {
        return failure(*pushed, options, "buildah push to " + job.destination, "PushFailed");
    }
    auto digest = read_file(digest_file);
    std::string d = digest ? std::string(str::trim(*digest)) : std::string();
    if (!oci::is_valid_digest(d)) {
        return fail(Error::Kind::internal,
                    "buildah push to " + job.destination + " wrote no digest (\"" +
                        log::redact(d.substr(0, 80)) + "\")",
                    "PushFailed");
    }
    out.digest = d;
    progress("pushed " + job.destination + " " + d);
    return out;
}

}  // namespace poetryops::build

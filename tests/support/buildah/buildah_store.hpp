#pragma once
/// A private buildah image store for tests and benchmarks: a temp dir holding buildah's --root and
/// --runroot, with the local Debian bookworm base images of scripts/base-images.sh imported (Python
/// 3; the build image also has Poetry from Debian). Builds use `--isolation chroot --layers` with
/// the overlay driver (TEST-INFRA.md). The destructor removes every container and image it made,
/// unmounts what buildah left mounted under its root, and deletes the dir.
///
/// Header-only so that both tests/buildah and bench/ can use it without another library target.
/// Thread safety: unsafe; one store per test.

#include <poetryops/build/buildah.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/result.hpp>
#include <poetryops/util/subprocess.hpp>

#include <nlohmann/json.hpp>

#include <sys/mount.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace poetryops::test {

using build::BuildStep;
using build::parse_build_steps;

struct BuildOutcome {
    ProcessResult process;
    std::vector<BuildStep> steps;
};

class BuildahStore {
public:
    /// Which base images a store imports: the Python ones (runtime_image(), build_image()), or the
    /// plain Debian one the controller image's stages start from (controller_base_image()).
    enum class Bases { python, controller };

    /// Makes the store and imports the base images (the first run on a machine runs debootstrap:
    /// ~1-2 minutes for the Python ones, ~4 for the controller one).
    static Result<BuildahStore> create(const std::filesystem::path& source_dir,
                                       Bases bases = Bases::python) {
        BuildahStore store(source_dir);
        std::vector<std::string> argv = {(source_dir / "scripts" / "base-images.sh").string(),
                                         bases == Bases::python ? "import" : "controller",
                                         "--root",
                                         store.root().string(),
                                         "--runroot",
                                         store.runroot().string()};
        ProcessOptions opts;
        opts.timeout = std::chrono::minutes(20);
        POETRYOPS_TRY(ProcessResult r, run_process(argv, opts));
        if (!r.ok()) {
            return fail(Error::Kind::internal, "base-images.sh import failed (exit " +
                                                   std::to_string(r.exit_code) +
                                                   "): " + r.err.substr(0, 2000));
        }
        std::istringstream out(r.out);
        std::string line;
        while (std::getline(out, line)) {
            if (line.rfind("runtime=", 0) == 0) store.runtime_image_ = line.substr(8);
            if (line.rfind("build=", 0) == 0) store.build_image_ = line.substr(6);
            if (line.rfind("controller=", 0) == 0) store.controller_base_image_ = line.substr(11);
        }
        if (bases == Bases::controller
                ? store.controller_base_image_.empty()
                : store.runtime_image_.empty() || store.build_image_.empty()) {
            return fail(Error::Kind::internal,
                        "base-images.sh import printed no image names: " + r.out);
        }
        return store;
    }

    BuildahStore(BuildahStore&& other) noexcept
        : dir_(std::move(other.dir_)),
          owner_(std::exchange(other.owner_, false)),
          runtime_image_(std::move(other.runtime_image_)),
          build_image_(std::move(other.build_image_)),
          controller_base_image_(std::move(other.controller_base_image_)) {}
    BuildahStore(const BuildahStore&) = delete;
    BuildahStore& operator=(const BuildahStore&) = delete;
    BuildahStore& operator=(BuildahStore&&) = delete;

    ~BuildahStore() {
        if (!owner_) return;
        ProcessOptions quiet;
        quiet.timeout = std::chrono::minutes(2);
        (void)run_process(argv({"rm", "--all"}), quiet);
        (void)run_process(argv({"rmi", "--all", "--force"}), quiet);
        unmount_under(dir_.path());
    }

    /// Python 3 only (the runtime base).
    const std::string& runtime_image() const { return runtime_image_; }
    /// Python 3 + python3-venv + python3-poetry (the build base, "Poetry preinstalled").
    const std::string& build_image() const { return build_image_; }
    /// Debian bookworm minbase with the controller image's runtime packages, no Python
    /// (Bases::controller).
    const std::string& controller_base_image() const { return controller_base_image_; }
    std::filesystem::path root() const { return dir_.path() / "root"; }
    std::filesystem::path runroot() const { return dir_.path() / "runroot"; }

    /// `buildah --root R --runroot RR --storage-driver overlay ARGS...`
    std::vector<std::string> argv(const std::vector<std::string>& args) const {
        std::vector<std::string> v = {"buildah",   "--root",           root().string(),
                                      "--runroot", runroot().string(), "--storage-driver",
                                      "overlay"};
        v.insert(v.end(), args.begin(), args.end());
        return v;
    }

    Result<ProcessResult> buildah(
        const std::vector<std::string>& args,
        std::chrono::milliseconds timeout = std::chrono::minutes(5)) const {
        ProcessOptions opts;
        opts.timeout = timeout;
        return run_process(argv(args), opts);
    }

    /// `buildah build --isolation chroot --layers -f DOCKERFILE -t TAG [--build-arg K=V...]
    /// CONTEXT`; the steps say which layers were reused.
    Result<BuildOutcome> build(const std::filesystem::path& context, const std::string& tag,
                               const std::filesystem::path& dockerfile = {},
                               const std::vector<std::string>& build_args = {}) const {
        std::vector<std::string> args = {"build", "--isolation", "chroot", "--layers", "-t", tag};
        if (!dockerfile.empty()) {
            args.push_back("-f");
            args.push_back(dockerfile.string());
        }
        for (const std::string& a : build_args) {
            args.push_back("--build-arg");
            args.push_back(a);
        }
        args.push_back(context.string());
        POETRYOPS_TRY(ProcessResult r, buildah(args, std::chrono::minutes(10)));
        BuildOutcome outcome;
        outcome.steps = parse_build_steps(r.out + "\n" + r.err);
        outcome.process = std::move(r);
        return outcome;
    }

    /// A working container from `image`; removed by the store's destructor at the latest.
    Result<std::string> from(const std::string& image) const {
        POETRYOPS_TRY(ProcessResult r, buildah({"from", "--pull-never", image}));
        if (!r.ok()) return fail(Error::Kind::internal, "buildah from " + image + ": " + r.err);
        std::string name = r.out;
        while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
        if (auto nl = name.rfind('\n'); nl != std::string::npos) name = name.substr(nl + 1);
        return name;
    }

    /// Runs argv in a container as the user the image configures (buildah run's default).
    Result<ProcessResult> run(const std::string& container,
                              const std::vector<std::string>& command) const {
        std::vector<std::string> args = {"run", "--isolation", "chroot", container, "--"};
        args.insert(args.end(), command.begin(), command.end());
        return buildah(args, std::chrono::minutes(2));
    }

    /// The container's root filesystem on the host (buildah mount).
    Result<std::filesystem::path> mount(const std::string& container) const {
        POETRYOPS_TRY(ProcessResult r, buildah({"mount", container}));
        if (!r.ok())
            return fail(Error::Kind::internal, "buildah mount " + container + ": " + r.err);
        std::string path = r.out;
        while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
        return std::filesystem::path(path);
    }

    /// `buildah inspect --type image --format FORMAT IMAGE`, trimmed.
    Result<std::string> inspect(const std::string& image, const std::string& format) const {
        POETRYOPS_TRY(ProcessResult r,
                      buildah({"inspect", "--type", "image", "--format", format, image}));
        if (!r.ok()) return fail(Error::Kind::internal, "buildah inspect " + image + ": " + r.err);
        std::string s = r.out;
        while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
        return s;
    }

    /// The image's runtime configuration (the OCI config's "config": User, Entrypoint, Cmd, Env,
    /// WorkingDir).
    Result<nlohmann::json> image_config(const std::string& image) const {
        POETRYOPS_TRY(std::string text, inspect(image, "{{.Config}}"));
        auto doc = nlohmann::json::parse(text, nullptr, false);
        if (doc.is_discarded() || !doc.contains("config") || !doc["config"].is_object()) {
            return fail(Error::Kind::decode,
                        "buildah inspect " + image + ": no config in " + text.substr(0, 200));
        }
        return doc["config"];
    }

    /// ENTRYPOINT followed by CMD: what `docker run IMAGE` runs.
    Result<std::vector<std::string>> image_command(const std::string& image) const {
        POETRYOPS_TRY(nlohmann::json config, image_config(image));
        std::vector<std::string> command;
        for (const char* key : {"Entrypoint", "Cmd"}) {
            if (config.contains(key) && config[key].is_array()) {
                for (const auto& w : config[key]) {
                    if (w.is_string()) command.push_back(w.get<std::string>());
                }
            }
        }
        return command;
    }

    /// The image's size in bytes: the sum of its (uncompressed) layers as the manifest lists them,
    /// which is what `docker images` shows.
    Result<std::uint64_t> image_size(const std::string& image) const {
        POETRYOPS_TRY(std::string manifest, inspect(image, "{{.Manifest}}"));
        const auto doc = nlohmann::json::parse(manifest, nullptr, false);
        if (doc.is_discarded() || !doc.contains("layers") || !doc["layers"].is_array()) {
            return fail(Error::Kind::decode,
                        "buildah inspect " + image + ": no layers in the manifest");
        }
        std::uint64_t total = 0;
        for (const auto& layer : doc["layers"]) total += layer.value("size", std::uint64_t{0});
        return total;
    }

private:
    explicit BuildahStore(const std::filesystem::path& source_dir) : dir_("buildah") {
        std::filesystem::create_directories(root());
        std::filesystem::create_directories(runroot());
        (void)source_dir;
    }

    /// Detaches every mount below `dir` (buildah's overlay driver leaves its home and working
    /// mounts behind).
    static void unmount_under(const std::filesystem::path& dir) {
        std::ifstream mounts("/proc/self/mountinfo");
        std::vector<std::string> targets;
        std::string line;
        const std::string prefix = dir.string() + "/";
        while (std::getline(mounts, line)) {
            std::istringstream fields(line);
            std::string id, parent, devno, root, target;
            fields >> id >> parent >> devno >> root >> target;
            if (target.rfind(prefix, 0) == 0) targets.push_back(target);
        }
        // Deepest first.
        std::sort(targets.begin(), targets.end(),
                  [](const auto& a, const auto& b) { return a.size() > b.size(); });
        for (const std::string& t : targets) ::umount2(t.c_str(), MNT_DETACH);
    }

    TempDir dir_;
    bool owner_ = true;
    std::string runtime_image_;
    std::string build_image_;
    std::string controller_base_image_;
};

}  // namespace poetryops::test

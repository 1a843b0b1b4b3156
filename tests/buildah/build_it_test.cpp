// The real build test: the Dockerfile generated for examples/hello is built with buildah on local
// Debian base images (Python 3; Poetry from Debian preinstalled in the build image, since PyPI is
// unreachable), then the image is checked the way a user would: it runs its command, ships neither
// Poetry nor the dev dependency nor the venv's pip/setuptools/wheel, starts Python without stderr
// noise, runs as a non-root user, and a code-only change rebuilds without reinstalling
// dependencies.
#include "support/buildah/buildah_store.hpp"

#include <poetryops/dockerfile/generator.hpp>
#include <poetryops/python/project.hpp>
#include <poetryops/util/fs.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "support/support.hpp"

namespace poetryops::test {
namespace {

namespace fs = std::filesystem;

std::string tail(const std::string& s, std::size_t n = 3000) {
    return s.size() > n ? s.substr(s.size() - n) : s;
}

bool is_poetry_name(const std::string& name) {
    return name == "poetry" || name.rfind("poetry-", 0) == 0 || name.rfind("poetry_", 0) == 0;
}

/// Paths under `rootfs` whose file name looks like Poetry (its package, its script, its dist-info).
std::vector<fs::path> find_poetry(const fs::path& rootfs) {
    std::vector<fs::path> found;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(
             rootfs, fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        const std::string name = it->path().filename().string();
        if (it.depth() == 0 && (name == "proc" || name == "sys" || name == "dev")) {
            it.disable_recursion_pending();
            continue;
        }
        if (is_poetry_name(name)) found.push_back(fs::relative(it->path(), rootfs));
    }
    return found;
}

/// The site-packages folders of every venv (a folder with pyvenv.cfg) under rootfs/app.
std::vector<fs::path> venv_site_packages(const fs::path& rootfs) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(rootfs / "app", ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        if (it->path().filename() != "pyvenv.cfg") continue;
        for (const auto& lib : fs::directory_iterator(it->path().parent_path() / "lib", ec)) {
            if (fs::is_directory(lib.path() / "site-packages"))
                out.push_back(lib.path() / "site-packages");
        }
    }
    return out;
}

std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
        names.push_back(e.path().filename().string());
    return names;
}

bool any_starts_with(const std::vector<std::string>& names, const std::string& prefix) {
    for (const auto& n : names) {
        if (n.rfind(prefix, 0) == 0) return true;
    }
    return false;
}

const BuildStep* find_step(const std::vector<BuildStep>& steps, const std::string& needle) {
    for (const auto& s : steps) {
        if (s.instruction.find(needle) != std::string::npos) return &s;
    }
    return nullptr;
}

void write(const fs::path& p, const std::string& text) {
    auto r = write_file_atomic(p, text);
    ASSERT_TRUE(r.has_value()) << r.error().message;
}

TEST(BuildahBuild, GeneratedDockerfileBuildsARunnableNonRootImageWithoutPoetryOrDevDependencies) {
    ASSERT_TRUE(require_tools({"buildah", "debootstrap", "tar", "flock"}));
    auto store = BuildahStore::create(source_dir());
    ASSERT_TRUE(store.has_value()) << store.error().message;

    TempDir work("build-it");
    const fs::path ctx = work.path() / "hello";
    fs::copy(source_dir() / "examples" / "hello", ctx, fs::copy_options::recursive);
    fs::remove_all(ctx / ".venv");  // a developer's local venv must not matter

    auto project = python::load_project(ctx);
    ASSERT_TRUE(project.has_value()) << project.error().message;
    dockerfile::GenerateOptions options;
    options.build_image = store->build_image();
    options.runtime_image = store->runtime_image();
    options.poetry = "preinstalled";
    auto files = dockerfile::generate(*project, options);
    ASSERT_TRUE(files.has_value()) << files.error().message;
    write(ctx / "Dockerfile", files->dockerfile);
    write(ctx / ".dockerignore", files->dockerignore);

    const std::string image = "localhost/poetryops-test/hello:it";
    auto first = store->build(ctx, image);
    ASSERT_TRUE(first.has_value()) << first.error().message;
    ASSERT_TRUE(first->process.ok()) << "Dockerfile:\n"
                                     << files->dockerfile << "\nbuild output:\n"
                                     << tail(first->process.out) << tail(first->process.err);

    // The dependency step of the first build in a fresh store cannot come from the cache; this also
    // proves that the step parser sees the steps the rebuild check below relies on.
    const BuildStep* deps_first = find_step(first->steps, "--no-root");
    ASSERT_NE(deps_first, nullptr) << "no dependency-install step in the build output:\n"
                                   << tail(first->process.out);
    EXPECT_FALSE(deps_first->cached);

    // The image configuration: a non-root numeric user and an exec-form command.
    auto config = store->image_config(image);
    ASSERT_TRUE(config.has_value()) << config.error().message;
    const std::string user = config->value("User", "");
    EXPECT_FALSE(user.empty()) << "the image sets no USER";
    EXPECT_NE(user.substr(0, user.find(':')), "0");
    EXPECT_NE(user.substr(0, user.find(':')), "root");
    auto image_command = store->image_command(image);
    ASSERT_TRUE(image_command.has_value()) << image_command.error().message;
    const std::vector<std::string> command = *image_command;
    ASSERT_FALSE(command.empty()) << "the image has no command: " << config->dump();

    auto ctr = store->from(image);
    ASSERT_TRUE(ctr.has_value()) << ctr.error().message;

    // 1. It runs its command (ENTRYPOINT + CMD, as the configured user) and prints the expected
    // line.
    auto ran = store->run(*ctr, command);
    ASSERT_TRUE(ran.has_value()) << ran.error().message;
    EXPECT_TRUE(ran->ok()) << ran->err;
    EXPECT_NE(ran->out.find("hello from poetryops 0.1.0 (python 3.11)"), std::string::npos)
        << "stdout: " << ran->out << "\nstderr: " << ran->err;

    // 2. Not root.
    auto uid = store->run(*ctr, {"id", "-u"});
    ASSERT_TRUE(uid.has_value()) << uid.error().message;
    ASSERT_TRUE(uid->ok()) << uid->err;
    EXPECT_NE(uid->out, "0\n");
    EXPECT_EQ(uid->out, std::to_string(options.uid) + "\n");

    // 3. No Poetry: not on PATH, not importable, no file of it anywhere in the image.
    auto which = store->run(*ctr, {"sh", "-c", "command -v poetry"});
    ASSERT_TRUE(which.has_value());
    EXPECT_FALSE(which->ok()) << "poetry is on PATH: " << which->out;
    auto import_poetry = store->run(*ctr, {"python", "-c", "import poetry"});
    ASSERT_TRUE(import_poetry.has_value());
    EXPECT_FALSE(import_poetry->ok()) << "poetry is importable in the final image";
    auto rootfs = store->mount(*ctr);
    ASSERT_TRUE(rootfs.has_value()) << rootfs.error().message;
    const auto poetry_files = find_poetry(*rootfs);
    EXPECT_TRUE(poetry_files.empty())
        << "Poetry in the final image, e.g. /" << poetry_files.front().string();
    {
        // The same scan does find Poetry in the build image, so an empty result above means
        // something.
        auto build_ctr = store->from(store->build_image());
        ASSERT_TRUE(build_ctr.has_value()) << build_ctr.error().message;
        auto build_root = store->mount(*build_ctr);
        ASSERT_TRUE(build_root.has_value()) << build_root.error().message;
        EXPECT_FALSE(find_poetry(*build_root).empty()) << "the scan for Poetry cannot see Poetry";
    }

    // 4. The venv has the project but not the dev-only path dependency, whose sources are not in
    // the image either.
    const auto site = venv_site_packages(*rootfs);
    ASSERT_EQ(site.size(), 1u) << "expected one venv under /app";
    const auto installed = names_in(site.front());
    EXPECT_TRUE(any_starts_with(installed, "hello"))
        << "the project is not installed in " << site.front();
    EXPECT_FALSE(any_starts_with(installed, "devtool"))
        << "the dev dependency is installed in " << site.front();
    EXPECT_FALSE(fs::exists(*rootfs / "app" / "libs" / "devtool" / "devtool"));
    auto import_dev = store->run(*ctr, {"python", "-c", "import devtool"});
    ASSERT_TRUE(import_dev.has_value());
    EXPECT_FALSE(import_dev->ok()) << "devtool is importable in the final image";
    auto import_app =
        store->run(*ctr, {"python", "-c", "import hello.main; print(hello.main.message())"});
    ASSERT_TRUE(import_app.has_value());
    EXPECT_TRUE(import_app->ok()) << import_app->err;

    // 5. pip, setuptools and wheel, which the venv was seeded with and the app does not depend on,
    // are gone, and
    //    Python still starts cleanly: a leftover distutils-precedence.pth without _distutils_hack
    //    would print "Error processing line 1 of ...pth" on every start.
    const auto venv = site.front().parent_path().parent_path().parent_path();
    for (const std::string tool : {"pip", "setuptools", "wheel", "pkg_resources", "_distutils_hack",
                                   "distutils-precedence.pth"}) {
        EXPECT_FALSE(any_starts_with(installed, tool)) << tool << " is still in " << site.front();
    }
    // Also the script names Debian's virtualenv adds (pip-3.11, wheel3, wheel3.11): dead without
    // their package.
    for (const std::string script : {"pip", "wheel"}) {
        EXPECT_FALSE(any_starts_with(names_in(venv / "bin"), script))
            << script << " is still in " << venv / "bin";
    }
    auto import_pip = store->run(*ctr, {"python", "-c", "import pip"});
    ASSERT_TRUE(import_pip.has_value());
    EXPECT_FALSE(import_pip->ok()) << "pip is importable in the final image";
    auto quiet_start = store->run(*ctr, {"python", "-c", "import hello"});
    ASSERT_TRUE(quiet_start.has_value());
    EXPECT_TRUE(quiet_start->ok()) << quiet_start->err;
    EXPECT_EQ(quiet_start->err, "") << "Python prints on start-up in the final image";

    // 6. A code-only change: the dependency layer comes from the cache, the code layers are
    // rebuilt, the new code runs.
    std::string main_py = read_file(ctx / "hello" / "main.py").value_or("");
    const std::string old_greeting = "GREETING = \"hello from poetryops\"";
    ASSERT_NE(main_py.find(old_greeting), std::string::npos);
    main_py.replace(main_py.find(old_greeting), old_greeting.size(),
                    "GREETING = \"hello again from poetryops\"");
    write(ctx / "hello" / "main.py", main_py);
    auto second = store->build(ctx, image);
    ASSERT_TRUE(second.has_value()) << second.error().message;
    ASSERT_TRUE(second->process.ok()) << tail(second->process.out) << tail(second->process.err);
    const BuildStep* deps_again = find_step(second->steps, "--no-root");
    ASSERT_NE(deps_again, nullptr) << tail(second->process.out);
    EXPECT_TRUE(deps_again->cached)
        << "the dependency layer was rebuilt after a code-only change:\n"
        << tail(second->process.out);
    // The project install (console script, .pth, dist-info) does not depend on the code either;
    // only the code's own layer, the last one, is made again.
    const BuildStep* project_install = find_step(second->steps, "poetry install --only main &&");
    ASSERT_NE(project_install, nullptr) << tail(second->process.out);
    EXPECT_TRUE(project_install->cached)
        << "the project install ran again after a code-only change:\n"
        << tail(second->process.out);
    std::vector<const BuildStep*> rebuilt;
    for (const auto& s : second->steps) {
        // FROM never prints "Using cache"; it makes no layer.
        if (!s.cached && s.instruction.rfind("FROM ", 0) != 0) rebuilt.push_back(&s);
    }
    ASSERT_FALSE(rebuilt.empty()) << "the changed code was not copied again";
    for (const BuildStep* s : rebuilt) {
        // The syntax check compiles the changed code in the build stage (and nothing of it reaches
        // the runtime stage, whose venv copy stays cached).
        if (s->instruction.rfind("RUN /app/.venv/bin/python -m compileall -q /tmp/check", 0) == 0)
            continue;
        EXPECT_NE(s->instruction.find("COPY"), std::string::npos)
            << "a code-only change re-ran more than copying the code: " << s->instruction;
        EXPECT_NE(s->instruction.find("hello"), std::string::npos)
            << "a code-only change re-ran more than copying the code: " << s->instruction;
    }

    auto ctr2 = store->from(image);
    ASSERT_TRUE(ctr2.has_value()) << ctr2.error().message;
    auto ran2 = store->run(*ctr2, command);
    ASSERT_TRUE(ran2.has_value()) << ran2.error().message;
    EXPECT_NE(ran2->out.find("hello again from poetryops 0.1.0"), std::string::npos)
        << ran2->out << ran2->err;
}

}  // namespace
}  // namespace poetryops::test

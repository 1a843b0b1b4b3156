// The controller image (images/controller/Dockerfile) built with buildah from this build's
// binaries (BINARIES=prebuilt, so the test compiles nothing) on the local Debian base of
// scripts/base-images.sh, then checked as the chart and the build Job use it: the configured user
// is 65532 and the entrypoint tini then poetryops; the root filesystem holds only the expected
// files (no package manager, no bash); the binaries' shared libraries resolve; git, with the
// askpass helper through /bin/sh and git-remote-https, fetches from a real HTTPS git server with
// basic auth when the build Job's init container argv (build::make_job) runs in the image as
// 65532, also on a read-only root filesystem with /tmp a tmpfs, as the chart's securityContext has
// it. Prints the image's size, compressed size and file count (docs/benchmarks.md, "Issue #14:
// controller image").
#include "support/buildah/buildah_store.hpp"
#include "support/git/git_servers.hpp"

#include <poetryops/api/poetryapp.hpp>
#include <poetryops/build/job.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/subprocess.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "support/support.hpp"

namespace poetryops::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using json = nlohmann::json;

constexpr const char* kImage = "localhost/poetryops-test/poetryops:it";
constexpr int kUid = 65532;

std::string tail(const std::string& s, std::size_t n = 3000) {
    return s.size() > n ? s.substr(s.size() - n) : s;
}

std::string mb(std::uint64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
    return buf;
}

/// What a root filesystem holds: every non-directory path (relative, '/'-separated) and which of
/// them are regular files.
struct Tree {
    std::set<std::string> entries;
    std::set<std::string> files;
    std::uint64_t file_bytes = 0;
};

Tree scan(const fs::path& rootfs) {
    Tree t;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(rootfs, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        const auto status = it->symlink_status(ec);
        if (fs::is_directory(status)) continue;
        const std::string rel = it->path().lexically_relative(rootfs).generic_string();
        t.entries.insert(rel);
        if (fs::is_regular_file(status)) {
            t.files.insert(rel);
            t.file_bytes += fs::file_size(it->path(), ec);
        }
    }
    return t;
}

/// A regular file the image may hold: the programs, their shared libraries, and the few
/// configuration files the Dockerfile writes.
bool expected_file(const std::string& rel) {
    static const std::set<std::string> exact = {
        "usr/local/bin/poetryops",
        "usr/local/bin/kubectl-poetryops",
        "usr/bin/git",
        "usr/lib/git-core/git-remote-http",
        "usr/bin/ssh",
        "usr/bin/dash",
        "usr/bin/tini",
        "etc/passwd",
        "etc/group",
        "etc/nsswitch.conf",
        "etc/ssl/certs/ca-certificates.crt",
        "etc/ssl/openssl.cnf",
    };
    if (exact.count(rel)) return true;
    // usr/lib/<multiarch triplet>/lib*.so* and the dynamic loader (ld-linux-*.so.*).
    if (rel.rfind("usr/lib/", 0) != 0) return false;
    const std::string rest = rel.substr(8);
    const auto slash = rest.find('/');
    if (slash == std::string::npos || rest.find('/', slash + 1) != std::string::npos) return false;
    if (rest.substr(0, slash).find("-linux-") == std::string::npos) return false;
    const std::string name = rest.substr(slash + 1);
    return (name.rfind("lib", 0) == 0 || name.rfind("ld-linux", 0) == 0) &&
           name.find(".so") != std::string::npos;
}

/// The sum of the layer sizes of `image` pushed gzip-compressed into an OCI layout: what a
/// registry stores and a node pulls.
std::uint64_t compressed_size(const BuildahStore& store, const std::string& image,
                              const fs::path& layout) {
    auto pushed = store.buildah({"push", "--quiet", "--compression-format", "gzip", image,
                                 "oci:" + layout.string() + ":it"});
    EXPECT_TRUE(pushed && pushed->ok()) << (pushed ? pushed->err : pushed.error().message);
    auto index = read_file(layout / "index.json");
    if (!index) return 0;
    const auto doc = json::parse(*index, nullptr, false);
    if (doc.is_discarded() || !doc.contains("manifests") || doc["manifests"].empty()) return 0;
    const std::string digest = doc["manifests"][0].value("digest", "");
    auto manifest = read_file(layout / "blobs" / "sha256" / digest.substr(digest.find(':') + 1));
    if (!manifest) return 0;
    const auto m = json::parse(*manifest, nullptr, false);
    std::uint64_t total = 0;
    if (!m.is_discarded() && m.contains("layers")) {
        for (const auto& layer : m["layers"]) total += layer.value("size", std::uint64_t{0});
    }
    return total;
}

TEST(ControllerImage, BuildsFromPrebuiltBinariesIntoAMinimalNonRootImageThatFetchesWithGit) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "controller image test skipped: not root (buildah, debootstrap)";
    }
    ASSERT_TRUE(require_tools({"buildah", "debootstrap", "tar", "flock", "strip", "lighttpd"}));
    auto store = BuildahStore::create(source_dir(), BuildahStore::Bases::controller);
    ASSERT_TRUE(store.has_value()) << store.error().message;

    // The build context: this build's binaries, stripped as the source stage strips them.
    TempDir work("controller-image-it");
    const fs::path ctx = work.path() / "context";
    fs::create_directories(ctx / "build");
    std::uint64_t binaries_bytes = 0;
    for (const auto& [name, path] : std::map<std::string, std::string>{
             {"poetryops", POETRYOPS_BIN}, {"kubectl-poetryops", KUBECTL_POETRYOPS_BIN}}) {
        must_run({"strip", "--strip-unneeded", "-o", (ctx / "build" / name).string(), path});
        binaries_bytes += fs::file_size(ctx / "build" / name);
    }

    const auto started = std::chrono::steady_clock::now();
    auto built = store->build(ctx, kImage, source_dir() / "images" / "controller" / "Dockerfile",
                              {"BINARIES=prebuilt", "DEBIAN=" + store->controller_base_image()});
    const auto build_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - started)
                              .count();
    ASSERT_TRUE(built.has_value()) << built.error().message;
    ASSERT_TRUE(built->process.ok()) << tail(built->process.out) << tail(built->process.err);
    // The runtime packages are in the local base: the build fetched nothing.
    EXPECT_THAT(built->process.out + built->process.err,
                ::testing::Not(HasSubstr("gather: fetching ")))
        << "the gather stage ran apt-get (scripts/base-images.sh CONTROLLER_PKGS and the "
           "Dockerfile's RUNTIME_PACKAGES differ)";

    // 1. The configuration the chart and the build Job rely on.
    auto config = store->image_config(kImage);
    ASSERT_TRUE(config.has_value()) << config.error().message;
    EXPECT_EQ(config->value("User", ""), "65532:65532");
    EXPECT_EQ((*config)["Entrypoint"],
              json::array({"/usr/bin/tini", "-s", "--", "/usr/local/bin/poetryops"}));
    EXPECT_FALSE(config->contains("Cmd") && !(*config)["Cmd"].empty()) << config->dump();
    EXPECT_THAT((*config)["Env"].dump(), HasSubstr("PATH=/usr/local/bin:"));

    // 2. Only the expected files: no package manager, no bash, nothing unexplained.
    auto ctr = store->from(kImage);
    ASSERT_TRUE(ctr.has_value()) << ctr.error().message;
    auto rootfs = store->mount(*ctr);
    ASSERT_TRUE(rootfs.has_value()) << rootfs.error().message;
    const Tree tree = scan(*rootfs);
    for (const char* absent :
         {"usr/bin/apt", "usr/bin/apt-get", "usr/bin/dpkg", "var/lib/dpkg/status", "usr/bin/bash",
          "usr/bin/perl", "usr/bin/python3", "usr/bin/cat", "usr/bin/id"}) {
        EXPECT_EQ(tree.entries.count(absent), 0u) << "/" << absent << " is in the image";
    }
    // The system time zones (promotion windows), counted apart: some 900 small files.
    const std::string zoneinfo = "usr/share/zoneinfo/";
    std::size_t zone_entries = 0, zone_files = 0;
    for (const auto& e : tree.entries) zone_entries += e.rfind(zoneinfo, 0) == 0 ? 1 : 0;
    for (const std::string& f : tree.files) {
        if (f.rfind(zoneinfo, 0) == 0) {
            ++zone_files;
            continue;
        }
        EXPECT_TRUE(expected_file(f)) << "unexpected file /" << f;
    }
    EXPECT_EQ(tree.entries.count(zoneinfo + "Europe/Paris"), 1u) << "no time zones in the image";
    EXPECT_GT(zone_files, 300u);
    for (const char* present : {"usr/local/bin/poetryops", "usr/local/bin/kubectl-poetryops",
                                "usr/bin/git", "usr/lib/git-core/git-remote-https", "usr/bin/sh",
                                "usr/bin/ssh", "etc/ssl/certs/ca-certificates.crt"}) {
        EXPECT_EQ(tree.entries.count(present), 1u) << "/" << present << " is missing";
    }
    // Links included (git's builtins by name, the merged-/usr links, library sonames).
    EXPECT_LT(tree.entries.size() - zone_entries, 300u);
    EXPECT_LT(tree.files.size() - zone_files, 80u);
    struct stat tmp {};
    ASSERT_EQ(::stat((*rootfs / "tmp").c_str(), &tmp), 0);
    EXPECT_EQ(tmp.st_mode & 07777, 01777u);
    EXPECT_TRUE(fs::is_empty(*rootfs / "tmp"));

    // 3. The programs start as 65532 (their shared libraries resolve).
    auto run = [&](const std::vector<std::string>& argv,
                   const std::vector<std::string>& mounts = {}) {
        std::vector<std::string> args = {"run", "--isolation", "chroot", "--user", "65532:65532"};
        for (const auto& m : mounts) {
            args.push_back("--volume");
            args.push_back(m);
        }
        args.push_back(*ctr);
        args.push_back("--");
        args.insert(args.end(), argv.begin(), argv.end());
        auto r = store->buildah(args, std::chrono::minutes(2));
        EXPECT_TRUE(r.has_value()) << r.error().message;
        return r ? *r : ProcessResult{};
    };
    auto version = run({"poetryops", "--version"});
    EXPECT_EQ(version.exit_code, 0) << version.err;
    EXPECT_THAT(version.out, StartsWith("poetryops "));
    // Through the entrypoint, as the chart runs it (only args): tini passes them on.
    std::vector<std::string> entrypoint;
    for (const auto& w : (*config)["Entrypoint"]) entrypoint.push_back(w.get<std::string>());
    entrypoint.push_back("--version");
    auto via_tini = run(entrypoint);
    EXPECT_EQ(via_tini.exit_code, 0) << via_tini.err;
    EXPECT_EQ(via_tini.out, version.out);
    EXPECT_EQ(via_tini.err, "") << "tini warned";
    auto plugin = run({"kubectl-poetryops", "--help"});
    EXPECT_EQ(plugin.exit_code, 0) << plugin.err;
    EXPECT_THAT(plugin.out, HasSubstr("kubectl poetryops"));
    auto prepare_help = run({"poetryops", "build", "prepare", "--help"});
    EXPECT_EQ(prepare_help.exit_code, 0) << prepare_help.err;
    EXPECT_THAT(prepare_help.out, HasSubstr("--credentials-dir"));
    auto git = run({"git", "--version"});
    EXPECT_EQ(git.exit_code, 0) << git.err;
    EXPECT_THAT(git.out, StartsWith("git version "));
    auto ssh = run({"ssh", "-V"});
    EXPECT_EQ(ssh.exit_code, 0) << ssh.err;
    EXPECT_THAT(ssh.err, StartsWith("OpenSSH_"));
    // The uid the kernel gives the process (no `id` in the image; dash's read builtin).
    auto uid = run({"sh", "-c",
                    "while read -r k v rest; do [ \"$k\" = Uid: ] && echo \"$v\"; done "
                    "</proc/self/status"});
    EXPECT_EQ(uid.out, std::to_string(kUid) + "\n") << uid.err;

    // 4. The build Job's init container, its argv as make_job writes it, against a real HTTPS git
    // server with basic auth: git-remote-https, the CA file and the askpass helper via /bin/sh.
    BareRepos repos;
    repos.create("hello.git");
    TestCa ca;
    HttpGitServer server(repos, ca);
    ASSERT_TRUE(server.started()) << server.error_log();
    const std::string commit = repos.commit_files("hello.git", test::example_files("hello"));
    ASSERT_FALSE(commit.empty());

    api::PoetryApp app;
    app.metadata.name = "hello";
    app.metadata.namespace_ = "team-a";
    app.metadata.uid = "2f1c6e5a-7a51-4c4e-9d1e-0a4b7c9e0014";
    app.spec.source = api::SourceSpec{};
    app.spec.source->repo_url = server.https_url("hello.git");
    app.spec.source->ref = "main";
    app.spec.source->secret_ref = api::SecretRef{"hello-git"};
    app.spec.image.repository = "registry.example.com/acme/hello";
    app.spec.build = api::BuildSpec{};
    app.spec.build->engine = api::BuildEngine::buildah;
    app.spec.build->python = "3.11";
    app.spec.build->poetry = "preinstalled";
    auto job = build::make_job(app, {commit, "0.1.0", "0.1.0-" + commit.substr(0, 7)}, {});
    ASSERT_TRUE(job) << job.error().message;
    const json& init = (*job)["spec"]["template"]["spec"]["initContainers"][0];
    ASSERT_EQ(init["command"], json::array({"poetryops"}));
    std::vector<std::string> argv = {init["command"][0].get<std::string>()};
    std::string credentials_dir;
    for (const auto& a : init["args"]) argv.push_back(a.get<std::string>());
    for (std::size_t k = 0; k + 1 < argv.size(); ++k) {
        if (argv[k] == "--credentials-dir") credentials_dir = argv[k + 1];
    }
    ASSERT_FALSE(credentials_dir.empty()) << init.dump();

    // The Secret volume and the workspace emptyDir, as the kubelet would give them to 65532.
    const fs::path creds = work.path() / "creds";
    const fs::path workspace = work.path() / "workspace";
    fs::create_directories(creds);
    fs::create_directories(workspace);
    ASSERT_TRUE(write_file_atomic(creds / "username", server.user() + "\n"));
    ASSERT_TRUE(write_file_atomic(creds / "password", server.password() + "\n"));
    fs::copy_file(ca.ca_cert(), creds / "ca.crt");
    for (const auto& p : {creds / "username", creds / "password", creds / "ca.crt"})
        ::chmod(p.c_str(), 0644);
    ::chmod(creds.c_str(), 0755);
    ::chmod(work.path().c_str(), 0755);
    ASSERT_EQ(::chown(workspace.c_str(), kUid, kUid), 0);

    auto prepared = run(argv, {creds.string() + ":" + credentials_dir + ":ro",
                               workspace.string() + ":" + std::string(build::kWorkspace)});
    ASSERT_EQ(prepared.exit_code, 0) << "argv: " << init["args"].dump() << "\n"
                                     << prepared.out << prepared.err << server.error_log();
    EXPECT_THAT(prepared.out, HasSubstr("commit: " + commit));
    EXPECT_TRUE(fs::exists(workspace / "context" / "pyproject.toml"));
    EXPECT_TRUE(fs::exists(workspace / "dockerfile" / "Dockerfile"));
    struct stat written {};
    ASSERT_EQ(::stat((workspace / "dockerfile" / "Dockerfile").c_str(), &written), 0);
    EXPECT_EQ(written.st_uid, static_cast<uid_t>(kUid));

    // A local repository through file://: git runs git-upload-pack through /bin/sh, found by name
    // in /usr/lib/git-core. A copy that 65532 owns (git refuses a repository of another owner),
    // mounted read-only.
    const fs::path local = work.path() / "local";
    fs::create_directories(local);
    fs::copy(repos.path("hello.git"), local / "hello.git", fs::copy_options::recursive);
    must_run({"chown", "-R", std::to_string(kUid) + ":" + std::to_string(kUid), local.string()});
    auto listed = run({"git", "ls-remote", "file:///repos/hello.git", "refs/heads/main"},
                      {local.string() + ":/repos:ro"});
    EXPECT_EQ(listed.out, commit + "\trefs/heads/main\n") << listed.err;

    // 5. As the chart and the Job run it: the root filesystem read-only, /tmp an emptyDir (a tmpfs
    // here), the workspace and the Secret mounted, uid 65532 (a chroot in a private mount
    // namespace: buildah run has no read-only root). The mount points exist in the container's
    // layer, as the runtime makes them before it makes the root read-only.
    for (const auto& dir : {fs::path("workspace"), fs::path(credentials_dir).relative_path(),
                            fs::path("dev"), fs::path("proc")})
        fs::create_directories(*rootfs / dir);
    const fs::path view = work.path() / "view";
    const fs::path workspace_ro = work.path() / "workspace-ro";
    fs::create_directories(view);
    fs::create_directories(workspace_ro);
    ASSERT_EQ(::chown(workspace_ro.c_str(), kUid, kUid), 0);
    const std::string script =
        "set -e; V=$1 R=$2 WS=$3 CR=$4 CD=$5; shift 5\n"
        "mount --bind \"$R\" \"$V\"\n"
        "mount -t tmpfs -o mode=1777,size=64m tmpfs \"$V/tmp\"\n"
        "mount --bind \"$WS\" \"$V/workspace\"\n"
        "mount --bind -o ro \"$CR\" \"$V$CD\"\n"
        "mount --rbind /dev \"$V/dev\"\n"
        "mount -t proc proc \"$V/proc\"\n"
        "mount -o remount,bind,ro \"$V\"\n"
        "C=$(command -v chroot)\n"
        "exec env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp "
        "\"$C\" --userspec=65532:65532 \"$V\" \"$@\"\n";
    auto read_only_run = [&](const std::vector<std::string>& command) {
        std::vector<std::string> args = {"unshare",
                                         "--mount",
                                         "--propagation",
                                         "private",
                                         "sh",
                                         "-c",
                                         script,
                                         "sh",
                                         view.string(),
                                         rootfs->string(),
                                         workspace_ro.string(),
                                         creds.string(),
                                         credentials_dir};
        args.insert(args.end(), command.begin(), command.end());
        ProcessOptions opts;
        opts.timeout = std::chrono::minutes(2);
        auto r = run_process(args, opts);
        EXPECT_TRUE(r.has_value()) << r.error().message;
        return r ? *r : ProcessResult{};
    };
    // The mount options of / and /tmp as the process sees them (dash's read, no cat in the image).
    auto probe = read_only_run({"sh", "-c",
                                "while read -r id parent dev root at opts rest; do "
                                "case $at in /|/tmp) echo \"$at ${opts%%,*}\";; esac; "
                                "done </proc/self/mountinfo; : >/tmp/w && echo tmp-writable"});
    EXPECT_EQ(probe.out, "/ ro\n/tmp rw\ntmp-writable\n") << probe.err;
    auto prepared_ro = read_only_run(argv);
    EXPECT_EQ(prepared_ro.exit_code, 0) << prepared_ro.out << prepared_ro.err;
    EXPECT_THAT(prepared_ro.out, HasSubstr("commit: " + commit));
    EXPECT_TRUE(fs::exists(workspace_ro / "dockerfile" / "Dockerfile"));

    // 6. The figures for docs/benchmarks.md.
    auto size = store->image_size(kImage);
    ASSERT_TRUE(size.has_value()) << size.error().message;
    const std::uint64_t compressed = compressed_size(*store, kImage, work.path() / "layout");
    auto base = store->image_size(store->controller_base_image());
    ASSERT_TRUE(base.has_value()) << base.error().message;
    std::printf(
        "controller image: %s uncompressed, %s compressed (gzip), %zu files (%zu entries with "
        "links), %s of files; the two binaries alone %s stripped (image %.2fx of them); the Debian "
        "base it is gathered from %s (image %.2fx of it); build from prebuilt binaries %.1f s\n",
        mb(*size).c_str(), mb(compressed).c_str(), tree.files.size(), tree.entries.size(),
        mb(tree.file_bytes).c_str(), mb(binaries_bytes).c_str(),
        static_cast<double>(*size) / static_cast<double>(binaries_bytes), mb(*base).c_str(),
        static_cast<double>(*size) / static_cast<double>(*base), build_ms / 1000.0);
    RecordProperty("image_bytes", std::to_string(*size));
    RecordProperty("compressed_bytes", std::to_string(compressed));
    RecordProperty("files", std::to_string(tree.files.size()));
    EXPECT_GT(compressed, 0u);
    EXPECT_LT(*size, 80u * 1000 * 1000) << "the image grew past 80 MB";
}

}  // namespace
}  // namespace poetryops::test

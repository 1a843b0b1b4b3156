// `poetryops build` (a one-shot build of a Poetry project: what a CI job calls) and `poetryops
// build prepare` (the build Job's init container): wiring between the command line, the git module
// (the project at an exact commit, without a checkout), the python reader, the Dockerfile generator
// and linter, the buildah engine and the registry module (the pushed tag verified). Exit codes
// (cli/errors.hpp): 0 built (and pushed and verified); 1 the build, the push, the verification or a
// server failed; 2 bad input (flags, a missing or stale project file, a commit the server does not
// have, bad credentials), nothing built.
#include <poetryops/cli/commands.hpp>

#include "cli/detail/shared_flags.hpp"

#include <poetryops/api/duration.hpp>
#include <poetryops/api/poetryapp.hpp>
#include <poetryops/build/buildah.hpp>
#include <poetryops/dockerfile/generator.hpp>
#include <poetryops/dockerfile/linter.hpp>
#include <poetryops/git/repo.hpp>
#include <poetryops/oci/grammar.hpp>
#include <poetryops/oci/tag_template.hpp>
#include <poetryops/python/project.hpp>
#include <poetryops/registry/client.hpp>
#include <poetryops/registry/layout.hpp>
#include <poetryops/registry/reference.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/strings.hpp>
#include <poetryops/util/subprocess.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

namespace poetryops::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::string_view kBuild = "build";
constexpr std::string_view kPrepare = "build prepare";

std::atomic<bool> g_cancel{false};

extern "C" void on_build_signal(int) { g_cancel = true; }

/// Where the source is and how to reach it (`--source` mode and `build prepare`).
struct SourceFlags {
    std::string url;
    std::string ref;     ///< "" : main (build --source); in DIR mode the {branch} value
    std::string commit;  ///< "" : the tip of ref
    std::string path;    ///< "" : "." (the repository root)
    std::string credentials_dir;
    std::string git_username;
    std::string git_ssh_key;
    std::string git_known_hosts;
    std::string git_ca_file;
};

struct BuildArgs {
    std::string dir;
    SourceFlags source;
    std::string image;
    bool push = false;
    std::string tag;
    std::string tag_template = api::ImageSpec{}.tag_template;
    std::string build_number;
    std::string dockerfile = "generate";
    detail::GenerateFlags gen;
    std::vector<std::string> plain_http;
    std::string registry_config;
    std::string registry_layout;
    std::string buildah_root;
    std::string buildah_runroot;
    std::string storage_driver;
    std::string timeout = "30m";
    std::string format = "text";
};

struct PrepareArgs {
    SourceFlags source;
    std::string dockerfile = "generate";
    std::string out;
    detail::GenerateFlags gen;
};

/// A project ready to build: the context folder and the Dockerfile (text), and what the tag is
/// made of.
struct Prepared {
    python::Project project;
    fs::path context;
    std::string dockerfile;
    std::string dockerignore;  ///< "" : the context's own .dockerignore
    std::string commit;        ///< "" : not known (a folder outside git)
    std::string branch;
    Clock::time_point commit_time{};
};

Error bad(std::string message, std::string reason = {}) {
    return Error::make(Error::Kind::invalid, std::move(message), std::move(reason));
}

std::string short_sha(const std::string& sha) { return sha.substr(0, 7); }

std::string trim_newlines(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
}

bool is_ssh_url(const std::string& url) {
    return url.rfind("ssh://", 0) == 0 || url.rfind("git+ssh://", 0) == 0 ||
           (url.find("://") == std::string::npos && url.find('@') != std::string::npos);
}

/// The source remote: credentials from --credentials-dir (the files of a mounted Secret: username,
/// password or token, ssh-privatekey or identity, known_hosts, ca.crt), else from the `run` flags
/// and $POETRYOPS_GIT_PASSWORD. Secrets never come from argv. The ssh key is copied to a private
/// 0600 file (a Secret volume's files may be group-readable, which ssh refuses for a key).
Result<git::Remote> source_remote(const SourceFlags& f, const fs::path& private_dir) {
    git::Remote r;
    r.url = f.url;
    if (!f.credentials_dir.empty()) {
        const fs::path dir = f.credentials_dir;
        std::error_code ec;
        if (!fs::is_directory(dir, ec))
            return bad("--credentials-dir " + dir.string() + ": not a directory");
        auto file = [&](const char* name) -> Result<std::optional<std::string>> {
            const fs::path p = dir / name;
            if (!fs::exists(p, ec)) return std::optional<std::string>();
            auto text = read_file(p, 1024 * 1024);
            if (!text) {
                return bad("--credentials-dir: cannot read " + p.string() + ": " +
                           text.error().message);
            }
            return std::optional<std::string>(std::move(text).value());
        };
        POETRYOPS_TRY(auto username, file("username"));
        POETRYOPS_TRY(auto password, file("password"));
        POETRYOPS_TRY(auto token, file("token"));
        POETRYOPS_TRY(auto key, file("ssh-privatekey"));
        if (!key) {
            POETRYOPS_TRY(key, file("identity"));
        }
        if (username) r.username = trim_newlines(*username);
        if (password) {
            r.password = trim_newlines(*password);
        } else if (token) {
            r.password = trim_newlines(*token);
        }
        if (is_ssh_url(r.url)) {
            if (!key) {
                return bad("--credentials-dir " + dir.string() +
                           ": no ssh-privatekey file for the ssh URL " + git::display_url(r.url));
            }
            if (!fs::exists(dir / "known_hosts", ec)) {
                return bad("--credentials-dir " + dir.string() +
                           ": no known_hosts file for the ssh URL " + git::display_url(r.url) +
                           " (host keys are always checked)");
            }
            r.ssh_key = private_dir / "ssh-privatekey";
            POETRYOPS_TRY_VOID(write_file_atomic(r.ssh_key, *key, 0600));
            r.known_hosts = dir / "known_hosts";
        }
        if (fs::exists(dir / "ca.crt", ec)) r.ca_file = dir / "ca.crt";
    } else {
        r.username = f.git_username;
        if (const char* p = std::getenv("POETRYOPS_GIT_PASSWORD"); p && *p) r.password = p;
        r.ssh_key = f.git_ssh_key;
        r.known_hosts = f.git_known_hosts;
        r.ca_file = f.git_ca_file;
    }
    if (auto v = git::validate_remote(r); !v) {
        Error e = std::move(v).error();
        e.message = "--source: " + e.message;
        return e;
    }
    return r;
}

/// `path` (relative to the project folder, or absolute) as a file inside `project_dir`; symlinks
/// are followed, so a link out of the project is refused too.
Result<fs::path> inside_project(const fs::path& project_dir, const std::string& path,
                                const std::string& flag) {
    std::error_code ec;
    const fs::path root = fs::weakly_canonical(fs::absolute(project_dir, ec), ec);
    const fs::path candidate = fs::path(path).is_absolute() ? fs::path(path) : root / path;
    const fs::path resolved = fs::weakly_canonical(candidate, ec);
    const fs::path rel = resolved.lexically_relative(root);
    if (ec || rel.empty() || *rel.begin() == ".." || rel == ".") {
        return bad(flag + " " + path + ": outside the project folder " + project_dir.string() +
                   " (the build context); give a path inside it");
    }
    if (!fs::is_regular_file(resolved, ec)) {
        return fail(Error::Kind::not_found,
                    flag + " " + path + ": no such file in the project " + project_dir.string());
    }
    return resolved;
}

/// The project's own Dockerfile: read, linted (findings are warnings, never a refusal).
Result<std::string> own_dockerfile(std::string_view cmd, const fs::path& project_dir,
                                   const std::string& path) {
    POETRYOPS_TRY(fs::path file, inside_project(project_dir, path, "--dockerfile"));
    POETRYOPS_TRY(std::string text, read_file(file, 4 * 1024 * 1024));
    dockerfile::LintContext lc;
    lc.file = path;
    lc.dockerignore_known = true;
    if (auto ignore = read_file(project_dir / ".dockerignore", 1024 * 1024))
        lc.dockerignore = *ignore;
    if (auto toml = read_file(project_dir / "poetry.toml", 1024 * 1024)) lc.poetry_toml = *toml;
    auto report = dockerfile::lint(text, lc);
    if (!report) {
        say(cmd, "warning: " + report.error().message);
    } else {
        for (const auto& finding : report->findings) {
            say(cmd, "warning: " + finding.file + ":" + std::to_string(finding.line) + ": " +
                         finding.rule + ": " + finding.message);
        }
        for (const auto& w : report->warnings) say(cmd, "warning: " + w);
    }
    return text;
}

/// The lock must be what Poetry will install from: refused when stale or missing.
Result<void> check_lock(const python::Project& project, const std::string& poetry, bool generated) {
    // The project's own Dockerfile brings its own Poetry: any version's rule may apply.
    auto fresh = python::check_lock_fresh(project, generated ? poetry : std::string());
    if (fresh) return ok();
    Error e = std::move(fresh).error();
    if (e.reason == "NoLock") {
        e.message = (project.dir / "poetry.lock").string() +
                    ": no lock file; run `poetry lock` and commit poetry.lock (nothing was built)";
    } else {
        e.message += " (nothing was built)";
    }
    return e;
}

/// `git -C DIR ARGS...`: its trimmed stdout, or nullopt when git fails or is missing.
std::optional<std::string> git_in(const fs::path& dir, std::vector<std::string> args) {
    std::vector<std::string> argv = {"git", "-C", dir.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions o;
    o.timeout = std::chrono::seconds(30);
    auto r = run_process(argv, o);
    if (!r || !r->ok()) return std::nullopt;
    return std::string(str::trim(r->out));
}

Result<Prepared> prepare_dir(const BuildArgs& a) {
    Prepared p;
    const fs::path dir = a.dir.empty() ? fs::path(".") : fs::path(a.dir);
    POETRYOPS_TRY(p.project, python::load_project(dir));
    const bool generated = a.dockerfile == "generate";
    POETRYOPS_TRY_VOID(check_lock(p.project, a.gen.poetry, generated));
    p.context = dir;
    if (auto head = git_in(dir, {"log", "-1", "--format=%H %ct", "HEAD"})) {
        auto parts = str::split(*head, ' ');
        if (parts.size() == 2 && (parts[0].size() == 40 || parts[0].size() == 64) &&
            parts[0].find_first_not_of("0123456789abcdef") == std::string::npos) {
            p.commit = parts[0];
            p.commit_time = Clock::time_point(std::chrono::seconds(std::atoll(parts[1].c_str())));
        }
        if (auto status = git_in(dir, {"status", "--porcelain", "--untracked-files=no", "--", "."});
            status && !status->empty()) {
            say(kBuild, "warning: " + dir.string() + " has uncommitted changes; the tag names " +
                            short_sha(p.commit) + ", which does not hold them");
        }
    }
    p.branch = a.source.ref;
    if (p.branch.empty() && !p.commit.empty()) {
        if (auto b = git_in(dir, {"symbolic-ref", "-q", "--short", "HEAD"})) p.branch = *b;
    }
    if (generated) {
        POETRYOPS_TRY(auto options, detail::generate_options(a.gen));
        POETRYOPS_TRY(auto files, dockerfile::generate(p.project, options));
        p.dockerfile = std::move(files.dockerfile);
        p.dockerignore = std::move(files.dockerignore);
    } else {
        POETRYOPS_TRY(p.dockerfile, own_dockerfile(kBuild, dir, a.dockerfile));
    }
    return p;
}

/// Fetches the source at the exact commit (the tip of --ref when no --commit), checks the project
/// there, and writes OUT/context (the project folder at the commit; with a generated Dockerfile
/// also the generated .dockerignore) and OUT/dockerfile/Dockerfile: the contract of the build
/// Job's init container (docs/build.md).
Result<Prepared> prepare_source(std::string_view cmd, const SourceFlags& f, const std::string& df,
                                const detail::GenerateFlags& gen, const fs::path& out) {
    if (f.url.empty()) return bad("--source: the repository URL is required");
    const std::string ref = f.ref.empty() ? "main" : f.ref;
    std::string folder = f.path;
    while (folder.rfind("./", 0) == 0) folder.erase(0, 2);
    while (!folder.empty() && folder.back() == '/') folder.pop_back();
    if (folder.empty()) folder = ".";
    if (folder != "." && !git::validate_repo_path(folder)) {
        return bad("--path " + folder +
                   ": not a folder inside the repository (relative, '/'-separated, no '..')");
    }
    std::string commit = str::to_lower(f.commit);
    if (!commit.empty() && !(commit.size() == 40 || commit.size() == 64)) {
        return bad("--commit " + f.commit + ": expected a full commit id (40 hex characters)");
    }
    if (!commit.empty() && commit.find_first_not_of("0123456789abcdef") != std::string::npos)
        return bad("--commit " + f.commit + ": not a commit id (hex characters only)");
    const bool generated = df == "generate";
    if (!generated) {
        if (fs::path(df).is_absolute())
            return bad("--dockerfile " + df + ": must be relative to the project folder (--path)");
    }

    TempDir scratch("poetryops-source");
    POETRYOPS_TRY(git::Remote remote, source_remote(f, scratch.path()));
    POETRYOPS_TRY(auto cache, git::RepoCache::create(scratch.path() / "git"));
    POETRYOPS_TRY(auto repo, cache->open(remote));

    Prepared p;
    p.branch = ref;
    if (commit.empty()) {
        // A branch, else a tag of that name.
        const bool full = ref.rfind("refs/", 0) == 0;
        std::vector<std::string> refs =
            full ? std::vector<std::string>{ref}
                 : std::vector<std::string>{"refs/heads/" + ref, "refs/tags/" + ref};
        POETRYOPS_TRY(auto tips, repo->remote_tips(refs));
        for (const auto& r : refs) {
            if (auto it = tips.find(r); it != tips.end()) {
                commit = it->second;
                break;
            }
        }
        if (commit.empty())
            return bad("--ref " + ref + ": no such branch or tag in " + repo->url());
        say(cmd, ref + " is at " + commit);
    }
    auto fetched = repo->fetch_commit(commit);
    if (!fetched && fetched.error().reason == "CommitNotFound" && ref.rfind("refs/tags/", 0) != 0) {
        // A server that does not serve commits by id: the branch's history may hold it.
        if (repo->fetch(ref.rfind("refs/heads/", 0) == 0 ? ref.substr(11) : ref))
            fetched = repo->fetch_commit(commit);
    }
    if (!fetched) {
        Error e = std::move(fetched).error();
        if (e.reason == "CommitNotFound") {
            e.message = "--commit: " + e.message;
        }
        return e;
    }
    p.commit = commit;

    const std::string prefix = folder == "." ? "" : folder + "/";
    const std::string pyproject_path = prefix + "pyproject.toml";
    const std::string lock_path = prefix + "poetry.lock";
    POETRYOPS_TRY(auto files, repo->read_files(commit, {pyproject_path, lock_path}));
    if (!files[0]) {
        return fail(Error::Kind::not_found,
                    pyproject_path + ": no such file at commit " + short_sha(commit) + " of " +
                        repo->url() + " (--path is \"" + folder + "\")",
                    "ProjectNotFound");
    }
    std::optional<std::string_view> lock;
    if (files[1]) lock = *files[1];
    POETRYOPS_TRY(auto at_commit, python::parse_project(*files[0], lock, folder));
    POETRYOPS_TRY_VOID(check_lock(at_commit, gen.poetry, generated));

    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec) return bad("--out " + out.string() + ": cannot create it: " + ec.message());
    p.context = out / "context";
    POETRYOPS_TRY(auto stats, repo->export_tree(commit, folder, p.context));
    say(cmd, "wrote " + folder + " at " + short_sha(commit) + " to " + p.context.string() + " (" +
                 std::to_string(stats.files) + " files, " + std::to_string(stats.bytes) +
                 " bytes)");
    // Read again from the folder: the generator needs what only the files tell (the packages).
    auto project = python::load_project(p.context);
    if (!project) {
        Error e = std::move(project).error();
        e.message += " (" + folder + " at commit " + short_sha(commit) + ")";
        return e;
    }
    p.project = std::move(project).value();

    const fs::path dockerfile_dir = out / "dockerfile";
    fs::create_directories(dockerfile_dir, ec);
    if (ec) return bad("--out: cannot create " + dockerfile_dir.string() + ": " + ec.message());
    if (generated) {
        POETRYOPS_TRY(auto options, detail::generate_options(gen));
        POETRYOPS_TRY(auto generated_files, dockerfile::generate(p.project, options));
        p.dockerfile = std::move(generated_files.dockerfile);
        POETRYOPS_TRY_VOID(
            write_file_atomic(p.context / ".dockerignore", generated_files.dockerignore));
    } else {
        POETRYOPS_TRY(p.dockerfile, own_dockerfile(cmd, p.context, df));
    }
    POETRYOPS_TRY_VOID(write_file_atomic(dockerfile_dir / "Dockerfile", p.dockerfile));
    return p;
}

/// Prints an error; a build's or push's output tail (the lines after the first) one line each.
Exit report_multiline(std::string_view cmd, const Error& e, Exit code) {
    auto lines = str::split(e.message, '\n');
    std::string first = lines.empty() ? e.message : lines.front();
    if (lines.size() > 1) {
        while (!first.empty() && first.back() == ':') first.pop_back();
        first += "; its last lines:";
    }
    say(cmd, first);
    for (std::size_t k = 1; k < lines.size(); ++k) {
        if (!str::trim(lines[k]).empty()) say(cmd, "  " + lines[k]);
    }
    return code;
}

double seconds(std::chrono::milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; }

Exit run_build(const BuildArgs& a) {
    // Flags first: nothing is read, fetched or built with a bad command line.
    const bool from_source = !a.source.url.empty();
    if (from_source && !a.dir.empty())
        return report_bad_input(
            kBuild, "--source: give either a project folder DIR or --source URL, not both");
    if (!from_source) {
        for (const auto& [flag, value] :
             {std::pair<const char*, const std::string*>{"--commit", &a.source.commit},
              {"--path", &a.source.path},
              {"--credentials-dir", &a.source.credentials_dir}}) {
            if (!value->empty())
                return report_bad_input(kBuild, std::string(flag) + " needs --source URL");
        }
    }
    if (a.image.empty()) {
        return report_bad_input(
            kBuild,
            "--image: required: the repository to build, e.g. registry.example.com/acme/app");
    }
    auto repo_ref = registry::parse_repository(a.image);
    if (!repo_ref) {
        return report_bad_input(kBuild, "--image " + a.image + ": " + repo_ref.error().message +
                                            " (the repository, without a tag: the tag comes from "
                                            "--tag-template or --tag)");
    }
    if (!a.tag.empty() && !oci::is_valid_tag(a.tag)) {
        return report_bad_input(kBuild, "--tag " + a.tag +
                                            ": not a valid OCI tag (letters, digits, '_', '.', "
                                            "'-'; at most 128; not starting with '.' or '-')");
    }
    if (a.tag.empty()) {
        if (auto v = oci::validate_tag_template(a.tag_template); !v)
            return report_bad_input(kBuild, "--tag-template: " + v.error().message);
    }
    auto timeout = api::parse_duration(a.timeout);
    if (!timeout || timeout->count() <= 0)
        return report_bad_input(kBuild, "--timeout " + a.timeout + ": not a duration (e.g. 30m)");
    if (!a.registry_layout.empty() && !a.plain_http.empty()) {
        return report_bad_input(kBuild,
                                "--plain-http is for a registry; --registry-layout writes files");
    }
    detail::DockerConfigFile docker_config;
    if (a.push && a.registry_layout.empty()) {
        auto cfg = detail::load_docker_config(a.registry_config);
        if (!cfg) return report(kBuild, cfg.error());
        docker_config = std::move(cfg).value();
    }

    // The project, its commit and the Dockerfile.
    std::optional<TempDir> work;
    Result<Prepared> prepared = fail(Error::Kind::internal, "not prepared");
    if (from_source) {
        work.emplace("poetryops-build");
        prepared = prepare_source(kBuild, a.source, a.dockerfile, a.gen, work->path());
    } else {
        prepared = prepare_dir(a);
    }
    if (!prepared) return report(kBuild, prepared.error());
    const Prepared& p = *prepared;

    // The tag.
    std::string tag = a.tag;
    if (tag.empty()) {
        oci::TagValues values;
        values.version = p.project.version_text;
        values.sha = p.commit;
        values.branch = p.branch;
        values.build_number = a.build_number;
        values.timestamp =
            p.commit_time == Clock::time_point{} ? SystemClock::instance().now() : p.commit_time;
        auto rendered = oci::render_tag(a.tag_template, values);
        if (!rendered) {
            std::string hint;
            if (p.commit.empty() && (a.tag_template.find("{sha}") != std::string::npos ||
                                     a.tag_template.find("{shortSha}") != std::string::npos)) {
                hint = "; " + (a.dir.empty() ? std::string(".") : a.dir) +
                       " is not in a git repository with a commit, so there is no commit to name: "
                       "pass --tag, or a --tag-template without {sha}/{shortSha}";
            } else if (p.branch.empty() && a.tag_template.find("{branch}") != std::string::npos) {
                hint = "; no branch is checked out: pass --ref NAME";
            } else if (a.build_number.empty() &&
                       a.tag_template.find("{buildNumber}") != std::string::npos) {
                hint = "; pass --build-number N";
            }
            return report_bad_input(kBuild, "--tag-template: " + rendered.error().message + hint);
        }
        tag = *rendered;
    }
    registry::Reference ref = *repo_ref;
    ref.tag = tag;
    const std::string image = ref.name() + ":" + tag;

    // Build (and push).
    build::BuildahOptions bo;
    bo.root = a.buildah_root;
    bo.runroot = a.buildah_runroot;
    bo.storage_driver = a.storage_driver;
    bo.timeout = *timeout;
    build::BuildahJob job;
    job.context = p.context;
    job.dockerfile = p.dockerfile;
    job.dockerignore = p.dockerignore;
    job.image = image;
    std::unique_ptr<registry::LayoutRegistry> layout;
    if (a.push) {
        if (!a.registry_layout.empty()) {
            layout = std::make_unique<registry::LayoutRegistry>(
                a.registry_layout, registry::LayoutOptions{.repository_subdirs = true});
            const fs::path dir = layout->layout_dir(ref);
            std::error_code ec;
            fs::create_directories(dir, ec);
            if (ec) {
                return report_bad_input(kBuild, "--registry-layout: cannot create " + dir.string() +
                                                    ": " + ec.message());
            }
            job.destination = "oci:" + dir.string() + ":" + tag;
        } else {
            job.destination = "docker://" + image;
            const std::string host = registry::normalize_registry_host(ref.registry);
            for (const auto& h : a.plain_http) {
                if (registry::normalize_registry_host(h) == host) job.tls_verify = false;
            }
            job.authfile = docker_config.path;
        }
    }
    job.on_progress = [](const std::string& line) { say(kBuild, line); };
    job.cancel = &g_cancel;
    say(kBuild, "building " + image + (p.commit.empty() ? "" : " from " + short_sha(p.commit)) +
                    " (" + p.project.name + " " + p.project.version_text + ")");
    g_cancel = false;
    auto old_int = std::signal(SIGINT, on_build_signal);
    auto old_term = std::signal(SIGTERM, on_build_signal);
    auto outcome = build::buildah_build(bo, job);
    std::signal(SIGINT, old_int);
    std::signal(SIGTERM, old_term);
    // A build or push that fails is a runtime failure (exit 1), whatever the error's kind.
    if (!outcome) return report_multiline(kBuild, outcome.error(), Exit::failure);

    // The pushed tag must resolve to exactly what buildah pushed.
    if (a.push) {
        say(kBuild, "verifying " + job.destination + " is " + outcome->digest);
        Result<registry::Descriptor> seen = fail(Error::Kind::internal, "not resolved");
        if (layout) {
            seen = layout->resolve(ref);
        } else {
            registry::RegistryClientOptions o;
            o.docker_config = docker_config.config;
            o.hosts[registry::normalize_registry_host(ref.registry)].plain_http = !job.tls_verify;
            o.max_attempts = 3;
            auto client = registry::RegistryClient::create(std::move(o));
            if (!client) return report(kBuild, client.error(), Exit::failure);
            seen = (*client)->resolve(ref);
        }
        if (!seen && seen.error().kind != Error::Kind::not_found)
            return report(kBuild, seen.error(), Exit::failure);
        if (!seen || seen->digest != outcome->digest) {
            return report(
                kBuild,
                bad("DigestMismatch: buildah pushed " + image + " as " + outcome->digest +
                        ", but " + (layout ? job.destination : image) + " " +
                        (seen ? "resolves to " + seen->digest : std::string("is not there")),
                    "DigestMismatch"),
                Exit::failure);
        }
    }

    if (a.format == "json") {
        json j{{"image", image},
               {"tag", tag},
               {"digest", outcome->digest.empty() ? json() : json(outcome->digest)},
               {"commit", p.commit.empty() ? json() : json(p.commit)},
               {"version", p.project.version_text},
               {"build_seconds", seconds(outcome->build_time)},
               {"push_seconds", seconds(outcome->push_time)}};
        std::cout << j.dump() << '\n';
    } else {
        std::cout << "image: " << image << '\n' << "tag: " << tag << '\n';
        if (!outcome->digest.empty()) std::cout << "digest: " << outcome->digest << '\n';
        if (!p.commit.empty()) std::cout << "commit: " << p.commit << '\n';
        std::cout << "version: " << p.project.version_text << '\n';
    }
    return Exit::ok;
}

Exit run_prepare(const PrepareArgs& a) {
    if (a.out.empty()) return report_bad_input(kPrepare, "--out: required");
    if (a.source.commit.empty()) {
        return report_bad_input(kPrepare, "--commit: required (the exact commit the build is for)");
    }
    auto p = prepare_source(kPrepare, a.source, a.dockerfile, a.gen, a.out);
    if (!p) return report(kPrepare, p.error());
    std::cout << "commit: " << p->commit << '\n'
              << "version: " << p->project.version_text << '\n'
              << "context: " << p->context.string() << '\n'
              << "dockerfile: " << (fs::path(a.out) / "dockerfile" / "Dockerfile").string() << '\n';
    return Exit::ok;
}

void add_source_flags(CLI::App& cmd, SourceFlags& f, bool prepare) {
    cmd.add_option("--source", f.url,
                   "Build from this git repository (https://, ssh://, git@host:path, file://) "
                   "instead of a folder");
    cmd.add_option("--ref", f.ref,
                   prepare
                       ? "The branch (or tag) the commit belongs to"
                       : "Branch or tag to build (default: main); with DIR: the {branch} value");
    cmd.add_option(
        "--commit", f.commit,
        prepare ? "The exact commit (40 hex)" : "Build this commit (40 hex), not the tip");
    cmd.add_option("--path", f.path,
                   "The project folder inside the repository (default: the root)");
    cmd.add_option("--credentials-dir", f.credentials_dir,
                   "Source credentials as files (a mounted Secret): username + password or token, "
                   "or ssh-privatekey + known_hosts; ca.crt");
    if (prepare) return;
    cmd.add_option("--git-username", f.git_username,
                   "HTTPS user name (password or token from $POETRYOPS_GIT_PASSWORD)");
    cmd.add_option("--git-ssh-key", f.git_ssh_key, "Private key for ssh:// sources");
    cmd.add_option("--git-known-hosts", f.git_known_hosts, "known_hosts for ssh:// (enforced)");
    cmd.add_option("--git-ca-file", f.git_ca_file, "CA bundle for https:// sources");
}

}  // namespace

void add_build_command(CLI::App& app, Context& ctx) {
    auto a = std::make_shared<BuildArgs>();
    auto* cmd = app.add_subcommand(
        "build",
        "Build a Poetry project's image with buildah, push it and verify the pushed digest");
    cmd->add_option("DIR", a->dir, "Poetry project folder (default: .)");
    add_source_flags(*cmd, a->source, false);
    cmd->add_option("--image", a->image,
                    "Repository to build, e.g. registry.example.com/acme/app (no tag)");
    cmd->add_flag("--push", a->push, "Push the image and verify the registry holds that digest");
    cmd->add_option("--tag-template", a->tag_template,
                    "Tag from {version} {shortSha} {sha} {branch} {buildNumber} {timestamp}")
        ->capture_default_str();
    cmd->add_option("--tag", a->tag, "Use this tag instead of the template");
    cmd->add_option("--build-number", a->build_number, "The {buildNumber} value");
    cmd->add_option("--dockerfile", a->dockerfile,
                    "generate, or the project's own Dockerfile (a path inside the project)")
        ->capture_default_str();
    detail::add_generate_flags(*cmd, a->gen);
    // One host per occurrence (repeat the flag), so a DIR after it stays the positional.
    cmd->add_option("--plain-http", a->plain_http, "Registry host to reach over plain HTTP")
        ->allow_extra_args(false);
    cmd->add_option("--registry-config", a->registry_config,
                    "Docker config.json with registry credentials (default: $DOCKER_CONFIG or "
                    "~/.docker/config.json when present)");
    cmd->add_option("--registry-layout", a->registry_layout,
                    "Push into this OCI image-layout root instead (DIR/<repository path>)");
    cmd->add_option("--buildah-root", a->buildah_root, "buildah --root (image storage)");
    cmd->add_option("--buildah-runroot", a->buildah_runroot, "buildah --runroot");
    cmd->add_option("--storage-driver", a->storage_driver,
                    "buildah --storage-driver (overlay, vfs)");
    cmd->add_option("--timeout", a->timeout, "Build and push together, e.g. 30m")
        ->capture_default_str();
    cmd->add_option("--format", a->format, "text or json")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();

    auto pa = std::make_shared<PrepareArgs>();
    auto* prep = cmd->add_subcommand(
        "prepare",
        "The build Job's init container: the project at a commit into OUT/context, the Dockerfile "
        "into OUT/dockerfile");
    add_source_flags(*prep, pa->source, true);
    prep->add_option("--dockerfile", pa->dockerfile,
                     "generate, or the project's own Dockerfile (relative to --path)")
        ->capture_default_str();
    prep->add_option("--out", pa->out, "The workspace to write into");
    // The Job passes --python and --poetry; the other generator flags work as in `build`.
    detail::add_generate_flags(*prep, pa->gen);
    prep->callback([&ctx, pa] { ctx.exit = run_prepare(*pa); });

    cmd->callback([&ctx, a, prep] {
        if (prep->parsed()) return;  // `build prepare` ran
        ctx.exit = run_build(*a);
    });
}

}  // namespace poetryops::cli

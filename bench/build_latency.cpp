// bench_build_latency: from a source commit pushed to dev pinning the image built from it, in local
// mode, against the floor of building and pushing the same project with bare buildah.
//
// Real parts only: the source and GitOps repositories on lighttpd + git-http-backend (HTTP, basic
// auth), a docker-registry, buildah (overlay, chroot isolation) with the local Debian base images
// (tests/support/buildah), and LocalRunner::run() in-process with its LocalBuildPort, as `poetryops
// run` does. The project is examples/hello with the generated Dockerfile (Poetry preinstalled in
// the build base, as the integration tests build it).
//
// Rounds, in one run:
//   cold    the runner starts on the first commit: cold git caches and a cold layer cache for the
//           project's own layers. Runner start → dev pinned. Reported, not in the ratio.
//   N warm  alternating, each a different code-only change to hello/main.py:
//     poetryops  commit and `git push` to the source repository; t0 = the push returned; the
//                forge's push webhook is delivered at once (curl, signed, POST /webhooks/source);
//                t1 = envs/dev/kustomization.yaml at the GitOps repository's main tip (read on disk
//                when inotify reports the ref's update) pins the commit's tag. The pinned digest is
//                checked against the registry.
//     floor      the change in a plain folder, then `buildah bud --layers` with the same generated
//                Dockerfile and .dockerignore (outside the context, as poetryops writes them), the
//                same flags and store, and `buildah push --digestfile` to the same repository.
// Prints JSON: the medians, ratio = poetryops / floor (issue #12: <= 1.2), and where the poetryops
// time went, from the runner's own log lines (source push received, the build thread running,
// buildah's first STEP, "pushing", "pushed", the GitOps tip read) and the git processes it ran;
// besides, one Dockerfile generation and a warm registry HEAD, timed alone.
//
//   bench_build_latency [--rounds 5] [--verbose]
//
// The runner logs at debug level into the bench (every pass, every git process with its duration);
// --verbose also echoes those lines to stderr, with the milliseconds since the round's push.
#include <poetryops/controller/local.hpp>
#include <poetryops/dockerfile/generator.hpp>
#include <poetryops/python/project.hpp>
#include <poetryops/registry/client.hpp>
#include <poetryops/registry/reference.hpp>
#include <poetryops/util/crypto.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/log.hpp>

#include <nlohmann/json.hpp>

#include <poll.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "support/buildah/buildah_store.hpp"
#include "support/git/git_servers.hpp"
#include "support/registry/test_registry.hpp"
#include "support/support.hpp"

using namespace poetryops;
using Steady = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

using poetryops::bench::median;
using poetryops::bench::ms_between;
using poetryops::bench::read_tip;

/// A failed run: thrown, so that the runner, the servers and buildah's store are stopped and
/// removed on the way out of main().
struct Failure {
    std::string message;
};

[[noreturn]] void die(const std::string& msg) { throw Failure{msg}; }

template <class T>
T must(Result<T> r, const std::string& what) {
    if (!r) die(what + ": " + r.error().message);
    return std::move(r).value();
}

double round1(double x) { return static_cast<double>(static_cast<long long>(x * 10 + 0.5)) / 10; }

double load1() {
    double l[1] = {0};
    return getloadavg(l, 1) == 1 ? l[0] : -1;
}

/// The tip of main of a bare repo, read from disk (loose ref, else packed-refs).

std::string show(const fs::path& bare, const std::string& rev_path) {
    auto r = test::plain_git({"--git-dir", bare.string(), "show", rev_path});
    return r.ok() ? r.out : "";
}

/// Every file of examples/hello, by project path.
std::map<std::string, std::string> hello_files() {
    std::map<std::string, std::string> files;
    const fs::path root = test::source_dir() / "examples/hello";
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        if (!e.is_regular_file()) continue;
        auto rel = fs::relative(e.path(), root).generic_string();
        if (rel.find("__pycache__") != std::string::npos || rel.rfind(".venv", 0) == 0) continue;
        files[rel] = must(read_file(e.path()), e.path().string());
    }
    return files;
}

/// main.py with another greeting: a code-only change.
std::string with_greeting(std::string main_py, const std::string& greeting) {
    std::size_t at = main_py.find("GREETING = \"");
    std::size_t end = at == std::string::npos ? at : main_py.find('"', at + 12);
    if (end == std::string::npos) die("no GREETING in examples/hello/hello/main.py");
    main_py.replace(at, end - at + 1, "GREETING = \"" + greeting + "\"");
    return main_py;
}

void put(const fs::path& p, const std::string& text) {
    if (auto r = write_file_atomic(p, text); !r) die(r.error().message);
}

/// The runner's log lines, as they were emitted.
struct LogLine {
    Steady::time_point at;
    nlohmann::json j;
};

class LogTap {
public:
    explicit LogTap(bool echo) : echo_(echo) {}
    void operator()(std::string_view line) {
        auto now = Steady::now();
        auto j = nlohmann::json::parse(line, nullptr, false);
        std::lock_guard lock(mu_);
        if (echo_) {
            std::cerr << "+" << static_cast<long long>(ms_between(origin_, now)) << "ms " << line
                      << "\n";
        }
        if (!j.is_discarded()) lines_.push_back({now, std::move(j)});
    }
    /// Marks the start of a round: echoed times count from here.
    std::size_t mark(Steady::time_point origin) {
        std::lock_guard lock(mu_);
        origin_ = origin;
        return lines_.size();
    }
    void each(std::size_t from, const std::function<void(const LogLine&)>& fn) {
        std::lock_guard lock(mu_);
        for (std::size_t i = from; i < lines_.size(); ++i) fn(lines_[i]);
    }
    /// The first line from index `from` on that `match` accepts.
    std::optional<LogLine> first(std::size_t from,
                                 const std::function<bool(const nlohmann::json&)>& match) {
        std::lock_guard lock(mu_);
        for (std::size_t i = from; i < lines_.size(); ++i) {
            if (match(lines_[i].j)) return lines_[i];
        }
        return std::nullopt;
    }

private:
    bool echo_;
    std::mutex mu_;
    Steady::time_point origin_ = Steady::now();
    std::vector<LogLine> lines_;
};

std::string field(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

static int bench_main(int argc, char** argv) {
    int rounds = 5;
    bool verbose = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--rounds" && i + 1 < argc) {
            rounds = std::atoi(argv[++i]);
            if (rounds < 1) die("--rounds must be at least 1");
        } else if (a == "--verbose") {
            verbose = true;
        } else {
            die("usage: bench_build_latency [--rounds N] [--verbose]");
        }
    }
    if (!test::require_tools({"git", "lighttpd", "buildah", "docker-registry", "curl", "skopeo",
                              "umoci", "debootstrap", "tar"}))
        return 2;
    LogTap tap(verbose);
    log::set_format(log::Format::json);
    // Debug level always: the phases come from the pass and git lines; --verbose only echoes them.
    log::set_level(log::Level::debug);
    log::set_sink([&tap](std::string_view line) { tap(line); });
    const double load_start = load1();

    std::cerr << "bench_build_latency: importing the local base images\n";
    test::BuildahStore store = must(test::BuildahStore::create(test::source_dir()), "base images");
    auto reg = test::TestRegistry::start({});
    if (!reg) die("docker-registry did not start");
    test::TestCa ca;
    test::BareRepos repos;
    const fs::path deploy_bare = repos.create("deploy.git");
    repos.create("source.git");
    test::HttpGitServer git(repos, ca);
    if (!git.started()) die("git server did not start: " + git.error_log());
    const std::string image = reg->host() + "/team/hello";
    repos.commit_files("deploy.git", {{"envs/dev/kustomization.yaml",
                                       "resources: [../../base]\nimages:\n- name: " + image +
                                           "\n  newTag: old\n"}});
    auto files = hello_files();
    const std::string main_py = files.at("hello/main.py");
    files["hello/main.py"] = with_greeting(main_py, "hello cold");
    const std::string first = repos.commit_files("source.git", files);

    // A clone to commit and push from, as a developer does.
    TempDir work("poetryops-bench-build");
    std::string auth_url = git.http_url("source.git");
    auth_url.insert(auth_url.find("://") + 3, git.user() + ":" + git.password() + "@");
    const fs::path clone = work.path() / "clone";
    if (auto c = test::plain_git({"clone", "-q", auth_url, clone.string()}); !c.ok())
        die("clone: " + c.err);

    // The runner: one PoetryApp that builds with buildah and pins dev; woken by the source webhook
    // (its source poll is 10 minutes, so only the webhook starts a round).
    fs::create_directories(work.path() / "apps");
    put(work.path() / "apps/hello.yaml",
        "apiVersion: poetryops.io/v1alpha1\nkind: PoetryApp\nmetadata:\n  name: hello\n  "
        "namespace: team\nspec:\n  image: {repository: " +
            image + "}\n  source: {repoURL: \"" + git.http_url("source.git") +
            "\", ref: main, pollInterval: 10m}\n  build: {engine: buildah}\n  gitops: {repoURL: "
            "\"" +
            git.http_url("deploy.git") + "\"}\n  environments:\n  - {name: dev, path: envs/dev}\n");
    const int hook_port = test::free_port();
    const std::string secret = "bench-source-secret";
    controller::LocalOptions o;
    o.inputs = {work.path() / "apps"};
    o.state_dir = work.path() / "state";
    o.registry.hosts[reg->host()].plain_http = true;
    o.git.username = git.user();
    o.git.password = git.password();
    o.webhook_address = "127.0.0.1:" + std::to_string(hook_port);
    o.source_webhook.secret = secret;
    controller::LocalBuildOptions b;
    b.buildah.root = store.root();
    b.buildah.runroot = store.runroot();
    b.buildah.storage_driver = "overlay";
    b.plain_http = {reg->host()};
    b.generate.build_image = store.build_image();
    b.generate.runtime_image = store.runtime_image();
    b.generate.poetry = "preinstalled";
    b.work_dir = work.path() / "builds";
    o.builds = b;
    const dockerfile::GenerateOptions generate = b.generate;

    auto registry_client = [&] {
        registry::RegistryClientOptions ro;
        ro.hosts[reg->host()].plain_http = true;
        return must(registry::RegistryClient::create(ro), "registry client");
    }();
    auto registry_digest = [&](const std::string& tag) {
        auto ref = must(registry::parse_repository(image), image);
        ref.tag = tag;
        auto d = registry_client->resolve(ref);
        return d ? d->digest : std::string();
    };

    // dev pins `tag`: the moment the GitOps tip that says so was first seen, and its digest. The
    // bench waits on inotify for the ref's update (receive-pack renames main.lock to main, or
    // rewrites packed-refs) instead of polling every ms, so that it takes no CPU from buildah while
    // poetryops builds (the floor runs with the bench idle too); a 100 ms timeout backs it up.
    const std::string dev_path = "envs/dev/kustomization.yaml";
    struct Inotify {
        int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        ~Inotify() {
            if (fd >= 0) ::close(fd);
        }
    } ref_events;
    if (ref_events.fd < 0 ||
        inotify_add_watch(ref_events.fd, (deploy_bare / "refs/heads").c_str(),
                          IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE) < 0 ||
        inotify_add_watch(ref_events.fd, deploy_bare.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
        die("inotify on " + deploy_bare.string() + " failed");
    auto wait_pinned = [&](const std::string& tag, std::string& tip,
                           std::string& digest) -> std::optional<Steady::time_point> {
        auto deadline = Steady::now() + std::chrono::minutes(10);
        while (Steady::now() < deadline) {
            std::string now_tip = read_tip(deploy_bare);
            if (!now_tip.empty() && now_tip != tip) {
                auto seen = Steady::now();
                tip = now_tip;
                std::string dev = show(deploy_bare, tip + ":" + dev_path);
                if (dev.find("newTag: " + tag + "\n") != std::string::npos) {
                    auto at = dev.find("digest: ");
                    digest = at == std::string::npos ? "" : dev.substr(at + 8, 71);
                    return seen;
                }
            }
            pollfd pfd{ref_events.fd, POLLIN, 0};
            if (::poll(&pfd, 1, 100) > 0) {
                char events[4096];
                while (::read(ref_events.fd, events, sizeof events) > 0) {
                }
            }
        }
        return std::nullopt;
    };

    // Cold round: the runner's first pass builds the first commit.
    std::string tip = read_tip(deploy_bare);
    std::string digest;
    auto cold_t0 = Steady::now();
    auto runner = must(controller::LocalRunner::create(o), "runner");
    std::atomic<bool> stop{false};
    std::thread loop([&] {
        auto r = runner->run(stop, std::chrono::minutes(10));
        if (!r) std::cerr << "run: " << r.error().message << "\n";
    });
    struct Join {
        std::atomic<bool>& stop;
        std::thread& t;
        controller::LocalRunner& r;
        ~Join() {
            stop = true;
            r.wake();
            t.join();
        }
    } join{stop, loop, *runner};
    std::cerr << "bench_build_latency: cold round\n";
    const std::string cold_tag = "0.1.0-" + first.substr(0, 7);
    auto cold_t1 = wait_pinned(cold_tag, tip, digest);
    if (!cold_t1)
        die("the first commit was never pinned in dev:\n" + show(deploy_bare, "main:" + dev_path));
    if (digest != registry_digest(cold_tag)) die("dev pins " + digest + ", not the registry's");
    const double cold_ms = ms_between(cold_t0, *cold_t1);
    // Let the pass that follows a commit finish.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));

    // The floor's context and files, outside the store and the runner's folders.
    const fs::path floor_ctx = work.path() / "floor" / "context";
    for (const auto& [path, text] : files) {
        fs::create_directories((floor_ctx / path).parent_path());
        put(floor_ctx / path, text);
    }
    // What LocalBuildPort does between the export and buildah: read the project, generate.
    auto g0 = Steady::now();
    auto project = must(python::load_project(floor_ctx), "examples/hello");
    auto generated = must(dockerfile::generate(project, generate), "generate");
    const double generate_ms = ms_between(g0, Steady::now());
    const fs::path floor_df = work.path() / "floor" / "Dockerfile";
    const fs::path floor_ignore = work.path() / "floor" / "dockerignore";
    const fs::path floor_digest = work.path() / "floor" / "digest";
    put(floor_df, generated.dockerfile);
    put(floor_ignore, generated.dockerignore);

    auto post_webhook = [&](const std::string& before, const std::string& after) {
        nlohmann::json push = {{"ref", "refs/heads/main"},
                               {"before", before},
                               {"after", after},
                               {"created", false},
                               {"deleted", false},
                               {"forced", false},
                               {"commits", nlohmann::json::array()},
                               {"repository",
                                {{"clone_url", git.http_url("source.git")},
                                 {"html_url", git.http_url("source.git")},
                                 {"full_name", "team/source"}}}};
        const std::string body = push.dump();
        ProcessOptions po;
        po.stdin_data = body;
        auto r =
            run_process({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H",
                         "Content-Type: application/json", "-H", "X-GitHub-Event: push", "-H",
                         "X-Hub-Signature-256: sha256=" + crypto::hmac_sha256_hex(secret, body),
                         "--data-binary", "@-",
                         "http://127.0.0.1:" + std::to_string(hook_port) + "/webhooks/source"},
                        po);
        if (!r || r->out != "202") die("source webhook not accepted: " + (r ? r->out : ""));
    };

    // One round of poetryops, phase by phase; they add up to the round.
    struct Phases {
        double webhook = 0;  // t0 → the runner received the source webhook
        double plan = 0;     // → the build thread runs: a pass read the source and planned
        double prepare = 0;  // → buildah's first STEP: export, Dockerfile, buildah's start-up
        double build = 0;    // → "pushing": buildah build
        double push = 0;     // → "pushed": buildah push
        double verify = 0;   // → the GitOps tip read: report, a pass, the tag verified
        double commit = 0;   // → dev pins it on disk: edit, commit, push, seen
    };
    std::vector<double> ours, floor_total, floor_build, floor_push, floor_to_first_step;
    std::vector<Phases> phases;
    std::vector<double> git_processes, git_process_ms;
    std::map<std::string, int> git_commands;          // over every round
    std::vector<double> registry_head;                // one warm HEAD of the round's tag
    nlohmann::json notes = nlohmann::json::object();  // fallbacks and warnings, by message
    std::vector<double> loads;
    std::string head = first;
    for (int i = 0; i < rounds; ++i) {
        loads.push_back(load1());
        // poetryops: commit, push, webhook; until dev pins the commit's tag.
        std::cerr << "bench_build_latency: round " << i + 1 << "/" << rounds << "\n";
        put(clone / "hello/main.py", with_greeting(main_py, "hello #" + std::to_string(i)));
        auto c = test::plain_git({"-C", clone.string(), "-c", "user.name=dev", "-c",
                                  "user.email=dev@example.invalid", "commit", "-qam",
                                  "round " + std::to_string(i)});
        if (!c.ok()) die("commit: " + c.err);
        auto p = test::plain_git({"-C", clone.string(), "push", "-q", "origin", "HEAD:main"});
        auto t0 = Steady::now();
        if (!p.ok()) die("push: " + p.err);
        const std::size_t from = tap.mark(t0);
        const std::string sha = read_tip(repos.path("source.git"));
        post_webhook(head, sha);
        head = sha;
        const std::string tag = "0.1.0-" + sha.substr(0, 7);
        auto t1 = wait_pinned(tag, tip, digest);
        if (!t1) die(tag + " was never pinned in dev:\n" + show(deploy_bare, "main:" + dev_path));
        if (digest != registry_digest(tag))
            die("dev pins " + digest + " for " + tag + ", the registry has another digest");
        ours.push_back(ms_between(t0, *t1));

        // Where the time went, from the runner's log lines.
        auto line = [&](const std::function<bool(const nlohmann::json&)>& match) {
            auto l = tap.first(from, match);
            if (!l) die("the runner's log lacks a line of round " + std::to_string(i + 1));
            return l->at;
        };
        auto step = [&](const std::string& prefix) {
            return line([&](const nlohmann::json& j) {
                return field(j, "msg") == "build" && field(j, "tag") == tag &&
                       field(j, "step").rfind(prefix, 0) == 0;
            });
        };
        auto received =
            line([](const nlohmann::json& j) { return field(j, "msg") == "source push"; });
        // LocalBuildPort's build thread took the build (Running): the pass that planned it is over.
        auto started = line([](const nlohmann::json& j) {
            return field(j, "msg") == "trigger" && field(j, "kind") == "build_done";
        });
        auto first_step = step("STEP "), pushing = step("pushing "), pushed = step("pushed ");
        // The promoting pass read the GitOps branch's tip (an in-process ls-refs, logged when done)
        // after it verified the tag; then it committed and pushed.
        std::optional<Steady::time_point> gitops_read;
        tap.each(from, [&](const LogLine& l) {
            if (!gitops_read && l.at >= pushed && field(l.j, "msg") == "git ref check" &&
                field(l.j, "repo").find("deploy.git") != std::string::npos)
                gitops_read = l.at;
        });
        if (!gitops_read || *gitops_read > *t1) die("no GitOps read before the commit");
        phases.push_back({ms_between(t0, received), ms_between(received, started),
                          ms_between(started, first_step), ms_between(first_step, pushing),
                          ms_between(pushing, pushed), ms_between(pushed, *gitops_read),
                          ms_between(*gitops_read, *t1)});
        auto h0 = Steady::now();
        (void)registry_digest(tag);
        registry_head.push_back(ms_between(h0, Steady::now()));
        double git_ms = 0;
        int git_runs = 0;
        tap.each(from, [&](const LogLine& l) {
            if (l.at > *t1 || field(l.j, "msg") != "git") return;
            ++git_runs;
            git_ms += std::atof(field(l.j, "ms").c_str());
            // The command without object ids, so that rounds add up.
            std::string argv = field(l.j, "argv");
            for (std::size_t at = 0;
                 (at = argv.find_first_of("0123456789abcdef", at)) != std::string::npos;) {
                std::size_t end = argv.find_first_not_of("0123456789abcdef", at);
                if (end == std::string::npos) end = argv.size();
                if (end - at >= 40) {
                    argv.replace(at, end - at, "<id>");
                    at += 4;
                } else {
                    at = end;
                }
            }
            ++git_commands[field(l.j, "repo").substr(field(l.j, "repo").rfind('/') + 1) + ": " +
                           argv];
        });
        git_processes.push_back(git_runs);
        // Fallbacks from the in-process git paths and warnings: what they said.
        tap.each(from, [&](const LogLine& l) {
            const std::string msg = field(l.j, "msg"), level = field(l.j, "level");
            if (l.at > *t1 || (msg.find("not answered") == std::string::npos && level != "warn" &&
                               level != "error"))
                return;
            auto& n = notes[msg];
            if (n.is_null()) n = {{"count", 0}, {"first_error", field(l.j, "error")}};
            n["count"] = n["count"].get<int>() + 1;
        });
        git_process_ms.push_back(git_ms);
        // The pass that follows a commit, then the floor.
        std::this_thread::sleep_for(std::chrono::milliseconds(500));

        // The floor: the same project, another code-only change, bare buildah bud + push.
        put(floor_ctx / "hello/main.py", with_greeting(main_py, "floor #" + std::to_string(i)));
        const std::string floor_image = image + ":floor-" + std::to_string(i);
        std::optional<Steady::time_point> floor_step;
        ProcessOptions po;
        po.timeout = std::chrono::minutes(10);
        po.on_line = [&](std::string_view line) {
            if (!floor_step && line.find("STEP 1/") != std::string_view::npos)
                floor_step = Steady::now();
        };
        auto f0 = Steady::now();
        auto built =
            must(run_process(store.argv({"bud", "--isolation", "chroot", "--layers", "-f",
                                         floor_df.string(), "-t", floor_image, "--ignorefile",
                                         floor_ignore.string(), floor_ctx.string()}),
                             po),
                 "buildah bud");
        auto f1 = Steady::now();
        if (!built.ok()) die("buildah bud failed:\n" + built.out + built.err);
        po.on_line = nullptr;
        auto pushed_floor = must(
            run_process(store.argv({"push", "--digestfile", floor_digest.string(),
                                    "--tls-verify=false", floor_image, "docker://" + floor_image}),
                        po),
            "buildah push");
        auto f2 = Steady::now();
        if (!pushed_floor.ok()) die("buildah push failed:\n" + pushed_floor.err);
        floor_total.push_back(ms_between(f0, f2));
        floor_build.push_back(ms_between(f0, f1));
        floor_push.push_back(ms_between(f1, f2));
        floor_to_first_step.push_back(floor_step ? ms_between(f0, *floor_step) : 0);
    }
    loads.push_back(load1());
    const double load_end = load1();

    auto rounded = [](std::vector<double> v) {
        for (double& x : v) x = round1(x);
        return v;
    };
    auto phase = [&](double Phases::*m) {
        std::vector<double> v;
        for (const auto& p : phases) v.push_back(p.*m);
        return round1(median(v));
    };
    const double ratio = median(ours) / median(floor_total);
    std::vector<double> paired;
    for (std::size_t k = 0; k < ours.size(); ++k) paired.push_back(ours[k] - floor_total[k]);
    // What poetryops adds around buildah in a round: everything but buildah's build and push
    // (buildah's own start-up before its first STEP is in it; the floor pays that too).
    std::vector<double> outside;
    for (const auto& p : phases)
        outside.push_back(p.webhook + p.plan + p.prepare + p.verify + p.commit);
    nlohmann::json out = {
        {"bench", "build_latency"},
        {"project", "examples/hello (generated Dockerfile, local Debian bases)"},
        {"rounds", rounds},
        {"cold_ms", round1(cold_ms)},
        {"poetryops_ms", {{"median", round1(median(ours))}, {"rounds", rounded(ours)}}},
        {"poetryops_phases_median_ms",
         {{"push_to_webhook_received", phase(&Phases::webhook)},
          {"webhook_to_build_running", phase(&Phases::plan)},
          {"build_running_to_first_step", phase(&Phases::prepare)},
          {"buildah_build_from_first_step", phase(&Phases::build)},
          {"buildah_push", phase(&Phases::push)},
          {"pushed_to_gitops_read", phase(&Phases::verify)},
          {"gitops_read_to_dev_pinned", phase(&Phases::commit)}}},
        {"runner_fallbacks_and_warnings", notes},
        {"registry_head_warm_median_ms", round1(median(registry_head))},
        {"dockerfile_generate_ms", round1(generate_ms)},
        {"poetryops_outside_buildah_median_ms", round1(median(outside))},
        {"poetryops_git_processes_per_round",
         {{"median", median(git_processes)},
          {"ms_median", round1(median(git_process_ms))},
          {"commands_in_all_rounds", git_commands}}},
        {"floor_ms",
         {{"median", round1(median(floor_total))},
          {"rounds", rounded(floor_total)},
          {"bud_median", round1(median(floor_build))},
          {"bud_start_to_first_step_median", round1(median(floor_to_first_step))},
          {"push_median", round1(median(floor_push))}}},
        {"ratio", std::round(ratio * 1000) / 1000},
        // Each round against the floor built right after it: steadier than the medians' ratio when
        // the load drifts during a run.
        {"paired_difference_median_ms", round1(median(paired))},
        {"target_ratio", 1.2},
        {"target_met", ratio <= 1.2},
        {"load_1min", {{"start", load_start}, {"per_round", loads}, {"end", load_end}}},
    };
    std::cout << out.dump(2) << std::endl;
    return 0;
}

int main(int argc, char** argv) {
    try {
        return bench_main(argc, argv);
    } catch (const Failure& f) {
        std::cerr << "bench_build_latency: " << f.message << "\n";
        return 2;
    }
}

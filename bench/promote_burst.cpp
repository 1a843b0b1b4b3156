// bench_promote_burst: N apps (default 1,000) share one GitOps repo on a real git server (lighttpd
// + git-http-backend, HTTP with basic auth), each with its own kustomize overlay
// apps/appN/kustomization.yaml and its own image repository in one OCI image-layout directory.
// Every app gets a new image at once; the clock runs from "all images present" until every overlay
// on the remote pins its app's digest. LocalRunner::run() runs on its own thread and is woken once
// (as a webhook would). Reports seconds, commits and pushes, and the promoted count over time (the
// scaling). Gives up honestly after --time-limit seconds. Prints one JSON object.
//
// The floor, measured in the same run before the burst: the parts on their own, at their own pace.
// (a) The committer alone: a second repository with the same files on the same server, cloned and
// its overlays read (as the runner's warm-up does), gets the same N edits (manifest::set_image on
// each kustomization, as the engine's) submitted at once; time until every outcome is in. (b) The
// registry alone: N digest checks (resolve of each app's new tag) in the same layout, one after
// another. floor_s = a + b; ratio_to_floor = seconds_to_all_promoted / floor_s.
//
//   bench_promote_burst [--apps 1000] [--time-limit 600] [--window-ms W] [--git-log FILE]
//
// --git-log FILE: debug log lines to FILE (every git process with its duration) and, in the JSON,
// the git processes started by the warm-up pass and their total ms (opt-in: debug logging costs
// time).
#include <poetryops/controller/local.hpp>
#include <poetryops/git/committer.hpp>
#include <poetryops/manifest/edit.hpp>
#include <poetryops/registry/layout.hpp>
#include <poetryops/registry/reference.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/log.hpp>

#include "bench_support.hpp"
#include "support/git/git_servers.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace poetryops;
using Steady = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

using poetryops::bench::seconds_since;

std::string app_image(int i) { return "registry.local/burst/app" + std::to_string(i); }
std::string app_path(int i) { return "apps/app" + std::to_string(i) + "/kustomization.yaml"; }

/// How many apps' overlays at `rev` of the bare repo pin their digest (one `git cat-file --batch`
/// for all files).
int promoted_count(const fs::path& bare, const std::string& rev,
                   const std::vector<std::string>& digests) {
    std::string input;
    for (std::size_t i = 0; i < digests.size(); ++i)
        input += rev + ":" + app_path(static_cast<int>(i)) + "\n";
    auto r = test::plain_git({"--git-dir", bare.string(), "cat-file", "--batch"}, {}, input);
    if (!r.ok()) return -1;
    // Output: "<sha> blob <size>\n<content>\n" per file, in input order.
    int count = 0;
    std::size_t pos = 0;
    for (std::size_t i = 0; i < digests.size() && pos < r.out.size(); ++i) {
        std::size_t eol = r.out.find('\n', pos);
        if (eol == std::string::npos) break;
        std::istringstream header(r.out.substr(pos, eol - pos));
        std::string sha, type;
        std::size_t size = 0;
        header >> sha >> type >> size;
        if (type != "blob") {  // "missing"
            pos = eol + 1;
            continue;
        }
        std::string_view content(r.out.data() + eol + 1, std::min(size, r.out.size() - eol - 1));
        if (content.find("digest: " + digests[i]) != std::string_view::npos) ++count;
        pos = eol + 1 + size + 1;
    }
    return count;
}

}  // namespace

int main(int argc, char** argv) {
    int apps = 1000, time_limit = 600, window_ms = -1;
    std::string git_log;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        int v = std::atoi(argv[i + 1]);
        if (a == "--apps")
            apps = v;
        else if (a == "--time-limit")
            time_limit = v;
        else if (a == "--window-ms")
            window_ms = v;
        else if (a == "--git-log")
            git_log = argv[i + 1];
    }
    log::set_level(log::Level::error);
    // With --git-log: count git processes (one-shot "git" lines carry their ms; "git started" is a
    // kept-running one).
    std::ofstream git_log_file;
    std::mutex git_log_mu;
    long long git_processes = 0, git_ms = 0;
    if (!git_log.empty()) {
        git_log_file.open(git_log);
        log::set_format(log::Format::json);
        log::set_sink([&](std::string_view line) {
            std::lock_guard lock(git_log_mu);
            git_log_file << line << "\n";
            auto j = nlohmann::json::parse(line, nullptr, false);
            if (j.is_discarded() || !j.contains("msg")) return;
            if (j["msg"] == "git" || j["msg"] == "git started") ++git_processes;
            if (j["msg"] == "git" && j.contains("ms") && j["ms"].is_string()) {
                git_ms += std::atoll(j["ms"].get<std::string>().c_str());
            }
        });
        log::set_level(log::Level::debug);
    }
    if (!test::require_tools({"git", "lighttpd"})) return 2;

    test::TestCa ca;
    test::BareRepos repos;
    fs::path bare = repos.create("gitops.git");
    repos.create("floor.git");
    test::HttpGitServer git_server(repos, ca);
    if (!git_server.started()) {
        std::cerr << "git server did not start: " << git_server.error_log() << "\n";
        return 2;
    }
    std::map<std::string, std::string> files;
    TempDir work("poetryops-bench-burst");
    std::string yaml;
    for (int i = 0; i < apps; ++i) {
        files[app_path(i)] =
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n"
            "images:\n- name: " +
            app_image(i) + "\n  newTag: old\n";
        yaml += "---\napiVersion: poetryops.io/v1alpha1\nkind: PoetryApp\nmetadata: {name: app" +
                std::to_string(i) +
                ", namespace: burst}\nspec:\n  image: {repository: " + app_image(i) +
                ", tagTemplate: \"{version}\"}\n"
                "  gitops: {repoURL: \"" +
                git_server.http_url("gitops.git") +
                "\"}\n"
                "  environments:\n  - {name: dev, path: apps/app" +
                std::to_string(i) + "}\n";
    }
    std::string seed_tip = repos.commit_files("gitops.git", files);
    repos.commit_files("floor.git", files);
    fs::create_directories(work.path() / "apps");
    if (!write_file_atomic(work.path() / "apps/apps.yaml", yaml)) return 2;

    controller::LocalOptions lo;
    lo.inputs = {work.path() / "apps"};
    lo.state_dir = work.path() / "state";
    lo.layout_dir = work.path() / "layout";
    lo.git.username = git_server.user();
    lo.git.password = git_server.password();
    if (window_ms >= 0) lo.committer.window = std::chrono::milliseconds(window_ms);
    auto window_used = lo.committer.window;
    auto created = controller::LocalRunner::create(lo);
    if (!created) {
        std::cerr << "runner: " << created.error().message << "\n";
        return 2;
    }
    auto runner = std::move(created).value();

    // Warm-up: one pass with no images (clones the repo; every app has nothing to do).
    auto w0 = Steady::now();
    auto warm = runner->run_pass();
    if (!warm) {
        std::cerr << "warm-up pass: " << warm.error().message << "\n";
        return 2;
    }
    double warm_pass_s = seconds_since(w0);
    long long warm_git_processes = 0, warm_git_ms = 0;
    {
        std::lock_guard lock(git_log_mu);
        warm_git_processes = git_processes;
        warm_git_ms = git_ms;
    }

    // Every app gets a new image (1.0.0, a distinct manifest per app) in the layout.
    registry::LayoutOptions layout_options;
    layout_options.repository_subdirs = true;
    registry::LayoutRegistry layout(lo.layout_dir, layout_options);
    std::vector<std::string> digests;
    auto i0 = Steady::now();
    for (int i = 0; i < apps; ++i) {
        auto repo = registry::parse_repository(app_image(i)).value();
        std::string config = R"({"app":)" + std::to_string(i) + "}";
        auto blob = layout.put_blob(repo, config);
        if (!blob) return 2;
        nlohmann::json m = {{"schemaVersion", 2},
                            {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                            {"config",
                             {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                              {"digest", *blob},
                              {"size", config.size()}}},
                            {"layers", nlohmann::json::array()}};
        auto d = layout.put_manifest(repo, "1.0.0", m.dump(),
                                     "application/vnd.oci.image.manifest.v1+json");
        if (!d) {
            std::cerr << "layout push: " << d.error().message << "\n";
            return 2;
        }
        digests.push_back(d->digest);
    }
    double image_push_s = seconds_since(i0);

    // The floor (see the top of this file).
    double floor_commit_s = -1, floor_registry_s = -1;
    int floor_commits = -1;
    {
        TempDir floor_cache("poetryops-bench-burst-floor");
        auto cache = git::RepoCache::create(floor_cache.path());
        if (!cache) return 2;
        git::Remote remote;
        remote.url = git_server.http_url("floor.git");
        remote.username = git_server.user();
        remote.password = git_server.password();
        auto repo = (*cache)->open(remote);
        if (!repo) {
            std::cerr << "floor clone: " << repo.error().message << "\n";
            return 2;
        }
        auto tip = (*repo)->fetch("main");
        std::vector<std::string> paths;
        for (int i = 0; i < apps; ++i) paths.push_back(app_path(i));
        if (!tip || !(*repo)->read_files(*tip, paths)) return 2;
        git::CommitterOptions co = lo.committer;
        co.branch = "main";
        git::Committer committer(*repo, co);
        auto c0 = Steady::now();
        std::vector<std::future<Result<git::EditOutcome>>> futures;
        for (int i = 0; i < apps; ++i) {
            git::EditRequest r;
            std::string digest = digests[static_cast<std::size_t>(i)];
            manifest::SetImageRequest set;
            set.name = app_image(i);
            set.tag = "1.0.0";
            set.digest = digest;
            // The same edit the engine makes (manifest::set_image on the kustomization).
            r.edits.push_back(git::FileEdit{
                app_path(i),
                [set](std::optional<std::string_view> cur) -> Result<std::optional<std::string>> {
                    POETRYOPS_TRY(auto e, manifest::set_image(cur.value_or(""), set,
                                                              manifest::Kind::kustomize));
                    if (!e.changed()) return std::optional<std::string>();
                    return std::optional<std::string>(std::move(e.new_text));
                }});
            r.message.app = "app" + std::to_string(i);
            r.message.env = "dev";
            r.message.version = "1.0.0";
            r.message.digest = digest;
            futures.push_back(committer.submit(std::move(r)));
        }
        for (auto& f : futures) {
            if (!f.get()) return 2;
        }
        floor_commit_s = seconds_since(c0);
        floor_commits = static_cast<int>(committer.stats().commits);
        auto r0 = Steady::now();
        for (int i = 0; i < apps; ++i) {
            auto ref = registry::parse_reference(app_image(i) + ":1.0.0");
            if (!ref || !layout.resolve(*ref)) return 2;
        }
        floor_registry_s = seconds_since(r0);
    }
    const double floor_s = floor_commit_s + floor_registry_s;

    // "Images present": start the clock, wake the runner (as a webhook would), watch the remote.
    auto stats_before = runner->commit_stats();
    std::atomic<bool> stop{false};
    auto t0 = Steady::now();
    std::thread loop([&] {
        auto r = runner->run(stop, std::chrono::seconds(30));
        if (!r) std::cerr << "run: " << r.error().message << "\n";
    });
    runner->wake();
    nlohmann::json progress = nlohmann::json::array();
    std::string last_tip;
    int promoted = 0;
    double done_s = -1;
    auto deadline = t0 + std::chrono::seconds(time_limit);
    while (Steady::now() < deadline) {
        std::string tip = repos.tip("gitops.git");
        if (tip != last_tip) {
            last_tip = tip;
            promoted = promoted_count(bare, tip, digests);
            progress.push_back({{"s", seconds_since(t0)}, {"promoted", promoted}});
            if (promoted == apps) {
                done_s = seconds_since(t0);
                break;
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    stop = true;
    runner->wake();
    loop.join();  // finishes the pass in flight
    auto stats_after = runner->commit_stats();
    std::string final_tip = repos.tip("gitops.git");
    int final_promoted = promoted_count(bare, final_tip, digests);
    auto count = test::plain_git(
        {"--git-dir", bare.string(), "rev-list", "--count", seed_tip + ".." + final_tip});
    int commits_on_remote = count.ok() ? std::atoi(count.out.c_str()) : -1;

    // Keep the progress series short: about 20 points.
    nlohmann::json sampled = nlohmann::json::array();
    std::size_t step = std::max<std::size_t>(1, progress.size() / 20);
    for (std::size_t i = 0; i < progress.size(); i += step) sampled.push_back(progress[i]);
    if (!progress.empty() && (progress.size() - 1) % step != 0) sampled.push_back(progress.back());

    nlohmann::json out = {
        {"bench", "promote_burst"},
        {"apps", apps},
        {"committer_window_ms", window_used.count()},
        {"warmup_pass_s_no_images", warm_pass_s},
        {"image_push_s", image_push_s},
        {"completed", done_s >= 0},
        {"seconds_to_all_promoted", done_s},
        {"time_limit_s", time_limit},
        {"promoted_at_stop", promoted},
        {"promoted_after_last_pass", final_promoted},
        {"apps_per_second",
         done_s > 0 ? apps / done_s : promoted / static_cast<double>(time_limit)},
        {"commits_on_remote", commits_on_remote},
        {"floor_s", floor_s},
        {"ratio_to_floor", done_s > 0 ? done_s / floor_s : -1},
        {"floor",
         {{"committer_s", floor_commit_s},
          {"committer_commits", floor_commits},
          {"registry_digest_checks_s", floor_registry_s}}},
        {"committer",
         {{"commits", stats_after.commits - stats_before.commits},
          {"pushes", stats_after.pushes - stats_before.pushes},
          {"batches", stats_after.batches - stats_before.batches},
          {"conflicts", stats_after.conflicts - stats_before.conflicts}}},
        {"progress", sampled},
    };
    if (!git_log.empty()) {
        out["warmup_git"] = {{"processes", warm_git_processes},
                             {"ms_in_one_shot_processes", warm_git_ms}};
        log::set_level(log::Level::off);  // the sink refers to this function's locals
    }
    std::cout << out.dump(2) << std::endl;
    return 0;
}

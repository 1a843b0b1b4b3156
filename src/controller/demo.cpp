#include <poetryops/controller/demo.hpp>

#include <poetryops/controller/local.hpp>
#include <poetryops/registry/layout.hpp>
#include <poetryops/registry/reference.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/strings.hpp>
#include <poetryops/util/subprocess.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <iomanip>
#include <map>
#include <optional>
#include <sstream>

namespace poetryops::controller {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr const char* kRepository = "registry.local/demo/hello";

/// A minimal ustar archive holding one file: the image layer of a demo version.
std::string tar_one_file(const std::string& name, const std::string& content) {
    std::string header(512, '\0');
    auto put = [&](std::size_t off, std::size_t len, const std::string& v) {
        header.replace(off, std::min(len, v.size()), v.substr(0, len));
    };
    auto octal = [](std::size_t v, int width) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%0*zo", width - 1, v);
        return std::string(buf);
    };
    put(0, 100, name);
    put(100, 8, octal(0644, 8));
    put(108, 8, octal(0, 8));
    put(116, 8, octal(0, 8));
    put(124, 12, octal(content.size(), 12));
    put(136, 12, octal(0, 12));
    header.replace(148, 8, "        ");
    header[156] = '0';
    put(257, 6, std::string("ustar") + '\0');
    put(263, 2, "00");
    unsigned sum = 0;
    for (unsigned char c : header) sum += c;
    put(148, 7, octal(sum, 7));
    std::string out = header + content;
    out.append((512 - content.size() % 512) % 512, '\0');
    out.append(1024, '\0');
    return out;
}

struct DemoImage {
    std::string version, tag, digest;
};

/// "Pushes" a version of the sample app into the layout: a layer, a config and an OCI manifest
/// under its tag.
Result<DemoImage> push_version(registry::LayoutRegistry& reg, const std::string& version) {
    POETRYOPS_TRY(registry::Reference repo, registry::parse_repository(kRepository));
    std::string sha = str::sha256_hex("hello source " + version).substr(0, 7);
    std::string layer = tar_one_file("app/VERSION", version + "\n");
    POETRYOPS_TRY(std::string layer_digest, reg.put_blob(repo, layer));
    nlohmann::json config = {{"architecture", "amd64"},
                             {"os", "linux"},
                             {"config",
                              {{"Cmd", {"hello"}},
                               {"Labels",
                                {{"org.opencontainers.image.version", version},
                                 {"org.opencontainers.image.revision", sha}}}}},
                             {"rootfs", {{"type", "layers"}, {"diff_ids", {layer_digest}}}}};
    std::string config_bytes = config.dump();
    POETRYOPS_TRY(std::string config_digest, reg.put_blob(repo, config_bytes));
    nlohmann::json manifest = {{"schemaVersion", 2},
                               {"mediaType", registry::media::oci_manifest},
                               {"config",
                                {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                                 {"digest", config_digest},
                                 {"size", config_bytes.size()}}},
                               {"layers",
                                {{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                                  {"digest", layer_digest},
                                  {"size", layer.size()}}}}};
    DemoImage img{version, version + "-" + sha, ""};
    POETRYOPS_TRY(registry::Descriptor d,
                  reg.put_manifest(repo, img.tag, manifest.dump(), registry::media::oci_manifest));
    img.digest = d.digest;
    return img;
}

std::string overlay(const std::string& env) {
    return "# " + env +
           " overlay: poetryops pins the image below; everything else is yours\n"
           "apiVersion: kustomize.config.k8s.io/v1beta1\n"
           "kind: Kustomization\n"
           "namespace: hello-" +
           env +
           "\n"
           "resources:\n"
           "- ../../base\n"
           "images:\n"
           "- name: " +
           std::string(kRepository) +
           "\n"
           "  newTag: 0.9.0\n";
}

const char* kBaseDeployment =
    "apiVersion: apps/v1\n"
    "kind: Deployment\n"
    "metadata:\n"
    "  name: hello\n"
    "spec:\n"
    "  replicas: 2\n"
    "  selector:\n"
    "    matchLabels: {app: hello}\n"
    "  template:\n"
    "    metadata:\n"
    "      labels: {app: hello}\n"
    "    spec:\n"
    "      containers:\n"
    "      - name: hello\n"
    "        image: registry.local/demo/hello\n";

std::string app_yaml(const fs::path& gitops,
                     const std::map<std::string, std::string>& annotations) {
    std::string a;
    if (!annotations.empty()) {
        a = "  annotations:\n";
        for (const auto& [k, v] : annotations) a += "    " + k + ": \"" + v + "\"\n";
    }
    return "apiVersion: poetryops.io/v1alpha1\n"
           "kind: PoetryApp\n"
           "metadata:\n"
           "  name: hello\n"
           "  namespace: demo\n" +
           a +
           "spec:\n"
           "  image:\n"
           "    repository: " +
           std::string(kRepository) +
           "\n"
           "    tagTemplate: \"{version}-{shortSha}\"\n"
           "  gitops:\n"
           "    repoURL: file://" +
           gitops.string() +
           "\n"
           "    branch: main\n"
           "  environments:\n"
           "  - name: dev\n"
           "    path: envs/dev\n"
           "  - name: staging\n"
           "    path: envs/staging\n"
           "    promotion: {from: dev, soak: 10m}\n"
           "  - name: prod\n"
           "    path: envs/prod\n"
           "    promotion: {from: staging, approval: required}\n";
}

/// Runs git as a person at a terminal would, with a fixed identity and no user configuration.
class Git {
public:
    explicit Git(fs::path home) : home_(std::move(home)) {}
    Result<std::string> operator()(const std::vector<std::string>& args,
                                   const std::string& who = "Alice Admin") {
        std::vector<std::string> argv{"git"};
        argv.insert(argv.end(), args.begin(), args.end());
        ProcessOptions o;
        o.inherit_env = false;
        std::string email = str::to_lower(who.substr(0, who.find(' '))) + "@example.com";
        o.env = {{"PATH", "/usr/local/bin:/usr/bin:/bin"},
                 {"HOME", home_.string()},
                 {"GIT_CONFIG_NOSYSTEM", "1"},
                 {"GIT_AUTHOR_NAME", who},
                 {"GIT_AUTHOR_EMAIL", email},
                 {"GIT_COMMITTER_NAME", who},
                 {"GIT_COMMITTER_EMAIL", email},
                 {"GIT_TERMINAL_PROMPT", "0"}};
        o.timeout = 60s;
        POETRYOPS_TRY(ProcessResult r, run_process(argv, o));
        if (!r.ok())
            return fail(Error::Kind::internal,
                        format_argv(argv) + ": " + std::string(str::trim(r.err)));
        return r.out;
    }

private:
    fs::path home_;
};

class Demo {
public:
    Demo(fs::path dir, std::ostream& out) : dir_(std::move(dir)), out_(out), git_(dir_) {}

    Result<void> run() {
        POETRYOPS_TRY_VOID(setup());
        start_ = clock_.now();
        registry::LayoutOptions lo;
        lo.repository_subdirs = true;
        registry::LayoutRegistry reg(dir_ / "registry", lo);

        LocalOptions opts;
        opts.inputs = {dir_ / "apps"};
        opts.state_dir = dir_ / "state";
        opts.layout_dir = dir_ / "registry";
        opts.clock = &clock_;
        opts.committer.window = 20ms;
        opts.committer.identity = {"poetryops", "poetryops@demo.local"};
        opts.on_event = [this](const api::PoetryApp&, const promote::Event& e) {
            out_ << "  " << stamp() << (e.warning ? "  ! " : "    ") << std::left << std::setw(22)
                 << e.reason << e.message << "\n";
        };
        POETRYOPS_TRY(runner_, LocalRunner::create(opts));

        say("hello 1.0.0 is pushed to the registry; poetryops takes over the three overlays");
        POETRYOPS_TRY(DemoImage v1, push_version(reg, "1.0.0"));
        POETRYOPS_TRY_VOID(settle());

        clock_.advance(10min);
        say("10 minutes later dev has soaked: staging gets the same digest; prod waits for an "
            "approval");
        POETRYOPS_TRY_VOID(settle());
        show("prod");

        say("a release manager approves 1.0.0 for prod (annotation bound to its digest)");
        annotations_["poetryops.io/approve.prod"] = v1.digest;
        POETRYOPS_TRY_VOID(write_app());
        POETRYOPS_TRY_VOID(settle());

        say("hello 1.1.0 is pushed: dev takes it at once");
        POETRYOPS_TRY(DemoImage v2, push_version(reg, "1.1.0"));
        POETRYOPS_TRY_VOID(settle());
        clock_.advance(10min);
        say("10 minutes later: staging takes 1.1.0 (prod stays on 1.0.0: nobody approved 1.1.0)");
        POETRYOPS_TRY_VOID(settle());

        say("alice pins staging back to 1.0.0 by hand in git: poetryops holds staging instead of "
            "fighting her");
        POETRYOPS_TRY_VOID(human_pin("staging", v1));
        POETRYOPS_TRY_VOID(settle());

        say("hello 1.2.0 is pushed: dev moves on");
        POETRYOPS_TRY(DemoImage v3, push_version(reg, "1.2.0"));
        POETRYOPS_TRY_VOID(settle());
        clock_.advance(10min);
        say("10 minutes later dev has soaked, but staging is held: nothing overwrites alice's pin");
        POETRYOPS_TRY_VOID(settle());
        show("staging");

        say("alice releases the hold (annotation bound to what she pinned): staging catches up "
            "with dev");
        annotations_["poetryops.io/release.staging"] = v1.digest;
        POETRYOPS_TRY_VOID(write_app());
        POETRYOPS_TRY_VOID(settle());

        clock_.advance(10min);
        say("10 minutes later staging has soaked 1.2.0, and it is approved for prod");
        annotations_["poetryops.io/approve.prod"] = v3.digest;
        POETRYOPS_TRY_VOID(write_app());
        POETRYOPS_TRY_VOID(settle());

        say("prod misbehaves on 1.2.0: roll prod back to 1.0.0 (annotation naming a digest from "
            "its history)");
        annotations_["poetryops.io/rollback.prod"] = v1.digest;
        POETRYOPS_TRY_VOID(write_app());
        POETRYOPS_TRY_VOID(settle());
        (void)v2;

        auto status = runner_->status_of("demo/hello");
        out_ << "\nkubectl get poetryapps would show:  " << (status ? status->summary : "?")
             << "\n";
        auto stats = runner_->commit_stats();
        out_ << "poetryops made " << stats.commits << " commits in " << stats.pushes << " pushes\n";
        out_ << "\nThe GitOps repository's log (every decision is a commit):\n";
        POETRYOPS_TRY(std::string log, git_({"-C", (dir_ / "gitops.git").string(), "log",
                                             "--format=  %h %<(10,trunc)%an %s"}));
        out_ << log;
        POETRYOPS_TRY(std::string show_last,
                      git_({"-C", (dir_ / "gitops.git").string(), "show", "--format=", "HEAD"}));
        out_ << "\nThe last commit's diff (byte-exact: only the pinned lines change):\n"
             << show_last;
        return ok();
    }

private:
    Result<void> setup() {
        std::error_code ec;
        fs::create_directories(dir_ / "apps", ec);
        for (const char* sub :
             {"seed/base", "seed/envs/dev", "seed/envs/staging", "seed/envs/prod"}) {
            fs::create_directories(dir_ / sub, ec);
            if (ec)
                return fail(Error::Kind::internal,
                            "cannot create " + (dir_ / sub).string() + ": " + ec.message());
        }
        POETRYOPS_TRY(auto a,
                      git_({"init", "-q", "--bare", "-b", "main", (dir_ / "gitops.git").string()}));
        POETRYOPS_TRY(auto b, git_({"init", "-q", "-b", "main", (dir_ / "seed").string()}));
        POETRYOPS_TRY_VOID(write_file_atomic(dir_ / "seed/base/kustomization.yaml",
                                             "resources:\n- deployment.yaml\n"));
        POETRYOPS_TRY_VOID(write_file_atomic(dir_ / "seed/base/deployment.yaml", kBaseDeployment));
        for (const char* env : {"dev", "staging", "prod"}) {
            POETRYOPS_TRY_VOID(
                write_file_atomic(dir_ / "seed/envs" / env / "kustomization.yaml", overlay(env)));
        }
        std::string seed = (dir_ / "seed").string();
        POETRYOPS_TRY(auto c, git_({"-C", seed, "add", "-A"}));
        POETRYOPS_TRY(auto d, git_({"-C", seed, "commit", "-q", "-m", "Add the hello overlays"}));
        POETRYOPS_TRY(auto e,
                      git_({"-C", seed, "push", "-q", (dir_ / "gitops.git").string(), "main"}));
        (void)a, (void)b, (void)c, (void)d, (void)e;
        out_ << "poetryops demo in " << dir_.string() << "\n"
             << "  GitOps repo   " << (dir_ / "gitops.git").string()
             << "  (envs/dev, envs/staging, envs/prod)\n"
             << "  registry      " << (dir_ / "registry").string() << "  (OCI image layout for "
             << kRepository << ")\n"
             << "  PoetryApp     " << (dir_ / "apps/hello.yaml").string()
             << "  (staging soaks 10m after dev; prod needs an approval)\n";
        return write_app();
    }

    Result<void> write_app() {
        return write_file_atomic(dir_ / "apps/hello.yaml",
                                 app_yaml(dir_ / "gitops.git", annotations_));
    }

    Result<void> human_pin(const std::string& env, const DemoImage& img) {
        std::string seed = (dir_ / "seed").string();
        POETRYOPS_TRY(auto a, git_({"-C", seed, "pull", "-q", "--ff-only",
                                    (dir_ / "gitops.git").string(), "main"}));
        fs::path file = dir_ / "seed/envs" / env / "kustomization.yaml";
        POETRYOPS_TRY(std::string text, read_file(file));
        auto tag_at = text.find("newTag: ");
        auto tag_end = text.find('\n', tag_at);
        auto dig_at = text.find("digest: ");
        auto dig_end = text.find('\n', dig_at);
        if (tag_at == std::string::npos || dig_at == std::string::npos) {
            return fail(Error::Kind::internal, file.string() + ": no pinned image to edit");
        }
        text.replace(dig_at, dig_end - dig_at, "digest: " + img.digest);
        text.replace(tag_at, tag_end - tag_at, "newTag: " + img.tag);
        POETRYOPS_TRY_VOID(write_file_atomic(file, text));
        POETRYOPS_TRY(auto b, git_({"-C", seed, "commit", "-q", "-am",
                                    "Pin " + env + " to " + img.version + " while we debug"}));
        POETRYOPS_TRY(auto c,
                      git_({"-C", seed, "push", "-q", (dir_ / "gitops.git").string(), "main"}));
        (void)a, (void)b, (void)c;
        return ok();
    }

    Result<void> settle() {
        POETRYOPS_TRY(PassResult r, runner_->run_until_settled());
        for (const auto& e : r.errors) out_ << "  " << stamp() << "  ! " << e << "\n";
        return ok();
    }

    void say(const std::string& what) { out_ << "\n" << stamp() << "  " << what << "\n"; }

    void show(const std::string& env) {
        auto status = runner_->status_of("demo/hello");
        if (!status) return;
        if (const auto* st = status->find_environment(env)) {
            out_ << "  " << stamp() << "    " << std::left << std::setw(22) << ("status of " + env)
                 << st->message << "\n";
        }
    }

    std::string stamp() const {
        auto mins = std::chrono::duration_cast<std::chrono::minutes>(clock_.now() - start_).count();
        char buf[48];
        std::snprintf(buf, sizeof buf, "+%02lld:%02lld", static_cast<long long>(mins / 60),
                      static_cast<long long>(mins % 60));
        return buf;
    }

    fs::path dir_;
    std::ostream& out_;
    Git git_;
    ManualClock clock_;
    Clock::time_point start_;
    std::map<std::string, std::string> annotations_;
    std::unique_ptr<LocalRunner> runner_;
};

}  // namespace

Result<void> run_demo(const DemoOptions& options, std::ostream& out) {
    std::optional<TempDir> tmp;
    fs::path dir = options.workdir;
    if (dir.empty()) {
        tmp.emplace("poetryops-demo");
        dir = tmp->path();
    } else {
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (!fs::is_empty(dir, ec)) {
            return fail(Error::Kind::invalid,
                        "--workdir " + dir.string() + " is not empty; give a new or empty folder");
        }
        dir = fs::absolute(dir);
    }
    Demo demo(dir, out);
    return demo.run();
}

}  // namespace poetryops::controller

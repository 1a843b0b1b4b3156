#include <poetryops/controller/demo.hpp>

#include <poetryops/canary/judge.hpp>
#include <poetryops/controller/analysis_port.hpp>
#include <poetryops/controller/local.hpp>
#include <poetryops/registry/layout.hpp>
#include <poetryops/registry/reference.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/strings.hpp>
#include <poetryops/util/subprocess.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <iomanip>
#include <map>
#include <mutex>
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

// prod runs canaries (docs/canary.md): a plain folder with the stable and the canary Deployment,
// a Service for each and the HTTPRoute weighing them. poetryops edits the images and the weights.
const char* kProdKustomization =
    "# prod: plain manifests (update.kind: manifest); poetryops pins the images in "
    "deployment.yaml\n"
    "# and the weights in route.yaml; everything else is yours\n"
    "apiVersion: kustomize.config.k8s.io/v1beta1\n"
    "kind: Kustomization\n"
    "namespace: hello-prod\n"
    "resources:\n"
    "- deployment.yaml\n"
    "- service.yaml\n"
    "- route.yaml\n";

std::string prod_deployment(const std::string& name, const std::string& track, int replicas) {
    return "apiVersion: apps/v1\n"
           "kind: Deployment\n"
           "metadata:\n"
           "  name: " +
           name +
           "\n"
           "spec:\n"
           "  replicas: " +
           std::to_string(replicas) +
           "\n"
           "  selector:\n"
           "    matchLabels: {app: hello, track: " +
           track +
           "}\n"
           "  template:\n"
           "    metadata:\n"
           "      labels: {app: hello, track: " +
           track +
           "}\n"
           "    spec:\n"
           "      containers:\n"
           "      - name: hello\n"
           "        image: " +
           std::string(kRepository) + ":0.9.0\n";
}

std::string prod_service(const std::string& name, const std::string& track) {
    return "apiVersion: v1\n"
           "kind: Service\n"
           "metadata:\n"
           "  name: " +
           name +
           "\n"
           "spec:\n"
           "  selector: {app: hello, track: " +
           track +
           "}\n"
           "  ports:\n"
           "  - {port: 80, targetPort: 8080}\n";
}

const char* kProdRoute =
    "apiVersion: gateway.networking.k8s.io/v1\n"
    "kind: HTTPRoute\n"
    "metadata:\n"
    "  name: hello\n"
    "spec:\n"
    "  parentRefs:\n"
    "  - {name: public, namespace: gateways}\n"
    "  hostnames: [hello.example.com]\n"
    "  rules:\n"
    "  - backendRefs:\n"
    "    - name: hello\n"
    "      port: 80\n"
    "      weight: 100\n"
    "    - name: hello-canary\n"
    "      port: 80\n"
    "      weight: 0\n";

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
           "    promotion: {from: staging, approval: {required: true}}\n"
           "    update: {kind: manifest, file: deployment.yaml}\n"
           "    canary:\n"
           "      traffic: {kind: gateway-api, route: hello, stable: hello, canary: hello-canary, "
           "file: route.yaml}\n"
           "      steps: [{weight: 10, pause: 1m}, {weight: 25, pause: 1m}, {weight: 50, pause: "
           "1m}]\n"
           "      analysis:\n"
           "        # never queried: the demo's metrics are scripted (ScriptedAnalysis in "
           "demo.cpp)\n"
           "        prometheus: {address: \"http://prometheus.demo.invalid:9090\"}\n"
           "        interval: 1m\n"
           "        failureLimit: 2\n"
           "        metrics:\n"
           "        - {name: success-rate, min: 0.99}\n"
           "        - {name: latency-p99-ms, max: 500}\n";
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

/// The demo's metrics: instead of Prometheus, numbers scripted per digest, judged by the real
/// threshold judge (canary/judge.hpp) against the environment's metrics, so each verdict is the
/// controller's own decision over made-up measurements. Each round is reported through `on_round`.
class ScriptedAnalysis final : public AnalysisPort {
public:
    struct Values {
        double success_rate = 0;
        double latency_p99_ms = 0;
    };
    /// One round: the canary's weight when it ran, and what was judged.
    using Report = std::function<void(const api::EnvironmentSpec& env, int weight,
                                      const canary::Analysis& round)>;

    explicit ScriptedAnalysis(Report on_round) : on_round_(std::move(on_round)) {}

    void script(const std::string& digest, Values values) {
        std::lock_guard lock(mu_);
        values_[digest] = values;
    }

    canary::Analysis run(const api::PoetryApp& app, const api::EnvironmentSpec& env,
                         std::chrono::system_clock::time_point) override {
        canary::Analysis out;
        const api::EnvironmentStatus* st = app.status.find_environment(env.name);
        if (!env.canary || !env.canary->analysis || !st || !st->canary) {
            out.message = "no canary in " + env.name;
            return out;
        }
        std::optional<Values> v;
        {
            std::lock_guard lock(mu_);
            if (auto it = values_.find(st->canary->digest); it != values_.end()) v = it->second;
        }
        std::vector<canary::MetricVerdict> verdicts;
        std::vector<std::string> bounds;
        for (const auto& m : env.canary->analysis->metrics) {
            canary::Measurement measured = canary::Measurement::missing(
                "the demo scripts no " + m.name + " for " + st->canary->digest);
            if (v && m.name == "success-rate") measured = canary::Measurement::of(v->success_rate);
            if (v && m.name == "latency-p99-ms") {
                measured = canary::Measurement::of(v->latency_p99_ms);
            }
            verdicts.push_back(canary::judge_threshold(m.name, measured, {m.min, m.max}));
            std::string bound;
            if (m.min) bound = ">= " + number(*m.min);
            if (m.max) bound += (bound.empty() ? "" : ", ") + std::string("<= ") + number(*m.max);
            bounds.push_back(std::move(bound));
        }
        out = to_analysis(canary::combine(std::move(verdicts)), bounds);
        if (on_round_) on_round_(env, st->canary->weight, out);
        return out;
    }

    static std::string number(double v) {
        std::ostringstream o;
        o << v;
        return o.str();
    }

private:
    Report on_round_;
    std::mutex mu_;
    std::map<std::string, Values> values_;  // by digest
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
        opts.analysis = &metrics_;
        opts.committer.window = 20ms;
        opts.committer.identity = {"poetryops", "poetryops@demo.local"};
        opts.on_event = [this](const api::PoetryApp&, const promote::Event& e) {
            std::lock_guard lock(out_mu_);
            out_ << "  " << stamp() << (e.warning ? "  ! " : "    ") << std::left << std::setw(22)
                 << e.reason << e.message << "\n";
        };
        POETRYOPS_TRY(runner_, LocalRunner::create(opts));

        say("hello 1.0.0 is pushed to the registry; poetryops takes over the three environments");
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
        say("10 minutes later staging has soaked 1.2.0, and it is approved for prod: prod runs "
            "it as a canary, 10% -> 25% -> 50% of the traffic, its metrics checked every minute");
        metrics_.script(v3.digest, {.success_rate = 0.998, .latency_p99_ms = 41});
        annotations_["poetryops.io/approve.prod"] = v3.digest;
        POETRYOPS_TRY_VOID(write_app());
        POETRYOPS_TRY_VOID(settle());
        POETRYOPS_TRY_VOID(walk_canary("prod"));

        say("prod misbehaves on 1.2.0 in a way no metric shows: roll prod back to 1.0.0 "
            "(annotation naming a digest from its history)");
        annotations_["poetryops.io/rollback.prod"] = v1.digest;
        POETRYOPS_TRY_VOID(write_app());
        POETRYOPS_TRY_VOID(settle());

        say("hello 1.3.0 is pushed (its scripted metrics: 5% of requests fail): dev takes it");
        POETRYOPS_TRY(DemoImage v4, push_version(reg, "1.3.0"));
        metrics_.script(v4.digest, {.success_rate = 0.95, .latency_p99_ms = 47});
        POETRYOPS_TRY_VOID(settle());
        clock_.advance(10min);
        say("10 minutes later staging has soaked 1.3.0; it is approved for prod and the rollback "
            "annotation removed: prod's canary of 1.3.0 starts");
        annotations_.erase("poetryops.io/rollback.prod");
        annotations_["poetryops.io/approve.prod"] = v4.digest;
        POETRYOPS_TRY_VOID(write_app());
        POETRYOPS_TRY_VOID(settle());
        POETRYOPS_TRY_VOID(walk_canary("prod"));
        show("prod");
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
                      git_({"-C", (dir_ / "gitops.git").string(), "show", "--format=%B", "HEAD"}));
        out_ << "\nThe last commit, the abort of 1.3.0's canary (byte-exact: only the canary's "
                "image and the weights change):\n"
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
        for (const char* env : {"dev", "staging"}) {
            POETRYOPS_TRY_VOID(
                write_file_atomic(dir_ / "seed/envs" / env / "kustomization.yaml", overlay(env)));
        }
        const fs::path prod = dir_ / "seed/envs/prod";
        POETRYOPS_TRY_VOID(write_file_atomic(prod / "kustomization.yaml", kProdKustomization));
        POETRYOPS_TRY_VOID(write_file_atomic(prod / "deployment.yaml",
                                             prod_deployment("hello", "stable", 4) + "---\n" +
                                                 prod_deployment("hello-canary", "canary", 1)));
        POETRYOPS_TRY_VOID(write_file_atomic(
            prod / "service.yaml",
            prod_service("hello", "stable") + "---\n" + prod_service("hello-canary", "canary")));
        POETRYOPS_TRY_VOID(write_file_atomic(prod / "route.yaml", kProdRoute));
        std::string seed = (dir_ / "seed").string();
        POETRYOPS_TRY(auto c, git_({"-C", seed, "add", "-A"}));
        POETRYOPS_TRY(auto d,
                      git_({"-C", seed, "commit", "-q", "-m", "Add the hello environments"}));
        POETRYOPS_TRY(auto e,
                      git_({"-C", seed, "push", "-q", (dir_ / "gitops.git").string(), "main"}));
        (void)a, (void)b, (void)c, (void)d, (void)e;
        out_ << "poetryops demo in " << dir_.string() << "\n"
             << "  GitOps repo   " << (dir_ / "gitops.git").string()
             << "  (kustomize overlays envs/dev, envs/staging; envs/prod: a stable and a canary "
                "Deployment and an HTTPRoute)\n"
             << "  registry      " << (dir_ / "registry").string() << "  (OCI image layout for "
             << kRepository << ")\n"
             << "  PoetryApp     " << (dir_ / "apps/hello.yaml").string()
             << "  (staging soaks 10m after dev; prod needs an approval, then runs a canary)\n"
             << "  metrics       scripted inside the demo, not Prometheus: per version a "
                "success-rate and a latency-p99-ms, judged against prod's thresholds\n";
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

    /// Advances the clock a minute at a time (the analysis interval and each step's pause) until
    /// the canary in `env` completed or aborted.
    Result<void> walk_canary(const std::string& env) {
        for (int minute = 0; minute < 10; ++minute) {
            auto status = runner_->status_of("demo/hello");
            const auto* st = status ? status->find_environment(env) : nullptr;
            if (!st || !st->canary ||
                (st->canary->phase != api::CanaryPhase::progressing &&
                 st->canary->phase != api::CanaryPhase::paused)) {
                return ok();
            }
            clock_.advance(1min);
            POETRYOPS_TRY_VOID(settle());
        }
        return fail(Error::Kind::internal,
                    "the canary in " + env + " did not end within 10 simulated minutes");
    }

    /// One scripted analysis round, as it is judged: each metric's value, bound and verdict.
    void report_round(const api::EnvironmentSpec& env, int weight, const canary::Analysis& round) {
        auto word = [](api::AnalysisVerdict v) {
            return str::to_lower(std::string(api::to_string(v)));
        };
        std::ostringstream line;
        line << env.name << " at " << weight << "%:";
        for (const auto& m : round.metrics) {
            line << " " << m.name << " "
                 << (m.value ? ScriptedAnalysis::number(*m.value) : std::string("none")) << " ("
                 << m.bound << ") " << word(m.verdict) << ";";
        }
        line << " verdict " << word(round.verdict);
        if (round.verdict != api::AnalysisVerdict::pass) line << ": " << round.message;
        std::lock_guard lock(out_mu_);
        out_ << "  " << stamp() << (round.verdict == api::AnalysisVerdict::fail ? "  ! " : "    ")
             << std::left << std::setw(22) << "metrics (scripted)" << line.str() << "\n";
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
    std::mutex out_mu_;  // rounds are reported from the runner's workers
    ScriptedAnalysis metrics_{
        [this](const api::EnvironmentSpec& env, int weight, const canary::Analysis& round) {
            report_round(env, weight, round);
        }};
    std::unique_ptr<LocalRunner> runner_;  // last: destroyed first, it calls metrics_
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

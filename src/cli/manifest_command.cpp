// poetryops manifest set-image | set-weights: byte-exact edits of YAML files (docs/manifest.md).
// Exit codes (cli/errors.hpp): 0 the files hold the change, 1 nothing matched, 2 refusal or bad
// input.
#include <poetryops/cli/commands.hpp>
#include <poetryops/manifest/edit.hpp>
#include <poetryops/manifest/files.hpp>
#include <poetryops/util/fs.hpp>

#include <iostream>
#include <memory>

namespace poetryops::cli {
namespace {

struct SetImageArgs {
    std::string path;
    std::string ref;
    std::string kind = "auto";
    std::string tag_path = "image.tag";
    std::string digest_path = "image.digest";
    std::string repository_path = "image.repository";
    std::string app, env, policy, root;
    bool dry_run = false;
};

constexpr std::string_view kSetImage = "manifest set-image";
constexpr std::string_view kSetWeights = "manifest set-weights";

Exit run_set_image(const SetImageArgs& a) {
    auto kind = manifest::parse_kind(a.kind);
    if (!kind) return report(kSetImage, kind.error());
    auto req = manifest::parse_set_image_arg(a.ref);
    if (!req) return report(kSetImage, req.error());
    req->helm_tag_path = a.tag_path;
    req->helm_digest_path = a.digest_path;
    req->helm_repository_path = a.repository_path;
    req->app = a.app;
    req->env = a.env;
    req->policy = a.policy;
    manifest::PathOptions opts;
    opts.kind = *kind;
    opts.dry_run = a.dry_run;
    opts.root = a.root;
    auto outcome = manifest::set_image_in_path(a.path, *req, opts);
    if (!outcome) return report(kSetImage, outcome.error());
    for (const auto& f : outcome->files) {
        using S = manifest::FileOutcome::Status;
        std::string p = f.path.generic_string();
        switch (f.status) {
            case S::changed:
                if (a.dry_run) {
                    std::cout << f.diff;
                } else {
                    for (const auto& c : f.changes) {
                        std::cout << p << ":" << c.line << ": " << c.field << ": "
                                  << (c.old_value.empty() ? "(none)" : c.old_value) << " -> "
                                  << (c.new_value.empty() ? "(removed)" : c.new_value) << "\n";
                    }
                }
                break;
            case S::unchanged: std::cerr << p << ": unchanged (already " << a.ref << ")\n"; break;
            case S::skipped: std::cerr << p << ": skipped (" << f.reason << ")\n"; break;
            case S::no_match: break;
        }
    }
    if (outcome->matched_files() == 0) {
        say(kSetImage,
            "nothing under " + a.path + " matches " + req->name + " (kind " + a.kind + ")");
        return Exit::findings;
    }
    return Exit::ok;
}

struct SetWeightsArgs {
    std::string path;
    std::string kind;
    std::string resource;
    std::vector<std::string> weights;
    bool dry_run = false;
};

Exit run_set_weights(const SetWeightsArgs& a) {
    auto kind = manifest::parse_traffic_kind(a.kind);
    if (!kind) return report(kSetWeights, kind.error());
    std::vector<manifest::BackendWeight> weights;
    for (const auto& w : a.weights) {
        auto eq = w.find('=');
        int value = -1;
        try {
            std::size_t used = 0;
            if (eq != std::string::npos) value = std::stoi(w.substr(eq + 1), &used);
            if (eq == std::string::npos || used != w.size() - eq - 1) value = -1;
        } catch (const std::exception&) {
            value = -1;
        }
        if (value < 0 || eq == 0) {
            return report_bad_input(kSetWeights, "\"" + w + "\": expected BACKEND=WEIGHT");
        }
        weights.push_back({w.substr(0, eq), value});
    }
    auto text = read_file(a.path);
    if (!text) return report(kSetWeights, text.error());
    auto out = manifest::set_weights(*text, *kind, weights, a.resource);
    if (!out) {
        Error e = out.error();
        e.message = a.path + ": " + e.message;
        return report(kSetWeights, e);
    }
    if (out->matched == 0) {
        say(kSetWeights, "no " + a.kind + " resource in " + a.path + " has those backends");
        return Exit::findings;
    }
    if (a.dry_run) {
        std::cout << manifest::unified_diff(*text, out->new_text, a.path);
        return Exit::ok;
    }
    if (out->changed()) {
        auto w = write_file_atomic(a.path, out->new_text);
        if (!w) return report(kSetWeights, w.error());
    }
    for (const auto& c : out->changes) {
        std::cout << a.path << ":" << c.line << ": " << c.field << ": "
                  << (c.old_value.empty() ? "(none)" : c.old_value) << " -> " << c.new_value
                  << "\n";
    }
    if (!out->changed()) std::cerr << a.path << ": unchanged\n";
    return Exit::ok;
}

}  // namespace

void add_manifest_command(CLI::App& app, Context& ctx) {
    auto* cmd =
        app.add_subcommand("manifest", "Edit Kubernetes YAML byte-exactly (images, weights)");
    cmd->require_subcommand(1);

    auto a = std::make_shared<SetImageArgs>();
    auto* si = cmd->add_subcommand(
        "set-image", "Set an image like `kustomize edit set image`, keeping every other byte");
    si->add_option("PATH", a->path, "a YAML file or a folder (every *.yaml/*.yml below it)")
        ->required();
    si->add_option("IMAGE", a->ref, "NAME=NEWNAME[:TAG][@DIGEST] or NAME[:TAG][@DIGEST]")
        ->required();
    si->add_option("--kind", a->kind, "auto|kustomize|helm|yaml|marker")
        ->check(CLI::IsMember({"auto", "kustomize", "helm", "yaml", "marker"}));
    si->add_option("--tag-path", a->tag_path, "Helm values path of the tag (\"\" to skip)");
    si->add_option("--digest-path", a->digest_path,
                   "Helm values path of the digest (\"\" to skip)");
    si->add_option("--repository-path", a->repository_path,
                   "Helm values path of the repository (\"\" to skip)");
    si->add_option("--app", a->app, "marker app (default: last component of NAME)");
    si->add_option("--env", a->env, "marker environment");
    si->add_option("--policy", a->policy, "Flux image policy NS:NAME to follow");
    si->add_option("--root", a->root,
                   "files must resolve inside this folder (default: PATH or its folder)");
    si->add_flag("--dry-run", a->dry_run, "print a unified diff instead of writing");
    si->callback([a, &ctx] { ctx.exit = run_set_image(*a); });

    auto w = std::make_shared<SetWeightsArgs>();
    auto* sw =
        cmd->add_subcommand("set-weights", "Set traffic weights of named backends in one file");
    sw->add_option("PATH", w->path, "a YAML file")->required();
    sw->add_option("WEIGHTS", w->weights, "BACKEND=WEIGHT ...")->required();
    sw->add_option("--kind", w->kind, "gateway-api|istio|nginx|smi|traefik")->required();
    sw->add_option("--resource", w->resource, "only the resource with this metadata.name");
    sw->add_flag("--dry-run", w->dry_run, "print a unified diff instead of writing");
    sw->callback([w, &ctx] { ctx.exit = run_set_weights(*w); });
}

}  // namespace poetryops::cli

// bench_manifest_edit: MB/s of set_image over a generated ~5 MB multi-document file, against
// yaml-cpp alone parsing the same text (YAML::LoadAll, the cost every YAML tool pays) measured in
// the same run. Prints JSON.
//
//   bench_manifest_edit [--mb 5] [--runs 5]
#include <poetryops/manifest/edit.hpp>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench_support.hpp"

namespace {

using poetryops::bench::median;

using Clock = std::chrono::steady_clock;

std::string make_text(std::size_t target_bytes, std::size_t& expected_edits) {
    std::string out;
    expected_edits = 0;
    for (std::size_t i = 0; out.size() < target_bytes; ++i) {
        bool ours = i % 10 == 0;
        std::string image = ours ? "ghcr.io/acme/billing:1.0.0"
                                 : "ghcr.io/acme/svc-" + std::to_string(i) + ":2.3.4";
        if (ours) expected_edits += 2;
        out += "---\n# service " + std::to_string(i) +
               "\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc-" +
               std::to_string(i) +
               "\n  labels: {app: svc, tier: backend}\n  annotations:\n    description: |\n      A "
               "service that does things.\n"
               "      Second line of the block scalar.\nspec:\n  replicas: 3\n  selector:\n    "
               "matchLabels:\n"
               "      app: svc\n  template:\n    metadata:\n      labels:\n        app: svc\n    "
               "spec:\n"
               "      initContainers:\n      - name: migrate\n        image: \"" +
               image +
               "\"\n"
               "        args: [\"migrate\", \"--yes\"]\n      containers:\n      - name: app\n     "
               "   image: " +
               image +
               "   # pinned\n        ports:\n        - containerPort: 8080\n          name: http\n"
               "        env:\n        - {name: LOG_LEVEL, value: info}\n        - name: WORKERS\n  "
               "        value: \"4\"\n"
               "        resources:\n          requests: {cpu: 100m, memory: 128Mi}\n"
               "      - name: sidecar\n        image: 'envoyproxy/envoy:v1.29.0'\n";
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    double mb = 5;
    int runs = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--mb") == 0) mb = std::atof(argv[i + 1]);
        if (std::strcmp(argv[i], "--runs") == 0) runs = std::atoi(argv[i + 1]);
    }
    std::size_t expected = 0;
    std::string text = make_text(static_cast<std::size_t>(mb * 1024 * 1024), expected);
    double size_mb = static_cast<double>(text.size()) / (1024.0 * 1024.0);
    auto req = poetryops::manifest::parse_set_image_arg("ghcr.io/acme/billing:1.0.1@sha256:" +
                                                        std::string(64, 'e'));
    if (!req) {
        std::fprintf(stderr, "%s\n", req.error().message.c_str());
        return 2;
    }

    std::vector<double> parse_s, edit_s, noop_s;
    std::size_t docs = 0, changes = 0;
    bool exact = true;
    for (int r = 0; r < runs; ++r) {
        auto t0 = Clock::now();
        auto nodes = YAML::LoadAll(text);
        auto t1 = Clock::now();
        docs = nodes.size();
        auto out = poetryops::manifest::set_image(text, *req, poetryops::manifest::Kind::yaml);
        auto t2 = Clock::now();
        if (!out) {
            std::fprintf(stderr, "%s\n", out.error().message.c_str());
            return 1;
        }
        changes = out->changes.size();
        // Exactness: every byte outside the edited scalars is unchanged (the length grows by the
        // edits only).
        std::size_t grow =
            (std::string("ghcr.io/acme/billing:1.0.1@sha256:") + std::string(64, 'e')).size() -
            std::string("ghcr.io/acme/billing:1.0.0").size();
        exact = exact && out->new_text.size() == text.size() + grow * changes;
        // Second pass over the edited text: nothing to change (the idempotent no-op path).
        auto t3 = Clock::now();
        auto again =
            poetryops::manifest::set_image(out->new_text, *req, poetryops::manifest::Kind::yaml);
        auto t4 = Clock::now();
        exact = exact && again && !again->changed();
        parse_s.push_back(std::chrono::duration<double>(t1 - t0).count());
        edit_s.push_back(std::chrono::duration<double>(t2 - t1).count());
        noop_s.push_back(std::chrono::duration<double>(t4 - t3).count());
    }
    double p = median(parse_s), e = median(edit_s), n = median(noop_s);
    std::printf(
        "{\n  \"bench\": \"manifest_edit\",\n  \"input_mb\": %.2f,\n  \"documents\": %zu,\n  "
        "\"runs\": %d,\n"
        "  \"changes\": %zu,\n  \"expected_changes\": %zu,\n  \"byte_exact\": %s,\n"
        "  \"baseline_yaml_cpp_loadall_s\": %.4f,\n  \"baseline_mb_per_s\": %.2f,\n"
        "  \"set_image_s\": %.4f,\n  \"set_image_mb_per_s\": %.2f,\n"
        "  \"set_image_noop_s\": %.4f,\n  \"set_image_noop_mb_per_s\": %.2f,\n"
        "  \"speed_vs_baseline\": %.2f\n}\n",
        size_mb, docs, runs, changes, expected, exact ? "true" : "false", p, size_mb / p, e,
        size_mb / e, n, size_mb / n, p / e);
    return changes == expected && exact ? 0 : 1;
}

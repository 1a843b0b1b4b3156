// Watch-decoder throughput: events/s decoding a watch stream delivered in network-sized pieces,
// against a baseline of nlohmann::json::parse over the same events already split into lines in one
// buffer (the decoder's floor: it must parse every event too). Prints JSON.
#include <poetryops/kube/watch_decoder.hpp>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "bench_support.hpp"

namespace {

using poetryops::bench::seconds_since;

std::string make_event(int i) {
    nlohmann::json obj = {
        {"apiVersion", "poetryops.io/v1alpha1"},
        {"kind", "PoetryApp"},
        {"metadata",
         {{"name", "app-" + std::to_string(i)},
          {"namespace", "team-" + std::to_string(i % 50)},
          {"uid", "00000000-0000-4000-8000-" + std::to_string(100000000000 + i)},
          {"resourceVersion", std::to_string(1000 + i)},
          {"generation", 3},
          {"labels", {{"app.kubernetes.io/name", "billing"}, {"team", "a"}}}}},
        {"spec",
         {{"source",
           {{"repoURL", "https://git.example.com/acme/billing.git"},
            {"ref", "main"},
            {"path", "."}}},
          {"image",
           {{"repository", "registry.example.com/acme/billing"},
            {"tagTemplate", "{version}-{shortSha}"}}},
          {"environments",
           {{{"name", "dev"}, {"path", "envs/dev"}},
            {{"name", "staging"},
             {"path", "envs/staging"},
             {"promotion", {{"from", "dev"}, {"soak", "10m"}}}},
            {{"name", "prod"}, {"path", "envs/prod"}, {"promotion", {{"from", "staging"}}}}}}}},
        {"status",
         {{"observedGeneration", 3},
          {"conditions",
           {{{"type", "Ready"},
             {"status", "True"},
             {"lastTransitionTime", "2026-01-01T00:00:00Z"},
             {"reason", "Reconciled"},
             {"message", "all environments converged"}}}}}}};
    return nlohmann::json{{"type", i % 10 == 0 ? "ADDED" : "MODIFIED"}, {"object", obj}}.dump() +
           "\n";
}

}  // namespace

int main(int argc, char** argv) {
    int events = argc > 1 ? std::atoi(argv[1]) : 20000;
    int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
    std::string stream;
    std::vector<std::pair<std::size_t, std::size_t>> lines;
    for (int i = 0; i < events; ++i) {
        std::string e = make_event(i);
        lines.emplace_back(stream.size(), e.size() - 1);
        stream += e;
    }
    // Network-like pieces: random sizes 1 B .. 16 KiB, fixed seed.
    std::mt19937 rng(42);
    std::uniform_int_distribution<std::size_t> piece(1, 16384);
    std::vector<std::string_view> chunks;
    for (std::size_t pos = 0; pos < stream.size();) {
        std::size_t n = std::min(piece(rng), stream.size() - pos);
        chunks.emplace_back(stream.data() + pos, n);
        pos += n;
    }

    double best_base = 1e9, best_dec = 1e9;
    std::size_t sink = 0;
    for (int r = 0; r < rounds; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        for (const auto& [off, len] : lines) {
            auto j = nlohmann::json::parse(stream.begin() + static_cast<long>(off),
                                           stream.begin() + static_cast<long>(off + len));
            sink += j.size();
        }
        best_base = std::min(best_base, seconds_since(t0));

        auto t1 = std::chrono::steady_clock::now();
        poetryops::kube::WatchDecoder dec;
        std::size_t n = 0;
        for (auto c : chunks) {
            auto ok = dec.feed(c, [&](poetryops::kube::WatchEvent&& e) {
                ++n;
                sink += e.object.size();
            });
            if (!ok) {
                std::fprintf(stderr, "decode failed: %s\n", ok.error().message.c_str());
                return 1;
            }
        }
        best_dec = std::min(best_dec, seconds_since(t1));
        if (n != lines.size()) {
            std::fprintf(stderr, "decoded %zu of %zu events\n", n, lines.size());
            return 1;
        }
    }
    double base_eps = events / best_base, dec_eps = events / best_dec;
    std::printf(
        "{\"bench\":\"kube_watch_decode\",\"events\":%d,\"bytes\":%zu,\"chunks\":%zu,\"rounds\":%d,"
        "\"decoder_events_per_s\":%.0f,\"decoder_mib_per_s\":%.1f,"
        "\"baseline_nlohmann_events_per_s\":%.0f,\"ratio_decoder_vs_baseline\":%.3f,\"checksum\":%"
        "zu}\n",
        events, stream.size(), chunks.size(), rounds, dec_eps,
        stream.size() / best_dec / (1024.0 * 1024.0), base_eps, dec_eps / base_eps, sink % 1000);
    return 0;
}

// bench_registry_resolve: registry round trips per resolve with a warm token (target: exactly 1),
// resolves per second over one keep-alive connection on loopback, and `skopeo inspect` per call as
// the outside reference. Runs docker-registry with token auth (a local token issuer) on 127.0.0.1.
// Prints one JSON object.
//
//   bench_registry_resolve [--resolves N] [--skopeo-calls M]
#include <poetryops/registry/client.hpp>

#include "support/registry/test_registry.hpp"
#include "support/registry/token_issuer.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

using namespace poetryops;
using Steady = std::chrono::steady_clock;

int main(int argc, char** argv) {
    int resolves = 2000;
    int skopeo_calls = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--resolves") resolves = std::atoi(argv[i + 1]);
        if (a == "--skopeo-calls") skopeo_calls = std::atoi(argv[i + 1]);
    }
    test::TestCa ca;
    auto [cert, key] = ca.issue("token-signer", {"DNS:token-signer"});
    test::TokenIssuer issuer;
    if (!issuer.start({.key_file = key, .cert_file = cert, .users = {{"bench", "bench-pw"}}}))
        return 2;
    auto reg =
        test::TestRegistry::start({.token = test::TestRegistryOptions::Token{
                                       issuer.realm(), "poetryops-test-registry",
                                       "poetryops-test-issuer", ca.ca_cert(), "bench:bench-pw"}});
    if (!reg) return 2;
    auto digest = reg->push_image("bench/app", "1.0.0", "bench", test::TestRegistry::Format::oci);
    if (digest.empty()) return 2;

    registry::RegistryClientOptions o;
    o.hosts[reg->host()] = {.plain_http = true,
                            .credentials = registry::Credentials{"bench", "bench-pw"}};
    o.requests_per_second = 1e9;  // measure the client, not the budget
    o.burst = 1e9;
    auto client = registry::RegistryClient::create(std::move(o)).value();
    auto ref = registry::parse_reference(reg->host() + "/bench/app:1.0.0").value();

    auto cold = client->resolve(ref);  // 401 challenge, token, retry
    if (!cold || cold->digest != digest) {
        std::cerr << "cold resolve failed: " << (cold ? cold->digest : cold.error().message)
                  << "\n";
        return 2;
    }
    auto cold_requests = client->requests_sent();
    auto tokens_before = issuer.issued();
    auto conns_before = client->connections_opened();
    auto requests_before = client->requests_sent();
    auto t0 = Steady::now();
    for (int i = 0; i < resolves; ++i) {
        auto d = client->resolve(ref);
        if (!d || d->digest != digest) {
            std::cerr << "resolve " << i << " failed\n";
            return 2;
        }
    }
    double secs = std::chrono::duration<double>(Steady::now() - t0).count();
    double round_trips = static_cast<double>(client->requests_sent() - requests_before) / resolves;
    auto tokens_during = issuer.issued() - tokens_before;
    auto conns_during = client->connections_opened() - conns_before;

    // Outside reference: skopeo inspect, one process (and one fresh token + connection) per call.
    auto s0 = Steady::now();
    for (int i = 0; i < skopeo_calls; ++i) {
        auto r = run_process({"skopeo", "inspect", "--tls-verify=false", "--creds",
                              "bench:bench-pw", "--format", "{{.Digest}}",
                              "docker://" + reg->host() + "/bench/app:1.0.0"});
        if (!r || !r->ok() || r->out.find(digest) == std::string::npos) {
            std::cerr << "skopeo inspect failed: " << (r ? r->err : r.error().message) << "\n";
            return 2;
        }
    }
    double skopeo_secs = std::chrono::duration<double>(Steady::now() - s0).count();
    double ours = resolves / secs;
    double theirs = skopeo_calls / skopeo_secs;
    nlohmann::json out = {
        {"benchmark", "registry_resolve"},
        {"registry", "docker-registry 2.8, token auth, loopback"},
        {"resolves", resolves},
        {"cold_resolve_round_trips", cold_requests},
        {"round_trips_per_warm_resolve", round_trips},
        {"token_requests_during_warm_loop", tokens_during},
        {"connections_opened_during_warm_loop", conns_during},
        {"resolves_per_second", ours},
        {"mean_resolve_ms", 1000.0 * secs / resolves},
        {"skopeo_inspect_calls", skopeo_calls},
        {"skopeo_inspect_per_second", theirs},
        {"skopeo_mean_ms", 1000.0 * skopeo_secs / skopeo_calls},
        {"speedup_vs_skopeo_inspect", ours / theirs},
    };
    std::cout << out.dump(2) << std::endl;
    return round_trips == 1.0 && tokens_during == 0 ? 0 : 1;
}

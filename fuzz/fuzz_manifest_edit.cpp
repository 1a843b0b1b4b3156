// YAML editor: a manifest (the bytes after the first few, which pick the edit) and one edit of it —
// set_image in each kind, set_values, set_weights and read_weights in each traffic kind.
#include <fuzzer/FuzzedDataProvider.h>
#include <poetryops/manifest/edit.hpp>
#include <poetryops/manifest/read.hpp>

#include <cstdint>
#include <string>

using namespace poetryops::manifest;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    const int op = in.ConsumeIntegralInRange(0, 3);
    const int kind = in.ConsumeIntegralInRange(0, 4);
    const std::string arg = in.ConsumeRandomLengthString(64);
    const std::string text = in.ConsumeRemainingBytesAsString();
    Limits limits;
    limits.max_bytes = 1 << 20;
    limits.max_expanded_nodes = 100 * 1000;
    const TrafficKind traffic[] = {TrafficKind::gateway_api, TrafficKind::istio, TrafficKind::nginx,
                                   TrafficKind::smi, TrafficKind::traefik};
    switch (op) {
        case 0: {
            SetImageRequest request;
            if (auto parsed = parse_set_image_arg(arg)) {
                request = *parsed;
            } else {
                request.name = "registry.example.com/acme/billing";
                request.tag = "1.4.2";
            }
            if (kind == 4) request.workload = "billing";
            const Kind kinds[] = {Kind::auto_detect, Kind::kustomize, Kind::helm, Kind::yaml,
                                  Kind::marker};
            (void)set_image(text, request, kinds[kind], limits);
            break;
        }
        case 1: (void)set_values(text, {{arg.empty() ? "image.tag" : arg, "1.4.2"}}, limits); break;
        case 2:
            (void)set_weights(text, traffic[kind], {{"billing", 75}, {"billing-canary", 25}}, arg,
                              limits);
            break;
        default:
            (void)read_weights(text, traffic[kind], {"billing", "billing-canary"}, arg, limits);
            break;
    }
    return 0;
}
